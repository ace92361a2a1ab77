/* The frames a ready or authenticating tunnel connection receives: the
 * handshake's HELLO, AUTH and AUTH_OK, then stream and connection frames,
 * with the rate limits on what a peer may make us answer. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "fed/log.h"
#include "fed/tunnel_conn.h"
#include "tunnel_conn_internal.h"

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

struct fed_tunnel_stream *fed_tunnel_conn_find_stream(struct fed_tunnel_conn *c, uint32_t id)
{
	struct fed_tunnel_pstream *ps = fed_tunnel_proto_find(&c->proto, id);

	return ps ? ps->ud : NULL;
}

/* Tell every stream that has credit that it may send. The callbacks may
 * close any stream, their own included, so the ids are taken first and
 * each stream is looked up again before its call. */
void fed_tunnel_conn_notify_writable(struct fed_tunnel_conn *c)
{
	uint32_t ids[FED_TUNNEL_MAX_STREAMS];
	struct fed_tunnel_stream *s;
	size_t n = 0;

	for (s = c->streams; s && n < FED_TUNNEL_MAX_STREAMS; s = s->next)
		ids[n++] = s->id;
	for (size_t i = 0; i < n && !c->freed && c->st == ST_READY; i++) {
		s = fed_tunnel_conn_find_stream(c, ids[i]);
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
		fed_tunnel_conn_queue_frame(c, FED_TUNNEL_GOAWAY, 0, g, 4 + strlen(msg));
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
	fed_tunnel_conn_queue_frame(c, FED_TUNNEL_AUTH_OK, 0, ok.data, ok.len);
	c->st = ST_READY;
	c->last_rx = ev_now(c->loop);
	if (c->cb->ready)
		c->cb->ready(c, c->cluster, NULL, c->ud);
out:
	fed_buf_release(&ok);
	free(cluster);
	fed_tunnel_conn_wipe_free(cred);
}

static void handle_auth(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f)
{
	struct fed_error err = FED_ERROR_INIT;
	char *cluster = NULL, *cred = NULL;
	int rc;

	if (!c->is_host || c->st != ST_HELLO || !c->hello_seen || c->cluster || c->auth_pending) {
		fed_tunnel_conn_die(c, "unexpected AUTH");
		return;
	}
	c->auth_pending = true; /* nothing more is read until the verdict */
	rc =
	    c->cb->auth(c, f->payload[0], f->payload + 1, f->len - 1, &cluster, &cred, c->ud, &err);
	if (rc == FED_TUNNEL_AUTH_PENDING && !c->freed && c->st != ST_DEAD) {
		free(cluster);
		fed_tunnel_conn_wipe_free(cred);
		return; /* fed_tunnel_conn_auth_complete() follows */
	}
	finish_auth(c, rc == FED_TUNNEL_AUTH_PENDING ? FED_ERR : rc, cluster, cred, err.msg);
}

void fed_tunnel_conn_auth_complete(struct fed_tunnel_conn *c, int rc, char *cluster,
                                   char *credential, const char *why)
{
	if (!c || !c->auth_pending || c->freed || c->st == ST_DEAD) {
		free(cluster);
		fed_tunnel_conn_wipe_free(credential);
		return;
	}
	fed_tunnel_conn_enter(c);
	finish_auth(c, rc, cluster, credential, why);
	if (!c->freed && c->st != ST_DEAD) {
		/* what arrived meanwhile waits in c->in or the socket */
		ev_timer_start(c->loop, &c->resume);
		fed_tunnel_conn_update_io(c);
	}
	fed_tunnel_conn_leave(c);
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
		fed_tunnel_conn_die(c, "unexpected or malformed AUTH_OK");
		return;
	}
	c->cluster = strndup((const char *)f->payload, cl);
	if (f->len > cl + 1)
		c->credential = strndup((const char *)nul + 1, f->len - cl - 1);
	if (!c->cluster) {
		fed_tunnel_conn_die(c, "out of memory");
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
		fed_tunnel_conn_queue_u32(c, FED_TUNNEL_RST, f->stream, FED_TUNNEL_RST_TOO_MANY);
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
		fed_tunnel_conn_die(c, "malformed CREDENTIAL");
		return;
	}
	fed_tunnel_conn_wipe_free(c->credential);
	c->credential = cred;
	if (c->cb->credential)
		c->cb->credential(c, c->credential, c->ud);
}

