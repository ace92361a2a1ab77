/* Tunnel bench (issue 6): the member's apiserver reached directly and
 * through the agent tunnel, measured in the same run with libfed's kube
 * client (the one fed-controller uses).
 *
 * The host side runs in this process (tunnel listener, loopback listener
 * whose connections become streams: what fed-controller does); the real
 * fed-agent runs as a child with the member's kubeconfig.
 *
 *  (a) GET latency: --gets sequential GETs of one ConfigMap, alternating
 *      direct and tunnel; p50 and p99 of each, and the p50 overhead
 *  (b) LIST throughput: --configmaps ConfigMaps (1 KiB of data each) listed
 *      whole (no paging) --lists times each way; objects/s, MB/s, ratio
 *  (c) --watches watches on one ConfigMap through the tunnel; --updates
 *      updates of 64 KiB each, the latency of every event at every watcher:
 *      once alone ("normal"), then again beside one raw watch connection on
 *      the whole namespace that nobody reads (a stalled consumer)
 *
 * Usage: bench-tunnel --kubeconfig MEMBER_KUBECONFIG --agent PATH/fed-agent
 *        [--gets N] [--configmaps N] [--lists N] [--watches N] [--updates N]
 * Writes one JSON line with the figures to stdout. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "fed/kube.h"
#include "fed/kubeconfig.h"
#include "fed/log.h"
#include "fed/opt.h"
#include "fed/tunnel_conn.h"

/* a namespace per run: without kube-controller-manager a deleted one never goes */
static char NS[64], P_NS[128], P_CMS[160], P_CM0[192], P_CM1[192], P_CM2[192];

static struct ev_loop *loop;
static SSL_CTX *server_ctx;
static struct fed_tunnel_conn *agent_conn;
static bool agent_ready;
static int tunnel_lfd, local_lfd;

static const struct fed_kube_resource r_cm = {"", "v1", "configmaps", true};

/* ---- the host side, as fed-controller/tunnel.c does it ---- */

static int h_auth(struct fed_tunnel_conn *c, int kind, const uint8_t *secret, size_t len,
                  char **cluster, char **credential, void *ud, struct fed_error *err)
{
	*cluster = strdup("bench");
	return 0;
}

static void h_ready(struct fed_tunnel_conn *c, const char *cl, const char *cred, void *ud)
{
	agent_ready = true;
}

static void h_closed(struct fed_tunnel_conn *c, const char *why, void *ud)
{
	fprintf(stderr, "bench-tunnel: tunnel closed: %s\n", why);
	fed_tunnel_conn_free(c);
	agent_conn = NULL;
	agent_ready = false;
}

static const struct fed_tunnel_conn_cb hcb = {.auth = h_auth, .ready = h_ready, .closed = h_closed};

static void tunnel_accept(struct ev_loop *l, ev_io *w, int revents)
{
	struct fed_error err = FED_ERROR_INIT;
	int fd = accept4(tunnel_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0 &&
	    fed_tunnel_conn_accept(l, fd, server_ctx, NULL, &hcb, NULL, &agent_conn, &err) < 0)
		fprintf(stderr, "bench-tunnel: %s\n", err.msg);
}

