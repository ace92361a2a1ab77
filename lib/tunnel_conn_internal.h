/* Seams of lib/tunnel_conn.c for tests and fuzzing, not for the binaries. */
#ifndef FED_TUNNEL_CONN_INTERNAL_H
#define FED_TUNNEL_CONN_INTERNAL_H

#include "fed/tunnel_conn.h"

/* A connection on a plain socket, without TLS: it starts at HELLO (the
 * agent side then sends AUTH). Everything after the TLS layer is the same
 * code as fed_tunnel_conn_accept/_connect. */
int fed_tunnel_conn_plain(struct ev_loop *loop, int fd, bool is_host, int auth_kind,
                          const char *secret, const struct fed_tunnel_conn_opts *opts,
                          const struct fed_tunnel_conn_cb *cb, void *ud,
                          struct fed_tunnel_conn **out, struct fed_error *err);
/* The connection's flow control and stream table (tests move next_id). */
struct fed_tunnel_proto *fed_tunnel_conn_proto(struct fed_tunnel_conn *c);

#endif
