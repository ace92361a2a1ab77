/* The controller seen from outside while peers attack it, on the main
 * loop: its RSS from /proc every 100 ms (SIGKILL above the cap), its
 * /metrics every 250 ms (fed_tunnel_agents of the good clusters, the loop
 * lag histogram), the leader Lease every 250 ms (renewTime gaps) and the
 * good clusters' KubeFedClusters every second (Ready). Every request has a
 * short deadline and no retry: a stalled controller shows up as failures,
 * never as a stalled bench. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "fed/kube.h"
#include "fed/kubeconfig.h"
#include "hostile.h"

const double lag_bounds[LAG_BUCKETS] = {.001, .0025, .005, .01, .025, .05,  .1,
                                        .25,  .5,    1,    2.5, 5,    1e300};

struct watch {
	struct watch_opts o;
	struct ev_loop *loop;
	struct fed_kube_client *host, *ops;
	ev_timer rss_t, scrape_t, lease_t, kfc_t, end_t;
	bool scrape_busy, lease_busy, kfc_busy;
	struct watch_phase *ph;
	double hard_end; /* ev_time(): a phase waiting for an answer ends here anyway */
	bool gone, killed;
	double gone_at; /* ev_time() */
	char renew[64], holder[256];
	double renew_at; /* renewTime of the last renewal seen, unix seconds */
	char lease_path[512], kfc_path[512];
};

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- RSS ------------------------------------------------------------------ */

static double rss_mib(int pid)
{
	char path[64], line[256];
	double kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtod(line + 6, NULL);
	fclose(f);
	return kb < 0 ? -1 : kb / 1024; /* no VmRSS: a zombie */
}

static void on_rss(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch *w = t->data;
	struct watch_phase *ph = w->ph;
	double m;

	if (w->gone)
		return;
	m = rss_mib(w->o.pid);
	if (m < 0) {
		w->gone = true;
		w->gone_at = ev_time();
		ev_break(loop, EVBREAK_ONE); /* the phase ends with the controller */
		return;
	}
	if (ph->rss_samples++ == 0)
		ph->rss_first = m;
	ph->rss_last = m;
	if (m > ph->rss_peak)
		ph->rss_peak = m;
	if (m > w->o.rss_cap_mib) {
		/* the controller the driver started, by its pid: the machine is shared */
		kill(w->o.pid, SIGKILL);
		w->killed = w->gone = true;
		w->gone_at = ev_time();
		ev_break(loop, EVBREAK_ONE);
	}
}

/* ---- /metrics ------------------------------------------------------------- */

/* The value of a good cluster's series, or -1 if the label is not one. */
static int good_index(const struct watch *w, const char *label)
{
	size_t n = strlen(w->o.good_prefix);
	char *end;
	long i;

	if (strncmp(label, w->o.good_prefix, n))
		return -1;
	i = strtol(label + n, &end, 10);
	return end != label + n && *end == '"' && i >= 0 && i < w->o.good ? (int)i : -1;
}

static void parse_metrics(struct watch *w, const char *body)
{
	struct watch_phase *ph = w->ph;
	struct lag_snapshot snap = {.ok = true};
	double agents[64] = {0}, sum = 0;
	const char *line, *sp;
	int good = w->o.good < 64 ? w->o.good : 64, connected = 0;

	for (line = body; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (*line == '#' || !(sp = strchr(line, ' ')))
			continue;
		double v = strtod(sp + 1, NULL);
		if (!strncmp(line, "fed_tunnel_agents{cluster=\"", 27)) {
			int i = good_index(w, line + 27);
			if (i >= 0 && i < good)
				agents[i] = v;
		} else if (!strncmp(line, "fed_loop_lag_seconds_bucket{le=\"", 32)) {
			double le = strncmp(line + 32, "+Inf", 4) ? strtod(line + 32, NULL) : 1e300;
			for (int b = 0; b < LAG_BUCKETS; b++)
				if (le <= lag_bounds[b] * 1.000001 &&
				    le >= lag_bounds[b] * 0.999999)
					snap.count[b] = v;
		} else if (!strncmp(line, "fed_loop_lag_max_seconds ", 25)) {
			snap.max = v;
		}
	}
	for (int i = 0; i < good; i++) {
		sum += agents[i];
		connected += agents[i] == 1;
	}
	if (connected < w->o.good)
		ph->samples_not_all_connected++;
	if (ph->scrapes == 1 || sum < ph->min_agents_seen)
		ph->min_agents_seen = sum;
	if (!ph->lag_first.ok)
		ph->lag_first = snap;
	ph->lag_last = snap;
}

