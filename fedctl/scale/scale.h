/* scale, split: cmd_scale.c (options, the per-cluster form),
 * scale_total.c (the KIND/NAME form), scale_common.c (what both use: the
 * members, placement, the guarded update); scale_plan.c is the pure part. */
#ifndef FEDCTL_SCALE_H
#define FEDCTL_SCALE_H

#include "fed/propagation.h"
#include "fedctl.h"

struct fedctl_scale_rowbuf {
	char ns[254], kind[32], name[254], cluster[64], via[40];
	long long before, after;
};

struct fedctl_scale {
	struct fedctl *ctx;
	struct fed_kube_client *host;
	bool dry_run;
	long long replicas;
	struct fed_member_info *members; /* KubeFedClusters, by name */
	size_t n_members;
	cJSON *kfcs;  /* their list (owns the names and labels) */
	cJSON *fns;   /* FederatedNamespaces (all namespaces); NULL: none */
	cJSON *rsps;  /* ReplicaSchedulingPreferences; NULL: none */
	cJSON *items; /* the objects written (or that would be) */
	struct fedctl_scale_rowbuf *rows;
	size_t n_rows, cap_rows;
};

int fedctl_scale_add_row(struct fedctl_scale *s, const cJSON *obj, const char *kind,
                         const char *cluster, const char *via, long long before, long long after);
/* GET a list on the host (o may be NULL); *out NULL (and 0) when the type
 * is not served. */
int fedctl_scale_list(struct fedctl_scale *s, const struct fed_kube_ref *ref,
                      const struct fed_kube_list_opts *o, cJSON **out, struct fed_error *err);
/* What a change does to one object: computes the new object from the
 * current one and appends its rows; *changed false when nothing would. */
typedef int (*fedctl_scale_mutate_fn)(struct fedctl_scale *s, cJSON *obj, void *arg, bool *changed,
                                      struct fed_error *err);
/* The KubeFedClusters, FederatedNamespaces and RSPs of the host. */
int fedctl_scale_load(struct fedctl_scale *s, struct fed_error *err);
const cJSON *fedctl_scale_find(const cJSON *list, const char *ns, const char *name);
/* Where fed-controller puts obj: sel[] has n_members entries. */
int fedctl_scale_placed(struct fedctl_scale *s, const cJSON *obj, bool *sel, struct fed_error *err);
size_t fedctl_scale_member(const struct fedctl_scale *s, const char *name);
/* mutate the object ref names and PUT it with its resourceVersion; on a
 * conflict read it again and redo (rows of the last attempt stay). */
int fedctl_scale_update(struct fedctl_scale *s, const struct fed_kube_ref *ref, cJSON *obj,
                        fedctl_scale_mutate_fn mutate, void *arg, struct fed_error *err);
/* The federated workload kind k (*r: its resource, which ref points to);
 * name NULL for the collection, ns NULL for all namespaces. */
void fedctl_scale_ref(struct fed_kube_resource *r, struct fed_kube_ref *ref,
                      const struct fedctl_workload_kind *k, const char *ns, const char *name);
/* scale KIND/NAME --replicas: the RSP's total, else an even spread. */
int fedctl_scale_total(struct fedctl_scale *s, const char *kind_name, const char *ns,
                       struct fed_error *err);

#endif
