/* scale: what both forms use: the members and their placement, the
 * resourceVersion-guarded update. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federated_type.h"
#include "scale.h"

#define MAX_TRIES 5

int fedctl_scale_add_row(struct fedctl_scale *s, const cJSON *obj, const char *kind,
                         const char *cluster, const char *via, long long before, long long after)
{
	struct fedctl_scale_rowbuf *r;

	if (s->n_rows == s->cap_rows) {
		size_t cap = s->cap_rows ? s->cap_rows * 2 : 16;
		struct fedctl_scale_rowbuf *n = realloc(s->rows, cap * sizeof(*n));
		if (!n)
			return FED_ENOMEM;
		s->rows = n;
		s->cap_rows = cap;
	}
	r = &s->rows[s->n_rows++];
	snprintf(r->ns, sizeof(r->ns), "%s", fed_obj_namespace(obj) ? fed_obj_namespace(obj) : "");
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	snprintf(r->name, sizeof(r->name), "%s", fed_obj_name(obj) ? fed_obj_name(obj) : "");
	snprintf(r->cluster, sizeof(r->cluster), "%s", cluster);
	snprintf(r->via, sizeof(r->via), "%s", via);
	r->before = before;
	r->after = after;
	return 0;
}

static int cmp_member(const void *a, const void *b)
{
	return strcmp(((const struct fed_member_info *)a)->name,
	              ((const struct fed_member_info *)b)->name);
}

/* A list on the host; *out NULL (and 0) when the type is not served. */
int fedctl_scale_list(struct fedctl_scale *s, const struct fed_kube_ref *ref,
                      const struct fed_kube_list_opts *o, cJSON **out, struct fed_error *err)
{
	const struct fed_kube_list_opts none = {0};
	int ret = fedctl_list_ref(s->ctx, s->host, ref, o ? o : &none, out, err);

	if (ret == FED_ENOTFOUND) {
		fed_error_clear(err);
		*out = NULL;
		return 0;
	}
	return ret;
}

int fedctl_scale_load(struct fedctl_scale *s, struct fed_error *err)
{
	const struct fed_kube_ref kfcs = {&fed_r_kubefedclusters, s->ctx->fed_namespace, NULL,
	                                  NULL};
	const struct fed_kube_ref fns = {&fed_r_federatednamespaces, NULL, NULL, NULL};
	const struct fed_kube_ref rsps = {&fed_r_replicaschedulingpreferences, NULL, NULL, NULL};
	const cJSON *it;
	size_t n = 0;
	int ret;

	if ((ret = fedctl_scale_list(s, &kfcs, NULL, &s->kfcs, err)))
		return fed_error_wrap(err, "host: list kubefedclusters in %s",
		                      s->ctx->fed_namespace);
	s->members = calloc((size_t)cJSON_GetArraySize(cJSON_GetObjectItem(s->kfcs, "items")) + 1,
	                    sizeof(*s->members));
	if (!s->members)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(s->kfcs, "items")) {
		if (!fed_obj_name(it))
			continue;
		s->members[n].name = fed_obj_name(it);
		s->members[n].labels =
		    cJSON_GetObjectItem(cJSON_GetObjectItem(it, "metadata"), "labels");
		n++;
	}
	s->n_members = n;
	qsort(s->members, n, sizeof(*s->members), cmp_member);
	if ((ret = fedctl_scale_list(s, &fns, NULL, &s->fns, err)))
		return fed_error_wrap(err, "host: list federatednamespaces");
	if ((ret = fedctl_scale_list(s, &rsps, NULL, &s->rsps, err)))
		return fed_error_wrap(err, "host: list replicaschedulingpreferences");
	return 0;
}

const cJSON *fedctl_scale_find(const cJSON *list, const char *ns, const char *name)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items")) {
		const char *n = fed_obj_name(it), *s = fed_obj_namespace(it);
		if (n && s && !strcmp(n, name) && !strcmp(s, ns))
			return it;
	}
	return NULL;
}

/* Where fed-controller puts obj: its placement, within that of the
 * FederatedNamespace of its namespace (kubefed's gating). sel[] has
 * n_members entries. */
