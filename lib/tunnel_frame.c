/* Tunnel frames: encoder, incremental decoder and the per-connection
 * protocol state (stream table, credit). Pure: no I/O. */
#include <stdlib.h>
#include <string.h>

#include "fed/tunnel.h"

uint32_t fed_tunnel_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void fed_tunnel_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static const char *const type_names[] = {
    [FED_TUNNEL_HELLO] = "HELLO",     [FED_TUNNEL_AUTH] = "AUTH",
    [FED_TUNNEL_AUTH_OK] = "AUTH_OK", [FED_TUNNEL_OPEN] = "OPEN",
    [FED_TUNNEL_OPEN_OK] = "OPEN_OK", [FED_TUNNEL_DATA] = "DATA",
    [FED_TUNNEL_WINDOW] = "WINDOW",   [FED_TUNNEL_FIN] = "FIN",
    [FED_TUNNEL_RST] = "RST",         [FED_TUNNEL_PING] = "PING",
    [FED_TUNNEL_PONG] = "PONG",       [FED_TUNNEL_METADATA] = "METADATA",
    [FED_TUNNEL_GOAWAY] = "GOAWAY",   [FED_TUNNEL_CREDENTIAL] = "CREDENTIAL",
};

const char *fed_tunnel_type_name(uint8_t type)
{
	if (type < sizeof(type_names) / sizeof(type_names[0]) && type_names[type])
		return type_names[type];
	return "unknown";
}

int fed_tunnel_frame_encode(struct fed_buf *out, uint8_t type, uint32_t stream, const void *payload,
                            size_t len)
{
	uint8_t hdr[FED_TUNNEL_HDR] = {0};
	int rc;

	if (len > FED_TUNNEL_MAX_FRAME)
		return FED_EINVAL;
	hdr[0] = type;
	fed_tunnel_put_u32(hdr + 4, stream);
	fed_tunnel_put_u32(hdr + 8, (uint32_t)len);
	rc = fed_buf_append(out, hdr, sizeof(hdr));
	if (rc == 0 && len)
		rc = fed_buf_append(out, payload, len);
	return rc;
}

int fed_tunnel_frame_encode_u32(struct fed_buf *out, uint8_t type, uint32_t stream, uint32_t value)
{
	uint8_t v[4];

	fed_tunnel_put_u32(v, value);
	return fed_tunnel_frame_encode(out, type, stream, v, sizeof(v));
}

/* Per type: on stream 0 or not, and the payload size when it is fixed
 * (-1: variable, checked against min_len). */
struct type_rule {
	bool conn; /* stream must be 0 */
	bool any;  /* stream 0 or not (WINDOW) */
	int fixed;
	uint32_t min_len;
};

static const struct type_rule rules[] = {
    [FED_TUNNEL_HELLO] = {true, false, 12, 0},   [FED_TUNNEL_AUTH] = {true, false, -1, 2},
    [FED_TUNNEL_AUTH_OK] = {true, false, -1, 1}, [FED_TUNNEL_OPEN] = {false, false, 1, 0},
    [FED_TUNNEL_OPEN_OK] = {false, false, 0, 0}, [FED_TUNNEL_DATA] = {false, false, -1, 1},
    [FED_TUNNEL_WINDOW] = {false, true, 4, 0},   [FED_TUNNEL_FIN] = {false, false, 0, 0},
    [FED_TUNNEL_RST] = {false, false, 4, 0},     [FED_TUNNEL_PING] = {true, false, 8, 0},
    [FED_TUNNEL_PONG] = {true, false, 8, 0},     [FED_TUNNEL_METADATA] = {true, false, -1, 2},
    [FED_TUNNEL_GOAWAY] = {true, false, -1, 4},  [FED_TUNNEL_CREDENTIAL] = {true, false, -1, 1},
};

int fed_tunnel_frame_decode(const uint8_t *buf, size_t len, uint32_t max_payload,
                            struct fed_tunnel_frame *f, size_t *used, struct fed_error *err)
{
	const struct type_rule *r;
	uint32_t plen, stream;
	uint8_t type;

