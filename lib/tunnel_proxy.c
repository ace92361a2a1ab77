/* HTTP(S) CONNECT proxies for the agent's outbound connection: the proxy
 * URL, NO_PROXY matching, the CONNECT request and its response (pure),
 * and the TLS context for an https:// proxy. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fed/base64.h"
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

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* The "%XX" escapes of s[0..n) decoded into a new string (*out, for the
 * caller to wipe). field names the part in errors; its value is never
 * quoted (it may be the password). */
static int pct_decode(const char *s, size_t n, const char *field, char **out, struct fed_error *err)
{
	char *d = malloc(n + 1);
	size_t j = 0;

	*out = NULL;
	if (!d)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++, j++) {
		char hex[3] = {0};

		if (s[i] != '%') {
			d[j] = s[i];
			continue;
		}
		if (n - i < 3 || !isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2])) {
			OPENSSL_cleanse(d, n + 1);
			free(d);
			return fed_error_set(err, FED_EINVAL,
			                     "proxy: the %s in the URL has a malformed %%-escape "
			                     "(write each escape as %%XX, a literal '%%' as %%25)",
			                     field);
		}
		hex[0] = s[i + 1];
		hex[1] = s[i + 2];
		d[j] = (char)strtol(hex, NULL, 16);
		OPENSSL_cleanse(hex, sizeof(hex));
		i += 2;
		if (!d[j]) {
			OPENSSL_cleanse(d, n + 1);
			free(d);
			return fed_error_set(err, FED_EINVAL,
			                     "proxy: the %s in the URL decodes to a NUL byte (%%00 "
			                     "cannot be sent)",
			                     field);
		}
	}
	d[j] = '\0';
	*out = d;
	return 0;
}

/* userinfo u[0..n) ("user[:password]", percent-encoded) as the base64
 * "user:password" of a Basic Proxy-Authorization, and the decoded user.
 * A ':' inside the user cannot be carried by Basic (RFC 7617). */
static int parse_userinfo(const char *u, size_t n, struct fed_proxy *out, struct fed_error *err)
{
	const char *colon = memchr(u, ':', n);
	size_t ul = colon ? (size_t)(colon - u) : n;
	char *user = NULL, *pass = NULL, *plain = NULL;
	size_t pl;
	int rc;

	if ((rc = pct_decode(u, ul, "user", &user, err)) < 0 ||
	    (rc = pct_decode(colon ? colon + 1 : "", colon ? n - ul - 1 : 0, "password", &pass,
	                     err)) < 0)
		goto out;
	if (!*user || strchr(user, ':')) {
		rc = fed_error_set(err, FED_EINVAL,
		                   !*user ? "proxy: the URL has a password but no user (use "
		                            "http://USER:PASSWORD@HOST:PORT)"
		                          : "proxy: the user in the URL decodes to a ':' (Basic "
		                            "proxy authentication cannot carry it)");
		goto out;
	}
	pl = strlen(user) + 1 + strlen(pass);
	plain = malloc(pl + 1);
	if (plain)
		snprintf(plain, pl + 1, "%s:%s", user, pass);
	if (!plain || !(out->basic_auth = fed_base64_encode_str(plain, pl))) {
		rc = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	out->user = user;
	user = NULL;
	rc = 0;
out:
	wipe_free(user);
	wipe_free(pass);
	wipe_free(plain);
	return rc;
}

/* host[:port] or [v6]:port in h[0..n), the port defaulting to defport. */
static int parse_hostport(const char *h, size_t n, const char *defport, struct fed_proxy *out)
{
	const char *hend, *port = NULL;
	unsigned char a6[16];
	size_t pn = 0;
	long v;

	if (n && h[0] == '[') {
		const char *rb = memchr(h, ']', n);

		if (!rb)
			return FED_EINVAL;
		out->host = strndup(h + 1, (size_t)(rb - h - 1));
		if (!out->host || inet_pton(AF_INET6, out->host, a6) != 1)
			return FED_EINVAL;
		hend = rb + 1;
		if (hend < h + n && *hend != ':')
			return FED_EINVAL;
	} else {
		hend = memchr(h, ':', n);
		if (!hend)
			hend = h + n;
		out->host = strndup(h, (size_t)(hend - h));
		if (!out->host || !*out->host || strpbrk(out->host, "[]"))
			return FED_EINVAL;
	}
	if (hend < h + n) {
		port = hend + 1;
		pn = (size_t)(h + n - port);
		if (!pn || pn > 5)
			return FED_EINVAL;
		for (size_t i = 0; i < pn; i++)
			if (!isdigit((unsigned char)port[i]))
				return FED_EINVAL;
	}
	out->port = port ? strndup(port, pn) : strdup(defport);
	if (!out->port)
		return FED_ENOMEM;
	v = strtol(out->port, NULL, 10);
	return v >= 1 && v <= 65535 ? 0 : FED_EINVAL;
}

/* As RFC 3986 and curl read it: the authority runs from after "//" to the
 * first '/', '?' or '#'; the userinfo runs to its LAST '@' (a password may
 * hold a raw '@'); user and password split at the first ':' and are
 * percent-decoded. */
int fed_proxy_parse_url(const char *url, struct fed_proxy *out, struct fed_error *err)
{
	const char *p, *at = NULL, *hs, *end;
	size_t sl;
	int rc;

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
	end = p + strcspn(p, "/?#");
	for (const char *c = p; c < end; c++) {
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return fed_error_set(err, FED_EINVAL,
			                     "proxy: the URL holds a space or a control character "
			                     "(percent-encode it in the user or password)");
		if (*c == '@')
			at = c;
	}
	hs = at ? at + 1 : p;
	if (at && (rc = parse_userinfo(p, (size_t)(at - p), out, err)) < 0)
		goto fail;
	if ((rc = parse_hostport(hs, (size_t)(end - hs), out->tls ? "443" : "80", out)) < 0) {
		/* the URL may hold a password: never quote it */
		fed_error_set(err, rc,
		              rc == FED_ENOMEM ? "out of memory"
		                               : "proxy: malformed host or port in the URL (use "
		                                 "http://HOST:PORT, https://HOST:PORT or "
		                                 "http://[IPv6]:PORT, port 1-65535)");
		goto fail;
	}
	return 0;
fail:
	fed_proxy_release(out);
	return rc;
}

void fed_proxy_release(struct fed_proxy *p)
{
	free(p->host);
	free(p->port);
	free(p->user);
	wipe_free(p->basic_auth);
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
