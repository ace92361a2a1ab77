/* The operations HTTP server, over real TCP on 127.0.0.1.
 *
 * The server runs on a libev loop in this process. Each client scenario
 * runs in a forked child with plain blocking sockets (so it can trickle
 * bytes, pipeline, reset) and writes a transcript of what it saw to a
 * pipe; the parent runs the loop until the pipe closes and compares the
 * transcript. The request parser is tested directly first. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <ev.h>

#include "check.h"
#include "fed/http_server.h"
#include "fed/metrics.h"

/* ---- parser ------------------------------------------------------------ */

static int parse(const char *s, struct fed_http_request *req)
{
	return fed_http_parse_request(s, strlen(s), req);
}

#define CHECK_SPAN(p, n, want)                                                                     \
	do {                                                                                       \
		CHECK_INT((n), strlen(want));                                                      \
		CHECK(!memcmp((p), (want), (n)));                                                  \
	} while (0)

static void test_parse_valid(void)
{
	static const char get[] = "GET /metrics?name[]=a HTTP/1.1\r\n"
	                          "Host: localhost:8080\r\n"
	                          "User-Agent: \t curl/8.0 \r\n"
	                          "Accept: */*\r\n"
	                          "\r\n";
	static const char post[] = "\r\nPOST /x HTTP/1.0\n"
	                           "Content-Length: 5\n"
	                           "content-length: 5\n"
	                           "Connection: Keep-Alive\n"
	                           "\n"
	                           "helloGET / HTTP/1.1\r\n";
	struct fed_http_request req;
	const char *v;
	size_t n = 0;

	CHECK_INT(parse(get, &req), FED_HTTP_PARSE_COMPLETE);
	CHECK_SPAN(req.method, req.method_len, "GET");
	CHECK_SPAN(req.target, req.target_len, "/metrics?name[]=a");
	CHECK_SPAN(req.path, req.path_len, "/metrics");
	CHECK_SPAN(req.query, req.query_len, "name[]=a");
	CHECK_INT(req.minor_version, 1);
	CHECK(req.keep_alive);
	CHECK_INT(req.content_length, 0);
	CHECK(req.body == NULL);
	CHECK_INT(req.header_len, strlen(get));
	CHECK_INT(req.nheaders, 3);
	CHECK_SPAN(req.headers[0].name, req.headers[0].name_len, "Host");
	CHECK_SPAN(req.headers[0].value, req.headers[0].value_len, "localhost:8080");
	v = fed_http_request_header(&req, "user-agent", &n);
	CHECK(v != NULL);
	CHECK_SPAN(v, n, "curl/8.0");
	CHECK(fed_http_request_header(&req, "Cookie", &n) == NULL);

	/* leading empty line, bare LF, HTTP/1.0 keep-alive, a body, and the
	 * next pipelined request left alone */
	CHECK_INT(parse(post, &req), FED_HTTP_PARSE_COMPLETE);
	CHECK_SPAN(req.method, req.method_len, "POST");
	CHECK_SPAN(req.path, req.path_len, "/x");
	CHECK(req.query == NULL);
	CHECK_INT(req.minor_version, 0);
	CHECK(req.keep_alive);
	CHECK_INT(req.content_length, 5);
	CHECK_INT(req.header_len, strlen(post) - strlen("helloGET / HTTP/1.1\r\n"));
	CHECK_SPAN(req.body, req.content_length, "hello");

	/* absolute-form targets */
	CHECK_INT(parse("GET http://example.com:80/healthz?x HTTP/1.1\r\nHost: e\r\n\r\n", &req),
	          FED_HTTP_PARSE_COMPLETE);
	CHECK_SPAN(req.path, req.path_len, "/healthz");
	CHECK_SPAN(req.query, req.query_len, "x");
	CHECK_INT(parse("OPTIONS HTTPS://example.com HTTP/1.1\r\nHost: e\r\n\r\n", &req),
	          FED_HTTP_PARSE_COMPLETE);
	CHECK_SPAN(req.path, req.path_len, "/");

	/* connection semantics */
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, CLOSE\r\n\r\n", &req),
	          FED_HTTP_PARSE_COMPLETE);
	CHECK(!req.keep_alive);
	CHECK_INT(parse("GET / HTTP/1.0\r\n\r\n", &req), FED_HTTP_PARSE_COMPLETE);
	CHECK(!req.keep_alive);
	CHECK_INT(parse("GET / HTTP/1.9\r\nHost: a\r\n\r\n", &req), FED_HTTP_PARSE_COMPLETE);
	CHECK_INT(req.minor_version, 1);
	CHECK(req.keep_alive);
	/* an empty header value is fine */
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", &req),
	          FED_HTTP_PARSE_COMPLETE);
	CHECK_INT(req.headers[1].value_len, 0);
}

