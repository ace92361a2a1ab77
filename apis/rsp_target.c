/* From a replica plan to the target object: capacity estimated from a
 * member's workload status, the gradual step from what members run to the
 * plan, and the merge patch of spec.placement.clusters and the
 * /spec/replicas overrides. Pure: the controller does the reading and
 * writing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/propagation.h"
#include "fed/rsp.h"

#define REPLICAS_PATH "/spec/replicas"

/* v as a count, or dflt when it is not a number from 0 to FED_RSP_COUNT_MAX
 * (a double past int64_t would be undefined to convert). */
static int64_t count_of(const cJSON *v, int64_t dflt)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)FED_RSP_COUNT_MAX)
		return dflt;
	return (int64_t)v->valuedouble;
}

static int64_t count_at(const cJSON *obj, const char *a, const char *b, int64_t dflt)
{
	return count_of(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, a), b), dflt);
}

void fed_rsp_observe(const cJSON *obj, double now, double threshold, struct fed_rsp_observed *st)
{
	int64_t want, avail;

	st->capacity = -1;
	st->recheck_at = 0;
	if (!cJSON_IsObject(obj)) {
		st->current = -1;
		st->short_since = 0;
		st->short_want = 0;
		return;
	}
	want = count_at(obj, "spec", "replicas", 1);
	avail = count_at(obj, "status", "availableReplicas", -1);
	if (avail < 0)
		avail = count_at(obj, "status", "readyReplicas", 0);
	st->current = avail;
	if (avail >= want) {
		st->short_since = 0;
		st->short_want = 0;
		return;
	}
	/* more asked for: the new pods get their own time to start */
	if (st->short_since <= 0 || want > st->short_want)
		st->short_since = now;
	st->short_want = want;
	if (now - st->short_since >= threshold)
		st->capacity = avail;
	else
		st->recheck_at = st->short_since + threshold;
}

void fed_rsp_step(const struct fed_rsp_step_in *in, size_t n, int64_t total, int64_t *out)
{
	int64_t budget = -total;
	size_t i;

	for (i = 0; i < n; i++)
		if (!in[i].keep && in[i].available > 0)
			budget += in[i].available;
	for (i = 0; i < n; i++) {
		const struct fed_rsp_step_in *c = &in[i];
		int64_t asked = c->asked > 0 ? c->asked : 0,
		        avail = c->available > 0 ? c->available : 0;
		int64_t floor, cut;

		if (c->keep || c->target >= asked) {
			out[i] = c->keep ? asked : c->target;
			continue;
		}
		/* unavailable replicas go first and at no cost */
		floor = avail < asked ? avail : asked;
		out[i] = floor > c->target ? floor : c->target;
		cut = out[i] - c->target;
		if (cut > budget)
			cut = budget > 0 ? budget : 0;
		out[i] -= cut;
		budget -= cut;
	}
}

static const cJSON *replicas_op(const cJSON *cluster_overrides)
{
	const cJSON *op;

	cJSON_ArrayForEach(op, cluster_overrides) {
		const char *path =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "path"));
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "op"));

		if (path && !strcmp(path, REPLICAS_PATH) && (!kind || strcmp(kind, "remove")))
			return op;
	}
	return NULL;
}

int64_t fed_rsp_asked(const cJSON *fed_obj, const char *cluster, bool placed)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(fed_obj, "spec");
	const cJSON *op;

	if (!placed)
		return 0;
	op = replicas_op(
	    fed_overrides_for(cJSON_GetObjectItemCaseSensitive(spec, "overrides"), cluster));
	/* an override out of range counts as absent */
	return count_of(
	    cJSON_GetObjectItemCaseSensitive(op, "value"),
	    count_at(cJSON_GetObjectItemCaseSensitive(spec, "template"), "spec", "replicas", 1));
}

