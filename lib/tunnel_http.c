/* The agent's request rewriting: HTTP/1.1 requests arriving on a tunnel
 * stream are forwarded to the member's kube-apiserver with the host's
 * credentials removed and the agent's own added. Only the request
 * direction is parsed (the responses pass through untouched), so the
 * parser must find every request boundary: Content-Length bodies only;
 * Transfer-Encoding is refused rather than guessed.
 *
 * A cluster connect stream carries one request of a caller the host
 * authenticated: its Impersonate-User, -Group, -Uid and -Extra-* are
 * kept (never a system: user or group), and an exec/attach/port-forward
 * Upgrade is let through. After such an upgrade the stream is raw bytes,
 * but only once the apiserver's answer starts with 101 (seen through
 * fed_tunnel_http_response): a refused upgrade leaves the apiserver's
 * connection open for another request, which would then go unchecked. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "fed/tunnel_http.h"

#define HEAD_MAX    (64 * 1024)
#define MAX_HEADERS 100

static int http_new(struct fed_tunnel_http **out, const char *host, const char *token, bool connect)
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
	h->connect = connect;
	*out = h;
	return 0;
}

int fed_tunnel_http_new(struct fed_tunnel_http **out, const char *host, const char *token)
{
	return http_new(out, host, token, false);
}

int fed_tunnel_http_new_connect(struct fed_tunnel_http **out, const char *host, const char *token)
{
	return http_new(out, host, token, true);
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

static bool name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && !strncasecmp(name, want, n);
}

static bool name_has_prefix(const char *name, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && !strncasecmp(name, prefix, k);
}

/* Headers of one hop or set by the agent itself: never passed on. */
static bool is_hop(const char *name, size_t n)
{
	static const char *const hop[] = {
	    "connection", "keep-alive",          "proxy-connection", "te",   "trailer",
	    "upgrade",    "proxy-authorization", "authorization",    "host", "content-length",
	};

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (name_is(name, n, hop[i]))
			return true;
	return false;
}

/* The impersonation a connect stream carries to the apiserver; any
 * other Impersonate-* is removed as on every stream. */
static bool is_kept_impersonation(const char *name, size_t n)
{
	return name_is(name, n, "impersonate-user") || name_is(name, n, "impersonate-group") ||
	       name_is(name, n, "impersonate-uid") ||
	       name_has_prefix(name, n, "impersonate-extra-");
}

/* Does any comma-separated element of v start with "system:"? The host
 * never sends a system: user or group (docs/cluster-connect.md), and one
 * in a list element is refused too, whatever a reader makes of commas. */
static bool names_system(const char *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (n - i >= 7 && !strncmp(v + i, "system:", 7))
			return true;
		while (i < n && v[i] != ',')
			i++;
	}
	return false;
}

struct hdr {
	const char *name, *value;
	size_t nlen, vlen;
};

/* A parsed request head: the request line and the header fields, pointing
 * into h->head. */
struct head {
	const char *line;
	struct hdr hs[MAX_HEADERS];
	size_t nh;
	char conn[1024]; /* every Connection value, comma-joined */
	long long clen;  /* -1: none */
};

/* Connect mode: the upgrade the request asks for, if fed lets it through
 * (exactly one Upgrade, SPDY/3.1 or websocket, named by Connection). */
static const struct hdr *connect_upgrade(const struct head *hd)
{
	const struct hdr *up = NULL;

	for (size_t i = 0; i < hd->nh; i++) {
		if (!name_is(hd->hs[i].name, hd->hs[i].nlen, "upgrade"))
			continue;
		if (up)
			return NULL; /* two: ambiguous */
		up = &hd->hs[i];
	}
	if (!up || !in_list(hd->conn, "upgrade", 7))
		return NULL;
	if ((up->vlen == 8 && !strncasecmp(up->value, "SPDY/3.1", 8)) ||
	    (up->vlen == 9 && !strncasecmp(up->value, "websocket", 9)))
		return up;
	return NULL;
}

/* Is the i-th header passed on? */
static bool kept(const struct fed_tunnel_http *h, const struct head *hd, size_t i)
{
	const struct hdr *x = &hd->hs[i];

	if (is_hop(x->name, x->nlen) || in_list(hd->conn, x->name, x->nlen))
		return false;
	if (name_has_prefix(x->name, x->nlen, "impersonate-"))
		return h->connect && is_kept_impersonation(x->name, x->nlen);
	return true;
}

