/* One tunnel connection: TLS on a non-blocking socket driven by one ev_io,
 * frames in and out, the handshake (HELLO, AUTH, AUTH_OK), heartbeats and
 * the streams. See fed/tunnel_conn.h. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "fed/log.h"
#include "fed/tunnel_conn.h"
#include "tunnel_conn_internal.h"

enum state { ST_HANDSHAKE, ST_HELLO, ST_READY, ST_DEAD };

/* Bytes one connection reads per loop turn before it yields: large enough
 * for throughput, small enough that timers never wait long. */
#define READ_BUDGET (512u << 10)
/* TLS handshake steps (a few ms of public-key work at most) per loop turn,
 * over all connections: strangers dialling by the hundred wait their turn
 * instead of stalling the timers (heartbeats, the Lease). */
#define HANDSHAKES_PER_TURN 8

struct fed_tunnel_stream {
	struct fed_tunnel_conn *conn;
	struct fed_tunnel_pstream *ps;
	uint32_t id;
	const struct fed_tunnel_stream_cb *cb;
	void *ud;
	bool accepted;
	size_t unconsumed; /* delivered, not yet consumed: credited back on close */
	struct fed_tunnel_stream *prev, *next;
};

struct fed_tunnel_conn {
	struct ev_loop *loop;
	int fd;
	SSL *ssl;
	SSL *outer; /* TLS to an https:// proxy that ssl runs inside, or NULL */
	bool is_host;
	enum state st;
	ev_io io;
	ev_timer timer;
	/* Deferred close after GOAWAY. A timer, not an idle watcher: idle
	 * watchers never run while a peer keeps its socket readable. */
	ev_timer closer;
	ev_timer resume; /* 0 s: read again after yielding to the loop */
	struct fed_tunnel_conn_opts opts;
	const struct fed_tunnel_conn_cb *cb;
	void *ud;
	struct fed_tunnel_proto proto;
	struct fed_buf in, out;
	struct fed_tunnel_stream *streams;
	double started, last_rx;
	bool want_write;       /* SSL asked for writability */
	bool write_wants_read; /* SSL_write asked for readability */
	bool closing;          /* refused or shutting down: nothing more is read */
	double ping_tokens, ping_at;
	double refused_tokens, refused_at;
	bool hello_seen, auth_sent;
	bool auth_pending; /* host: the AUTH verdict is being decided */
	int auth_kind;
	char *secret; /* agent: wiped after AUTH is sent */
	char *cluster, *credential;
	char name[96];
	int depth;
	bool freed;
	unsigned long refused; /* frames answered with RST for streams never opened */
};

