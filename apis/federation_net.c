/* Addresses of a federation: clientCIDRs, server addresses normalized to
 * https URLs, picking the address for this controller, and this machine's
 * own interface addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "fed/buf.h"
#include "fed/federation.h"
#include "yaml_map.h"

#define QUOTE_MAX     128
#define HOST_MAX      253
#define CIDR_TEXT_MAX (INET6_ADDRSTRLEN + 4)

static int oom(struct fed_error *err)
{
	return fed_error_set(err, FED_ENOMEM, "out of memory");
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Decimal without sign or leading zeros, at most max. */
static bool parse_uint(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 6 || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* inet_pton on a slice; 0 when it is no address of either family. */
static int parse_addr(const char *s, size_t len, unsigned char addr[16])
{
	char buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, buf, addr) == 1)
		return AF_INET6;
	return 0;
}

int fed_ip_parse(const char *s, int *family, unsigned char addr[16])
{
	size_t len;

	if (!s)
		return FED_EINVAL;
	len = strlen(s);
	/* a zone ("fe80::1%eth0") does not take part in matching */
	if (strchr(s, ':') && strchr(s, '%'))
		len = (size_t)(strchr(s, '%') - s);
	*family = parse_addr(s, len, addr);
	return *family ? 0 : FED_EINVAL;
}

