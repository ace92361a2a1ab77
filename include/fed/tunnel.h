/* Agent tunnel wire protocol: frames multiplexed over one TLS connection
 * from a member's fed-agent to the host's controller, with per-stream and
 * per-connection credit flow control (see docs/architecture.md, "Agent
 * tunnel").
 *
 * Every frame has a fixed 12-byte header, integers big-endian:
 *
 *   u8 type | u8 flags (0) | u16 reserved (0) | u32 stream | u32 length | payload
 *
 * Stream 0 is the connection itself (HELLO, AUTH, PING, METADATA, GOAWAY,
 * CREDENTIAL, WINDOW for the connection); streams are opened by the host only (odd
 * ids, increasing, never reused): the agent never opens a stream, so the
 * host can never be made to dial anything.
 *
 * This file is pure: an encoder, an incremental decoder that checks every
 * header field before a payload is buffered, and the protocol state (stream
 * table and credit accounting). tunnel_conn.c drives it over TLS on the
 * loop. */
#ifndef FED_TUNNEL_H
#define FED_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fed/buf.h"
#include "fed/error.h"

#define FED_TUNNEL_VERSION 1
#define FED_TUNNEL_HDR     12
/* Largest payload either side sends; a frame announcing more is refused
 * before any of it is read. */
#define FED_TUNNEL_MAX_FRAME     (64 * 1024)
#define FED_TUNNEL_STREAM_WINDOW (256 * 1024)
#define FED_TUNNEL_CONN_WINDOW   (16 * 1024 * 1024)
#define FED_TUNNEL_MAX_STREAMS   1024
#define FED_TUNNEL_MAX_WINDOW    0x7fffffffu

enum fed_tunnel_type {
	FED_TUNNEL_HELLO = 1, /* s0: u16 version, u16 features, u32 max_frame, u32 stream window */
	FED_TUNNEL_AUTH = 2,  /* s0, agent: u8 kind, credential bytes */
	FED_TUNNEL_AUTH_OK = 3,   /* s0, host: cluster name, NUL, new credential (may be empty) */
	FED_TUNNEL_OPEN = 4,      /* host: u8 target */
	FED_TUNNEL_OPEN_OK = 5,   /* agent: empty */
	FED_TUNNEL_DATA = 6,      /* stream bytes, counted against both windows */
	FED_TUNNEL_WINDOW = 7,    /* u32 credit increment; stream 0 = connection */
	FED_TUNNEL_FIN = 8,       /* half-close: the sender sends no more DATA */
	FED_TUNNEL_RST = 9,       /* u32 code: the stream is gone both ways */
	FED_TUNNEL_PING = 10,     /* s0: 8 opaque bytes */
	FED_TUNNEL_PONG = 11,     /* s0: the PING's 8 bytes */
	FED_TUNNEL_METADATA = 12, /* s0, agent: JSON object */
	FED_TUNNEL_GOAWAY = 13,   /* s0: u32 code, then a short text reason */
	/* s0, host, after AUTH_OK: a fresh credential replacing the current
	 * one (rotation on a live connection). A peer that predates it
	 * refuses it as an unknown type (GOAWAY, as for any unknown frame). */
	FED_TUNNEL_CREDENTIAL = 14,
};

/* OPEN targets: an enum, never an address; the agent resolves it itself.
 * An agent refuses a target it does not know with RST_REFUSED. */
enum fed_tunnel_target {
	FED_TUNNEL_TARGET_KUBE_APISERVER = 1,
	/* Cluster connect (docs/cluster-connect.md): the kube-apiserver too,
	 * one request per stream, with the host's Impersonate-* headers kept
	 * and an exec/attach/port-forward Upgrade let through. An agent that
	 * predates it would strip the impersonation and run the request as
	 * itself, so the host opens it only on a connection whose agent
	 * announced FED_TUNNEL_FEATURE_CONNECT (fed_tunnel_stream_open
	 * refuses it otherwise). */
	FED_TUNNEL_TARGET_CONNECT = 2,
};

