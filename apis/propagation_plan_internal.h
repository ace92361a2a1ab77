/* What the propagation plan's files share; not part of the public API. */
#ifndef FED_PROPAGATION_PLAN_INTERNAL_H
#define FED_PROPAGATION_PLAN_INTERNAL_H

#include "fed/propagation_plan.h"

/* The plan for a member that is placed, Ready, and whose writes are not
 * held: c->record/action/park/hash/retry_in as propagation_plan.h says. */
void fed_prop_plan_ensure(const struct fed_prop_in *in, const struct fed_prop_member *m,
                          struct fed_prop_cluster *c);

#endif