	*used = 0;
	if (len < FED_TUNNEL_HDR)
		return 0;
	type = buf[0];
	stream = fed_tunnel_get_u32(buf + 4);
	plen = fed_tunnel_get_u32(buf + 8);
	if (type == 0 || type >= sizeof(rules) / sizeof(rules[0]))
		return fed_error_set(err, FED_EINVAL, "tunnel frame: unknown type %u", type);
	r = &rules[type];
	if (buf[1] || buf[2] || buf[3])
		return fed_error_set(err, FED_EINVAL,
		                     "tunnel frame %s: flags and reserved bits must be 0",
		                     fed_tunnel_type_name(type));
	if (plen > max_payload)
		return fed_error_set(err, FED_EINVAL,
		                     "tunnel frame %s: payload of %u bytes exceeds the limit of %u",
		                     fed_tunnel_type_name(type), plen, max_payload);
	if (!r->any && r->conn != (stream == 0))
		return fed_error_set(err, FED_EINVAL, "tunnel frame %s: %s",
		                     fed_tunnel_type_name(type),
		                     r->conn ? "must be on stream 0" : "must not be on stream 0");
	if (r->fixed >= 0 ? plen != (uint32_t)r->fixed : plen < r->min_len)
		return fed_error_set(err, FED_EINVAL, "tunnel frame %s: bad payload length %u",
		                     fed_tunnel_type_name(type), plen);
	if (len - FED_TUNNEL_HDR < plen)
		return 0;
	f->type = type;
	f->flags = buf[1];
	f->stream = stream;
	f->len = plen;
	f->payload = buf + FED_TUNNEL_HDR;
	*used = FED_TUNNEL_HDR + (size_t)plen;
	return 1;
}

/* ---- protocol state ---- */

void fed_tunnel_proto_init(struct fed_tunnel_proto *p, bool is_host)
{
	memset(p, 0, sizeof(*p));
	p->is_host = is_host;
	p->next_id = 1;
	p->stream_window = FED_TUNNEL_STREAM_WINDOW;
	p->max_streams = FED_TUNNEL_MAX_STREAMS;
	p->conn_send_credit = FED_TUNNEL_CONN_WINDOW;
	p->conn_recv_left = FED_TUNNEL_CONN_WINDOW;
}

void fed_tunnel_proto_release(struct fed_tunnel_proto *p)
{
	for (size_t i = 0; i < FED_TUNNEL_BUCKETS; i++) {
		struct fed_tunnel_pstream *s = p->buckets[i], *next;

		for (; s; s = next) {
			next = s->next;
			free(s);
		}
		p->buckets[i] = NULL;
	}
	p->nstreams = 0;
}

struct fed_tunnel_pstream *fed_tunnel_proto_find(const struct fed_tunnel_proto *p, uint32_t id)
{
	struct fed_tunnel_pstream *s = p->buckets[id % FED_TUNNEL_BUCKETS];

	while (s && s->id != id)
		s = s->next;
	return s;
}

static struct fed_tunnel_pstream *add_stream(struct fed_tunnel_proto *p, uint32_t id)
{
	struct fed_tunnel_pstream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = id;
	s->send_credit = p->stream_window;
	s->recv_left = p->stream_window;
	s->next = p->buckets[id % FED_TUNNEL_BUCKETS];
	p->buckets[id % FED_TUNNEL_BUCKETS] = s;
	p->nstreams++;
	return s;
}

void fed_tunnel_proto_forget(struct fed_tunnel_proto *p, uint32_t id)
{
	struct fed_tunnel_pstream **pp = &p->buckets[id % FED_TUNNEL_BUCKETS];

	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct fed_tunnel_pstream *s = *pp;

			*pp = s->next;
			free(s);
			p->nstreams--;
			return;
		}
	}
}

int fed_tunnel_proto_open(struct fed_tunnel_proto *p, struct fed_tunnel_pstream **out,
                          struct fed_error *err)
{
	struct fed_tunnel_pstream *s;

	*out = NULL;
	if (!p->is_host)
		return fed_error_set(err, FED_EINVAL, "tunnel: only the host opens streams");
	if (p->nstreams >= p->max_streams)
		return fed_error_set(err, FED_EUNAVAILABLE,
		                     "tunnel: %u streams open, the limit; retry later",
		                     p->nstreams);
	if (p->next_id > 0x7ffffffd)
		return fed_error_set(
		    err, FED_EUNAVAILABLE,
		    "tunnel: stream ids exhausted; the connection must be renewed");
	s = add_stream(p, p->next_id);
	if (!s)
		return fed_error_set(err, FED_ENOMEM, "tunnel: out of memory");
	p->next_id += 2;
	*out = s;
	return 0;
}

static int add_credit(int64_t *credit, uint32_t inc, const char *what, struct fed_error *err)
{
	if (inc == 0 || *credit + inc > FED_TUNNEL_MAX_WINDOW)
		return fed_error_set(err, FED_EINVAL, "tunnel: WINDOW %s %u for %s",
		                     inc ? "overflows the window with" : "of", inc, what);
	*credit += inc;
	return 0;
}

int fed_tunnel_proto_recv(struct fed_tunnel_proto *p, const struct fed_tunnel_frame *f,
                          enum fed_tunnel_verdict *verdict, uint32_t *code, struct fed_error *err)
{
	struct fed_tunnel_pstream *s = f->stream ? fed_tunnel_proto_find(p, f->stream) : NULL;