static void conn_die(struct fed_tunnel_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void unlink_stream(struct fed_tunnel_conn *c, struct fed_tunnel_stream *s);

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void destroy(struct fed_tunnel_conn *c)
{
	struct fed_tunnel_stream *s, *next;

	for (s = c->streams; s; s = next) {
		next = s->next;
		free(s);
	}
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_stop(c->loop, &c->closer);
	ev_timer_stop(c->loop, &c->resume);
	if (c->ssl)
		SSL_free(c->ssl);
	SSL_free(c->outer); /* after the inner one, whose BIO points at it */
	if (c->fd >= 0)
		close(c->fd);
	fed_tunnel_proto_release(&c->proto);
	fed_buf_release(&c->in); /* both sensitive: wiped */
	fed_buf_release(&c->out);
	wipe_free(c->secret);
	wipe_free(c->credential);
	free(c->cluster);
	free(c);
}

void fed_tunnel_conn_free(struct fed_tunnel_conn *c)
{
	if (!c)
		return;
	c->st = ST_DEAD;
	/* the streams' owners (bridges) must learn that they are gone */
	c->depth++;
	while (c->streams) {
		struct fed_tunnel_stream *s = c->streams;

		unlink_stream(c, s);
		if (s->cb && s->cb->reset)
			s->cb->reset(s, FED_TUNNEL_RST_CONN_LOST, s->ud);
		free(s);
	}
	c->depth--;
	if (c->depth > 0) {
		c->freed = true;
		c->st = ST_DEAD;
		ev_io_stop(c->loop, &c->io);
		ev_timer_stop(c->loop, &c->timer);
		ev_timer_stop(c->loop, &c->closer);
		ev_timer_stop(c->loop, &c->resume);
		return;
	}
	destroy(c);
}

/* Every loop entry point brackets its work with enter/leave so that a
 * callback freeing the connection is safe. Returns true if c is gone. */
static void enter(struct fed_tunnel_conn *c)
{
	c->depth++;
}

static bool leave(struct fed_tunnel_conn *c)
{
	if (--c->depth == 0 && c->freed) {
		destroy(c);
		return true;
	}
	return false;
}

/* Reading stops while the peer has not taken what we owe it: replies to
 * a peer that sends and never reads would otherwise grow without bound. */
static bool may_read(const struct fed_tunnel_conn *c)
{
	return c->st != ST_DEAD && !c->closing && !c->auth_pending &&
	       c->out.len < c->opts.max_queued;
}

static void update_io(struct fed_tunnel_conn *c)
{
	int ev = 0;

	if (c->st == ST_DEAD)
		return;
	/* while a resume is due, it reads; the socket need not wake us */
	if ((may_read(c) && !ev_is_active(&c->resume)) || c->write_wants_read)
		ev |= EV_READ;
	if (c->out.len || c->want_write)
		ev |= EV_WRITE;
	if (!ev) {
		ev_io_stop(c->loop, &c->io);
		return;
	}
	if ((c->io.events & (EV_READ | EV_WRITE)) != ev || !ev_is_active(&c->io)) {
		ev_io_stop(c->loop, &c->io);
		ev_io_set(&c->io, c->fd, ev);
		ev_io_start(c->loop, &c->io);
	}
}

/* A token bucket: rate per second, bursts of twice that; rate < 0 is
 * unlimited. The loop's cached time: one burst of frames handled in one
 * callback gets no refill. */
static bool take_token(struct fed_tunnel_conn *c, double *tokens, double *at, double rate)
{
	double now = ev_now(c->loop);

	if (rate < 0)
		return true;
	*tokens += (now - *at) * rate;
	if (*tokens > 2 * rate)
		*tokens = 2 * rate;
	*at = now;
	if (*tokens < 1)
		return false;
	*tokens -= 1;
	return true;
}

static void queue_frame(struct fed_tunnel_conn *c, uint8_t type, uint32_t stream, const void *p,
                        size_t n)
{
	if (c->st == ST_DEAD)
		return;
	if (fed_tunnel_frame_encode(&c->out, type, stream, p, n) < 0) {
		conn_die(c, "out of memory queueing a frame");
		return;
	}
	update_io(c);
}

static void queue_u32(struct fed_tunnel_conn *c, uint8_t type, uint32_t stream, uint32_t v)
{
	uint8_t b[4];

	fed_tunnel_put_u32(b, v);
	queue_frame(c, type, stream, b, 4);
}

static void unlink_stream(struct fed_tunnel_conn *c, struct fed_tunnel_stream *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	fed_tunnel_proto_consumed(&c->proto, NULL, (uint32_t)s->unconsumed);
	fed_tunnel_proto_forget(&c->proto, s->id);
}

/* Reset every stream (callbacks run), then report the connection closed. */
static void conn_die(struct fed_tunnel_conn *c, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (c->st == ST_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* We sent GOAWAY and were about to close: the peer hanging up first
	 * (it read the GOAWAY) is the same ending, not a read error. */
	if (ev_is_active(&c->closer) && strcmp(why, "closed after GOAWAY"))
		snprintf(why, sizeof(why), "closed after GOAWAY");
	c->st = ST_DEAD;
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_stop(c->loop, &c->closer);
	ev_timer_stop(c->loop, &c->resume);
	enter(c);
	while (c->streams && !c->freed) {
		struct fed_tunnel_stream *s = c->streams;

		unlink_stream(c, s);
		if (s->cb && s->cb->reset)
			s->cb->reset(s, FED_TUNNEL_RST_CONN_LOST, s->ud);
		free(s);
	}
	if (!c->freed && c->cb->closed)
		c->cb->closed(c, why, c->ud);
	leave(c);
}

static void send_hello(struct fed_tunnel_conn *c)
{
	uint8_t h[12] = {0};

	h[0] = 0;
	h[1] = FED_TUNNEL_VERSION;
	fed_tunnel_put_u32(h + 4, FED_TUNNEL_MAX_FRAME);
	fed_tunnel_put_u32(h + 8, FED_TUNNEL_STREAM_WINDOW);
	queue_frame(c, FED_TUNNEL_HELLO, 0, h, sizeof(h));
}

static void send_auth(struct fed_tunnel_conn *c)
{
	size_t n = strlen(c->secret);
	uint8_t *p = malloc(n + 1);

	if (!p) {
		conn_die(c, "out of memory");
		return;
	}
	p[0] = (uint8_t)c->auth_kind;
	memcpy(p + 1, c->secret, n);
	queue_frame(c, FED_TUNNEL_AUTH, 0, p, n + 1);
	OPENSSL_cleanse(p, n + 1);
	free(p);
	wipe_free(c->secret);
	c->secret = NULL;
	c->auth_sent = true;
}

static struct fed_tunnel_stream *find_stream(struct fed_tunnel_conn *c, uint32_t id)
{
	struct fed_tunnel_pstream *ps = fed_tunnel_proto_find(&c->proto, id);

	return ps ? ps->ud : NULL;
}

/* Tell every stream that has credit that it may send. The callbacks may
 * close any stream, their own included, so the ids are taken first and
 * each stream is looked up again before its call. */
static void notify_writable(struct fed_tunnel_conn *c)
{
	uint32_t ids[FED_TUNNEL_MAX_STREAMS];
	struct fed_tunnel_stream *s;
	size_t n = 0;

	for (s = c->streams; s && n < FED_TUNNEL_MAX_STREAMS; s = s->next)
		ids[n++] = s->id;
	for (size_t i = 0; i < n && !c->freed && c->st == ST_READY; i++) {
		s = find_stream(c, ids[i]);
		if (s && s->cb && s->cb->writable && fed_tunnel_stream_allowance(s))
			s->cb->writable(s, s->ud);
	}
}

/* The verdict on AUTH, now or later (fed_tunnel_conn_auth_complete):
 * AUTH_OK with the identity and credential, or GOAWAY and close. Takes
 * cluster and cred. */
static void finish_auth(struct fed_tunnel_conn *c, int rc, char *cluster, char *cred,
                        const char *why)
{
	struct fed_buf ok = FED_BUF_INIT_SENSITIVE;

	c->auth_pending = false;
	if (c->freed || c->st == ST_DEAD)
		goto out;
	if (rc < 0 || !cluster) {
		uint8_t g[4 + 64];
		/* not the peer's fault (e.g. a token not spent yet): it may try
		 * again, and an agent with a credential does not fall back to
		 * its token */
		bool retry = rc == FED_EUNAVAILABLE;
		const char *msg = retry ? "try again later" : "authentication failed";

		fed_tunnel_put_u32(g, retry ? FED_TUNNEL_GOAWAY_SHUTDOWN : FED_TUNNEL_GOAWAY_AUTH);
		memcpy(g + 4, msg, strlen(msg));
		queue_frame(c, FED_TUNNEL_GOAWAY, 0, g, 4 + strlen(msg));
		/* flush the GOAWAY on the next loop turn, then close; whatever
		 * the peer sends meanwhile is not even read */
		c->closing = true;
		ev_timer_start(c->loop, &c->closer);
		c->st = ST_HELLO;
		/* anyone can cause this line: a budget keeps a flood out of the log */
		static struct fed_log_limit lim = FED_LOG_LIMIT(20, 10);

		FED_LOG_LIMITED(FED_LOG_WARN, &lim, NULL, "tunnel %s: authentication refused: %s",
		                c->name, why && why[0] ? why : "no identity");
		c->auth_sent = true; /* any further frame is ignored until close */
		goto out;
	}
	c->cluster = cluster;
	cluster = NULL;
	fed_buf_append(&ok, c->cluster, strlen(c->cluster) + 1);
	if (cred)
		fed_buf_puts(&ok, cred);
	queue_frame(c, FED_TUNNEL_AUTH_OK, 0, ok.data, ok.len);
	c->st = ST_READY;
	c->last_rx = ev_now(c->loop);
	if (c->cb->ready)
		c->cb->ready(c, c->cluster, NULL, c->ud);
out:
	fed_buf_release(&ok);
	free(cluster);
	wipe_free(cred);
}

static void handle_auth(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f)
{
	struct fed_error err = FED_ERROR_INIT;
	char *cluster = NULL, *cred = NULL;
	int rc;

	if (!c->is_host || c->st != ST_HELLO || !c->hello_seen || c->cluster || c->auth_pending) {
		conn_die(c, "unexpected AUTH");
		return;
	}
	c->auth_pending = true; /* nothing more is read until the verdict */
	rc =
	    c->cb->auth(c, f->payload[0], f->payload + 1, f->len - 1, &cluster, &cred, c->ud, &err);
	if (rc == FED_TUNNEL_AUTH_PENDING && !c->freed && c->st != ST_DEAD) {
		free(cluster);
		wipe_free(cred);
		return; /* fed_tunnel_conn_auth_complete() follows */
	}
	finish_auth(c, rc == FED_TUNNEL_AUTH_PENDING ? FED_ERR : rc, cluster, cred, err.msg);
}

void fed_tunnel_conn_auth_complete(struct fed_tunnel_conn *c, int rc, char *cluster,
                                   char *credential, const char *why)
{
	if (!c || !c->auth_pending || c->freed || c->st == ST_DEAD) {
		free(cluster);
		wipe_free(credential);
		return;
	}
	enter(c);
	finish_auth(c, rc, cluster, credential, why);
	if (!c->freed && c->st != ST_DEAD) {
		/* what arrived meanwhile waits in c->in or the socket */
		ev_timer_start(c->loop, &c->resume);
		update_io(c);
	}
	leave(c);
}

bool fed_tunnel_conn_auth_pending(const struct fed_tunnel_conn *c)
{
	return c && c->auth_pending;
}

static void handle_auth_ok(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f)
{
	const uint8_t *nul = memchr(f->payload, 0, f->len);
	size_t cl = nul ? (size_t)(nul - f->payload) : 0;

	if (c->is_host || c->st != ST_HELLO || !c->auth_sent || !nul || cl == 0 || cl > 253) {
		conn_die(c, "unexpected or malformed AUTH_OK");
		return;
	}
	c->cluster = strndup((const char *)f->payload, cl);
	if (f->len > cl + 1)
		c->credential = strndup((const char *)nul + 1, f->len - cl - 1);
	if (!c->cluster) {
		conn_die(c, "out of memory");
		return;
	}
	c->st = ST_READY;
	if (c->cb->ready)
		c->cb->ready(c, c->cluster, c->credential, c->ud);
}

static void handle_open(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f)
{
	struct fed_tunnel_pstream *ps = fed_tunnel_proto_find(&c->proto, f->stream);
	struct fed_tunnel_stream *s = calloc(1, sizeof(*s));

	if (!s) {
		fed_tunnel_proto_forget(&c->proto, f->stream);
		queue_u32(c, FED_TUNNEL_RST, f->stream, FED_TUNNEL_RST_TOO_MANY);
		return;
	}
	s->conn = c;
	s->ps = ps;
	s->id = f->stream;
	ps->ud = s;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	if (c->cb->open)
		c->cb->open(c, s, f->payload[0], c->ud);
	else
		fed_tunnel_stream_close(s, FED_TUNNEL_RST_REFUSED);
}

/* Agent: the host rotated our credential on the live connection. */
static void handle_credential(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f)
{
	char *cred = strndup((const char *)f->payload, f->len);

	if (!cred || strlen(cred) != f->len) {
		free(cred);
		conn_die(c, "malformed CREDENTIAL");
		return;
	}
	wipe_free(c->credential);
	c->credential = cred;
	if (c->cb->credential)
		c->cb->credential(c, c->credential, c->ud);
}

/* One decoded frame; returns false when the connection must stop reading. */
static bool handle_frame(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f)
{
	struct fed_error err = FED_ERROR_INIT;
	enum fed_tunnel_verdict v;
	struct fed_tunnel_stream *s;
	uint32_t code;

	c->last_rx = ev_now(c->loop);
	if (c->st == ST_HELLO) {
		/* before authentication only HELLO, AUTH, AUTH_OK, GOAWAY */
		if (c->is_host && c->auth_sent)
			return false; /* refused: waiting to close */
		switch (f->type) {
		case FED_TUNNEL_HELLO:
			if (c->hello_seen || f->payload[1] != FED_TUNNEL_VERSION) {
				conn_die(c, "bad HELLO (version %u)", f->payload[1]);
				return false;
			}
			c->hello_seen = true;
			return true;
		case FED_TUNNEL_AUTH:
			handle_auth(c, f);
			return c->st != ST_DEAD && !c->freed;
		case FED_TUNNEL_AUTH_OK:
			handle_auth_ok(c, f);
			return c->st != ST_DEAD && !c->freed;
		case FED_TUNNEL_GOAWAY:
			conn_die(c, "peer sent GOAWAY %u before authentication",
			         fed_tunnel_get_u32(f->payload));
			return false;
		default:
			conn_die(c, "%s before authentication", fed_tunnel_type_name(f->type));
			return false;
		}
	}
	if (fed_tunnel_proto_recv(&c->proto, f, &v, &code, &err) < 0) {
		uint8_t g[4];

		fed_tunnel_put_u32(g, FED_TUNNEL_GOAWAY_PROTOCOL);
		queue_frame(c, FED_TUNNEL_GOAWAY, 0, g, 4);
		conn_die(c, "protocol violation: %s", err.msg);
		return false;
	}
	if (v == FED_TUNNEL_REFUSE_STREAM) {
		const char *reason =
		    code == FED_TUNNEL_RST_TOO_MANY ? "too_many_streams" : "unknown_stream";

		if (!take_token(c, &c->refused_tokens, &c->refused_at, c->opts.refused_rate)) {
			uint8_t g[4];

			fed_tunnel_put_u32(g, FED_TUNNEL_GOAWAY_PROTOCOL);
			queue_frame(c, FED_TUNNEL_GOAWAY, 0, g, 4);
			conn_die(c, "too many frames for unknown streams (over %.0f/s)",
			         c->opts.refused_rate);
			return false;
		}
		queue_u32(c, FED_TUNNEL_RST, f->stream, code);
		/* the first per connection is logged; a flood only counts */
		if (c->refused++ == 0)
			FED_LOG_WARN(c->cluster, "tunnel %s: %s frame for stream %u refused (%s)",
			             c->name, fed_tunnel_type_name(f->type), f->stream, reason);
		if (c->cb->refused)
			c->cb->refused(c, reason, c->ud);
		goto credit;
	}
	if (v == FED_TUNNEL_IGNORE)
		goto credit;
	switch (f->type) {
	case FED_TUNNEL_OPEN:
		handle_open(c, f);
		break;
	case FED_TUNNEL_OPEN_OK:
		s = find_stream(c, f->stream);
		if (s && s->cb && s->cb->opened)
			s->cb->opened(s, s->ud);
		break;
	case FED_TUNNEL_DATA:
		s = find_stream(c, f->stream);
		if (s && s->cb && s->cb->data) {
			s->unconsumed += f->len;
			s->cb->data(s, f->payload, f->len, s->ud);
		} else /* no consumer yet: credit the connection back */
			fed_tunnel_proto_consumed(&c->proto, NULL, f->len);
		break;
	case FED_TUNNEL_WINDOW:
		if (f->stream == 0) {
			notify_writable(c);
		} else {
			s = find_stream(c, f->stream);
			if (s && s->cb && s->cb->writable)
				s->cb->writable(s, s->ud);
		}
		break;
	case FED_TUNNEL_FIN:
		s = find_stream(c, f->stream);
		if (s && s->cb && s->cb->fin)
			s->cb->fin(s, s->ud);
		break;
	case FED_TUNNEL_RST:
		s = find_stream(c, f->stream);
		if (s) {
			unlink_stream(c, s);
			if (s->cb && s->cb->reset)
				s->cb->reset(s, fed_tunnel_get_u32(f->payload), s->ud);
			free(s);
		}
		break;
	case FED_TUNNEL_PING:
		if (take_token(c, &c->ping_tokens, &c->ping_at, c->opts.ping_rate))
			queue_frame(c, FED_TUNNEL_PONG, 0, f->payload, 8);
		else if (c->cb->refused)
			c->cb->refused(c, "ping_rate", c->ud);
		if (c->cb->heartbeat)
			c->cb->heartbeat(c, c->ud);
		break;
	case FED_TUNNEL_PONG:
		if (c->cb->heartbeat)
			c->cb->heartbeat(c, c->ud);
		break;
	case FED_TUNNEL_METADATA:
		if (c->is_host && c->cb->metadata)
			c->cb->metadata(c, (const char *)f->payload, f->len, c->ud);
		break;
	case FED_TUNNEL_CREDENTIAL:
		if (c->is_host) {
			conn_die(c, "unexpected CREDENTIAL from the agent");
			return false;
		}
		handle_credential(c, f);
		break;
	case FED_TUNNEL_GOAWAY:
		conn_die(c, "peer sent GOAWAY %u", fed_tunnel_get_u32(f->payload));
		return false;
	default: /* HELLO/AUTH/AUTH_OK again */
		conn_die(c, "unexpected %s after authentication", fed_tunnel_type_name(f->type));
		return false;
	}
credit:
	/* every path, refused and ignored DATA too: what the peer sent
	 * counts against the connection window until we grant it back */
	if (!c->freed && c->st != ST_DEAD) {
		uint32_t inc = fed_tunnel_proto_take_conn_credit(&c->proto);

		if (inc)
			queue_u32(c, FED_TUNNEL_WINDOW, 0, inc);
	}
	return !c->freed && c->st != ST_DEAD;
}

static void ssl_fail(struct fed_tunnel_conn *c, const char *what, int ret)
{
	int e = SSL_get_error(c->ssl, ret);
	unsigned long code = ERR_get_error();
	char buf[160] = "";

	if (code)
		ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	if (e == SSL_ERROR_ZERO_RETURN)
		conn_die(c, "%s: the peer closed the connection", what);
	else if (e == SSL_ERROR_SYSCALL)
		conn_die(c, "%s: %s", what,
		         ret == 0 || errno == 0 ? "connection closed" : strerror(errno));
	else if (c->st == ST_HANDSHAKE && SSL_get_verify_result(c->ssl) != X509_V_OK)
		conn_die(c, "%s: certificate verification failed: %s (check the pinned host CA)",
		         what, X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
	else
		conn_die(c, "%s: %s", what, buf[0] ? buf : "TLS error");
}

/* Whether this turn of the loop has a handshake step left. A turn is
 * told by the loop's cached time, which libev updates once per turn. */
static bool handshake_turn(struct fed_tunnel_conn *c)
{
	static double turn = -1;
	static int used;

	if (ev_now(c->loop) != turn) {
		turn = ev_now(c->loop);
		used = 0;
	}
	return used++ < HANDSHAKES_PER_TURN;
}

static void do_handshake(struct fed_tunnel_conn *c)
{
	int rc = 1;

	if (c->ssl) {
		if (!handshake_turn(c)) {
			ev_timer_start(c->loop, &c->resume);
			return;
		}
		ERR_clear_error();
		rc = SSL_do_handshake(c->ssl);
	}
	if (rc == 1) {
		c->want_write = false;
		c->st = ST_HELLO;
		send_hello(c);
		if (!c->is_host)
			send_auth(c);
		return;
	}
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		c->want_write = false;
		return;
	case SSL_ERROR_WANT_WRITE:
		c->want_write = true;
		return;
	default:
		ssl_fail(c, "TLS handshake", rc);
	}
}

/* The transport: TLS, or a plain socket (tests and the fuzzer). Both
 * return the bytes moved, 0 when the socket would block, or -1 when the
 * connection died (conn_die ran). */
static int xread(struct fed_tunnel_conn *c, void *buf, int n)
{
	int rc;

	if (!c->ssl) {
		ssize_t r = read(c->fd, buf, (size_t)n);

		if (r > 0)
			return (int)r;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		conn_die(c, "read: %s",
		         r == 0 ? "the peer closed the connection" : strerror(errno));
		return -1;
	}
	ERR_clear_error();
	rc = SSL_read(c->ssl, buf, n);
	if (rc > 0)
		return rc;
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->want_write = true;
		return 0;
	default:
		ssl_fail(c, "read", rc);
		return -1;
	}
}

static int xwrite(struct fed_tunnel_conn *c, const void *buf, int n)
{
	int rc;

	if (!c->ssl) {
		ssize_t r = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);

		if (r >= 0)
			return (int)r;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			c->want_write = true;
			return 0;
		}
		conn_die(c, "write: %s", strerror(errno));
		return -1;
	}
	ERR_clear_error();
	rc = SSL_write(c->ssl, buf, n);
	if (rc > 0)
		return rc;
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_WRITE:
		c->want_write = true;
		return 0;
	case SSL_ERROR_WANT_READ:
		c->write_wants_read = true;
		return 0;
	default:
		ssl_fail(c, "write", rc);
		return -1;
	}
}