static const struct fed_rsp_assign *find(const struct fed_rsp_assign *a, size_t n, const char *name)
{
	size_t i;

	for (i = 0; name && i < n; i++)
		if (!strcmp(a[i].name, name))
			return &a[i];
	return NULL;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Whether the names of placement.clusters are the set `want` (sorted). */
static bool same_names(const cJSON *clusters, const char **want, size_t nw)
{
	const char **have;
	const cJSON *c;
	size_t nh = 0, i;
	bool same;

	if (!cJSON_IsArray(clusters) || (size_t)cJSON_GetArraySize(clusters) != nw)
		return false;
	if (!(have = calloc(nw + 1, sizeof(*have))))
		return false;
	cJSON_ArrayForEach(c, clusters) {
		const char *name =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
		if (!name || cJSON_GetArraySize(c) != 1)
			break;
		have[nh++] = name;
	}
	same = nh == nw;
	if (same) {
		qsort(have, nh, sizeof(*have), cmp_str);
		for (i = 0; i < nw && same; i++)
			same = !strcmp(have[i], want[i]);
	}
	free(have);
	return same;
}

static bool in_placement(const struct fed_rsp_assign *x)
{
	return x->keep ? x->placed : x->replicas > 0;
}

/* Drop every /spec/replicas op (also "remove" ones) from the list. */
static void drop_replicas(cJSON *cluster_overrides)
{
	cJSON *op = cluster_overrides ? cluster_overrides->child : NULL, *next;

	for (; op; op = next) {
		const char *path =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "path"));
		next = op->next;
		if (path && !strcmp(path, REPLICAS_PATH))
			cJSON_Delete(cJSON_DetachItemViaPointer(cluster_overrides, op));
	}
}

/* Set (or add) the replicas override in one cluster's list. */
static int set_replicas(cJSON *cluster_overrides, int64_t replicas)
{
	cJSON *op = (cJSON *)replicas_op(cluster_overrides), *v;

	if (op) {
		v = cJSON_GetObjectItemCaseSensitive(op, "value");
		if (cJSON_IsNumber(v) && v->valuedouble == (double)replicas)
			return 0;
		cJSON_DeleteItemFromObjectCaseSensitive(op, "value");
		return cJSON_AddNumberToObject(op, "value", (double)replicas) ? 0 : FED_ENOMEM;
	}
	drop_replicas(cluster_overrides); /* a "remove" of it would clash with ours */
	if (!(op = cJSON_CreateObject()) || !cJSON_AddStringToObject(op, "path", REPLICAS_PATH) ||
	    !cJSON_AddNumberToObject(op, "value", (double)replicas)) {
		cJSON_Delete(op);
		return FED_ENOMEM;
	}
	cJSON_AddItemToArray(cluster_overrides, op);
	return 0;
}

/* The overrides after the plan: kept clusters and other ops untouched. */
static int new_overrides(const cJSON *old, const struct fed_rsp_assign *a, size_t n, cJSON **out)
{
	cJSON *arr = old ? cJSON_Duplicate(old, 1) : cJSON_CreateArray(), *e, *next;
	size_t i;
	int ret = 0;

	*out = NULL;
	if (!arr)
		return FED_ENOMEM;
	for (e = arr->child; e; e = next) {
		const char *name =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "clusterName"));
		const struct fed_rsp_assign *x = find(a, n, name);
		cJSON *co = cJSON_GetObjectItemCaseSensitive(e, "clusterOverrides");
		int before;

		next = e->next;
		if (x && x->keep)
			continue;
		if (x && x->replicas > 0) {
			if (!co && !(co = cJSON_AddArrayToObject(e, "clusterOverrides"))) {
				ret = FED_ENOMEM;
				goto out;
			}
			if ((ret = set_replicas(co, x->replicas)))
				goto out;
			continue;
		}
		before = cJSON_GetArraySize(co);
		drop_replicas(co);
		/* an entry that only held our replicas goes with them */
		if (before > 0 && cJSON_GetArraySize(co) == 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(arr, e));
	}
	for (i = 0; i < n; i++) {
		cJSON *entry, *co;

		if (a[i].keep || a[i].replicas <= 0 || fed_overrides_for(arr, a[i].name))
			continue;
		if (!(entry = cJSON_CreateObject()) ||
		    !cJSON_AddStringToObject(entry, "clusterName", a[i].name) ||
		    !(co = cJSON_AddArrayToObject(entry, "clusterOverrides")) ||
		    set_replicas(co, a[i].replicas)) {
			cJSON_Delete(entry);
			ret = FED_ENOMEM;
			goto out;
		}
		cJSON_AddItemToArray(arr, entry);
	}
	*out = arr;
	arr = NULL;
