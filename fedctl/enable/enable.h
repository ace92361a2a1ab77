/* fedctl enable / disable: parse and orchestrate (cmd_enable.c,
 * cmd_disable.c), plan (enable_plan.c: the objects and names, no I/O),
 * apply (enable_apply.c: server-side apply, the wait for the CRD). */
#ifndef FEDCTL_ENABLE_H
#define FEDCTL_ENABLE_H

#include <stdbool.h>

#include "fed/federated_type.h"
#include "fedctl.h"

#define FEDCTL_ROLE_DIR_HELP                                                                       \
	"where the updated role of a member whose context (named like the cluster) does not "      \
	"answer from here is written, to apply there"

/* enable_plan.c */
/* The Federated<Kind> CRD and the FederatedTypeConfig (in namespace ns)
 * of the type d, as kubefedctl enable writes them; fed's own types are
 * refused. t gets the type's config. */
int fedctl_enable_render(const struct fedctl_type *d, const char *ns, struct fed_type_config *t,
                         cJSON **crd, cJSON **ftc, struct fed_error *err);

/* What disable removes, by name. */
struct fedctl_disable_plan {
	char name[600];     /* the FederatedTypeConfig: plural[.group] */
	char group[300];    /* the type's rule in the members' roles */
	char plural[300];   /* "" for core */
	char crd_name[600]; /* the Federated<Kind> CRD: fedplural.fedgroup */
	char fed_group[300], fed_plural[300];
	const char *fed_version;
};
/* The FTC's name: from discovery (d) when the type is still served, else
 * arg as written (the target's CRD may be gone already). */
void fedctl_disable_name(const struct fedctl_type *d, const char *arg,
                         struct fedctl_disable_plan *p);
/* The rest from the FTC when there is one (t), else kubefed's default
 * naming. */
void fedctl_disable_plan(const struct fed_type_config *t, struct fedctl_disable_plan *p);

/* enable_apply.c */
/* Server-side apply of obj at ref (field manager fedctl); one line. */
int fedctl_apply(struct fedctl *ctx, struct fed_kube_client *host, const char *what,
                 const struct fed_kube_ref *ref, const cJSON *obj, bool dry_run,
                 struct fed_error *err);
/* Wait (30 s) until the CRD name is Established. */
int fedctl_wait_established(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                            struct fed_error *err);

#endif
