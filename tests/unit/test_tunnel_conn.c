/* Tunnel connections over real TLS on loopback: the host side runs in
 * this process, the agent side in a forked child (so it can be frozen with
 * SIGSTOP to test heartbeats). Covers authentication, refused targets,
 * metadata, per-stream flow control (a stalled stream does not stall
 * another), heartbeat death resetting every stream, and malformed frames
 * from an authenticated peer. The same streams and liveness again with
 * the tunnel's TLS inside a TLS session to a relay (an https:// proxy's
 * TLS in TLS), the relay forked too. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/ssl.h>

#include "check.h"
#include "fed/log.h"
#include "fed/tunnel_conn.h"
#include "tunnel_conn_internal.h"

static char *cert_pem, *key_pem;
static int listen_fd, port, relay_fd, relay_port;
static struct ev_loop *loop;
static SSL_CTX *server_ctx;

/* ---- host side state ---- */
static struct fed_tunnel_conn *hconn;
static int h_ready, h_closed, h_heartbeats, h_meta;
static char h_closed_why[256], h_cluster[64], h_meta_json[256];
static struct fed_tunnel_conn_opts hopts = {.heartbeat = 0.2, .missed = 3};

static int h_pending;

static int h_auth(struct fed_tunnel_conn *c, int kind, const uint8_t *secret, size_t len,
                  char **cluster, char **credential, void *ud, struct fed_error *err)
{
	/* decided later by the test (fed_tunnel_conn_auth_complete) */
	if (kind == FED_TUNNEL_AUTH_BOOTSTRAP && len == 10 && !memcmp(secret, "slow-token", 10)) {
		h_pending++;
		return FED_TUNNEL_AUTH_PENDING;
	}
	if (kind == FED_TUNNEL_AUTH_BOOTSTRAP && len == 10 && !memcmp(secret, "good-token", 10)) {
		*cluster = strdup("east");
		*credential = strdup("cred-east");
		return 0;
	}
	return fed_error_set(err, FED_EUNAUTHORIZED, "unknown bootstrap token");
}

static void h_on_ready(struct fed_tunnel_conn *c, const char *cluster, const char *cred, void *ud)
{
	h_ready++;
	snprintf(h_cluster, sizeof(h_cluster), "%s", cluster);
}

static void h_on_meta(struct fed_tunnel_conn *c, const char *json, size_t len, void *ud)
{
	h_meta++;
	snprintf(h_meta_json, sizeof(h_meta_json), "%.*s", (int)len, json);
}

static void h_on_hb(struct fed_tunnel_conn *c, void *ud)
{
	h_heartbeats++;
}

static int h_refused;
static char h_refused_reason[32];

static void h_on_refused(struct fed_tunnel_conn *c, const char *reason, void *ud)
{
	h_refused++;
	snprintf(h_refused_reason, sizeof(h_refused_reason), "%s", reason);
}

static void h_on_closed(struct fed_tunnel_conn *c, const char *why, void *ud)
{
	h_closed++;
	snprintf(h_closed_why, sizeof(h_closed_why), "%s", why);
	fed_tunnel_conn_free(c);
	hconn = NULL;
}

static const struct fed_tunnel_conn_cb hcb = {
    .auth = h_auth,
    .ready = h_on_ready,
    .metadata = h_on_meta,
    .heartbeat = h_on_hb,
    .refused = h_on_refused,
    .closed = h_on_closed,
};

static void accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct fed_error err = FED_ERROR_INIT;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	fed_tunnel_conn_free(hconn);
	hconn = NULL;
	h_ready = h_closed = h_heartbeats = h_meta = 0;
	h_closed_why[0] = '\0';
	if (fed_tunnel_conn_accept(l, fd, server_ctx, &hopts, &hcb, NULL, &hconn, &err) < 0)
		fprintf(stderr, "accept: %s\n", err.msg);
}

/* Host streams: count what comes back. */
struct hstream {
	struct fed_tunnel_stream *s;
	size_t got;
	int reset, opened, fin;
	uint32_t code;
	char first[16];
};

static void hs_data(struct fed_tunnel_stream *s, const uint8_t *p, size_t n, void *ud)
{
	struct hstream *h = ud;

	if (h->got < sizeof(h->first) - 1)
		memcpy(h->first + h->got, p,
		       n < sizeof(h->first) - 1 - h->got ? n : sizeof(h->first) - 1 - h->got);
	h->got += n;
	fed_tunnel_stream_consumed(s, n);
}

static void hs_opened(struct fed_tunnel_stream *s, void *ud)
{
	((struct hstream *)ud)->opened++;
}

static void hs_fin(struct fed_tunnel_stream *s, void *ud)
{
	((struct hstream *)ud)->fin++;
}

static void hs_reset(struct fed_tunnel_stream *s, uint32_t code, void *ud)
{
	struct hstream *h = ud;

	h->reset++;
	h->code = code;
	h->s = NULL;
}

static const struct fed_tunnel_stream_cb hscb = {
    .data = hs_data, .fin = hs_fin, .opened = hs_opened, .reset = hs_reset};

