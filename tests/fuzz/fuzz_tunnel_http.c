/* The agent's request rewriting: arbitrary bytes from a tunnel stream.
 * The first byte picks the read size. The rewritten output must never
 * carry a header the rewriting removes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fed/tunnel_http.h"
#include "fed/tunnel_proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Does a header line of any head in s (heads without bodies, each ended
 * by a blank line) start with Impersonate-? A request line does not count:
 * "impersonate-x / HTTP/1.1" is a request with an odd method. */
static bool impersonation_header(const char *s)
{
	bool first = true;

	for (const char *l = s; *l;) {
		const char *eol = strstr(l, "\r\n");
		size_t n = eol ? (size_t)(eol - l) : strlen(l);

		if (n == 0)
			first = true; /* the blank line: a new head follows */
		else if (!first && n >= 12 && !strncasecmp(l, "impersonate-", 12))
			return true;
		else
			first = false;
		if (!eol)
			break;
		l = eol + 2;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_tunnel_http *h = NULL;
	struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT;
	size_t step, off = 1;

	if (size < 1 || fed_tunnel_http_new(&h, "api:443", "TOKEN") < 0)
		return 0;
	step = (size_t)data[0] + 1;
	while (off < size) {
		size_t n = size - off < step ? size - off : step;

		if (fed_tunnel_http_feed(h, data + off, n, &out, &reply) < 0)
			break;
		off += n;
	}
	/* heads are rewritten: no Impersonate- header line may come out of a
	 * head; bodies are opaque, so only check when there was no body */
	if (out.len && !strstr(fed_buf_str(&out), "Content-Length") &&
	    impersonation_header(fed_buf_str(&out)))
		abort();
	fed_buf_release(&out);
	fed_buf_release(&reply);
	fed_tunnel_http_free(h);
	/* the same bytes as a proxy's CONNECT answer, a proxy URL, NO_PROXY */
	{
		struct fed_error err = FED_ERROR_INIT;
		struct fed_proxy px;
		char *s = strndup((const char *)data + 1, size - 1);
		size_t used;

		if (fed_proxy_connect_response((const char *)data + 1, size - 1, &used, &err) ==
		        1 &&
		    used > size - 1)
			abort();
		if (s && fed_proxy_parse_url(s, &px, &err) == 0)
			fed_proxy_release(&px);
		if (s && fed_proxy_bypass(s, "api.example.com") + fed_proxy_bypass(s, "10.1.2.3") +
		                 fed_proxy_bypass(s, "fd00::1") >
		             3)
			abort();
		free(s);
	}
	return 0;
}