static void do_write(struct fed_tunnel_conn *c)
{
	c->want_write = c->write_wants_read = false;
	while (c->out.len && c->st != ST_DEAD) {
		int rc = xwrite(c, c->out.data, c->out.len > 1 << 20 ? 1 << 20 : (int)c->out.len);

		if (rc <= 0)
			return;
		fed_buf_consume(&c->out, (size_t)rc);
	}
}

/* Decode and handle the whole frames in c->in; false when the connection
 * must stop reading (dead, refused, or waiting on an AUTH verdict). */
static bool decode_in(struct fed_tunnel_conn *c)
{
	struct fed_tunnel_frame f;
	struct fed_error err = FED_ERROR_INIT;
	size_t used, off = 0;
	int d;

	while ((d = fed_tunnel_frame_decode((const uint8_t *)c->in.data + off, c->in.len - off,
	                                    FED_TUNNEL_MAX_FRAME, &f, &used, &err)) == 1) {
		off += used;
		if (!handle_frame(c, &f)) {
			/* dead, or refused and closing: the rest is dropped */
			if (!c->freed && c->st != ST_DEAD)
				fed_buf_reset(&c->in);
			return false;
		}
		if (c->auth_pending) {
			/* the rest waits for the verdict */
			fed_buf_consume(&c->in, off);
			return false;
		}
	}
	fed_buf_consume(&c->in, off);
	if (d < 0) {
		uint8_t g[4];

		fed_tunnel_put_u32(g, FED_TUNNEL_GOAWAY_PROTOCOL);
		queue_frame(c, FED_TUNNEL_GOAWAY, 0, g, 4);
		do_write(c);
		conn_die(c, "malformed frame: %s", err.msg);
		return false;
	}
	return true;
}