/* HELLO features: a bit set for what the sender serves beyond version 1.
 * A peer that predates the field sends 0 there and ignores what it gets,
 * so a bit is only ever a promise of its sender. */
enum fed_tunnel_feature {
	FED_TUNNEL_FEATURE_CONNECT = 1u << 0, /* agent: serves FED_TUNNEL_TARGET_CONNECT */
};

enum fed_tunnel_auth_kind {
	FED_TUNNEL_AUTH_BOOTSTRAP = 1,  /* one-time bootstrap token */
	FED_TUNNEL_AUTH_CREDENTIAL = 2, /* the per-cluster credential from AUTH_OK */
};

/* RST and GOAWAY codes. */
enum fed_tunnel_code {
	FED_TUNNEL_RST_CANCEL = 1,         /* the opener gave up */
	FED_TUNNEL_RST_REFUSED = 2,        /* target not allowed */
	FED_TUNNEL_RST_UNREACHABLE = 3,    /* the target could not be reached */
	FED_TUNNEL_RST_UNKNOWN_STREAM = 4, /* frame for a stream that does not exist */
	FED_TUNNEL_RST_TOO_MANY = 5,       /* stream limit */
	FED_TUNNEL_RST_PROTOCOL = 6,       /* bad request on the stream */
	FED_TUNNEL_RST_CONN_LOST = 7,      /* the tunnel died (local only) */
	FED_TUNNEL_GOAWAY_PROTOCOL = 100,  /* malformed frame, flow-control violation */
	FED_TUNNEL_GOAWAY_AUTH = 101,      /* authentication failed */
	FED_TUNNEL_GOAWAY_SHUTDOWN = 102,  /* going away on purpose */
};

struct fed_tunnel_frame {
	uint8_t type;
	uint8_t flags;
	uint32_t stream;
	uint32_t len;
	const uint8_t *payload; /* points into the decoder's input */
};

/* Append one frame to out. FED_EINVAL if len > FED_TUNNEL_MAX_FRAME. */
int fed_tunnel_frame_encode(struct fed_buf *out, uint8_t type, uint32_t stream, const void *payload,
                            size_t len);
/* Shorthands for fixed payloads. */
int fed_tunnel_frame_encode_u32(struct fed_buf *out, uint8_t type, uint32_t stream, uint32_t value);

/* Decode the frame at the start of buf[0..len). Returns 1 with *f and *used
 * (header + payload) set, 0 when more bytes are needed (nothing consumed),
 * or a negative code with err naming what is wrong: an unknown type,
 * nonzero flags or reserved bits, a payload longer than max_payload (known
 * from the header alone, so an oversize frame is refused before it is
 * buffered), a control frame on a stream or a stream frame on stream 0, a
 * fixed-size payload of the wrong size. Any error is fatal to the
 * connection: framing is lost. */
int fed_tunnel_frame_decode(const uint8_t *buf, size_t len, uint32_t max_payload,
                            struct fed_tunnel_frame *f, size_t *used, struct fed_error *err);

const char *fed_tunnel_type_name(uint8_t type);
uint32_t fed_tunnel_get_u32(const uint8_t *p);
void fed_tunnel_put_u32(uint8_t *p, uint32_t v);

/* Protocol state of one connection: the stream table and the credit both
 * ways. Both ends run the same code; only the host opens streams. */
struct fed_tunnel_pstream {
	uint32_t id;
	int64_t send_credit;   /* what we may still send on it */
	uint32_t recv_left;    /* what the peer may still send before our next WINDOW */
	uint32_t recv_unacked; /* consumed, not yet granted back */
	bool local_fin, remote_fin;
	void *ud; /* the connection layer's stream */
	struct fed_tunnel_pstream *next;
};

#define FED_TUNNEL_BUCKETS 256

struct fed_tunnel_proto {
	bool is_host;
	uint32_t next_id;      /* host: next odd id */
	uint32_t last_peer_id; /* agent: highest id the host opened */
	uint32_t stream_window;
	uint32_t max_streams;
	uint32_t nstreams;
	int64_t conn_send_credit;
	uint32_t conn_recv_left;
	uint32_t conn_recv_unacked;
	struct fed_tunnel_pstream *buckets[FED_TUNNEL_BUCKETS];
};

