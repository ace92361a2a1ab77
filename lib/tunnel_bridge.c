/* A tunnel stream joined to a socket (plain or TLS), with backpressure
 * both ways. See fed/tunnel_conn.h. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>

#include "fed/buf.h"
#include "fed/tunnel_conn.h"
#include "sock_io.h"

struct fed_tunnel_bridge {
	struct ev_loop *loop;
	struct fed_tunnel_stream *st;
	int fd;
	SSL *ssl;
	ev_io io;
	ev_timer resume; /* 0 s: read on after yielding to the loop */
	bool tcp_connecting, tls_handshaking;
	bool ssl_want_read, ssl_want_write;
	bool ep_eof;     /* the socket said EOF: FIN sent on the stream */
	bool stream_fin; /* the peer sent FIN: shut the socket's write side once flushed */
	bool ep_shut;    /* write side shut */
	bool failing;    /* filter refused: reply sent, waiting to end */
	struct fed_buf to_ep;
	size_t pending_credit; /* stream bytes behind to_ep, credited when it is flushed */
	struct fed_tunnel_filter filter;
	void (*done)(void *ud, const char *why);
	void *ud;
	int depth;
	bool ended;
};

static void bridge_end(struct fed_tunnel_bridge *b, uint32_t rst, const char *why);

static void destroy(struct fed_tunnel_bridge *b)
{
	ev_io_stop(b->loop, &b->io);
	ev_timer_stop(b->loop, &b->resume);
	if (b->ssl)
		SSL_free(b->ssl);
	if (b->fd >= 0)
		close(b->fd);
	if (b->filter.free)
		b->filter.free(b->filter.fud);
	if (b->to_ep.data)
		memset(b->to_ep.data, 0, b->to_ep.cap); /* carried a bearer token */
	fed_buf_release(&b->to_ep);
	free(b);
}

static bool connected(const struct fed_tunnel_bridge *b)
{
	return !b->tcp_connecting && !b->tls_handshaking;
}

static void update_io(struct fed_tunnel_bridge *b)
{
	int ev = 0;

	if (b->ended)
		return;
	if (b->tcp_connecting) {
		ev = EV_WRITE;
	} else if (b->tls_handshaking) {
		ev = b->ssl_want_write ? EV_WRITE : EV_READ;
	} else {
		/* while a resume is due, it reads */
		if ((!b->ep_eof && fed_tunnel_stream_allowance(b->st) > 0 &&
		     !ev_is_active(&b->resume)) ||
		    b->ssl_want_read)
			ev |= EV_READ;
		if ((b->to_ep.len && !b->ssl_want_read) || b->ssl_want_write)
			ev |= EV_WRITE;
	}
	if ((b->io.events & (EV_READ | EV_WRITE)) != ev || (ev && !ev_is_active(&b->io))) {
		ev_io_stop(b->loop, &b->io);
		if (ev) {
			ev_io_set(&b->io, b->fd, ev);
			ev_io_start(b->loop, &b->io);
		}
	}
}

/* 1 = progress, 0 = would block, -1 = EOF, -2 = error */
static int ep_read(struct fed_tunnel_bridge *b, void *buf, size_t n, size_t *got)
{
	if (b->ssl)
		b->ssl_want_read = false;
	return fed_sock_step(fed_sock_read(b->fd, b->ssl, buf, n, got), NULL,
	                     b->ssl ? &b->ssl_want_write : NULL);
}

static int ep_write(struct fed_tunnel_bridge *b, const void *buf, size_t n, size_t *put)
{
	int rc =
	    fed_sock_step(fed_sock_write(b->fd, b->ssl, buf, n, put),
	                  b->ssl ? &b->ssl_want_read : NULL, b->ssl ? &b->ssl_want_write : NULL);

	return rc < 0 ? -2 : rc;
}

static void maybe_finish(struct fed_tunnel_bridge *b)
{
	if (b->ended)
		return;
	if (b->stream_fin && !b->to_ep.len && !b->ep_shut && connected(b)) {
		b->ep_shut = true;
		if (b->ssl)
			SSL_shutdown(b->ssl);
		shutdown(b->fd, SHUT_WR);
	}
	if (b->ep_eof && b->stream_fin && !b->to_ep.len)
		bridge_end(b, 0, "finished");
}

