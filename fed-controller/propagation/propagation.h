/* propagation/: Federated<Kind> objects carried to the members. One
 * struct ftype per enabled FederatedTypeConfig (types.c: the informers
 * and the queue), the sync of one object (propagate.c), the writes to
 * members (propagate_write.c), the object's status (propagate_status.c)
 * and per-namespace Secrets informers (member_secrets.c). It listens to
 * members/ through hooks.h and publishes HOOKS_OBJECT_CHANGED for every
 * federated object it queues. See docs/architecture.md. */
#ifndef FED_CONTROLLER_PROPAGATION_H
#define FED_CONTROLLER_PROPAGATION_H

#include "fed/error.h"

struct controller;

/* Watch FederatedTypeConfigs and subscribe to member changes / stop and
 * free everything (NULL-safe after a failed start). */
int types_start(struct controller *ctl, struct fed_error *err);
void types_stop(struct controller *ctl);

#endif
