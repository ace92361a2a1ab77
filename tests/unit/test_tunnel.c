/* Tunnel wire protocol: frame codec, incremental decoding, refusal of
 * malformed and oversize frames, stream table and credit accounting. */
#include <stdlib.h>

#include "check.h"
#include "fed/tunnel.h"
#include "fed/tunnel_http.h"
#include "fed/tunnel_proxy.h"

static int decode_all(const struct fed_buf *b, struct fed_tunnel_frame *out, int max, size_t step,
                      struct fed_error *err)
{
	/* Feed the bytes step at a time, as a socket would deliver them. */
	struct fed_buf in = FED_BUF_INIT;
	size_t fed = 0;
	int n = 0, rc = 0;

	while (fed < b->len || in.len) {
		struct fed_tunnel_frame f;
		size_t used, chunk = b->len - fed < step ? b->len - fed : step;

		if (chunk)
			fed_buf_append(&in, b->data + fed, chunk);
		fed += chunk;
		while ((rc = fed_tunnel_frame_decode((const uint8_t *)in.data, in.len,
		                                     FED_TUNNEL_MAX_FRAME, &f, &used, err)) == 1) {
			if (n < max) {
				/* keep a copy of the payload pointer target */
				uint8_t *copy = malloc(f.len + 1);
				memcpy(copy, f.payload, f.len);
				f.payload = copy;
				out[n] = f;
			}
			n++;
			fed_buf_consume(&in, used);
		}
		if (rc < 0)
			break;
		if (!chunk)
			break;
	}
	if (rc == 0 && in.len)
		rc = 2; /* trailing partial frame */
	fed_buf_release(&in);
	return rc < 0 ? rc : (rc == 2 ? -100 : n);
}

static void free_frames(struct fed_tunnel_frame *f, int n)
{
	for (int i = 0; i < n; i++)
		free((void *)f[i].payload);
}

static void test_roundtrip(void)
{
	struct fed_buf b = FED_BUF_INIT;
	struct fed_tunnel_frame f[8];
	struct fed_error err = FED_ERROR_INIT;
	/* version 1, features FED_TUNNEL_FEATURE_CONNECT */
	uint8_t hello[12] = {0, 1, 0, FED_TUNNEL_FEATURE_CONNECT, 0, 1, 0, 0, 0, 4, 0, 0};
	static uint8_t big[FED_TUNNEL_MAX_FRAME];
	size_t steps[] = {1, 7, 12, 13, 4096, 1 << 20};

	memset(big, 'x', sizeof(big));
	CHECK_INT(fed_tunnel_frame_encode(&b, FED_TUNNEL_HELLO, 0, hello, sizeof(hello)), 0);
	CHECK_INT(fed_tunnel_frame_encode(&b, FED_TUNNEL_OPEN, 1, "\x02", 1), 0);
	CHECK_INT(fed_tunnel_frame_encode(&b, FED_TUNNEL_DATA, 1, "GET / HTTP/1.1\r\n", 16), 0);
	CHECK_INT(fed_tunnel_frame_encode_u32(&b, FED_TUNNEL_WINDOW, 0, 65536), 0);
	CHECK_INT(fed_tunnel_frame_encode(&b, FED_TUNNEL_DATA, 3, big, sizeof(big)), 0);
	CHECK_INT(fed_tunnel_frame_encode(&b, FED_TUNNEL_FIN, 1, NULL, 0), 0);
	CHECK_INT(fed_tunnel_frame_encode(&b, FED_TUNNEL_PING, 0, "12345678", 8), 0);
	CHECK_INT(b.len, 7 * 12 + 12 + 1 + 16 + 4 + sizeof(big) + 8);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int n = decode_all(&b, f, 8, steps[i], &err);

		CHECK_INT(n, 7);
		CHECK_INT(f[0].type, FED_TUNNEL_HELLO);
		CHECK(!memcmp(f[0].payload, hello, 12));
		CHECK_INT(f[1].type, FED_TUNNEL_OPEN);
		CHECK_INT(f[1].stream, 1);
		CHECK_INT(f[1].payload[0], FED_TUNNEL_TARGET_CONNECT);
		CHECK_INT(f[2].len, 16);
		CHECK(!memcmp(f[2].payload, "GET / HTTP/1.1\r\n", 16));
		CHECK_INT(f[3].type, FED_TUNNEL_WINDOW);
		CHECK_INT(fed_tunnel_get_u32(f[3].payload), 65536);
		CHECK_INT(f[4].stream, 3);
		CHECK_INT(f[4].len, FED_TUNNEL_MAX_FRAME);
		CHECK_INT(f[5].type, FED_TUNNEL_FIN);
		CHECK_INT(f[5].len, 0);
		CHECK_STR(fed_tunnel_type_name(f[6].type), "PING");
		free_frames(f, 7);
	}
	/* encoding refuses an oversize payload */
	CHECK_INT(fed_tunnel_frame_encode(&b, FED_TUNNEL_DATA, 1, big, sizeof(big) + 1),
	          FED_EINVAL);
	fed_buf_release(&b);
}

static int decode_hdr(const uint8_t hdr[12], struct fed_error *err)
{
	struct fed_tunnel_frame f;
	size_t used;

	fed_error_clear(err);
	return fed_tunnel_frame_decode(hdr, 12, FED_TUNNEL_MAX_FRAME, &f, &used, err);
}