/* run the loop until *flag becomes nonzero or timeout seconds pass */
static int run_until(int *flag, double timeout)
{
	double end = ev_time() + timeout;

	while (!*flag && ev_time() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	return *flag;
}

/* ---- agent side (child process) ---- */
struct astream {
	struct fed_tunnel_stream *s;
	struct fed_buf pending; /* to echo */
	size_t unacked;
	bool slow;
};

static void as_flush(struct astream *a)
{
	size_t n = fed_tunnel_stream_send(a->s, a->pending.data, a->pending.len);

	fed_buf_consume(&a->pending, n);
	fed_tunnel_stream_consumed(a->s, n);
}

static void as_data(struct fed_tunnel_stream *s, const uint8_t *p, size_t n, void *ud)
{
	struct astream *a = ud;

	if (!a->pending.len && n >= 4 && !memcmp(p, "SLOW", 4))
		a->slow = true;
	if (a->slow)
		return; /* a stalled reader: never consumes */
	fed_buf_append(&a->pending, p, n);
	as_flush(a);
}

static void as_writable(struct fed_tunnel_stream *s, void *ud)
{
	as_flush(ud);
}

static void as_reset(struct fed_tunnel_stream *s, uint32_t code, void *ud)
{
	struct astream *a = ud;

	fed_buf_release(&a->pending);
	free(a);
}

static const struct fed_tunnel_stream_cb ascb = {
    .data = as_data, .writable = as_writable, .reset = as_reset};

static void a_open(struct fed_tunnel_conn *c, struct fed_tunnel_stream *s, int target, void *ud)
{
	struct astream *a;

	/* as fed-agent: the apiserver, connect streams when it announced
	 * them, nothing else */
	if (target != FED_TUNNEL_TARGET_KUBE_APISERVER &&
	    !(target == FED_TUNNEL_TARGET_CONNECT && ud)) {
		fed_tunnel_stream_close(s, FED_TUNNEL_RST_REFUSED);
		return;
	}
	a = calloc(1, sizeof(*a));
	a->s = s;
	fed_tunnel_stream_accept(s, &ascb, a);
}

static void a_ready(struct fed_tunnel_conn *c, const char *cluster, const char *cred, void *ud)
{
	const char *meta = "{\"kubernetesVersion\":\"v1.31.0\"}";

	if (strcmp(cluster, "east") || !cred || strcmp(cred, "cred-east"))
		_exit(3);
	if (fed_tunnel_conn_peer_features(c) != 0) /* the host serves no target */
		_exit(3);
	fed_tunnel_conn_send_metadata(c, meta, strlen(meta));
}

/* a rotated credential is echoed back in METADATA so the host can check it */
static void a_credential(struct fed_tunnel_conn *c, const char *cred, void *ud)
{
	char meta[128];

	snprintf(meta, sizeof(meta), "{\"rotated\":\"%s\"}", cred);
	fed_tunnel_conn_send_metadata(c, meta, strlen(meta));
}

static void a_closed(struct fed_tunnel_conn *c, const char *why, void *ud)
{
	fprintf(stderr, "  agent closed: %s\n", why);
	_exit(strstr(why, "GOAWAY") ? 7 : 0);
}

static const struct fed_tunnel_conn_cb acb = {
    .ready = a_ready, .open = a_open, .credential = a_credential, .closed = a_closed};

static int dial_port(int p)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(4);
	return fd;
}

static int dial(void)
{
	return dial_port(port);
}

/* A TLS-terminating relay, as stunnel in front of a CONNECT proxy: one
 * connection, TLS from the agent, plain bytes to the host's listener. */
static void relay_main(void)
{
	SSL *ssl = SSL_new(server_ctx);
	int a = accept(relay_fd, NULL, NULL), h = dial(), closed = 0;
	uint8_t buf[16384];

	if (a < 0 || !ssl || !SSL_set_fd(ssl, a) || SSL_accept(ssl) != 1)
		_exit(2);
	while (!closed) {
		struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = h, .events = POLLIN}};

		if (!SSL_pending(ssl) && poll(p, 2, -1) < 0)
			_exit(2);
		if (SSL_pending(ssl) || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			int n = SSL_read(ssl, buf, sizeof(buf));

			if (n <= 0 || write(h, buf, (size_t)n) != n)
				closed = 1;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(h, buf, sizeof(buf));

			if (n <= 0 || SSL_write(ssl, buf, (int)n) != n)
				closed = 1;
		}
	}
	_exit(0);
}

/* The agent's TLS session to the relay (blocking), verified like a proxy. */
static SSL *dial_relay(SSL_CTX *ctx)
{
	SSL *ssl = SSL_new(ctx);

	if (!ssl || !SSL_set_fd(ssl, dial_port(relay_port)) ||
	    !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1") ||
	    SSL_connect(ssl) != 1)
		_exit(6);
	return ssl;
}

