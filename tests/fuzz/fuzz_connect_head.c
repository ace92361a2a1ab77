/* Cluster connect's request head: arbitrary bytes as the request the
 * aggregator forwards. Whatever the caller sent, the head for the member
 * is a well-formed request with fed's one Authorization and one
 * Impersonate-User, and none of the front proxy's headers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fed/connect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(const struct fed_http_request *r, const char *name, size_t prefix_only)
{
	int n = 0;

	for (size_t i = 0; i < r->nheaders; i++) {
		const struct fed_http_header *h = &r->headers[i];

		if (prefix_only
		        ? h->name_len >= strlen(name) && !strncasecmp(h->name, name, strlen(name))
		        : h->name_len == strlen(name) && !strncasecmp(h->name, name, h->name_len))
			n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_http_request req, again;
	struct fed_connect_caller c;
	struct fed_connect_upstream up = {"member:6443", "TOKEN"};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf out = FED_BUF_INIT;
	char *buf = malloc(size + 1), *cluster = NULL, *target = NULL;
	bool upgrade;
	int r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (fed_http_parse_request(buf, size, &req) != FED_HTTP_PARSE_COMPLETE)
		goto out;
	if (fed_connect_target(&req, &cluster, &target, &err) == 0 &&
	    (!cluster || !target || target[0] != '/'))
		abort();
	if (fed_connect_caller_parse(&req, NULL, &c, &err) == 0) {
		if (fed_connect_rewrite(&req, target ? target : "/", &c, NULL, &up, &upgrade, &out,
		                        &err))
			abort();
		r = fed_http_parse_request(out.data, out.len, &again);
		if (r == FED_HTTP_PARSE_ERROR && again.status != 431 && again.status != 413)
			abort();
		if (r != FED_HTTP_PARSE_ERROR &&
		    (again.header_len != out.len || count(&again, "authorization", 0) != 1 ||
		     count(&again, "impersonate-user", 0) != 1 || count(&again, "x-remote-", 1) ||
		     count(&again, "host", 0) != 1 || count(&again, "upgrade", 0) != (int)upgrade))
			abort();
	}
	fed_connect_caller_release(&c);
out:
	fed_buf_release(&out);
	free(cluster);
	free(target);
	free(buf);
	return 0;
}
