/* TCP listeners from "[IP]:PORT" (fed/listen.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fed/listen.h"

int fed_listen_tcp(const char *address, const char *flag, int *fd, int *port, struct fed_error *err)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	const char *colon = address ? strrchr(address, ':') : NULL;
	char host[64] = "", *end = NULL;
	size_t hl = colon ? (size_t)(colon - address) : 0;
	int s = -1, one = 1, e;
	long p;

	*fd = -1;
	if (!colon || hl >= sizeof(host))
		return fed_error_set(err, FED_EINVAL, "%s %s: use [IP]:PORT", flag,
		                     address ? address : "");
	memcpy(host, address, hl);
	p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || p < 0 || p > 65535)
		return fed_error_set(err, FED_EINVAL, "%s %s: the port must be 0-65535", flag,
		                     address);
	memset(&ss, 0, sizeof(ss));
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return fed_error_set(err, FED_EINVAL, "%s %s: not an IPv6 address", flag,
			                     address);
		len = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		if (host[0] && inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return fed_error_set(err, FED_EINVAL,
			                     "%s %s: use IPv4:PORT, [IPv6]:PORT or :PORT", flag,
			                     address);
		len = sizeof(*s4);
	}
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&ss, len) < 0 || listen(s, 128) < 0) {
		e = errno;
		if (s >= 0)
			close(s);
		return fed_error_set(err, FED_EUNAVAILABLE, "%s %s: %s", flag, address,
		                     strerror(e));
	}
	if (port) {
		len = sizeof(ss);
		getsockname(s, (struct sockaddr *)&ss, &len);
		*port = ntohs(ss.ss_family == AF_INET6 ? s6->sin6_port : s4->sin_port);
	}
	*fd = s;
	return 0;
}
