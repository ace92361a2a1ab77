/* The operations HTTP server: the listening socket, accepting under the
 * connection limit, routes and the server's lifetime (see
 * fed/http_server.h). Connections live in http_conn.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fed/log.h"
#include "http_internal.h"

#define ACCEPTS_PER_EVENT 64

static void accept_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_http_server *srv = w->data;

	ev_io_start(loop, &srv->lio);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fed_http_server *srv = w->data;
	int i;

	for (i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd;

		memset(&ss, 0, sizeof(ss));
		fd = accept4(srv->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* out of descriptors or memory: the socket stays readable,
			 * so pause instead of spinning */
			if (ev_now(loop) - srv->accept_warned_at > 10) {
				FED_LOG_WARN(NULL, "http: accept: %s; pausing for 100 ms",
				             strerror(errno));
				srv->accept_warned_at = ev_now(loop);
			}
			ev_io_stop(loop, &srv->lio);
			ev_timer_set(&srv->accept_retry, 0.1, 0.);
			ev_timer_start(loop, &srv->accept_retry);
			return;
		}
		if (srv->stats.connections >= srv->max_conns) {
			srv->stats.rejected++;
			close(fd);
			continue;
		}
		fed_http_conn_new(srv, fd, &ss);
	}
}

static int parse_address(const char *address, int port, struct sockaddr_storage *ss, socklen_t *sl,
                         struct fed_error *err)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 1];
	size_t n = address ? strlen(address) : 0;

	if (port < 0 || port > 65535)
		return fed_error_set(err, FED_EINVAL, "listen port %d is out of range", port);
	if (n >= 2 && address[0] == '[' && address[n - 1] == ']') {
		address++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return fed_error_set(err, FED_EINVAL,
		                     "listen address '%s' is not a numeric IPv4 or IPv6 address",
		                     address ? address : "");
	memcpy(host, address, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*sin6);
	} else {
		return fed_error_set(err, FED_EINVAL,
		                     "listen address '%s' is not a numeric IPv4 or IPv6 address",
		                     host);
	}
	return 0;
}

static int listen_socket(struct fed_http_server *srv, const char *address, int port,
                         struct fed_error *err)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int one = 1, zero = 0, ret;

	ret = parse_address(address, port, &ss, &sl, err);
	if (ret)
		goto out;
	srv->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd < 0) {
		ret = fed_error_set(err, FED_ERR, "listen on %s: socket: %s", address,
		                    strerror(errno));
		goto out;
	}
	setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "::" should take IPv4 too, whatever net.ipv6.bindv6only says */
	if (ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		setsockopt(srv->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(srv->fd, (struct sockaddr *)&ss, sl) || listen(srv->fd, SOMAXCONN)) {
		ret = fed_error_set(err, errno == EADDRINUSE ? FED_EUNAVAILABLE : FED_ERR,
		                    "listen on %s port %d: %s", address, port, strerror(errno));
		goto out;
	}
	sl = sizeof(ss);
	if (getsockname(srv->fd, (struct sockaddr *)&ss, &sl)) {
		ret = fed_error_set(err, FED_ERR, "listen on %s: getsockname: %s", address,
		                    strerror(errno));
		goto out;
	}
	srv->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
	                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
	ret = 0;
out:
	return ret;
}

int fed_http_server_new(struct fed_http_server **out, struct ev_loop *loop, const char *address,
                        int port, struct fed_error *err)
{
	struct fed_http_server *srv = NULL;
	int ret;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	srv->loop = loop;
	srv->fd = -1;
	srv->max_conns = FED_HTTP_MAX_CONNECTIONS;
	srv->timeout = FED_HTTP_IDLE_TIMEOUT;
	srv->date_at = (time_t)-1;
	srv->accept_warned_at = -1e9;
	ret = listen_socket(srv, address, port, err);
	if (ret)
		goto out;
	ev_io_init(&srv->lio, accept_cb, srv->fd, EV_READ);
	srv->lio.data = srv;
	ev_timer_init(&srv->accept_retry, accept_retry_cb, 0., 0.);
	srv->accept_retry.data = srv;
	ev_io_start(loop, &srv->lio);
	*out = srv;
	srv = NULL;
out:
	if (srv && srv->fd >= 0)
		close(srv->fd);
	free(srv);
	return ret;
}

void fed_http_server_destroy(struct fed_http_server *srv)
{
	size_t i;

	/* stop listening first: a peer seeing its connection close must not
	 * get through to this server any more */
	ev_io_stop(srv->loop, &srv->lio);
	ev_timer_stop(srv->loop, &srv->accept_retry);
	if (srv->fd >= 0)
		close(srv->fd);
	while (srv->conns)
		fed_http_conn_free(srv->conns);
	for (i = 0; i < srv->nroutes; i++) {
		free(srv->routes[i].method);
		free(srv->routes[i].path);
	}
	free(srv->routes);
	fed_buf_release(&srv->body);
	free(srv);
}

void fed_http_server_free(struct fed_http_server *srv)
{
	if (!srv)
		return;
	if (srv->depth > 0) {
		/* inside a handler: the callback that called it finishes first */
		srv->freed = true;
		ev_io_stop(srv->loop, &srv->lio);
		return;
	}
	fed_http_server_destroy(srv);
}

int fed_http_server_port(const struct fed_http_server *srv)
{
	return srv->port;
}

int fed_http_server_route(struct fed_http_server *srv, const char *method, const char *path,
                          fed_http_handler handler, void *ud)
{
	struct route *routes, *rt;
	size_t i;

	if (!method || !*method || !path || path[0] != '/' || !handler)
		return FED_EINVAL;
	for (i = 0; i < srv->nroutes; i++)
		if (!strcmp(srv->routes[i].method, method) && !strcmp(srv->routes[i].path, path))
			return FED_EEXISTS;
	routes = realloc(srv->routes, (srv->nroutes + 1) * sizeof(*routes));
	if (!routes)
		return FED_ENOMEM;
	srv->routes = routes;
	rt = &routes[srv->nroutes];
	rt->method = strdup(method);
	rt->path = strdup(path);
	rt->handler = handler;
	rt->ud = ud;
	if (!rt->method || !rt->path) {
		free(rt->method);
		free(rt->path);
		return FED_ENOMEM;
	}
	srv->nroutes++;
	return 0;
}

void fed_http_server_set_timeout(struct fed_http_server *srv, double seconds)
{
	srv->timeout = seconds > 0 ? seconds : FED_HTTP_IDLE_TIMEOUT;
}

void fed_http_server_set_max_connections(struct fed_http_server *srv, size_t n)
{
	srv->max_conns = n;
}

void fed_http_server_stats(const struct fed_http_server *srv, struct fed_http_server_stats *out)
{
	*out = srv->stats;
}
