/* The agent's request rewriting: arbitrary bytes from a tunnel stream.
 * The first byte picks the read size. The rewritten output must never
 * carry a header the rewriting removes. The same bytes then go through
 * connect mode (a cluster connect stream), the last byte choosing whether
 * an upgrade is answered with 101: its one head must carry exactly one
 * Impersonate-User, no system: user or group, no credential but the
 * agent's and no Upgrade but SPDY/3.1 or websocket; nothing but that
 * request's body may follow unless the upgrade was accepted. */
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

static bool ieq_prefix(const char *l, size_t n, const char *p)
{
	size_t k = strlen(p);

	return n >= k && !strncasecmp(l, p, k);
}

/* A comma-separated element of v starting with system: (after blanks). */
static bool system_element(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((i == 0 || v[i - 1] == ',' || v[i - 1] == ' ' || v[i - 1] == '\t') &&
		    n - i >= 7 && !strncmp(v + i, "system:", 7)) {
			size_t j = i;

			while (j > 0 && (v[j - 1] == ' ' || v[j - 1] == '\t'))
				j--;
			if (j == 0 || v[j - 1] == ',')
				return true;
		}
	return false;
}

/* The first head of a connect stream's output, s[0..n) up to CRLF CRLF;
 * *clen gets its Content-Length (0 when none). */
static void check_connect_head(const char *s, size_t n, long long *clen)
{
	int users = 0, upgrade = 0, conn_upgrade = 0;
	bool first = true;

	*clen = 0;
	for (const char *l = s; l < s + n;) {
		const char *eol = memmem(l, (size_t)(s + n - l), "\r\n", 2);
		size_t k = eol ? (size_t)(eol - l) : (size_t)(s + n - l);
		const char *v = memchr(l, ':', k);
		size_t vk = v ? k - (size_t)(v + 1 - l) : 0;

		if (k == 0)
			break; /* the end of the head */
		if (v)
			for (v++; vk && *v == ' '; v++, vk--)
				;
		if (!first && v) {
			if (ieq_prefix(l, k, "impersonate-user:")) {
				users++;
				if (system_element(v, vk))
					abort();
			}
			if (ieq_prefix(l, k, "impersonate-group:") && system_element(v, vk))
				abort();
			if (ieq_prefix(l, k, "proxy-authorization:") ||
			    (ieq_prefix(l, k, "authorization:") &&
			     (vk != 12 || strncmp(v, "Bearer TOKEN", 12))))
				abort();
			if (ieq_prefix(l, k, "transfer-encoding:"))
				abort();
			if (ieq_prefix(l, k, "upgrade:")) {
				upgrade++;
				if (!(vk == 8 && !strncasecmp(v, "SPDY/3.1", 8)) &&
				    !(vk == 9 && !strncasecmp(v, "websocket", 9)))
					abort();
			}
			if (ieq_prefix(l, k, "connection:")) {
				if (vk != 7 || strncmp(v, "Upgrade", 7))
					abort();
				conn_upgrade++;
			}
			if (ieq_prefix(l, k, "content-length:"))
				*clen = strtoll(v, NULL, 10);
		}
		first = false;
		if (!eol)
			break;
		l = eol + 2;
	}
	if (users != 1 || upgrade > 1 || upgrade != conn_upgrade)
		abort();
}

static void connect_mode(const uint8_t *data, size_t size)
{
	struct fed_tunnel_http *h = NULL;
	struct fed_buf out = FED_BUF_INIT, reply = FED_BUF_INIT;
	size_t step = (size_t)data[0] + 1, off = 1, raw_at = 0;
	bool accept = data[size - 1] & 1;
	const char *end;
	long long clen;

	if (fed_tunnel_http_new_connect(&h, "api:443", "TOKEN") < 0)
		return;
	while (off < size) {
		size_t n = size - off < step ? size - off : step;

		if (fed_tunnel_http_feed(h, data + off, n, &out, &reply) < 0)
			break;
		off += n;
		if (h->phase == FED_TUNNEL_HTTP_UPGRADING) {
			const char *a = accept ? "HTTP/1.1 101 Switching Protocols\r\n\r\n"
			                       : "HTTP/1.1 403 Forbidden\r\n\r\n";

			fed_tunnel_http_response(h, (const uint8_t *)a, strlen(a));
			raw_at = out.len;
		}
	}
	if (h->requests > 1 || (h->upgraded && !accept))
		abort();
	if (out.len) {
		end = memmem(out.data, out.len, "\r\n\r\n", 4);
		if (!end)
			abort(); /* a head goes out whole */
		check_connect_head(out.data, (size_t)(end - out.data), &clen);
		/* after the head: its body, or raw bytes once upgraded */
		if (h->upgraded ? (size_t)(end + 4 - out.data) != raw_at
		                : out.len - (size_t)(end + 4 - out.data) > (size_t)clen)
			abort();
	}
	fed_buf_release(&out);
	fed_buf_release(&reply);
	fed_tunnel_http_free(h);
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
	connect_mode(data, size);
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