static void flush(struct fed_tunnel_bridge *b)
{
	while (b->to_ep.len && !b->ended) {
		size_t put;
		int rc = ep_write(b, b->to_ep.data, b->to_ep.len, &put);

		if (rc == 0)
			return;
		if (rc < 0) {
			bridge_end(b, FED_TUNNEL_RST_UNREACHABLE, "write to the socket failed");
			return;
		}
		fed_buf_consume(&b->to_ep, put);
		if (!b->filter.feed) {
			size_t n = put < b->pending_credit ? put : b->pending_credit;

			b->pending_credit -= n;
			fed_tunnel_stream_consumed(b->st, n);
		}
	}
	if (!b->to_ep.len && b->pending_credit && !b->ended) {
		fed_tunnel_stream_consumed(b->st, b->pending_credit);
		b->pending_credit = 0;
	}
	maybe_finish(b);
}

static void pump_in(struct fed_tunnel_bridge *b)
{
	uint8_t buf[16384];
	int rounds = 64;

	while (!b->ended && !b->ep_eof) {
		size_t a = fed_tunnel_stream_allowance(b->st), got;
		int rc;

		if (a == 0)
			return;
		if (rounds-- == 0) {
			/* yield: timers and other sockets take their turn; TLS may
			 * hold decrypted bytes the socket no longer signals, so a
			 * timer, not the socket, brings us back */
			ev_timer_start(b->loop, &b->resume);
			return;
		}
		rc = ep_read(b, buf, a < sizeof(buf) ? a : sizeof(buf), &got);
		if (rc == 0)
			return;
		if (rc == -2) {
			bridge_end(b, FED_TUNNEL_RST_UNREACHABLE, "read from the socket failed");
			return;
		}
		if (rc == -1) {
			b->ep_eof = true;
			fed_tunnel_stream_fin(b->st);
			maybe_finish(b);
			return;
		}
		if (b->filter.response)
			b->filter.response(b->filter.fud, buf, got);
		fed_tunnel_stream_send(b->st, buf, got);
	}
}

static void step_connect(struct fed_tunnel_bridge *b)
{
	if (b->tcp_connecting) {
		int e = 0;
		socklen_t len = sizeof(e);

		if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 || e) {
			bridge_end(b, FED_TUNNEL_RST_UNREACHABLE, "connect failed");
			return;
		}
		b->tcp_connecting = false;
	}
	if (b->tls_handshaking) {
		int rc;

		ERR_clear_error();
		rc = SSL_do_handshake(b->ssl);
		b->ssl_want_read = b->ssl_want_write = false;
		if (rc == 1) {
			b->tls_handshaking = false;
		} else {
			int e = SSL_get_error(b->ssl, rc);

			if (e == SSL_ERROR_WANT_READ)
				return;
			if (e == SSL_ERROR_WANT_WRITE) {
				b->ssl_want_write = true;
				return;
			}
			bridge_end(b, FED_TUNNEL_RST_UNREACHABLE,
			           SSL_get_verify_result(b->ssl) != X509_V_OK
			               ? "TLS verification of the target failed"
			               : "TLS handshake with the target failed");
		}
	}
}

static void enter(struct fed_tunnel_bridge *b)
{
	b->depth++;
}

static void leave(struct fed_tunnel_bridge *b)
{
	if (--b->depth == 0 && b->ended)
		destroy(b);
	else if (!b->ended)
		update_io(b);
}

static void service(struct fed_tunnel_bridge *b)
{
	enter(b);
	if (!connected(b))
		step_connect(b);
	if (!b->ended && connected(b)) {
		flush(b);
		if (!b->ended)
			pump_in(b);
		if (!b->ended)
			flush(b);
	}
	leave(b);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	service(w->data);
}

static void resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	service(w->data);
}

