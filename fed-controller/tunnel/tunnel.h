/* tunnel/: fed-controller's side of the agent tunnel (tunnel.c: agent
 * connections, rotation, status; tunnel_listen.c: the listener and the
 * per-cluster Unix sockets; tunnel_auth.c: the tunnel Secret, tokens and
 * credentials; podlabel.c: the label on our Pod the Service selects). */
#ifndef FED_CONTROLLER_TUNNEL_H
#define FED_CONTROLLER_TUNNEL_H

#include "fed/error.h"

struct controller;

/* Start when acting (leading): watch the tunnel Secret, then listen on
 * --tunnel-address. No-op when the address is "off". */
int tunnel_start(struct controller *ctl, struct fed_error *err);
void tunnel_stop(struct controller *ctl);
/* Open (or make) the directory of the agents' Unix sockets
 * (tunnel_listen.c): mode 0700, ours, no symlink; stale sockets in it are
 * removed. Refused with a message naming --tunnel-socket-dir otherwise. */
int tunnel_socket_dir_open(struct controller *ctl, struct fed_error *err);
/* At exit, after tunnel_stop: close it, and remove it if we made it. */
void tunnel_socket_dir_close(struct controller *ctl);

#endif
