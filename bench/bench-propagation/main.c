/* Propagation bench (issue #4 item 6): fed-controller against real
 * apiservers, each figure next to a floor measured in the same run, with
 * the same objects written straight to the members by libfed.
 *
 *  (a) latency: host create returned -> object in every member, one
 *      FederatedConfigMap at a time at a steady rate; floor: the ConfigMap
 *      written to all members in parallel, issue -> seen in every member
 *  (b) convergence: 1,000 FederatedConfigMaps + 200 FederatedDeployments
 *      created on the host as fast as the client allows, until every member
 *      has every object; floor: the same objects written to every member
 *  (d) controller RSS after (b)
 *  (e) restarts with everything in sync: member writes (want 0), status
 *      writes, time until caught up; and a restart after a no-op spec change
 *      (placement {} -> the same clusters by name) made while it was down:
 *      member writes (want 0) and time until every status is current again
 *  (f) drift: member copies patched directly, time until restored (an
 *      edit not restored within --drift-wait counts as that wait)
 *
 * Members are observed by informers (libfed) in this process: label
 * kubefed.io/managed=true in namespace bench-fed for the federated runs,
 * the unlabelled objects in namespace bench-floor for the floor runs.
 * Every timed client uses libfed's defaults (qps 50, burst 100, 32 in
 * flight), the same as fed-controller's member and host clients; only the
 * untimed set-up patches of (e) go through a faster client.
 *
 * Run through bench/propagation, which starts the clusters, installs the
 * manifests and the Federation config and passes the arguments below.
 *
 * This file: the options, the set-up, the order of the runs and the
 * report (table and JSON); bench.h lists the other files. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "fed/kubeconfig.h"
#include "fed/log.h"

const struct fed_kube_resource r_ns = {"", "v1", "namespaces", false};
const struct fed_kube_resource r_cm = {"", "v1", "configmaps", true};
const struct fed_kube_resource r_dep = {"apps", "v1", "deployments", true};
const struct fed_kube_resource r_fns = {"types.kubefed.io", "v1beta1", "federatednamespaces", true};
const struct fed_kube_resource r_fcm = {"types.kubefed.io", "v1beta1", "federatedconfigmaps", true};
const struct fed_kube_resource r_fdep = {"types.kubefed.io", "v1beta1", "federateddeployments",
                                         true};

/* ---- options ------------------------------------------------------------ */

struct options opt = {NULL, NULL, NULL, NULL, 3, 200, 1000, 200, 50, 0.1, 0.2, 5, 600, false};

/* ---- state ---------------------------------------------------------------- */

struct ev_loop *loop;
struct fed_kube_client *host, *hostfast, *mc[MAXM];
char mname[MAXM][32];
int N;

/* ---- report ------------------------------------------------------------- */

static double r3(double x)
{
	return isnan(x) ? x : round(x * 1000) / 1000;
}

static void add_num(cJSON *o, const char *k, double v)
{
	if (isnan(v))
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddNumberToObject(o, k, r3(v));
}

static cJSON *stats_json(const struct stats *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "n", s->n);
	add_num(o, "p50", s->p50);
	add_num(o, "p90", s->p90);
	add_num(o, "p99", s->p99);
	add_num(o, "min", s->min);
	add_num(o, "max", s->max);
	add_num(o, "mean", s->mean);
	return o;
}

static cJSON *samples_json(const double *v, int n)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(round(v[i] * 10) / 10));
	return a;
}

