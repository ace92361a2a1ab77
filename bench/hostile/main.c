/* bench-hostile: one scenario of hostile peers against a running
 * fed-controller (started by bench/hostile/run with its tunnel listener,
 * a leader Lease and good agents), and what the controller went through:
 * RSS before/peak/after, the good agents (fed_tunnel_agents, KubeFedCluster
 * Ready, disconnects in its log), the loop lag (fed_loop_lag_seconds) and
 * the Lease's renewal gaps, each against its target.
 *
 * Phases: 2 s baseline; the peers start, then --setup-cmd; --seconds of
 * attack; the peers stop, then --teardown-cmd; --settle seconds for the
 * "after" figures. Prints a block per scenario and appends one JSON line
 * to --json. Exits non-zero only when it cannot run (a bench, not a
 * test): an unmet target prints FAIL. */
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ev.h>

#include "fed/log.h"
#include "fed/opt.h"
#include "hostile.h"

struct opts {
	const char *scenario, *kubeconfig, *context, *fed_namespace, *lease_name, *good_prefix;
	const char *token_file, *endless_cert, *endless_key, *controller_log, *setup_cmd,
	    *teardown_cmd, *json, *agent_logs;
	int pid, metrics_port, tunnel_port, endless_port, good, clients;
	double seconds, settle, wait_answer, rss_cap_mib, lease_late_after, max_growth_mib,
	    max_lag_p99_ms;
};

struct result {
	double rss_before, rss_peak, rss_after, growth;
	bool gone, killed;
	double gone_after; /* seconds into the attack */
	int scrapes, scrape_failures, not_all_connected, kfc_polls, kfc_not_ready;
	int disconnects, missed_heartbeats; /* in the controller's log */
	int agent_closes, agent_missed;     /* in the good agents' logs */
	double min_agents;
	double lag_n, p50, p99, max;
	bool max_exact;
	int renewals, late;
	double max_gap;
	bool holder_changed;
	struct attack_stats at;
};

static const char *pf(bool ok)
{
	return ok ? "PASS" : "FAIL";
}

/* Prometheus' histogram_quantile over the delta of two scrapes, in s. */
static double quantile(const double *d, double q)
{
	double total = d[LAG_BUCKETS - 1], rank = q * total, below = 0;

	if (total <= 0)
		return 0;
	for (int b = 0; b < LAG_BUCKETS; b++) {
		if (d[b] >= rank) {
			double lo = b ? lag_bounds[b - 1] : 0;
			if (b == LAG_BUCKETS - 1)
				return lo; /* past the last bound: report that bound */
			return lo + (lag_bounds[b] - lo) * (rank - below) /
			                (d[b] - below > 0 ? d[b] - below : 1);
		}
		below = d[b];
	}
	return lag_bounds[LAG_BUCKETS - 2];
}

static void lag_figures(const struct lag_snapshot *a, const struct lag_snapshot *b,
                        struct result *r)
{
	double d[LAG_BUCKETS];

	if (!a->ok || !b->ok)
		return;
	for (int i = 0; i < LAG_BUCKETS; i++)
		d[i] = b->count[i] - a->count[i];
	r->lag_n = d[LAG_BUCKETS - 1];
	r->p50 = quantile(d, .5);
	r->p99 = quantile(d, .99);
	r->max_exact = b->max > a->max;
	if (r->max_exact) {
		r->max = b->max;
		return;
	}
	/* the largest lag was before this scenario: bound ours by its bucket */
	for (int i = 0; i < LAG_BUCKETS; i++)
		if (d[i] > (i ? d[i - 1] : 0))
			r->max = i == LAG_BUCKETS - 1 ? lag_bounds[i - 1] : lag_bounds[i];
}

/* Good agents' disconnects and missed heartbeats in the controller's log
 * since offset. */
static void log_counts(const struct opts *o, long offset, struct result *r)
{
	char line[4096], tag[80];
	FILE *f;

	if (!o->controller_log || !(f = fopen(o->controller_log, "r")))
		return;
	snprintf(tag, sizeof(tag), "[%s", o->good_prefix);
	if (fseek(f, offset, SEEK_SET) == 0)
		while (fgets(line, sizeof(line), f))
			if (strstr(line, tag) && strstr(line, "disconnected")) {
				r->disconnects++;
				r->missed_heartbeats += strstr(line, "no heartbeat") != NULL;
			}
	fclose(f);
}

static long file_size(const char *path)
{
	struct stat st;

	return path && !stat(path, &st) ? (long)st.st_size : 0;
}