static void test_parse_need_more(void)
{
	static const char get[] = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char post[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc";
	struct fed_http_request req;
	size_t i;

	for (i = 0; i < strlen(get); i++)
		CHECK_INT(fed_http_parse_request(get, i, &req), FED_HTTP_PARSE_NEED_MORE);
	CHECK_INT(fed_http_parse_request(get, strlen(get), &req), FED_HTTP_PARSE_COMPLETE);
	CHECK_INT(parse(post, &req), FED_HTTP_PARSE_NEED_MORE);
	CHECK_INT(req.header_len, strlen(post) - 3);
	CHECK_INT(req.content_length, 10);
	CHECK_INT(parse("\r\n\r\n", &req), FED_HTTP_PARSE_NEED_MORE);
	CHECK_INT(req.header_len, 0);
}

/* fed_http_parse_head: complete with the head alone, the body bound given. */
static void test_parse_head(void)
{
	static const char post[] =
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3000000\r\n\r\nabc";
	struct fed_http_request req;
	size_t i;

	for (i = 0; i < strlen(post) - 3; i++)
		CHECK_INT(fed_http_parse_head(post, i, 3 << 20, &req), FED_HTTP_PARSE_NEED_MORE);
	CHECK_INT(fed_http_parse_head(post, strlen(post), 3 << 20, &req), FED_HTTP_PARSE_COMPLETE);
	CHECK_INT(req.header_len, strlen(post) - 3);
	CHECK_INT(req.content_length, 3000000);
	CHECK(req.body == NULL);
	CHECK_INT(fed_http_parse_head(post, strlen(post), 2999999, &req), FED_HTTP_PARSE_ERROR);
	CHECK_INT(req.status, 413);
	/* the ops server's limit is unchanged */
	CHECK_INT(fed_http_parse_request(post, strlen(post), &req), FED_HTTP_PARSE_ERROR);
	CHECK_INT(req.status, 413);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &req),
	          FED_HTTP_PARSE_ERROR);
	CHECK_INT(req.status, 411);
}

