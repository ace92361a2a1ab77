/* The agent's TCP sockets: to the host (directly or to its proxy) and to
 * the member's apiserver. Each carries TCP keepalive and TCP_USER_TIMEOUT,
 * so a peer that vanished without a RST (node lost, conntrack entry
 * dropped) ends the connection instead of leaving it open forever. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"

int agent_split_hostport(const char *s, char **host, char **port)
{
	const char *colon;

	*host = *port = NULL;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return FED_EINVAL;
		*host = strndup(s + 1, (size_t)(rb - s - 1));
		*port = strdup(rb + 2);
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s)
			return FED_EINVAL;
		*host = strndup(s, (size_t)(colon - s));
		*port = strdup(colon + 1);
	}
	if (!*host || !*port || !**port) {
		free(*host);
		free(*port);
		*host = *port = NULL;
		return FED_EINVAL;
	}
	return 0;
}

int agent_tcp_tune(const struct agent *a, int fd)
{
	int on = 1, uto = a->tcp_user_timeout * 1000; /* ms; 0: the kernel's default */

	/* frames and HTTP heads are small and latency matters: no Nagle */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &a->tcp_keepidle, sizeof(int)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &a->tcp_keepintvl, sizeof(int)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &a->tcp_keepcnt, sizeof(int)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto)) < 0)
		return FED_EINVAL;
	return 0;
}

int agent_dial(const struct agent *a, const char *host, const char *port, const char *what,
               struct fed_error *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	int fd = -1, e = 0, rc = getaddrinfo(host, port, &hints, &res);

	if (rc)
		return fed_error_set(err, FED_EUNAVAILABLE, "cannot resolve %s: %s", host,
		                     gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		/* before connect: keepalive covers the whole life of the socket */
		if (agent_tcp_tune(a, fd) < 0) {
			e = errno;
		} else if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			break;
		} else {
			e = errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fed_error_set(err, FED_EUNAVAILABLE, "cannot connect to %s: %s", what,
		                     strerror(e ? e : EHOSTUNREACH));
	return fd;
}
