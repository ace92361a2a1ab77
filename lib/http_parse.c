/* HTTP/1.1 request parsing (RFC 9112), pure and re-entrant: the server
 * re-parses its buffer from the start whenever a line completes, so this
 * code keeps no state between calls. The same checks run on a partial
 * request line as on a complete one, which makes every prefix of a valid
 * request parse as NEED_MORE (the fuzz target checks that). */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "fed/http_server.h"

static int fail(struct fed_http_request *out, int status, const char *why)
{
	out->status = status;
	out->error = why;
	return FED_HTTP_PARSE_ERROR;
}

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int ieq(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* Split the origin-form or absolute-form target into path and query. */
static int split_target(struct fed_http_request *out)
{
	const char *t = out->target, *end = t + out->target_len, *p = t, *q;

	if (*t != '/') {
		size_t skip = 0;

		if (out->target_len >= 7 && !strncasecmp(t, "http://", 7))
			skip = 7;
		else if (out->target_len >= 8 && !strncasecmp(t, "https://", 8))
			skip = 8;
		else
			return fail(out, 400, "request target is not a path");
		p = t + skip;
		while (p < end && *p != '/' && *p != '?')
			p++;
		if (p == t + skip)
			return fail(out, 400, "request target has no host");
	}
	q = memchr(p, '?', (size_t)(end - p));
	if (q) {
		out->query = q + 1;
		out->query_len = (size_t)(end - q - 1);
		end = q;
	}
	if (p == end) {
		/* "http://host" or "http://host?x" */
		out->path = "/";
		out->path_len = 1;
	} else {
		out->path = p;
		out->path_len = (size_t)(end - p);
	}
	return 0;
}

/* Check the request line s[0..n) (without its line end). A partial line
 * (complete = false) gets the checks its bytes allow and passes otherwise. */
static int request_line(const char *s, size_t n, int complete, struct fed_http_request *out)
{
	static const char version[] = "HTTP/1.1";
	size_t i = 0, t0, k;

	while (i < n && s[i] != ' ') {
		if (!is_tchar((unsigned char)s[i]))
			return fail(out, 400, "invalid character in method");
		if (++i > FED_HTTP_MAX_METHOD)
			return fail(out, 501, "method not implemented");
	}
	if (i == 0 && n > 0)
		return fail(out, 400, "malformed request line");
	if (i == n)
		return complete ? fail(out, 400, "malformed request line") : 0;
	out->method = s;
	out->method_len = i;

	t0 = ++i;
	while (i < n && s[i] != ' ') {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return fail(out, 400, "invalid character in request target");
		if (++i - t0 > FED_HTTP_MAX_TARGET)
			return fail(out, 414, "request target too long");
	}
	if (i == t0 && i < n)
		return fail(out, 400, "malformed request line");
	if (i == n)
		return complete ? fail(out, 400, "malformed request line") : 0;
	out->target = s + t0;
	out->target_len = i - t0;

	/* "HTTP/" DIGIT "." DIGIT, compared as far as it has arrived */
	for (i++, k = 0; i < n; i++, k++) {
		char c = s[i];
		if (k >= 8)
			return fail(out, 400, "malformed HTTP version");
		if (k == 5 || k == 7) {
			if (c < '0' || c > '9')
				return fail(out, 400, "malformed HTTP version");
			if (k == 5 && c != '1')
				return fail(out, 505, "HTTP version not supported");
		} else if (c != version[k]) {
			return fail(out, 400, "malformed HTTP version");
		}
	}
	if (!complete)
		return 0;
	if (k != 8)
		return fail(out, 400, "malformed HTTP version");
	out->minor_version = s[i - 1] == '0' ? 0 : 1;
	return split_target(out);
}

static int header_line(const char *s, size_t n, struct fed_http_request *out)
{
	struct fed_http_header *h;
	size_t i = 0, v, e, k;

	if (is_ows(s[0]))
		return fail(out, 400, "obsolete header line folding");
	while (i < n && s[i] != ':') {
		if (!is_tchar((unsigned char)s[i]))
			return fail(out, 400, "invalid character in header name");
		i++;
	}
	if (i == 0 || i == n)
		return fail(out, 400, "malformed header line");
	for (v = i + 1; v < n && is_ows(s[v]); v++)
		;
	for (e = n; e > v && is_ows(s[e - 1]); e--)
		;
	for (k = v; k < e; k++) {
		unsigned char c = (unsigned char)s[k];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(out, 400, "invalid character in header value");
	}
	if (out->nheaders == FED_HTTP_MAX_HEADERS)
		return fail(out, 431, "too many header fields");
	h = &out->headers[out->nheaders++];
	h->name = s;
	h->name_len = i;
	h->value = s + v;
	h->value_len = e - v;
	return 0;
}

/* Calls fn on each comma-separated, trimmed, non-empty element. */
static void each_token(const char *s, size_t n, void (*fn)(const char *, size_t, void *), void *ud)
{
	size_t i = 0;

	while (i < n) {
		size_t a, b;

		while (i < n && (is_ows(s[i]) || s[i] == ','))
			i++;
		a = i;
		while (i < n && s[i] != ',')
			i++;
		for (b = i; b > a && is_ows(s[b - 1]); b--)
			;
		if (b > a)
			fn(s + a, b - a, ud);
	}
}

struct conn_tokens {
	int close, keep_alive;
};

static void conn_token(const char *t, size_t n, void *ud)
{
	struct conn_tokens *ct = ud;

	if (ieq(t, n, "close"))
		ct->close = 1;
	else if (ieq(t, n, "keep-alive"))
		ct->keep_alive = 1;
}

static void last_token(const char *t, size_t n, void *ud)
{
	int *chunked = ud;

	*chunked = ieq(t, n, "chunked");
}

/* Content-Length is 1*DIGIT; *v saturates just above the body limit. */
static int parse_length(const char *s, size_t n, size_t max, size_t *v)
{
	size_t i, x = 0;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (x <= max)
			x = x * 10 + (size_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

/* Framing and connection semantics, once all header fields are known. */
static int check_headers(struct fed_http_request *out, size_t max_body)
{
	struct conn_tokens ct = {0, 0};
	int hosts = 0, te = 0, chunked = 0, cl = 0;
	size_t i, len = 0;

	for (i = 0; i < out->nheaders; i++) {
		const struct fed_http_header *h = &out->headers[i];
		size_t v;

		if (ieq(h->name, h->name_len, "host")) {
			hosts++;
		} else if (ieq(h->name, h->name_len, "content-length")) {
			if (parse_length(h->value, h->value_len, max_body, &v))
				return fail(out, 400, "invalid Content-Length");
			if (cl && v != len)
				return fail(out, 400, "conflicting Content-Length");
			cl = 1;
			len = v;
		} else if (ieq(h->name, h->name_len, "transfer-encoding")) {
			te = 1;
			chunked = 0;
			each_token(h->value, h->value_len, last_token, &chunked);
		} else if (ieq(h->name, h->name_len, "connection")) {
			each_token(h->value, h->value_len, conn_token, &ct);
		}
	}
	if (hosts > 1)
		return fail(out, 400, "more than one Host header");
	if (hosts == 0 && out->minor_version == 1)
		return fail(out, 400, "missing Host header");
	if (te) {
		/* both framings at once is how requests get smuggled */
		if (cl || out->minor_version == 0)
			return fail(out, 400, "unexpected Transfer-Encoding");
		if (chunked)
			return fail(out, 411, "chunked request bodies are not accepted");
		return fail(out, 501, "transfer coding not implemented");
	}
	if (len > max_body)
		return fail(out, 413, "request body too large");
	out->content_length = len;
	if (out->minor_version == 1)
		out->keep_alive = !ct.close;
	else
		out->keep_alive = ct.keep_alive && !ct.close;
	return 0;
}

static int parse(const char *buf, size_t len, size_t max_body, bool head_only,
                 struct fed_http_request *out)
{
	size_t pos = 0, n;
	const char *eol, *line;
	int seen_request_line = 0;

	memset(out, 0, sizeof(*out));
	for (;;) {
		eol = memchr(buf + pos, '\n', len - pos);
		if (!eol) {
			if (!seen_request_line) {
				/* judge the request line as far as it has arrived */
				n = len - pos;
				if (n && buf[len - 1] == '\r')
					n--;
				if (request_line(buf + pos, n, 0, out))
					return FED_HTTP_PARSE_ERROR;
			}
			if (len > FED_HTTP_MAX_HEADER_BYTES)
				return fail(out, 431, "request header section too large");
			return FED_HTTP_PARSE_NEED_MORE;
		}
		if ((size_t)(eol - buf) >= FED_HTTP_MAX_HEADER_BYTES)
			return fail(out, 431, "request header section too large");
		line = buf + pos;
		n = (size_t)(eol - line);
		if (n && line[n - 1] == '\r')
			n--;
		pos = (size_t)(eol - buf) + 1;
		if (!seen_request_line) {
			if (n == 0)
				continue; /* empty lines before a request are allowed */
			if (request_line(line, n, 1, out))
				return FED_HTTP_PARSE_ERROR;
			seen_request_line = 1;
			continue;
		}
		if (n == 0)
			break;
		if (header_line(line, n, out))
			return FED_HTTP_PARSE_ERROR;
	}
	out->header_len = pos;
	if (check_headers(out, max_body))
		return FED_HTTP_PARSE_ERROR;
	if (head_only)
		return FED_HTTP_PARSE_COMPLETE;
	if (len - pos < out->content_length)
		return FED_HTTP_PARSE_NEED_MORE;
	if (out->content_length)
		out->body = buf + pos;
	return FED_HTTP_PARSE_COMPLETE;
}

int fed_http_parse_request(const char *buf, size_t len, struct fed_http_request *out)
{
	return parse(buf, len, FED_HTTP_MAX_BODY_BYTES, false, out);
}

int fed_http_parse_head(const char *buf, size_t len, size_t max_body, struct fed_http_request *out)
{
	return parse(buf, len, max_body, true, out);
}

const char *fed_http_request_header(const struct fed_http_request *req, const char *name,
                                    size_t *value_len)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		const struct fed_http_header *h = &req->headers[i];
		if (ieq(h->name, h->name_len, name)) {
			if (value_len)
				*value_len = h->value_len;
			return h->value;
		}
	}
	return NULL;
}

static const struct {
	int status;
	const char *text;
} status_texts[] = {
    {200, "OK"},
    {204, "No Content"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *fed_http_status_text(int status)
{
	size_t i;

	for (i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++)
		if (status_texts[i].status == status)
			return status_texts[i].text;
	return "Unknown";
}
