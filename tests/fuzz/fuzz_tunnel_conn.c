/* The tunnel connection state machine (lib/tunnel_conn.c and the bridges
 * of lib/tunnel_bridge.c), not only the decoder: a real connection on a
 * plain socketpair, fed the input as the peer's byte stream while the
 * loop runs, with stream callbacks that close, send, half-close and free
 * things from inside callbacks the way the host and the agent do.
 *
 * Input: a 7-byte header, then the peer's bytes (frames, see
 * fed/tunnel.h):
 *   [0] mode bits: MODE_*
 *   [1] bit 0: the peer hangs up once its input is in (and so does the
 *       bridge's socket); bits 1-7: n, the peer writes n * 7 bytes at a
 *       time (0: all at once)
 *   [2] bits 0-3: max_queued = 64 << n (with MODE_SMALL_QUEUE), else
 *       bit 3: the host's stream ids are nearly used up; bits 4-5: bytes
 *       waiting on the bridge's socket; bits 6-7: the host opens 1 + n
 *       streams
 *   [3..6] what each stream's callbacks do: BEH_* (host: the streams it
 *       opens; agent: the streams the peer opens, in turn)
 * The host accepts AUTH kind 1 "good" (kind 2 "free" frees the connection
 * from the callback, "shut" shuts it down); the agent sends kind 1 "good"
 * itself. The agent's bridge runs the HTTP filter, as fed-agent's does. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fed/log.h"
#include "fed/tunnel.h"
#include "fed/tunnel_conn.h"
#include "fed/tunnel_http.h"
#include "tunnel_conn_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	MODE_AGENT = 0x01,       /* the connection is the agent; the input plays the host */
	MODE_SMALL_QUEUE = 0x02, /* a small max_queued: backpressure early */
	MODE_SMALL_SOCK = 0x04,  /* small socket buffers: writes block early */
	MODE_NO_DRAIN = 0x08,    /* the peer never reads its end: replies pile up */
	MODE_STRICT = 0x10,      /* ping_rate and refused_rate of 1/s */
	MODE_BRIDGE = 0x20,      /* the first stream is handed to a bridge */
	/* the bridge's socket says EOF after its bytes; without bytes it is
	 * closed outright */
	MODE_BRIDGE_EOF = 0x40,
	MODE_SHUTDOWN = 0x80, /* shut the connection down once the input is in */
};

enum {
	BEH_CONSUME = 0x01,     /* consume DATA at once (else from `writable`/`fin`) */
	BEH_ECHO = 0x02,        /* send DATA back */
	BEH_CLOSE_DATA = 0x04,  /* close the stream on DATA */
	BEH_CLOSE_WRITE = 0x08, /* close the stream when it becomes writable */
	BEH_CLOSE_OTHER = 0x10, /* close another stream on DATA and FIN */
	BEH_FIN = 0x20,         /* answer FIN with FIN, then close */
	/* agent: refuse the OPEN, or with BEH_FIN leave it unanswered, or with
	 * BEH_CLOSE_WRITE accept it on the next heartbeat; host: reopen after
	 * RST */
	BEH_REFUSE = 0x40,
	BEH_SCRIPT = 0x80, /* the first DATA byte picks an action (OP_*) */
};

enum { OP_CONSUME, OP_ECHO, OP_CLOSE, OP_CLOSE_OTHER, OP_FIN, OP_SHUTDOWN, OP_FREE, OP_MORE };

#define NSLOTS   8
#define HDR      7
#define MAX_TURN 2000

struct ctx;

struct slot {
	struct ctx *x;
	struct fed_tunnel_stream *s; /* NULL: free, or handed to the bridge */
	uint8_t beh;
	bool deferred;  /* agent: not accepted yet */
	size_t pending; /* delivered and not consumed yet */
};

struct ctx {
	struct ev_loop *loop;
	struct fed_tunnel_conn *conn;
	const uint8_t *beh;
	uint8_t mode, param;
	int nopen;        /* OPENs seen (agent) */
	int nunanswered;  /* OPENs left without an answer (agent) */
	int bridge_fd;    /* our end of the bridge's socket, or -1 */
	bool small_sock;  /* small socket buffers, for the bridge's too */
	bool bridge_used; /* one bridge per input */
	struct slot slots[NSLOTS];
};

