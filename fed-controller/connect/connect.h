/* connect/: cluster connect, the aggregated API proxy.fed.kubefed.io that
 * takes kubectl to any member as the caller (docs/cluster-connect.md):
 * connect.c (serving material, the front proxy's CA, the APIService's
 * caBundle, the listener), connect_conn.c (one caller's connection: TLS,
 * the head, the checks, the answer or the member), connect_dial.c (the
 * connection to the member). */
#ifndef FED_CONTROLLER_CONNECT_H
#define FED_CONTROLLER_CONNECT_H

#include "fed/error.h"

struct controller;

/* While acting (leading): serve on --connect-address; no-op when "off". */
int connect_start(struct controller *ctl, struct fed_error *err);
void connect_stop(struct controller *ctl);
#endif
