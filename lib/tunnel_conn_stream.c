/* The streams of a tunnel connection, as their owners (bridges) drive
 * them: open, accept, send within the window, consume, FIN and RST. */
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "fed/tunnel_conn.h"
#include "tunnel_conn_internal.h"

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
	/* an agent that predates connect streams would run them as itself */
	if (target == FED_TUNNEL_TARGET_CONNECT && !(c->peer_features & FED_TUNNEL_FEATURE_CONNECT))
		return fed_error_set(err, FED_EINVAL,
		                     "tunnel %s: the agent does not serve cluster connect streams "
		                     "(upgrade fed-agent)",
		                     c->name);
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
	fed_tunnel_conn_queue_frame(c, FED_TUNNEL_OPEN, s->id, &t, 1);
	*out = s;
	return 0;
}

void fed_tunnel_stream_accept(struct fed_tunnel_stream *s, const struct fed_tunnel_stream_cb *cb,
                              void *ud)
{
	s->cb = cb;
	s->ud = ud;
	s->accepted = true;
	fed_tunnel_conn_queue_frame(s->conn, FED_TUNNEL_OPEN_OK, s->id, NULL, 0);
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
		fed_tunnel_conn_queue_frame(s->conn, FED_TUNNEL_DATA, s->id, b + done, k);
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
		fed_tunnel_conn_queue_u32(c, FED_TUNNEL_WINDOW, s->id, inc);
	inc = fed_tunnel_proto_take_conn_credit(&c->proto);
	if (inc)
		fed_tunnel_conn_queue_u32(c, FED_TUNNEL_WINDOW, 0, inc);
}

void fed_tunnel_stream_fin(struct fed_tunnel_stream *s)
{
	if (s->ps->local_fin)
		return;
	s->ps->local_fin = true;
	fed_tunnel_conn_queue_frame(s->conn, FED_TUNNEL_FIN, s->id, NULL, 0);
}

void fed_tunnel_stream_close(struct fed_tunnel_stream *s, uint32_t code)
{
	struct fed_tunnel_conn *c = s->conn;

	if (!(s->ps->local_fin && s->ps->remote_fin))
		fed_tunnel_conn_queue_u32(c, FED_TUNNEL_RST, s->id,
		                          code ? code : FED_TUNNEL_RST_CANCEL);
	/* unlink credits what the peer sent and we never consumed back to
	 * the connection window */
	fed_tunnel_conn_unlink_stream(c, s);
	if (c->st == ST_READY) {
		uint32_t inc = fed_tunnel_proto_take_conn_credit(&c->proto);

		if (inc)
			fed_tunnel_conn_queue_u32(c, FED_TUNNEL_WINDOW, 0, inc);
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