/* The good agents' logs (DIR/agent-PREFIX*.log) and where they ended. */
struct agent_logs {
	glob_t g;
	long off[64];
	bool ok;
};

static void agent_logs_mark(const struct opts *o, struct agent_logs *al)
{
	char pat[600];

	if (!o->agent_logs)
		return;
	snprintf(pat, sizeof(pat), "%s/agent-%s*.log", o->agent_logs, o->good_prefix);
	al->ok = glob(pat, 0, NULL, &al->g) == 0;
	for (size_t i = 0; al->ok && i < al->g.gl_pathc && i < 64; i++)
		al->off[i] = file_size(al->g.gl_pathv[i]);
}

/* A tunnel the agent saw close ("tunnel to HOST closed: why") since the mark. */
static void agent_logs_count(struct agent_logs *al, struct result *r)
{
	char line[2048];
	FILE *f;

	for (size_t i = 0; al->ok && i < al->g.gl_pathc && i < 64; i++) {
		if (!(f = fopen(al->g.gl_pathv[i], "r")))
			continue;
		if (fseek(f, al->off[i], SEEK_SET) == 0)
			while (fgets(line, sizeof(line), f))
				if (strstr(line, "tunnel to ") && strstr(line, " closed: ")) {
					r->agent_closes++;
					r->agent_missed += strstr(line, "no heartbeat") != NULL;
				}
		fclose(f);
	}
	if (al->ok)
		globfree(&al->g);
	al->ok = false;
}

static int run_cmd(const char *what, const char *cmd)
{
	int rc;

	if (!cmd || !*cmd)
		return 0;
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "bench-hostile: %s command failed (%d)\n", what, rc);
	return rc;
}

static void print_result(const struct opts *o, const struct result *r, bool t_rss, bool t_agents,
                         bool t_lag, bool t_lease)
{
	printf("scenario %s, %.0f s\n", o->scenario, o->seconds);
	printf("  controller RSS   before %.1f MiB, peak %.1f, after %s%.1f MiB: growth %+.1f MiB"
	       "  %s (<= %.0f MiB)",
	       r->rss_before, r->rss_peak, r->gone ? "(gone) " : "", r->rss_after, r->growth,
	       pf(t_rss), o->max_growth_mib);
	if (r->gone)
		printf(" [%s %.1f s into the attack]",
		       r->killed ? "killed at the RSS cap" : "controller exited", r->gone_after);
	printf("\n  good agents      %d/%d scrapes with all %d connected (min %.0f), %d scrape "
	       "failures; KubeFedClusters not all Ready in %d/%d polls; %d disconnects (%d missed "
	       "heartbeats) logged by the controller, %d (%d) by the agents  %s\n",
	       r->scrapes - r->not_all_connected, r->scrapes, o->good, r->min_agents,
	       r->scrape_failures, r->kfc_not_ready, r->kfc_polls, r->disconnects,
	       r->missed_heartbeats, r->agent_closes, r->agent_missed, pf(t_agents));
	if (r->lag_n > 0)
		printf(
		    "  timer lag        p50 %.1f ms, p99 %.1f ms, max %s%.1f ms (%.0f ticks)  %s "
		    "(p99 <= %.0f ms)\n",
		    r->p50 * 1e3, r->p99 * 1e3, r->max_exact ? "" : "<= ", r->max * 1e3, r->lag_n,
		    pf(t_lag), o->max_lag_p99_ms);
	else /* no scrape after the attack: the controller died or never answered */
		printf("  timer lag        unknown (no /metrics answer after the attack)  %s\n",
		       pf(t_lag));
	printf("  Lease renewals   %d, max gap %.1f s, %d late (> %.1f s)%s  %s\n", r->renewals,
	       r->max_gap, r->late, o->lease_late_after,
	       r->holder_changed ? ", holder changed" : "", pf(t_lease));
	printf("  peers            %lu dials, %lu connected, %lu TLS, %lu closed by the host, "
	       "%.1f MiB sent%s%s\n",
	       r->at.dials, r->at.connects, r->at.tls_ok, r->at.closed_by_host,
	       (double)r->at.bytes_sent / 1048576, r->at.error[0] ? "; " : "", r->at.error);
	if (r->at.endless_conns)
		printf("  endless server   %lu connections from the controller\n",
		       r->at.endless_conns);
}