static void agent_main(const char *token)
{
	struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
	struct fed_error err = FED_ERROR_INIT;
	struct fed_tunnel_conn *c;
	struct fed_tunnel_conn_opts o = {.heartbeat = 0.2};
	SSL_CTX *ctx = NULL, *outer_ctx = NULL;
	void *ud = NULL;
	int fd;

	/* "connect:TOKEN": an agent that serves connect streams and says so */
	if (!strncmp(token, "connect:", 8)) {
		o.features = FED_TUNNEL_FEATURE_CONNECT;
		ud = &o;
		token += 8;
	}
	/* "via-relay:TOKEN": TLS to the relay first, the tunnel inside it */
	if (!strncmp(token, "via-relay:", 10)) {
		if (fed_tunnel_tls_client_ctx(cert_pem, &outer_ctx, &err) < 0)
			_exit(2);
		o.outer = dial_relay(outer_ctx);
		fd = SSL_get_fd(o.outer);
		token += 10;
	} else {
		fd = dial();
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (fed_tunnel_tls_client_ctx(cert_pem, &ctx, &err) < 0 ||
	    fed_tunnel_conn_connect(l, fd, ctx, "127.0.0.1", FED_TUNNEL_AUTH_BOOTSTRAP, token, &o,
	                            &acb, ud, &c, &err) < 0) {
		fprintf(stderr, "agent: %s\n", err.msg);
		_exit(2);
	}
	ev_run(l, 0);
	_exit(5);
}

static void put_frame(SSL *ssl, uint8_t type, uint32_t stream, const void *p, uint32_t len,
                      uint32_t claimed)
{
	uint8_t h[12] = {type};

	fed_tunnel_put_u32(h + 4, stream);
	fed_tunnel_put_u32(h + 8, claimed);
	SSL_write(ssl, h, 12);
	if (len)
		SSL_write(ssl, p, (int)len);
}

/* A hand-written peer that authenticates, then sends an oversize frame. */
/* A raw TLS connection to the host that has sent HELLO and AUTH with
 * the good token (the answer is left unread). Exits 2 on failure. */
static SSL *raw_peer(void)
{
	struct fed_error err = FED_ERROR_INIT;
	SSL_CTX *ctx;
	SSL *ssl;
	uint8_t hello[12] = {0, FED_TUNNEL_VERSION};

	if (fed_tunnel_tls_client_ctx(cert_pem, &ctx, &err) < 0)
		_exit(2);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, dial());
	if (SSL_connect(ssl) != 1)
		_exit(2);
	put_frame(ssl, FED_TUNNEL_HELLO, 0, hello, 12, 12);
	put_frame(ssl, FED_TUNNEL_AUTH, 0, "\x01good-token", 11, 11);
	return ssl;
}

/* HELLO, AUTH with the slow token and a PING in one write: the PING must
 * wait for the verdict, then be answered. Exit 0 on AUTH_OK then PONG. */
static void pending_ping_main(void)
{
	struct fed_error err = FED_ERROR_INIT;
	SSL_CTX *ctx;
	SSL *ssl;
	uint8_t hello[12] = {0, FED_TUNNEL_VERSION}, ping[8] = {1}, buf[4096];
	struct fed_buf in = FED_BUF_INIT;
	struct fed_tunnel_frame f;
	int ok = 0, pong = 0, n;
	size_t used;

	if (fed_tunnel_tls_client_ctx(cert_pem, &ctx, &err) < 0)
		_exit(2);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, dial());
	if (SSL_connect(ssl) != 1)
		_exit(2);
	put_frame(ssl, FED_TUNNEL_HELLO, 0, hello, 12, 12);
	put_frame(ssl, FED_TUNNEL_AUTH, 0, "\x01slow-token", 11, 11);
	put_frame(ssl, FED_TUNNEL_PING, 0, ping, 8, 8);
	alarm(10);
	while (!pong && (n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
		fed_buf_append(&in, buf, (size_t)n);
		while (fed_tunnel_frame_decode((uint8_t *)in.data, in.len, FED_TUNNEL_MAX_FRAME, &f,
		                               &used, &err) == 1) {
			ok |= f.type == FED_TUNNEL_AUTH_OK;
			if (f.type == FED_TUNNEL_PONG && f.payload[0] == 1)
				pong = ok ? 1 : -1; /* a PONG before AUTH_OK is wrong */
			if (f.type == FED_TUNNEL_GOAWAY)
				_exit(7);
			fed_buf_consume(&in, used);
		}
	}
	_exit(pong == 1 ? 0 : 3);
}

static void garbage_main(void)
{
	SSL *ssl = raw_peer();
	uint8_t buf[4096];

	SSL_read(ssl, buf, sizeof(buf)); /* HELLO, AUTH_OK */
	put_frame(ssl, FED_TUNNEL_DATA, 1, NULL, 0, 1u << 30);
	while (SSL_read(ssl, buf, sizeof(buf)) > 0)
		;
	_exit(0);
}

/* A hand-written peer that authenticates, then sends frames for streams
 * the host never opened: each must get RST_UNKNOWN_STREAM, and the
 * connection must live on (it answers a PING after them). Exit 0 when it
 * saw both RSTs and a PONG, 3 otherwise. */
