/* bench-propagation's timed runs: (a) latency, (b) convergence, (e) the
 * restarts and (f) drift, each filling a result for main.c's report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct drift_edit D;

/* (a) one object at a time, a new one every lat_interval (or as soon as
 * the last is everywhere, if that takes longer). */
void bench_latency(bool fed, struct lat_result *res)
{
	double t0 = bench_now(), next = t0;
	char name[64];

	res->n = opt.lat_n;
	res->obs = calloc((size_t)opt.lat_n, sizeof(double));
	res->ack = calloc((size_t)opt.lat_n, sizeof(double));
	for (int i = 0; i < opt.lat_n; i++) {
		struct track *k;
		bench_run_for(next - bench_now());
		next += opt.lat_interval;
		if (next < bench_now())
			next = bench_now();
		snprintf(name, sizeof(name), "lat-%04d", i);
		k = fed ? bench_create_fed(name, false, i) : bench_create_floor(name, false, i);
		if (bench_run_until(bench_track_done, k, 60, name)) {
			bench_report_missing(fed ? &T_FED : &T_FLOOR);
			bench_die("latency run stuck at %s", name);
		}
		if (fed) {
			/* from the host create returning */
			res->obs[i] = (k->t_seen - k->t_ack) * 1e3;
			res->ack[i] = (k->t_ack - k->t_issue) * 1e3;
		} else {
			/* from issuing the member writes */
			res->obs[i] = (k->t_seen - k->t_issue) * 1e3;
			res->ack[i] = (k->t_ack - k->t_issue) * 1e3;
		}
		if (res->obs[i] < 0)
			res->obs[i] = 0;
	}
	res->wall = bench_now() - t0;
	if (fed) {
		/* where the time goes, from the controller's debug log (ms
		 * resolution): host create returned -> member lookups start
		 * (host watch, finalizer patch, its watch event), lookup (GET)
		 * -> apply sent, apply -> created, created -> seen here */
		double(*st)[STEPS] = calloc((size_t)opt.lat_n, sizeof(*st));
		double *v[4];
		int nv = 0;
		for (int k = 0; k < 4; k++)
			v[k] = calloc((size_t)opt.lat_n, sizeof(double));
		bench_log_steps(ctl_log, "lat-", opt.lat_n, st);
		for (int i = 0; i < opt.lat_n; i++) {
			char nm[64];
			struct track *k;
			snprintf(nm, sizeof(nm), "lat-%04d", i);
			k = fed_map_get(&T_FED.objs, nm);
			if (!k || isnan(st[i][STEP_LOOKUP]) || isnan(st[i][STEP_WRITE]) ||
			    isnan(st[i][STEP_CREATED]))
				continue;
			v[0][nv] = (st[i][STEP_LOOKUP] - k->t_ack) * 1e3;
			v[1][nv] = (st[i][STEP_WRITE] - st[i][STEP_LOOKUP]) * 1e3;
			v[2][nv] = (st[i][STEP_CREATED] - st[i][STEP_WRITE]) * 1e3;
			v[3][nv] = (k->t_seen - st[i][STEP_CREATED]) * 1e3;
			nv++;
		}
		for (int k = 0; k < 4; k++) {
			res->stage[k] = bench_summarize(v[k], nv);
			free(v[k]);
		}
		free(st);
	}
	res->s = bench_summarize(res->obs, res->n);
	res->s_ack = bench_summarize(res->ack, res->n);
}

/* (b) every object queued at once on the client(s); done when every
 * member has every object. */