static void test_parse_errors(void)
{
	static const struct {
		const char *in;
		int status;
	} cases[] = {
	    {" GET / HTTP/1.1\r\n", 400},
	    {"GET  / HTTP/1.1\r\n", 400},
	    {"GET /\r\n\r\n", 400},
	    {"GET\r\n", 400},
	    {"GET / HTTP/1.1 \r\n", 400},
	    {"GET / HTTX/1.1", 400}, /* before the line ends */
	    {"GET / HTTP/1.x\r\n", 400},
	    {"GET /a\x01z HTTP/1.1\r\n", 400},
	    {"GET /\xc3\xa9 HTTP/1.1\r\n", 400},
	    {"G\"T / HTTP/1.1\r\n", 400},
	    {"\x16\x03\x01\x02\x00\x01", 400}, /* a TLS ClientHello */
	    {"GET foo HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	    {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	    {"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\n: a\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: a\x01z\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: a\rz\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	     "Transfer-Encoding: chunked\r\n\r\n",
	     400},
	    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
	    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", 411},
	    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	    {"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", 501}, /* 33-byte method, early */
	    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 16385\r\n\r\n", 413},
	    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
	    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
	    {"GET / HTTP/0.9\r\n", 505},
	};
	struct fed_http_request req;
	struct fed_buf b = FED_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse(cases[i].in, &req);
		if (r != FED_HTTP_PARSE_ERROR || req.status != cases[i].status)
			fprintf(stderr, "  case %zu: r=%d status=%d\n", i, r, req.status);
		CHECK_INT(r, FED_HTTP_PARSE_ERROR);
		CHECK_INT(req.status, cases[i].status);
		CHECK(req.error && req.error[0]);
	}

	/* 414: a target over the limit, before the line ends */
	CHECK_INT(fed_buf_puts(&b, "GET /"), 0);
	for (i = 0; i < FED_HTTP_MAX_TARGET; i++)
		CHECK_INT(fed_buf_puts(&b, "a"), 0);
	CHECK_INT(parse(b.data, &req), FED_HTTP_PARSE_ERROR);
	CHECK_INT(req.status, 414);

	/* 431: a header section of exactly the limit passes, one more byte not */
	fed_buf_reset(&b);
	CHECK_INT(fed_buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\nX: "), 0);
	while (b.len < FED_HTTP_MAX_HEADER_BYTES - 4)
		CHECK_INT(fed_buf_puts(&b, "v"), 0);
	CHECK_INT(fed_buf_puts(&b, "\r\n\r\n"), 0);
	CHECK_INT(parse(b.data, &req), FED_HTTP_PARSE_COMPLETE);
	CHECK_INT(req.header_len, FED_HTTP_MAX_HEADER_BYTES);
	fed_buf_reset(&b);
	CHECK_INT(fed_buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\nX: "), 0);
	while (b.len < FED_HTTP_MAX_HEADER_BYTES - 3)
		CHECK_INT(fed_buf_puts(&b, "v"), 0);
	CHECK_INT(fed_buf_puts(&b, "\r\n\r\n"), 0);
	CHECK_INT(parse(b.data, &req), FED_HTTP_PARSE_ERROR);
	CHECK_INT(req.status, 431);
	/* ... and without any line end at all */
	fed_buf_reset(&b);
	CHECK_INT(fed_buf_puts(&b, "GET / HTTP/1.1\r\nX: "), 0);
	while (b.len <= FED_HTTP_MAX_HEADER_BYTES)
		CHECK_INT(fed_buf_puts(&b, "v"), 0);
	CHECK_INT(parse(b.data, &req), FED_HTTP_PARSE_ERROR);
	CHECK_INT(req.status, 431);
	/* too many header fields, before the section ends */
	fed_buf_reset(&b);
	CHECK_INT(fed_buf_puts(&b, "GET / HTTP/1.1\r\n"), 0);
	for (i = 0; i <= FED_HTTP_MAX_HEADERS; i++)
		CHECK_INT(fed_buf_printf(&b, "X-%zu: y\r\n", i), 0);
	CHECK_INT(parse(b.data, &req), FED_HTTP_PARSE_ERROR);
	CHECK_INT(req.status, 431);
	fed_buf_release(&b);

	CHECK_STR(fed_http_status_text(431), "Request Header Fields Too Large");
	CHECK_STR(fed_http_status_text(299), "Unknown");
}

/* ---- the server, driven by forked clients ------------------------------- */

static struct ev_loop *loop;
static struct fed_http_server *srv;
static struct fed_metrics *reg;
static int port;
static int quit_called;

static int h_healthz(const struct fed_http_request *req, struct fed_http_response *resp, void *ud)
{
	return fed_buf_puts(&resp->body, "ok\n");
}

static int h_readyz(const struct fed_http_request *req, struct fed_http_response *resp, void *ud)
{
	resp->status = 503;
	return fed_buf_puts(&resp->body, "not ready: informers syncing\n");
}

static int h_fail(const struct fed_http_request *req, struct fed_http_response *resp, void *ud)
{
	fed_buf_puts(&resp->body, "partial");
	return FED_ENOMEM;
}

static int h_big(const struct fed_http_request *req, struct fed_http_response *resp, void *ud)
{
	int ret = fed_buf_grow(&resp->body, 8 << 20);

	if (ret)
		return ret;
	memset(resp->body.data, 'x', 8 << 20);
	resp->body.len = 8 << 20;
	resp->body.data[resp->body.len] = '\0';
	return 0;
}

static int h_quit(const struct fed_http_request *req, struct fed_http_response *resp, void *ud)
{
	struct fed_http_server **s = ud;

	fed_http_server_free(*s);
	*s = NULL;
	quit_called++;
	return 0;
}

/* -- client side (runs in the child) -- */

struct cl {
	int fd;
	struct fed_buf in;
};

static void rep(struct fed_buf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rep(struct fed_buf *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fed_buf_puts(r, line);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int cl_open(struct cl *c, int nodelay)
{
	struct sockaddr_in sin;
	struct timeval tv = {5, 0};
	int one = 1;

	fed_buf_init(&c->in);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (nodelay)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin))) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void cl_close(struct cl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	fed_buf_release(&c->in);
}

/* Close with RST instead of FIN. */
static void cl_reset(struct cl *c)
{
	struct linger l = {1, 0};

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	cl_close(c);
}

static int cl_send(struct cl *c, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int cl_puts(struct cl *c, const char *s)
{
	return cl_send(c, s, strlen(s));
}

/* Read more into c->in: 1, 0 on EOF, -1 on error or timeout. */
static int cl_fill(struct cl *c)
{
	char buf[65536];
	ssize_t n;

	do
		n = recv(c->fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	fed_buf_append(&c->in, buf, (size_t)n);
	return 1;
}

/* "eof" when the server closed (FIN or RST), "data" or "timeout". */
static const char *cl_wait_close(struct cl *c)
{
	int r;

	if (c->in.len)
		return "data";
	r = cl_fill(c);
	if (r == 0 || (r < 0 && errno == ECONNRESET))
		return "eof";
	return r > 0 ? "data" : "timeout";
}

static void header_value(const char *head, const char *name, char *out, size_t n)
{
	const char *p = head;
	size_t nl = strlen(name);

	out[0] = '\0';
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1, *e;
			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			if (!e || (size_t)(e - v) >= n)
				return;
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = '\0';
			return;
		}
	}
}

/* Read one response; append "STATUS [ct=..] [allow=..] [conn=..] body" to r
 * (the body with \n escaped, or its size when long). The body also goes to
 * body_out when given. Returns the status, or -1. */
static int cl_response(struct cl *c, int head_req, struct fed_buf *r, struct fed_buf *body_out)
{
	char *end = NULL, head[4096], ct[128], allow[128], conn[64], clen[32], body[128];
	size_t hlen, blen, i, o = 0;
	int status, f;

	while (!c->in.data || !(end = strstr(c->in.data, "\r\n\r\n"))) {
		f = cl_fill(c);
		if (f <= 0) {
			rep(r, "%s\n", f == 0 || errno == ECONNRESET ? "eof" : "timeout");
			return -1;
		}
	}
	hlen = (size_t)(end - c->in.data) + 4;
	if (hlen >= sizeof(head) || sscanf(c->in.data, "HTTP/1.1 %d ", &status) != 1) {
		rep(r, "bad response\n");
		return -1;
	}
	memcpy(head, c->in.data, hlen);
	head[hlen] = '\0';
	header_value(head, "Content-Type", ct, sizeof(ct));
	header_value(head, "Allow", allow, sizeof(allow));
	header_value(head, "Connection", conn, sizeof(conn));
	header_value(head, "Content-Length", clen, sizeof(clen));
	if (!strstr(head, "\r\nDate: ") || !clen[0]) {
		rep(r, "no Date or Content-Length\n");
		return -1;
	}
	blen = head_req ? 0 : strtoul(clen, NULL, 10);
	while (c->in.len < hlen + blen) {
		if (cl_fill(c) <= 0) {
			rep(r, "short body\n");
			return -1;
		}
	}
	for (i = 0; i < blen && o < sizeof(body) - 3; i++) {
		char ch = c->in.data[hlen + i];
		if (ch == '\n') {
			body[o++] = '\\';
			body[o++] = 'n';
		} else {
			body[o++] = ch;
		}
	}
	body[o] = '\0';
	if (body_out)
		fed_buf_append(body_out, c->in.data + hlen, blen);
	rep(r, "%d", status);
	if (ct[0])
		rep(r, " ct=%s", ct);
	if (allow[0])
		rep(r, " allow=%s", allow);
	if (conn[0])
		rep(r, " conn=%s", conn);
	if (head_req)
		rep(r, " len=%s", clen);
	if (blen > 100)
		rep(r, " (long)\n");
	else
		rep(r, " %s\n", body);
	fed_buf_consume(&c->in, hlen + blen);
	return status;
}

static int cl_request(struct cl *c, const char *req, struct fed_buf *r)
{
	if (cl_send(c, req, strlen(req))) {
		rep(r, "send failed\n");
		return -1;
	}
	return cl_response(c, !strncmp(req, "HEAD ", 5), r, NULL);
}

/* -- parent side -- */

struct child {
	int fd;
	struct fed_buf out;
	bool done, timed_out;
};

static void pipe_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct child *ch = w->data;
	char buf[4096];
	ssize_t n = read(ch->fd, buf, sizeof(buf));

	if (n > 0) {
		fed_buf_append(&ch->out, buf, (size_t)n);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		ch->done = true;
		ev_break(l, EVBREAK_ONE);
	}
}