static void bogus_stream_main(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf in = FED_BUF_INIT;
	struct fed_tunnel_frame f;
	SSL *ssl = raw_peer();
	uint8_t buf[4096], ping[8] = {1};
	int rst99 = 0, rst101 = 0, pong = 0, n;
	size_t used;

	put_frame(ssl, FED_TUNNEL_FIN, 99, NULL, 0, 0);
	put_frame(ssl, FED_TUNNEL_DATA, 101, "hello", 5, 5);
	put_frame(ssl, FED_TUNNEL_PING, 0, ping, 8, 8);
	while (!(rst99 && rst101 && pong) && (n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
		fed_buf_append(&in, buf, (size_t)n);
		while (fed_tunnel_frame_decode((uint8_t *)in.data, in.len, FED_TUNNEL_MAX_FRAME, &f,
		                               &used, &err) == 1) {
			if (f.type == FED_TUNNEL_RST &&
			    fed_tunnel_get_u32(f.payload) == FED_TUNNEL_RST_UNKNOWN_STREAM) {
				rst99 |= f.stream == 99;
				rst101 |= f.stream == 101;
			}
			pong |= f.type == FED_TUNNEL_PONG && f.payload[0] == 1;
			fed_buf_consume(&in, used);
		}
	}
	_exit(rst99 && rst101 && pong ? 0 : 3);
}

/* ---- hostile peers (security audit findings 1-4, 20) ---- */

static pid_t spawn(const char *mode);
static int reap(pid_t pid);

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

/* Read frames from the host until `want` of type arrived (or 3 s);
 * returns how many arrived. Other frames are dropped. */
static int read_frames(SSL *ssl, uint8_t type, uint32_t stream, int want)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf in = FED_BUF_INIT;
	struct fed_tunnel_frame f;
	uint8_t buf[4096];
	int got = 0, n;
	size_t used;

	alarm(3);
	while (got < want && (n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
		fed_buf_append(&in, buf, (size_t)n);
		while (got < want &&
		       fed_tunnel_frame_decode((uint8_t *)in.data, in.len, FED_TUNNEL_MAX_FRAME, &f,
		                               &used, &err) == 1) {
			got += f.type == type && (stream == UINT32_MAX || f.stream == stream);
			fed_buf_consume(&in, used);
		}
	}
	alarm(0);
	fed_buf_release(&in);
	return got;
}

/* Send `frame` (len bytes, whole frames) again and again for up to
 * `seconds`, never reading: a peer that floods. Writes block once the
 * host stops reading; the alarm ends the child then. */
static void flood(SSL *ssl, const uint8_t *frame, size_t len, double seconds)
{
	static uint8_t burst[64 * 1024];
	size_t n = sizeof(burst) / len * len;
	double end = ev_time() + seconds;

	for (size_t i = 0; i < n; i += len)
		memcpy(burst + i, frame, len);
	alarm((unsigned)seconds + 2);
	while (ev_time() < end && SSL_write(ssl, burst, (int)n) > 0)
		;
	_exit(0);
}

/* A wrong token, then PINGs at full speed (finding 2). */
static void refused_flood_main(void)
{
	struct fed_error err = FED_ERROR_INIT;
	uint8_t hello[12] = {0, FED_TUNNEL_VERSION}, ping[20] = {FED_TUNNEL_PING};
	SSL_CTX *ctx;
	SSL *ssl;

	if (fed_tunnel_tls_client_ctx(cert_pem, &ctx, &err) < 0)
		_exit(2);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, dial());
	if (SSL_connect(ssl) != 1)
		_exit(2);
	put_frame(ssl, FED_TUNNEL_HELLO, 0, hello, 12, 12);
	put_frame(ssl, FED_TUNNEL_AUTH, 0, "\x01wrong-token", 12, 12);
	fed_tunnel_put_u32(ping + 8, 8);
	flood(ssl, ping, sizeof(ping), 3);
}

/* Authenticated, then PINGs at full speed, never reading (findings 3, 4). */
static void ping_flood_main(void)
{
	uint8_t ping[20] = {FED_TUNNEL_PING};

	fed_tunnel_put_u32(ping + 8, 8);
	flood(raw_peer(), ping, sizeof(ping), 3);
}

/* Authenticated, then FIN for streams never opened, never reading: each
 * would be answered with an RST (finding 3). */
static void refused_stream_flood_main(void)
{
	uint8_t fin[12] = {FED_TUNNEL_FIN};

	fed_tunnel_put_u32(fin + 4, 999999);
	flood(raw_peer(), fin, sizeof(fin), 3);
}

/* Waits for the host's 3 OPENs, then grants connection credit (finding
 * 1: the host's streams close themselves from `writable`), then checks
 * the host still answers a PING. */
static void window_main(void)
{
	SSL *ssl = raw_peer();
	uint8_t inc[4], ping[8] = {2};

	if (read_frames(ssl, FED_TUNNEL_OPEN, UINT32_MAX, 3) != 3)
		_exit(3);
	fed_tunnel_put_u32(inc, 4096);
	put_frame(ssl, FED_TUNNEL_WINDOW, 0, inc, 4, 4);
	put_frame(ssl, FED_TUNNEL_PING, 0, ping, 8, 8);
	_exit(read_frames(ssl, FED_TUNNEL_PONG, 0, 1) == 1 ? 0 : 4);
}

/* DATA for a stream the host opened and closed again: ignored, but the
 * connection window must still be credited back (finding 20). */
