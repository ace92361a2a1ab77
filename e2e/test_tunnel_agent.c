/* The real fed-agent against a hand-driven host (this test, using the
 * tunnel library) and member2's real apiserver: least reach and
 * credential handling as the host sees them.
 *   - an OPEN for a target the agent does not know is refused (RST);
 *   - an absolute-form request (a proxy request to another address) is
 *     refused with 400 by the agent;
 *   - the host's Authorization is replaced by the agent's own credential
 *     (a bogus token still gets 200), Impersonate-* is stripped (an
 *     impersonated nobody would get 403);
 *   - a wrong host CA is refused by the agent (no insecure mode);
 *   - the agent announces cluster connect streams; on one, the member sees
 *     the impersonated caller (SelfSubjectReview), a system: user is
 *     refused with 403 by the agent, and after an upgrade the apiserver
 *     refused no second request goes through;
 *   - many streams at once, one of them stalled, all others complete. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>
#include <stdlib.h>

#include "check.h"
#include "fed/log.h"
#include "fed/tunnel_conn.h"

static const char *e2e_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		fprintf(stderr, "%s is not set: run through ctest (the e2e fixture sets it)\n",
		        name);
		exit(1);
	}
	return v;
}

static char *e2e_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);

	if (f && buf && fread(buf, 1, (1 << 20) - 1, f) == 0)
		buf[0] = '\0';
	if (f)
		fclose(f);
	return buf;
}

static struct ev_loop *loop;
static SSL_CTX *server_ctx;
static int lfd, port;
static char dir[256], ca_path[300], token_path[300];
static struct fed_tunnel_conn *conn;
static int ready, closed;
static char agent_log[300];

static int h_auth(struct fed_tunnel_conn *c, int kind, const uint8_t *secret, size_t len,
                  char **cluster, char **credential, void *ud, struct fed_error *err)
{
	if (kind != FED_TUNNEL_AUTH_BOOTSTRAP || len != 9 || memcmp(secret, "e2e-token", 9))
		return fed_error_set(err, FED_EUNAUTHORIZED, "wrong token");
	*cluster = strdup("member2");
	return 0;
}

static void h_ready(struct fed_tunnel_conn *c, const char *cl, const char *cred, void *ud)
{
	ready++;
}

static void h_closed(struct fed_tunnel_conn *c, const char *why, void *ud)
{
	closed++;
	fed_tunnel_conn_free(c);
	if (c == conn)
		conn = NULL;
}

static const struct fed_tunnel_conn_cb hcb = {.auth = h_auth, .ready = h_ready, .closed = h_closed};

static void accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_tunnel_conn_opts o = {.heartbeat = 1};
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	fed_tunnel_conn_free(conn);
	conn = NULL;
	if (fed_tunnel_conn_accept(l, fd, server_ctx, &o, &hcb, NULL, &conn, &err) < 0)
		fprintf(stderr, "accept: %s\n", err.msg);
}

struct req {
	struct fed_tunnel_stream *s;
	struct fed_buf resp;
	int reset, done;
	uint32_t code;
	bool stall;
};

static void r_data(struct fed_tunnel_stream *s, const uint8_t *p, size_t n, void *ud)
{
	struct req *r = ud;

	if (r->stall)
		return;
	fed_buf_append(&r->resp, p, n);
	fed_tunnel_stream_consumed(s, n);
	if (strstr(fed_buf_str(&r->resp), "\r\n\r\n"))
		r->done = 1;
}

static void r_reset(struct fed_tunnel_stream *s, uint32_t code, void *ud)
{
	struct req *r = ud;

	r->reset = 1;
	r->done = 1;
	r->code = code;
	r->s = NULL;
}

static void r_fin(struct fed_tunnel_stream *s, void *ud)
{
	((struct req *)ud)->done = 1;
}

static const struct fed_tunnel_stream_cb rcb = {.data = r_data, .fin = r_fin, .reset = r_reset};

static int run_until(int *flag, double timeout)
{
	double end = ev_time() + timeout;

	while (!*flag && ev_time() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(500);
	}
	return *flag;
}

static int status_of(const struct req *r)
{
	const char *s = fed_buf_str(&r->resp);

	return !strncmp(s, "HTTP/1.1 ", 9) ? atoi(s + 9) : -1;
}

static int request(struct req *r, int target, const char *text)
{
	struct fed_error err = FED_ERROR_INIT;

	memset(r, 0, sizeof(*r));
	if (!conn || fed_tunnel_stream_open(conn, target, &rcb, r, &r->s, &err) < 0)
		return -1;
	if (text)
		fed_tunnel_stream_send(r->s, text, strlen(text));
	return 0;
}

static void req_release(struct req *r)
{
	if (r->s)
		fed_tunnel_stream_close(r->s, FED_TUNNEL_RST_CANCEL);
	r->s = NULL;
	fed_buf_release(&r->resp);
}

static pid_t spawn_agent(const char *ca)
{
	char kc[512], addr[64];
	pid_t pid;

	snprintf(kc, sizeof(kc), "%s/member2/kubeconfig", e2e_env("FED_E2E_STATE"));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	pid = fork();
	if (pid == 0) {
		char bin[512];

		if (!freopen(agent_log, "a", stderr))
			_exit(126);
		snprintf(bin, sizeof(bin), "%s/fed-agent", e2e_env("FED_BIN_DIR"));
		execl(bin, bin, "--host-address", addr, "--host-ca-file", ca,
		      "--bootstrap-token-file", token_path, "--kubeconfig", kc, "--heartbeat", "1",
		      "--max-backoff", "1", "--log-level", "debug", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < 200 && waitpid(pid, NULL, WNOHANG) == 0; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_least_reach(void)
{
	struct req r;
	pid_t pid = spawn_agent(ca_path);

	ready = 0;
	CHECK(run_until(&ready, 15));

	/* a target the agent does not know: refused (RST), as an agent that
	 * predates connect streams refuses those */
	CHECK_INT(request(&r, 3, NULL), 0);
	CHECK(run_until(&r.done, 10));
	CHECK_INT(r.code, FED_TUNNEL_RST_REFUSED);
	req_release(&r);

	/* a proxy-style request for another address: 400 */
	CHECK_INT(
	    request(&r, FED_TUNNEL_TARGET_KUBE_APISERVER,
	            "GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: x\r\n\r\n"),
	    0);
	CHECK(run_until(&r.done, 10));
	CHECK_INT(status_of(&r), 400);
	CHECK_HAS(fed_buf_str(&r.resp), "only the kube-apiserver is reachable");
	req_release(&r);

	/* the host's bogus bearer token and an impersonation are dropped:
	 * the agent's own credential answers (401 or 403 otherwise) */
	CHECK_INT(request(&r, FED_TUNNEL_TARGET_KUBE_APISERVER,
	                  "GET /api/v1/namespaces/default HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"
	                  "Authorization: Bearer bogus-host-token\r\n"
	                  "Impersonate-User: nobody-e2e\r\nImpersonate-Group: nobody\r\n"
	                  "Connection: close\r\n\r\n"),
	          0);
	CHECK(run_until(&r.done, 10));
	CHECK_INT(status_of(&r), 200);
	req_release(&r);
	stop(pid);
}

