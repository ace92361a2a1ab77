/* The kube client's bounds against a hostile or frozen server: a response
 * body that never ends is cut at the cap (and a probe's at the far smaller
 * probe cap), a watch whose server goes silent ends at the idle timeout, a
 * watch that trickles forever ends at its deadline, and a callback run from
 * the queue pump may cancel the next queued call. The server is a thread
 * with plain blocking sockets on 127.0.0.1, speaking just enough HTTP/1.1. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "check.h"
#include "fed/informer.h"
#include "fed/kube.h"

#define MiB (1024u * 1024u)

enum mode {
	ENDLESS,       /* 200 with a body that goes on until `limit` bytes */
	SILENT_WATCH,  /* one watch event, then nothing, connection kept open */
	TRICKLE_WATCH, /* a blank line every 100 ms, forever */
	INFORMER,      /* an empty LIST, then watches as SILENT_WATCH */
};

struct srv {
	int lfd, port;
	enum mode mode;
	size_t limit;
	atomic_size_t sent;
	atomic_bool stop;
	pthread_t th;
};

static bool send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* True once the client closed its end (or the test ends). */
static bool peer_gone(struct srv *s, int fd, int wait_ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	char buf[4096];

	if (atomic_load(&s->stop))
		return true;
	if (poll(&p, 1, wait_ms) <= 0)
		return false;
	return recv(fd, buf, sizeof(buf), 0) <= 0;
}

static void serve(struct srv *s, int fd)
{
	static const char endless_head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	                                   "Connection: close\r\n\r\n";
	static const char watch_head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	                                 "Transfer-Encoding: chunked\r\n\r\n";
	static const char event[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	                            "\"resourceVersion\":\"1\"}}}\n";
	char head[8192], chunk[128];
	size_t got = 0;
	ssize_t r;

	/* the request head (no body on GET) */
	while (got < sizeof(head) - 1 && !memmem(head, got, "\r\n\r\n", 4)) {
		r = recv(fd, head + got, sizeof(head) - 1 - got, 0);
		if (r <= 0)
			return;
		got += (size_t)r;
	}
	if (s->mode == INFORMER && !memmem(head, got, "watch=true", 10)) {
		static const char list[] =
		    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		    "Content-Length: 47\r\nConnection: close\r\n\r\n"
		    "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[]}";
		send_all(fd, list, sizeof(list) - 1);
		return;
	}
	if (s->mode == ENDLESS) {
		char *body = malloc(64 * 1024);
		if (!body || !send_all(fd, endless_head, sizeof(endless_head) - 1)) {
			free(body);
			return;
		}
		memset(body, ' ', 64 * 1024);
		body[0] = '[';
		while (!atomic_load(&s->stop) && atomic_load(&s->sent) < s->limit &&
		       send_all(fd, body, 64 * 1024))
			atomic_fetch_add(&s->sent, 64 * 1024);
		free(body);
		return;
	}
	if (!send_all(fd, watch_head, sizeof(watch_head) - 1))
		return;
	snprintf(chunk, sizeof(chunk), "%zx\r\n%s\r\n", sizeof(event) - 1, event);
	if (!send_all(fd, chunk, strlen(chunk)))
		return;
	if (s->mode != TRICKLE_WATCH) {
		while (!peer_gone(s, fd, 100))
			;
		return;
	}
	/* TRICKLE_WATCH: enough bytes to never look idle */
	while (!peer_gone(s, fd, 100) && send_all(fd, "1\r\n\n\r\n", 6))
		;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd p = {s->lfd, POLLIN, 0};

	while (!atomic_load(&s->stop)) {
		int fd;
		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		serve(s, fd);
		close(fd);
	}
	return NULL;
}

static int srv_start(struct srv *s, enum mode mode, size_t limit)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1, small = 64 * 1024;

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->limit = limit;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->lfd < 0)
		return -1;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* keep what the kernel buffers on our side small: "sent" stays close
	 * to what the client has read */
	setsockopt(s->lfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(s->lfd, 8) ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &alen))
		return -1;
	s->port = ntohs(a.sin_port);
	return pthread_create(&s->th, NULL, srv_main, s);
}

static void srv_stop(struct srv *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->th, NULL);
	close(s->lfd);
}

static struct fed_kube_client *client_for(struct ev_loop *loop, int port, const char *token_file)
{
	struct fed_rest_config cfg;
	struct fed_kube_client *c = NULL;
	struct fed_error err = FED_ERROR_INIT;
	char url[64];

	fed_rest_config_init(&cfg);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	cfg.server = url;
	cfg.token_file = (char *)token_file;
	if (fed_kube_client_new(&c, loop, &cfg, "hostile", &err))
		fprintf(stderr, "  client: %s\n", err.msg);
	return c;
}

/* ---- bodies ---------------------------------------------------------- */

struct result {
	bool done;
	struct fed_error err;
	size_t body_len;
	int too_large; /* hook calls */
};

