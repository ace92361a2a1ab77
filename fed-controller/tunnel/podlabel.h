/* fed-controller: the fed.kubefed.io/tunnel label on its own Pod
 * (podlabel.c), which the fed-tunnel Service selects on. */
#ifndef FED_CONTROLLER_PODLABEL_H
#define FED_CONTROLLER_PODLABEL_H

#include "fed/kube.h"

#define FED_TUNNEL_LABEL   "fed.kubefed.io/tunnel"
#define FED_TUNNEL_LEADER  "leader"
#define FED_TUNNEL_STANDBY "standby"

struct controller;
struct podlabel;
typedef void (*podlabel_done_fn)(void *ud);

/* *out NULL (and 0 returned) when there is nothing to label: the tunnel is
 * off, --tunnel-label-pod=false, or POD_NAME/POD_NAMESPACE are unset (warned). */
int podlabel_new(struct podlabel **out, struct controller *ctl, struct fed_kube_client *client);
/* Write value unless it is there already. done(ud) runs exactly once: after
 * the first attempt (whatever its result), when a later call supersedes it,
 * or at once when value was written already or pl is NULL. Transient
 * failures are retried every 2 s. */
void podlabel_set(struct podlabel *pl, const char *value, podlabel_done_fn done, void *ud);
/* The value last asked for, NULL if none or pl NULL. */
const char *podlabel_wanted(const struct podlabel *pl);
void podlabel_free(struct podlabel *pl);

#endif