/* Connect mode: the impersonation the request carries, checked. One
 * Impersonate-User (a connect stream never runs as the agent itself), and
 * no system: user or group: those would be the member's own components
 * or system:masters. */
static int check_impersonation(struct fed_tunnel_http *h, const struct head *hd,
                               struct fed_buf *reply)
{
	size_t users = 0;

	for (size_t i = 0; i < hd->nh; i++) {
		const struct hdr *x = &hd->hs[i];
		bool user = name_is(x->name, x->nlen, "impersonate-user");

		if (!kept(h, hd, i))
			continue;
		if (!user && !name_is(x->name, x->nlen, "impersonate-group"))
			continue;
		if (names_system(x->value, x->vlen))
			return refuse(h, reply, 403, "Forbidden",
			              user
			                  ? "a connect stream may not impersonate a system: user"
			                  : "a connect stream may not impersonate a system: group");
		if (user && (users++ || !x->vlen))
			return refuse(h, reply, 400, "Bad Request",
			              "a connect stream names exactly one Impersonate-User");
	}
	if (users != 1)
		return refuse(h, reply, 403, "Forbidden",
		              "a connect stream must impersonate a user (Impersonate-User)");
	return 0;
}

/* Parse the head in h->head (complete, ending in CRLF CRLF) into hd. */
static int parse_head(struct fed_tunnel_http *h, struct head *hd, struct fed_buf *reply)
{
	char *p = h->head.data, *end = p + h->head.len - 2; /* the final CRLF */
	char *line_end = strstr(p, "\r\n"), *sp1, *sp2;

	hd->line = p;
	hd->nh = 0;
	hd->conn[0] = '\0';
	hd->clen = -1;
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
		if (hd->nh == MAX_HEADERS)
			return refuse(h, reply, 431, "Request Header Fields Too Large",
			              "too many header fields");
		x = &hd->hs[hd->nh++];
		x->name = l;
		x->nlen = (size_t)(colon - l);
		x->value = colon + 1;
		while (*x->value == ' ' || *x->value == '\t')
			x->value++;
		x->vlen = strlen(x->value);
		while (x->vlen && (x->value[x->vlen - 1] == ' ' || x->value[x->vlen - 1] == '\t'))
			x->vlen--;
		if (name_is(x->name, x->nlen, "connection")) {
			size_t k = strlen(hd->conn);

			if (k + x->vlen + 2 >= sizeof(hd->conn))
				return refuse(h, reply, 400, "Bad Request", "Connection too long");
			snprintf(hd->conn + k, sizeof(hd->conn) - k, "%s%.*s", k ? "," : "",
			         (int)x->vlen, x->value);
		} else if (name_is(x->name, x->nlen, "transfer-encoding")) {
			return refuse(h, reply, 501, "Not Implemented",
			              "Transfer-Encoding in requests is not supported");
		} else if (name_is(x->name, x->nlen, "content-length")) {
			long long v = 0;

			if (!x->vlen || x->vlen > 15)
				return refuse(h, reply, 400, "Bad Request", "bad Content-Length");
			for (size_t i = 0; i < x->vlen; i++) {
				if (!isdigit((unsigned char)x->value[i]))
					return refuse(h, reply, 400, "Bad Request",
					              "bad Content-Length");
				v = v * 10 + (x->value[i] - '0');
			}
			if (hd->clen >= 0 && hd->clen != v)
				return refuse(h, reply, 400, "Bad Request",
				              "conflicting Content-Length");
			hd->clen = v;
		}
		l = e + 2;
	}
	return 0;
}