static void test_malformed(void)
{
	struct fed_error err = FED_ERROR_INIT;
	uint8_t h[12];

	/* need more: a header with a payload not yet here consumes nothing */
	memset(h, 0, 12);
	h[0] = FED_TUNNEL_DATA;
	h[7] = 1;
	h[11] = 5;
	CHECK_INT(decode_hdr(h, &err), 0);

	/* oversize is refused from the header alone */
	fed_tunnel_put_u32(h + 8, FED_TUNNEL_MAX_FRAME + 1);
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "exceeds the limit");
	fed_tunnel_put_u32(h + 8, 0xffffffffu);
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);

	/* unknown types */
	memset(h, 0, 12);
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "unknown type 0");
	h[0] = 15;
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);
	h[0] = 255;
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);

	/* flags and reserved bits */
	memset(h, 0, 12);
	h[0] = FED_TUNNEL_FIN;
	h[7] = 1;
	CHECK_INT(decode_hdr(h, &err), 1);
	h[1] = 1;
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "reserved");
	h[1] = 0;
	h[3] = 0x80;
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);

	/* stream 0 rules */
	memset(h, 0, 12);
	h[0] = FED_TUNNEL_FIN;
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "must not be on stream 0");
	h[0] = FED_TUNNEL_PING;
	h[7] = 3;
	h[11] = 8;
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "must be on stream 0");

	/* fixed and minimum sizes */
	memset(h, 0, 12);
	h[0] = FED_TUNNEL_WINDOW;
	h[11] = 3;
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "bad payload length 3");
	h[0] = FED_TUNNEL_DATA;
	h[7] = 1;
	h[11] = 0;
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL); /* empty DATA is pointless: refused */
	h[0] = FED_TUNNEL_OPEN;
	h[11] = 2;
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);
	CHECK_STR(fed_tunnel_type_name(99), "unknown");

	/* CREDENTIAL (rotation): stream 0 only, never empty */
	memset(h, 0, 12);
	h[0] = FED_TUNNEL_CREDENTIAL;
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);
	h[11] = 1;
	h[7] = 1;
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "must be on stream 0");
	h[7] = 0;
	h[11] = 0;
	fed_tunnel_put_u32(h + 8, 0);
	CHECK_INT(decode_hdr(h, &err), FED_EINVAL);
	CHECK_STR(fed_tunnel_type_name(FED_TUNNEL_CREDENTIAL), "CREDENTIAL");
}

static struct fed_tunnel_frame frame(uint8_t type, uint32_t stream, const void *p, uint32_t len)
{
	struct fed_tunnel_frame f = {type, 0, stream, len, p};
	return f;
}

static void test_streams(void)
{
	struct fed_tunnel_proto host, agent;
	struct fed_tunnel_pstream *s1, *s3, *a1;
	struct fed_error err = FED_ERROR_INIT;
	enum fed_tunnel_verdict v;
	struct fed_tunnel_frame f;
	uint32_t code;

	fed_tunnel_proto_init(&host, true);
	fed_tunnel_proto_init(&agent, false);

	/* the agent cannot open streams, and the host refuses its OPENs */
	CHECK_INT(fed_tunnel_proto_open(&agent, &a1, &err), FED_EINVAL);
	f = frame(FED_TUNNEL_OPEN, 2, "\x01", 1);
	CHECK_INT(fed_tunnel_proto_recv(&host, &f, &v, &code, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "may not open");

	CHECK_INT(fed_tunnel_proto_open(&host, &s1, &err), 0);
	CHECK_INT(fed_tunnel_proto_open(&host, &s3, &err), 0);
	CHECK_INT(s1->id, 1);
	CHECK_INT(s3->id, 3);
	f = frame(FED_TUNNEL_OPEN, 1, "\x01", 1);
	CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), 0);
	CHECK_INT(v, FED_TUNNEL_OK);
	CHECK(fed_tunnel_proto_find(&agent, 1) != NULL);
	/* ids must increase and be odd */
	CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), FED_EINVAL);
	f = frame(FED_TUNNEL_OPEN, 4, "\x01", 1);
	CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), FED_EINVAL);

	/* DATA on a stream never opened: RST, connection survives, bytes
	 * still counted and credited back */
	f = frame(FED_TUNNEL_DATA, 9, "abc", 3);
	CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), 0);
	CHECK_INT(v, FED_TUNNEL_REFUSE_STREAM);
	CHECK_INT(code, FED_TUNNEL_RST_UNKNOWN_STREAM);
	CHECK_INT(agent.conn_recv_left, FED_TUNNEL_CONN_WINDOW - 3);
	CHECK_INT(agent.conn_recv_unacked, 3);
	/* DATA on the host for a stream it closed: ignored */
	fed_tunnel_proto_forget(&host, 3);
	f = frame(FED_TUNNEL_DATA, 3, "abc", 3);
	CHECK_INT(fed_tunnel_proto_recv(&host, &f, &v, &code, &err), 0);
	CHECK_INT(v, FED_TUNNEL_IGNORE);
	f = frame(FED_TUNNEL_DATA, 5, "abc", 3);
	CHECK_INT(fed_tunnel_proto_recv(&host, &f, &v, &code, &err), 0);
	CHECK_INT(v, FED_TUNNEL_REFUSE_STREAM);
	/* RST for an unknown stream is never answered */
	f = frame(FED_TUNNEL_RST, 77, "\0\0\0\1", 4);
	CHECK_INT(fed_tunnel_proto_recv(&host, &f, &v, &code, &err), 0);
	CHECK_INT(v, FED_TUNNEL_IGNORE);

	/* FIN then DATA is a violation */
	f = frame(FED_TUNNEL_FIN, 1, NULL, 0);
	CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), 0);
	f = frame(FED_TUNNEL_DATA, 1, "x", 1);
	CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "after FIN");

	/* the host refuses OPEN_OK-like frames from itself direction */
	f = frame(FED_TUNNEL_OPEN_OK, 1, NULL, 0);
	CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), FED_EINVAL);

	fed_tunnel_proto_release(&host);
	fed_tunnel_proto_release(&agent);
}

