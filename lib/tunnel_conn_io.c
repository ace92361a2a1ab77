/* The transport under a tunnel connection: the TLS handshake, reading
 * and writing the socket, decoding frames in, and the timers (heartbeat,
 * deferred close). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "fed/log.h"
#include "fed/tunnel_conn.h"
#include "tunnel_conn_internal.h"

/* Bytes one connection reads per loop turn before it yields: large enough
 * for throughput, small enough that timers never wait long. */
#define READ_BUDGET (512u << 10)
/* TLS handshake steps (a few ms of public-key work at most) per loop turn,
 * over all connections: strangers dialling by the hundred wait their turn
 * instead of stalling the timers (heartbeats, the Lease). */
#define HANDSHAKES_PER_TURN 8

static void send_hello(struct fed_tunnel_conn *c)
{
	uint8_t h[12] = {0};

	h[0] = 0;
	h[1] = FED_TUNNEL_VERSION;
	h[2] = (uint8_t)(c->opts.features >> 8);
	h[3] = (uint8_t)c->opts.features;
	fed_tunnel_put_u32(h + 4, FED_TUNNEL_MAX_FRAME);
	fed_tunnel_put_u32(h + 8, FED_TUNNEL_STREAM_WINDOW);
	fed_tunnel_conn_queue_frame(c, FED_TUNNEL_HELLO, 0, h, sizeof(h));
}

static void send_auth(struct fed_tunnel_conn *c)
{
	size_t n = strlen(c->secret);
	uint8_t *p = malloc(n + 1);

	if (!p) {
		fed_tunnel_conn_die(c, "out of memory");
		return;
	}
	p[0] = (uint8_t)c->auth_kind;
	memcpy(p + 1, c->secret, n);
	fed_tunnel_conn_queue_frame(c, FED_TUNNEL_AUTH, 0, p, n + 1);
	OPENSSL_cleanse(p, n + 1);
	free(p);
	fed_tunnel_conn_wipe_free(c->secret);
	c->secret = NULL;
	c->auth_sent = true;
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
		fed_tunnel_conn_die(c, "%s: the peer closed the connection", what);
	else if (e == SSL_ERROR_SYSCALL)
		fed_tunnel_conn_die(c, "%s: %s", what,
		                    ret == 0 || errno == 0 ? "connection closed" : strerror(errno));
	else if (c->st == ST_HANDSHAKE && SSL_get_verify_result(c->ssl) != X509_V_OK)
		fed_tunnel_conn_die(
		    c, "%s: certificate verification failed: %s (check the pinned host CA)", what,
		    X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
	else
		fed_tunnel_conn_die(c, "%s: %s", what, buf[0] ? buf : "TLS error");
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
		fed_tunnel_conn_die(c, "read: %s",
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
		fed_tunnel_conn_die(c, "write: %s", strerror(errno));
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
		if (!fed_tunnel_conn_handle_frame(c, &f)) {
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
		fed_tunnel_conn_queue_frame(c, FED_TUNNEL_GOAWAY, 0, g, 4);
		do_write(c);
		fed_tunnel_conn_die(c, "malformed frame: %s", err.msg);
		return false;
	}
	return true;
}

static void do_read(struct fed_tunnel_conn *c)
{
	uint8_t buf[16384];
	size_t budget = READ_BUDGET;

	/* frames left over from before an AUTH verdict */
	if (c->in.len && fed_tunnel_conn_may_read(c) && !decode_in(c))
		return;
	while (fed_tunnel_conn_may_read(c) && !c->freed) {
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
			fed_tunnel_conn_die(c, "out of memory");
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

	fed_tunnel_conn_enter(c);
	if (c->st == ST_HANDSHAKE)
		do_handshake(c);
	if (c->st != ST_HANDSHAKE && c->st != ST_DEAD) {
		do_write(c);
		if (c->st != ST_DEAD && !c->freed)
			do_read(c);
		if (c->st != ST_DEAD && !c->freed)
			do_write(c);
		if (held && c->out.len < c->opts.max_queued / 2 && c->st == ST_READY && !c->freed)
			fed_tunnel_conn_notify_writable(c);
	}
	if (!c->freed)
		fed_tunnel_conn_update_io(c);
	fed_tunnel_conn_leave(c);
}

void fed_tunnel_conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	service(w->data);
}

void fed_tunnel_conn_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	service(w->data);
}

void fed_tunnel_conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_tunnel_conn *c = w->data;
	double now = ev_now(loop);

	fed_tunnel_conn_enter(c);
	if (c->st != ST_READY) {
		if (now - c->started >= c->opts.handshake_timeout)
			fed_tunnel_conn_die(c, "no TLS handshake and authentication within %.0f s",
			                    c->opts.handshake_timeout);
	} else if (now - c->last_rx >= c->opts.heartbeat * c->opts.missed) {
		fed_tunnel_conn_die(c, "no heartbeat for %.0f s (%d missed)", now - c->last_rx,
		                    c->opts.missed);
	} else {
		uint8_t ping[8];

		RAND_bytes(ping, sizeof(ping));
		fed_tunnel_conn_queue_frame(c, FED_TUNNEL_PING, 0, ping, sizeof(ping));
	}
	fed_tunnel_conn_leave(c);
}

void fed_tunnel_conn_closer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_tunnel_conn *c = w->data;

	fed_tunnel_conn_enter(c);
	do_write(c);
	fed_tunnel_conn_die(c, "closed after GOAWAY");
	fed_tunnel_conn_leave(c);
}