static unsigned int max_prefix(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* Whether the first prefix bits of a and b agree. */
static bool same_prefix(const unsigned char *a, const unsigned char *b, unsigned int prefix)
{
	unsigned int bytes = prefix / 8, bits = prefix % 8;
	unsigned char mask;

	if (memcmp(a, b, bytes))
		return false;
	if (!bits)
		return true;
	mask = (unsigned char)(0xff << (8 - bits));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

int fed_cidr_parse(const char *s, struct fed_cidr *out, struct fed_error *err)
{
	char q[QUOTE_MAX], net[INET6_ADDRSTRLEN];
	unsigned char addr[16], masked[16];
	const char *slash;
	unsigned long prefix;
	unsigned int i;
	int family;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return fed_error_set(err, FED_EINVAL,
		                     "empty CIDR; expected an address and a prefix length, e.g. "
		                     "0.0.0.0/0, 10.0.0.0/8 or fd00::/64");
	fed_yaml_map_quote(q, sizeof(q), s, strlen(s));
	slash = strchr(s, '/');
	if (!slash) {
		if ((family = parse_addr(s, strlen(s), addr)) != 0)
			return fed_error_set(err, FED_EINVAL,
			                     "%s has no prefix length; did you mean %s/%u?", q, s,
			                     max_prefix(family));
		return fed_error_set(err, FED_EINVAL,
		                     "%s is not a CIDR; expected an address and a prefix length, "
		                     "e.g. 0.0.0.0/0, 10.0.0.0/8 or fd00::/64",
		                     q);
	}
	family = parse_addr(s, (size_t)(slash - s), addr);
	if (!family)
		return fed_error_set(err, FED_EINVAL,
		                     "%s is not a CIDR: %.*s is not an IPv4 or IPv6 address "
		                     "(e.g. 10.0.0.0/8 or fd00::/64)",
		                     q, (int)(slash - s) > 64 ? 64 : (int)(slash - s), s);
	if (!parse_uint(slash + 1, strlen(slash + 1), max_prefix(family), &prefix))
		return fed_error_set(err, FED_EINVAL,
		                     "%s is not a CIDR: the prefix length after '/' must be a "
		                     "number from 0 to %u for %s",
		                     q, max_prefix(family), family == AF_INET ? "IPv4" : "IPv6");
	memset(masked, 0, sizeof(masked));
	for (i = 0; i < prefix / 8; i++)
		masked[i] = addr[i];
	if (prefix % 8)
		masked[i] = (unsigned char)(addr[i] & (0xff << (8 - prefix % 8)));
	if (memcmp(masked, addr, sizeof(addr))) {
		inet_ntop(family, masked, net, sizeof(net));
		return fed_error_set(err, FED_EINVAL, "%s has host bits set; did you mean %s/%lu?",
		                     s, net, prefix);
	}
	out->family = family;
	memcpy(out->addr, addr, sizeof(out->addr));
	out->prefix = (unsigned int)prefix;
	return 0;
}

static bool v4_mapped(const unsigned char a[16])
{
	static const unsigned char pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return !memcmp(a, pfx, sizeof(pfx));
}

bool fed_cidr_contains(const struct fed_cidr *c, int family, const unsigned char addr[16])
{
	if (!c || !addr)
		return false;
	/* an IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d */
	if (family == AF_INET6 && v4_mapped(addr)) {
		family = AF_INET;
		addr += 12;
	}
	if (family != c->family || c->prefix > max_prefix(family))
		return false;
	return same_prefix(c->addr, addr, c->prefix);
}

int fed_federation_pick_address(const struct fed_cluster_spec *c, const char *const *client_ips,
                                size_t n_ips, const char **server_url_out,
                                const char **matched_cidr_out)
{
	const struct fed_server_address *best = NULL;
	size_t i, j;

	if (server_url_out)
		*server_url_out = NULL;
	if (matched_cidr_out)
		*matched_cidr_out = NULL;
	if (!c || c->err.code)
		return FED_EINVAL;
	for (i = 0; client_ips && i < n_ips; i++) {
		unsigned char addr[16];
		int family;

		if (fed_ip_parse(client_ips[i], &family, addr))
			continue;
		/* longest prefix wins; on a tie the earlier entry */
		for (j = 0; j < c->n_addrs; j++) {
			const struct fed_server_address *a = &c->addrs[j];
			if (!fed_cidr_contains(&a->cidr, family, addr))
				continue;
			if (!best || a->cidr.prefix > best->cidr.prefix ||
			    (a->cidr.prefix == best->cidr.prefix && a < best))
				best = a;
		}
	}
	if (!best)
		return FED_ENOTFOUND;
	if (server_url_out)
		*server_url_out = best->server_url;
	if (matched_cidr_out)
		*matched_cidr_out = best->client_cidr;
	return 0;
}

/* A DNS name: dot-separated labels of letters, digits and '-', not
 * starting or ending with '-'. */
static bool valid_hostname(const char *s, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || len > HOST_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

/* Whether the last label of a name is all digits: then it is meant as an
 * IPv4 address (as browsers decide too), never a host name. */
static bool numeric_tail(const char *s, size_t len)
{
	size_t i = len;

	while (i > 0 && s[i - 1] != '.')
		i--;
	if (i == len)
		return false;
	for (; i < len; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

static bool all_digits(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_digit(s[i]))
			return false;
	return len > 0;
}

/* Append "host:port" from an authority (no userinfo) to b. */
static int authority(struct fed_buf *b, const char *q, const char *s, size_t len, bool url,
                     struct fed_error *err)
{
	char canon[INET6_ADDRSTRLEN];
	unsigned char addr[16];
	const char *host = s, *port = NULL, *colon;
	size_t hlen = len, plen = 0, i, colons = 0;
	unsigned long pnum = 443;

	for (i = 0; i < len; i++)
		colons += s[i] == ':';
	if (len > 0 && s[0] == '[') {
		const char *end = memchr(s, ']', len);
		if (!end)
			return fed_error_set(err, FED_EINVAL, "%s: '[' without ']'", q);
		host = s + 1;
		hlen = (size_t)(end - host);
		if (end + 1 < s + len) {
			if (end[1] != ':')
				return fed_error_set(err, FED_EINVAL,
				                     "%s: expected ':' and a port after ']'", q);
			port = end + 2;
			plen = len - (size_t)(port - s);
		}
		if (memchr(host, '%', hlen))
			return fed_error_set(err, FED_EINVAL,
			                     "%s: IPv6 zones ('%%') are not supported; use a "
			                     "routable address",
			                     q);
		if (parse_addr(host, hlen, addr) != AF_INET6)
			return fed_error_set(err, FED_EINVAL, "%s: %.*s is not an IPv6 address", q,
			                     (int)(hlen > 64 ? 64 : hlen), host);
	} else if (colons >= 2) {
		if (url || parse_addr(s, len, addr) != AF_INET6)
			return fed_error_set(
			    err, FED_EINVAL,
			    "%s is not a valid address; write an IPv6 address in brackets, "
			    "with an optional port: [fd00::1]:6443",
			    q);
		hlen = len;
	} else {
		colon = memchr(s, ':', len);
		if (colon) {
			hlen = (size_t)(colon - s);
			port = colon + 1;
			plen = len - hlen - 1;
		}
		if (hlen == 0)
			return fed_error_set(err, FED_EINVAL, "%s has no host name", q);
		if (numeric_tail(host, hlen) || all_digits(host, hlen)) {
			if (parse_addr(host, hlen, addr) != AF_INET)
				return fed_error_set(err, FED_EINVAL,
				                     "%s: %.*s is not a valid IPv4 address", q,
				                     (int)(hlen > 64 ? 64 : hlen), host);
		} else if (!valid_hostname(host, hlen)) {
			return fed_error_set(err, FED_EINVAL,
			                     "%s: %.*s is not a valid host name (letters, digits, "
			                     "'-' and '.') or IP address",
			                     q, (int)(hlen > 64 ? 64 : hlen), host);
		}
	}
	if (port && (!parse_uint(port, plen, 65535, &pnum) || pnum == 0))
		return fed_error_set(err, FED_EINVAL,
		                     "%s: the port must be a number from 1 to 65535", q);
	if (memchr(host, ':', hlen)) {
		/* RFC 5952 form, so equal addresses compare equal */
		inet_ntop(AF_INET6, addr, canon, sizeof(canon));
		if (fed_buf_printf(b, "[%s]:%lu", canon, pnum))
			return oom(err);
		return 0;
	}
	for (i = 0; i < hlen; i++) {
		char c = host[i];
		c = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		if (fed_buf_append(b, &c, 1))
			return oom(err);
	}
	return fed_buf_printf(b, ":%lu", pnum) ? oom(err) : 0;
}

int fed_server_url(const char *address, char **url, struct fed_error *err)
{
	struct fed_buf b = FED_BUF_INIT;
	const char *s = address, *sep, *end, *p;
	char q[QUOTE_MAX];
	size_t len;
	int ret;

	*url = NULL;
	if (!s || !*s) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "empty server address; expected e.g. https://10.0.1.1:6443");
		goto out;
	}
	len = strlen(s);
	fed_yaml_map_quote(q, sizeof(q), s, len);
	for (p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			ret = fed_error_set(err, FED_EINVAL,
			                    "%s contains spaces or control characters", q);
			goto out;
		}
	if ((ret = fed_buf_puts(&b, "https://") ? oom(err) : 0))
		goto out;
	sep = strstr(s, "://");
	if (!sep) {
		if (strpbrk(s, "/?#@")) {
			ret = fed_error_set(err, FED_EINVAL,
			                    "%s is not a host, host:port or https:// URL (e.g. "
			                    "10.0.1.1:6443 or https://api.example.com:6443)",
			                    q);
			goto out;
		}
		if ((ret = authority(&b, q, s, len, false, err)))
			goto out;
		goto done;
	}
	if ((size_t)(sep - s) == 4 && !strncasecmp(s, "http", 4)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s uses plain HTTP; fed never talks plain HTTP to a member "
		                    "cluster: use https://%.200s",
		                    q, sep + 3);
		goto out;
	}
	if ((size_t)(sep - s) != 5 || strncasecmp(s, "https", 5)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: unsupported scheme \"%.*s\"; use an https:// URL (e.g. "
		                    "https://10.0.1.1:6443)",
		                    q, (int)(sep - s) > 32 ? 32 : (int)(sep - s), s);
		goto out;
	}
	s = sep + 3;
	if (strpbrk(s, "?#")) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: a query ('?') or fragment ('#') is not allowed in a "
		                    "server address",
		                    q);
		goto out;
	}
	end = strchr(s, '/');
	if (!end)
		end = s + strlen(s);
	if (memchr(s, '@', (size_t)(end - s))) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: credentials in the URL (user@host) are not allowed; "
		                    "remove them (fed reads credentials from the cluster's Secret)",
		                    q);
		goto out;
	}
	if (end == s) {
		ret = fed_error_set(err, FED_EINVAL, "%s has no host name", q);
		goto out;
	}
	if ((ret = authority(&b, q, s, (size_t)(end - s), true, err)))
		goto out;
	/* the path is kept (API servers behind a proxy live under one); a
	 * lone "/" is no path */
	if (strcmp(end, "/") && *end && fed_buf_puts(&b, end)) {
		ret = oom(err);
		goto out;
	}
