/* One connection of the operations HTTP server (see fed/http_server.h).
 *
 * A connection reads one request at a time into a bounded buffer, answers
 * it with a response built in memory, and reads the next request only once
 * that response is written: a client that sends without reading stalls
 * itself, not the loop, and pipelined requests are answered in order. One
 * ev_timer per connection is a deadline, not an idle timer: it is armed
 * when the connection starts waiting for a request and again when a
 * response is queued, and partial progress never extends it.
 *
 * Closing happens at one place, settle(), at the end of every callback,
 * so nothing up the stack uses a freed connection; a server freed from a
 * handler is destroyed there too. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fed/log.h"
#include "http_internal.h"

#define READ_CHUNK       16384
#define IN_CAP           (FED_HTTP_MAX_HEADER_BYTES + FED_HTTP_MAX_BODY_BYTES)
#define LINGER_SECONDS   2.0
#define LINGER_MAX_BYTES (256 * 1024)
#define KEEP_BUF_BYTES   (1024 * 1024) /* larger buffers are freed after use */
#define DEFAULT_CTYPE    "text/plain; charset=utf-8"

struct http_conn {
	struct fed_http_server *srv;
	struct http_conn *prev, *next;
	int fd;
	ev_io rio, wio;
	ev_timer deadline;
	struct fed_buf in;
	size_t scanned; /* in.len when the parser last said NEED_MORE */
	size_t need;    /* header section seen: bytes the whole request takes */
	struct fed_buf out;
	size_t out_off;
	size_t discarded; /* bytes drained while lingering */
	bool closing;     /* close once out is written */
	bool lingering;   /* write side shut down, draining input before close */
	bool peer_eof;
	bool dead; /* close in settle() */
	char peer[INET6_ADDRSTRLEN + 8];
};

static void arm(struct http_conn *c, double seconds)
{
	ev_timer_stop(c->srv->loop, &c->deadline);
	ev_timer_set(&c->deadline, seconds, 0.);
	ev_timer_start(c->srv->loop, &c->deadline);
}

void fed_http_conn_free(struct http_conn *c)
{
	struct fed_http_server *srv = c->srv;

	ev_io_stop(srv->loop, &c->rio);
	ev_io_stop(srv->loop, &c->wio);
	ev_timer_stop(srv->loop, &c->deadline);
	close(c->fd);
	fed_buf_release(&c->in);
	fed_buf_release(&c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->stats.connections--;
	free(c);
}

/* Start or stop the watchers to match the connection's state. */
static void conn_watch(struct http_conn *c)
{
	struct ev_loop *loop = c->srv->loop;
	bool pending = c->out_off < c->out.len;
	bool want_read =
	    c->lingering || (!c->closing && !c->peer_eof && !pending && c->in.len < IN_CAP);

	if (want_read && !ev_is_active(&c->rio))
		ev_io_start(loop, &c->rio);
	else if (!want_read && ev_is_active(&c->rio))
		ev_io_stop(loop, &c->rio);
	if (pending && !ev_is_active(&c->wio))
		ev_io_start(loop, &c->wio);
	else if (!pending && ev_is_active(&c->wio))
		ev_io_stop(loop, &c->wio);
}

static void settle(struct fed_http_server *srv, struct http_conn *c)
{
	if (--srv->depth > 0)
		return;
	if (srv->freed) {
		fed_http_server_destroy(srv);
		return;
	}
	if (!c)
		return;
	if (c->dead)
		fed_http_conn_free(c);
	else
		conn_watch(c);
}

static const char *http_date(struct fed_http_server *srv)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t now = (time_t)ev_now(srv->loop);
	struct tm tm;

	if (now != srv->date_at && gmtime_r(&now, &tm)) {
		/* the % bounds tell gcc the fields fit (-Wformat-truncation) */
		snprintf(srv->date, sizeof(srv->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
		         days[tm.tm_wday % 7], tm.tm_mday % 100, months[tm.tm_mon % 12],
		         (tm.tm_year + 1900) % 10000, tm.tm_hour % 100, tm.tm_min % 100,
		         tm.tm_sec % 100);
		srv->date_at = now;
	}
	return srv->date;
}

/* Append a whole response to c->out. minor_version picks the Connection
 * header a HTTP/1.0 keep-alive client needs; c->closing must be final. */
static void queue_response(struct http_conn *c, int status, const char *ctype, const char *body,
                           size_t len, bool head, const char *allow, int minor_version)
{
	struct fed_http_server *srv = c->srv;
	bool nobody = status == 204 || status == 304;
	int r;

	r = fed_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
	                   fed_http_status_text(status), http_date(srv));
	if (!r && !nobody)
		r = fed_buf_printf(&c->out, "Content-Type: %s\r\nContent-Length: %zu\r\n",
		                   ctype ? ctype : DEFAULT_CTYPE, len);
	if (!r && allow)
		r = fed_buf_printf(&c->out, "Allow: %s\r\n", allow);
	if (!r && c->closing)
		r = fed_buf_puts(&c->out, "Connection: close\r\n");
	else if (!r && minor_version == 0)
		r = fed_buf_puts(&c->out, "Connection: keep-alive\r\n");
	if (!r)
		r = fed_buf_puts(&c->out, "\r\n");
	if (!r && !head && !nobody && len)
		r = fed_buf_append(&c->out, body, len);
	if (r)
		c->dead = true;
	/* the response deadline */
	arm(c, srv->timeout);
}