static void ignored_data_main(void)
{
	static uint8_t data[FED_TUNNEL_MAX_FRAME];
	SSL *ssl = raw_peer();

	if (read_frames(ssl, FED_TUNNEL_RST, 1, 1) != 1) /* the host closed stream 1 */
		_exit(3);
	/* a quarter of the connection window and a bit: a WINDOW is due */
	for (int i = 0; i < FED_TUNNEL_CONN_WINDOW / 4 / FED_TUNNEL_MAX_FRAME + 1; i++)
		put_frame(ssl, FED_TUNNEL_DATA, 1, data, sizeof(data), sizeof(data));
	_exit(read_frames(ssl, FED_TUNNEL_WINDOW, 0, 1) == 1 ? 0 : 4);
}

static int wclosed;

static void close_self(struct fed_tunnel_stream *s, void *ud)
{
	wclosed++;
	fed_tunnel_stream_close(s, FED_TUNNEL_RST_CANCEL);
}

static const struct fed_tunnel_stream_cb closing_cb = {.writable = close_self};

static void test_window_closes_streams(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_tunnel_stream *s;
	pid_t pid = spawn("window");

	wclosed = 0;
	CHECK(run_until(&h_ready, 5));
	for (int i = 0; i < 3; i++)
		CHECK_INT(fed_tunnel_stream_open(hconn, FED_TUNNEL_TARGET_KUBE_APISERVER,
		                                 &closing_cb, NULL, &s, &err),
		          0);
	CHECK_INT(reap(pid), 0); /* the PONG came after the WINDOW */
	CHECK_INT(wclosed, 3);
	CHECK(run_until(&h_closed, 5));
}

/* The host opens stream 1 and closes it again at once. */
static bool open_and_close_one(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_tunnel_stream *s;

	if (fed_tunnel_stream_open(hconn, FED_TUNNEL_TARGET_KUBE_APISERVER, &hscb, NULL, &s, &err) <
	    0)
		return false;
	fed_tunnel_stream_close(s, FED_TUNNEL_RST_CANCEL);
	return true;
}

static void test_ignored_data_credit(void)
{
	pid_t pid = spawn("ignored-data");

	CHECK(run_until(&h_ready, 5));
	CHECK(open_and_close_one());
	CHECK_INT(reap(pid), 0); /* a connection WINDOW came without another frame */
	CHECK(run_until(&h_closed, 5));
}

/* Run the loop for `seconds` with a 10 ms ticker beside it: returns how
 * many times the ticker fired; *grew is the RSS growth in KiB. */
static int tick_count;

static void tick(struct ev_loop *l, ev_timer *w, int revents)
{
	tick_count++;
}

/* RSS is sampled from a thread: a starved loop samples nothing. */
static volatile long rss_peak;
static volatile int sampling;

static void *sampler(void *arg)
{
	while (sampling) {
		long now = rss_kb();

		if (now > rss_peak)
			rss_peak = now;
		usleep(5000);
	}
	return NULL;
}

