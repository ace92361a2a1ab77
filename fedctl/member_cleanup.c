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

static char *type_path(const struct fed_api_resource *r)
{
	struct fed_buf b = FED_BUF_INIT;

	if (r->group && *r->group)
		fed_buf_printf(&b, "/apis/%s/%s/%s", r->group, r->version, r->plural);
	else
		fed_buf_printf(&b, "/api/%s/%s", r->version, r->plural);
	return fed_buf_detach(&b);
}

static char *object_path(const struct fed_api_resource *r, const cJSON *o)
{
	struct fed_buf b = FED_BUF_INIT;
	const char *ns = fed_obj_namespace(o);

	if (r->group && *r->group)
		fed_buf_printf(&b, "/apis/%s/%s", r->group, r->version);
	else
		fed_buf_printf(&b, "/api/%s", r->version);
	if (ns && r->namespaced)
		fed_buf_printf(&b, "/namespaces/%s", ns);
	fed_buf_printf(&b, "/%s/%s", r->plural, fed_obj_name(o));
	return fed_buf_detach(&b);
}

/* One type: list the managed objects, delete or unlabel each. */
static int clean_type(struct fedctl *ctx, struct fed_kube_client *m,
                      const struct fed_type_config *t, bool orphan, bool dry_run,
                      struct fed_error *err)
{
	char *base = type_path(&t->target), *url = NULL;
	struct fed_buf names = FED_BUF_INIT;
	cJSON *list = NULL, *it;
	int ret, n = 0, gone = 0;

	url = malloc(strlen(base) + 64);
	if (!base || !url) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	sprintf(url, "%s?labelSelector=kubefed.io%%2Fmanaged%%3Dtrue", base);
	ret = fedctl_call(ctx, m, "GET", url, NULL, NULL, 0, &list, err);
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
		char *p;
		if (!name || (!orphan && fed_obj_str(it, "metadata.deletionTimestamp")))
			continue; /* already going */
		n++;
		fed_buf_printf(&names, "%s%s%s%s", n > 1 ? ", " : "",
		               ns && t->target.namespaced ? ns : "",
		               ns && t->target.namespaced ? "/" : "", name);
		if (dry_run)
			continue;
		if (!(p = object_path(&t->target, it))) {
			ret = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
		if (orphan)
			ret = fedctl_call(ctx, m, "PATCH", p,
			                  "{\"metadata\":{\"labels\":{\"" FED_MANAGED_LABEL
			                  "\":null}}}",
			                  "application/merge-patch+json", 0, NULL, err);
		else
			ret = fedctl_call(ctx, m, "DELETE", p, NULL, NULL, 0, NULL, err);
		free(p);
		if (ret == FED_ENOTFOUND) {
			fed_error_clear(err);
			ret = 0;
		}
		if (ret) {
			fed_error_wrap(err, "member: %s %s %s%s%s%s", orphan ? "unlabel" : "delete",
			               t->name, ns ? ns : "", ns ? "/" : "", name,
			               ret == FED_EFORBIDDEN ? (orphan ? " (needs patch on it)"
			                                               : " (needs delete on it)")
			                                     : "");
			goto out;
		}
		gone++;
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
	free(base);
	free(url);
	return ret;
}

int fedctl_member_clean_managed(struct fedctl *ctx, struct fed_kube_client *host,
                                struct fed_kube_client *member, bool self, bool orphan,
                                bool dry_run, struct fed_error *err)
{
	struct fed_type_config *types = NULL;
	cJSON *list = NULL, *it;
	char path[512];
	size_t n = 0, i, ns_type = (size_t)-1;
	int ret;

	snprintf(path, sizeof(path), "/apis/%s/%s/namespaces/%s/%s", FED_CORE_GROUP,
	         FED_FTC_VERSION, ctx->fed_namespace, FED_FTC_PLURAL);
	ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &list, err);
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