static void guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct child *ch = w->data;

	ch->timed_out = true;
	ev_break(l, EVBREAK_ONE);
}

typedef void (*client_fn)(struct fed_buf *r);

/* Run fn in a child while the loop serves; returns its transcript. */
static char *run_client(client_fn fn)
{
	struct child ch = {-1, FED_BUF_INIT, false, false};
	ev_io io;
	ev_timer guard;
	int p[2], status = 0, fd;
	pid_t pid;

	if (pipe(p))
		return NULL;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return NULL;
	if (pid == 0) {
		struct fed_buf r = FED_BUF_INIT;
		size_t off = 0;

		/* drop the server's sockets: a copy here would keep open the
		 * connections the server closes */
		for (fd = 3; fd < 1024; fd++)
			if (fd != p[1])
				close(fd);
		fn(&r);
		while (off < r.len) {
			ssize_t w = write(p[1], r.data + off, r.len - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		fed_buf_release(&r);
		_exit(0);
	}
	close(p[1]);
	ch.fd = p[0];
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	ev_io_init(&io, pipe_cb, p[0], EV_READ);
	io.data = &ch;
	ev_io_start(loop, &io);
	ev_timer_init(&guard, guard_cb, 90., 0.);
	guard.data = &ch;
	ev_timer_start(loop, &guard);
	while (!ch.done && !ch.timed_out)
		ev_run(loop, 0);
	ev_io_stop(loop, &io);
	ev_timer_stop(loop, &guard);
	close(p[0]);
	if (ch.timed_out)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (ch.timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "  client %s (status %d): %s\n",
		        ch.timed_out ? "timed out" : "failed", status, fed_buf_str(&ch.out));
		fed_buf_release(&ch.out);
		return NULL;
	}
	return fed_buf_detach(&ch.out);
}

static void stop_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	ev_break(l, EVBREAK_ONE);
}

