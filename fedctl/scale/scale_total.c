/* scale KIND/NAME --replicas=N: the total, through the
 * ReplicaSchedulingPreference of the same name when there is one (the
 * rows show the plan the controller's planner makes of it), else spread
 * evenly over the clusters the workload is placed on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/rsp.h"
#include "scale.h"

/* ---- total ------------------------------------------------------------- */

struct total {
	const struct fedctl_workload_kind *k;
};

/* Spread the total evenly over the clusters the object is placed on. */
static int set_total(struct fedctl_scale *s, cJSON *obj, void *arg, bool *changed,
                     struct fed_error *err)
{
	struct total *a = arg;
	cJSON *old = cJSON_Duplicate(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "overrides"), true);
	bool *sel = calloc(s->n_members + 1, sizeof(*sel));
	long long *share = calloc(s->n_members + 1, sizeof(*share));
	size_t i, n = 0, j = 0;
	int ret;

	if (!sel || !share) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = fedctl_scale_placed(s, obj, sel, err)))
		goto out;
	for (i = 0; i < s->n_members; i++)
		n += sel[i];
	if (!n) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s %s/%s is placed on no cluster: set its spec.placement (and "
		                    "that of FederatedNamespace %s) first",
		                    a->k->kind, fed_obj_namespace(obj), fed_obj_name(obj),
		                    fed_obj_namespace(obj));
		goto out;
	}
	fedctl_spread(s->replicas, n, share);
	for (i = 0; i < s->n_members && !ret; i++) {
		long long before;
		if (!sel[i])
			continue;
		before = fedctl_replicas_for(obj, s->members[i].name);
		if (!(ret = fedctl_replicas_set(obj, s->members[i].name, share[j], err)))
			ret = fedctl_scale_add_row(s, obj, a->k->kind, s->members[i].name,
			                           "override", before, share[j]);
		j++;
	}
	*changed = !cJSON_Compare(
	    old, cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "overrides"), true);
out:
	cJSON_Delete(old);
	free(sel);
	free(share);
	return ret;
}

/* Set the RSP's totalReplicas; the rows show the plan fed-controller is
 * expected to make of it (the same planner). */
struct rsp_arg {
	const struct fedctl_workload_kind *k;
	const cJSON *target;
};

static int set_rsp(struct fedctl_scale *s, cJSON *rsp, void *arg, bool *changed,
                   struct fed_error *err)
{
	struct rsp_arg *a = arg;
	cJSON *spec = cJSON_GetObjectItem(rsp, "spec"), *tr;
	struct fed_rsp_spec plan_spec;
	struct fed_rsp_cluster_in *in = NULL;
	struct fed_rsp_cluster_out *out = NULL;
	bool *sel = NULL;
	size_t i;
	int ret;

	memset(&plan_spec, 0, sizeof(plan_spec));
	if (!cJSON_IsObject(spec))
		return fed_error_set(err, FED_EINVAL,
		                     "replicaschedulingpreference %s/%s has no spec",
		                     fed_obj_namespace(rsp), fed_obj_name(rsp));
	tr = cJSON_GetObjectItem(spec, "totalReplicas");
	*changed = !cJSON_IsNumber(tr) || tr->valuedouble != (double)s->replicas;
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "totalReplicas");
	cJSON_AddNumberToObject(spec, "totalReplicas", (double)s->replicas);
	if ((ret = fed_rsp_parse(rsp, &plan_spec, err))) {
		fed_error_wrap(err, "replicaschedulingpreference %s/%s", fed_obj_namespace(rsp),
		               fed_obj_name(rsp));
		goto out;
	}
	in = calloc(s->n_members + 1, sizeof(*in));
	out = calloc(s->n_members + 1, sizeof(*out));
	sel = calloc(s->n_members + 1, sizeof(*sel));
	if (!in || !out || !sel) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = fedctl_scale_placed(s, a->target, sel, err)))
		goto out;
	for (i = 0; i < s->n_members; i++) {
		in[i].name = s->members[i].name;
		in[i].selected = sel[i];
		in[i].current = sel[i] ? fedctl_replicas_for(a->target, in[i].name) : 0;
		in[i].capacity = -1;
	}
	if ((ret = fed_rsp_plan(&plan_spec, in, s->n_members, out, NULL, err)))
		goto out;
	for (i = 0; i < s->n_members && !ret; i++)
		if (in[i].current || out[i].replicas)
			ret = fedctl_scale_add_row(s, a->target, a->k->kind, in[i].name,
			                           "rsp (planned)", in[i].current, out[i].replicas);
out:
	fed_rsp_spec_release(&plan_spec);
	free(in);
	free(out);
	free(sel);
	return ret;
}

int fedctl_scale_total(struct fedctl_scale *s, const char *kind_name, const char *ns,
                       struct fed_error *err)
{
	const struct fedctl_workload_kind *k;
	const char *slash = strchr(kind_name, '/'), *name = slash + 1;
	const struct fed_kube_ref rsp_ref = {&fed_r_replicaschedulingpreferences, ns, name, NULL};
	struct fed_kube_resource r;
	struct fed_kube_ref ref;
	cJSON *obj = NULL, *rsp = NULL;
	char kind[128];
	int ret;

	snprintf(kind, sizeof(kind), "%.*s", (int)(slash - kind_name), kind_name);
	k = fedctl_workload_kind(kind);
	fedctl_scale_ref(&r, &ref, k, ns, name);
	ret = fedctl_call_ref(s->ctx, s->host, "GET", &ref, NULL, NULL, 0, &obj, err);
	if (ret == FED_ENOTFOUND)
		return fed_error_set(err, FED_ENOTFOUND,
		                     "%s %s/%s not found (kubectl -n %s get %s; fedctl federate "
		                     "creates one from a %s)",
		                     k->kind, ns, name, ns, k->plural, k->target);
	if (ret)
		return fed_error_wrap(err, "host: get %s %s/%s", k->plural, ns, name);
	ret = fedctl_call_ref(s->ctx, s->host, "GET", &rsp_ref, NULL, NULL, 0, &rsp, err);
	if (ret == FED_ENOTFOUND) {
		struct total a = {k};
		fed_error_clear(err);
		ret = fedctl_scale_update(s, &ref, obj, set_total, &a, err);
	} else if (!ret) {
		struct rsp_arg a = {k, obj};
		ret = fedctl_scale_update(s, &rsp_ref, rsp, set_rsp, &a, err);
	} else {
		fed_error_wrap(err, "host: get replicaschedulingpreference %s/%s", ns, name);
	}
	cJSON_Delete(obj);
	cJSON_Delete(rsp);
	return ret;
}