static void scraped(struct fed_kube_response *resp, void *ud)
{
	struct watch *w = ud;

	w->scrape_busy = false;
	if (resp->status != 200 || !resp->body) {
		w->ph->scrape_failures++;
		return;
	}
	w->ph->scrapes++;
	parse_metrics(w, resp->body);
}

static void on_scrape(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch *w = t->data;
	struct fed_kube_request r = {.method = "GET",
	                             .path = "/metrics",
	                             .accept = "text/plain",
	                             .timeout_ms = 1000,
	                             .max_retries = 0,
	                             .exempt = true};
	struct fed_error err = FED_ERROR_INIT;

	if (w->scrape_busy || w->gone)
		return;
	if (fed_kube_request(w->ops, &r, scraped, w, NULL, &err) == 0)
		w->scrape_busy = true;
	else
		w->ph->scrape_failures++;
}

/* ---- the Lease ------------------------------------------------------------- */

/* "2026-12-07T03:30:00.123456Z" -> unix seconds, or -1. */
static double rfc3339(const char *s)
{
	struct tm tm;
	const char *rest;
	double frac = 0;

	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	if (*rest == '.')
		frac = strtod(rest, NULL);
	return (double)timegm(&tm) + frac;
}

static void lease_got(struct fed_kube_response *resp, void *ud)
{
	struct watch *w = ud;
	struct watch_phase *ph = w->ph;
	const char *rt, *holder;
	double t;

	w->lease_busy = false;
	if (resp->status != 200 || !resp->json) {
		ph->lease_failures++;
		return;
	}
	ph->lease_polls++;
	rt = fed_obj_str(resp->json, "spec.renewTime");
	holder = fed_obj_str(resp->json, "spec.holderIdentity");
	if (holder && *holder) {
		if (w->holder[0] && strcmp(w->holder, holder))
			ph->holder_changed = true;
		snprintf(w->holder, sizeof(w->holder), "%s", holder);
	}
	if (!rt || !strcmp(rt, w->renew) || (t = rfc3339(rt)) < 0)
		return;
	if (w->renew_at > 0) {
		double gap = t - w->renew_at;
		ph->renewals++;
		if (gap > ph->max_renew_gap)
			ph->max_renew_gap = gap;
		if (gap > w->o.lease_late_after)
			ph->late_renewals++;
	}
	snprintf(w->renew, sizeof(w->renew), "%s", rt);
	w->renew_at = t;
}

static void on_lease(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch *w = t->data;
	struct fed_kube_request r = {
	    .method = "GET", .path = w->lease_path, .timeout_ms = 1000, .max_retries = 0};
	struct fed_error err = FED_ERROR_INIT;

	if (w->lease_busy)
		return;
	if (fed_kube_request(w->host, &r, lease_got, w, NULL, &err) == 0)
		w->lease_busy = true;
	else
		w->ph->lease_failures++;
}

/* ---- KubeFedClusters ------------------------------------------------------- */

static bool ready(const cJSON *item)
{
	const cJSON *c, *conds = cJSON_GetObjectItemCaseSensitive(
	                    cJSON_GetObjectItemCaseSensitive(item, "status"), "conditions");

	cJSON_ArrayForEach(c, conds) {
		const char *type = fed_obj_str(c, "type"), *st = fed_obj_str(c, "status");
		if (type && !strcmp(type, "Ready"))
			return st && !strcmp(st, "True");
	}
	return false;
}

static void kfc_got(struct fed_kube_response *resp, void *ud)
{
	struct watch *w = ud;
	const cJSON *item;
	char label[300];
	int ok = 0;

	w->kfc_busy = false;
	if (resp->status != 200 || !resp->json)
		return;
	w->ph->kfc_polls++;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(resp->json, "items")) {
		const char *name = fed_obj_name(item);
		snprintf(label, sizeof(label), "%s\"", name ? name : "");
		if (good_index(w, label) >= 0 && ready(item))
			ok++;
	}
	if (ok < w->o.good)
		w->ph->kfc_not_ready++;
}