static void test_stream_limit(void)
{
	struct fed_tunnel_proto host, agent;
	struct fed_tunnel_pstream *s;
	struct fed_error err = FED_ERROR_INIT;
	enum fed_tunnel_verdict v;
	struct fed_tunnel_frame f;
	uint32_t code;

	fed_tunnel_proto_init(&host, true);
	fed_tunnel_proto_init(&agent, false);
	host.max_streams = agent.max_streams = 4;
	for (int i = 0; i < 4; i++)
		CHECK_INT(fed_tunnel_proto_open(&host, &s, &err), 0);
	CHECK_INT(fed_tunnel_proto_open(&host, &s, &err), FED_EUNAVAILABLE);
	CHECK_HAS(err.msg, "limit");
	/* connect streams count as any other */
	for (uint32_t id = 1; id <= 9; id += 2) {
		f = frame(FED_TUNNEL_OPEN, id, id % 4 == 1 ? "\x01" : "\x02", 1);
		CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), 0);
		CHECK_INT(v, id < 9 ? FED_TUNNEL_OK : FED_TUNNEL_REFUSE_STREAM);
	}
	CHECK_INT(code, FED_TUNNEL_RST_TOO_MANY);
	CHECK_INT(agent.nstreams, 4);
	fed_tunnel_proto_forget(&agent, 5);
	fed_tunnel_proto_forget(&agent, 5);
	CHECK_INT(agent.nstreams, 3);
	CHECK(fed_tunnel_proto_find(&agent, 5) == NULL);
	CHECK(fed_tunnel_proto_find(&agent, 7) != NULL);
	fed_tunnel_proto_release(&host);
	fed_tunnel_proto_release(&agent);
}

static void test_flow_control(void)
{
	struct fed_tunnel_proto host, agent;
	struct fed_tunnel_pstream *hs, *as, *hs2;
	struct fed_error err = FED_ERROR_INIT;
	enum fed_tunnel_verdict v;
	struct fed_tunnel_frame f;
	static uint8_t chunk[FED_TUNNEL_MAX_FRAME];
	uint32_t code, sent = 0, inc, n;
	uint8_t w[4];

	fed_tunnel_proto_init(&host, true);
	fed_tunnel_proto_init(&agent, false);
	CHECK_INT(fed_tunnel_proto_open(&host, &hs, &err), 0);
	CHECK_INT(fed_tunnel_proto_open(&host, &hs2, &err), 0);
	f = frame(FED_TUNNEL_OPEN, 1, "\x01", 1);
	CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), 0);
	as = fed_tunnel_proto_find(&agent, 1);
	CHECK(as != NULL);

	/* the sender may send exactly one window, in max-frame pieces */
	while ((n = fed_tunnel_proto_allowance(&host, hs)) > 0) {
		CHECK(n <= FED_TUNNEL_MAX_FRAME);
		fed_tunnel_proto_sent(&host, hs, n);
		f = frame(FED_TUNNEL_DATA, 1, chunk, n);
		CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), 0);
		sent += n;
	}
	CHECK_INT(sent, FED_TUNNEL_STREAM_WINDOW);
	/* a stalled stream leaves the other one its full window */
	CHECK_INT(fed_tunnel_proto_allowance(&host, hs2), FED_TUNNEL_MAX_FRAME);
	CHECK_INT(hs2->send_credit, FED_TUNNEL_STREAM_WINDOW);
	/* one byte beyond the window is a violation on the receiver */
	f = frame(FED_TUNNEL_DATA, 1, chunk, 1);
	CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "exceeds the window of stream 1");

	/* consuming grants credit back at half a window */
	CHECK_INT(fed_tunnel_proto_consumed(&agent, as, 1000), 0);
	inc = fed_tunnel_proto_consumed(&agent, as, FED_TUNNEL_STREAM_WINDOW / 2);
	CHECK_INT(inc, FED_TUNNEL_STREAM_WINDOW / 2 + 1000);
	fed_tunnel_put_u32(w, inc);
	f = frame(FED_TUNNEL_WINDOW, 1, w, 4);
	CHECK_INT(fed_tunnel_proto_recv(&host, &f, &v, &code, &err), 0);
	CHECK_INT(hs->send_credit, inc);
	CHECK_INT(fed_tunnel_proto_allowance(&host, hs), FED_TUNNEL_MAX_FRAME);

	/* zero and overflowing increments are violations */
	fed_tunnel_put_u32(w, 0);
	CHECK_INT(fed_tunnel_proto_recv(&host, &f, &v, &code, &err), FED_EINVAL);
	fed_tunnel_put_u32(w, FED_TUNNEL_MAX_WINDOW);
	CHECK_INT(fed_tunnel_proto_recv(&host, &f, &v, &code, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "overflows");
	/* WINDOW for a closed stream is dropped */
	fed_tunnel_put_u32(w, 10);
	f = frame(FED_TUNNEL_WINDOW, 11, w, 4);
	CHECK_INT(fed_tunnel_proto_recv(&host, &f, &v, &code, &err), 0);
	CHECK_INT(v, FED_TUNNEL_IGNORE);

	/* the connection window: many streams together cannot exceed it */
	fed_tunnel_proto_release(&host);
	fed_tunnel_proto_release(&agent);
	fed_tunnel_proto_init(&host, true);
	fed_tunnel_proto_init(&agent, false);
	sent = 0;
	for (int i = 0; i < 80; i++) {
		CHECK_INT(fed_tunnel_proto_open(&host, &hs, &err), 0);
		f = frame(FED_TUNNEL_OPEN, hs->id, "\x01", 1);
		CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), 0);
		while ((n = fed_tunnel_proto_allowance(&host, hs)) > 0) {
			fed_tunnel_proto_sent(&host, hs, n);
			f = frame(FED_TUNNEL_DATA, hs->id, chunk, n);
			CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), 0);
			sent += n;
		}
	}
	CHECK_INT(sent, FED_TUNNEL_CONN_WINDOW);
	CHECK_INT(host.conn_send_credit, 0);
	CHECK_INT(agent.conn_recv_left, 0);
	f = frame(FED_TUNNEL_DATA, 1, chunk, 1);
	CHECK_INT(fed_tunnel_proto_recv(&agent, &f, &v, &code, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "connection window");
	/* consumed bytes come back on stream 0 in batches */
	as = fed_tunnel_proto_find(&agent, 1);
	fed_tunnel_proto_consumed(&agent, as, 1000);
	CHECK_INT(fed_tunnel_proto_take_conn_credit(&agent), 0);
	fed_tunnel_proto_consumed(&agent, NULL, FED_TUNNEL_CONN_WINDOW / 4);
	inc = fed_tunnel_proto_take_conn_credit(&agent);
	CHECK_INT(inc, FED_TUNNEL_CONN_WINDOW / 4 + 1000);
	CHECK_INT(agent.conn_recv_left, inc);
	fed_tunnel_put_u32(w, inc);
	f = frame(FED_TUNNEL_WINDOW, 0, w, 4);
	CHECK_INT(fed_tunnel_proto_recv(&host, &f, &v, &code, &err), 0);
	CHECK_INT(host.conn_send_credit, inc);
	fed_tunnel_proto_release(&host);
	fed_tunnel_proto_release(&agent);
}

