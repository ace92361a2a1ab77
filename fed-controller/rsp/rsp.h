/* ReplicaSchedulingPreferences: the controller loop around the planner in
 * fed/rsp.h. An informer on RSPs in the host; each RSP is planned from its
 * target (the Federated<Kind> with the same namespace/name, from the
 * propagation machinery's host informer), the members' readiness and the
 * member objects the propagation informers already watch; the plan goes
 * into the target's spec.placement.clusters and /spec/replicas overrides,
 * which propagation then carries to the members. See docs/architecture.md. */
#ifndef FED_CONTROLLER_RSP_H
#define FED_CONTROLLER_RSP_H

#include "fed/error.h"

struct controller;

/* Start the RSP informer (after types_start) and subscribe to
 * propagation's object changes and members' label changes / free
 * everything. */
int rsp_start(struct controller *ctl, struct fed_error *err);
void rsp_stop(struct controller *ctl);
#endif
