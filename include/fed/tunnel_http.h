/* The agent's HTTP request rewriting for tunnel streams: each request
 * head is checked (origin-form target only, no Transfer-Encoding, one
 * Content-Length) and rewritten: Host set to the kube-apiserver, the
 * Authorization, Proxy-Authorization, Impersonate-* and hop-by-hop headers
 * (and every header named in Connection) removed, the agent's own bearer
 * token added. Bodies pass through by Content-Length. Pure; fuzzed.
 *
 * Connect mode, for cluster connect streams (FED_TUNNEL_TARGET_CONNECT):
 * the same, except that Impersonate-User, -Group, -Uid and -Extra-* are
 * kept as sent (exactly one non-empty Impersonate-User is required, and a
 * system: user or group is refused with 403), and an Upgrade to SPDY/3.1
 * or websocket named by Connection is kept (any other Upgrade is removed).
 * The stream carries one request: anything after it is refused, unless it
 * was an upgrade the apiserver answered with 101, after which bytes pass
 * unchanged both ways. */
#ifndef FED_TUNNEL_HTTP_H
#define FED_TUNNEL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fed/buf.h"
#include "fed/error.h"
#include "fed/tunnel_conn.h"

enum fed_tunnel_http_phase {
	FED_TUNNEL_HTTP_REQUESTS = 0, /* request heads and their bodies */
	FED_TUNNEL_HTTP_DONE,         /* connect: its request was sent, nothing more is */
	FED_TUNNEL_HTTP_UPGRADING,    /* connect: an upgrade was sent, its answer not seen */
	FED_TUNNEL_HTTP_RAW,          /* connect: upgraded (101): bytes pass unchanged */
};

struct fed_tunnel_http {
	char *host;  /* Host header for the apiserver */
	char *token; /* the agent's bearer token, NULL for none (wiped on free) */
	struct fed_buf head;
	uint64_t body_left;
	bool failed;
	bool connect; /* connect mode */
	enum fed_tunnel_http_phase phase;
	char status[16]; /* connect: the start of the answer to an upgrade */
	size_t status_len;
	bool upgraded;               /* connect: the apiserver switched protocols */
	unsigned requests, stripped; /* counts, for tests and logs */
	char error[160];             /* why it failed (no header values) */
};

int fed_tunnel_http_new(struct fed_tunnel_http **out, const char *host, const char *token);
/* The same in connect mode. */
int fed_tunnel_http_new_connect(struct fed_tunnel_http **out, const char *host, const char *token);
void fed_tunnel_http_free(struct fed_tunnel_http *h);
/* Append the rewritten bytes for p[0..n) to out. On a bad request returns
 * FED_EINVAL with an HTTP error response in reply (the stream ends);
 * h->error says why. */
int fed_tunnel_http_feed(struct fed_tunnel_http *h, const uint8_t *p, size_t n, struct fed_buf *out,
                         struct fed_buf *reply);
/* The apiserver's bytes on their way back (passed on unchanged): connect
 * mode learns from them whether its upgrade was accepted. */
void fed_tunnel_http_response(struct fed_tunnel_http *h, const uint8_t *p, size_t n);
/* A bridge filter running h (the bridge frees h). */
void fed_tunnel_http_filter(struct fed_tunnel_http *h, struct fed_tunnel_filter *f);

#endif
