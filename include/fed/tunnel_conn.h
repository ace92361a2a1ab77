/* One agent tunnel connection on the loop: TLS (OpenSSL, non-blocking)
 * over a socket, the frames of fed/tunnel.h, heartbeats, authentication
 * and the streams multiplexed on it. Both ends use it: the host accepts
 * (fed_tunnel_conn_accept), the agent dials (fed_tunnel_conn_connect).
 *
 * Liveness: each side sends PING every `heartbeat` seconds (default 10)
 * and answers PINGs; a connection that received nothing for three
 * intervals is dead. A dead connection resets every stream at once (their
 * `reset` callbacks run with FED_TUNNEL_RST_CONN_LOST), then `closed` runs.
 *
 * Callbacks may free the connection or close streams, including the one
 * they are called for. Sends never fail synchronously: errors surface as
 * `closed` from the loop.
 *
 * Fairness: one connection reads at most a budget per loop turn, then
 * yields to the loop (timers and other sockets run) and resumes from a
 * 0-s timer. */
#ifndef FED_TUNNEL_CONN_H
#define FED_TUNNEL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include <openssl/ssl.h>

#include "fed/error.h"
#include "fed/tunnel.h"

struct fed_tunnel_conn;
struct fed_tunnel_stream;

/* The auth callback's "decided later" return (see fed_tunnel_conn_cb). */
#define FED_TUNNEL_AUTH_PENDING 1

struct fed_tunnel_conn_cb {
	/* Host: decide on the agent's AUTH. Return 0 and set *cluster (the
	 * identity, from the credential itself) and optionally *credential
	 * (a new credential for the agent to use from now on), both
	 * malloc'd; or a negative code with err saying why (logged by the
	 * caller, never containing the secret). A negative FED_EUNAVAILABLE
	 * tells the agent to try again later (GOAWAY_SHUTDOWN, not
	 * GOAWAY_AUTH).
	 * Or return FED_TUNNEL_AUTH_PENDING to decide later: the connection
	 * then reads nothing more until fed_tunnel_conn_auth_complete(), and
	 * the handshake timeout still bounds it (if it fires first, `closed`
	 * runs and the later completion must not happen: forget c there). */
	int (*auth)(struct fed_tunnel_conn *c, int kind, const uint8_t *secret, size_t len,
	            char **cluster, char **credential, void *ud, struct fed_error *err);
	/* Both: authenticated. Agent: cluster and credential from AUTH_OK. */
	void (*ready)(struct fed_tunnel_conn *c, const char *cluster, const char *credential,
	              void *ud);
	/* Agent: the host opened a stream. Call fed_tunnel_stream_accept()
	 * or fed_tunnel_stream_close() here; to answer later, first give the
	 * stream callbacks (fed_tunnel_stream_set_cb) so that its `reset`
	 * tells you when the host or a dying connection frees it. */
	void (*open)(struct fed_tunnel_conn *c, struct fed_tunnel_stream *s, int target, void *ud);
	/* Host: the agent pushed metadata (a JSON object, not NUL-terminated). */
	void (*metadata)(struct fed_tunnel_conn *c, const char *json, size_t len, void *ud);
	/* Agent: the host sent a fresh credential on the live connection
	 * (CREDENTIAL); store it, it replaces the one from AUTH_OK. */
	void (*credential)(struct fed_tunnel_conn *c, const char *credential, void *ud);
	/* Both: a frame arrived from the peer on a live connection (PING or
	 * PONG): the heartbeat. */
	void (*heartbeat)(struct fed_tunnel_conn *c, void *ud);
	/* Both: a frame was answered with RST and the connection lives on:
	 * reason is "unknown_stream" (a stream never opened) or
	 * "too_many_streams". Optional; for counting. */
	void (*refused)(struct fed_tunnel_conn *c, const char *reason, void *ud);
	/* Both: dead (after all streams were reset). why has no secrets. */
	void (*closed)(struct fed_tunnel_conn *c, const char *why, void *ud);
};

struct fed_tunnel_stream_cb {
	/* Bytes from the peer. Call fed_tunnel_stream_consumed() once they
	 * were passed on, which grants the peer more credit. */
	void (*data)(struct fed_tunnel_stream *s, const uint8_t *p, size_t n, void *ud);
	void (*fin)(struct fed_tunnel_stream *s, void *ud);      /* peer sends no more */
	void (*writable)(struct fed_tunnel_stream *s, void *ud); /* credit arrived */
	void (*opened)(struct fed_tunnel_stream *s, void *ud);   /* host: OPEN_OK */
	/* Gone: RST from the peer or the connection died. s is freed after
	 * this returns. */
	void (*reset)(struct fed_tunnel_stream *s, uint32_t code, void *ud);
};

