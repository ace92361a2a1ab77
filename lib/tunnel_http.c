/* The agent's request rewriting: HTTP/1.1 requests arriving on a tunnel
 * stream are forwarded to the member's kube-apiserver with the host's
 * credentials removed and the agent's own added. Only the request
 * direction is parsed (the responses pass through untouched), so the
 * parser must find every request boundary: Content-Length bodies only;
 * Transfer-Encoding is refused rather than guessed. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "fed/tunnel_http.h"

#define HEAD_MAX    (64 * 1024)
#define MAX_HEADERS 100

int fed_tunnel_http_new(struct fed_tunnel_http **out, const char *host, const char *token)
{
	struct fed_tunnel_http *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return FED_ENOMEM;
	h->host = strdup(host);
	h->token = token ? strdup(token) : NULL;
	if (!h->host || (token && !h->token)) {
		fed_tunnel_http_free(h);
		return FED_ENOMEM;
	}
	*out = h;
	return 0;
}

void fed_tunnel_http_free(struct fed_tunnel_http *h)
{
	if (!h)
		return;
	if (h->token) {
		OPENSSL_cleanse(h->token, strlen(h->token));
		free(h->token);
	}
	if (h->head.data)
		OPENSSL_cleanse(h->head.data, h->head.cap);
	fed_buf_release(&h->head);
	free(h->host);
	free(h);
}

static int refuse(struct fed_tunnel_http *h, struct fed_buf *reply, int status, const char *text,
                  const char *msg)
{
	h->failed = true;
	snprintf(h->error, sizeof(h->error), "%d %s", status, msg);
	fed_buf_printf(reply,
	               "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	               "Connection: close\r\n\r\nfed-agent: %s\n",
	               status, text, strlen(msg) + 12, msg);
	return FED_EINVAL;
}

static bool is_tchar(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Is name (len n) one of the comma-separated tokens in list? */
static bool in_list(const char *list, const char *name, size_t n)
{
	const char *p = list;

	while (*p) {
		const char *e;
		size_t k;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		e = p;
		while (*e && *e != ',')
			e++;
		k = (size_t)(e - p);
		while (k && (p[k - 1] == ' ' || p[k - 1] == '\t'))
			k--;
		if (k == n && k && !strncasecmp(p, name, n))
			return true;
		p = e;
	}
	return false;
}

static bool is_hop(const char *name, size_t n)
{
	static const char *const hop[] = {
	    "connection", "keep-alive",          "proxy-connection", "te",   "trailer",
	    "upgrade",    "proxy-authorization", "authorization",    "host", "content-length",
	};

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strlen(hop[i]) == n && !strncasecmp(hop[i], name, n))
			return true;
	return n >= 12 && !strncasecmp(name, "impersonate-", 12);
}

struct hdr {
	const char *name, *value;
	size_t nlen, vlen;
};