/* The whole response: its head, then Content-Length bytes (or the head
 * alone without one), or the stream's end. */
static bool response_complete(const struct req *r)
{
	const char *s = fed_buf_str(&r->resp), *end = strstr(s, "\r\n\r\n");
	const char *cl = end ? strcasestr(s, "\r\ncontent-length:") : NULL;

	if (r->reset || (r->done && !end))
		return true;
	if (!end)
		return false;
	if (!cl || cl > end)
		return true;
	return r->resp.len >= (size_t)(end + 4 - s) + strtoul(cl + 17, NULL, 10);
}

static bool wait_response(const struct req *r, double timeout)
{
	double end = ev_time() + timeout;

	while (!response_complete(r) && ev_time() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(500);
	}
	return response_complete(r);
}

static int review(struct req *r, int target, const char *impersonation)
{
	static const char body[] =
	    "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}";
	char text[1024];

	snprintf(text, sizeof(text),
	         "POST /apis/authentication.k8s.io/v1/selfsubjectreviews HTTP/1.1\r\n"
	         "Content-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n%s",
	         sizeof(body) - 1, impersonation, body);
	return request(r, target, text);
}

static void test_connect_streams(void)
{
	struct req r;
	pid_t pid = spawn_agent(ca_path);

	ready = 0;
	CHECK(run_until(&ready, 15));
	CHECK(fed_tunnel_conn_peer_features(conn) & FED_TUNNEL_FEATURE_CONNECT);

	/* the member sees the caller the host named */
	CHECK_INT(review(&r, FED_TUNNEL_TARGET_CONNECT,
	                 "Impersonate-User: alice-e2e\r\nImpersonate-Group: devs-e2e\r\n"),
	          0);
	CHECK(wait_response(&r, 10));
	CHECK_INT(status_of(&r), 201);
	CHECK_HAS(fed_buf_str(&r.resp), "\"username\":\"alice-e2e\"");
	CHECK_HAS(fed_buf_str(&r.resp), "\"devs-e2e\"");
	req_release(&r);
	/* the same on an ordinary stream: stripped, the agent itself answers */
	CHECK_INT(review(&r, FED_TUNNEL_TARGET_KUBE_APISERVER,
	                 "Impersonate-User: alice-e2e\r\nImpersonate-Group: devs-e2e\r\n"),
	          0);
	CHECK(wait_response(&r, 10));
	CHECK_INT(status_of(&r), 201);
	CHECK(!strstr(fed_buf_str(&r.resp), "alice-e2e"));
	req_release(&r);
	/* a system: user: refused by the agent, the apiserver never asked */
	CHECK_INT(review(&r, FED_TUNNEL_TARGET_CONNECT, "Impersonate-User: system:admin\r\n"), 0);
	CHECK(wait_response(&r, 10));
	CHECK_INT(status_of(&r), 403);
	CHECK_HAS(fed_buf_str(&r.resp),
	          "fed-agent: a connect stream may not impersonate a system:");
	req_release(&r);
	/* an upgrade the apiserver refuses (alice may not watch): its answer
	 * comes back, and no second request follows it on that connection */
	CHECK_INT(request(&r, FED_TUNNEL_TARGET_CONNECT,
	                  "GET /api/v1/namespaces/default/configmaps?watch=1 HTTP/1.1\r\n"
	                  "Connection: Upgrade\r\nUpgrade: websocket\r\n"
	                  "Sec-WebSocket-Version: 13\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Origin: http://localhost\r\nImpersonate-User: alice-e2e\r\n\r\n"),
	          0);
	CHECK(wait_response(&r, 10));
	CHECK_INT(status_of(&r), 403);
	fed_tunnel_stream_send(r.s, "GET /version HTTP/1.1\r\n\r\n", 25);
	for (double t0 = ev_time(); !r.reset && ev_time() - t0 < 10 &&
	                            !strstr(fed_buf_str(&r.resp), "one request per cluster");) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(500);
	}
	CHECK_HAS(fed_buf_str(&r.resp), "fed-agent: one request per cluster connect stream");
	CHECK(!strstr(fed_buf_str(&r.resp), "gitVersion"));
	req_release(&r);
	stop(pid);
}

