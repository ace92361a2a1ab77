/* HTTP requests: arbitrary bytes to fed_http_parse_request(), plus the
 * invariants the server relies on when it re-parses a growing buffer:
 *  - every view the parser returns lies inside the input;
 *  - a complete request parses the same from exactly its own bytes;
 *  - every prefix of a complete or still-incomplete request is NEED_MORE
 *    (the server never rejects a valid request that arrives slowly);
 *  - an error always carries a 4xx/5xx status and a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fed/http_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static int inside(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && n <= len && p - buf <= (ptrdiff_t)(len - n);
}

static void check_views(const struct fed_http_request *r, const char *buf, size_t len)
{
	size_t i;

	check(inside(r->method, r->method_len, buf, len) && r->method_len > 0);
	check(inside(r->target, r->target_len, buf, len) && r->target_len > 0);
	check(r->path_len > 0 && r->path[0] == '/');
	check(inside(r->path, r->path_len, buf, len) ||
	      (r->path_len == 1 && !strcmp(r->path, "/")));
	check(!r->query || inside(r->query, r->query_len, buf, len));
	check(r->header_len <= len && r->content_length <= len - r->header_len);
	check(r->content_length <= FED_HTTP_MAX_BODY_BYTES);
	check(r->header_len <= FED_HTTP_MAX_HEADER_BYTES);
	check(r->nheaders <= FED_HTTP_MAX_HEADERS);
	check(!r->content_length || r->body == buf + r->header_len);
	for (i = 0; i < r->nheaders; i++) {
		check(inside(r->headers[i].name, r->headers[i].name_len, buf, len));
		check(inside(r->headers[i].value, r->headers[i].value_len, buf, len));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_http_request *req = malloc(sizeof(*req)), *again = malloc(sizeof(*again));
	const char *buf = (const char *)data;
	size_t total, i, step;
	int r;

	if (!req || !again)
		abort();
	r = fed_http_parse_request(buf, size, req);
	check(r == FED_HTTP_PARSE_ERROR || r == FED_HTTP_PARSE_NEED_MORE ||
	      r == FED_HTTP_PARSE_COMPLETE);
	if (r == FED_HTTP_PARSE_ERROR) {
		check(req->status >= 400 && req->status <= 505 && req->error && req->error[0]);
		goto out;
	}
	total = size;
	if (r == FED_HTTP_PARSE_COMPLETE) {
		check_views(req, buf, size);
		total = req->header_len + req->content_length;
		check(fed_http_parse_request(buf, total, again) == FED_HTTP_PARSE_COMPLETE);
		check(again->header_len == req->header_len &&
		      again->content_length == req->content_length &&
		      again->keep_alive == req->keep_alive && again->nheaders == req->nheaders &&
		      again->path_len == req->path_len && again->method == req->method);
	} else if (req->header_len) {
		check(req->header_len <= size && req->content_length > size - req->header_len);
	}
	/* prefixes: all of them for small inputs, a sample of the rest */
	step = total <= 512 ? 1 : total / 256;
	for (i = 0; i < total; i += step)
		check(fed_http_parse_request(buf, i, again) == FED_HTTP_PARSE_NEED_MORE);
out:
	free(req);
	free(again);
	return 0;
}
