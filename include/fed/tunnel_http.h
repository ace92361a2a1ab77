/* The agent's HTTP request rewriting for tunnel streams: each request
 * head is checked (origin-form target only, no Transfer-Encoding, one
 * Content-Length) and rewritten: Host set to the kube-apiserver, the
 * Authorization, Proxy-Authorization, Impersonate-* and hop-by-hop headers
 * (and every header named in Connection) removed, the agent's own bearer
 * token added. Bodies pass through by Content-Length. Pure; fuzzed. */
#ifndef FED_TUNNEL_HTTP_H
#define FED_TUNNEL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fed/buf.h"
#include "fed/error.h"
#include "fed/tunnel_conn.h"

struct fed_tunnel_http {
	char *host;  /* Host header for the apiserver */
	char *token; /* the agent's bearer token, NULL for none (wiped on free) */
	struct fed_buf head;
	uint64_t body_left;
	bool failed;
	unsigned requests, stripped; /* counts, for tests and logs */
	char error[160];             /* why it failed (no header values) */
};

int fed_tunnel_http_new(struct fed_tunnel_http **out, const char *host, const char *token);
void fed_tunnel_http_free(struct fed_tunnel_http *h);
/* Append the rewritten bytes for p[0..n) to out. On a bad request returns
 * FED_EINVAL with an HTTP error response in reply (the stream ends);
 * h->error says why. */
int fed_tunnel_http_feed(struct fed_tunnel_http *h, const uint8_t *p, size_t n, struct fed_buf *out,
                         struct fed_buf *reply);
/* A bridge filter running h (the bridge frees h). */
void fed_tunnel_http_filter(struct fed_tunnel_http *h, struct fed_tunnel_filter *f);

#endif