static int feed_str(struct fed_tunnel_http *h, const char *s, size_t step, struct fed_buf *out,
                    struct fed_buf *reply)
{
	size_t n = strlen(s);
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i += step)
		rc = fed_tunnel_http_feed(h, (const uint8_t *)s + i, n - i < step ? n - i : step,
		                          out, reply);
	return rc;
}

static void test_http_rewrite(void)
{
	const char *req = "GET /api/v1/namespaces?limit=5 HTTP/1.1\r\n"
	                  "Host: 127.0.0.1:41234\r\n"
	                  "Authorization: Bearer host-secret\r\n"
	                  "impersonate-user: admin\r\n"
	                  "Impersonate-Group: system:masters\r\n"
	                  "Proxy-Authorization: Basic eA==\r\n"
	                  "Connection: keep-alive, X-Drop-Me\r\n"
	                  "X-Drop-Me: 1\r\n"
	                  "Upgrade: websocket\r\n"
	                  "Accept: application/json\r\n"
	                  "User-Agent: fed-controller\r\n"
	                  "\r\n"
	                  "POST /api/v1/namespaces/x/configmaps HTTP/1.1\r\n"
	                  "Content-Length: 11\r\n"
	                  "Content-Type: application/json\r\n"
	                  "\r\n"
	                  "{\"a\":\"b\"}\r\n"
	                  "GET /version HTTP/1.1\r\n\r\n";
	size_t steps[] = {1, 3, 64, 100000};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct fed_tunnel_http *h;
		struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT;
		const char *o;

		CHECK_INT(fed_tunnel_http_new(&h, "10.96.0.1:443", "agent-sa-token"), 0);
		CHECK_INT(feed_str(h, req, steps[i], &out, &reply), 0);
		o = fed_buf_str(&out);
		CHECK_INT(h->requests, 3);
		CHECK(strstr(o, "host-secret") == NULL);
		CHECK(strcasestr(o, "impersonate") == NULL);
		CHECK(strstr(o, "Proxy-Authorization") == NULL);
		CHECK(strstr(o, "X-Drop-Me") == NULL);
		CHECK(strstr(o, "Upgrade") == NULL);
		CHECK(strstr(o, "Connection") == NULL);
		CHECK(strstr(o, "127.0.0.1:41234") == NULL);
		CHECK_HAS(o, "GET /api/v1/namespaces?limit=5 HTTP/1.1\r\nHost: 10.96.0.1:443\r\n"
		             "Accept: application/json\r\nUser-Agent: fed-controller\r\n"
		             "Authorization: Bearer agent-sa-token\r\n\r\n"
		             "POST /api/v1/namespaces/x/configmaps HTTP/1.1\r\n");
		CHECK_HAS(o, "Content-Type: application/json\r\nContent-Length: 11\r\n"
		             "Authorization: Bearer agent-sa-token\r\n\r\n{\"a\":\"b\"}\r\n"
		             "GET /version HTTP/1.1\r\nHost: 10.96.0.1:443\r\n"
		             "Authorization: Bearer agent-sa-token\r\n\r\n");
		CHECK_INT(reply.len, 0);
		fed_buf_release(&out);
		fed_buf_release(&reply);
		fed_tunnel_http_free(h);
	}
}