static void write_json(const struct opts *o, const struct result *r, bool t_rss, bool t_agents,
                       bool t_lag, bool t_lease)
{
	FILE *f = fopen(o->json, "a");

	if (!f) {
		perror(o->json);
		return;
	}
	fprintf(
	    f,
	    "{\"scenario\":\"%s\",\"seconds\":%.0f,"
	    "\"rss_mib\":{\"before\":%.1f,\"peak\":%.1f,\"after\":%.1f,\"growth\":%.1f,"
	    "\"cap\":%.0f},"
	    "\"controller_gone\":%s,\"killed_at_rss_cap\":%s,\"gone_after_s\":%.1f,"
	    "\"good_agents\":{\"clusters\":%d,\"scrapes\":%d,\"scrapes_not_all_connected\":%d,"
	    "\"min_connected\":%.0f,\"scrape_failures\":%d,\"kfc_polls\":%d,"
	    "\"kfc_polls_not_all_ready\":%d,\"disconnects_logged\":%d,"
	    "\"missed_heartbeats_logged\":%d,\"agent_side_closes_logged\":%d,"
	    "\"agent_side_missed_heartbeats_logged\":%d},"
	    "\"loop_lag_ms\":{\"ticks\":%.0f,\"known\":%s,\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f,"
	    "\"max_exact\":%s},"
	    "\"lease\":{\"renewals\":%d,\"late\":%d,\"late_after_s\":%.1f,\"max_gap_s\":%.2f,"
	    "\"holder_changed\":%s},"
	    "\"peers\":{\"dials\":%lu,\"connected\":%lu,\"tls\":%lu,\"closed_by_host\":%lu,"
	    "\"bytes_sent\":%llu,\"auth_ok\":%lu,\"endless_connections\":%lu,\"error\":\"%s\"},"
	    "\"targets\":{\"rss_growth\":\"%s\",\"good_agents\":\"%s\",\"loop_lag_p99\":\"%s\","
	    "\"lease\":\"%s\"}}\n",
	    o->scenario, o->seconds, r->rss_before, r->rss_peak, r->rss_after, r->growth,
	    o->rss_cap_mib, r->gone ? "true" : "false", r->killed ? "true" : "false", r->gone_after,
	    o->good, r->scrapes, r->not_all_connected, r->min_agents, r->scrape_failures,
	    r->kfc_polls, r->kfc_not_ready, r->disconnects, r->missed_heartbeats, r->agent_closes,
	    r->agent_missed, r->lag_n, r->lag_n > 0 ? "true" : "false", r->p50 * 1e3, r->p99 * 1e3,
	    r->max * 1e3, r->max_exact ? "true" : "false", r->renewals, r->late,
	    o->lease_late_after, r->max_gap, r->holder_changed ? "true" : "false", r->at.dials,
	    r->at.connects, r->at.tls_ok, r->at.closed_by_host, r->at.bytes_sent, r->at.auth_ok,
	    r->at.endless_conns, r->at.error, pf(t_rss), pf(t_agents), pf(t_lag), pf(t_lease));
	fclose(f);
}