static void on_kfc(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch *w = t->data;
	struct fed_kube_request r = {
	    .method = "GET", .path = w->kfc_path, .timeout_ms = 2000, .max_retries = 0};
	struct fed_error err = FED_ERROR_INIT;

	if (w->kfc_busy)
		return;
	if (fed_kube_request(w->host, &r, kfc_got, w, NULL, &err) == 0)
		w->kfc_busy = true;
}

/* ---- the phase ------------------------------------------------------------- */

static void on_end(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch *w = t->data;

	if (w->ph->scrapes == 0 && !w->gone && ev_time() < w->hard_end) {
		ev_timer_set(t, .25, 0.); /* still no answer: wait for one */
		ev_timer_start(loop, t);
		return;
	}
	ev_break(loop, EVBREAK_ONE);
}

void watch_run(struct watch *w, double seconds, double wait_answer, struct watch_phase *ph)
{
	double open;

	memset(ph, 0, sizeof(*ph));
	w->ph = ph;
	ev_now_update(w->loop);
	w->hard_end = ev_time() + seconds + wait_answer;
	ev_timer_set(&w->end_t, seconds, 0.);
	ev_timer_start(w->loop, &w->end_t);
	ev_run(w->loop, 0);
	/* a renewal still missing at the end is as late as it is by now */
	open = w->renew_at > 0 ? wall() - w->renew_at : 0;
	if (open > ph->max_renew_gap && open > w->o.lease_late_after) {
		ph->max_renew_gap = open;
		ph->late_renewals++;
	}
}

bool watch_controller_gone(const struct watch *w, bool *killed, double *at)
{
	*killed = w->killed;
	*at = w->gone_at;
	return w->gone;
}

int watch_new(struct watch **out, const struct watch_opts *o, char *errbuf, size_t errlen)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rest_config hcfg, ocfg;
	struct watch *w = calloc(1, sizeof(*w));
	char url[64];
	int ret = -1;

	fed_rest_config_init(&hcfg);
	fed_rest_config_init(&ocfg);
	*out = NULL;
	if (!w)
		goto out;
	w->o = *o;
	/* not the default loop: its SIGCHLD handler would reap system()'s child */
	w->loop = ev_loop_new(EVFLAG_AUTO);
	snprintf(w->lease_path, sizeof(w->lease_path),
	         "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", o->fed_namespace,
	         o->lease_name);
	snprintf(w->kfc_path, sizeof(w->kfc_path),
	         "/apis/core.kubefed.io/v1beta1/namespaces/%s/kubefedclusters", o->fed_namespace);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", o->metrics_port);
	ocfg.server = strdup(url);
	if (!ocfg.server || fed_rest_config_load(&hcfg, o->kubeconfig, o->context, &err) ||
	    fed_kube_client_new(&w->host, w->loop, &hcfg, "host", &err) ||
	    fed_kube_client_new(&w->ops, w->loop, &ocfg, "ops", &err)) {
		snprintf(errbuf, errlen, "%s", err.msg[0] ? err.msg : "out of memory");
		goto out;
	}
	ev_timer_init(&w->rss_t, on_rss, 0., .1);
	ev_timer_init(&w->scrape_t, on_scrape, 0., .25);
	ev_timer_init(&w->lease_t, on_lease, 0., .25);
	ev_timer_init(&w->kfc_t, on_kfc, 0., 1.);
	ev_init(&w->end_t, on_end);
	w->rss_t.data = w->scrape_t.data = w->lease_t.data = w->kfc_t.data = w->end_t.data = w;
	ev_timer_start(w->loop, &w->rss_t);
	ev_timer_start(w->loop, &w->scrape_t);
	ev_timer_start(w->loop, &w->lease_t);
	ev_timer_start(w->loop, &w->kfc_t);
	*out = w;
	w = NULL;
	ret = 0;
out:
	fed_rest_config_release(&hcfg);
	fed_rest_config_release(&ocfg);
	watch_free(w);
	return ret;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	ev_timer_stop(w->loop, &w->rss_t);
	ev_timer_stop(w->loop, &w->scrape_t);
	ev_timer_stop(w->loop, &w->lease_t);
	ev_timer_stop(w->loop, &w->kfc_t);
	ev_timer_stop(w->loop, &w->end_t);
	fed_kube_client_free(w->host);
	fed_kube_client_free(w->ops);
	if (w->loop)
		ev_loop_destroy(w->loop);
	free(w);
}
