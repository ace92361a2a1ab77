/* HTTP(S) CONNECT proxies for fed-agent's outbound connection
 * (HTTPS_PROXY, NO_PROXY). The tunnel's TLS runs through the proxy end to
 * end; with an https:// proxy it runs inside the agent's TLS session to
 * the proxy (TLS in TLS). The parsing is pure (unit-tested in
 * test_tunnel.c and test_proxy_url.c, fuzzed in fuzz_proxy_url and
 * fuzz_tunnel_http). */
#ifndef FED_TUNNEL_PROXY_H
#define FED_TUNNEL_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "fed/buf.h"
#include "fed/error.h"

struct fed_proxy {
	char *host;
	char *port;
	char *user;       /* the decoded user from the URL, or NULL */
	char *basic_auth; /* base64 "user:password" (decoded) from the URL, or NULL (wiped on
	                     release) */
	bool tls;         /* https://: TLS to the proxy itself */
};

/* "http://[user[:password]@]host[:port][/...]" (port 80), "https://..."
 * (port 443), "[v6]:port" or "host:port" (http), read as RFC 3986 and curl
 * do: the userinfo runs to the last '@' before the first '/', '?' or '#';
 * user and password split at the first ':' and are percent-decoded (a
 * malformed escape or a %00 is refused). Other schemes are refused by
 * name; errors name the field at fault and never quote the rest of the
 * URL (it may hold a password). */
int fed_proxy_parse_url(const char *url, struct fed_proxy *out, struct fed_error *err);
void fed_proxy_release(struct fed_proxy *p);
/* Does no_proxy (comma-separated: "*", host names matching the host and
 * its subdomains, with or without a leading dot, IPs, CIDRs) exclude host? */
bool fed_proxy_bypass(const char *no_proxy, const char *host);
/* Append "CONNECT target HTTP/1.1" with Host and Proxy-Authorization. */
int fed_proxy_connect_request(struct fed_buf *out, const char *target, const struct fed_proxy *p);
/* The proxy's answer in buf[0..len): 1 with *used (the head's length) on
 * a 2xx, 0 when the head is not complete, or a negative code with the
 * status line (never the headers) in err. */
int fed_proxy_connect_response(const char *buf, size_t len, size_t *used, struct fed_error *err);
/* A client context for TLS to an https:// proxy: TLS 1.2 or later,
 * verifying the proxy against the PEM bundle ca_pem (from `source`, named
 * in errors), or the system trust store when ca_pem is NULL. */
int fed_proxy_tls_ctx(const char *ca_pem, const char *source, SSL_CTX **out, struct fed_error *err);

#endif