static void test_many_streams_one_stalled(void)
{
	enum { N = 40 };
	static struct req rs[N];
	struct req stalled;
	pid_t pid = spawn_agent(ca_path);
	int all = 0;
	double t0;

	ready = 0;
	CHECK(run_until(&ready, 15));
	/* a big LIST nobody reads */
	CHECK_INT(request(&stalled, FED_TUNNEL_TARGET_KUBE_APISERVER,
	                  "GET /openapi/v2 HTTP/1.1\r\nAccept: application/json\r\n\r\n"),
	          0);
	stalled.stall = true;
	for (int i = 0; i < N; i++)
		CHECK_INT(request(&rs[i], FED_TUNNEL_TARGET_KUBE_APISERVER,
		                  "GET /version HTTP/1.1\r\n\r\n"),
		          0);
	t0 = ev_time();
	while (!all && ev_time() - t0 < 15) {
		all = 1;
		for (int i = 0; i < N; i++)
			all &= rs[i].done;
		ev_run(loop, EVRUN_NOWAIT);
		usleep(500);
	}
	CHECK(all);
	for (int i = 0; i < N; i++) {
		CHECK_INT(status_of(&rs[i]), 200);
		req_release(&rs[i]);
	}
	fprintf(stderr, "  %d GETs through one tunnel beside a stalled stream in %.0f ms\n", N,
	        (ev_time() - t0) * 1000);
	CHECK(!stalled.reset);
	req_release(&stalled);
	stop(pid);
}