	*verdict = FED_TUNNEL_OK;
	*code = 0;
	switch (f->type) {
	case FED_TUNNEL_OPEN:
		if (p->is_host)
			return fed_error_set(err, FED_EINVAL,
			                     "tunnel: the agent may not open streams (stream %u)",
			                     f->stream);
		if (!(f->stream & 1) || f->stream <= p->last_peer_id)
			return fed_error_set(err, FED_EINVAL,
			                     "tunnel: OPEN with id %u (must be odd and above %u)",
			                     f->stream, p->last_peer_id);
		p->last_peer_id = f->stream;
		if (p->nstreams >= p->max_streams) {
			*verdict = FED_TUNNEL_REFUSE_STREAM;
			*code = FED_TUNNEL_RST_TOO_MANY;
			return 0;
		}
		if (!add_stream(p, f->stream))
			return fed_error_set(err, FED_ENOMEM, "tunnel: out of memory");
		return 0;
	case FED_TUNNEL_DATA:
		/* The connection window counts every DATA byte, even for a
		 * stream that is gone, or the two sides' counts drift. */
		if (f->len > p->conn_recv_left)
			return fed_error_set(err, FED_EINVAL,
			                     "tunnel: DATA of %u bytes exceeds the connection "
			                     "window (%u left)",
			                     f->len, p->conn_recv_left);
		p->conn_recv_left -= f->len;
		if (!s) {
			p->conn_recv_unacked += f->len;
			if (f->stream <= (p->is_host ? p->next_id - 1 : p->last_peer_id)) {
				*verdict = FED_TUNNEL_IGNORE; /* closed recently */
				return 0;
			}
			*verdict = FED_TUNNEL_REFUSE_STREAM;
			*code = FED_TUNNEL_RST_UNKNOWN_STREAM;
			return 0;
		}
		if (s->remote_fin)
			return fed_error_set(err, FED_EINVAL, "tunnel: DATA after FIN on stream %u",
			                     f->stream);
		if (f->len > s->recv_left)
			return fed_error_set(err, FED_EINVAL,
			                     "tunnel: DATA of %u bytes exceeds the window of "
			                     "stream %u (%u left)",
			                     f->len, f->stream, s->recv_left);
		s->recv_left -= f->len;
		return 0;
	case FED_TUNNEL_WINDOW: {
		uint32_t inc = fed_tunnel_get_u32(f->payload);

		if (f->stream == 0)
			return add_credit(&p->conn_send_credit, inc, "the connection", err);
		if (!s) {
			*verdict = FED_TUNNEL_IGNORE;
			return 0;
		}
		return add_credit(&s->send_credit, inc, "a stream", err);
	}
	case FED_TUNNEL_OPEN_OK:
	case FED_TUNNEL_FIN:
		if (!s) {
			bool past = f->stream <= (p->is_host ? p->next_id - 1 : p->last_peer_id);

			*verdict = past ? FED_TUNNEL_IGNORE : FED_TUNNEL_REFUSE_STREAM;
			*code = FED_TUNNEL_RST_UNKNOWN_STREAM;
			return 0;
		}
		if (f->type == FED_TUNNEL_OPEN_OK && !p->is_host)
			return fed_error_set(err, FED_EINVAL, "tunnel: OPEN_OK sent by the host");
		if (f->type == FED_TUNNEL_FIN)
			s->remote_fin = true;
		return 0;
	case FED_TUNNEL_RST:
		if (!s) {
			*verdict = FED_TUNNEL_IGNORE; /* never answer a RST */
			return 0;
		}
		return 0; /* the caller tears down its stream, then forgets it */
	default:
		return 0; /* connection frames: the session decides */
	}
}

uint32_t fed_tunnel_proto_allowance(const struct fed_tunnel_proto *p,
                                    const struct fed_tunnel_pstream *s)
{
	int64_t n = s->send_credit < p->conn_send_credit ? s->send_credit : p->conn_send_credit;

	if (s->local_fin || n <= 0)
		return 0;
	return n > FED_TUNNEL_MAX_FRAME ? FED_TUNNEL_MAX_FRAME : (uint32_t)n;
}

void fed_tunnel_proto_sent(struct fed_tunnel_proto *p, struct fed_tunnel_pstream *s, uint32_t n)
{
	s->send_credit -= n;
	p->conn_send_credit -= n;
}

uint32_t fed_tunnel_proto_consumed(struct fed_tunnel_proto *p, struct fed_tunnel_pstream *s,
                                   uint32_t n)
{
	uint32_t inc = 0;

	p->conn_recv_unacked += n;
	if (!s)
		return 0;
	s->recv_unacked += n;
	if (s->recv_unacked >= p->stream_window / 2 && !s->remote_fin) {
		inc = s->recv_unacked;
		s->recv_left += inc;
		s->recv_unacked = 0;
	}
	return inc;
}

uint32_t fed_tunnel_proto_take_conn_credit(struct fed_tunnel_proto *p)
{
	uint32_t inc = 0;

	if (p->conn_recv_unacked >= FED_TUNNEL_CONN_WINDOW / 4) {
		inc = p->conn_recv_unacked;
		p->conn_recv_left += inc;
		p->conn_recv_unacked = 0;
	}
	return inc;
}
