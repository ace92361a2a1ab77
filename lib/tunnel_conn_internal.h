/* The connection's private parts, shared by lib/tunnel_conn*.c, and seams
 * for tests and fuzzing; not for the binaries. */
#ifndef FED_TUNNEL_CONN_INTERNAL_H
#define FED_TUNNEL_CONN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "fed/buf.h"
#include "fed/tunnel_conn.h"

/* A connection on a plain socket, without TLS: it starts at HELLO (the
 * agent side then sends AUTH). Everything after the TLS layer is the same
 * code as fed_tunnel_conn_accept/_connect. */
int fed_tunnel_conn_plain(struct ev_loop *loop, int fd, bool is_host, int auth_kind,
                          const char *secret, const struct fed_tunnel_conn_opts *opts,
                          const struct fed_tunnel_conn_cb *cb, void *ud,
                          struct fed_tunnel_conn **out, struct fed_error *err);
/* The connection's flow control and stream table (tests move next_id). */
struct fed_tunnel_proto *fed_tunnel_conn_proto(struct fed_tunnel_conn *c);

/* ---- shared by lib/tunnel_conn*.c ---- */

enum fed_tunnel_conn_state { ST_HANDSHAKE, ST_HELLO, ST_READY, ST_DEAD };

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
	enum fed_tunnel_conn_state st;
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
	uint16_t peer_features; /* from the peer's HELLO */
	bool auth_pending;      /* host: the AUTH verdict is being decided */
	int auth_kind;
	char *secret; /* agent: wiped after AUTH is sent */
	char *cluster, *credential;
	char name[96];
	int depth;
	bool freed;
	unsigned long refused; /* frames answered with RST for streams never opened */
};

/* OPENSSL_cleanse then free; NULL is fine. */
void fed_tunnel_conn_wipe_free(char *s);
/* Every loop entry point brackets its work with enter/leave so that a
 * callback freeing the connection is safe. leave returns true if c is gone. */
void fed_tunnel_conn_enter(struct fed_tunnel_conn *c);
bool fed_tunnel_conn_leave(struct fed_tunnel_conn *c);
/* Whether the connection reads now (not while the peer owes us reading). */
bool fed_tunnel_conn_may_read(const struct fed_tunnel_conn *c);
/* Start or stop the ev_io for what the connection waits on. */
void fed_tunnel_conn_update_io(struct fed_tunnel_conn *c);
void fed_tunnel_conn_queue_frame(struct fed_tunnel_conn *c, uint8_t type, uint32_t stream,
                                 const void *p, size_t n);
void fed_tunnel_conn_queue_u32(struct fed_tunnel_conn *c, uint8_t type, uint32_t stream,
                               uint32_t v);
/* Take s off the connection's list and the flow control (s is not freed). */
void fed_tunnel_conn_unlink_stream(struct fed_tunnel_conn *c, struct fed_tunnel_stream *s);
/* Reset every stream (callbacks run), then report the connection closed. */
void fed_tunnel_conn_die(struct fed_tunnel_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* lib/tunnel_conn_frames.c */
struct fed_tunnel_stream *fed_tunnel_conn_find_stream(struct fed_tunnel_conn *c, uint32_t id);
void fed_tunnel_conn_notify_writable(struct fed_tunnel_conn *c);
/* One decoded frame; returns false when the connection must stop reading. */
bool fed_tunnel_conn_handle_frame(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f);

/* lib/tunnel_conn_io.c: the watchers' callbacks */
void fed_tunnel_conn_io_cb(struct ev_loop *loop, ev_io *w, int revents);
void fed_tunnel_conn_resume_cb(struct ev_loop *loop, ev_timer *w, int revents);
void fed_tunnel_conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
void fed_tunnel_conn_closer_cb(struct ev_loop *loop, ev_timer *w, int revents);

#endif