/* Before authentication only HELLO, AUTH, AUTH_OK and GOAWAY. */
static bool handle_preauth(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f)
{
	if (c->is_host && c->auth_sent)
		return false; /* refused: waiting to close */
	switch (f->type) {
	case FED_TUNNEL_HELLO:
		if (c->hello_seen || f->payload[1] != FED_TUNNEL_VERSION) {
			fed_tunnel_conn_die(c, "bad HELLO (version %u)", f->payload[1]);
			return false;
		}
		c->hello_seen = true;
		/* bits we do not know are a newer peer's: ignored */
		c->peer_features = (uint16_t)(f->payload[2] << 8 | f->payload[3]);
		return true;
	case FED_TUNNEL_AUTH:
		handle_auth(c, f);
		return c->st != ST_DEAD && !c->freed;
	case FED_TUNNEL_AUTH_OK:
		handle_auth_ok(c, f);
		return c->st != ST_DEAD && !c->freed;
	case FED_TUNNEL_GOAWAY:
		fed_tunnel_conn_die(c, "peer sent GOAWAY %u before authentication",
		                    fed_tunnel_get_u32(f->payload));
		return false;
	default:
		fed_tunnel_conn_die(c, "%s before authentication", fed_tunnel_type_name(f->type));
		return false;
	}
}

static void goaway_protocol(struct fed_tunnel_conn *c)
{
	uint8_t g[4];

	fed_tunnel_put_u32(g, FED_TUNNEL_GOAWAY_PROTOCOL);
	fed_tunnel_conn_queue_frame(c, FED_TUNNEL_GOAWAY, 0, g, 4);
}

/* A frame for a stream never opened (or one too many): RST, within the
 * refused-frame budget; over it the connection goes. False when it did. */
static bool refuse_stream(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f,
                          uint32_t code)
{
	const char *reason =
	    code == FED_TUNNEL_RST_TOO_MANY ? "too_many_streams" : "unknown_stream";

	if (!take_token(c, &c->refused_tokens, &c->refused_at, c->opts.refused_rate)) {
		goaway_protocol(c);
		fed_tunnel_conn_die(c, "too many frames for unknown streams (over %.0f/s)",
		                    c->opts.refused_rate);
		return false;
	}
	fed_tunnel_conn_queue_u32(c, FED_TUNNEL_RST, f->stream, code);
	/* the first per connection is logged; a flood only counts */
	if (c->refused++ == 0)
		FED_LOG_WARN(c->cluster, "tunnel %s: %s frame for stream %u refused (%s)", c->name,
		             fed_tunnel_type_name(f->type), f->stream, reason);
	if (c->cb->refused)
		c->cb->refused(c, reason, c->ud);
	return true;
}

/* OPEN, OPEN_OK, DATA, WINDOW, FIN and RST, the flow control having
 * accepted them. */
static void handle_stream_frame(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f)
{
	struct fed_tunnel_stream *s = NULL;

	if (f->type == FED_TUNNEL_OPEN) {
		handle_open(c, f);
		return;
	}
	if (f->type == FED_TUNNEL_WINDOW && f->stream == 0) {
		fed_tunnel_conn_notify_writable(c);
		return;
	}
	s = fed_tunnel_conn_find_stream(c, f->stream);
	if (f->type == FED_TUNNEL_DATA) {
		if (s && s->cb && s->cb->data) {
			s->unconsumed += f->len;
			s->cb->data(s, f->payload, f->len, s->ud);
		} else /* no consumer yet: credit the connection back */
			fed_tunnel_proto_consumed(&c->proto, NULL, f->len);
		return;
	}
	if (!s)
		return;
	if (f->type == FED_TUNNEL_OPEN_OK && s->cb && s->cb->opened) {
		s->cb->opened(s, s->ud);
	} else if (f->type == FED_TUNNEL_WINDOW && s->cb && s->cb->writable) {
		s->cb->writable(s, s->ud);
	} else if (f->type == FED_TUNNEL_FIN && s->cb && s->cb->fin) {
		s->cb->fin(s, s->ud);
	} else if (f->type == FED_TUNNEL_RST) {
		fed_tunnel_conn_unlink_stream(c, s);
		if (s->cb && s->cb->reset)
			s->cb->reset(s, fed_tunnel_get_u32(f->payload), s->ud);
		free(s);
	}
}