/* Bounds on what one peer, authenticated or not, can make a connection
 * hold or do (docs/agent-tunnel.md, "Limits"). What arrives is decoded
 * frame by frame (at most one frame plus one read is buffered); replies
 * and DATA wait in an output queue. */
#define FED_TUNNEL_DEFAULT_MAX_QUEUED   (4u << 20)
#define FED_TUNNEL_DEFAULT_PING_RATE    10.0
#define FED_TUNNEL_DEFAULT_REFUSED_RATE 100.0
/* Host: when fewer stream ids than this are left, the connection is
 * renewed (GOAWAY, the agent dials again) instead of running out. */
#define FED_TUNNEL_IDS_RESERVE 1024u

struct fed_tunnel_conn_opts {
	double heartbeat;         /* seconds, default 10 */
	int missed;               /* dead after this many intervals of silence, default 3 */
	double handshake_timeout; /* TLS + AUTH, default 10 s */
	/* Bytes queued to the peer before this side stops reading from it
	 * (it resumes once they drain); new DATA waits from half of it.
	 * Default FED_TUNNEL_DEFAULT_MAX_QUEUED. */
	size_t max_queued;
	/* PINGs answered per second, bursts of twice that; more are not
	 * answered. Default FED_TUNNEL_DEFAULT_PING_RATE. */
	double ping_rate;
	/* Frames for streams never opened, per second (bursts of twice
	 * that), before the connection is closed as abusive; each is answered
	 * with RST. Default FED_TUNNEL_DEFAULT_REFUSED_RATE; < 0: no limit. */
	double refused_rate;
	const char *name; /* log prefix, e.g. the peer address */
	/* Agent: fd carries this TLS session (to an https:// proxy, already
	 * through CONNECT) and the tunnel's TLS runs inside it. Taken over
	 * (freed with the connection, and on failure). */
	SSL *outer;
	/* What this side announces in its HELLO (enum fed_tunnel_feature):
	 * the agent, the stream targets it serves beyond KUBE_APISERVER. */
	unsigned features;
};

/* Host side: take over an accepted socket (closed on failure). */
int fed_tunnel_conn_accept(struct ev_loop *loop, int fd, SSL_CTX *ctx,
                           const struct fed_tunnel_conn_opts *opts,
                           const struct fed_tunnel_conn_cb *cb, void *ud,
                           struct fed_tunnel_conn **out, struct fed_error *err);
/* Agent side: fd is a connected (or connecting, non-blocking) socket to
 * the host; verify_host is the name or IP the host's certificate must
 * carry; auth_kind/secret are sent in AUTH after the TLS handshake. */
int fed_tunnel_conn_connect(struct ev_loop *loop, int fd, SSL_CTX *ctx, const char *verify_host,
                            int auth_kind, const char *secret,
                            const struct fed_tunnel_conn_opts *opts,
                            const struct fed_tunnel_conn_cb *cb, void *ud,
                            struct fed_tunnel_conn **out, struct fed_error *err);
/* Close now: streams are reset (their `reset` callbacks run); `closed`
 * does not run.
 * Safe from inside a callback (the free is deferred). NULL is fine. */
void fed_tunnel_conn_free(struct fed_tunnel_conn *c);
/* Send GOAWAY, then close from the loop (`closed` runs). */
void fed_tunnel_conn_shutdown(struct fed_tunnel_conn *c, uint32_t code, const char *reason);
/* Agent: push a METADATA JSON object. */
int fed_tunnel_conn_send_metadata(struct fed_tunnel_conn *c, const char *json, size_t len);
/* Host: the verdict on an AUTH whose callback returned
 * FED_TUNNEL_AUTH_PENDING: rc 0 with cluster (and optionally credential),
 * or a negative code (FED_EUNAVAILABLE: retryable) with why for the log
 * (no secrets). Takes cluster and credential (malloc'd; NULL is fine). */
void fed_tunnel_conn_auth_complete(struct fed_tunnel_conn *c, int rc, char *cluster,
                                   char *credential, const char *why);
bool fed_tunnel_conn_auth_pending(const struct fed_tunnel_conn *c);
/* Host: rotate the agent's credential on this live connection. */
int fed_tunnel_conn_send_credential(struct fed_tunnel_conn *c, const char *cred);
bool fed_tunnel_conn_ready(const struct fed_tunnel_conn *c);
const char *fed_tunnel_conn_cluster(const struct fed_tunnel_conn *c);
size_t fed_tunnel_conn_nstreams(const struct fed_tunnel_conn *c);
/* The features the peer announced in its HELLO (0 before it, and from a
 * peer that predates them). */
unsigned fed_tunnel_conn_peer_features(const struct fed_tunnel_conn *c);
const char *fed_tunnel_conn_name(const struct fed_tunnel_conn *c);

/* Host: open a stream to `target`. FED_EINVAL for FED_TUNNEL_TARGET_CONNECT
 * when the agent did not announce FED_TUNNEL_FEATURE_CONNECT. */
