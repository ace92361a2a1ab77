/* What propagate.c (the sync of one federated object, placement, the
 * per-cluster records), propagate_write.c (the writes to members) and
 * propagate_status.c (the object's status and our finalizer on the host)
 * share. Not for the rest of fed-controller: that uses propagate.h. */
#ifndef FED_CONTROLLER_PROPAGATE_INTERNAL_H
#define FED_CONTROLLER_PROPAGATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "fed/propagation_plan.h"
#include "propagate.h"

/* propagate.c */
/* The federated object from the host informer's store (keyed like our
 * queue: "ns/name" or "name"), or NULL. */
const cJSON *propagate_fed_get(struct ftype *t, const char *key);
/* o's record for cluster, created empty when missing. */
struct crec *propagate_crec_get(struct fobj *o, const char *cluster);
void propagate_crec_set(struct crec *r, const char *status, const char *message);
/* The plan's view of t. */
void propagate_plan_type(const struct ftype *t, struct fed_prop_type *out);
/* An annotation's value, or NULL. */
const char *propagate_annotation(const cJSON *obj, const char *key);

/* propagate_write.c */
/* Carry out pc's CREATE, UPDATE, ADOPT or GET (existing: the member's
 * managed copy, or NULL), or its park. */
void propagate_write(struct fobj *o, const cJSON *fed, const struct fed_prop_cluster *pc,
                     struct fed_kube_client *c, const cJSON *existing);
/* Take our copy out of a cluster: delete it, or with orphan only drop the
 * managed label. */
void propagate_write_off(struct fobj *o, const cJSON *fed, const char *cluster,
                         struct fed_kube_client *c, const cJSON *existing, bool orphan);
/* Cancel o's writes in flight and free them (o is being freed). */
void propagate_writes_cancel(struct fobj *o);

/* propagate_status.c */
/* Write o's status (a record per cluster of p->clusters[0..n) placed or
 * holding our copy, the aggregate, the Propagation condition from p->cond
 * and p->message), only when it changed and one write at a time. */
void propagate_write_status(struct fobj *o, const cJSON *fed, const struct fed_prop_plan *p,
                            size_t n);
/* o's fed_status_writer write function: PATCH of the status subresource. */
int propagate_status_write(void *ud, const char *body, struct fed_error *err);
bool propagate_has_finalizer(const cJSON *fed);
/* Add (or remove) our finalizer, guarded by resourceVersion. */
void propagate_set_finalizer(struct fobj *o, const cJSON *fed, bool add);

#endif
