/* HTTP(S) CONNECT proxies for the agent's outbound connection: the proxy
 * URL, NO_PROXY matching, the CONNECT request and its response (pure),
 * and the TLS context for an https:// proxy. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

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

/* The scheme of url ("http", "https", ...) when it starts with one:
 * letters, digits, '+', '-', '.' before "://". */
static size_t scheme_len(const char *url)
{
	size_t n = 0;

	if (!isalpha((unsigned char)url[0]))
		return 0;
	while (isalnum((unsigned char)url[n]) || url[n] == '+' || url[n] == '-' || url[n] == '.')
		n++;
	return strncmp(url + n, "://", 3) ? 0 : n;
}

int fed_proxy_parse_url(const char *url, struct fed_proxy *out, struct fed_error *err)
{
	const char *p, *at, *hs, *end, *defport;
	char *auth = NULL;
	size_t sl;

	memset(out, 0, sizeof(*out));
	if (!url || !*url)
		return fed_error_set(err, FED_EINVAL, "proxy: empty URL");
	sl = scheme_len(url);
	if (sl == 4 && !strncasecmp(url, "http", 4)) {
		p = url + 7;
	} else if (sl == 5 && !strncasecmp(url, "https", 5)) {
		p = url + 8;
		out->tls = true;
	} else if (sl) {
		/* the scheme alone holds no secret: name it */
		return fed_error_set(err, FED_EINVAL,
		                     "proxy: unsupported scheme %.*s:// (use http:// or https:// "
		                     "with a CONNECT proxy)",
		                     sl > 16 ? 16 : (int)sl, url);
	} else if (strstr(url, "://")) {
		return fed_error_set(
		    err, FED_EINVAL,
		    "proxy: malformed URL (use http://HOST:PORT or https://HOST:PORT)");
	} else {
		p = url;
	}
	defport = out->tls ? "443" : "80";
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
		                                         : strdup(defport);
	} else {
		const char *colon = memchr(hs, ':', (size_t)(end - hs));

		out->host = strndup(hs, (size_t)((colon ? colon : end) - hs));
		out->port = colon ? strndup(colon + 1, (size_t)(end - colon - 1)) : strdup(defport);
	}
	if (!out->host || !out->port || !*out->host || !*out->port)
		goto bad;
	if (strlen(out->port) > 5 || atoi(out->port) < 1 || atoi(out->port) > 65535)
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
	return fed_error_set(err, FED_EINVAL,
	                     "proxy: malformed URL (use http://HOST:PORT or https://HOST:PORT)");
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
	/* a TLS record (handshake or alert) where HTTP was expected */
	if (len >= 3 && (buf[0] == 0x15 || buf[0] == 0x16) && buf[1] == 0x03)
		return fed_error_set(err, FED_EUNAVAILABLE,
		                     "proxy: answered CONNECT with TLS: it is an https:// proxy, "
		                     "use an https:// URL");
	if (!end) {
		if (len > 16384)
			return fed_error_set(err, FED_EUNAVAILABLE,
			                     "proxy: response head over 16 KiB");
		return 0;
	}
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) || buf[8] != ' ' ||
	    !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
	    !isdigit((unsigned char)buf[11]))
		return fed_error_set(err, FED_EUNAVAILABLE,
		                     "proxy: not an HTTP response to CONNECT");
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (status / 100 != 2) {
		/* the status line only: headers are never echoed (a proxy may
		 * reflect what we sent, Proxy-Authorization included) */
		char line[128];
		size_t n = 0;

		for (const char *c = buf;
		     c < end && *c != '\r' && *c != '\n' && n < sizeof(line) - 1; c++)
			line[n++] = *c >= 0x20 && *c < 0x7f ? *c : '?';
		line[n] = '\0';
		/* tinyproxy answers a wrong password with 401, none with 407 */
		bool auth = status == 407 || status == 401;

		return fed_error_set(err, auth ? FED_EUNAUTHORIZED : FED_EUNAVAILABLE,
		                     "proxy: CONNECT refused: \"%s\"%s", line,
		                     auth ? " (proxy authentication: check user:password in the "
		                            "proxy URL)"
		                          : "");
	}
	*used = (size_t)(end - buf);
	return 1;
}

int fed_proxy_tls_ctx(const char *ca_pem, const char *source, SSL_CTX **out, struct fed_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	BIO *bio = NULL;
	int n = 0, rc = FED_ETLS;

	*out = NULL;
	if (!ctx) {
		fed_error_set(err, FED_ETLS, "proxy TLS: cannot create a context");
		goto out;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	if (ca_pem) {
		X509_STORE *store = SSL_CTX_get_cert_store(ctx);

		bio = BIO_new_mem_buf(ca_pem, -1);
		for (X509 *x; bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)); n++) {
			X509_STORE_add_cert(store, x);
			X509_free(x);
		}
		ERR_clear_error();
		if (n == 0) {
			fed_error_set(err, FED_EINVAL,
			              "%s holds no PEM certificate (it must be the proxy's CA "
			              "bundle in PEM)",
			              source ? source : "the proxy CA");
			goto out;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ERR_clear_error();
		fed_error_set(err, FED_ETLS, "proxy TLS: cannot load the system trust store");
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	*out = ctx;
	ctx = NULL;
	rc = 0;
out:
	BIO_free(bio);
	SSL_CTX_free(ctx);
	return rc;
}