static int run_with_ticker(double seconds, long *grew)
{
	ev_timer t;
	pthread_t th;
	long before = rss_kb();
	double end = ev_time() + seconds;

	tick_count = 0;
	rss_peak = before;
	sampling = 1;
	pthread_create(&th, NULL, sampler, NULL);
	ev_timer_init(&t, tick, 0.01, 0.01);
	ev_timer_start(loop, &t);
	while (ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
	sampling = 0;
	pthread_join(th, NULL);
	*grew = rss_peak - before;
	return tick_count;
}

static void test_refused_auth_flood(void)
{
	pid_t pid = spawn("refused-flood");
	long grew;

	h_closed = 0;
	run_with_ticker(1.5, &grew);
	/* closed soon after the refusal, although the peer never stops */
	CHECK_INT(h_closed, 1);
	CHECK_HAS(h_closed_why, "GOAWAY");
	CHECK_INT(h_ready, 0);
	CHECK(grew < 16 * 1024);
	fprintf(stderr, "  refused AUTH + flood: RSS +%ld KiB\n", grew);
	kill(pid, SIGKILL);
	reap(pid);
}

static void test_ping_flood(void)
{
	pid_t pid = spawn("ping-flood");
	long grew;
	int ticks;

	CHECK(run_until(&h_ready, 5));
	ticks = run_with_ticker(2, &grew);
	fprintf(stderr, "  PING flood: %d ticks of 10 ms in 2 s, RSS +%ld KiB\n", ticks, grew);
	CHECK(ticks >= 100); /* timers keep their turn */
	CHECK(grew < 16 * 1024);
	kill(pid, SIGKILL);
	reap(pid);
	run_until(&h_closed, 5);
}

static void test_refused_stream_flood(void)
{
	long grew;
	int ticks;
	pid_t pid;

	h_refused = 0;
	pid = spawn("refused-stream-flood"); /* resets h_ready and h_closed */
	CHECK(run_until(&h_ready, 5));
	ticks = run_with_ticker(2, &grew);
	fprintf(stderr, "  unknown-stream flood: %d refused, %d ticks, RSS +%ld KiB, closed: %s\n",
	        h_refused, ticks, grew, h_closed ? h_closed_why : "no");
	CHECK_INT(h_closed, 1);
	CHECK_HAS(h_closed_why, "unknown streams");
	CHECK(ticks >= 100);
	CHECK(grew < 16 * 1024);
	kill(pid, SIGKILL);
	reap(pid);
}

/* With no limit on refusals, the RSTs owed to a peer that never reads
 * fill the output queue: reading stops there (the peer then goes silent
 * for us, and the heartbeat ends the connection). */
static void test_queue_cap(void)
{
	struct fed_tunnel_conn_opts saved = hopts;
	long grew;
	pid_t pid;

	hopts.refused_rate = -1;
	hopts.max_queued = 256 << 10;
	pid = spawn("refused-stream-flood");
	CHECK(run_until(&h_ready, 5));
	run_with_ticker(2, &grew);
	fprintf(stderr, "  RSTs never read: %d refused, RSS +%ld KiB, closed: %s\n", h_refused,
	        grew, h_closed ? h_closed_why : "no");
	CHECK(grew < 16 * 1024);
	CHECK_INT(h_closed, 1);
	CHECK_HAS(h_closed_why, "no heartbeat");
	kill(pid, SIGKILL);
	reap(pid);
	hopts = saved;
}

/* Near the end of the stream ids the host renews the connection: GOAWAY,
 * and the agent sees it (it dials again in fed-agent) (finding 19). */
static void test_stream_ids_renewal(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_tunnel_stream *s;
	pid_t pid = spawn("good-token");

	CHECK(run_until(&h_ready, 5));
	CHECK(open_and_close_one());
	fed_tunnel_conn_proto(hconn)->next_id = 0x7ffffffdu - FED_TUNNEL_IDS_RESERVE;
	CHECK_INT(
	    fed_tunnel_stream_open(hconn, FED_TUNNEL_TARGET_KUBE_APISERVER, &hscb, NULL, &s, &err),
	    FED_EUNAVAILABLE);
	CHECK_HAS(err.msg, "renewing the connection");
	CHECK_INT(reap(pid), 7); /* the agent's connection ended with GOAWAY */
	CHECK(run_until(&h_closed, 5));
	CHECK_HAS(h_closed_why, "GOAWAY");
}

static pid_t spawn(const char *mode)
{
	pid_t pid;

	h_ready = h_closed = h_heartbeats = h_meta = 0;
	pid = fork();

	if (pid == 0) {
		close(listen_fd);
		if (!strcmp(mode, "garbage"))
			garbage_main();
		if (!strcmp(mode, "pending-ping"))
			pending_ping_main();
		if (!strcmp(mode, "bogus-stream"))
			bogus_stream_main();
		if (!strcmp(mode, "refused-flood"))
			refused_flood_main();
		if (!strcmp(mode, "ping-flood"))
			ping_flood_main();
		if (!strcmp(mode, "refused-stream-flood"))
			refused_stream_flood_main();
		if (!strcmp(mode, "window"))
			window_main();
		if (!strcmp(mode, "ignored-data"))
			ignored_data_main();
		agent_main(mode);
	}
	return pid;
}

static int reap(pid_t pid)
{
	int st = 0;

	for (int i = 0; i < 3000; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static void streams_and_liveness(const char *mode)
{
	struct fed_error err = FED_ERROR_INIT;
	struct hstream a = {0}, b = {0}, r = {0};
	static uint8_t chunk[100000];
	size_t sent_b = 0;
	pid_t pid = spawn(mode);
	double t0;

	CHECK(run_until(&h_ready, 5));
	CHECK_STR(h_cluster, "east");
	CHECK(run_until(&h_meta, 5));
	CHECK_HAS(h_meta_json, "v1.31.0");

	/* rotation on the live connection: the agent gets the new credential */
	h_meta = 0;
	CHECK_INT(fed_tunnel_conn_send_credential(hconn, "cred-east-2"), 0);
	CHECK(run_until(&h_meta, 5));
	CHECK_STR(h_meta_json, "{\"rotated\":\"cred-east-2\"}");
	CHECK_INT(fed_tunnel_conn_send_credential(hconn, ""), FED_EINVAL);
	CHECK_INT(h_closed, 0);

	/* a target other than the apiserver is refused by the agent */
	CHECK_INT(fed_tunnel_stream_open(hconn, 7, &hscb, &r, &r.s, &err), 0);
	CHECK(run_until(&r.reset, 5));
	CHECK_INT(r.code, FED_TUNNEL_RST_REFUSED);

	/* stream a: the agent never reads it, so its credit runs out ... */
	CHECK_INT(
	    fed_tunnel_stream_open(hconn, FED_TUNNEL_TARGET_KUBE_APISERVER, &hscb, &a, &a.s, &err),
	    0);
	CHECK(run_until(&a.opened, 5));
	CHECK_INT(fed_tunnel_stream_send(a.s, "SLOW", 4), 4);
	memset(chunk, 'a', sizeof(chunk));
	while (fed_tunnel_stream_allowance(a.s))
		fed_tunnel_stream_send(a.s, chunk, sizeof(chunk));
	/* ... while stream b moves 2 MB through the echo */
	CHECK_INT(
	    fed_tunnel_stream_open(hconn, FED_TUNNEL_TARGET_KUBE_APISERVER, &hscb, &b, &b.s, &err),
	    0);
	memset(chunk, 'b', sizeof(chunk));
	t0 = ev_time();
	while (b.got < 2000000 && ev_time() - t0 < 10) {
		if (sent_b < 2000000)
			sent_b += fed_tunnel_stream_send(
			    b.s, chunk,
			    2000000 - sent_b < sizeof(chunk) ? 2000000 - sent_b : sizeof(chunk));
		ev_run(loop, EVRUN_NOWAIT);
	}
	CHECK_INT(b.got, 2000000);
	CHECK_INT(a.got, 0);
	CHECK_INT(fed_tunnel_stream_allowance(a.s), 0);
	CHECK_INT(a.reset + b.reset, 0);
	CHECK(run_until(&h_heartbeats, 2));

	/* freeze the agent: three missed heartbeats kill the connection and
	 * reset both streams at once */
	kill(pid, SIGSTOP);
	t0 = ev_time();
	CHECK(run_until(&h_closed, 5));
	CHECK(ev_time() - t0 < 1.5);
	CHECK_HAS(h_closed_why, "no heartbeat");
	CHECK_INT(a.reset, 1);
	CHECK_INT(b.reset, 1);
	CHECK_INT(a.code, FED_TUNNEL_RST_CONN_LOST);
	kill(pid, SIGKILL);
	kill(pid, SIGCONT);
	reap(pid);
}

static void test_streams_and_liveness(void)
{
	streams_and_liveness("good-token");
}

static void test_tls_in_tls(void)
{
	pid_t relay = fork();

	if (relay == 0) {
		close(listen_fd);
		relay_main();
	}
	streams_and_liveness("via-relay:good-token");
	kill(relay, SIGKILL);
	waitpid(relay, NULL, 0);
}

static void test_bad_token(void)
{
	pid_t pid = spawn("wrong-token");

	CHECK_INT(reap(pid), 7); /* the agent saw GOAWAY */
	CHECK_INT(h_ready, 0);
	CHECK(run_until(&h_closed, 5));
	CHECK_HAS(h_closed_why, "GOAWAY");
}

static void test_malformed_peer(void)
{
	pid_t pid = spawn("garbage");

	CHECK(run_until(&h_closed, 5));
	CHECK_INT(h_ready, 1);
	CHECK_HAS(h_closed_why, "malformed frame");
	CHECK_HAS(h_closed_why, "exceeds the limit");
	CHECK_INT(reap(pid), 0);
	/* and the host still serves the next agent */
	pid = spawn("good-token");
	CHECK(run_until(&h_ready, 5));
	kill(pid, SIGKILL);
	reap(pid);
	CHECK(run_until(&h_closed, 5));
}

static void test_unknown_stream(void)
{
	pid_t pid;

	h_refused = 0;
	h_refused_reason[0] = '\0';
	pid = spawn("bogus-stream");
	CHECK_INT(reap(pid), 0); /* both RSTs and the PONG reached the peer */
	CHECK_INT(h_ready, 1);
	CHECK_INT(h_refused, 2);
	CHECK_STR(h_refused_reason, "unknown_stream");
	CHECK_INT(h_closed, 0);         /* refused frames do not end the connection */
	CHECK(run_until(&h_closed, 5)); /* the peer's exit does */
}

/* Cluster connect streams (FED_TUNNEL_TARGET_CONNECT) only reach an agent
 * that announced them in its HELLO: one that predates them would strip the
 * impersonation and run the request as itself. They count against the
 * same stream limit as every other stream. */
static void test_connect_feature(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct hstream a = {0}, b = {0}, c = {0};
	pid_t pid = spawn("good-token");

	/* an agent that announced nothing: no connect stream leaves the host */
	CHECK(run_until(&h_ready, 5));
	CHECK_INT(fed_tunnel_conn_peer_features(hconn), 0);
	CHECK_INT(fed_tunnel_stream_open(hconn, FED_TUNNEL_TARGET_CONNECT, &hscb, &a, &a.s, &err),
	          FED_EINVAL);
	CHECK_HAS(err.msg, "does not serve cluster connect streams");
	CHECK_INT(fed_tunnel_conn_nstreams(hconn), 0);
	kill(pid, SIGKILL);
	reap(pid);
	CHECK(run_until(&h_closed, 5));

	/* one that did: its connect streams open and carry bytes */
	pid = spawn("connect:good-token");
	CHECK(run_until(&h_ready, 5));
	CHECK_INT(fed_tunnel_conn_peer_features(hconn), FED_TUNNEL_FEATURE_CONNECT);
	CHECK_INT(fed_tunnel_stream_open(hconn, FED_TUNNEL_TARGET_CONNECT, &hscb, &a, &a.s, &err),
	          0);
	CHECK(run_until(&a.opened, 5));
	CHECK_INT(fed_tunnel_stream_send(a.s, "connect", 7), 7);
	for (double t0 = ev_time(); a.got < 7 && ev_time() - t0 < 5;) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	CHECK_STR(a.first, "connect");
	/* the same stream limit as any stream: one apiserver stream and this
	 * one fill a limit of 2, and a third of either kind is refused */
	fed_tunnel_conn_proto(hconn)->max_streams = 2;
	CHECK_INT(
	    fed_tunnel_stream_open(hconn, FED_TUNNEL_TARGET_KUBE_APISERVER, &hscb, &b, &b.s, &err),
	    0);
	CHECK_INT(fed_tunnel_stream_open(hconn, FED_TUNNEL_TARGET_CONNECT, &hscb, &c, &c.s, &err),
	          FED_EUNAVAILABLE);
	CHECK_INT(
	    fed_tunnel_stream_open(hconn, FED_TUNNEL_TARGET_KUBE_APISERVER, &hscb, &c, &c.s, &err),
	    FED_EUNAVAILABLE);
	CHECK(run_until(&b.opened, 5));
	CHECK_INT(a.reset + b.reset, 0);
	kill(pid, SIGKILL);
	reap(pid);
	CHECK(run_until(&h_closed, 5));
	CHECK_INT(a.reset, 1);
	CHECK_INT(b.reset, 1);
}

/* Deferred AUTH (finding 8: the host answers once the token's removal
 * is durable): nothing is answered or read meanwhile, then AUTH_OK. */
static void test_deferred_auth(void)
{
	pid_t pid;
	double end;

	h_pending = 0;
	pid = spawn("slow-token");
	CHECK(run_until(&h_pending, 5));
	CHECK(hconn && fed_tunnel_conn_auth_pending(hconn));
	end = ev_time() + 0.5; /* several heartbeats of the agent */
	while (ev_time() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	CHECK_INT(h_ready, 0);
	CHECK_INT(h_closed, 0);
	fed_tunnel_conn_auth_complete(hconn, 0, strdup("east"), strdup("cred-east"), NULL);
	CHECK(run_until(&h_ready, 5));
	CHECK(!fed_tunnel_conn_auth_pending(hconn));
	CHECK(run_until(&h_meta, 5)); /* a_ready checked the credential */
	kill(pid, SIGKILL);
	reap(pid);
	CHECK(run_until(&h_closed, 5));
}

/* A frame sent right behind AUTH waits for the verdict, then is served. */
static void test_deferred_auth_holds_frames(void)
{
	pid_t pid;

	h_pending = 0;
	pid = spawn("pending-ping");
	CHECK(run_until(&h_pending, 5));
	for (int i = 0; i < 200; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	CHECK_INT(h_closed, 0); /* the PING was not read before authentication */
	fed_tunnel_conn_auth_complete(hconn, 0, strdup("east"), NULL, NULL);
	CHECK_INT(reap(pid), 0);
	CHECK_INT(h_ready, 1);
	CHECK(run_until(&h_closed, 5));
}

/* Refused later as retryable: GOAWAY, and the agent is told to try again
 * (GOAWAY_SHUTDOWN, so an agent with a credential keeps it). */
static void test_deferred_auth_retryable(void)
{
	pid_t pid;

	h_pending = 0;
	pid = spawn("slow-token");
	CHECK(run_until(&h_pending, 5));
	fed_tunnel_conn_auth_complete(hconn, FED_EUNAVAILABLE, NULL, NULL,
	                              "bootstrap token not spent yet");
	CHECK_INT(reap(pid), 7);
	CHECK_INT(h_ready, 0);
	CHECK(run_until(&h_closed, 5));
}

/* Never decided: the handshake timeout still closes the connection. */
static void test_deferred_auth_timeout(void)
{
	pid_t pid;

	hopts.handshake_timeout = 1;
	h_pending = 0;
	pid = spawn("slow-token");
	CHECK(run_until(&h_pending, 5));
	CHECK(run_until(&h_closed, 5));
	CHECK_HAS(h_closed_why, "authentication within");
	CHECK_INT(h_ready, 0);
	hopts.handshake_timeout = 0;
	kill(pid, SIGKILL);
	reap(pid);
}

int main(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	ev_io lio;

	signal(SIGPIPE, SIG_IGN);
	fed_log_setup(getenv("TLOG") ? FED_LOG_DEBUG : FED_LOG_ERROR, false);
	loop = EV_DEFAULT;
	if (fed_tunnel_tls_selfsigned("fed-tunnel", "IP:127.0.0.1", 1, &cert_pem, &key_pem, &err) <
	        0 ||
	    fed_tunnel_tls_server_ctx(cert_pem, key_pem, &server_ctx, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(listen_fd, 8) < 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&sa, &len) < 0)
		return 1;
	port = ntohs(sa.sin_port);
	len = sizeof(sa);
	sa.sin_port = 0;
	relay_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(relay_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(relay_fd, 8) < 0 ||
	    getsockname(relay_fd, (struct sockaddr *)&sa, &len) < 0)
		return 1;
	relay_port = ntohs(sa.sin_port);
	ev_io_init(&lio, accept_cb, listen_fd, EV_READ);
	ev_io_start(loop, &lio);
	RUN(test_streams_and_liveness);
	RUN(test_tls_in_tls);
	RUN(test_bad_token);
	RUN(test_malformed_peer);
	RUN(test_unknown_stream);
	RUN(test_window_closes_streams);
	RUN(test_ignored_data_credit);
	RUN(test_refused_auth_flood);
	RUN(test_ping_flood);
	RUN(test_refused_stream_flood);
	RUN(test_queue_cap);
	RUN(test_stream_ids_renewal);
	RUN(test_connect_feature);
	RUN(test_deferred_auth);
	RUN(test_deferred_auth_holds_frames);
	RUN(test_deferred_auth_retryable);
	RUN(test_deferred_auth_timeout);
	fed_tunnel_conn_free(hconn);
	SSL_CTX_free(server_ctx);
	free(cert_pem);
	free(key_pem);
	close(listen_fd);
	close(relay_fd);
	return CHECK_EXIT();
}