static const char *verdict(bool ok)
{
	return ok ? "met" : "MISSED";
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: bench-propagation --kubeconfig FILE --controller BIN --workdir DIR\n"
	    "       [--members N] [--latency-objects N] [--latency-interval S]\n"
	    "       [--configmaps N] [--deployments N] [--drift-edits N] [--timeout S]\n"
	    "       [--floor-apply] [--json FILE]\n"
	    "Contexts host, member1..memberN must exist and be joined (see bench/propagation).\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rest_config cfg;
	struct lat_result lat_fed, lat_floor, dr;
	struct conv_result cv_fed, cv_floor;
	struct restart_result rs;
	struct fed_informer_handlers hm = {bench_m_add, bench_m_update, NULL, NULL};
	struct fed_informer_handlers hh = {bench_h_add, bench_h_update, NULL, NULL};
	double rss_mib, hwm_mib, cpu_total, t_begin, load_begin, load_end;
	char body[512];
	cJSON *j, *o;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && ++i)
		if (ARG("--kubeconfig"))
			opt.kubeconfig = v;
		else if (ARG("--controller"))
			opt.controller = v;
		else if (ARG("--workdir"))
			opt.workdir = v;
		else if (ARG("--json"))
			opt.json_out = v;
		else if (ARG("--members"))
			opt.members = atoi(v);
		else if (ARG("--latency-objects"))
			opt.lat_n = atoi(v);
		else if (ARG("--latency-interval"))
			opt.lat_interval = atof(v);
		else if (ARG("--configmaps"))
			opt.conv_cm = atoi(v);
		else if (ARG("--deployments"))
			opt.conv_dep = atoi(v);
		else if (ARG("--drift-edits"))
			opt.drift_n = atoi(v);
		else if (ARG("--drift-wait"))
			opt.drift_wait = atof(v);
		else if (ARG("--timeout"))
			opt.timeout = atof(v);
		else if (!strcmp(a, "--floor-apply"))
			opt.floor_apply = true;
		else
			usage();