static uint8_t sink[65536];         /* what the peer reads, dropped */
static const uint8_t filler[65536]; /* what the bridge's socket holds */

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void small_buffers(int fd)
{
	int small = 4096;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
}

static struct slot *free_slot(struct ctx *x)
{
	for (int i = 0; i < NSLOTS; i++)
		if (!x->slots[i].s)
			return &x->slots[i];
	return NULL;
}

static void close_slot(struct slot *sl, uint32_t code)
{
	struct fed_tunnel_stream *s = sl->s;

	sl->s = NULL;
	if (s)
		fed_tunnel_stream_close(s, code);
}

static void close_other(struct slot *sl)
{
	struct ctx *x = sl->x;

	for (int i = 1; i < NSLOTS; i++) {
		struct slot *o = &x->slots[(sl - x->slots + i) % NSLOTS];

		if (o->s) {
			close_slot(o, FED_TUNNEL_RST_CANCEL);
			return;
		}
	}
}

static void consume(struct slot *sl)
{
	size_t n = sl->pending;

	sl->pending = 0;
	if (n)
		fed_tunnel_stream_consumed(sl->s, n);
}

/* Free the connection from inside a callback: `closed` does not run. */
static void free_conn(struct ctx *x)
{
	struct fed_tunnel_conn *c = x->conn;

	x->conn = NULL;
	fed_tunnel_conn_free(c);
}

static void bridge_done(void *ud, const char *why)
{
	(void)ud;
	(void)why;
}

static const struct fed_tunnel_stream_cb stream_cb;

/* Hand the stream to a bridge on a socketpair whose other end holds some
 * bytes for the stream (and maybe EOF). */
