/* Operations endpoints of fed-controller: /healthz (the process serves),
 * /readyz (it can talk to the host: it leads with its inputs synced, or
 * stands by watching the Lease) and Prometheus /metrics with kubefed's
 * metric names where kubefed had them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "fed/log.h"

static int healthz(const struct fed_http_request *req, struct fed_http_response *resp, void *ud)
{
	return fed_buf_puts(&resp->body, "ok\n");
}

static bool ready(const struct controller *ctl, const char **why)
{
	struct fed_leader_status st;

	if (ctl->started) {
		if (!hooks_inputs_synced((struct controller *)ctl)) {
			*why = "inputs not synced from the host apiserver yet";
			return false;
		}
		return true;
	}
	if (ctl->leader) {
		fed_leader_status(ctl->leader, &st);
		if (st.observed_at > 0)
			return true; /* a standby that sees the Lease is ready to take over */
		*why = "leader election has not reached the host apiserver yet";
		return false;
	}
	*why = "starting";
	return false;
}

static int readyz(const struct fed_http_request *req, struct fed_http_response *resp, void *ud)
{
	const char *why = "";

	if (ready(ud, &why))
		return fed_buf_puts(&resp->body, "ok\n");
	resp->status = 503;
	return fed_buf_printf(&resp->body, "not ready: %s\n", why);
}

/* "HOST:PORT", ":PORT" (all IPv4 addresses) or "[V6]:PORT". */
static int parse_address(const char *s, char *host, size_t n, int *port, struct fed_error *err)
{
	const char *colon = strrchr(s, ':');
	char *end = NULL;
	long p = colon ? strtol(colon + 1, &end, 10) : -1;

	if (!colon || *end || end == colon + 1 || p < 0 || p > 65535 || (size_t)(colon - s) >= n)
		return fed_error_set(
		    err, FED_EINVAL,
		    "--metrics-address \"%s\": use HOST:PORT, :PORT or [IPv6]:PORT "
		    "(port 0 picks a free one), or \"off\"",
		    s);
	if (colon == s)
		snprintf(host, n, "0.0.0.0");
	else
		snprintf(host, n, "%.*s", (int)(colon - s), s);
	*port = (int)p;
	return 0;
}

static int register_metrics(struct controller *ctl, struct fed_error *err)
{
	/* probe latencies: fast on a LAN, up to the probe timeout when hung */
	static const double buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30};
	static const char *const states[] = {"ready", "notready", "offline"};
	size_t i;
	int ret;

	if ((ret = fed_metrics_new(&ctl->metrics, err)) ||
	    (ret =
	         fed_metrics_gauge(ctl->metrics, "kubefedcluster_total",
	                           "Number of member clusters by state (ready, notready, offline)",
	                           "state", &ctl->m_clusters, err)) ||
	    (ret = fed_metrics_gauge(ctl->metrics, "joined_cluster_total",
	                             "Number of member clusters in the Federation config", NULL,
	                             &ctl->m_joined, err)) ||
	    (ret = fed_metrics_histogram(ctl->metrics, "cluster_health_status_duration_seconds",
	                                 "Time taken by member cluster health probes", NULL,
	                                 buckets, sizeof(buckets) / sizeof(buckets[0]),
	                                 &ctl->m_probe_seconds, err)) ||
	    (ret = fed_metrics_gauge(ctl->metrics, "fed_cluster_ready",
	                             "1 when the member cluster is Ready, else 0", "cluster",
	                             &ctl->m_cluster_ready, err)) ||
	    (ret = fed_metrics_gauge(ctl->metrics, "fed_controller_leader",
	                             "1 while this replica leads and acts, else 0", NULL,
	                             &ctl->m_leader, err)))
		return ret;
	/* no member yet: members_update_metrics counts them once known */
	fed_metrics_set(ctl->m_leader, NULL, 0);
	fed_metrics_set(ctl->m_joined, NULL, 0);
	for (i = 0; i < 3; i++)
		fed_metrics_set(ctl->m_clusters, (const char *[]){states[i]}, 0);
	return 0;
}

int controller_ops_start(struct controller *ctl, struct fed_error *err)
{
	char host[128];
	int port = 0, ret;

	if ((ret = register_metrics(ctl, err)))
		return ret;
	if (!strcmp(ctl->o.metrics_address, "off"))
		return 0;
	if ((ret = parse_address(ctl->o.metrics_address, host, sizeof(host), &port, err)) ||
	    (ret = fed_http_server_new(&ctl->http, ctl->loop, host, port, err)) ||
	    (ret = fed_http_server_route(ctl->http, "GET", "/healthz", healthz, ctl)) ||
	    (ret = fed_http_server_route(ctl->http, "GET", "/readyz", readyz, ctl)) ||
	    (ret = fed_http_server_route(ctl->http, "GET", "/metrics", fed_metrics_http_handler,
	                                 ctl->metrics))) {
		if (!err->code)
			fed_error_set(err, ret, "--metrics-address: cannot serve on %s",
			              ctl->o.metrics_address);
		return ret;
	}
	FED_LOG_INFO(NULL, "serving /healthz, /readyz and /metrics on %s port %d", host,
	             fed_http_server_port(ctl->http));
	return 0;
}

void controller_ops_stop(struct controller *ctl)
{
	fed_http_server_free(ctl->http);
	fed_metrics_free(ctl->metrics);
	ctl->http = NULL;
	ctl->metrics = NULL;
}

void controller_observe_probe(struct controller *ctl, double seconds)
{
	if (ctl->metrics)
		fed_metrics_observe(ctl->m_probe_seconds, NULL, seconds);
}

#define TOO_LARGE_METRIC "fed_kube_response_too_large_total"

static void count_too_large(const char *client, void *ud)
{
	struct controller *ctl = ud;
	struct fed_metrics_family *f;
	struct fed_error err = FED_ERROR_INIT;

	if (!ctl->metrics)
		return;
	/* registered on first use: only the controller's clients count here */
	f = fed_metrics_family(ctl->metrics, TOO_LARGE_METRIC);
	if (!f && fed_metrics_counter(ctl->metrics, TOO_LARGE_METRIC,
	                              "Responses from an apiserver aborted at "
	                              "--max-response-bytes or --max-probe-response-bytes",
	                              "cluster", &f, &err))
		return;
	fed_metrics_inc(f, (const char *[]){client});
}

void controller_kube_limits(struct controller *ctl, struct fed_kube_client *c)
{
	struct fed_kube_limits l;

	memset(&l, 0, sizeof(l));
	l.max_response_bytes = (size_t)ctl->o.max_response_bytes;
	l.max_response_flag = "--max-response-bytes";
	l.max_probe_bytes = (size_t)ctl->o.max_probe_bytes;
	l.max_probe_flag = "--max-probe-response-bytes";
	l.watch_idle_s = ctl->o.watch_idle_timeout;
	l.on_too_large = count_too_large;
	l.ud = ctl;
	fed_kube_client_set_limits(c, &l);
}
