/* HTTP CONNECT proxies for the agent's outbound connection: the proxy
 * URL, NO_PROXY matching, the CONNECT request and its response. Pure. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>

#include "fed/tunnel_proxy.h"

static bool ip_in_cidr(const char *ip, const char *cidr)
{
	unsigned char a[16], n[16];
	char net[64];
	const char *slash = strchr(cidr, '/');
	int fam, bits, max;
	char *end;

	if (!slash || (size_t)(slash - cidr) >= sizeof(net))
		return false;
	memcpy(net, cidr, (size_t)(slash - cidr));
	net[slash - cidr] = '\0';
	fam = strchr(net, ':') ? AF_INET6 : AF_INET;
	max = fam == AF_INET ? 32 : 128;
	bits = (int)strtol(slash + 1, &end, 10);
	if (*end || bits < 0 || bits > max || inet_pton(fam, net, n) != 1 ||
	    inet_pton(fam, ip, a) != 1)
		return false;
	for (int i = 0; i < bits / 8; i++)
		if (a[i] != n[i])
			return false;
	if (bits % 8) {
		unsigned char mask = (unsigned char)(0xff << (8 - bits % 8));

		if ((a[bits / 8] & mask) != (n[bits / 8] & mask))
			return false;
	}
	return true;
}

bool fed_proxy_bypass(const char *no_proxy, const char *host)
{
	const char *p = no_proxy;
	size_t hl = host ? strlen(host) : 0;

	if (!p || !hl)
		return false;
	while (*p) {
		char e[256];
		size_t n = 0;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		while (*p && *p != ',' && *p != ' ' && *p != '\t') {
			if (n < sizeof(e) - 1)
				e[n++] = *p;
			p++;
		}
		e[n] = '\0';
		if (!n)
			continue;
		if (!strcmp(e, "*"))
			return true;
		if (strchr(e, '/')) {
			if (ip_in_cidr(host, e))
				return true;
			continue;
		}
		/* "example.com" and ".example.com" both match the domain and
		 * its subdomains, as curl does */
		{
			const char *d = e[0] == '.' ? e + 1 : e;
			size_t dl = strlen(d);

			if (hl == dl && !strcasecmp(host, d))
				return true;
			if (hl > dl && host[hl - dl - 1] == '.' && !strcasecmp(host + hl - dl, d))
				return true;
		}
	}
	return false;
}

int fed_proxy_parse_url(const char *url, struct fed_proxy *out, struct fed_error *err)
{
	const char *p, *at, *hs, *end;
	char *auth = NULL;

	memset(out, 0, sizeof(*out));
	if (!url || !*url)
		return fed_error_set(err, FED_EINVAL, "proxy: empty URL");
	if (!strncasecmp(url, "http://", 7))
		p = url + 7;
	else if (!strstr(url, "://"))
		p = url;
	else
		return fed_error_set(err, FED_EINVAL,
				     "proxy: only http:// proxies are supported (the tunnel is TLS "
				     "end to end through them)");
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	hs = at ? at + 1 : p;
	if (at) {
		size_t n = (size_t)(at - p);

		auth = malloc(4 * ((n + 2) / 3) + 1);
		if (!auth)
			return fed_error_set(err, FED_ENOMEM, "out of memory");
		EVP_EncodeBlock((unsigned char *)auth, (const unsigned char *)p, (int)n);
	}
	if (*hs == '[') {
		const char *rb = memchr(hs, ']', (size_t)(end - hs));

		if (!rb)
			goto bad;
		out->host = strndup(hs + 1, (size_t)(rb - hs - 1));
		out->port = rb + 1 < end && rb[1] == ':' ? strndup(rb + 2, (size_t)(end - rb - 2))
							 : strdup("80");
	} else {
		const char *colon = memchr(hs, ':', (size_t)(end - hs));

		out->host = strndup(hs, (size_t)((colon ? colon : end) - hs));
		out->port = colon ? strndup(colon + 1, (size_t)(end - colon - 1)) : strdup("80");
	}
	if (!out->host || !out->port || !*out->host || !*out->port)
		goto bad;
	for (const char *c = out->port; *c; c++)
		if (!isdigit((unsigned char)*c))
			goto bad;
	out->basic_auth = auth;
	return 0;
bad:
	free(auth);
	fed_proxy_release(out);
	/* the URL may hold a password: never quote it */
	return fed_error_set(err, FED_EINVAL, "proxy: malformed URL (use http://HOST:PORT)");
}

void fed_proxy_release(struct fed_proxy *p)
{
	free(p->host);
	free(p->port);
	if (p->basic_auth) {
		memset(p->basic_auth, 0, strlen(p->basic_auth));
		free(p->basic_auth);
	}
	memset(p, 0, sizeof(*p));
}

int fed_proxy_connect_request(struct fed_buf *out, const char *target, const struct fed_proxy *p)
{
	int rc = fed_buf_printf(out, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target);

	if (!rc && p->basic_auth)
		rc = fed_buf_printf(out, "Proxy-Authorization: Basic %s\r\n", p->basic_auth);
	if (!rc)
		rc = fed_buf_puts(out, "\r\n");
	return rc;
}

int fed_proxy_connect_response(const char *buf, size_t len, size_t *used, struct fed_error *err)
{
	const char *end = NULL;
	int status;

	*used = 0;
	for (size_t i = 3; i < len; i++)
		if (!memcmp(buf + i - 3, "\r\n\r\n", 4)) {
			end = buf + i + 1;
			break;
		}
	if (!end) {
		if (len > 16384)
			return fed_error_set(err, FED_EUNAVAILABLE,
					     "proxy: response head over 16 KiB");
		return 0;
	}
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) || buf[8] != ' ' || !isdigit((unsigned char)buf[9]) ||
	    !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11]))
		return fed_error_set(err, FED_EUNAVAILABLE, "proxy: not an HTTP response to CONNECT");
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (status / 100 != 2)
		return fed_error_set(err, status == 407 ? FED_EUNAUTHORIZED : FED_EUNAVAILABLE,
				     "proxy: CONNECT refused with status %d%s", status,
				     status == 407 ? " (proxy authentication required: put "
						     "user:password in the proxy URL)"
						   : "");
	*used = (size_t)(end - buf);
	return 1;
}