static void bridge(struct slot *sl)
{
	static const size_t prefill[4] = {0, 100, 70000, 300000};
	struct ctx *x = sl->x;
	struct fed_tunnel_stream *s = sl->s;
	struct fed_tunnel_http *h = NULL;
	struct fed_tunnel_filter filter;
	struct fed_error err = FED_ERROR_INIT;
	size_t n = prefill[(x->param >> 4) & 3], off = 0;
	int sv[2];

	if (x->bridge_used || !(x->mode & MODE_BRIDGE) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	x->bridge_used = true;
	for (int i = 0; i < 2; i++) {
		set_nonblock(sv[i]);
		if (x->small_sock)
			small_buffers(sv[i]);
	}
	while (off < n) {
		size_t k = n - off < sizeof(filler) ? n - off : sizeof(filler);
		ssize_t w = send(sv[1], filler, k, MSG_NOSIGNAL);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if ((x->mode & MODE_BRIDGE_EOF) && n == 0) {
		close(sv[1]); /* the target is gone: writing to it fails */
		sv[1] = -1;
	} else if (x->mode & MODE_BRIDGE_EOF) {
		shutdown(sv[1], SHUT_WR);
	}
	x->bridge_fd = sv[1];
	sl->s = NULL; /* the bridge owns the stream from now on */
	if ((x->mode & MODE_AGENT) && fed_tunnel_http_new(&h, "10.96.0.1:443", "sa-token") == 0)
		fed_tunnel_http_filter(h, &filter);
	fed_tunnel_bridge_new(x->loop, s, sv[0], NULL, h ? &filter : NULL, bridge_done, NULL, NULL,
	                      &err);
}

static void host_open(struct ctx *x, uint8_t beh)
{
	struct fed_error err = FED_ERROR_INIT;
	struct slot *sl = free_slot(x);

	if (!sl || !x->conn)
		return;
	sl->beh = beh;
	sl->pending = 0;
	if (fed_tunnel_stream_open(x->conn, FED_TUNNEL_TARGET_KUBE_APISERVER, &stream_cb, sl,
	                           &sl->s, &err) < 0)
		sl->s = NULL;
}

/* One action on a stream; returns false when the stream (or everything)
 * is gone and the callback must return at once: a send can kill the
 * connection (out of memory), which resets every stream. */
static bool act(struct slot *sl, int op, const uint8_t *p, size_t n)
{
	struct ctx *x = sl->x;

	switch (op) {
	case OP_CONSUME:
		consume(sl);
		break;
	case OP_ECHO:
		fed_tunnel_stream_send(sl->s, p, n);
		break;
	case OP_CLOSE:
		close_slot(sl, FED_TUNNEL_RST_CANCEL);
		break;
	case OP_CLOSE_OTHER:
		close_other(sl);
		break;
	case OP_FIN:
		fed_tunnel_stream_fin(sl->s);
		break;
	case OP_SHUTDOWN:
		fed_tunnel_conn_shutdown(x->conn, FED_TUNNEL_GOAWAY_SHUTDOWN, "fuzz");
		break;
	case OP_FREE:
		free_conn(x);
		break;
	default: /* OP_MORE */
		if (x->mode & MODE_AGENT)
			fed_tunnel_conn_send_metadata(x->conn, "{\"nodes\":3}", 11);
		else
			host_open(x, sl->beh);
	}
	return sl->s != NULL;
}

static void st_data(struct fed_tunnel_stream *s, const uint8_t *p, size_t n, void *ud)
{
	struct slot *sl = ud;

	sl->pending += n;
	if ((sl->beh & BEH_SCRIPT) && !act(sl, p[0] & 7, p, n))
		return;
	if ((sl->beh & BEH_ECHO) && !act(sl, OP_ECHO, p, n))
		return;
	if ((sl->beh & BEH_CLOSE_OTHER) && !act(sl, OP_CLOSE_OTHER, p, n))
		return;
	if ((sl->beh & BEH_CONSUME) && !act(sl, OP_CONSUME, p, n))
		return;
	if (sl->beh & BEH_CLOSE_DATA)
		act(sl, OP_CLOSE, p, n);
}

static void st_fin(struct fed_tunnel_stream *s, void *ud)
{
	struct slot *sl = ud;

	if (!act(sl, OP_CONSUME, NULL, 0))
		return;
	if ((sl->beh & BEH_CLOSE_OTHER) && !act(sl, OP_CLOSE_OTHER, NULL, 0))
		return;
	if (sl->beh & BEH_FIN) {
		fed_tunnel_stream_fin(s);
		close_slot(sl, 0); /* both FINs: a quiet close */
	}
}

static void st_writable(struct fed_tunnel_stream *s, void *ud)
{
	struct slot *sl = ud;
	static const uint8_t more[100];

	if (!act(sl, OP_CONSUME, NULL, 0))
		return;
	if (sl->beh & BEH_CLOSE_WRITE) {
		close_slot(sl, FED_TUNNEL_RST_CANCEL);
		return;
	}
	if (sl->beh & BEH_ECHO)
		fed_tunnel_stream_send(s, more, sizeof(more));
}

static void st_opened(struct fed_tunnel_stream *s, void *ud)
{
	struct slot *sl = ud;

	if (sl->beh & BEH_CLOSE_WRITE)
		fed_tunnel_stream_fin(s);
}

static void st_reset(struct fed_tunnel_stream *s, uint32_t code, void *ud)
{
	struct slot *sl = ud;
	struct ctx *x = sl->x;

	sl->s = NULL; /* freed by the connection after this returns */
	if ((sl->beh & BEH_REFUSE) && !(x->mode & MODE_AGENT) && code != FED_TUNNEL_RST_CONN_LOST)
		host_open(x, sl->beh & ~BEH_REFUSE);
}

static const struct fed_tunnel_stream_cb stream_cb = {
    .data = st_data,
    .fin = st_fin,
    .writable = st_writable,
    .opened = st_opened,
    .reset = st_reset,
};

static int c_auth(struct fed_tunnel_conn *c, int kind, const uint8_t *secret, size_t len,
                  char **cluster, char **credential, void *ud, struct fed_error *err)
{
	struct ctx *x = ud;

	if (kind == FED_TUNNEL_AUTH_CREDENTIAL && len == 4 && !memcmp(secret, "free", 4)) {
		free_conn(x);
		return fed_error_set(err, FED_EINVAL, "freed");
	}
	if (kind == FED_TUNNEL_AUTH_CREDENTIAL && len == 4 && !memcmp(secret, "shut", 4))
		fed_tunnel_conn_shutdown(c, FED_TUNNEL_GOAWAY_SHUTDOWN, "shut");
	else if (kind != FED_TUNNEL_AUTH_BOOTSTRAP || len != 4 || memcmp(secret, "good", 4))
		return fed_error_set(err, FED_EINVAL, "unknown token");
	*cluster = strdup("east");
	*credential = strdup("cred-1");
	return 0;
}

static void c_ready(struct fed_tunnel_conn *c, const char *cluster, const char *credential,
                    void *ud)
{
	struct ctx *x = ud;

	if (x->mode & MODE_AGENT) {
		fed_tunnel_conn_send_metadata(c, "{\"agentVersion\":\"v1\"}", 21);
		return;
	}
	fed_tunnel_conn_send_credential(c, "cred-2");
	for (int i = 0; i <= x->param >> 6 && x->conn; i++)
		host_open(x, x->beh[i]);
	if (x->slots[0].s)
		bridge(&x->slots[0]);
}

static void c_open(struct fed_tunnel_conn *c, struct fed_tunnel_stream *s, int target, void *ud)
{
	struct ctx *x = ud;
	uint8_t beh = x->beh[x->nopen++ % 4];
	struct slot *sl = free_slot(x);

	if ((beh & (BEH_REFUSE | BEH_FIN)) == (BEH_REFUSE | BEH_FIN)) {
		x->nunanswered++;
		return; /* unanswered: it lives, without callbacks, until the end */
	}
	if (!sl || ((beh & BEH_REFUSE) && !(beh & BEH_CLOSE_WRITE))) {
		fed_tunnel_stream_close(s, FED_TUNNEL_RST_REFUSED);
		return;
	}
	sl->s = s;
	sl->beh = beh;
	sl->pending = 0;
	sl->deferred = beh & BEH_REFUSE;
	if (sl->deferred) {
		/* answered later; the callbacks, reset included, run already */
		fed_tunnel_stream_set_cb(s, &stream_cb, sl);
		return;
	}
	fed_tunnel_stream_accept(s, &stream_cb, sl);
	bridge(sl);
}

/* Agent: the streams left for later are accepted now. */
static void c_heartbeat(struct fed_tunnel_conn *c, void *ud)
{
	struct ctx *x = ud;

	for (int i = 0; i < NSLOTS; i++) {
		struct slot *sl = &x->slots[i];

		if (sl->s && sl->deferred) {
			sl->deferred = false;
			fed_tunnel_stream_accept(sl->s, &stream_cb, sl);
		}
	}
}

static void c_credential(struct fed_tunnel_conn *c, const char *credential, void *ud)
{
	if (strlen(credential) == 0)
		abort(); /* CREDENTIAL must carry one */
}

static void c_refused(struct fed_tunnel_conn *c, const char *reason, void *ud)
{
	(void)reason;
}

static void c_metadata(struct fed_tunnel_conn *c, const char *json, size_t len, void *ud)
{
	struct fed_agent_metadata md;
	struct fed_error err = FED_ERROR_INIT;

	fed_agent_metadata_parse(json, len, &md, &err);
}

static void c_closed(struct fed_tunnel_conn *c, const char *why, void *ud)
{
	struct ctx *x = ud;

	x->conn = NULL;
	fed_tunnel_conn_free(c);
}

static const struct fed_tunnel_conn_cb conn_cb = {
    .auth = c_auth,
    .ready = c_ready,
    .open = c_open,
    .metadata = c_metadata,
    .credential = c_credential,
    .heartbeat = c_heartbeat,
    .refused = c_refused,
    .closed = c_closed,
};

/* Flow control loses no byte: each DATA byte received is still in the
 * window, consumed and waiting to be granted back, or delivered and not
 * consumed yet; per stream and for the connection. (A bridge holds bytes
 * we cannot see, and a stream left unanswered has no consumer.) */
static void check_credit(struct ctx *x)
{
	struct fed_tunnel_proto *p = fed_tunnel_conn_proto(x->conn);
	uint64_t held = 0;

	if (x->bridge_used)
		return;
	for (int i = 0; i < NSLOTS; i++) {
		const struct slot *sl = &x->slots[i];
		const struct fed_tunnel_pstream *ps;

		if (!sl->s)
			continue;
		ps = fed_tunnel_proto_find(p, fed_tunnel_stream_id(sl->s));
		if (!ps ||
		    (uint64_t)ps->recv_left + ps->recv_unacked + sl->pending != p->stream_window)
			abort();
		held += sl->pending;
	}
	if (x->nunanswered == 0 &&
	    (uint64_t)p->conn_recv_left + p->conn_recv_unacked + held != FED_TUNNEL_CONN_WINDOW)
		abort();
}

/* Read what is waiting on fd; returns the bytes read. */
static size_t drain(int fd)
{
	size_t total = 0;
	ssize_t r;

	while ((r = read(fd, sink, sizeof(sink))) > 0)
		total += (size_t)r;
	return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;
	struct fed_tunnel_conn_opts opts = {0};
	struct fed_error err = FED_ERROR_INIT;
	struct ctx x = {0};
	size_t off = HDR, step;
	int sv[2] = {-1, -1}, quiet = 0;
	bool hangup;

	if (size < HDR)
		return 0;
	if (!loop) {
		loop = ev_default_loop(0);
		fed_log_level_current = FED_LOG_ERROR; /* refusals are routine here */
	}
	x.loop = loop;
	x.mode = data[0];
	x.param = data[2];
	x.beh = data + 3;
	x.bridge_fd = -1;
	for (int i = 0; i < NSLOTS; i++)
		x.slots[i].x = &x;
	step = data[1] >> 1 ? (size_t)(data[1] >> 1) * 7 : 1 << 20;
	hangup = data[1] & 1;
	x.small_sock = x.mode & MODE_SMALL_SOCK;
	if (x.mode & MODE_SMALL_QUEUE)
		opts.max_queued = (size_t)64 << (data[2] & 15);
	if (x.mode & MODE_STRICT)
		opts.ping_rate = opts.refused_rate = 1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	set_nonblock(sv[0]);
	set_nonblock(sv[1]);
	if (x.small_sock) {
		small_buffers(sv[0]);
		small_buffers(sv[1]);
	}
	if (fed_tunnel_conn_plain(loop, sv[0], !(x.mode & MODE_AGENT), FED_TUNNEL_AUTH_BOOTSTRAP,
	                          "good", &opts, &conn_cb, &x, &x.conn, &err) < 0) {
		sv[0] = -1;
		goto out;
	}
	sv[0] = -1; /* the connection owns it */
	if (!(x.mode & (MODE_AGENT | MODE_SMALL_QUEUE)) && (data[2] & 8))
		fed_tunnel_conn_proto(x.conn)->next_id =
		    0x7ffffffdu - 2 * FED_TUNNEL_IDS_RESERVE - 2;
	/* Write the input as the peer, turning the loop in between, until it
	 * is all in and the connection went quiet, or it died, or it stopped
	 * reading (backpressure) for good. */
	for (int turn = 0; turn < MAX_TURN && x.conn && quiet < 8; turn++) {
		size_t moved = 0;

		if (off < size) {
			size_t n = size - off < step ? size - off : step;
			ssize_t w = send(sv[1], data + off, n, MSG_NOSIGNAL);

			if (w > 0) {
				off += (size_t)w;
				moved += (size_t)w;
			}
		} else if ((x.mode & MODE_SHUTDOWN) && quiet == 4) {
			fed_tunnel_conn_shutdown(x.conn, FED_TUNNEL_GOAWAY_SHUTDOWN, "done");
		} else if (hangup && quiet == 2) {
			shutdown(sv[1], SHUT_WR);
			if (x.bridge_fd >= 0) {
				close(x.bridge_fd);
				x.bridge_fd = -1;
			}
		}
		ev_run(loop, EVRUN_NOWAIT);
		if (!(x.mode & MODE_NO_DRAIN)) {
			moved += drain(sv[1]);
			if (x.bridge_fd >= 0)
				moved += drain(x.bridge_fd);
		}
		quiet = moved ? 0 : quiet + 1;
	}
	if (x.conn)
		check_credit(&x);
out:
	fed_tunnel_conn_free(x.conn); /* resets the streams: bridges end too */
	if (x.bridge_fd >= 0)
		close(x.bridge_fd);
	if (sv[0] >= 0)
		close(sv[0]);
	close(sv[1]);
	/* every watcher of this input must be gone: a live one points into
	 * freed memory (ASan sees the loop touch it) or counts here */
	if (ev_run(loop, EVRUN_NOWAIT))
		abort();
	return 0;
}