static void on_resp(struct fed_kube_response *resp, void *ud)
{
	struct result *r = ud;

	r->done = true;
	r->err = resp->err;
	r->body_len = resp->body_len;
}

static void on_too_large(const char *client, void *ud)
{
	struct result *r = ud;

	if (!strcmp(client, "hostile"))
		r->too_large++;
}

static void endless_body(bool probe)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct fed_kube_client *c = NULL;
	struct fed_kube_limits l;
	struct fed_kube_request req;
	struct fed_error err = FED_ERROR_INIT;
	struct result r;
	struct srv s;
	/* the list cap is large enough that the kernel's socket buffers (up to
	 * tens of MiB on loopback) are small beside it */
	size_t cap = probe ? 1 * MiB : 64 * MiB, slack = 40 * MiB;
	char want[96];

	memset(&r, 0, sizeof(r));
	/* the server gives up at 4x the list cap: the old code buffered it all */
	CHECK(srv_start(&s, ENDLESS, 4 * 64 * MiB) == 0);
	c = client_for(loop, s.port, NULL);
	CHECK(c != NULL);
	memset(&l, 0, sizeof(l));
	l.max_response_bytes = 64 * MiB;
	l.max_response_flag = "--max-response-bytes";
	l.max_probe_bytes = 1 * MiB;
	l.max_probe_flag = "--max-probe-response-bytes";
	l.on_too_large = on_too_large;
	l.ud = &r;
	fed_kube_client_set_limits(c, &l);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = probe ? "/readyz" : "/api/v1/configmaps";
	req.timeout_ms = 30000;
	req.max_retries = 2; /* too large is not retried: the next answer would be too */
	req.probe = probe;
	CHECK(fed_kube_request(c, &req, on_resp, &r, NULL, &err) == 0);
	CHECK(fed_kube_wait(loop, &r.done, 60) == 0);
	srv_stop(&s);
	fed_kube_client_free(c);
	ev_loop_destroy(loop);
	fprintf(stderr, "  sent %zu bytes, body %zu, error: %s\n", (size_t)atomic_load(&s.sent),
	        r.body_len, r.err.msg);
	CHECK(r.err.code != 0);
	snprintf(want, sizeof(want), "larger than %zu bytes", cap);
	CHECK_HAS(r.err.msg, want);
	CHECK_HAS(r.err.msg, probe ? "--max-probe-response-bytes" : "--max-response-bytes");
	CHECK(r.body_len <= cap);
	CHECK(atomic_load(&s.sent) < cap + slack);
	CHECK_INT(r.too_large, 1);
}

static void test_endless_list_body(void)
{
	endless_body(false);
}

static void test_endless_probe_body(void)
{
	endless_body(true);
}

/* ---- watches --------------------------------------------------------- */

struct wres {
	bool done;
	struct fed_error err;
	int events;
	ev_tstamp ended;
};

static void w_event(enum fed_watch_type type, cJSON *obj, void *ud)
{
	((struct wres *)ud)->events++;
}

static void w_done(const struct fed_error *err, void *ud)
{
	struct wres *r = ud;

	r->done = true;
	r->err = *err;
	r->ended = ev_time();
}

static void watch_against(enum mode mode, double idle_s, double margin_s, int timeout_s,
                          struct wres *r, ev_tstamp *started)
{
	static const struct fed_kube_resource cm = {"", "v1", "configmaps", true};
	struct fed_kube_ref ref = {&cm, "default", NULL, NULL};
	struct ev_loop *loop = ev_loop_new(0);
	struct fed_kube_client *c = NULL;
	struct fed_kube_watch *w = NULL;
	struct fed_kube_list_opts o;
	struct fed_kube_limits l;
	struct fed_error err = FED_ERROR_INIT;
	struct srv s;

	memset(r, 0, sizeof(*r));
	if (srv_start(&s, mode, 0))
		return;
	c = client_for(loop, s.port, NULL);
	if (c) {
		memset(&l, 0, sizeof(l));
		l.watch_idle_s = idle_s;
		l.watch_deadline_margin_s = margin_s;
		fed_kube_client_set_limits(c, &l);
		memset(&o, 0, sizeof(o));
		o.allow_bookmarks = true;
		o.timeout_seconds = timeout_s;
		*started = ev_time();
		if (!fed_kube_watch(c, &ref, &o, w_event, w_done, r, &w, &err))
			fed_kube_wait(loop, &r->done, 20);
		if (!r->done)
			fed_kube_watch_cancel(w);
	}
	srv_stop(&s);
	fed_kube_client_free(c);
	ev_loop_destroy(loop);
}

/* A server that stops talking (frozen, half-open) ends the watch at the
 * idle timeout, with an error the informer answers by watching again. */
