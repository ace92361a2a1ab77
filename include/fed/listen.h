/* A non-blocking TCP listener from a flag's "[IP]:PORT" ("[::1]:443" for
 * IPv6, ":8443" for every IPv4 address; port 0 lets the kernel choose). */
#ifndef FED_LISTEN_H
#define FED_LISTEN_H

#include "fed/error.h"

/* flag names the option in errors ("--connect-address"). *port gets the
 * port bound (may be NULL). */
int fed_listen_tcp(const char *address, const char *flag, int *fd, int *port,
                   struct fed_error *err);

#endif