done:
	if (!(*url = fed_buf_detach(&b)))
		ret = oom(err);
out:
	fed_buf_release(&b);
	return ret;
}

static bool link_local6(const struct sockaddr_in6 *sa)
{
	return IN6_IS_ADDR_LINKLOCAL(&sa->sin6_addr);
}

static bool loopback(const struct ifaddrs *ifa)
{
	if (ifa->ifa_flags & IFF_LOOPBACK)
		return true;
	if (ifa->ifa_addr->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)ifa->ifa_addr)
		                  ->sin_addr.s_addr) >>
		        24) == 127;
	return IN6_IS_ADDR_LOOPBACK(
	    &((const struct sockaddr_in6 *)(const void *)ifa->ifa_addr)->sin6_addr);
}

static int add_unique(char ***v, size_t *n, const char *s)
{
	char **grown;
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return 0;
	if (!(grown = realloc(*v, (*n + 2) * sizeof(char *))))
		return FED_ENOMEM;
	*v = grown;
	if (!(grown[*n] = strdup(s)))
		return FED_ENOMEM;
	grown[++*n] = NULL;
	return 0;
}

int fed_local_addresses(char ***out, size_t *n, struct fed_error *err)
{
	struct ifaddrs *ifs = NULL, *ifa;
	char **v = NULL, text[INET6_ADDRSTRLEN];
	size_t count = 0;
	int pass, ret = 0;

	*out = NULL;
	*n = 0;
	if (getifaddrs(&ifs)) {
		ret = fed_error_set(err, FED_ERR, "getifaddrs: %s", strerror(errno));
		goto out;
	}
	if (!(v = calloc(1, sizeof(char *)))) {
		ret = oom(err);
		goto out;
	}
	/* loopback last: only useful when the members run on this machine */
	for (pass = 0; pass < 2; pass++) {
		for (ifa = ifs; ifa; ifa = ifa->ifa_next) {
			const void *a;
			int family;

			if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP))
				continue;
			family = ifa->ifa_addr->sa_family;
			if (family == AF_INET) {
				a = &((const struct sockaddr_in *)(const void *)ifa->ifa_addr)
				         ->sin_addr;
			} else if (family == AF_INET6) {
				const struct sockaddr_in6 *sa6 =
				    (const struct sockaddr_in6 *)(const void *)ifa->ifa_addr;
				if (link_local6(sa6))
					continue;
				a = &sa6->sin6_addr;
			} else {
				continue;
			}
			if (loopback(ifa) != (pass == 1))
				continue;
			if (!inet_ntop(family, a, text, sizeof(text)))
				continue;
			if (add_unique(&v, &count, text)) {
				ret = oom(err);
				goto out;
			}
		}
	}
	*out = v;
	*n = count;
	v = NULL;
out:
	fed_local_addresses_free(v);
	if (ifs)
		freeifaddrs(ifs);
	return ret;
}

void fed_local_addresses_free(char **addrs)
{
	size_t i;

	if (!addrs)
		return;
	for (i = 0; addrs[i]; i++)
		free(addrs[i]);
	free(addrs);
}