static void local_accept(struct ev_loop *l, ev_io *w, int revents)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_tunnel_stream *s;
	int fd;

	while ((fd = accept4(local_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (!agent_conn ||
		    fed_tunnel_stream_open(agent_conn, FED_TUNNEL_TARGET_KUBE_APISERVER, NULL, NULL,
		                           &s, &err) < 0) {
			close(fd);
			continue;
		}
		fed_tunnel_bridge_new(l, s, fd, NULL, NULL, NULL, NULL, NULL, &err);
	}
}

static int listen_loopback(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

/* ---- requests ---- */

struct done {
	bool done;
	int status;
	size_t bytes;
	char rv[32]; /* metadata.resourceVersion of the answer */
};

static void req_cb(struct fed_kube_response *resp, void *ud)
{
	struct done *d = ud;

	d->done = true;
	d->status = resp->status;
	d->bytes = resp->body_len;
	snprintf(d->rv, sizeof(d->rv), "%s",
	         resp->json && fed_obj_resource_version(resp->json)
	             ? fed_obj_resource_version(resp->json)
	             : "");
}

static int request(struct fed_kube_client *c, const char *method, const char *path,
                   const char *body, struct done *d)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_request r = {.method = method,
	                             .path = path,
	                             .body = body,
	                             .body_len = body ? strlen(body) : 0,
	                             .max_retries = 0};

	if (!strcmp(method, "PATCH"))
		r.content_type = "application/merge-patch+json";

	memset(d, 0, sizeof(*d));
	if (fed_kube_request(c, &r, req_cb, d, NULL, &err) < 0) {
		fprintf(stderr, "bench-tunnel: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int sync_request(struct fed_kube_client *c, const char *method, const char *path,
                        const char *body, struct done *d)
{
	if (request(c, method, path, body, d) < 0 || fed_kube_wait(loop, &d->done, 120) < 0)
		return -1;
	return d->status;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[(int)fmin(n - 1, floor(p * n))];
}

/* ---- (c) watches ---- */

static int events_seen, watch_errors;
static char *want_value;
static double sent_at, *ev_lat; /* per-event latency, seconds */
static int n_ev_lat, cap_ev_lat;

static void w_event(enum fed_watch_type t, cJSON *obj, void *ud)
{
	const char *v = fed_obj_str(obj, "metadata.annotations.bench");

	if (t == FED_WATCH_MODIFIED && v && want_value && !strcmp(v, want_value)) {
		events_seen++;
		if (n_ev_lat < cap_ev_lat)
			ev_lat[n_ev_lat++] = ev_time() - sent_at;
	}
}

static void w_done(const struct fed_error *err, void *ud)
{
	watch_errors++;
}

struct wround {
	int n;
	double p50, p99, fanout; /* ms, ms, s */
};

static char *big_value(size_t n, char c)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

int main(int argc, char **argv)
{
	const char *kubeconfig = NULL, *agent = NULL;
	int gets = 500, configmaps = 5000, lists = 5, watches = 500, updates = 20;
	bool help = false;
	const struct fed_opt table[] = {
	    {FED_OPT_STRING, "kubeconfig", 0, &kubeconfig, "FILE", "the member's kubeconfig", NULL},
	    {FED_OPT_STRING, "agent", 0, &agent, "PATH", "the fed-agent binary", NULL},
	    {FED_OPT_INT, "gets", 0, &gets, "N", "GETs each way (default 500)", NULL},
	    {FED_OPT_INT, "configmaps", 0, &configmaps, "N", "ConfigMaps to LIST (default 5000)",
	     NULL},
	    {FED_OPT_INT, "lists", 0, &lists, "N", "LISTs each way (default 5)", NULL},
	    {FED_OPT_INT, "watches", 0, &watches, "N", "watches through the tunnel (default 500)",
	     NULL},
	    {FED_OPT_INT, "updates", 0, &updates, "N", "64 KiB updates watched (default 20)", NULL},
	    FED_OPT_TABLE_END,
	};
	const struct fed_opt *const tables[] = {table, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rest_config direct_cfg, tunnel_cfg;
	struct fed_kube_client *direct = NULL, *tunnel = NULL;
	char *cert = NULL, *key = NULL, *args[1], dir[] = "/tmp/bench-tunnel-XXXXXX", path[512],
	     url[64], tokfile[600], cafile[600], addr[64];
	double *lat_d, *lat_t, t0, list_d = 0, list_t = 0;
	size_t list_bytes = 0;
	int nargs, tport, lport;
	ev_io tio, lio;
	pid_t pid;
	FILE *f;

	if (fed_opt_parse(tables, argc - 1, argv + 1, args, 0, &nargs, &help, &err) || help ||
	    !kubeconfig || !agent) {
		fprintf(stderr, "usage: bench-tunnel --kubeconfig FILE --agent PATH [options]\n");
		fed_opt_print_help(stderr, tables);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	fed_log_setup(FED_LOG_WARN, false);
	snprintf(NS, sizeof(NS), "bench-tunnel-%d", (int)getpid());
	snprintf(P_NS, sizeof(P_NS), "/api/v1/namespaces/%s", NS);
	snprintf(P_CMS, sizeof(P_CMS), "%s/configmaps", P_NS);
	snprintf(P_CM0, sizeof(P_CM0), "%s/cm-00000", P_CMS);
	snprintf(P_CM1, sizeof(P_CM1), "%s/cm-00001", P_CMS);
	snprintf(P_CM2, sizeof(P_CM2), "%s/cm-00002", P_CMS);
	loop = EV_DEFAULT;
	if (!mkdtemp(dir) ||
	    fed_tunnel_tls_selfsigned("bench", "IP:127.0.0.1", 1, &cert, &key, &err) < 0 ||
	    fed_tunnel_tls_server_ctx(cert, key, &server_ctx, &err) < 0)
		goto fail;
	snprintf(cafile, sizeof(cafile), "%s/ca.crt", dir);
	snprintf(tokfile, sizeof(tokfile), "%s/token", dir);
	f = fopen(cafile, "w");
	fputs(cert, f);
	fclose(f);
	f = fopen(tokfile, "w");
	fputs("bench\n", f);
	fclose(f);
	tunnel_lfd = listen_loopback(&tport);
	local_lfd = listen_loopback(&lport);
	ev_io_init(&tio, tunnel_accept, tunnel_lfd, EV_READ);
	ev_io_start(loop, &tio);
	ev_io_init(&lio, local_accept, local_lfd, EV_READ);
	ev_io_start(loop, &lio);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", tport);
	pid = fork();
	if (pid == 0) {
		execl(agent, agent, "--host-address", addr, "--host-ca-file", cafile,
		      "--bootstrap-token-file", tokfile, "--kubeconfig", kubeconfig, "--log-level",
		      "warn", (char *)NULL);
		_exit(127);
	}
	if (fed_kube_wait(loop, &agent_ready, 20) < 0) {
		fed_error_set(&err, FED_ETIMEOUT, "the agent did not connect");
		goto fail;
	}

	fed_rest_config_init(&direct_cfg);
	fed_rest_config_init(&tunnel_cfg);
	if (fed_rest_config_load(&direct_cfg, kubeconfig, NULL, &err) < 0)
		goto fail;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", lport);
	tunnel_cfg.server = strdup(url);
	direct_cfg.qps = tunnel_cfg.qps = 100000;
	direct_cfg.burst = tunnel_cfg.burst = 100000;
	if (fed_kube_client_new(&direct, loop, &direct_cfg, "direct", &err) < 0 ||
	    fed_kube_client_new(&tunnel, loop, &tunnel_cfg, "tunnel", &err) < 0)
		goto fail;
	fed_kube_client_set_max_inflight(direct, 64);
	fed_kube_client_set_max_inflight(tunnel, 64);

	/* set-up: the namespace and the ConfigMaps, written directly */
	{
		struct done d;
		char *data = big_value(1024, 'x'), body[2048];
		int inflight = 0, next = 0, ok = 0;
		struct done *ds = calloc((size_t)configmaps, sizeof(*ds));

		snprintf(body, sizeof(body),
		         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
		         "\"%s\"}}",
		         NS);
		sync_request(direct, "POST", "/api/v1/namespaces", body, &d);
		t0 = ev_time();
		while (ok < configmaps && ev_time() - t0 < 600) {
			while (inflight < 64 && next < configmaps) {
				snprintf(
				    body, sizeof(body),
				    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
				    "{\"name\":\"cm-%05d\"},\"data\":{\"d\":\"%s\"}}",
				    next, data);
				request(direct, "POST", P_CMS, body, &ds[next]);
				next++;
				inflight++;
			}
			ev_run(loop, EVRUN_ONCE);
			inflight = next;
			ok = 0;
			for (int i = 0; i < next; i++) {
				if (ds[i].done) {
					inflight--;
					ok++;
				}
			}
		}
		fprintf(stderr, "bench-tunnel: %d ConfigMaps in place (%.1f s)\n", ok,
		        ev_time() - t0);
		free(ds);
		free(data);
	}

	/* (a) GET latency, alternating */
	lat_d = calloc((size_t)gets, sizeof(double));
	lat_t = calloc((size_t)gets, sizeof(double));
	for (int i = 0; i < 20; i++) { /* warm both connections */
		struct done d;

		sync_request(direct, "GET", P_CM0, NULL, &d);
		sync_request(tunnel, "GET", P_CM0, NULL, &d);
	}
	for (int i = 0; i < gets; i++) {
		struct done d;

		t0 = ev_time();
		if (sync_request(direct, "GET", P_CM1, NULL, &d) != 200)
			goto bad_status;
		lat_d[i] = ev_time() - t0;
		t0 = ev_time();
		if (sync_request(tunnel, "GET", P_CM1, NULL, &d) != 200)
			goto bad_status;
		lat_t[i] = ev_time() - t0;
	}

	/* (b) LIST throughput */
	for (int i = 0; i < lists; i++) {
		struct done d;

		t0 = ev_time();
		if (sync_request(direct, "GET", P_CMS, NULL, &d) != 200)
			goto bad_status;
		list_d += ev_time() - t0;
		list_bytes = d.bytes;
		t0 = ev_time();
		if (sync_request(tunnel, "GET", P_CMS, NULL, &d) != 200)
			goto bad_status;
		list_t += ev_time() - t0;
	}

	/* (c) --watches watches through the tunnel, --updates 64 KiB updates each:
	 * once alone ("normal"), once beside a stalled consumer; the latency of
	 * every event from the PATCH being sent to each watcher seeing it */
	struct wround rounds[2];
	int stalled_fd = -1;
	{
		struct fed_kube_ref ref = {&r_cm, NS, NULL, NULL};
		struct fed_kube_list_opts lo;
		struct fed_kube_watch **ws = calloc((size_t)watches, sizeof(*ws));
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport)};
		char req[256], *val;
		struct done d0;

		/* from a known version, so that a watch established late still
		 * gets every update */
		if (sync_request(direct, "GET", P_CM2, NULL, &d0) != 200)
			goto bad_status;
		memset(&lo, 0, sizeof(lo));
		lo.field_selector = "metadata.name=cm-00002";
		lo.resource_version = d0.rv;
		for (int i = 0; i < watches; i++)
			if (fed_kube_watch(tunnel, &ref, &lo, w_event, w_done, NULL, &ws[i], &err) <
			    0)
				goto fail;
		for (int i = 0; i < 100; i++) { /* the watches get established */
			ev_run(loop, EVRUN_NOWAIT);
			usleep(20000);
		}
		val = big_value(65536, 'a');
		cap_ev_lat = watches * updates;
		ev_lat = calloc((size_t)cap_ev_lat, sizeof(double));
		for (int r = 0; r < 2; r++) {
			if (r == 1) {
				/* the stalled consumer: a watch on the whole namespace
				 * through the tunnel, never read after its request */
				sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
				stalled_fd = socket(AF_INET, SOCK_STREAM, 0);
				if (connect(stalled_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
					snprintf(req, sizeof(req),
					         "GET %s?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n",
					         P_CMS);
					if (write(stalled_fd, req, strlen(req)) < 0)
						perror("stalled watch");
				}
				for (int i = 0; i < 25; i++) {
					ev_run(loop, EVRUN_NOWAIT);
					usleep(20000);
				}
			}
			n_ev_lat = 0;
			t0 = ev_time();
			for (int u = 0; u < updates; u++) {
				struct done d;
				char *body = malloc(65536 + 256);

				free(want_value);
				want_value = malloc(16);
				snprintf(want_value, 16, "r%du%d", r, u);
				val[u % 65536] = (char)('b' + (u + r) % 20);
				sprintf(body,
				        "{\"metadata\":{\"annotations\":{\"bench\":\"%s\"}},"
				        "\"data\":{\"d\":\"%s\"}}",
				        want_value, val);
				events_seen = 0;
				sent_at = ev_time();
				/* in round 1 every update also goes to the stalled watch */
				request(direct, "PATCH", P_CM2, body, &d);
				free(body);
				for (double s = ev_time();
				     ev_time() - s < 30 && events_seen < watches;)
					ev_run(loop, EVRUN_ONCE);
				if (events_seen < watches) {
					fprintf(stderr,
					        "bench-tunnel: round %d update %d reached %d of %d "
					        "watchers\n",
					        r, u, events_seen, watches);
					break;
				}
			}
			rounds[r].fanout = (ev_time() - t0) / updates;
			rounds[r].n = n_ev_lat;
			rounds[r].p50 = n_ev_lat ? pct(ev_lat, n_ev_lat, 0.5) * 1000 : -1;
			rounds[r].p99 = n_ev_lat ? pct(ev_lat, n_ev_lat, 0.99) * 1000 : -1;
		}
		free(val);
		free(ev_lat);
		for (int i = 0; i < watches; i++)
			fed_kube_watch_cancel(ws[i]);
		free(ws);
	}

	{
		double p50d = pct(lat_d, gets, 0.5) * 1000, p99d = pct(lat_d, gets, 0.99) * 1000;
		double p50t = pct(lat_t, gets, 0.5) * 1000, p99t = pct(lat_t, gets, 0.99) * 1000;
		double rd = configmaps * lists / list_d, rt = configmaps * lists / list_t;

		printf("{\"gets\":%d,\"get_p50_ms\":{\"direct\":%.3f,\"tunnel\":%.3f},"
		       "\"get_p99_ms\":{\"direct\":%.3f,\"tunnel\":%.3f},\"p50_overhead_ms\":%.3f,"
		       "\"list\":{\"configmaps\":%d,\"bytes\":%zu,\"direct_objects_per_s\":%.0f,"
		       "\"tunnel_objects_per_s\":%.0f,\"direct_MBps\":%.1f,\"tunnel_MBps\":%.1f,"
		       "\"tunnel_vs_direct\":%.2f},"
		       "\"watches\":{\"n\":%d,\"updates\":%d,\"update_bytes\":65536,"
		       "\"normal\":{\"events\":%d,\"p50_ms\":%.1f,\"p99_ms\":%.1f,"
		       "\"mean_fanout_ms\":%.1f},"
		       "\"one_stalled\":{\"events\":%d,\"p50_ms\":%.1f,\"p99_ms\":%.1f,"
		       "\"mean_fanout_ms\":%.1f},"
		       "\"stalled_vs_normal_p50\":%.2f,\"stalled_vs_normal_p99\":%.2f,"
		       "\"watch_errors\":%d}}\n",
		       gets, p50d, p50t, p99d, p99t, p50t - p50d, configmaps, list_bytes, rd, rt,
		       list_bytes * lists / list_d / 1e6, list_bytes * lists / list_t / 1e6,
		       rt / rd, watches, updates, rounds[0].n, rounds[0].p50, rounds[0].p99,
		       rounds[0].fanout * 1000, rounds[1].n, rounds[1].p50, rounds[1].p99,
		       rounds[1].fanout * 1000, rounds[1].p50 / rounds[0].p50,
		       rounds[1].p99 / rounds[0].p99, watch_errors);
	}
	if (stalled_fd >= 0)
		close(stalled_fd);
	{
		struct done d;

		sync_request(direct, "DELETE", P_NS, NULL, &d);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path))
		fprintf(stderr, "cannot remove %s\n", dir);
	return 0;
bad_status:
	fed_error_set(&err, FED_ERR, "a request failed");
fail:
	fprintf(stderr, "bench-tunnel: %s\n", err.msg);
	return 1;
}
