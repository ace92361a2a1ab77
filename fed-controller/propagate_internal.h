/* What propagate.c (the sync of one federated object: placement and the
 * writes to members) and propagate_status.c (the object's status and our
 * finalizer on the host) share. Not for the rest of fed-controller: that
 * uses propagate.h. */
#ifndef FED_CONTROLLER_PROPAGATE_INTERNAL_H
#define FED_CONTROLLER_PROPAGATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "propagate.h"

/* propagate_status.c */
/* Write o's status (a record per cluster placed or holding our copy, the
 * aggregate, the Propagation condition: reason and message say why it is
 * not propagated, NULL when it is), only when it changed and one write at
 * a time. */
void propagate_write_status(struct fobj *o, const cJSON *fed, const char *const *names, size_t n,
                            const bool *sel, const char *reason, const char *message);
bool propagate_has_finalizer(const cJSON *fed);
/* Add (or remove) our finalizer, guarded by resourceVersion. */
void propagate_set_finalizer(struct fobj *o, const cJSON *fed, bool add);

#endif