int fedctl_scale_placed(struct fedctl_scale *s, const cJSON *obj, bool *sel, struct fed_error *err)
{
	const char *ns = fed_obj_namespace(obj);
	const cJSON *fns = ns ? fedctl_scale_find(s->fns, ns, ns) : NULL;
	bool *nsel;
	size_t i;
	int ret;

	ret =
	    fed_placement_select(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "placement"),
	                         s->members, s->n_members, sel, err);
	if (ret)
		return fed_error_wrap(err, "%s/%s", ns ? ns : "", fed_obj_name(obj));
	if (!fns) {
		memset(sel, 0, s->n_members * sizeof(*sel));
		return 0;
	}
	if (!(nsel = calloc(s->n_members + 1, sizeof(*nsel))))
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	if (fed_placement_select(cJSON_GetObjectItem(cJSON_GetObjectItem(fns, "spec"), "placement"),
	                         s->members, s->n_members, nsel, err)) {
		fed_error_clear(err);
		memset(nsel, 0, s->n_members * sizeof(*nsel));
	}
	for (i = 0; i < s->n_members; i++)
		sel[i] = sel[i] && nsel[i];
	free(nsel);
	return 0;
}

size_t fedctl_scale_member(const struct fedctl_scale *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n_members; i++)
		if (!strcmp(s->members[i].name, name))
			return i;
	return (size_t)-1;
}

/* One attempt: mutate cur, PUT it. 0 when done (the object written, or
 * what would be, is in s->items), FED_ECONFLICT to try again. */
static int attempt(struct fedctl_scale *s, const struct fed_kube_ref *ref, cJSON **cur,
                   fedctl_scale_mutate_fn mutate, void *arg, struct fed_error *err)
{
	cJSON *fresh = NULL;
	bool changed = false;
	char *body;
	int ret;

	if ((ret = mutate(s, *cur, arg, &changed, err)))
		return ret;
	if (!changed || s->dry_run) {
		cJSON_AddItemToArray(s->items, *cur);
		*cur = NULL;
		return 0;
	}
	body = cJSON_PrintUnformatted(*cur);
	ret = fedctl_call_ref(s->ctx, s->host, "PUT", ref, body, NULL, 0, &fresh, err);
	free(body);
	if (!ret) {
		cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItem(fresh, "metadata"),
		                                        "managedFields");
		cJSON_AddItemToArray(s->items, fresh);
	}
	return ret;
}

/* Apply mutate to the object ref names, PUT with its resourceVersion, and
 * on a conflict read it again and redo. The rows of the last attempt stay. */
int fedctl_scale_update(struct fedctl_scale *s, const struct fed_kube_ref *ref, cJSON *obj,
                        fedctl_scale_mutate_fn mutate, void *arg, struct fed_error *err)
{
	cJSON *cur = cJSON_Duplicate(obj, true);
	struct fed_buf p = FED_BUF_INIT;
	const char *path = fed_kube_path(&p, ref) ? "?" : p.data; /* for the messages */
	size_t rows0 = s->n_rows;
	int tries, ret = 0;

	for (tries = 0; tries < MAX_TRIES; tries++) {
		s->n_rows = rows0;
		if (!cur) {
			ret = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
		if ((ret = attempt(s, ref, &cur, mutate, arg, err)) != FED_ECONFLICT)
			break;
		/* changed meanwhile: start again from what is there now */
		cJSON_Delete(cur);
		cur = NULL;
		if (s->ctx->verbosity >= 2)
			fprintf(stderr, "conflict on %s: reading it again\n", path);
		if ((ret = fedctl_call_ref(s->ctx, s->host, "GET", ref, NULL, NULL, 0, &cur, err)))
			break;
	}
	if (tries == MAX_TRIES)
		ret =
		    fed_error_set(err, FED_ECONFLICT,
		                  "%s kept changing (%d conflicts in a row): run the command again",
		                  path, MAX_TRIES);
	if (ret == FED_EFORBIDDEN)
		fed_error_wrap(err, "host: update %s (grant update on it)", path);
	else if (ret)
		fed_error_wrap(err, "host: update %s", path);
out:
	cJSON_Delete(cur);
	fed_buf_release(&p);
	return ret;
}

void fedctl_scale_ref(struct fed_kube_resource *r, struct fed_kube_ref *ref,
                      const struct fedctl_workload_kind *k, const char *ns, const char *name)
{
	*r = fedctl_resource(FED_TYPES_GROUP, FED_TYPES_VERSION, k->plural, true);
	ref->resource = r;
	ref->namespace = ns;
	ref->name = name;
	ref->subresource = NULL;
}