static int parse(int argc, char **argv, struct opts *o)
{
	const struct fed_opt table[] = {
	    {FED_OPT_STRING, "scenario", 0, &o->scenario, "NAME", "idle, garbage, flood or endless",
	     NULL},
	    {FED_OPT_DOUBLE, "seconds", 0, &o->seconds, "S", "attack duration (default 60)", NULL},
	    {FED_OPT_DOUBLE, "settle", 0, &o->settle, "S", "after the attack (default 5)", NULL},
	    {FED_OPT_DOUBLE, "wait-answer", 0, &o->wait_answer, "S",
	     "then up to this long for /metrics to answer again (default 60)", NULL},
	    {FED_OPT_INT, "pid", 0, &o->pid, "PID", "the controller", NULL},
	    {FED_OPT_INT, "metrics-port", 0, &o->metrics_port, "PORT", "its /metrics on 127.0.0.1",
	     NULL},
	    {FED_OPT_INT, "tunnel-port", 0, &o->tunnel_port, "PORT", "its tunnel on 127.0.0.1",
	     NULL},
	    {FED_OPT_STRING, "kubeconfig", 0, &o->kubeconfig, "FILE", "of the host cluster", NULL},
	    {FED_OPT_STRING, "context", 0, &o->context, "NAME", "(default host)", NULL},
	    {FED_OPT_STRING, "federation-namespace", 0, &o->fed_namespace, "NS", "", NULL},
	    {FED_OPT_STRING, "lease-name", 0, &o->lease_name, "NAME", "(default fed-controller)",
	     NULL},
	    {FED_OPT_STRING, "good-prefix", 0, &o->good_prefix, "P", "good clusters P0.. (good)",
	     NULL},
	    {FED_OPT_INT, "good", 0, &o->good, "N", "good clusters (default 10)", NULL},
	    {FED_OPT_INT, "clients", 0, &o->clients, "N", "garbage: clients (default 200)", NULL},
	    {FED_OPT_STRING, "token-file", 0, &o->token_file, "FILE", "flood: bootstrap token",
	     NULL},
	    {FED_OPT_INT, "endless-port", 0, &o->endless_port, "PORT", "endless: listen here",
	     NULL},
	    {FED_OPT_STRING, "endless-cert", 0, &o->endless_cert, "FILE", "endless: its cert",
	     NULL},
	    {FED_OPT_STRING, "endless-key", 0, &o->endless_key, "FILE", "endless: its key", NULL},
	    {FED_OPT_STRING, "controller-log", 0, &o->controller_log, "FILE", "for disconnects",
	     NULL},
	    {FED_OPT_STRING, "agent-logs", 0, &o->agent_logs, "DIR",
	     "the good agents' logs: DIR/agent-PREFIXn.log", NULL},
	    {FED_OPT_STRING, "setup-cmd", 0, &o->setup_cmd, "SH", "run once the peers are up",
	     NULL},
	    {FED_OPT_STRING, "teardown-cmd", 0, &o->teardown_cmd, "SH", "run once they stopped",
	     NULL},
	    {FED_OPT_DOUBLE, "rss-cap-mib", 0, &o->rss_cap_mib, "MIB", "kill above (1536)", NULL},
	    {FED_OPT_DOUBLE, "lease-late-after", 0, &o->lease_late_after, "S", "late gap (3)",
	     NULL},
	    {FED_OPT_DOUBLE, "max-growth-mib", 0, &o->max_growth_mib, "MIB", "target (32)", NULL},
	    {FED_OPT_DOUBLE, "max-lag-p99-ms", 0, &o->max_lag_p99_ms, "MS", "target (50)", NULL},
	    {FED_OPT_STRING, "json", 0, &o->json, "FILE", "append one JSON line", NULL},
	    FED_OPT_TABLE_END,
	};
	const struct fed_opt *const tables[] = {table, NULL};
	struct fed_error err = FED_ERROR_INIT;
	char *args[1];
	bool help = false;
	int nargs;

	if (fed_opt_parse(tables, argc - 1, argv + 1, args, 0, &nargs, &help, &err)) {
		fprintf(stderr, "bench-hostile: %s\n", err.msg);
		return 2;
	}
	if (help || !o->scenario || !o->pid || !o->metrics_port || !o->kubeconfig ||
	    o->seconds <= 0 || o->clients < 1 || o->clients > 1000 || o->good < 1 || o->good > 64) {
		fprintf(stderr,
		        "usage: bench-hostile --scenario NAME --pid PID --metrics-port PORT "
		        "--kubeconfig FILE [options]\n");
		fed_opt_print_help(stderr, tables);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.context = "host",
	                 .fed_namespace = "kube-federation-system",
	                 .lease_name = "fed-controller",
	                 .good_prefix = "good",
	                 .good = 10,
	                 .clients = 200,
	                 .seconds = 60,
	                 .settle = 5,
	                 .wait_answer = 60,
	                 .rss_cap_mib = 1536,
	                 .lease_late_after = 3,
	                 .max_growth_mib = 32,
	                 .max_lag_p99_ms = 50};
	struct watch_opts wo;
	struct attack_opts ao;
	struct watch_phase pre, win, after;
	struct attack *a = NULL;
	struct watch *w = NULL;
	struct result r;
	char err[512];
	bool t_rss, t_agents, t_lag, t_lease;
	double t0;
	struct agent_logs al = {.ok = false};
	long log_off;
	int ret = 1;

	if ((ret = parse(argc, argv, &o)))
		return ret;
	ret = 1;
	fed_log_setup(FED_LOG_ERROR, false); /* the scrapes' timeouts are figures, not news */
	signal(SIGPIPE, SIG_IGN);
	memset(&r, 0, sizeof(r));
	memset(&ao, 0, sizeof(ao));
	ao.tunnel_port = o.tunnel_port;
	ao.clients = o.clients;
	ao.token_file = o.token_file;
	ao.endless_port = o.endless_port;
	ao.endless_cert = o.endless_cert;
	ao.endless_key = o.endless_key;
	if (!strcmp(o.scenario, "idle"))
		ao.kind = SC_IDLE;
	else if (!strcmp(o.scenario, "garbage") && o.tunnel_port)
		ao.kind = SC_GARBAGE;
	else if (!strcmp(o.scenario, "flood") && o.tunnel_port && o.token_file)
		ao.kind = SC_FLOOD;
	else if (!strcmp(o.scenario, "endless") && o.endless_port && o.endless_cert &&
	         o.endless_key)
		ao.kind = SC_ENDLESS;
	else {
		fprintf(stderr, "bench-hostile: --scenario %s: unknown, or its options missing\n",
		        o.scenario);
		return 2;
	}
	wo = (struct watch_opts){o.pid,           o.metrics_port,    o.kubeconfig,  o.context,
	                         o.fed_namespace, o.lease_name,      o.good_prefix, o.good,
	                         o.rss_cap_mib,   o.lease_late_after};
	if (watch_new(&w, &wo, err, sizeof(err))) {
		fprintf(stderr, "bench-hostile: %s\n", err);
		goto out;
	}
	watch_run(w, 2, 10, &pre);
	if (watch_controller_gone(w, &r.killed, &t0) || pre.rss_samples == 0 || !pre.scrapes) {
		fprintf(stderr, "bench-hostile: controller %d is not running or not answering\n",
		        o.pid);
		ret = 3; /* the driver restarts it and tries again */
		goto out;
	}
	log_off = file_size(o.controller_log);
	agent_logs_mark(&o, &al);
	if (attack_start(&a, &ao, err, sizeof(err))) {
		fprintf(stderr, "bench-hostile: %s\n", err);
		goto out;
	}
	if (run_cmd("setup", o.setup_cmd))
		goto out;
	t0 = ev_time();
	watch_run(w, o.seconds, 0, &win);
	attack_stop(a, &r.at);
	a = NULL;
	run_cmd("teardown", o.teardown_cmd);
	r.gone = watch_controller_gone(w, &r.killed, &r.gone_after);
	if (!r.gone)
		watch_run(w, o.settle, o.wait_answer, &after);
	else
		memset(&after, 0, sizeof(after));
	r.gone = watch_controller_gone(w, &r.killed, &r.gone_after);
	r.gone_after = r.gone ? r.gone_after - t0 : 0;

	/* figures */
	r.rss_before = pre.rss_last;
	r.rss_peak = win.rss_peak > after.rss_peak ? win.rss_peak : after.rss_peak;
	r.rss_after = after.rss_samples ? after.rss_last : win.rss_last;
	r.growth = r.rss_peak - r.rss_before;
	r.scrapes = win.scrapes + after.scrapes;
	r.scrape_failures = win.scrape_failures + after.scrape_failures;
	r.not_all_connected = win.samples_not_all_connected + after.samples_not_all_connected;
	r.min_agents = win.scrapes ? win.min_agents_seen : 0;
	if (after.scrapes && after.min_agents_seen < r.min_agents)
		r.min_agents = after.min_agents_seen;
	r.kfc_polls = win.kfc_polls + after.kfc_polls;
	r.kfc_not_ready = win.kfc_not_ready + after.kfc_not_ready;
	log_counts(&o, log_off, &r);
	agent_logs_count(&al, &r);
	/* only a scrape after the attack covers it all */
	if (after.lag_last.ok)
		lag_figures(pre.lag_last.ok ? &pre.lag_last : &win.lag_first, &after.lag_last, &r);
	r.renewals = win.renewals + after.renewals;
	r.late = win.late_renewals + after.late_renewals;
	r.max_gap =
	    win.max_renew_gap > after.max_renew_gap ? win.max_renew_gap : after.max_renew_gap;
	r.holder_changed = win.holder_changed || after.holder_changed;

	t_rss = !r.gone && r.growth <= o.max_growth_mib;
	t_agents = !r.gone && r.not_all_connected == 0 && r.kfc_not_ready == 0 &&
	           r.disconnects == 0 && r.agent_closes == 0 && r.scrapes > 0;
	t_lag = !r.gone && r.lag_n > 0 && r.p99 * 1e3 <= o.max_lag_p99_ms;
	t_lease = !r.gone && r.late == 0 && !r.holder_changed && r.renewals > 0;
	print_result(&o, &r, t_rss, t_agents, t_lag, t_lease);
	if (o.json)
		write_json(&o, &r, t_rss, t_agents, t_lag, t_lease);
	ret = 0;
out:
	if (al.ok)
		globfree(&al.g);
	if (a)
		attack_stop(a, &r.at);
	watch_free(w);
	return ret;
}