void bench_converge(bool fed, struct conv_result *res)
{
	struct tracker *t = fed ? &T_FED : &T_FLOOR;
	struct count_goal g = {t, t->complete + (size_t)(opt.conv_cm + opt.conv_dep)};
	struct track **ks = calloc((size_t)(opt.conv_cm + opt.conv_dep), sizeof(*ks));
	struct fed_kube_client_stats cs0, cs1;
	double t0, cpu0 = 0, b0, tot0, b1, tot1, last_ack = 0, last_seen = 0;
	long w0 = 0, l0 = 0;
	int ic = 0, id = 0, n = 0;
	char name[64];

	if (fed) {
		w0 = bench_writes(NULL);
		l0 = bench_count_log(ctl_log, ": asking the member (", " " FED_NS "/", NULL);
		cpu0 = bench_proc_cpu(cpid);
		fed_kube_client_stats(host, &cs0);
	}
	bench_machine_cpu(&b0, &tot0);
	t0 = bench_now();
	/* interleaved, five ConfigMaps to a Deployment */
	while (ic < opt.conv_cm || id < opt.conv_dep) {
		bool dep = id < opt.conv_dep && (ic >= opt.conv_cm || (ic + id) % 6 == 5);
		if (dep) {
			snprintf(name, sizeof(name), "dep-%04d", id);
			ks[n++] = fed ? bench_create_fed(name, true, id)
			              : bench_create_floor(name, true, id);
			id++;
		} else {
			snprintf(name, sizeof(name), "cm-%04d", ic);
			ks[n++] = fed ? bench_create_fed(name, false, ic)
			              : bench_create_floor(name, false, ic);
			ic++;
		}
	}
	if (bench_run_until(bench_tracker_reached, &g, opt.timeout, "convergence")) {
		bench_report_missing(t);
		bench_die("%s convergence did not finish", fed ? "federated" : "floor");
	}
	for (int i = 0; i < n; i++) {
		if (ks[i]->t_seen > last_seen)
			last_seen = ks[i]->t_seen;
		if (ks[i]->t_ack > last_ack)
			last_ack = ks[i]->t_ack;
	}
	res->total = last_seen - t0;
	res->acked = last_ack - t0;
	res->status = NAN;
	res->ctl_cpu = NAN;
	if (fed) {
		res->status = bench_wait_current(30, opt.timeout, "statuses after (b)")
		                  ? NAN
		                  : bench_now() - t0;
		{
			const char *pre[2] = {"cm-", "dep-"};
			int cnt[2] = {opt.conv_cm, opt.conv_dep};
			res->first_lookup = INFINITY;
			res->last_lookup = res->last_created = -INFINITY;
			for (int p = 0; p < 2; p++) {
				double(*st)[STEPS] = calloc((size_t)cnt[p] + 1, sizeof(*st));
				bench_log_steps(ctl_log, pre[p], cnt[p], st);
				for (int i = 0; i < cnt[p]; i++) {
					if (st[i][STEP_LOOKUP] - t0 < res->first_lookup)
						res->first_lookup = st[i][STEP_LOOKUP] - t0;
					if (st[i][STEP_LOOKUP] - t0 > res->last_lookup)
						res->last_lookup = st[i][STEP_LOOKUP] - t0;
					if (st[i][STEP_CREATED] - t0 > res->last_created)
						res->last_created = st[i][STEP_CREATED] - t0;
				}
				free(st);
			}
		}
		res->ctl_cpu = bench_proc_cpu(cpid) - cpu0;
		res->member_writes = bench_writes(NULL) - w0;
		res->member_lookups =
		    bench_count_log(ctl_log, ": asking the member (", " " FED_NS "/", NULL) - l0;
		fed_kube_client_stats(host, &cs1);
		res->throttled = cs1.throttled - cs0.throttled;
	} else {
		res->throttled = 0;
		for (int m = 0; m < N; m++) {
			fed_kube_client_stats(mc[m], &cs1);
			res->throttled += cs1.throttled;
		}
	}
	bench_machine_cpu(&b1, &tot1);
	res->machine_busy = tot1 > tot0 ? (b1 - b0) / (tot1 - tot0) : NAN;
	free(ks);
}

static bool quiet_for(void *ud)
{
	static unsigned long last_updates;
	static double since;
	double want = *(double *)ud;

	if (S.updates != last_updates || since == 0) {
		last_updates = S.updates;
		since = bench_now();
		return false;
	}
	return bench_now() - since >= want;
}

struct patches {
	int pending, failed;
};

static void patch_cb(struct fed_kube_response *resp, void *ud)
{
	struct patches *p = ud;

	p->pending--;
	if (resp->err.code && ++p->failed <= 3)
		fprintf(stderr, "bench-propagation: patch: %s\n", resp->err.msg);
	wake = true;
}