static void test_silent_watch_idles_out(void)
{
	struct wres r;
	ev_tstamp t0 = 0;

	/* server-side timeout 600 s: only the idle timeout can end it */
	watch_against(SILENT_WATCH, 2, 30, 600, &r, &t0);
	fprintf(stderr, "  done %d after %.1fs: %s\n", r.done, r.done ? r.ended - t0 : 0,
	        r.err.msg);
	CHECK(r.done);
	CHECK_INT(r.events, 1);
	CHECK_INT(r.err.code, FED_ETIMEOUT);
	/* curl measures speed over a few seconds: allow that on top */
	CHECK(r.ended - t0 >= 1.5 && r.ended - t0 < 12);
}

/* A server that keeps sending bytes but never ends the watch it was asked
 * to end after timeoutSeconds is cut at that deadline plus the margin. */
static void test_trickling_watch_hits_deadline(void)
{
	struct wres r;
	ev_tstamp t0 = 0;

	watch_against(TRICKLE_WATCH, 2, 1, 1, &r, &t0);
	fprintf(stderr, "  done %d after %.1fs: %s\n", r.done, r.done ? r.ended - t0 : 0,
	        r.err.msg);
	CHECK(r.done);
	CHECK_INT(r.err.code, FED_ETIMEOUT);
	CHECK(r.ended - t0 >= 1.5 && r.ended - t0 < 8);
}

/* An informer whose watch goes silent watches again, from where it was,
 * without a new LIST. */
static void test_informer_rewatches_after_idle(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct fed_kube_client *c = NULL;
	struct fed_informer *inf = NULL;
	struct fed_informer_opts o;
	struct fed_informer_stats st;
	struct fed_kube_limits l;
	struct fed_error err = FED_ERROR_INIT;
	struct srv s;
	ev_tstamp end;

	memset(&st, 0, sizeof(st));
	CHECK(srv_start(&s, INFORMER, 0) == 0);
	c = client_for(loop, s.port, NULL);
	if (c) {
		memset(&l, 0, sizeof(l));
		l.watch_idle_s = 1;
		fed_kube_client_set_limits(c, &l);
		memset(&o, 0, sizeof(o));
		o.resource = (struct fed_kube_resource){"", "v1", "configmaps", true};
		o.watch_timeout_s = 600;
		if (!fed_informer_new(&inf, c, &o, &err)) {
			fed_informer_start(inf);
			/* two idle timeouts: each about 1 s plus curl's few seconds */
			for (end = ev_time() + 20; ev_time() < end && st.timeouts < 2;
			     fed_informer_get_stats(inf, &st))
				ev_run(loop, EVRUN_ONCE);
		}
	}
	fed_informer_free(inf);
	srv_stop(&s);
	fed_kube_client_free(c);
	ev_loop_destroy(loop);
	fprintf(stderr, "  lists %lu watches %lu timeouts %lu errors %lu\n", st.lists, st.watches,
	        st.timeouts, st.errors);
	CHECK(st.timeouts >= 2);
	CHECK_INT(st.lists, 1);
	CHECK(st.watches >= 3);
	CHECK_INT(st.errors, 0);
}

/* ---- finding 1's pattern: a callback run from the pump ----------------- */

struct pump_case {
	struct fed_kube_call *b;
	int a_done, b_done, c_done;
	bool all;
};

static void pump_c(struct fed_kube_response *resp, void *ud)
{
	struct pump_case *p = ud;

	p->c_done++;
	p->all = true;
}

static void pump_b(struct fed_kube_response *resp, void *ud)
{
	((struct pump_case *)ud)->b_done++;
}

/* A's credential cannot be read, so A completes inside the pump, and its
 * callback cancels B, the call the pump would start next. */
static void pump_a(struct fed_kube_response *resp, void *ud)
{
	struct pump_case *p = ud;

	p->a_done++;
	fed_kube_call_cancel(p->b);
	p->b = NULL;
}

static void test_pump_callback_cancels_next(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct fed_kube_client *c = client_for(loop, 9, "/nonexistent/fed-test-token");
	struct fed_kube_request req;
	struct fed_error err = FED_ERROR_INIT;
	struct pump_case p;

	memset(&p, 0, sizeof(p));
	CHECK(c != NULL);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = "/version";
	req.max_retries = 0;
	CHECK(fed_kube_request(c, &req, pump_a, &p, NULL, &err) == 0);
	CHECK(fed_kube_request(c, &req, pump_b, &p, &p.b, &err) == 0);
	CHECK(fed_kube_request(c, &req, pump_c, &p, NULL, &err) == 0);
	CHECK(fed_kube_wait(loop, &p.all, 10) == 0);
	fed_kube_client_free(c);
	ev_loop_destroy(loop);
	CHECK_INT(p.a_done, 1);
	CHECK_INT(p.b_done, 0);
	CHECK_INT(p.c_done, 1);
}

int main(void)
{
	RUN(test_endless_list_body);
	RUN(test_endless_probe_body);
	RUN(test_silent_watch_idles_out);
	RUN(test_trickling_watch_hits_deadline);
	RUN(test_informer_rewatches_after_idle);
	RUN(test_pump_callback_cancels_next);
	return CHECK_EXIT();
}