static void do_read(struct fed_tunnel_conn *c)
{
	uint8_t buf[16384];
	size_t budget = READ_BUDGET;

	/* frames left over from before an AUTH verdict */
	if (c->in.len && may_read(c) && !decode_in(c))
		return;
	while (may_read(c) && !c->freed) {
		int rc;

		if (!budget) {
			/* yield: timers and other sockets take their turn, then the
			 * resume timer reads on (TLS may hold decrypted bytes that
			 * the socket no longer signals) */
			ev_timer_start(c->loop, &c->resume);
			return;
		}
		rc = xread(c, buf, sizeof(buf));
		if (rc <= 0)
			return;
		budget = budget > (size_t)rc ? budget - (size_t)rc : 0;
		if (fed_buf_append(&c->in, buf, (size_t)rc) < 0) {
			conn_die(c, "out of memory");
			return;
		}
		if (!decode_in(c))
			return;
	}
}

/* One turn of work for the connection, from its socket or its resume
 * timer. Streams held back by a full output queue hear once it drained
 * below the DATA threshold. */
static void service(struct fed_tunnel_conn *c)
{
	bool held = c->out.len >= c->opts.max_queued / 2;

	enter(c);
	if (c->st == ST_HANDSHAKE)
		do_handshake(c);
	if (c->st != ST_HANDSHAKE && c->st != ST_DEAD) {
		do_write(c);
		if (c->st != ST_DEAD && !c->freed)
			do_read(c);
		if (c->st != ST_DEAD && !c->freed)
			do_write(c);
		if (held && c->out.len < c->opts.max_queued / 2 && c->st == ST_READY && !c->freed)
			notify_writable(c);
	}
	if (!c->freed)
		update_io(c);
	leave(c);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	service(w->data);
}