static void test_http_refused(void)
{
	struct {
		const char *req, *status, *why;
	} cases[] = {
	    {"GET http://10.0.0.5:22/ HTTP/1.1\r\n\r\n", "400", "target must be a path"},
	    {"CONNECT 10.0.0.5:22 HTTP/1.1\r\n\r\n", "400", "target must be a path"},
	    {"GET * HTTP/1.1\r\n\r\n", "400", "target must be a path"},
	    {"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "501", "Transfer-Encoding"},
	    {"POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "400",
	     "conflicting"},
	    {"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "400", "bad Content-Length"},
	    {"GET /x HTTP/1.1\r\nA: b\r\n c\r\n\r\n", "400", "folded"},
	    {"GET /x HTTP/1.1\r\nBad Name: b\r\n\r\n", "400", "header name"},
	    {"GET /x HTTP/2\r\n\r\n", "505", "HTTP/1.x"},
	    {"GET /x\r\n\r\n", "400", "request line"},
	    {"\r\n\r\n", "400", "request line"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fed_tunnel_http *h;
		struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT;

		CHECK_INT(fed_tunnel_http_new(&h, "api:443", "tok"), 0);
		CHECK_INT(feed_str(h, cases[i].req, 5, &out, &reply), FED_EINVAL);
		CHECK_HAS(fed_buf_str(&reply), cases[i].status);
		CHECK_HAS(fed_buf_str(&reply), cases[i].why);
		CHECK_HAS(fed_buf_str(&reply), "Connection: close");
		CHECK_HAS(h->error, cases[i].why);
		CHECK(strstr(fed_buf_str(&out), "tok") == NULL);
		/* nothing more is accepted */
		CHECK_INT(fed_tunnel_http_feed(h, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18,
		                               &out, &reply),
		          FED_EINVAL);
		fed_buf_release(&out);
		fed_buf_release(&reply);
		fed_tunnel_http_free(h);
	}
	/* an endless head is cut at 64 KiB */
	{
		struct fed_tunnel_http *h;
		struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT;
		char line[1024];
		int rc = 0;

		memset(line, 'a', sizeof(line));
		CHECK_INT(fed_tunnel_http_new(&h, "api:443", NULL), 0);
		for (int i = 0; i < 100 && rc == 0; i++)
			rc = fed_tunnel_http_feed(h, (const uint8_t *)line, sizeof(line), &out,
			                          &reply);
		CHECK_INT(rc, FED_EINVAL);
		CHECK_HAS(fed_buf_str(&reply), "431");
		fed_buf_release(&out);
		fed_buf_release(&reply);
		fed_tunnel_http_free(h);
	}
}

/* A connect stream's filter in *h, fed req step bytes at a time. */
static int connect_feed(struct fed_tunnel_http **h, const char *req, size_t step,
                        struct fed_buf *out, struct fed_buf *reply)
{
	int rc = fed_tunnel_http_new_connect(h, "10.96.0.1:443", "agent-sa-token");

	return rc < 0 ? rc : feed_str(*h, req, step, out, reply);
}

static void respond(struct fed_tunnel_http *h, const char *s, size_t step)
{
	for (size_t i = 0, n = strlen(s); i < n; i += step)
		fed_tunnel_http_response(h, (const uint8_t *)s + i, n - i < step ? n - i : step);
}

/* Connect mode keeps the caller's impersonation and removes the rest as
 * on any stream; one request per stream. */
static void test_http_connect_headers(void)
{
	const char *req = "POST /api/v1/namespaces/x/configmaps HTTP/1.1\r\n"
	                  "Host: localhost\r\n"
	                  "Authorization: Bearer host-secret\r\n"
	                  "Proxy-Authorization: Basic eA==\r\n"
	                  "Impersonate-User: alice\r\n"
	                  "Impersonate-Group: devs\r\n"
	                  "impersonate-group: qa\r\n"
	                  "Impersonate-Uid: 1234\r\n"
	                  "Impersonate-Extra-Scopes: view\r\n"
	                  "Impersonate-Extra-example.com%2fteam: blue\r\n"
	                  "Impersonate-Something: dropped\r\n"
	                  "Connection: keep-alive, X-Drop-Me\r\n"
	                  "Keep-Alive: timeout=5\r\n"
	                  "TE: trailers\r\n"
	                  "X-Drop-Me: 1\r\n"
	                  "Upgrade: h2c\r\n"
	                  "Accept: application/json\r\n"
	                  "Content-Length: 9\r\n"
	                  "\r\n"
	                  "{\"a\":\"b\"}";
	const char *want = "POST /api/v1/namespaces/x/configmaps HTTP/1.1\r\n"
	                   "Host: 10.96.0.1:443\r\n"
	                   "Impersonate-User: alice\r\n"
	                   "Impersonate-Group: devs\r\n"
	                   "impersonate-group: qa\r\n"
	                   "Impersonate-Uid: 1234\r\n"
	                   "Impersonate-Extra-Scopes: view\r\n"
	                   "Impersonate-Extra-example.com%2fteam: blue\r\n"
	                   "Accept: application/json\r\n"
	                   "Content-Length: 9\r\n"
	                   "Authorization: Bearer agent-sa-token\r\n"
	                   "\r\n"
	                   "{\"a\":\"b\"}";
	size_t steps[] = {1, 3, 64, 100000};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT;
		struct fed_tunnel_http *h = NULL;

		CHECK_INT(connect_feed(&h, req, steps[i], &out, &reply), 0);
		CHECK_STR(fed_buf_str(&out), want);
		CHECK_INT(h->requests, 1);
		CHECK_INT(h->stripped, 10);
		CHECK_INT(h->phase, FED_TUNNEL_HTTP_DONE);
		/* the answer changes nothing: no upgrade was asked for */
		respond(h, "HTTP/1.1 101 Switching Protocols\r\n\r\n", 1);
		CHECK_INT(h->phase, FED_TUNNEL_HTTP_DONE);
		/* a second request on the stream: refused, nothing of it sent */
		CHECK_INT(feed_str(h, "GET /version HTTP/1.1\r\nImpersonate-User: bob\r\n\r\n",
		                   steps[i], &out, &reply),
		          FED_EINVAL);
		CHECK_STR(fed_buf_str(&out), want);
		CHECK_HAS(fed_buf_str(&reply), "400 Bad Request");
		CHECK_HAS(h->error, "one request per cluster connect stream");
		fed_buf_release(&out);
		fed_buf_release(&reply);
		fed_tunnel_http_free(h);
	}
}

/* SPDY/3.1 and websocket upgrades pass; after the apiserver's 101 the
 * stream is raw bytes both ways; anything else stays an HTTP request. */
static void test_http_connect_upgrade(void)
{
	const char *spdy = "POST /api/v1/namespaces/default/pods/x/exec?command=sh&stdin=true "
	                   "HTTP/1.1\r\n"
	                   "Connection: Upgrade\r\n"
	                   "Upgrade: SPDY/3.1\r\n"
	                   "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
	                   "Impersonate-User: alice\r\n"
	                   "\r\n";
	const char *ws = "GET /api/v1/namespaces/default/pods/x/portforward?ports=80 HTTP/1.1\r\n"
	                 "connection: keep-alive, upgrade\r\n"
	                 "upgrade: WebSocket\r\n"
	                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                 "Sec-WebSocket-Version: 13\r\n"
	                 "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n"
	                 "Impersonate-User: alice\r\n"
	                 "\r\n";
	/* what follows the 101: anything at all, a "request" included */
	static const char raw[] = "\x00\x01\x02GET / HTTP/1.1\r\nImpersonate-User: system:admin\r\n"
	                          "Transfer-Encoding: chunked\r\n\r\n\xff";
	size_t steps[] = {1, 5, 100000};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT;
		struct fed_tunnel_http *h = NULL;
		size_t head;

		CHECK_INT(connect_feed(&h, spdy, steps[i], &out, &reply), 0);
		CHECK_HAS(
		    fed_buf_str(&out),
		    "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nImpersonate-User: alice\r\n"
		    "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
		    "Authorization: Bearer agent-sa-token\r\n\r\n");
		CHECK_INT(h->phase, FED_TUNNEL_HTTP_UPGRADING);
		head = out.len;
		/* the answer, a byte at a time, then raw bytes pass unchanged */
		respond(h, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\n\r\n",
		        steps[i]);
		CHECK_INT(h->phase, FED_TUNNEL_HTTP_RAW);
		CHECK(h->upgraded);
		for (size_t k = 0; k < sizeof(raw) - 1; k += steps[i])
			CHECK_INT(fed_tunnel_http_feed(h, (const uint8_t *)raw + k,
			                               sizeof(raw) - 1 - k < steps[i]
			                                   ? sizeof(raw) - 1 - k
			                                   : steps[i],
			                               &out, &reply),
			          0);
		CHECK_INT(out.len - head, sizeof(raw) - 1);
		CHECK(!memcmp(out.data + head, raw, sizeof(raw) - 1));
		CHECK_INT(reply.len, 0);
		fed_buf_release(&out);
		fed_tunnel_http_free(h);

		CHECK_INT(connect_feed(&h, ws, steps[i], &out, &reply), 0);
		CHECK_HAS(fed_buf_str(&out), "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n");
		CHECK_HAS(fed_buf_str(&out), "\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n");
		CHECK(strstr(fed_buf_str(&out), "keep-alive") == NULL);
		CHECK_INT(h->phase, FED_TUNNEL_HTTP_UPGRADING);
		/* a client waits for the 101: bytes before it are refused */
		CHECK_INT(feed_str(h, "\x81\x05hello", steps[i], &out, &reply), FED_EINVAL);
		CHECK_HAS(h->error, "before the upgrade was answered");
		fed_buf_release(&out);
		fed_buf_release(&reply);
		fed_tunnel_http_free(h);
	}
	/* an upgrade the apiserver refused (or answered with anything but
	 * 101): the stream carries nothing more, so no second request reaches
	 * the apiserver's still open connection unchecked */
	{
		const char *answers[] = {
		    "HTTP/1.1 403 Forbidden\r\n\r\n",
		    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n",
		    "HTTP/1.1 1010 Odd\r\n\r\n",
		    "HTTP/2 101\r\n\r\n",
		};

		for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
			struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT;
			struct fed_tunnel_http *h = NULL;
			size_t head;

			CHECK_INT(connect_feed(&h, spdy, 7, &out, &reply), 0);
			head = out.len;
			respond(h, answers[i], 3);
			CHECK_INT(h->phase, FED_TUNNEL_HTTP_DONE);
			CHECK(!h->upgraded);
			CHECK_INT(
			    feed_str(h,
			             "GET /api HTTP/1.1\r\nImpersonate-User: system:admin\r\n\r\n",
			             4, &out, &reply),
			    FED_EINVAL);
			CHECK_INT(out.len, head);
			CHECK_HAS(h->error, "one request per cluster connect stream");
			fed_buf_release(&out);
			fed_buf_release(&reply);
			fed_tunnel_http_free(h);
		}
	}
	/* other upgrades are removed and the request is an ordinary one */
	{
		const char *reqs[] = {
		    "GET /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
		    "Impersonate-User: alice\r\n\r\n",
		    "GET /x HTTP/1.1\r\nUpgrade: websocket\r\nImpersonate-User: alice\r\n\r\n",
		    "GET /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
		    "Upgrade: SPDY/3.1\r\nImpersonate-User: alice\r\n\r\n",
		    "GET /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\n"
		    "Impersonate-User: alice\r\n\r\n",
		    "GET /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.2\r\n"
		    "Impersonate-User: alice\r\n\r\n",
		};

		for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
			struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT;
			struct fed_tunnel_http *h = NULL;

			CHECK_INT(connect_feed(&h, reqs[i], 6, &out, &reply), 0);

			CHECK(strcasestr(fed_buf_str(&out), "upgrade") == NULL);
			CHECK_HAS(fed_buf_str(&out), "Impersonate-User: alice\r\n");
			CHECK_INT(h->phase, FED_TUNNEL_HTTP_DONE);
			fed_buf_release(&out);
			fed_buf_release(&reply);
			fed_tunnel_http_free(h);
		}
	}
	/* an upgrade has no body */
	{
		struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT;
		struct fed_tunnel_http *h = NULL;

		CHECK_INT(
		    connect_feed(&h,
		                 "POST /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
		                 "Impersonate-User: alice\r\nContent-Length: 4\r\n\r\nabcd",
		                 100, &out, &reply),
		    FED_EINVAL);
		CHECK_HAS(fed_buf_str(&reply), "400");
		CHECK_HAS(h->error, "an upgrade request has no body");
		CHECK_INT(out.len, 0);
		fed_buf_release(&out);
		fed_buf_release(&reply);
		fed_tunnel_http_free(h);
	}
}