int fed_tunnel_stream_open(struct fed_tunnel_conn *c, int target,
                           const struct fed_tunnel_stream_cb *cb, void *ud,
                           struct fed_tunnel_stream **out, struct fed_error *err);
/* Agent: take a stream handed to `open`, sending OPEN_OK. */
void fed_tunnel_stream_accept(struct fed_tunnel_stream *s, const struct fed_tunnel_stream_cb *cb,
                              void *ud);
/* Replace the stream's callbacks (e.g. hand it to a bridge). */
void fed_tunnel_stream_set_cb(struct fed_tunnel_stream *s, const struct fed_tunnel_stream_cb *cb,
                              void *ud);
/* How many bytes fed_tunnel_stream_send() takes now. */
size_t fed_tunnel_stream_allowance(const struct fed_tunnel_stream *s);
/* Send up to n bytes (at most the allowance, in frames); returns how many. */
size_t fed_tunnel_stream_send(struct fed_tunnel_stream *s, const void *p, size_t n);
void fed_tunnel_stream_consumed(struct fed_tunnel_stream *s, size_t n);
/* Half-close: we send no more. */
void fed_tunnel_stream_fin(struct fed_tunnel_stream *s);
/* Free the stream: quietly when both sides sent FIN, else with RST(code).
 * No callback runs. */
void fed_tunnel_stream_close(struct fed_tunnel_stream *s, uint32_t code);
uint32_t fed_tunnel_stream_id(const struct fed_tunnel_stream *s);
struct fed_tunnel_conn *fed_tunnel_stream_conn(const struct fed_tunnel_stream *s);

/* The --tunnel-max-queued-bytes, --tunnel-ping-rate and
 * --tunnel-refused-rate values of either side: NULL when usable, else the
 * message naming the option and what it takes. */
const char *fed_tunnel_conn_check_limits(double max_queued, double ping_rate, double refused_rate);

/* TLS contexts from PEM in memory. Server: its certificate chain and key.
 * Client: verifies the peer against ca_pem only (the pinned CA; the
 * system store is never used) with TLS 1.2 or later. */
int fed_tunnel_tls_server_ctx(const char *cert_pem, const char *key_pem, SSL_CTX **out,
                              struct fed_error *err);
int fed_tunnel_tls_client_ctx(const char *ca_pem, SSL_CTX **out, struct fed_error *err);
/* A self-signed P-256 certificate (its own CA, which agents pin) with
 * subjectAltName sans in OpenSSL syntax ("IP:127.0.0.1,DNS:fed-tunnel");
 * PEM strings, malloc'd. */
int fed_tunnel_tls_selfsigned(const char *cn, const char *sans, int days, char **cert_pem,
                              char **key_pem, struct fed_error *err);
/* OpenSSL's first queued error as text in buf (the queue is cleared), or
 * "TLS error" when none is queued. */
const char *fed_tunnel_tls_error(char *buf, size_t n);

/* A bridge joins a stream to a socket (plain, or TLS when ssl is given,
 * which may still be connecting: the handshake runs first), both ways,
 * with backpressure: the socket is read only while the stream has credit,
 * and stream bytes are credited back only once written to the socket. A
 * filter may rewrite the stream-to-socket bytes (the agent's HTTP
 * rewriting) and watch the others. The bridge frees itself, the socket
 * and the stream when both directions finished, either side failed or
 * the stream was reset. */
struct fed_buf;
struct fed_tunnel_filter {
	/* Append what to write for p[0..n) to out. A negative return ends
	 * the bridge: `reply` is sent back on the stream first. */
	int (*feed)(void *fud, const uint8_t *p, size_t n, struct fed_buf *out,
	            struct fed_buf *reply);
	/* Optional: the socket-to-stream bytes, as read and before they are
	 * sent on (unchanged), so that feed may depend on the answer. */
	void (*response)(void *fud, const uint8_t *p, size_t n);
	void (*free)(void *fud);
	void *fud;
};

struct fed_tunnel_bridge;
/* Takes fd, ssl and filter->fud (freed on failure too). done (may be NULL)
 * runs once when the bridge ends, with a reason for the log, before the
 * filter is freed. */
int fed_tunnel_bridge_new(struct ev_loop *loop, struct fed_tunnel_stream *s, int fd, SSL *ssl,
                          const struct fed_tunnel_filter *filter,
                          void (*done)(void *ud, const char *why), void *ud,
                          struct fed_tunnel_bridge **out, struct fed_error *err);
/* The stream callbacks a bridge uses, for fed_tunnel_stream_open/accept
 * with the bridge as ud (open the stream, then create the bridge). */
extern const struct fed_tunnel_stream_cb fed_tunnel_bridge_stream_cb;

#endif
