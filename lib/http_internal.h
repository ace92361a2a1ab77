/* Internal to the HTTP server: http_server.c owns the listening socket,
 * the routes and the server's lifetime; http_conn.c runs one connection
 * (reading, parsing, dispatching, writing, deadlines). */
#ifndef FED_HTTP_INTERNAL_H
#define FED_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>
#include <ev.h>

#include "fed/buf.h"
#include "fed/http_server.h"

struct route {
	char *method;
	char *path;
	fed_http_handler handler;
	void *ud;
};

struct http_conn;

struct fed_http_server {
	struct ev_loop *loop;
	int fd;
	int port;
	ev_io lio;
	ev_timer accept_retry; /* accepting paused after EMFILE and friends */
	double accept_warned_at;
	struct route *routes;
	size_t nroutes;
	struct http_conn *conns; /* doubly linked */
	size_t max_conns;
	double timeout;
	struct fed_http_server_stats stats;
	struct fed_buf body; /* handlers' response body, reused */
	int depth;           /* > 0 while a callback runs */
	bool freed;          /* fed_http_server_free() was called from a handler */
	time_t date_at;
	char date[64];
};

/* Take over an accepted socket (closed on failure). */
void fed_http_conn_new(struct fed_http_server *srv, int fd, const struct sockaddr_storage *ss);
/* Close and free now; the caller is in none of the connection's callbacks. */
void fed_http_conn_free(struct http_conn *c);
/* Free the server and its connections now; no callback of it is running. */
void fed_http_server_destroy(struct fed_http_server *srv);

#endif
