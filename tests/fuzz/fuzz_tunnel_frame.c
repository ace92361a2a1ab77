/* Tunnel frames: arbitrary bytes from the peer, decoded incrementally and
 * accounted by both the host's and the agent's protocol state, the way a
 * connection would. The first byte picks the read size (split points). */
#include <stdint.h>
#include <string.h>

#include "fed/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const uint8_t *data, size_t size, size_t step, bool is_host)
{
	struct fed_tunnel_proto p;
	struct fed_buf in = FED_BUF_INIT;
	size_t off = 0;

	fed_tunnel_proto_init(&p, is_host);
	if (is_host) {
		/* a host has streams of its own for the agent to answer */
		struct fed_tunnel_pstream *s;
		struct fed_error err = FED_ERROR_INIT;

		for (int i = 0; i < 3; i++)
			fed_tunnel_proto_open(&p, &s, &err);
	}
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		struct fed_tunnel_frame f;
		struct fed_error err = FED_ERROR_INIT;
		size_t used;
		int rc;

		fed_buf_append(&in, data + off, n);
		off += n;
		while ((rc = fed_tunnel_frame_decode((const uint8_t *)in.data, in.len,
		                                     FED_TUNNEL_MAX_FRAME, &f, &used, &err)) == 1) {
			enum fed_tunnel_verdict v;
			uint32_t code;
			struct fed_tunnel_pstream *s;

			if (fed_tunnel_proto_recv(&p, &f, &v, &code, &err) < 0)
				goto out;
			s = f.stream ? fed_tunnel_proto_find(&p, f.stream) : NULL;
			if (f.type == FED_TUNNEL_DATA && v == FED_TUNNEL_OK && s)
				fed_tunnel_proto_consumed(&p, s, f.len);
			if (s)
				fed_tunnel_proto_allowance(&p, s);
			if (s && f.type == FED_TUNNEL_RST)
				fed_tunnel_proto_forget(&p, f.stream);
			fed_tunnel_proto_take_conn_credit(&p);
			fed_buf_consume(&in, used);
		}
		if (rc < 0)
			break;
	}
out:
	fed_tunnel_proto_release(&p);
	fed_buf_release(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step;

	if (size < 1)
		return 0;
	step = (size_t)data[0] + 1;
	run(data + 1, size - 1, step, false);
	run(data + 1, size - 1, step, true);
	return 0;
}