/* Parse and rewrite the head in h->head (complete, ending in CRLF CRLF). */
static int rewrite_head(struct fed_tunnel_http *h, struct fed_buf *out, struct fed_buf *reply)
{
	char *p = h->head.data, *end = p + h->head.len - 2; /* the final CRLF */
	char *line_end = strstr(p, "\r\n"), *sp1, *sp2;
	struct hdr hs[MAX_HEADERS];
	size_t nh = 0, conn_lists = 0;
	char conn[1024] = "";
	long long clen = -1;

	/* request line: METHOD SP origin-form SP HTTP/1.x */
	*line_end = '\0';
	sp1 = strchr(p, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || sp1 == p || strchr(sp2 + 1, ' '))
		return refuse(h, reply, 400, "Bad Request", "malformed request line");
	for (char *c = p; c < sp1; c++)
		if (!is_tchar((unsigned char)*c))
			return refuse(h, reply, 400, "Bad Request", "malformed method");
	if (sp1[1] != '/')
		return refuse(h, reply, 400, "Bad Request",
		              "only the kube-apiserver is reachable: the target must be a path");
	for (char *c = sp1 + 1; c < sp2; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return refuse(h, reply, 400, "Bad Request", "malformed request target");
	if (strcmp(sp2 + 1, "HTTP/1.1") && strcmp(sp2 + 1, "HTTP/1.0"))
		return refuse(h, reply, 505, "HTTP Version Not Supported", "HTTP/1.x only");
	/* headers */
	for (char *l = line_end + 2; l < end;) {
		char *e = strstr(l, "\r\n"), *colon;
		struct hdr *x;

		*e = '\0';
		if (*l == ' ' || *l == '\t')
			return refuse(h, reply, 400, "Bad Request", "folded header line");
		colon = strchr(l, ':');
		if (!colon || colon == l)
			return refuse(h, reply, 400, "Bad Request", "malformed header line");
		for (char *c = l; c < colon; c++)
			if (!is_tchar((unsigned char)*c))
				return refuse(h, reply, 400, "Bad Request",
				              "malformed header name");
		for (char *c = colon + 1; c < e; c++)
			if (*c == '\0' || *c == '\r' || *c == '\n')
				return refuse(h, reply, 400, "Bad Request",
				              "malformed header value");
		if (nh == MAX_HEADERS)
			return refuse(h, reply, 431, "Request Header Fields Too Large",
			              "too many header fields");
		x = &hs[nh++];
		x->name = l;
		x->nlen = (size_t)(colon - l);
		x->value = colon + 1;
		while (*x->value == ' ' || *x->value == '\t')
			x->value++;
		x->vlen = strlen(x->value);
		while (x->vlen && (x->value[x->vlen - 1] == ' ' || x->value[x->vlen - 1] == '\t'))
			x->vlen--;
		if (x->nlen == 10 && !strncasecmp(x->name, "connection", 10)) {
			size_t k = strlen(conn);

			if (k + x->vlen + 2 >= sizeof(conn))
				return refuse(h, reply, 400, "Bad Request", "Connection too long");
			snprintf(conn + k, sizeof(conn) - k, "%s%.*s", k ? "," : "", (int)x->vlen,
			         x->value);
			conn_lists++;
		} else if (x->nlen == 17 && !strncasecmp(x->name, "transfer-encoding", 17)) {
			return refuse(h, reply, 501, "Not Implemented",
			              "Transfer-Encoding in requests is not supported");
		} else if (x->nlen == 14 && !strncasecmp(x->name, "content-length", 14)) {
			long long v = 0;

			if (!x->vlen || x->vlen > 15)
				return refuse(h, reply, 400, "Bad Request", "bad Content-Length");
			for (size_t i = 0; i < x->vlen; i++) {
				if (!isdigit((unsigned char)x->value[i]))
					return refuse(h, reply, 400, "Bad Request",
					              "bad Content-Length");
				v = v * 10 + (x->value[i] - '0');
			}
			if (clen >= 0 && clen != v)
				return refuse(h, reply, 400, "Bad Request",
				              "conflicting Content-Length");
			clen = v;
		}
		l = e + 2;
	}
	/* the rewritten head */
	fed_buf_printf(out, "%s\r\nHost: %s\r\n", p, h->host);
	for (size_t i = 0; i < nh; i++) {
		if (is_hop(hs[i].name, hs[i].nlen) || in_list(conn, hs[i].name, hs[i].nlen)) {
			h->stripped++;
			continue;
		}
		fed_buf_append(out, hs[i].name, hs[i].nlen);
		fed_buf_puts(out, ": ");
		fed_buf_append(out, hs[i].value, hs[i].vlen);
		fed_buf_puts(out, "\r\n");
	}
	if (clen >= 0)
		fed_buf_printf(out, "Content-Length: %lld\r\n", clen);
	if (h->token)
		fed_buf_printf(out, "Authorization: Bearer %s\r\n", h->token);
	fed_buf_puts(out, "\r\n");
	h->body_left = clen > 0 ? (uint64_t)clen : 0;
	h->requests++;
	(void)conn_lists;
	return 0;
}

int fed_tunnel_http_feed(struct fed_tunnel_http *h, const uint8_t *p, size_t n, struct fed_buf *out,
                         struct fed_buf *reply)
{
	while (n && !h->failed) {
		if (h->body_left) {
			size_t k = n < h->body_left ? n : (size_t)h->body_left;

			fed_buf_append(out, p, k);
			h->body_left -= k;
			p += k;
			n -= k;
			continue;
		}
		/* head: take bytes up to the end of the head */
		{
			size_t k = 0, start = h->head.len;
			int rc;

			while (k < n) {
				char c = (char)p[k++];

				fed_buf_append(&h->head, &c, 1);
				if (c == '\0')
					return refuse(h, reply, 400, "Bad Request", "NUL in head");
				if (h->head.len >= 4 &&
				    !memcmp(h->head.data + h->head.len - 4, "\r\n\r\n", 4))
					break;
				if (h->head.len >= HEAD_MAX)
					return refuse(h, reply, 431,
					              "Request Header Fields Too Large",
					              "request head over 64 KiB");
			}
			(void)start;
			p += k;
			n -= k;
			if (h->head.len < 4 ||
			    memcmp(h->head.data + h->head.len - 4, "\r\n\r\n", 4))
				return 0; /* need more */
			if (h->head.len == 4 && h->requests) {
				/* blank line between requests: tolerated */
				fed_buf_reset(&h->head);
				continue;
			}
			rc = rewrite_head(h, out, reply);
			OPENSSL_cleanse(h->head.data, h->head.len);
			fed_buf_reset(&h->head);
			if (rc < 0)
				return rc;
		}
	}
	return h->failed ? FED_EINVAL : 0;
}

static int filter_feed(void *fud, const uint8_t *p, size_t n, struct fed_buf *out,
                       struct fed_buf *reply)
{
	return fed_tunnel_http_feed(fud, p, n, out, reply);
}

static void filter_free(void *fud)
{
	fed_tunnel_http_free(fud);
}

void fed_tunnel_http_filter(struct fed_tunnel_http *h, struct fed_tunnel_filter *f)
{
	f->feed = filter_feed;
	f->free = filter_free;
	f->fud = h;
}