/* The connection's own frames once authenticated; false when it ends. */
static bool handle_conn_frame(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f)
{
	switch (f->type) {
	case FED_TUNNEL_PING:
		if (take_token(c, &c->ping_tokens, &c->ping_at, c->opts.ping_rate))
			fed_tunnel_conn_queue_frame(c, FED_TUNNEL_PONG, 0, f->payload, 8);
		else if (c->cb->refused)
			c->cb->refused(c, "ping_rate", c->ud);
		if (c->cb->heartbeat)
			c->cb->heartbeat(c, c->ud);
		return true;
	case FED_TUNNEL_PONG:
		if (c->cb->heartbeat)
			c->cb->heartbeat(c, c->ud);
		return true;
	case FED_TUNNEL_METADATA:
		if (c->is_host && c->cb->metadata)
			c->cb->metadata(c, (const char *)f->payload, f->len, c->ud);
		return true;
	case FED_TUNNEL_CREDENTIAL:
		if (c->is_host) {
			fed_tunnel_conn_die(c, "unexpected CREDENTIAL from the agent");
			return false;
		}
		handle_credential(c, f);
		return true;
	case FED_TUNNEL_GOAWAY:
		fed_tunnel_conn_die(c, "peer sent GOAWAY %u", fed_tunnel_get_u32(f->payload));
		return false;
	default: /* HELLO/AUTH/AUTH_OK again */
		fed_tunnel_conn_die(c, "unexpected %s after authentication",
		                    fed_tunnel_type_name(f->type));
		return false;
	}
}

bool fed_tunnel_conn_handle_frame(struct fed_tunnel_conn *c, const struct fed_tunnel_frame *f)
{
	struct fed_error err = FED_ERROR_INIT;
	enum fed_tunnel_verdict v;
	uint32_t code, inc;
	bool go_on = true;

	c->last_rx = ev_now(c->loop);
	if (c->st == ST_HELLO)
		return handle_preauth(c, f);
	if (fed_tunnel_proto_recv(&c->proto, f, &v, &code, &err) < 0) {
		goaway_protocol(c);
		fed_tunnel_conn_die(c, "protocol violation: %s", err.msg);
		return false;
	}
	if (v == FED_TUNNEL_REFUSE_STREAM)
		go_on = refuse_stream(c, f, code);
	else if (v == FED_TUNNEL_IGNORE)
		go_on = true;
	else if (f->type == FED_TUNNEL_OPEN || f->type == FED_TUNNEL_OPEN_OK ||
	         f->type == FED_TUNNEL_DATA || f->type == FED_TUNNEL_WINDOW ||
	         f->type == FED_TUNNEL_FIN || f->type == FED_TUNNEL_RST)
		handle_stream_frame(c, f);
	else
		go_on = handle_conn_frame(c, f);
	if (!go_on)
		return false;
	/* every path, refused and ignored DATA too: what the peer sent
	 * counts against the connection window until we grant it back */
	if (!c->freed && c->st != ST_DEAD) {
		inc = fed_tunnel_proto_take_conn_credit(&c->proto);
		if (inc)
			fed_tunnel_conn_queue_u32(c, FED_TUNNEL_WINDOW, 0, inc);
	}
	return !c->freed && c->st != ST_DEAD;
}