/* Run the loop for about `seconds`. */
static void spin(double seconds)
{
	ev_timer t;

	ev_timer_init(&t, stop_cb, seconds, 0.);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

/* Run the loop until s has no connections left (or timeout_s passed). */
static unsigned long drain_server(struct fed_http_server *s, double timeout_s)
{
	struct fed_http_server_stats st;
	double until = now_s() + timeout_s;

	for (;;) {
		fed_http_server_stats(s, &st);
		if (st.connections == 0 || now_s() > until)
			break;
		spin(0.01);
	}
	return st.connections;
}

static struct fed_http_server_stats stats(void)
{
	struct fed_http_server_stats st;

	fed_http_server_stats(srv, &st);
	return st;
}

/* -- scenarios -- */

static void c_basic(struct fed_buf *r)
{
	struct fed_buf want = FED_BUF_INIT, got = FED_BUF_INIT;
	struct cl c;

	if (cl_open(&c, 0)) {
		rep(r, "connect failed\n");
		return;
	}
	cl_request(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", r);
	cl_request(&c, "GET /healthz?verbose=1 HTTP/1.1\r\nHost: t\r\n\r\n", r);
	cl_request(&c, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", r);
	cl_request(&c, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", r);
	/* a body on the wrong method is read past: the next request works */
	cl_request(&c, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", r);
	cl_request(&c, "get /healthz HTTP/1.1\r\nHost: t\r\n\r\n", r);
	cl_request(&c, "GET /fail HTTP/1.1\r\nHost: t\r\n\r\n", r);
	/* HEAD: the GET handler's length, no body (else the next one breaks) */
	cl_request(&c, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n", r);
	cl_request(&c, "HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n", r);
	cl_request(&c, "HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n", r);
	/* the child's copy of the registry is what the server renders */
	fed_metrics_render(reg, &want);
	cl_puts(&c, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
	cl_response(&c, 0, r, &got);
	rep(r, "metrics body %s\n",
	    got.len == want.len && !memcmp(got.data, want.data, want.len) ? "matches" : "differs");
	cl_close(&c);
	fed_buf_release(&want);
	fed_buf_release(&got);

	/* HTTP/1.0 without keep-alive: the server closes */
	if (cl_open(&c, 0) == 0) {
		cl_request(&c, "GET /healthz HTTP/1.0\r\n\r\n", r);
		rep(r, "%s\n", cl_wait_close(&c));
		cl_close(&c);
	}
	/* HTTP/1.0 with keep-alive: it does not */
	if (cl_open(&c, 0) == 0) {
		cl_request(&c, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", r);
		cl_request(&c, "GET /healthz HTTP/1.0\r\n\r\n", r);
		rep(r, "%s\n", cl_wait_close(&c));
		cl_close(&c);
	}
}

#define CT "ct=text/plain; charset=utf-8"

static void test_basic(void)
{
	struct fed_buf m = FED_BUF_INIT;
	char want[2048], *t;

	CHECK_INT(fed_metrics_render(reg, &m), 0);
	snprintf(want, sizeof(want),
	         "200 " CT " ok\\n\n"
	         "200 " CT " ok\\n\n"
	         "503 " CT " not ready: informers syncing\\n\n"
	         "404 " CT " Not Found\\n\n"
	         "405 " CT " allow=GET, HEAD Method Not Allowed\\n\n"
	         "405 " CT " allow=GET, HEAD Method Not Allowed\\n\n"
	         "500 " CT " Internal Server Error\\n\n"
	         "200 " CT " len=3 \n"
	         "200 ct=text/plain; version=0.0.4; charset=utf-8 len=%zu \n"
	         "404 " CT " len=10 \n"
	         "200 ct=text/plain; version=0.0.4; charset=utf-8 (long)\n"
	         "metrics body matches\n"
	         "200 " CT " conn=close ok\\n\n"
	         "eof\n"
	         "200 " CT " conn=keep-alive ok\\n\n"
	         "200 " CT " conn=close ok\\n\n"
	         "eof\n",
	         m.len);
	fed_buf_release(&m);
	t = run_client(c_basic);
	CHECK(t != NULL);
	CHECK_STR(t, want);
	free(t);
}

static void c_keepalive(struct fed_buf *r)
{
	static const char two[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
	                          "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n";
	struct cl c;

	if (cl_open(&c, 0)) {
		rep(r, "connect failed\n");
		return;
	}
	cl_request(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", r);
	cl_request(&c, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", r);
	/* pipelined: two requests in one write, answered in order */
	cl_send(&c, two, strlen(two));
	cl_response(&c, 0, r, NULL);
	cl_response(&c, 0, r, NULL);
	cl_request(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", r);
	rep(r, "%s\n", cl_wait_close(&c));
	cl_close(&c);
}

static void test_keepalive(void)
{
	struct fed_http_server_stats before = stats();
	char *t = run_client(c_keepalive);

	CHECK(t != NULL);
	CHECK_STR(t, "200 " CT " ok\\n\n"
	             "503 " CT " not ready: informers syncing\\n\n"
	             "200 " CT " ok\\n\n"
	             "503 " CT " not ready: informers syncing\\n\n"
	             "200 " CT " conn=close ok\\n\n"
	             "eof\n");
	free(t);
	CHECK_INT(stats().accepted - before.accepted, 1); /* all on one connection */
	CHECK_INT(stats().requests - before.requests, 5);
}

static void c_split(struct fed_buf *r)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
	struct cl c;
	size_t i;

	if (cl_open(&c, 1)) {
		rep(r, "connect failed\n");
		return;
	}
	for (i = 0; i < strlen(req); i++) {
		cl_send(&c, req + i, 1);
		sleep_ms(2);
	}
	cl_response(&c, 0, r, NULL);
	/* a body that arrives in two parts */
	cl_puts(&c, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"
	            "01234");
	sleep_ms(50);
	cl_puts(&c, "56789");
	cl_response(&c, 0, r, NULL);
	cl_request(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", r);
	cl_close(&c);
}

static void test_split(void)
{
	char *t = run_client(c_split);

	CHECK(t != NULL);
	CHECK_STR(t, "200 " CT " ok\\n\n"
	             "405 " CT " allow=GET, HEAD Method Not Allowed\\n\n"
	             "200 " CT " ok\\n\n");
	free(t);
}

static void c_limits(struct fed_buf *r)
{
	struct fed_buf req = FED_BUF_INIT;
	struct cl c;
	int i;

	/* 17 KiB of headers */
	fed_buf_puts(&req, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
	for (i = 0; i < 17 * 1024; i++)
		fed_buf_puts(&req, "a");
	fed_buf_puts(&req, "\r\n\r\n");
	if (cl_open(&c, 0) == 0) {
		cl_request(&c, req.data, r);
		rep(r, "%s\n", cl_wait_close(&c));
		cl_close(&c);
	}
	/* too many header fields */
	fed_buf_reset(&req);
	fed_buf_puts(&req, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
	for (i = 0; i < 70; i++)
		fed_buf_printf(&req, "X-%d: y\r\n", i);
	fed_buf_puts(&req, "\r\n");
	if (cl_open(&c, 0) == 0) {
		cl_request(&c, req.data, r);
		rep(r, "%s\n", cl_wait_close(&c));
		cl_close(&c);
	}
	/* a long target */
	fed_buf_reset(&req);
	fed_buf_puts(&req, "GET /");
	for (i = 0; i < 9000; i++)
		fed_buf_puts(&req, "a");
	fed_buf_puts(&req, " HTTP/1.1\r\nHost: t\r\n\r\n");
	if (cl_open(&c, 0) == 0) {
		cl_request(&c, req.data, r);
		rep(r, "%s\n", cl_wait_close(&c));
		cl_close(&c);
	}
	fed_buf_release(&req);
	{
		static const char *const bad[] = {
		    ("POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\n0\r\n\r\n"),
		    "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n",
		    "GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n",
		    "GET /healthz HTTP/1.1\r\n\r\n",
		    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		};
		for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
			if (cl_open(&c, 0))
				continue;
			cl_request(&c, bad[i], r);
			rep(r, "%s\n", cl_wait_close(&c));
			cl_close(&c);
		}
	}
}

static void test_limits(void)
{
	struct fed_http_server_stats before = stats();
	char *t = run_client(c_limits);

	CHECK(t != NULL);
	CHECK_STR(t, "431 " CT " conn=close Request Header Fields Too Large: "
	             "request header section too large\\n\n"
	             "eof\n"
	             "431 " CT " conn=close Request Header Fields Too Large: "
	             "too many header fields\\n\n"
	             "eof\n"
	             "414 " CT " conn=close URI Too Long: request target too long\\n\n"
	             "eof\n"
	             "411 " CT " conn=close Length Required: chunked request bodies are not "
	             "accepted\\n\n"
	             "eof\n"
	             "413 " CT " conn=close Content Too Large: request body too large\\n\n"
	             "eof\n"
	             "505 " CT " conn=close HTTP Version Not Supported: HTTP version not "
	             "supported\\n\n"
	             "eof\n"
	             "400 " CT " conn=close Bad Request: missing Host header\\n\n"
	             "eof\n"
	             "400 " CT " conn=close Bad Request: invalid character in method\\n\n"
	             "eof\n");
	free(t);
	CHECK_INT(stats().bad_requests - before.bad_requests, 8);
	CHECK_INT(drain_server(srv, 5), 0);
}

static void c_timeout(struct fed_buf *r)
{
	struct cl c;
	double t0, el;
	int i;

	/* silent */
	if (cl_open(&c, 0) == 0) {
		t0 = now_s();
		rep(r, "silent: %s", cl_wait_close(&c));
		el = now_s() - t0;
		rep(r, " %s\n", el > 0.3 && el < 3 ? "in time" : "wrong time");
		cl_close(&c);
	}
	/* slowloris: a header line every 100 ms does not extend the deadline */
	if (cl_open(&c, 1) == 0) {
		struct pollfd pfd = {c.fd, POLLIN, 0};
		t0 = now_s();
		cl_puts(&c, "GET /healthz HTTP/1.1\r\n");
		for (i = 0; i < 50; i++) {
			sleep_ms(100);
			if (poll(&pfd, 1, 0) > 0 || cl_puts(&c, "X-A: b\r\n"))
				break;
		}
		el = now_s() - t0;
		rep(r, "slowloris: %s\n", el > 0.3 && el < 3 ? "closed in time" : "not closed");
		cl_close(&c);
	}
	/* idle keep-alive connection after a response */
	if (cl_open(&c, 0) == 0) {
		cl_request(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", r);
		t0 = now_s();
		rep(r, "idle: %s", cl_wait_close(&c));
		el = now_s() - t0;
		rep(r, " %s\n", el > 0.3 && el < 3 ? "in time" : "wrong time");
		cl_close(&c);
	}
}

static void test_timeout(void)
{
	struct fed_http_server_stats before = stats();
	char *t;

	fed_http_server_set_timeout(srv, 0.5);
	t = run_client(c_timeout);
	fed_http_server_set_timeout(srv, 0);
	CHECK(t != NULL);
	CHECK_STR(t, "silent: eof in time\n"
	             "slowloris: closed in time\n"
	             "200 " CT " ok\\n\n"
	             "idle: eof in time\n");
	free(t);
	CHECK_INT(stats().timeouts - before.timeouts, 3);
}

#define MANY 300

static void c_many(struct fed_buf *r)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
	struct fed_buf scratch = FED_BUF_INIT;
	struct cl *cs = calloc(MANY, sizeof(*cs));
	int i, ok = 0, closed = 0, failed = 0;

	if (!cs)
		return;
	for (i = 0; i < MANY; i++)
		if (cl_open(&cs[i], 0))
			failed++;
	for (i = 0; i < MANY; i++)
		if (cs[i].fd >= 0)
			cl_send(&cs[i], req, strlen(req));
	for (i = 0; i < MANY; i++) {
		if (cs[i].fd < 0)
			continue;
		if (cl_response(&cs[i], 0, &scratch, NULL) == 200)
			ok++;
		else
			closed++;
	}
	rep(r, "ok=%d closed=%d failed=%d\n", ok, closed, failed);
	for (i = 0; i < MANY; i++)
		cl_close(&cs[i]);
	free(cs);
	fed_buf_release(&scratch);
	/* the server still answers once they are gone */
	sleep_ms(200);
	{
		struct cl c;
		if (cl_open(&c, 0) == 0) {
			cl_request(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", r);
			cl_close(&c);
		}
	}
}

static void test_many(void)
{
	struct fed_http_server_stats before;
	char *t;

	CHECK_INT(drain_server(srv, 5), 0);
	before = stats();
	t = run_client(c_many);
	CHECK(t != NULL);
	CHECK_STR(t, "ok=256 closed=44 failed=0\n"
	             "200 " CT " ok\\n\n");
	free(t);
	CHECK_INT(stats().rejected - before.rejected, MANY - FED_HTTP_MAX_CONNECTIONS);
	CHECK_INT(drain_server(srv, 5), 0);
}

static void c_reset(struct fed_buf *r)
{
	struct cl c;

	/* mid-request */
	if (cl_open(&c, 1) == 0) {
		cl_puts(&c, "GET /healthz HTTP/1.1\r\nHo");
		sleep_ms(50);
		cl_reset(&c);
	}
	/* mid-response: 8 MiB the server is still writing */
	if (cl_open(&c, 1) == 0) {
		cl_puts(&c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
		cl_fill(&c);
		cl_reset(&c);
	}
	/* before reading anything */
	if (cl_open(&c, 1) == 0) {
		cl_puts(&c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
		cl_reset(&c);
	}
	/* a plain close with the response unread */
	if (cl_open(&c, 1) == 0) {
		cl_puts(&c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
		sleep_ms(20);
		cl_close(&c);
	}
	sleep_ms(100);
	if (cl_open(&c, 0) == 0) {
		cl_request(&c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n", r);
		cl_request(&c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", r);
		cl_close(&c);
	}
}

static void test_reset(void)
{
	char *t = run_client(c_reset);

	CHECK(t != NULL);
	CHECK_STR(t, "200 " CT " (long)\n"
	             "200 " CT " ok\\n\n");
	free(t);
	CHECK_INT(drain_server(srv, 5), 0);
}

static struct fed_http_server *srv2;

static void c_quit(struct fed_buf *r)
{
	struct cl c;

	if (cl_open(&c, 0) == 0) {
		cl_request(&c, "GET /quit HTTP/1.1\r\nHost: t\r\n\r\n", r);
		cl_close(&c);
	}
	rep(r, "reconnect: %s\n", cl_open(&c, 0) ? "refused" : "accepted");
	cl_close(&c);
}

/* Freeing a server with open connections, and from inside a handler. */
static void test_free(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_http_server_stats st;
	struct sockaddr_in sin;
	struct pollfd pfd;
	int fd, main_port = port;
	char buf[64];
	char *t;

	CHECK_INT(fed_http_server_new(&srv2, loop, "127.0.0.1", 0, &err), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)fed_http_server_port(srv2));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(fd >= 0);
	connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	spin(0.05);
	CHECK_INT(send(fd, "GET /he", 7, MSG_NOSIGNAL), 7);
	spin(0.05);
	fed_http_server_stats(srv2, &st);
	CHECK_INT(st.connections, 1);
	fed_http_server_free(srv2);
	srv2 = NULL;
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	CHECK_INT(poll(&pfd, 1, 2000), 1);
	CHECK_INT(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);
	fed_http_server_free(NULL);

	CHECK_INT(fed_http_server_new(&srv2, loop, "127.0.0.1", 0, &err), 0);
	CHECK_INT(fed_http_server_route(srv2, "GET", "/quit", h_quit, &srv2), 0);
	port = fed_http_server_port(srv2);
	t = run_client(c_quit);
	port = main_port;
	CHECK(t != NULL);
	CHECK_STR(t, "eof\nreconnect: refused\n");
	free(t);
	CHECK_INT(quit_called, 1);
	CHECK(srv2 == NULL);
}

static int h_nop(const struct fed_http_request *req, struct fed_http_response *resp, void *ud)
{
	return 0;
}

static void test_listen_and_routes(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_http_server *s = NULL;
	int ret;

	CHECK_INT(fed_http_server_new(&s, loop, "localhost", 0, &err), FED_EINVAL);
	CHECK(s == NULL);
	CHECK_HAS(err.msg, "'localhost' is not a numeric IPv4 or IPv6 address");
	CHECK_INT(fed_http_server_new(&s, loop, "127.0.0.1", 65536, &err), FED_EINVAL);
	CHECK_INT(fed_http_server_new(&s, loop, "127.0.0.1", -1, &err), FED_EINVAL);
	CHECK_INT(fed_http_server_new(&s, loop, "", 0, &err), FED_EINVAL);
	CHECK_INT(fed_http_server_new(&s, loop, "127.0.0.1", port, &err), FED_EUNAVAILABLE);
	CHECK_HAS(err.msg, "Address already in use");
	CHECK_INT(fed_http_server_new(&s, loop, "0.0.0.0", 0, &err), 0);
	CHECK(fed_http_server_port(s) > 0);
	fed_http_server_free(s);
	s = NULL;
	/* IPv6 may be off in a sandbox; when it is on, both forms work */
	ret = fed_http_server_new(&s, loop, "[::1]", 0, &err);
	if (ret == 0) {
		CHECK(fed_http_server_port(s) > 0);
		fed_http_server_free(s);
		s = NULL;
		CHECK_INT(fed_http_server_new(&s, loop, "::", 0, &err), 0);
		fed_http_server_free(s);
		s = NULL;
	} else {
		fprintf(stderr, "  (no IPv6 here: %s)\n", err.msg);
	}

	CHECK_INT(fed_http_server_route(srv, "GET", "/healthz", h_nop, NULL), FED_EEXISTS);
	CHECK_INT(fed_http_server_route(srv, "GET", "healthz", h_nop, NULL), FED_EINVAL);
	CHECK_INT(fed_http_server_route(srv, "", "/x", h_nop, NULL), FED_EINVAL);
	CHECK_INT(fed_http_server_route(srv, "GET", "/x", NULL, NULL), FED_EINVAL);
}

static int setup(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_metrics_family *f = NULL;
	int ret;

	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop)
		return -1;
	ret = fed_metrics_new(&reg, &err);
	if (!ret)
		ret = fed_metrics_gauge(reg, "fed_clusters", "Member clusters by state.", "state",
		                        &f, &err);
	if (!ret)
		ret = fed_metrics_set(f, (const char *[]){"ready"}, 2);
	if (!ret)
		ret = fed_metrics_counter(reg, "fed_syncs_total", "Syncs.", NULL, &f, &err);
	if (!ret)
		ret = fed_http_server_new(&srv, loop, "127.0.0.1", 0, &err);
	if (!ret)
		ret = fed_http_server_route(srv, "GET", "/healthz", h_healthz, NULL);
	if (!ret)
		ret = fed_http_server_route(srv, "GET", "/readyz", h_readyz, NULL);
	if (!ret)
		ret = fed_http_server_route(srv, "GET", "/metrics", fed_metrics_http_handler, reg);
	if (!ret)
		ret = fed_http_server_route(srv, "GET", "/fail", h_fail, NULL);
	if (!ret)
		ret = fed_http_server_route(srv, "GET", "/big", h_big, NULL);
	if (ret) {
		fprintf(stderr, "setup: %s (%s)\n", err.msg, fed_err_name(ret));
		return -1;
	}
	port = fed_http_server_port(srv);
	return 0;
}

int main(void)
{
	/* no SIG_IGN here: MSG_NOSIGNAL alone must keep a reset peer from
	 * killing the process */
	signal(SIGPIPE, SIG_DFL);
	RUN(test_parse_valid);
	RUN(test_parse_head);
	RUN(test_parse_need_more);
	RUN(test_parse_errors);
	if (setup())
		return 1;
	RUN(test_basic);
	RUN(test_keepalive);
	RUN(test_split);
	RUN(test_limits);
	RUN(test_timeout);
	RUN(test_many);
	RUN(test_reset);
	RUN(test_free);
	RUN(test_listen_and_routes);
	fed_http_server_free(srv);
	fed_metrics_free(reg);
	ev_loop_destroy(loop);
	return CHECK_EXIT();
}