static bool patches_done(void *ud)
{
	return ((struct patches *)ud)->pending == 0;
}

void bench_restart(struct restart_result *res)
{
	struct fed_error err = FED_ERROR_INIT;
	struct patches p = {0, 0};
	struct fed_buf body = FED_BUF_INIT;
	struct fed_informer *infs[2] = {h_fcm, h_fdep};
	const struct fed_kube_resource *rs[2] = {&r_fcm, &r_fdep};
	double quiet = 3;
	unsigned long u0;
	struct track *k1, *k2;

	/* (e1) everything in sync, status quiet: restart */
	if (bench_run_until(quiet_for, &quiet, 120, "a quiet host"))
		bench_die("status writes did not settle");
	res->stuck_before =
	    bench_not_current(res->stuck_before_reason, sizeof(res->stuck_before_reason), false);
	bench_ctl_stop();
	u0 = S.updates_other;
	bench_ctl_start();
	k1 = bench_create_fed("probe-cm-1", false, 1);
	k2 = bench_create_fed("probe-dep-1", true, 1);
	if (bench_run_until(bench_track_done, k1, 120, "probe ConfigMap") ||
	    bench_run_until(bench_track_done, k2, 120, "probe Deployment"))
		bench_die("restarted controller did not propagate the probes");
	res->caught_up = (k1->t_seen > k2->t_seen ? k1->t_seen : k2->t_seen) - t_exec;
	bench_run_for(5);
	bench_wait_current(20, 120, "statuses after a restart");
	res->stuck = bench_not_current(res->stuck_reason, sizeof(res->stuck_reason), false);
	res->writes = bench_writes("probe-");
	res->deletes = bench_deletes("probe-");
	res->status_writes = (long)(S.updates_other - u0);

	/* (e2) stop; change every federated object's placement from
	 * clusterSelector {} to the same members by name (a new generation,
	 * nothing new for the members); start; time until every status is
	 * current again */
	bench_ctl_stop();
	fed_buf_puts(&body, "{\"spec\":{\"placement\":{\"clusterSelector\":null,\"clusters\":[");
	for (int m = 0; m < N; m++)
		fed_buf_printf(&body, "%s{\"name\":\"%s\"}", m ? "," : "", mname[m]);
	fed_buf_puts(&body, "]}}}");
	res->objects = 0;
	for (int i = 0; i < 2; i++) {
		struct fed_map_iter it;
		struct fed_map_entry *e;
		const struct fed_map *store = fed_informer_store(infs[i]);
		for (e = fed_map_first(store, &it); e; e = fed_map_next(store, &it)) {
			struct fed_kube_ref ref = {rs[i], FED_NS, fed_obj_name(e->value), NULL};
			if (fed_kube_patch(hostfast, &ref, FED_PATCH_MERGE, fed_buf_str(&body),
			                   NULL, patch_cb, &p, NULL, &err))
				bench_die("patch: %s", err.msg);
			p.pending++;
			res->objects++;
		}
	}
	fed_buf_release(&body);
	if (bench_run_until(patches_done, &p, 300, "placement patches") || p.failed)
		bench_die("placement patches failed");
	if (bench_run_until(bench_none_current, NULL, 60, "the host informer to see the patches"))
		bench_die("patched objects still look current");
	bench_ctl_start();
	res->status_current =
	    bench_wait_current(30, opt.timeout, "statuses after a no-op change and a restart")
	        ? NAN
	        : bench_now() - t_exec;
	bench_run_for(3);
	res->stuck2 = bench_not_current(res->stuck2_reason, sizeof(res->stuck2_reason), false);
	res->writes2 = bench_writes(NULL);
	res->deletes2 = bench_deletes(NULL);
	res->rss_mib = bench_proc_status_kib(cpid, "VmRSS") / 1024.;
}