#undef ARG
	}
	if (!opt.kubeconfig || !opt.controller || !opt.workdir || opt.members < 1 ||
	    opt.members > MAXM || opt.lat_n < 1 || opt.conv_cm < 1 || opt.conv_dep < 0 ||
	    opt.drift_n < 0)
		usage();
	N = opt.members;
	fed_log_setup(FED_LOG_WARN, false);
	signal(SIGPIPE, SIG_IGN);
	bench_make_payload();
	fed_map_init(&T_FED.objs);
	fed_map_init(&T_FLOOR.objs);
	fed_map_init(&S.cur);
	/* not the default loop: that one reaps every child (the controller) */
	loop = ev_loop_new(EVFLAG_AUTO);
	t_begin = bench_now();
	load_begin = bench_loadavg1();

	/* clients: the bench's own, at libfed's defaults */
	fed_rest_config_init(&cfg);
	if (fed_rest_config_load(&cfg, opt.kubeconfig, "host", &err) ||
	    fed_kube_client_new(&host, loop, &cfg, "host", &err))
		bench_die("host: %s", err.msg);
	cfg.qps = 2000;
	cfg.burst = 2000;
	if (fed_kube_client_new(&hostfast, loop, &cfg, "host-setup", &err))
		bench_die("host: %s", err.msg);
	fed_rest_config_release(&cfg);
	for (int m = 0; m < N; m++) {
		snprintf(mname[m], sizeof(mname[m]), "member%d", m + 1);
		fed_rest_config_init(&cfg);
		if (fed_rest_config_load(&cfg, opt.kubeconfig, mname[m], &err) ||
		    fed_kube_client_new(&mc[m], loop, &cfg, mname[m], &err))
			bench_die("%s: %s", mname[m], err.msg);
		fed_rest_config_release(&cfg);
	}

	/* namespaces: bench-fed on the host, federated to every member;
	 * bench-floor straight in every member */
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
	         FED_NS);
	bench_sync_create(host, &r_ns, NULL, body);
	snprintf(
	    body, sizeof(body),
	    "{\"apiVersion\":\"types.kubefed.io/v1beta1\",\"kind\":\"FederatedNamespace\","
	    "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"placement\":{\"clusterSelector\":{}}}}",
	    FED_NS);
	bench_sync_create(host, &r_fns, FED_NS, body);
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
	         FLOOR_NS);
	for (int m = 0; m < N; m++)
		bench_sync_create(mc[m], &r_ns, NULL, body);

	for (int m = 0; m < N; m++) {
		ictx[m][0] = (struct ictx){&T_FED, m, true};
		ictx[m][1] = (struct ictx){&T_FED, m, false};
		ictx[m][2] = (struct ictx){&T_FLOOR, m, false};
		ictx[m][3] = (struct ictx){&T_FLOOR, m, false};
		minf[m][0] = bench_informer(mc[m], &r_cm, FED_NS, "kubefed.io/managed=true", hm,
		                            &ictx[m][0]);
		minf[m][1] = bench_informer(mc[m], &r_dep, FED_NS, "kubefed.io/managed=true", hm,
		                            &ictx[m][1]);
		minf[m][2] = bench_informer(mc[m], &r_cm, FLOOR_NS, NULL, hm, &ictx[m][2]);
		minf[m][3] = bench_informer(mc[m], &r_dep, FLOOR_NS, NULL, hm, &ictx[m][3]);
	}
	h_fcm = bench_informer(host, &r_fcm, FED_NS, NULL, hh, NULL);
	h_fdep = bench_informer(host, &r_fdep, FED_NS, NULL, hh, NULL);
	if (bench_run_until(bench_informers_synced, NULL, 60, "the bench's informers"))
		bench_die("informers did not sync");

	/* the controller; ready once the namespace is in every member, warm
	 * once a few objects went through */
	bench_ctl_start();
	printf("fed-controller pid %d, log %s\n", (int)cpid, ctl_log);
	fflush(stdout);
	if (bench_run_until(bench_ns_everywhere, NULL, 120, "namespace " FED_NS " in every member"))
		bench_die("the controller did not propagate the namespace; see %s", ctl_log);
	printf("members joined, namespace %s everywhere %.1fs after start\n", FED_NS,
	       bench_now() - t_exec);
	fflush(stdout);
	for (int i = 0; i < 3; i++) {
		char name[32];
		struct track *k;
		snprintf(name, sizeof(name), "warmup-%s-%d", i < 2 ? "cm" : "dep", i);
		k = bench_create_fed(name, i == 2, i);
		if (bench_run_until(bench_track_done, k, 60, name))
			bench_die("warm-up object %s not propagated; see %s", name, ctl_log);
		snprintf(name, sizeof(name), "warmup-%s-%d", i < 2 ? "cm" : "dep", i);
		k = bench_create_floor(name, i == 2, i);
		if (bench_run_until(bench_track_done, k, 60, name))
			bench_die("floor warm-up object %s not seen", name);
	}
	if (bench_run_until(bench_all_current, (void *)(uintptr_t)3, 60, "warm-up statuses"))
		bench_die("warm-up statuses not current");
	bench_run_for(1);

	/* (a) */
	printf("(a) latency: %d objects, one every %.0f ms ...\n", opt.lat_n,
	       opt.lat_interval * 1e3);
	fflush(stdout);
	bench_latency(true, &lat_fed);
	bench_wait_current(15, 120, "statuses after (a)");
	bench_run_for(1);
	bench_latency(false, &lat_floor);

	/* (b) + (d) */
	printf("(b) convergence: %d ConfigMaps + %d Deployments ...\n", opt.conv_cm, opt.conv_dep);
	fflush(stdout);
	bench_converge(true, &cv_fed);
	rss_mib = bench_proc_status_kib(cpid, "VmRSS") / 1024.;
	hwm_mib = bench_proc_status_kib(cpid, "VmHWM") / 1024.;
	bench_run_for(2);
	bench_converge(false, &cv_floor);

	/* (e) */
	printf("(e) restarts ...\n");
	fflush(stdout);
	bench_restart(&rs);

	/* (f) */
	printf("(f) drift: %d edits ...\n", opt.drift_n);
	fflush(stdout);
	if (opt.drift_n > 0)
		bench_drift(&dr);
	else
		memset(&dr, 0, sizeof(dr));
	cpu_total = bench_proc_cpu(cpid);
	load_end = bench_loadavg1();
	bench_ctl_check_alive();
	{
		long warn = bench_count_log(ctl_log, " warn ", NULL, NULL);
		long errs = bench_count_log(ctl_log, " error ", NULL, NULL);
		bench_ctl_stop();

		/* table */
		double a_ratio = lat_fed.s.p99 / lat_floor.s.p99;
		double b_ratio = cv_fed.total / cv_floor.total;
		printf(
		    "\npropagation bench: host + %d members, %d objects (a), %d ConfigMaps + %d "
		    "Deployments (b), %ld cores, %.0fs, load average %.1f at start, %.1f at end\n",
		    N, opt.lat_n, opt.conv_cm, opt.conv_dep, sysconf(_SC_NPROCESSORS_ONLN),
		    bench_now() - t_begin, load_begin, load_end);
		printf("floor: the same objects written straight to the members by %s\n",
		       opt.floor_apply ? "server-side apply (--floor-apply)" : "POST");
		printf("%-44s %12s %12s %8s  %s\n", "", "fed", "floor", "ratio", "target");
		printf("%-44s %12.1f %12.1f %8.2f\n", "(a) latency p50 (ms)", lat_fed.s.p50,
		       lat_floor.s.p50, lat_fed.s.p50 / lat_floor.s.p50);
		printf("%-44s %12.1f %12.1f %8.2f\n", "    latency p90 (ms)", lat_fed.s.p90,
		       lat_floor.s.p90, lat_fed.s.p90 / lat_floor.s.p90);
		printf("%-44s %12.1f %12.1f %8.2f  <= 1.5x: %s\n", "    latency p99 (ms)",
		       lat_fed.s.p99, lat_floor.s.p99, a_ratio, verdict(a_ratio <= 1.5));
		printf("%-44s %12.1f %12.1f\n", "    latency max (ms)", lat_fed.s.max,
		       lat_floor.s.max);
		printf("%-44s %12.1f %12.1f\n", "    create call p50 (ms; host / all members)",
		       lat_fed.s_ack.p50, lat_floor.s_ack.p50);
		printf("    fed p50 / p99 by step (controller log, ms):\n");
		printf("%-44s %7.1f / %.1f\n", "      host create -> member sync starts",
		       lat_fed.stage[0].p50, lat_fed.stage[0].p99);
		printf("%-44s %7.1f / %.1f\n", "      sync -> apply sent (GET if not listed)",
		       lat_fed.stage[1].p50, lat_fed.stage[1].p99);
		printf("%-44s %7.1f / %.1f\n", "      apply sent -> created", lat_fed.stage[2].p50,
		       lat_fed.stage[2].p99);
		printf("%-44s %7.1f / %.1f\n", "      created -> seen by the bench's informer",
		       lat_fed.stage[3].p50, lat_fed.stage[3].p99);
		printf("%-44s %12.1f %12.1f %8.2f  <= 1.3x: %s\n", "(b) converged (s)",
		       cv_fed.total, cv_floor.total, b_ratio, verdict(b_ratio <= 1.3));
		printf("%-44s %12.1f %12.1f\n", "    all creates returned (s)", cv_fed.acked,
		       cv_floor.acked);
		printf("%-44s %12.1f %12s\n", "    controller: first member sync (s)",
		       cv_fed.first_lookup, "-");
		printf("%-44s %12.1f %12s\n", "    controller: last member sync (s)",
		       cv_fed.last_lookup, "-");
		printf("%-44s %12.1f %12s\n", "    controller: last member create (s)",
		       cv_fed.last_created, "-");
		printf("%-44s %12.1f %12s\n", "    every status current (s)", cv_fed.status, "-");
		printf("%-44s %12.2f %12s\n", "    member writes per object per member",
		       (double)cv_fed.member_writes / ((opt.conv_cm + opt.conv_dep) * (double)N),
		       "1");
		printf("%-44s %12.2f %12s\n", "    member GETs per object per member",
		       (double)cv_fed.member_lookups / ((opt.conv_cm + opt.conv_dep) * (double)N),
		       "0");
		printf("%-44s %12.1f %12s\n", "    controller CPU (s)", cv_fed.ctl_cpu, "-");
		printf("%-44s %11.0f%% %11.0f%%\n", "    machine CPU busy",
		       cv_fed.machine_busy * 100, cv_floor.machine_busy * 100);
		printf("%-44s %12.1f %12s %8s  <= 100 MiB (10 members): %s\n",
		       "(d) controller RSS after (b) (MiB)", rss_mib, "", "",
		       N >= 10 ? verdict(rss_mib <= 100)
		               : (rss_mib <= 100 ? "met (at N<10)" : "MISSED"));
		printf("%-44s %12.1f\n", "    controller peak RSS (VmHWM, MiB)", hwm_mib);
		if (rs.stuck_before)
			printf("%-44s %12ld   %s\n", "(e) before: statuses not current",
			       rs.stuck_before, rs.stuck_before_reason);
		printf("%-44s %12ld %12s %8s  0: %s\n", "(e) restart: member writes", rs.writes, "",
		       "", verdict(rs.writes == 0 && rs.deletes == 0));
		printf("%-44s %12ld\n", "    restart: member deletes", rs.deletes);
		printf("%-44s %12ld\n", "    restart: status writes to the host", rs.status_writes);
		printf("%-44s %12ld   %s\n", "    restart: statuses left wrong (stuck)", rs.stuck,
		       rs.stuck_reason);
		printf("%-44s %12.1f\n", "    restart: start -> new objects propagate (s)",
		       rs.caught_up);
		printf("%-44s %12ld %12s %8s  0: %s\n",
		       "    no-op spec change + restart: member writes", rs.writes2, "", "",
		       verdict(rs.writes2 == 0 && rs.deletes2 == 0));
		printf("%-44s %12ld\n", "    ... member deletes", rs.deletes2);
		printf("%-44s %12.1f\n", "    ... start -> every status current (s)",
		       rs.status_current);
		if (rs.stuck2)
			printf("%-44s %12ld   %s\n", "    ... statuses never current", rs.stuck2,
			       rs.stuck2_reason);
		printf("%-44s %12ld\n", "    ... objects", rs.objects);
		if (opt.drift_n > 0) {
			printf("%-44s %12.1f\n", "(f) drift corrected p50 (ms)", dr.s.p50);
			printf("%-44s %12.1f\n", "    drift corrected p90 (ms)", dr.s.p90);
			printf("%-44s %12.1f %12s %8s  < 1000 ms: %s\n",
			       "    drift corrected p99 (ms)", dr.s.p99, "", "",
			       verdict(dr.s.p99 < 1000));
			printf("%-44s %12d / %d\n", "    edits not corrected within --drift-wait",
			       drift_missed, opt.drift_n);
			if (drift_missed && dr.s_ok.n)
				printf("%-44s %7.1f / %.1f / %.1f\n",
				       "    corrected ones only p50/p90/p99 (ms)", dr.s_ok.p50,
				       dr.s_ok.p90, dr.s_ok.p99);
		}
		printf("%-44s %12.1f\n", "controller CPU, whole last run (s)", cpu_total);
		printf("%-44s %12ld / %ld\n", "controller log warnings / errors (last run)", warn,
		       errs);
		if (write_failures)
			printf("bench write failures: %d\n", write_failures);

		if (!opt.json_out)
			goto out;
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "bench", "propagation");
		{
			char ts[32];
			time_t t = time(NULL);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
			cJSON_AddStringToObject(j, "date", ts);
		}
		if (getenv("BENCH_META")) {
			cJSON *meta = cJSON_Parse(getenv("BENCH_META"));
			if (meta)
				cJSON_AddItemToObject(j, "meta", meta);
		}
		cJSON_AddNumberToObject(j, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
		cJSON_AddNumberToObject(j, "members", N);
		cJSON_AddStringToObject(j, "floor_write", opt.floor_apply ? "apply" : "create");
		add_num(j, "loadavg1_start", load_begin);
		add_num(j, "loadavg1_end", load_end);
		add_num(j, "duration_s", bench_now() - t_begin);
		o = cJSON_AddObjectToObject(j, "client");
		cJSON_AddStringToObject(o, "note",
		                        "libfed defaults for every timed client (bench and "
		                        "controller): qps 50, burst 100, 32 in flight");
		o = cJSON_AddObjectToObject(j, "latency");
		cJSON_AddNumberToObject(o, "objects", opt.lat_n);
		add_num(o, "interval_s", opt.lat_interval);
		cJSON_AddStringToObject(o, "fed_from", "host create returned");
		cJSON_AddStringToObject(o, "floor_from",
		                        "member creates issued (all members in parallel)");
		cJSON_AddItemToObject(o, "fed_ms", stats_json(&lat_fed.s));
		cJSON_AddItemToObject(o, "floor_ms", stats_json(&lat_floor.s));
		cJSON_AddItemToObject(o, "fed_host_create_ms", stats_json(&lat_fed.s_ack));
		cJSON_AddItemToObject(o, "floor_all_creates_returned_ms",
		                      stats_json(&lat_floor.s_ack));
		add_num(o, "p99_ratio", a_ratio);
		{
			cJSON *st = cJSON_AddObjectToObject(o, "fed_steps_ms");
			cJSON_AddItemToObject(st, "host_create_to_member_lookup",
			                      stats_json(&lat_fed.stage[0]));
			cJSON_AddItemToObject(st, "lookup_to_apply", stats_json(&lat_fed.stage[1]));
			cJSON_AddItemToObject(st, "apply_to_created",
			                      stats_json(&lat_fed.stage[2]));
			cJSON_AddItemToObject(st, "created_to_seen", stats_json(&lat_fed.stage[3]));
		}
		cJSON_AddBoolToObject(o, "target_met", a_ratio <= 1.5);
		cJSON_AddItemToObject(o, "fed_samples_ms_sorted",
		                      samples_json(lat_fed.obs, lat_fed.n));
		cJSON_AddItemToObject(o, "floor_samples_ms_sorted",
		                      samples_json(lat_floor.obs, lat_floor.n));
		o = cJSON_AddObjectToObject(j, "convergence");
		cJSON_AddNumberToObject(o, "configmaps", opt.conv_cm);
		cJSON_AddNumberToObject(o, "deployments", opt.conv_dep);
		add_num(o, "fed_s", cv_fed.total);
		add_num(o, "floor_s", cv_floor.total);
		add_num(o, "ratio", b_ratio);
		cJSON_AddBoolToObject(o, "target_met", b_ratio <= 1.3);
		add_num(o, "fed_host_creates_returned_s", cv_fed.acked);
		add_num(o, "floor_member_creates_returned_s", cv_floor.acked);
		add_num(o, "fed_status_current_s", cv_fed.status);
		add_num(o, "fed_first_member_lookup_s", cv_fed.first_lookup);
		add_num(o, "fed_last_member_lookup_s", cv_fed.last_lookup);
		add_num(o, "fed_last_member_create_s", cv_fed.last_created);
		cJSON_AddNumberToObject(o, "fed_member_writes", (double)cv_fed.member_writes);
		cJSON_AddNumberToObject(o, "fed_member_lookups", (double)cv_fed.member_lookups);
		add_num(o, "fed_controller_cpu_s", cv_fed.ctl_cpu);
		add_num(o, "fed_machine_cpu_busy", cv_fed.machine_busy);
		add_num(o, "floor_machine_cpu_busy", cv_floor.machine_busy);
		cJSON_AddNumberToObject(o, "fed_bench_host_client_throttled",
		                        (double)cv_fed.throttled);
		cJSON_AddNumberToObject(o, "floor_bench_member_clients_throttled",
		                        (double)cv_floor.throttled);
		o = cJSON_AddObjectToObject(j, "rss");
		add_num(o, "after_convergence_mib", rss_mib);
		add_num(o, "peak_mib", hwm_mib);
		add_num(o, "after_restart_sync_mib", rs.rss_mib);
		cJSON_AddBoolToObject(o, "target_applies", N >= 10);
		cJSON_AddBoolToObject(o, "target_met", rss_mib <= 100);
		o = cJSON_AddObjectToObject(j, "restart");
		cJSON_AddNumberToObject(o, "member_writes", (double)rs.writes);
		cJSON_AddNumberToObject(o, "statuses_not_current_before", (double)rs.stuck_before);
		cJSON_AddStringToObject(o, "first_not_current_before", rs.stuck_before_reason);
		cJSON_AddNumberToObject(o, "member_deletes", (double)rs.deletes);
		cJSON_AddNumberToObject(o, "status_writes", (double)rs.status_writes);
		cJSON_AddNumberToObject(o, "statuses_not_current_30s_later", (double)rs.stuck);
		cJSON_AddStringToObject(o, "first_not_current", rs.stuck_reason);
		add_num(o, "start_to_new_objects_propagated_s", rs.caught_up);
		cJSON_AddNumberToObject(o, "noop_spec_change_objects", (double)rs.objects);
		cJSON_AddNumberToObject(o, "noop_spec_change_member_writes", (double)rs.writes2);
		cJSON_AddNumberToObject(o, "noop_spec_change_member_deletes", (double)rs.deletes2);
		cJSON_AddNumberToObject(o, "noop_spec_change_statuses_never_current",
		                        (double)rs.stuck2);
		cJSON_AddStringToObject(o, "noop_spec_change_first_not_current", rs.stuck2_reason);
		add_num(o, "noop_spec_change_start_to_status_current_s", rs.status_current);
		cJSON_AddBoolToObject(o, "target_met",
		                      rs.writes == 0 && rs.writes2 == 0 && rs.deletes == 0 &&
		                          rs.deletes2 == 0 && rs.stuck == 0 && rs.stuck2 == 0);
		if (opt.drift_n > 0) {
			o = cJSON_AddObjectToObject(j, "drift");
			cJSON_AddNumberToObject(o, "edits", opt.drift_n);
			cJSON_AddItemToObject(o, "corrected_ms", stats_json(&dr.s));
			cJSON_AddNumberToObject(o, "not_corrected", drift_missed);
			add_num(o, "wait_s", opt.drift_wait);
			cJSON_AddItemToObject(o, "corrected_only_ms", stats_json(&dr.s_ok));
			cJSON_AddBoolToObject(o, "target_met", dr.s.p99 < 1000);
			cJSON_AddItemToObject(o, "samples_ms_sorted", samples_json(dr.obs, dr.n));
		}
		o = cJSON_AddObjectToObject(j, "controller");
		add_num(o, "cpu_s_last_run", cpu_total);
		cJSON_AddNumberToObject(o, "log_warnings_last_run", (double)warn);
		cJSON_AddNumberToObject(o, "log_errors_last_run", (double)errs);
		cJSON_AddNumberToObject(j, "bench_write_failures", write_failures);
		if (!(f = fopen(opt.json_out, "w")))
			bench_die("%s: %s", opt.json_out, strerror(errno));
		{
			char *s = cJSON_Print(j);
			fprintf(f, "%s\n", s);
			free(s);
		}
		fclose(f);
		cJSON_Delete(j);
		printf("wrote %s\n", opt.json_out);
	}
out:
	return write_failures ? 1 : 0;
}