/* What a received frame means after fed_tunnel_proto_recv(). */
enum fed_tunnel_verdict {
	FED_TUNNEL_OK = 0,        /* deliver it */
	FED_TUNNEL_IGNORE,        /* late frame for a stream we closed: drop it */
	FED_TUNNEL_REFUSE_STREAM, /* answer RST(*code) on f->stream, keep the connection */
};

void fed_tunnel_proto_init(struct fed_tunnel_proto *p, bool is_host);
/* Frees the stream table (not the ud pointers). */
void fed_tunnel_proto_release(struct fed_tunnel_proto *p);

/* Host: open a new stream with the initial windows. FED_EUNAVAILABLE at
 * the stream limit, FED_EINVAL on the agent. */
int fed_tunnel_proto_open(struct fed_tunnel_proto *p, struct fed_tunnel_pstream **out,
                          struct fed_error *err);
struct fed_tunnel_pstream *fed_tunnel_proto_find(const struct fed_tunnel_proto *p, uint32_t id);
/* Drop a stream from the table (after RST either way, or both FINs). */
void fed_tunnel_proto_forget(struct fed_tunnel_proto *p, uint32_t id);

/* Account a decoded frame. Returns 0 with a verdict, or a negative code for
 * a connection-fatal violation: DATA beyond the stream's or the
 * connection's window, a WINDOW overflowing 2^31-1, an OPEN from the agent
 * or with a non-increasing or even id, DATA after FIN. For an OPEN it adds
 * the stream (or refuses it at the limit with RST_TOO_MANY); for RST it
 * removes it; DATA on an unknown stream is refused with
 * RST_UNKNOWN_STREAM and its bytes are credited back to the connection at
 * once (see fed_tunnel_proto_take_conn_credit). */
int fed_tunnel_proto_recv(struct fed_tunnel_proto *p, const struct fed_tunnel_frame *f,
                          enum fed_tunnel_verdict *verdict, uint32_t *code, struct fed_error *err);

/* How many DATA bytes may be sent on s now (0..FED_TUNNEL_MAX_FRAME). */
uint32_t fed_tunnel_proto_allowance(const struct fed_tunnel_proto *p,
                                    const struct fed_tunnel_pstream *s);
/* Debit n bytes just sent (n <= allowance). */
void fed_tunnel_proto_sent(struct fed_tunnel_proto *p, struct fed_tunnel_pstream *s, uint32_t n);
/* n received bytes of s were consumed (written on to their destination).
 * Returns the WINDOW increment to send for s now, or 0 (grants are
 * batched: at half a window). */
uint32_t fed_tunnel_proto_consumed(struct fed_tunnel_proto *p, struct fed_tunnel_pstream *s,
                                   uint32_t n);
/* The WINDOW increment to send on stream 0 now, or 0. */
uint32_t fed_tunnel_proto_take_conn_credit(struct fed_tunnel_proto *p);

/* An agent's METADATA (tunnel_meta.c): what fed-agent reports about its
 * member and itself. Unknown numbers are -1, unknown strings empty. */
struct fed_agent_metadata {
	char agent_version[64];
	char kubernetes_version[64];
	long long nodes, cores;
	double cpu_seconds;     /* the agent process's CPU time */
	long long memory_bytes; /* the agent process's resident memory */
	long long time;         /* the agent's clock, unix seconds */
};

/* Parse a METADATA payload (a JSON object from the agent: untrusted).
 * Unknown fields are ignored; a field of the wrong type, a negative or
 * absurd number, or a string that is too long or not printable ASCII is
 * an error naming the field. *out is only written on success. */
int fed_agent_metadata_parse(const char *json, size_t len, struct fed_agent_metadata *out,
                             struct fed_error *err);
/* Does b differ from a in what identifies the member or the agent
 * (versions, node and core counts)? Resource use and times are not. */
bool fed_agent_metadata_changed(const struct fed_agent_metadata *a,
                                const struct fed_agent_metadata *b);

#endif