static void resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	service(w->data);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_tunnel_conn *c = w->data;
	double now = ev_now(loop);

	enter(c);
	if (c->st != ST_READY) {
		if (now - c->started >= c->opts.handshake_timeout)
			conn_die(c, "no TLS handshake and authentication within %.0f s",
			         c->opts.handshake_timeout);
	} else if (now - c->last_rx >= c->opts.heartbeat * c->opts.missed) {
		conn_die(c, "no heartbeat for %.0f s (%d missed)", now - c->last_rx,
		         c->opts.missed);
	} else {
		uint8_t ping[8];

		RAND_bytes(ping, sizeof(ping));
		queue_frame(c, FED_TUNNEL_PING, 0, ping, sizeof(ping));
	}
	leave(c);
}

static void closer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_tunnel_conn *c = w->data;

	enter(c);
	do_write(c);
	conn_die(c, "closed after GOAWAY");
	leave(c);
}

/* TLS in TLS: the tunnel's SSL reads and writes through a BIO_f_ssl on
 * the proxy's session. That BIO passes the outer session's WANT_READ and
 * WANT_WRITE up as retries, so the inner SSL reports them as usual and the
 * one ev_io on the socket drives both. */
static bool set_outer_bio(struct fed_tunnel_conn *c)
{
	BIO *b = BIO_new(BIO_f_ssl());

	if (!b)
		return false;
	SSL_set_mode(c->outer, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	BIO_set_ssl(b, c->outer, BIO_NOCLOSE); /* c->outer is freed in destroy() */
	SSL_set_bio(c->ssl, b, b);
	return true;
}

static int conn_new(struct ev_loop *loop, int fd, SSL_CTX *ctx, bool is_host,
                    const struct fed_tunnel_conn_opts *opts, const struct fed_tunnel_conn_cb *cb,
                    void *ud, struct fed_tunnel_conn **out, struct fed_error *err)
{
	struct fed_tunnel_conn *c = calloc(1, sizeof(*c));
	double interval;

	*out = NULL;
	if (!c) {
		SSL_free(opts ? opts->outer : NULL);
		close(fd);
		return fed_error_set(err, FED_ENOMEM, "tunnel: out of memory");
	}
	c->loop = loop;
	c->fd = fd;
	c->is_host = is_host;
	c->cb = cb;
	c->ud = ud;
	if (opts)
		c->opts = *opts;
	if (c->opts.heartbeat <= 0)
		c->opts.heartbeat = 10;
	if (c->opts.missed <= 0)
		c->opts.missed = 3;
	if (c->opts.handshake_timeout <= 0)
		c->opts.handshake_timeout = 10;
	if (c->opts.max_queued == 0)
		c->opts.max_queued = FED_TUNNEL_DEFAULT_MAX_QUEUED;
	if (c->opts.ping_rate <= 0)
		c->opts.ping_rate = FED_TUNNEL_DEFAULT_PING_RATE;
	if (c->opts.refused_rate == 0)
		c->opts.refused_rate = FED_TUNNEL_DEFAULT_REFUSED_RATE;
	c->ping_tokens = 2 * c->opts.ping_rate;
	c->refused_tokens = 2 * c->opts.refused_rate;
	c->ping_at = c->refused_at = ev_now(loop);
	snprintf(c->name, sizeof(c->name), "%s", c->opts.name ? c->opts.name : "peer");
	c->opts.name = c->name;
	c->outer = c->opts.outer;
	c->opts.outer = NULL;
	fed_tunnel_proto_init(&c->proto, is_host);
	/* AUTH, AUTH_OK and CREDENTIAL pass through them */
	fed_buf_set_sensitive(&c->in);
	fed_buf_set_sensitive(&c->out);
	/* frames are small and latency matters: no Nagle (it meets delayed
	 * ACKs for 40 ms stalls); a non-TCP socket just ignores it */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	/* no ctx: a plain socket, for tests and the fuzzer only */
	if (ctx) {
		c->ssl = SSL_new(ctx);
		if (!c->ssl || (c->outer ? !set_outer_bio(c) : !SSL_set_fd(c->ssl, fd))) {
			destroy(c);
			return fed_error_set(err, FED_ETLS, "tunnel: cannot set up TLS");
		}
		SSL_set_mode(c->ssl,
		             SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		if (is_host)
			SSL_set_accept_state(c->ssl);
		else
			SSL_set_connect_state(c->ssl);
	}
	c->started = c->last_rx = ev_now(loop);
	ev_io_init(&c->io, io_cb, fd, EV_READ | EV_WRITE);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	/* check liveness a few times per interval; PING once per interval */
	interval = c->opts.heartbeat;
	if (interval > c->opts.handshake_timeout)
		interval = c->opts.handshake_timeout;
	ev_timer_init(&c->timer, timer_cb, interval, interval);
	c->timer.data = c;
	ev_timer_start(loop, &c->timer);
	ev_timer_init(&c->closer, closer_cb, 0., 0.);
	c->closer.data = c;
	ev_timer_init(&c->resume, resume_cb, 0., 0.);
	c->resume.data = c;
	*out = c;
	return 0;
}

int fed_tunnel_conn_accept(struct ev_loop *loop, int fd, SSL_CTX *ctx,
                           const struct fed_tunnel_conn_opts *opts,
                           const struct fed_tunnel_conn_cb *cb, void *ud,
                           struct fed_tunnel_conn **out, struct fed_error *err)
{
	return conn_new(loop, fd, ctx, true, opts, cb, ud, out, err);
}

int fed_tunnel_conn_connect(struct ev_loop *loop, int fd, SSL_CTX *ctx, const char *verify_host,
                            int auth_kind, const char *secret,
                            const struct fed_tunnel_conn_opts *opts,
                            const struct fed_tunnel_conn_cb *cb, void *ud,
                            struct fed_tunnel_conn **out, struct fed_error *err)
{
	struct fed_tunnel_conn *c;
	X509_VERIFY_PARAM *vp;
	int rc = conn_new(loop, fd, ctx, false, opts, cb, ud, &c, err);

	if (rc < 0)
		return rc;
	c->auth_kind = auth_kind;
	c->secret = strdup(secret ? secret : "");
	vp = SSL_get0_param(c->ssl);
	/* an IP literal is matched against IP SANs, a name against DNS SANs */
	if (!c->secret || !verify_host ||
	    (!X509_VERIFY_PARAM_set1_ip_asc(vp, verify_host) &&
	     (!X509_VERIFY_PARAM_set1_host(vp, verify_host, 0) ||
	      !SSL_set_tlsext_host_name(c->ssl, verify_host)))) {
		destroy(c);
		return fed_error_set(err, FED_EINVAL, "tunnel: cannot verify host name");
	}
	*out = c;
	return 0;
}

int fed_tunnel_conn_plain(struct ev_loop *loop, int fd, bool is_host, int auth_kind,
                          const char *secret, const struct fed_tunnel_conn_opts *opts,
                          const struct fed_tunnel_conn_cb *cb, void *ud,
                          struct fed_tunnel_conn **out, struct fed_error *err)
{
	int rc = conn_new(loop, fd, NULL, is_host, opts, cb, ud, out, err);

	if (rc < 0 || is_host)
		return rc;
	(*out)->auth_kind = auth_kind;
	(*out)->secret = strdup(secret ? secret : "");
	if (!(*out)->secret) {
		destroy(*out);
		*out = NULL;
		return fed_error_set(err, FED_ENOMEM, "tunnel: out of memory");
	}
	return 0;
}

struct fed_tunnel_proto *fed_tunnel_conn_proto(struct fed_tunnel_conn *c)
{
	return &c->proto;
}

void fed_tunnel_conn_shutdown(struct fed_tunnel_conn *c, uint32_t code, const char *reason)
{
	uint8_t g[4 + 64];
	size_t n = reason ? strlen(reason) : 0;

	if (!c || c->st == ST_DEAD)
		return;
	if (n > 64)
		n = 64;
	fed_tunnel_put_u32(g, code);
	if (n)
		memcpy(g + 4, reason, n);
	if (c->st == ST_READY || c->st == ST_HELLO)
		queue_frame(c, FED_TUNNEL_GOAWAY, 0, g, 4 + n);
	c->closing = true;
	ev_timer_start(c->loop, &c->closer);
	update_io(c);
}

int fed_tunnel_conn_send_metadata(struct fed_tunnel_conn *c, const char *json, size_t len)
{
	if (c->st != ST_READY)
		return FED_EUNAVAILABLE;
	if (len < 2 || len > FED_TUNNEL_MAX_FRAME)
		return FED_EINVAL;
	queue_frame(c, FED_TUNNEL_METADATA, 0, json, len);
	return 0;
}

int fed_tunnel_conn_send_credential(struct fed_tunnel_conn *c, const char *cred)
{
	size_t n = cred ? strlen(cred) : 0;

	if (!c->is_host || c->st != ST_READY)
		return FED_EUNAVAILABLE;
	if (n == 0 || n > FED_TUNNEL_MAX_FRAME)
		return FED_EINVAL;
	queue_frame(c, FED_TUNNEL_CREDENTIAL, 0, cred, n);
	return 0;
}

bool fed_tunnel_conn_ready(const struct fed_tunnel_conn *c)
{
	return c && c->st == ST_READY;
}

const char *fed_tunnel_conn_cluster(const struct fed_tunnel_conn *c)
{
	return c->cluster;
}

size_t fed_tunnel_conn_nstreams(const struct fed_tunnel_conn *c)
{
	return c->proto.nstreams;
}

const char *fed_tunnel_conn_name(const struct fed_tunnel_conn *c)
{
	return c->name;
}

/* ---- streams ---- */

int fed_tunnel_stream_open(struct fed_tunnel_conn *c, int target,
                           const struct fed_tunnel_stream_cb *cb, void *ud,
                           struct fed_tunnel_stream **out, struct fed_error *err)
{
	struct fed_tunnel_pstream *ps;
	struct fed_tunnel_stream *s;
	uint8_t t = (uint8_t)target;
	int rc;

	*out = NULL;
	if (c->st != ST_READY || c->closing)
		return fed_error_set(err, FED_EUNAVAILABLE, "tunnel %s: not connected", c->name);
	if (c->proto.next_id > 0x7ffffffdu - 2 * FED_TUNNEL_IDS_RESERVE) {
		/* renew the connection while ids are left for what is in flight:
		 * the agent dials again on GOAWAY */
		FED_LOG_INFO(c->cluster,
		             "tunnel %s: stream ids nearly used up: renewing the connection",
		             c->name);
		fed_tunnel_conn_shutdown(c, FED_TUNNEL_GOAWAY_SHUTDOWN, "stream ids used up");
		return fed_error_set(err, FED_EUNAVAILABLE,
		                     "tunnel %s: renewing the connection (stream ids used up)",
		                     c->name);
	}
	rc = fed_tunnel_proto_open(&c->proto, &ps, err);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s) {
		fed_tunnel_proto_forget(&c->proto, ps->id);
		return fed_error_set(err, FED_ENOMEM, "tunnel: out of memory");
	}
	s->conn = c;
	s->ps = ps;
	s->id = ps->id;
	s->cb = cb;
	s->ud = ud;
	ps->ud = s;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	queue_frame(c, FED_TUNNEL_OPEN, s->id, &t, 1);
	*out = s;
	return 0;
}

void fed_tunnel_stream_accept(struct fed_tunnel_stream *s, const struct fed_tunnel_stream_cb *cb,
                              void *ud)
{
	s->cb = cb;
	s->ud = ud;
	s->accepted = true;
	queue_frame(s->conn, FED_TUNNEL_OPEN_OK, s->id, NULL, 0);
}

void fed_tunnel_stream_set_cb(struct fed_tunnel_stream *s, const struct fed_tunnel_stream_cb *cb,
                              void *ud)
{
	s->cb = cb;
	s->ud = ud;
}

size_t fed_tunnel_stream_allowance(const struct fed_tunnel_stream *s)
{
	/* DATA waits while the queue is half full, so that DATA alone never
	 * reaches max_queued and stops reading: only a peer that provokes
	 * replies and never reads does */
	if (s->conn->st != ST_READY || s->conn->out.len >= s->conn->opts.max_queued / 2)
		return 0;
	return fed_tunnel_proto_allowance(&s->conn->proto, s->ps);
}

size_t fed_tunnel_stream_send(struct fed_tunnel_stream *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t done = 0;

	while (done < n) {
		size_t a = fed_tunnel_stream_allowance(s);
		size_t k = n - done < a ? n - done : a;

		if (k == 0)
			break;
		queue_frame(s->conn, FED_TUNNEL_DATA, s->id, b + done, k);
		fed_tunnel_proto_sent(&s->conn->proto, s->ps, (uint32_t)k);
		done += k;
	}
	return done;
}

void fed_tunnel_stream_consumed(struct fed_tunnel_stream *s, size_t n)
{
	struct fed_tunnel_conn *c = s->conn;
	uint32_t inc;

	if (n > s->unconsumed)
		n = s->unconsumed;
	s->unconsumed -= n;
	inc = fed_tunnel_proto_consumed(&c->proto, s->ps, (uint32_t)n);

	if (inc)
		queue_u32(c, FED_TUNNEL_WINDOW, s->id, inc);
	inc = fed_tunnel_proto_take_conn_credit(&c->proto);
	if (inc)
		queue_u32(c, FED_TUNNEL_WINDOW, 0, inc);
}

void fed_tunnel_stream_fin(struct fed_tunnel_stream *s)
{
	if (s->ps->local_fin)
		return;
	s->ps->local_fin = true;
	queue_frame(s->conn, FED_TUNNEL_FIN, s->id, NULL, 0);
}

void fed_tunnel_stream_close(struct fed_tunnel_stream *s, uint32_t code)
{
	struct fed_tunnel_conn *c = s->conn;

	if (!(s->ps->local_fin && s->ps->remote_fin))
		queue_u32(c, FED_TUNNEL_RST, s->id, code ? code : FED_TUNNEL_RST_CANCEL);
	/* unlink credits what the peer sent and we never consumed back to
	 * the connection window */
	unlink_stream(c, s);
	if (c->st == ST_READY) {
		uint32_t inc = fed_tunnel_proto_take_conn_credit(&c->proto);

		if (inc)
			queue_u32(c, FED_TUNNEL_WINDOW, 0, inc);
	}
	free(s);
}

uint32_t fed_tunnel_stream_id(const struct fed_tunnel_stream *s)
{
	return s->id;
}

struct fed_tunnel_conn *fed_tunnel_stream_conn(const struct fed_tunnel_stream *s)
{
	return s->conn;
}