/* End the bridge: RST the stream unless it finished or is gone already. */
static void bridge_end(struct fed_tunnel_bridge *b, uint32_t rst, const char *why)
{
	if (b->ended)
		return;
	b->ended = true;
	ev_io_stop(b->loop, &b->io);
	ev_timer_stop(b->loop, &b->resume);
	if (b->st) {
		fed_tunnel_stream_close(b->st, rst);
		b->st = NULL;
	}
	if (b->done)
		b->done(b->ud, why);
}

static void st_data(struct fed_tunnel_stream *s, const uint8_t *p, size_t n, void *ud)
{
	struct fed_tunnel_bridge *b = ud;

	enter(b);
	if (b->failing) {
		fed_tunnel_stream_consumed(s, n);
	} else if (b->filter.feed) {
		struct fed_buf reply = FED_BUF_INIT;

		if (b->filter.feed(b->filter.fud, p, n, &b->to_ep, &reply) < 0) {
			/* the reply fits the fresh window of the stream */
			fed_tunnel_stream_consumed(s, n);
			fed_tunnel_stream_send(s, reply.data, reply.len);
			fed_tunnel_stream_fin(s);
			b->failing = true;
			b->ep_eof = true;
			fed_buf_reset(&b->to_ep);
		} else {
			b->pending_credit += n;
		}
		fed_buf_release(&reply);
	} else if (fed_buf_append(&b->to_ep, p, n) < 0) {
		bridge_end(b, FED_TUNNEL_RST_CANCEL, "out of memory");
	} else {
		b->pending_credit += n;
	}
	if (!b->ended && connected(b))
		flush(b);
	leave(b);
}

static void st_fin(struct fed_tunnel_stream *s, void *ud)
{
	struct fed_tunnel_bridge *b = ud;

	enter(b);
	b->stream_fin = true;
	if (b->failing) {
		bridge_end(b, 0, "refused request");
	} else {
		if (connected(b))
			flush(b);
		maybe_finish(b);
	}
	leave(b);
}

static void st_writable(struct fed_tunnel_stream *s, void *ud)
{
	struct fed_tunnel_bridge *b = ud;

	enter(b);
	if (connected(b))
		pump_in(b);
	leave(b);
}

static void st_reset(struct fed_tunnel_stream *s, uint32_t code, void *ud)
{
	struct fed_tunnel_bridge *b = ud;

	enter(b);
	b->st = NULL; /* freed by the connection after this returns */
	bridge_end(b, 0,
	           code == FED_TUNNEL_RST_CONN_LOST ? "tunnel connection lost" : "stream reset");
	leave(b);
}

const struct fed_tunnel_stream_cb fed_tunnel_bridge_stream_cb = {
    .data = st_data,
    .fin = st_fin,
    .writable = st_writable,
    .reset = st_reset,
};

int fed_tunnel_bridge_new(struct ev_loop *loop, struct fed_tunnel_stream *s, int fd, SSL *ssl,
                          const struct fed_tunnel_filter *filter,
                          void (*done)(void *ud, const char *why), void *ud,
                          struct fed_tunnel_bridge **out, struct fed_error *err)
{
	struct fed_tunnel_bridge *b = calloc(1, sizeof(*b));

	if (out)
		*out = NULL;
	if (!b) {
		if (ssl)
			SSL_free(ssl);
		close(fd);
		if (filter && filter->free)
			filter->free(filter->fud);
		fed_tunnel_stream_close(s, FED_TUNNEL_RST_CANCEL);
		return fed_error_set(err, FED_ENOMEM, "tunnel: out of memory");
	}
	b->loop = loop;
	b->st = s;
	b->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	b->ssl = ssl;
	if (filter)
		b->filter = *filter;
	b->done = done;
	b->ud = ud;
	/* a socket still connecting reports it through writability */
	b->tcp_connecting = true;
	b->tls_handshaking = ssl != NULL;
	ev_io_init(&b->io, io_cb, fd, EV_WRITE);
	b->io.data = b;
	ev_timer_init(&b->resume, resume_cb, 0., 0.);
	b->resume.data = b;
	ev_io_start(loop, &b->io);
	fed_tunnel_stream_set_cb(s, &fed_tunnel_bridge_stream_cb, b);
	if (out)
		*out = b;
	return 0;
}
