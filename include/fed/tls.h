/* TLS client material from PEM in memory: a context that verifies a
 * server against a CA (or the system's trust store) and presents a client
 * certificate when given one, and a session on a socket that checks the
 * server's name or IP address. Used where fed opens a connection of its
 * own to a member's apiserver (cluster connect). */
#ifndef FED_TLS_H
#define FED_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "fed/error.h"

/* A TLS 1.2+ client context with ALPN http/1.1. ca NULL: the system's
 * trust store. cert and key both or neither. what names the server in
 * errors ("member edge-1"). */
int fed_tls_client_ctx(const char *ca, size_t ca_len, const char *cert, size_t cert_len,
                       const char *key, size_t key_len, const char *what, SSL_CTX **out,
                       struct fed_error *err);
/* A client session on fd (connected or connecting) for the server name or
 * IP address name: SNI for a name, and the certificate must match it. */
int fed_tls_client_ssl(SSL_CTX *ctx, int fd, const char *name, SSL **out, struct fed_error *err);

#endif
