/* delete: the propagated copies in a leaving member. Every object labelled
 * kubefed.io/managed=true of every type a FederatedTypeConfig on the host
 * enables is deleted, or with --orphan only loses the label (kubefed's
 * orphaning: fed stops managing it, it keeps running). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federated_type.h"
#include "fed/propagation.h"
#include "fedctl.h"

/* One type: list the managed objects, delete or unlabel each. */
/* Delete (or with orphan unlabel) one managed object of t. */
static int clean_one(struct fedctl *ctx, struct fed_kube_client *m, const struct fed_type_config *t,
                     const cJSON *o, bool orphan, struct fed_error *err)
{
	const struct fed_kube_resource r = fedctl_resource(t->target.group, t->target.version,
	                                                   t->target.plural, t->target.namespaced);
	const char *ns = fed_obj_namespace(o), *name = fed_obj_name(o);
	const struct fed_kube_ref ref = {&r, ns, name, NULL};
	int ret;

	if (orphan)
		ret =
		    fedctl_call_ref(ctx, m, "PATCH", &ref,
		                    "{\"metadata\":{\"labels\":{\"" FED_MANAGED_LABEL "\":null}}}",
		                    "application/merge-patch+json", 0, NULL, err);
	else
		ret = fedctl_call_ref(ctx, m, "DELETE", &ref, NULL, NULL, 0, NULL, err);
	if (ret == FED_ENOTFOUND) {
		fed_error_clear(err);
		ret = 0;
	}
	if (ret)
		fed_error_wrap(err, "member: %s %s %s%s%s%s", orphan ? "unlabel" : "delete",
		               t->name, ns ? ns : "", ns ? "/" : "", name,
		               ret == FED_EFORBIDDEN
		                   ? (orphan ? " (needs patch on it)" : " (needs delete on it)")
		                   : "");
	return ret;
}

/* One type: list the managed objects, delete or unlabel each. */
static int clean_type(struct fedctl *ctx, struct fed_kube_client *m,
                      const struct fed_type_config *t, bool orphan, bool dry_run,
                      struct fed_error *err)
{
	const struct fed_kube_resource r = fedctl_resource(t->target.group, t->target.version,
	                                                   t->target.plural, t->target.namespaced);
	const struct fed_kube_ref all = {&r, NULL, NULL, NULL};
	const struct fed_kube_list_opts managed = {.label_selector = FED_MANAGED_LABEL "=true"};
	struct fed_buf names = FED_BUF_INIT;
	cJSON *list = NULL, *it;
	int ret, n = 0;

	ret = fedctl_list_ref(ctx, m, &all, &managed, &list, err);
	if (ret == FED_ENOTFOUND) { /* the type is not served there */
		fed_error_clear(err);
		ret = 0;
		goto out;
	}
	if (ret) {
		if (ret == FED_EFORBIDDEN)
			fed_error_wrap(err, "member: list %s (the credentials need list on %s)",
			               t->name, t->name);
		else
			fed_error_wrap(err, "member: list %s", t->name);
		goto out;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items")) {
		const char *ns = fed_obj_namespace(it), *name = fed_obj_name(it);
		if (!name || (!orphan && fed_obj_str(it, "metadata.deletionTimestamp")))
			continue; /* already going */
		n++;
		fed_buf_printf(&names, "%s%s%s%s", n > 1 ? ", " : "",
		               ns && t->target.namespaced ? ns : "",
		               ns && t->target.namespaced ? "/" : "", name);
		if (!dry_run && (ret = clean_one(ctx, m, t, it, orphan, err)))
			goto out;
	}
	if (n)
		printf("member: %s: %d %s%s (%s)\n", t->name, n,
		       dry_run
		           ? (orphan ? "would lose label " FED_MANAGED_LABEL : "would be deleted")
		       : orphan ? "left in place without label " FED_MANAGED_LABEL
		                : "deleted",
		       dry_run ? " (dry run)" : "", fed_buf_str(&names));
out:
	fed_buf_release(&names);
	cJSON_Delete(list);
	return ret;
}

int fedctl_member_clean_managed(struct fedctl *ctx, struct fed_kube_client *host,
                                struct fed_kube_client *member, bool self, bool orphan,
                                bool dry_run, struct fed_error *err)
{
	struct fed_type_config *types = NULL;
	const struct fed_kube_ref ftcs = {&fed_r_federatedtypeconfigs, ctx->fed_namespace, NULL,
	                                  NULL};
	cJSON *list = NULL, *it;
	size_t n = 0, i, ns_type = (size_t)-1;
	int ret;

	ret = fedctl_call_ref(ctx, host, "GET", &ftcs, NULL, NULL, 0, &list, err);
	if (ret == FED_ENOTFOUND) {
		fed_error_clear(err);
		printf("member: no federated types on the host (no FederatedTypeConfig CRD): "
		       "nothing propagated\n");
		return 0;
	}
	if (ret)
		return fed_error_wrap(err, "host: list federatedtypeconfigs in %s",
		                      ctx->fed_namespace);
	types = calloc((size_t)cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")) + 1,
	               sizeof(*types));
	if (!types) {
		cJSON_Delete(list);
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items")) {
		struct fed_error e = FED_ERROR_INIT;
		if (fed_type_config_parse(it, &types[n], &e)) {
			fprintf(stderr, "warning: skipping federatedtypeconfig %s: %s\n",
			        fed_obj_name(it) ? fed_obj_name(it) : "?", e.msg);
			continue;
		}
		if (!strcmp(types[n].target.kind, "Namespace") &&
		    (!types[n].target.group || !*types[n].target.group))
			ns_type = n;
		n++;
	}
	/* every type a FederatedTypeConfig names, enabled or not: a type
	 * disabled since still has its copies there */
	for (i = 0; i < n && !ret; i++)
		if (i != ns_type)
			ret = clean_type(ctx, member, &types[i], orphan, dry_run, err);
	/* namespaces last: deleting one takes what is inside with it. Never
	 * in the host itself, where the federated objects live in them. */
	if (!ret && ns_type != (size_t)-1) {
		if (self)
			printf("member: cluster is the host itself: its namespaces stay\n");
		else
			ret = clean_type(ctx, member, &types[ns_type], orphan, dry_run, err);
	}
	for (i = 0; i < n; i++)
		fed_type_config_release(&types[i]);
	free(types);
	cJSON_Delete(list);
	return ret;
}