static void queue_error(struct http_conn *c, int status, const char *why)
{
	char body[160];
	int n;

	n = snprintf(body, sizeof(body), "%s%s%s\n", fed_http_status_text(status), why ? ": " : "",
	             why ? why : "");
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	queue_response(c, status, NULL, body, (size_t)n, false, NULL, 1);
}

static void start_linger(struct http_conn *c)
{
	/* Closing with unread input makes the kernel send RST, which can
	 * destroy the response before the peer reads it (a 431 sent while
	 * the peer still writes its headers): shut down our side and read
	 * until the peer closes, briefly. */
	if (c->peer_eof) {
		c->dead = true;
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->lingering = true;
	fed_buf_release(&c->in);
	arm(c, c->srv->timeout < LINGER_SECONDS ? c->srv->timeout : LINGER_SECONDS);
}

/* Write as much of c->out as the socket takes. */
static void flush(struct http_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n =
		    send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true; /* EPIPE, ECONNRESET: the peer is gone */
			return;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = 0;
	if (c->out.cap > KEEP_BUF_BYTES)
		fed_buf_release(&c->out);
	else
		fed_buf_reset(&c->out);
	if (c->closing)
		start_linger(c);
	else
		arm(c, c->srv->timeout); /* the next request's deadline */
}

static void method_not_allowed(struct http_conn *c, const struct fed_http_request *req, bool head)
{
	struct fed_http_server *srv = c->srv;
	struct fed_buf allow = FED_BUF_INIT;
	bool has_get = false, has_head = false;
	size_t i;
	int r = 0;

	for (i = 0; i < srv->nroutes && !r; i++) {
		const struct route *rt = &srv->routes[i];
		if (strlen(rt->path) != req->path_len || memcmp(rt->path, req->path, req->path_len))
			continue;
		has_get |= !strcmp(rt->method, "GET");
		has_head |= !strcmp(rt->method, "HEAD");
		r = fed_buf_printf(&allow, "%s%s", allow.len ? ", " : "", rt->method);
	}
	if (!r && has_get && !has_head)
		r = fed_buf_puts(&allow, ", HEAD");
	if (r) {
		c->dead = true;
	} else {
		static const char body[] = "Method Not Allowed\n";
		queue_response(c, 405, NULL, body, sizeof(body) - 1, head, allow.data,
		               req->minor_version);
	}
	fed_buf_release(&allow);
}

static bool valid_ctype(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void dispatch(struct http_conn *c, const struct fed_http_request *req)
{
	struct fed_http_server *srv = c->srv;
	struct fed_http_response resp;
	const struct route *rt = NULL;
	/* never a body after HEAD, whatever the status: the peer reads none */
	bool path_known = false, head = req->method_len == 4 && !memcmp(req->method, "HEAD", 4);
	size_t i;
	int r;

	srv->stats.requests++;
	for (i = 0; i < srv->nroutes; i++) {
		const struct route *x = &srv->routes[i];
		if (strlen(x->path) != req->path_len || memcmp(x->path, req->path, req->path_len))
			continue;
		path_known = true;
		if (strlen(x->method) == req->method_len &&
		    !memcmp(x->method, req->method, req->method_len)) {
			rt = x;
			break;
		}
	}
	if (!rt && path_known && head) {
		for (i = 0; i < srv->nroutes && !rt; i++) {
			const struct route *x = &srv->routes[i];
			if (strlen(x->path) == req->path_len &&
			    !memcmp(x->path, req->path, req->path_len) && !strcmp(x->method, "GET"))
				rt = x;
		}
	}
	if (!rt) {
		static const char body[] = "Not Found\n";
		if (path_known)
			method_not_allowed(c, req, head);
		else
			queue_response(c, 404, NULL, body, sizeof(body) - 1, head, NULL,
			               req->minor_version);
		return;
	}

	resp.status = 200;
	resp.content_type = NULL;
	resp.body = srv->body;
	fed_buf_init(&srv->body);
	fed_buf_reset(&resp.body);
	r = rt->handler(req, &resp, rt->ud);
	if (srv->freed) {
		fed_buf_release(&resp.body);
		return;
	}
	if (r == 0 && (resp.status < 200 || resp.status > 599)) {
		FED_LOG_WARN(NULL, "http: %s: handler returned status %d", rt->path, resp.status);
		r = FED_ERR;
	}
	if (r == 0 && resp.content_type && !valid_ctype(resp.content_type)) {
		FED_LOG_WARN(NULL, "http: %s: handler returned a bad content type", rt->path);
		r = FED_ERR;
	}
	if (r) {
		static const char body[] = "Internal Server Error\n";
		FED_LOG_WARN(NULL, "http: %s %s: handler failed (%s)", rt->method, rt->path,
		             fed_err_name(r));
		queue_response(c, 500, NULL, body, sizeof(body) - 1, head, NULL,
		               req->minor_version);
	} else {
		queue_response(c, resp.status, resp.content_type, resp.body.data, resp.body.len,
		               head, NULL, req->minor_version);
	}
	if (resp.body.cap > KEEP_BUF_BYTES)
		fed_buf_release(&resp.body);
	srv->body = resp.body;
}

/* Whether parsing again can tell more than last time: a line ended, or the
 * buffer went past the header limit. Keeps a byte-at-a-time peer from
 * costing a full re-parse per byte. */
static bool worth_parsing(const struct http_conn *c)
{
	if (c->scanned == 0 || c->in.len > FED_HTTP_MAX_HEADER_BYTES)
		return true;
	return memchr(c->in.data + c->scanned, '\n', c->in.len - c->scanned) != NULL;
}

/* Answer the complete requests in c->in, one at a time: the next one only
 * once the previous response is written. */
static void process(struct http_conn *c)
{
	struct fed_http_server *srv = c->srv;
	struct fed_http_request req;
	int r;

	while (!c->dead && !c->closing && c->out.len == 0 && c->in.len > 0) {
		if (c->need ? c->in.len < c->need : !worth_parsing(c))
			break;
		r = fed_http_parse_request(c->in.data, c->in.len, &req);
		if (r == FED_HTTP_PARSE_NEED_MORE) {
			c->need = req.header_len ? req.header_len + req.content_length : 0;
			c->scanned = c->in.len;
			break;
		}
		if (r == FED_HTTP_PARSE_ERROR) {
			FED_LOG_DEBUG(NULL, "http: %s: %d: %s", c->peer, req.status, req.error);
			srv->stats.bad_requests++;
			c->closing = true; /* the framing is lost */
			queue_error(c, req.status, req.error);
		} else {
			c->closing = !req.keep_alive;
			dispatch(c, &req);
			if (srv->freed) {
				c->dead = true;
				return;
			}
			fed_buf_consume(&c->in, req.header_len + req.content_length);
			c->need = 0;
			c->scanned = 0;
		}
		if (!c->dead)
			flush(c);
	}
	if (c->peer_eof && !c->closing && c->out.len == 0)
		c->dead = true; /* nothing more will come */
}

static void do_read(struct http_conn *c)
{
	char buf[READ_CHUNK]; /* so an idle connection holds only what it got */
	size_t want = IN_CAP - c->in.len;
	ssize_t n;

	if (want > sizeof(buf))
		want = sizeof(buf);
	if (want == 0)
		return;
	do
		n = recv(c->fd, buf, want, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			c->dead = true; /* ECONNRESET and friends */
		return;
	}
	if (n == 0) {
		c->peer_eof = true;
		return;
	}
	if (fed_buf_append(&c->in, buf, (size_t)n))
		c->dead = true;
}

static void drain(struct http_conn *c)
{
	char buf[4096];
	ssize_t n;

	do
		n = recv(c->fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0 || (c->discarded += (size_t)n) > LINGER_MAX_BYTES)
		c->dead = true;
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_conn *c = w->data;
	struct fed_http_server *srv = c->srv;

	srv->depth++;
	if (c->lingering) {
		drain(c);
	} else {
		do_read(c);
		if (!c->dead)
			process(c);
	}
	settle(srv, c);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_conn *c = w->data;
	struct fed_http_server *srv = c->srv;

	srv->depth++;
	flush(c);
	if (!c->dead && c->out.len == 0 && !c->lingering)
		process(c);
	settle(srv, c);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_conn *c = w->data;
	struct fed_http_server *srv = c->srv;

	srv->depth++;
	if (!c->lingering) {
		srv->stats.timeouts++;
		FED_LOG_DEBUG(NULL, "http: %s: deadline passed, closing", c->peer);
		/* a request that never completed: say so, if the socket takes it */
		if (c->out.len == 0 && c->in.len > 0 && !c->closing) {
			c->closing = true;
			queue_error(c, 408, NULL);
			if (!c->dead)
				flush(c);
		}
	}
	c->dead = true;
	settle(srv, c);
}

void fed_http_conn_new(struct fed_http_server *srv, int fd, const struct sockaddr_storage *ss)
{
	struct http_conn *c = calloc(1, sizeof(*c));
	char host[INET6_ADDRSTRLEN] = "?";
	int one = 1, port = 0;

	if (!c) {
		close(fd);
		return;
	}
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port & 0xffff);
	/* responses go out in one piece: no reason to wait for ACKs */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->srv = srv;
	c->fd = fd;
	ev_io_init(&c->rio, read_cb, fd, EV_READ);
	ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
	ev_timer_init(&c->deadline, deadline_cb, 0., 0.);
	c->rio.data = c->wio.data = c->deadline.data = c;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->stats.connections++;
	srv->stats.accepted++;
	ev_io_start(srv->loop, &c->rio);
	arm(c, srv->timeout); /* the first request's deadline */
}