static void test_wrong_host_ca(void)
{
	char *c2 = NULL, *k2 = NULL, path[320];
	struct fed_error err = FED_ERROR_INIT;
	FILE *f;
	pid_t pid;
	char *log;

	CHECK_INT(fed_tunnel_tls_selfsigned("other", "IP:127.0.0.1", 1, &c2, &k2, &err), 0);
	snprintf(path, sizeof(path), "%s/other-ca.crt", dir);
	f = fopen(path, "w");
	fputs(c2, f);
	fclose(f);
	ready = closed = 0;
	pid = spawn_agent(path);
	run_until(&closed, 5);
	for (int i = 0; i < 100; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(10000);
	}
	CHECK_INT(ready, 0);
	stop(pid);
	log = e2e_read_file(agent_log);
	CHECK_HAS(log, "certificate verification failed");
	CHECK(!strstr(log, "e2e-token"));
	free(log);
	free(c2);
	free(k2);
}

int main(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	char *cert = NULL, *key = NULL;
	ev_io lio;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	fed_log_setup(FED_LOG_ERROR, false);
	loop = EV_DEFAULT;
	snprintf(dir, sizeof(dir), "%s/fed-e2e-tunnel-agent-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	snprintf(ca_path, sizeof(ca_path), "%s/host-ca.crt", dir);
	snprintf(token_path, sizeof(token_path), "%s/token", dir);
	snprintf(agent_log, sizeof(agent_log), "%s/agent.log", dir);
	if (fed_tunnel_tls_selfsigned("fed-tunnel", "IP:127.0.0.1", 1, &cert, &key, &err) < 0 ||
	    fed_tunnel_tls_server_ctx(cert, key, &server_ctx, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	f = fopen(ca_path, "w");
	fputs(cert, f);
	fclose(f);
	f = fopen(token_path, "w");
	fputs("e2e-token\n", f);
	fclose(f);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		return 1;
	port = ntohs(sa.sin_port);
	ev_io_init(&lio, accept_cb, lfd, EV_READ);
	ev_io_start(loop, &lio);
	RUN(test_least_reach);
	RUN(test_connect_streams);
	RUN(test_many_streams_one_stalled);
	RUN(test_wrong_host_ca);
	fed_tunnel_conn_free(conn);
	SSL_CTX_free(server_ctx);
	free(cert);
	free(key);
	close(lfd);
	if (!check_failures) {
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", dir);
	} else {
		fprintf(stderr, "agent log kept in %s\n", agent_log);
	}
	return CHECK_EXIT();
}