/* Parse and rewrite the head in h->head (complete, ending in CRLF CRLF). */
static int rewrite_head(struct fed_tunnel_http *h, struct fed_buf *out, struct fed_buf *reply)
{
	struct head hd;
	const struct hdr *up = NULL;
	int rc = parse_head(h, &hd, reply);

	if (rc < 0)
		return rc;
	if (h->connect) {
		if (h->requests)
			return refuse(h, reply, 400, "Bad Request",
			              "one request per cluster connect stream");
		if ((rc = check_impersonation(h, &hd, reply)) < 0)
			return rc;
		up = connect_upgrade(&hd);
		if (up && hd.clen > 0)
			return refuse(h, reply, 400, "Bad Request",
			              "an upgrade request has no body");
	}
	/* the rewritten head */
	fed_buf_printf(out, "%s\r\nHost: %s\r\n", hd.line, h->host);
	for (size_t i = 0; i < hd.nh; i++) {
		if (!kept(h, &hd, i)) {
			h->stripped++;
			continue;
		}
		fed_buf_append(out, hd.hs[i].name, hd.hs[i].nlen);
		fed_buf_puts(out, ": ");
		fed_buf_append(out, hd.hs[i].value, hd.hs[i].vlen);
		fed_buf_puts(out, "\r\n");
	}
	if (hd.clen >= 0)
		fed_buf_printf(out, "Content-Length: %lld\r\n", hd.clen);
	if (up)
		fed_buf_printf(out, "Connection: Upgrade\r\nUpgrade: %.*s\r\n", (int)up->vlen,
		               up->value);
	if (h->token)
		fed_buf_printf(out, "Authorization: Bearer %s\r\n", h->token);
	fed_buf_puts(out, "\r\n");
	h->body_left = hd.clen > 0 ? (uint64_t)hd.clen : 0;
	h->requests++;
	h->phase = !h->connect ? FED_TUNNEL_HTTP_REQUESTS
	           : up        ? FED_TUNNEL_HTTP_UPGRADING
	                       : FED_TUNNEL_HTTP_DONE;
	return 0;
}

int fed_tunnel_http_feed(struct fed_tunnel_http *h, const uint8_t *p, size_t n, struct fed_buf *out,
                         struct fed_buf *reply)
{
	while (n && !h->failed) {
		if (h->phase == FED_TUNNEL_HTTP_RAW) {
			fed_buf_append(out, p, n);
			return 0;
		}
		if (h->body_left) {
			size_t k = n < h->body_left ? n : (size_t)h->body_left;

			fed_buf_append(out, p, k);
			h->body_left -= k;
			p += k;
			n -= k;
			continue;
		}
		/* a connect stream's one request is sent: only an upgrade the
		 * apiserver accepted carries more (once its 101 arrived: a
		 * client waits for it) */
		if (h->phase == FED_TUNNEL_HTTP_UPGRADING)
			return refuse(h, reply, 400, "Bad Request",
			              "bytes before the upgrade was answered");
		if (h->phase == FED_TUNNEL_HTTP_DONE)
			return refuse(h, reply, 400, "Bad Request",
			              "one request per cluster connect stream");
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

void fed_tunnel_http_response(struct fed_tunnel_http *h, const uint8_t *p, size_t n)
{
	/* "HTTP/1.1 101" and a space or CR: the status line's start */
	static const size_t want = 13;

	if (h->phase != FED_TUNNEL_HTTP_UPGRADING)
		return;
	for (; n && h->status_len < want; n--)
		h->status[h->status_len++] = (char)*p++;
	if (h->status_len < want)
		return;
	if ((!memcmp(h->status, "HTTP/1.1 101", 12) || !memcmp(h->status, "HTTP/1.0 101", 12)) &&
	    (h->status[12] == ' ' || h->status[12] == '\r')) {
		h->phase = FED_TUNNEL_HTTP_RAW;
		h->upgraded = true;
	} else {
		h->phase = FED_TUNNEL_HTTP_DONE; /* refused: nothing more goes through */
	}
}

static int filter_feed(void *fud, const uint8_t *p, size_t n, struct fed_buf *out,
                       struct fed_buf *reply)
{
	return fed_tunnel_http_feed(fud, p, n, out, reply);
}

static void filter_response(void *fud, const uint8_t *p, size_t n)
{
	fed_tunnel_http_response(fud, p, n);
}

static void filter_free(void *fud)
{
	fed_tunnel_http_free(fud);
}

void fed_tunnel_http_filter(struct fed_tunnel_http *h, struct fed_tunnel_filter *f)
{
	f->feed = filter_feed;
	f->response = filter_response;
	f->free = filter_free;
	f->fud = h;
}