out:
	cJSON_Delete(arr);
	return ret;
}

static int check_assign(const struct fed_rsp_assign *a, size_t n, struct fed_error *err)
{
	const char **names = calloc(n + 1, sizeof(*names));
	size_t i;
	int ret = 0;

	if (!names)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (!a[i].name || !*a[i].name) {
			ret = fed_error_set(err, FED_EINVAL, "clusters[%zu]: no name", i);
			goto out;
		}
		names[i] = a[i].name;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 1; i < n; i++) {
		if (!strcmp(names[i - 1], names[i])) {
			char q[FED_QUOTE_BUF];
			fed_quote(q, sizeof(q), names[i]);
			ret = fed_error_set(err, FED_EINVAL,
			                    "cluster %s is given twice; pass each once", q);
			goto out;
		}
	}
out:
	free(names);
	return ret;
}

int fed_rsp_target_patch(const cJSON *fed_obj, const struct fed_rsp_assign *a, size_t n,
                         cJSON **patch, struct fed_error *err)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(fed_obj, "spec");
	const cJSON *old_ov = cJSON_GetObjectItemCaseSensitive(spec, "overrides");
	const cJSON *old_pl = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(spec, "placement"), "clusters");
	const char *rv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(fed_obj, "metadata"), "resourceVersion"));
	const char **names = NULL;
	cJSON *ov = NULL, *p = NULL, *pspec, *list;
	size_t i, k = 0;
	bool ov_same, pl_same;
	int ret;

	*patch = NULL;
	if (cJSON_IsNull(old_ov))
		old_ov = NULL;
	if ((ret = check_assign(a, n, err)))
		goto out;
	if ((ret = fed_overrides_validate(old_ov, err))) {
		char msg[FED_ERROR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		ret =
		    fed_error_set(err, FED_EINVAL,
		                  "the target's %s; fix it before replicas can be scheduled", msg);
		goto out;
	}
	if (!(names = calloc(n + 1, sizeof(*names))))
		goto oom;
	for (i = 0; i < n; i++)
		if (in_placement(&a[i]))
			names[k++] = a[i].name;
	qsort(names, k, sizeof(*names), cmp_str);
	if ((ret = new_overrides(old_ov, a, n, &ov)))
		goto oom;
	ov_same = old_ov ? cJSON_Compare(old_ov, ov, true) : cJSON_GetArraySize(ov) == 0;
	pl_same = same_names(old_pl, names, k);
	if (ov_same && pl_same)
		goto out;
	if (!(p = cJSON_CreateObject()) || !(pspec = cJSON_AddObjectToObject(p, "spec")))
		goto oom;
	if (rv) {
		cJSON *meta = cJSON_AddObjectToObject(p, "metadata");
		if (!meta || !cJSON_AddStringToObject(meta, "resourceVersion", rv))
			goto oom;
	}
	if (!pl_same) {
		cJSON *pl = cJSON_AddObjectToObject(pspec, "placement");
		if (!pl || !(list = cJSON_AddArrayToObject(pl, "clusters")))
			goto oom;
		for (i = 0; i < k; i++) {
			cJSON *c = cJSON_CreateObject();
			if (!c || !cJSON_AddStringToObject(c, "name", names[i])) {
				cJSON_Delete(c);
				goto oom;
			}
			cJSON_AddItemToArray(list, c);
		}
	}
	if (!ov_same) {
		if (cJSON_GetArraySize(ov) == 0) {
			if (!cJSON_AddNullToObject(pspec, "overrides"))
				goto oom;
		} else {
			cJSON_AddItemToObject(pspec, "overrides", ov);
			ov = NULL;
		}
	}
	*patch = p;
	p = NULL;
	goto out;
oom:
	ret = fed_error_set(err, FED_ENOMEM, "out of memory");
out:
	cJSON_Delete(p);
	cJSON_Delete(ov);
	free(names);
	return ret;
}
