/* A small HTTP/1.1 server for the operations endpoints (/healthz, /readyz,
 * /metrics). It runs on the process's one libev loop and never blocks it:
 * non-blocking sockets, one ev_io per direction and one ev_timer per
 * connection. Handlers are synchronous and must be quick (they run on the
 * loop); a response is built in memory and written as the peer reads it.
 *
 * Limits (see docs/operations.md): header section 16 KiB (431), request
 * bodies up to 16 KiB with Content-Length (413 above; chunked bodies are
 * refused with 411), 256 connections (more are closed as soon as they are
 * accepted), and a 30 s deadline per request and per response that partial
 * reads or writes do not extend, so a peer trickling bytes (slowloris)
 * cannot hold a connection. Any malformed request is answered with its 4xx
 * status and the connection is closed.
 *
 * The request parser is a separate pure function so that it can be fuzzed. */
#ifndef FED_HTTP_SERVER_H
#define FED_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "fed/buf.h"
#include "fed/error.h"

struct ev_loop;
struct fed_http_server;

#define FED_HTTP_MAX_HEADER_BYTES 16384 /* request line + headers + blank line */
#define FED_HTTP_MAX_HEADERS      64
#define FED_HTTP_MAX_TARGET       8192 /* request target (414 above) */
#define FED_HTTP_MAX_METHOD       32   /* longer methods get 501 */
#define FED_HTTP_MAX_BODY_BYTES   16384
#define FED_HTTP_MAX_CONNECTIONS  256
#define FED_HTTP_IDLE_TIMEOUT     30.0 /* seconds */

/* ---- Request parser ---------------------------------------------------- */

enum fed_http_parse_result {
	FED_HTTP_PARSE_ERROR = -1,    /* out->status and out->error say why */
	FED_HTTP_PARSE_NEED_MORE = 0, /* a prefix of a valid request so far */
	FED_HTTP_PARSE_COMPLETE = 1,  /* header section and body all in buf */
};

struct fed_http_header {
	const char *name; /* as sent; compare case-insensitively */
	size_t name_len;
	const char *value; /* without surrounding whitespace */
	size_t value_len;
};

/* All pointers are views into the parsed buffer (not NUL-terminated), valid
 * as long as it is; the one exception is path "/" for an absolute-form
 * target without a path ("http://host"), which points to a literal. */
struct fed_http_request {
	const char *method;
	size_t method_len;
	const char *target; /* as sent: "/metrics?x=1" */
	size_t target_len;
	const char *path; /* target without the query; absolute-form reduced to its path */
	size_t path_len;
	const char *query; /* after '?', NULL when there is none */
	size_t query_len;
	int minor_version; /* HTTP/1.<minor>: 0 or 1 (1.2+ is treated as 1.1) */
	bool keep_alive;   /* the connection may stay open after the response */
	size_t content_length;
	const char *body; /* content_length bytes, when complete */
	/* Bytes of the request line, headers and blank line (leading empty lines
	 * included). Set as soon as the header section is complete, so a caller
	 * told NEED_MORE knows it waits for header_len + content_length bytes. */
	size_t header_len;
	size_t nheaders;
	struct fed_http_header headers[FED_HTTP_MAX_HEADERS];
	/* On FED_HTTP_PARSE_ERROR: the status to answer with (400, 411, 413, 414,
	 * 431, 501 or 505) and a short static reason. */
	int status;
	const char *error;
};

/* Parse the request at the start of buf. Pure: no allocation, no state; the
 * caller re-parses from the start when more bytes arrive. Errors are
 * reported as early as the bytes so far prove them (a bad method before the
 * end of the request line, 431 once len passes the header limit without a
 * blank line). Bare LF is accepted as a line end, as RFC 9112 allows. */
int fed_http_parse_request(const char *buf, size_t len, struct fed_http_request *out);

/* The same for a proxy that streams the body on: COMPLETE as soon as the
 * header section is (body and content_length are then the caller's to
 * read on), with bodies up to max_body bytes by Content-Length (413
 * above, chunked 411 as before). */
int fed_http_parse_head(const char *buf, size_t len, size_t max_body, struct fed_http_request *out);

/* Value of the first header named name (case-insensitive), or NULL. */
const char *fed_http_request_header(const struct fed_http_request *req, const char *name,
                                    size_t *value_len);

/* "OK", "Not Found", ...; "Unknown" for codes this server never sends. */
const char *fed_http_status_text(int status);

/* ---- Server ------------------------------------------------------------ */

struct fed_http_response {
	int status;               /* preset to 200 */
	const char *content_type; /* NULL: "text/plain; charset=utf-8"; copied after return */
	struct fed_buf body;      /* preset empty; owned by the server */
};

/* Handlers run on the loop and must not block. Return 0, or a negative
 * fed_err to have the server answer 500 (the response is discarded). A
 * handler may call fed_http_server_free() on its own server; the connection
 * is then closed without a response. GET handlers also serve HEAD. */
typedef int (*fed_http_handler)(const struct fed_http_request *req, struct fed_http_response *resp,
                                void *ud);

struct fed_http_server_stats {
	unsigned long connections;  /* open now */
	unsigned long accepted;     /* connections accepted and served */
	unsigned long rejected;     /* closed at once: over the connection limit */
	unsigned long requests;     /* requests answered by routing (2xx-5xx, 404, 405) */
	unsigned long bad_requests; /* malformed requests answered with 4xx/5xx and closed */
	unsigned long timeouts;     /* connections closed by the deadline */
};

/* Listen on a numeric address ("127.0.0.1", "0.0.0.0", "::", "::1";
 * "[::1]" also works) and port (0: the kernel picks a free one, see
 * fed_http_server_port()). "::" accepts IPv4 too where the system allows.
 * Accepting starts when the loop runs. */
int fed_http_server_new(struct fed_http_server **out, struct ev_loop *loop, const char *address,
                        int port, struct fed_error *err);
/* Close the listening socket and every connection, free everything. NULL
 * is fine; so is calling it from inside a handler. */
void fed_http_server_free(struct fed_http_server *srv);
int fed_http_server_port(const struct fed_http_server *srv);

/* Route method + exact path (the query is not part of it). Methods are
 * case-sensitive ("GET"). Returns 0, FED_EEXISTS for a duplicate,
 * FED_EINVAL for an empty method or a path not starting with '/', or
 * FED_ENOMEM. Requests for a known path with another method get 405 with
 * Allow; unknown paths get 404. */
int fed_http_server_route(struct fed_http_server *srv, const char *method, const char *path,
                          fed_http_handler handler, void *ud);

/* Tuning, mainly for tests: the per-request/per-response deadline (default
 * FED_HTTP_IDLE_TIMEOUT) and the connection limit (default
 * FED_HTTP_MAX_CONNECTIONS). They apply to deadlines armed afterwards. */
void fed_http_server_set_timeout(struct fed_http_server *srv, double seconds);
void fed_http_server_set_max_connections(struct fed_http_server *srv, size_t n);
void fed_http_server_stats(const struct fed_http_server *srv, struct fed_http_server_stats *out);

#endif