/* An edit that was not corrected: what the member and the status say. */
static void drift_diag(int m)
{
	struct fed_kube_ref ref = {&r_cm, FED_NS, D.name, NULL};
	struct fed_kube_ref fref = {&r_fcm, FED_NS, D.name, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct result r = {false, FED_ERROR_INIT, NULL};
	const cJSON *c;

	if (!fed_kube_get(mc[m], &ref, bench_result_cb, &r, NULL, &err) && !bench_wait_result(&r))
		fprintf(stderr, "  %s copy: resourceVersion %s, data.index %s\n", mname[m],
		        fed_obj_resource_version(r.json), fed_obj_str(r.json, "data.index"));
	cJSON_Delete(r.json);
	memset(&r, 0, sizeof(r));
	if (!fed_kube_get(host, &fref, bench_result_cb, &r, NULL, &err) && !bench_wait_result(&r))
		cJSON_ArrayForEach(
		    c, cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "status"), "clusters")) {
			char *s = cJSON_PrintUnformatted(c);
			fprintf(stderr, "  status.clusters[]: %s\n", s ? s : "?");
			free(s);
		}
	cJSON_Delete(r.json);
}

/* (f) patch a member copy, time until the controller restored it; an edit
 * not restored within DRIFT_WAIT counts as DRIFT_WAIT */
#define DRIFT_WAIT opt.drift_wait

int drift_missed;

void bench_drift(struct lat_result *res)
{
	struct fed_error err = FED_ERROR_INIT;
	double t0 = bench_now(), next = t0;
	char patch[128];

	res->n = opt.drift_n;
	res->obs = calloc((size_t)opt.drift_n, sizeof(double));
	res->ack = calloc((size_t)opt.drift_n, sizeof(double));
	for (int k = 0; k < opt.drift_n; k++) {
		int idx = (k * 37) % opt.conv_cm, m = k % N;
		struct fed_kube_ref ref = {&r_cm, FED_NS, D.name, NULL};
		struct result r = {false, FED_ERROR_INIT, NULL};
		double t_issue;

		bench_run_for(next - bench_now());
		next += opt.drift_interval;
		memset(&D, 0, sizeof(D));
		D.m = m;
		snprintf(D.name, sizeof(D.name), "cm-%04d", idx);
		snprintf(D.want, sizeof(D.want), "%d", idx);
		snprintf(D.edit, sizeof(D.edit), "drift-%d", k);
		snprintf(patch, sizeof(patch), "{\"data\":{\"index\":\"%s\"}}", D.edit);
		D.active = true;
		t_issue = bench_now();
		if (fed_kube_patch(mc[m], &ref, FED_PATCH_MERGE, patch, NULL, bench_result_cb, &r,
		                   NULL, &err))
			bench_die("drift patch: %s", err.msg);
		if (bench_wait_result(&r))
			bench_die("drift patch of %s in %s: %s", D.name, mname[m], r.err.msg);
		D.t_ack = bench_now();
		cJSON_Delete(r.json);
		if (fed_kube_wait(loop, &D.restored, DRIFT_WAIT)) {
			fprintf(stderr,
			        "bench-propagation: edit %d of %s in %s (rv %llu) not corrected "
			        "within %.0fs\n",
			        k, D.name, mname[m], D.rv, DRIFT_WAIT);
			drift_diag(m);
			drift_missed++;
			res->obs[k] = DRIFT_WAIT * 1e3;
			next = bench_now();
		} else {
			res->obs[k] = (D.t_restored - D.t_ack) * 1e3;
		}
		res->ack[k] = (D.t_ack - t_issue) * 1e3;
		if (getenv("BENCH_VERBOSE"))
			fprintf(stderr, "drift %d: %s in %s: %.1f ms\n", k, D.name, mname[m],
			        res->obs[k]);
		D.active = false;
	}
	res->wall = bench_now() - t0;
	{
		double *ok = calloc((size_t)res->n + 1, sizeof(double));
		int n_ok = 0;
		for (int k = 0; k < res->n; k++)
			if (res->obs[k] < DRIFT_WAIT * 1e3)
				ok[n_ok++] = res->obs[k];
		res->s_ok = bench_summarize(ok, n_ok);
		free(ok);
	}
	res->s = bench_summarize(res->obs, res->n);
	res->s_ack = bench_summarize(res->ack, res->n);
}