/* A connect stream never becomes a member's system: user or group, and
 * never runs as the agent itself. */
static void test_http_connect_refused(void)
{
	struct {
		const char *headers, *status, *why;
	} cases[] = {
	    {"Impersonate-User: system:admin\r\n", "403", "system: user"},
	    {"Impersonate-User: system:kube-controller-manager\r\n", "403", "system: user"},
	    {"impersonate-user:  system:serviceaccount:kube-system:default \r\n", "403",
	     "system: user"},
	    {"Impersonate-User: alice\r\nImpersonate-Group: system:masters\r\n", "403",
	     "system: group"},
	    {"Impersonate-User: alice\r\nIMPERSONATE-GROUP: system:authenticated\r\n", "403",
	     "system: group"},
	    {"Impersonate-User: alice\r\nImpersonate-Group: devs, system:masters\r\n", "403",
	     "system: group"},
	    {"Impersonate-User: alice\r\nImpersonate-User: bob\r\n", "400",
	     "exactly one Impersonate-User"},
	    {"Impersonate-User: \r\n", "400", "exactly one Impersonate-User"},
	    {"Impersonate-Group: devs\r\n", "403", "must impersonate a user"},
	    {"Authorization: Bearer host-secret\r\n", "403", "must impersonate a user"},
	    /* a header named by Connection is removed, the impersonation too */
	    {"Connection: Impersonate-User\r\nImpersonate-User: alice\r\n", "403",
	     "must impersonate a user"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT, req = FED_BUF_INIT;
		struct fed_tunnel_http *h = NULL;

		fed_buf_printf(&req, "GET /api/v1/secrets HTTP/1.1\r\n%s\r\n", cases[i].headers);
		CHECK_INT(connect_feed(&h, fed_buf_str(&req), 3, &out, &reply), FED_EINVAL);
		CHECK_HAS(fed_buf_str(&reply), cases[i].status);
		CHECK_HAS(h->error, cases[i].why);
		CHECK_INT(out.len, 0);
		/* no header value in the answer or the error */
		CHECK(strstr(fed_buf_str(&reply), "admin") == NULL);
		CHECK(strstr(h->error, "masters") == NULL);
		fed_buf_release(&out);
		fed_buf_release(&reply);
		fed_buf_release(&req);
		fed_tunnel_http_free(h);
	}
}

/* Ordinary streams are untouched by connect mode: impersonation and
 * upgrades are removed, requests follow each other, answers mean nothing. */
static void test_http_ordinary_unchanged(void)
{
	struct fed_tunnel_http *h;
	struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT;
	const char *o;

	CHECK_INT(fed_tunnel_http_new(&h, "api:443", "tok"), 0);
	CHECK_INT(feed_str(h,
	                   "GET /exec HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
	                   "Impersonate-User: system:admin\r\nImpersonate-Uid: 1\r\n\r\n",
	                   4, &out, &reply),
	          0);
	respond(h, "HTTP/1.1 101 Switching Protocols\r\n\r\n", 2);
	CHECK_INT(h->phase, FED_TUNNEL_HTTP_REQUESTS);
	CHECK_INT(feed_str(h, "GET /version HTTP/1.1\r\n\r\n", 4, &out, &reply), 0);
	o = fed_buf_str(&out);
	CHECK_INT(h->requests, 2);
	CHECK(strcasestr(o, "impersonate") == NULL);
	CHECK(strcasestr(o, "upgrade") == NULL);
	CHECK(!h->upgraded);
	fed_buf_release(&out);
	fed_buf_release(&reply);
	fed_tunnel_http_free(h);
}

static void test_proxy(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_proxy p;
	struct fed_buf b = FED_BUF_INIT;
	size_t used;
	const char *ok = "HTTP/1.1 200 Connection established\r\nProxy-agent: x\r\n\r\n\x16\x03";

	CHECK_INT(fed_proxy_parse_url("http://user:s3cret@proxy.corp:3128/", &p, &err), 0);
	CHECK_STR(p.host, "proxy.corp");
	CHECK_STR(p.port, "3128");
	CHECK_STR(p.basic_auth, "dXNlcjpzM2NyZXQ=");
	CHECK_INT(fed_proxy_connect_request(&b, "tunnel.example.com:8080", &p), 0);
	CHECK_STR(fed_buf_str(&b), "CONNECT tunnel.example.com:8080 HTTP/1.1\r\n"
	                           "Host: tunnel.example.com:8080\r\n"
	                           "Proxy-Authorization: Basic dXNlcjpzM2NyZXQ=\r\n\r\n");
	fed_buf_release(&b);
	fed_proxy_release(&p);
	CHECK_INT(fed_proxy_parse_url("[fd00::1]:8888", &p, &err), 0);
	CHECK_STR(p.host, "fd00::1");
	CHECK_STR(p.port, "8888");
	CHECK(p.basic_auth == NULL);
	fed_proxy_release(&p);
	CHECK_INT(fed_proxy_parse_url("proxy", &p, &err), 0);
	CHECK_STR(p.port, "80");
	fed_proxy_release(&p);
	CHECK(!p.tls);
	fed_proxy_release(&p);
	CHECK_INT(fed_proxy_parse_url("HTTPS://u:pw@proxy.corp", &p, &err), 0);
	CHECK(p.tls);
	CHECK_STR(p.host, "proxy.corp");
	CHECK_STR(p.port, "443");
	CHECK_STR(p.basic_auth, "dTpwdw==");
	fed_proxy_release(&p);
	CHECK_INT(fed_proxy_parse_url("https://[fd00::2]:8443/", &p, &err), 0);
	CHECK(p.tls);
	CHECK_STR(p.host, "fd00::2");
	CHECK_STR(p.port, "8443");
	fed_proxy_release(&p);
	CHECK_INT(fed_proxy_parse_url("http://proxy:3128", &p, &err), 0);
	CHECK(!p.tls);
	fed_proxy_release(&p);
	/* other schemes are refused by name, the rest of the URL unquoted */
	CHECK_INT(fed_proxy_parse_url("socks5://u:pw@proxy:1080", &p, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "unsupported scheme socks5://");
	CHECK_HAS(err.msg, "https://");
	CHECK(strstr(err.msg, "pw") == NULL);
	CHECK(p.host == NULL);
	CHECK_INT(fed_proxy_parse_url("u:pw@x/y://z", &p, &err), FED_EINVAL);
	CHECK(strstr(err.msg, "pw") == NULL);
	CHECK_INT(fed_proxy_parse_url("http://u:pw@proxy:x1", &p, &err), FED_EINVAL);
	CHECK(strstr(err.msg, "pw") == NULL);
	CHECK_INT(fed_proxy_parse_url("https://proxy:0", &p, &err), FED_EINVAL);
	CHECK_INT(fed_proxy_parse_url("https://proxy:65536", &p, &err), FED_EINVAL);
	CHECK_INT(fed_proxy_parse_url("https://u:pw@:443", &p, &err), FED_EINVAL);
	CHECK(strstr(err.msg, "pw") == NULL);

	CHECK(fed_proxy_bypass("localhost,.svc,10.0.0.0/8", "api.default.svc"));
	CHECK(fed_proxy_bypass("localhost, example.com", "EXAMPLE.com"));
	CHECK(fed_proxy_bypass("example.com", "a.b.example.com"));
	CHECK(!fed_proxy_bypass("example.com", "badexample.com"));
	CHECK(fed_proxy_bypass("10.0.0.0/8", "10.200.3.4"));
	CHECK(!fed_proxy_bypass("10.0.0.0/8", "11.0.0.1"));
	CHECK(fed_proxy_bypass("198.18.0.0/15", "198.19.255.255"));
	CHECK(!fed_proxy_bypass("198.18.0.0/15", "198.20.0.0"));
	CHECK(fed_proxy_bypass("fd00::/8", "fd12::1"));
	CHECK(fed_proxy_bypass("*", "anything"));
	CHECK(!fed_proxy_bypass("", "x"));
	CHECK(!fed_proxy_bypass(NULL, "x"));
	CHECK(!fed_proxy_bypass("10.0.0.0/99,/,a/", "10.0.0.1"));

	CHECK_INT(fed_proxy_connect_response(ok, 20, &used, &err), 0);
	CHECK_INT(fed_proxy_connect_response(ok, strlen(ok), &used, &err), 1);
	CHECK_INT(used, strlen(ok) - 2); /* the TLS bytes after the head stay */
	CHECK_INT(fed_proxy_connect_response("HTTP/1.1 407 Auth\r\n\r\n", 21, &used, &err),
	          FED_EUNAUTHORIZED);
	CHECK_HAS(err.msg, "407");
	CHECK_HAS(err.msg, "user:password in the proxy URL");
	CHECK_INT(fed_proxy_connect_response("HTTP/1.0 401 Unauthorized\r\n\r\n", 29, &used, &err),
	          FED_EUNAUTHORIZED);
	CHECK_INT(fed_proxy_connect_response("HTTP/1.0 403 No\r\n\r\n", 19, &used, &err),
	          FED_EUNAVAILABLE);
	CHECK_HAS(err.msg, "CONNECT refused: \"HTTP/1.0 403 No\"");
	{
		/* the status line is shown; headers (which may reflect ours) never */
		const char *r = "HTTP/1.1 403 Filtered\x01\r\nX-Echo: Proxy-Authorization: Basic "
		                "dTpwdw==\r\n\r\n";

		CHECK_INT(fed_proxy_connect_response(r, strlen(r), &used, &err), FED_EUNAVAILABLE);
		CHECK_HAS(err.msg, "\"HTTP/1.1 403 Filtered?\"");
		CHECK(strstr(err.msg, "dTpwdw") == NULL);
		CHECK(strstr(err.msg, "X-Echo") == NULL);
	}
	/* TLS where an HTTP answer was expected: an https:// proxy */
	CHECK_INT(fed_proxy_connect_response("\x15\x03\x03\x00\x02\x02\x46", 7, &used, &err),
	          FED_EUNAVAILABLE);
	CHECK_HAS(err.msg, "use an https:// URL");
	CHECK_INT(fed_proxy_connect_response("SSH-2.0-x\r\n\r\n", 13, &used, &err),
	          FED_EUNAVAILABLE);
}

static int meta(const char *json, struct fed_agent_metadata *m, struct fed_error *err)
{
	fed_error_clear(err);
	return fed_agent_metadata_parse(json, strlen(json), m, err);
}

static void test_metadata(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_agent_metadata m, m2;

	CHECK_INT(meta("{\"agentVersion\":\"0.1.0\",\"kubernetesVersion\":\"v1.31.2\","
	               "\"nodes\":3,\"cores\":12,\"agentCPUSeconds\":1.25,"
	               "\"agentMemoryBytes\":5242880,\"time\":1790000000,\"future\":[1]}",
	               &m, &err),
	          0);
	CHECK_STR(m.agent_version, "0.1.0");
	CHECK_STR(m.kubernetes_version, "v1.31.2");
	CHECK_INT(m.nodes, 3);
	CHECK_INT(m.cores, 12);
	CHECK(m.cpu_seconds > 1.2 && m.cpu_seconds < 1.3);
	CHECK_INT(m.memory_bytes, 5242880);
	CHECK_INT(m.time, 1790000000);
	/* absent fields are unknown */
	CHECK_INT(meta("{}", &m2, &err), 0);
	CHECK_INT(m2.nodes, -1);
	CHECK_STR(m2.kubernetes_version, "");
	/* only identity changes count, not resource use or time */
	m2 = m;
	m2.cpu_seconds = 99;
	m2.memory_bytes = 1;
	m2.time++;
	CHECK(!fed_agent_metadata_changed(&m, &m2));
	m2.nodes = 4;
	CHECK(fed_agent_metadata_changed(&m, &m2));
	m2 = m;
	snprintf(m2.kubernetes_version, sizeof(m2.kubernetes_version), "v1.32.0");
	CHECK(fed_agent_metadata_changed(&m, &m2));
	/* refused, naming the field; *out untouched */
	m2 = m;
	CHECK_INT(meta("[1]", &m2, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "not a JSON object");
	CHECK_INT(meta("{\"nodes\":", &m2, &err), FED_EINVAL);
	CHECK_INT(meta("{\"nodes\":\"3\"}", &m2, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "nodes must be a number");
	CHECK_INT(meta("{\"cores\":-1}", &m2, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "cores");
	CHECK_INT(meta("{\"agentMemoryBytes\":1e300}", &m2, &err), FED_EINVAL);
	CHECK_INT(meta("{\"kubernetesVersion\":7}", &m2, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "kubernetesVersion must be a string");
	CHECK_INT(meta("{\"agentVersion\":\"a\\nb\"}", &m2, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "printable");
	CHECK_INT(meta("{\"agentVersion\":"
	               "\"0123456789012345678901234567890123456789012345678901234567890123\"}",
	               &m2, &err),
	          FED_EINVAL);
	CHECK_HAS(err.msg, "longer than 63");
	CHECK_INT(m2.nodes, 3);
}

int main(void)
{
	RUN(test_roundtrip);
	RUN(test_malformed);
	RUN(test_streams);
	RUN(test_stream_limit);
	RUN(test_flow_control);
	RUN(test_http_rewrite);
	RUN(test_http_refused);
	RUN(test_http_connect_headers);
	RUN(test_http_connect_upgrade);
	RUN(test_http_connect_refused);
	RUN(test_http_ordinary_unchanged);
	RUN(test_proxy);
	RUN(test_metadata);
	return CHECK_EXIT();
}
