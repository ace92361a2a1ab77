/* ReplicaSchedulingPreference: parsing and validation. The planner is in
 * rsp_plan.c. Type errors are found while reading the JSON; value rules
 * live in fed_rsp_validate so specs built by hand get the same checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fed/rsp.h"

#define ENTRY_PATH_MAX (FED_QUOTE_BUF + 32)

static const char *const kind_names[] = {
    [FED_RSP_FEDERATED_DEPLOYMENT] = "FederatedDeployment",
    [FED_RSP_FEDERATED_REPLICASET] = "FederatedReplicaSet",
    [FED_RSP_FEDERATED_STATEFULSET] = "FederatedStatefulSet",
};
#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

static const char *const spec_fields[] = {
    "targetKind", "totalReplicas", "rebalance", "intersectWithClusterSelector", "clusters", NULL};
#define SPEC_FIELDS "targetKind, totalReplicas, rebalance, intersectWithClusterSelector, clusters"
static const char *const pref_fields[] = {"minReplicas", "maxReplicas", "weight", NULL};
#define PREF_FIELDS "minReplicas, maxReplicas, weight"

const char *fed_rsp_target_kind_name(enum fed_rsp_target_kind k)
{
	return (size_t)k < N_KINDS ? kind_names[k] : "unknown";
}

/* Field path of a cluster entry: spec.clusters["east"] */
static void entry_path(char *out, size_t size, const char *name)
{
	char q[FED_QUOTE_BUF];

	fed_quote(q, sizeof(q), name);
	snprintf(out, size, "spec.clusters[%s]", q);
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "a list";
	if (cJSON_IsObject(v))
		return "an object";
	return "invalid JSON";
}

/* Reject fields the API does not have, since a typo ("maxReplica") would
 * otherwise silently mean "unbounded". */
static int check_fields(const cJSON *obj, const char *const *known, const char *list,
                        const char *path, struct fed_error *err)
{
	const cJSON *it;
	size_t i;

	cJSON_ArrayForEach(it, obj) {
		char q[FED_QUOTE_BUF];
		const char *hint = NULL;

		for (i = 0; known[i]; i++) {
			if (it->string && !strcmp(it->string, known[i]))
				break;
			if (it->string && !strcasecmp(it->string, known[i]))
				hint = known[i];
		}
		if (known[i])
			continue;
		fed_quote(q, sizeof(q), it->string ? it->string : "");
		if (hint)
			return fed_error_set(err, FED_EINVAL,
			                     "%s: unknown field %s; did you mean \"%s\"?", path, q,
			                     hint);
		return fed_error_set(err, FED_EINVAL, "%s: unknown field %s; the fields are %s",
		                     path, q, list);
	}
	return 0;
}

/* An integer field. Range checks beyond what a double holds exactly are
 * fed_rsp_validate's; here the value only has to be a whole number that
 * converts to int64 without undefined behaviour. */
static int get_int(const cJSON *obj, const char *field, const char *path, bool required,
                   int64_t dflt, int64_t *out, struct fed_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
	double d;

	*out = dflt;
	if (!v || cJSON_IsNull(v)) {
		if (required)
			return fed_error_set(err, FED_EINVAL,
			                     "%s.%s is required; set it to a "
			                     "whole number of replicas",
			                     path, field);
		return 0;
	}
	if (!cJSON_IsNumber(v))
		return fed_error_set(err, FED_EINVAL, "%s.%s: expected an integer, got %s", path,
		                     field, type_name(v));
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d))
		return fed_error_set(err, FED_EINVAL,
		                     "%s.%s: %g is not an integer; write a "
		                     "whole number",
		                     path, field, d);
	if (fabs(d) > (double)FED_RSP_COUNT_MAX)
		return fed_error_set(err, FED_EINVAL,
		                     "%s.%s: %.0f is out of range; use at most "
		                     "%lld",
		                     path, field, d, (long long)FED_RSP_COUNT_MAX);
	*out = (int64_t)d;
	return 0;
}

static int get_bool(const cJSON *obj, const char *field, bool *out, struct fed_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);

	*out = false;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v))
		return fed_error_set(err, FED_EINVAL, "spec.%s: expected true or false, got %s",
		                     field, type_name(v));
	*out = cJSON_IsTrue(v);
	return 0;
}

static int parse_kind(const cJSON *spec, enum fed_rsp_target_kind *out, struct fed_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, "targetKind");
	char q[FED_QUOTE_BUF];
	size_t i;

	if (!v || cJSON_IsNull(v))
		return fed_error_set(err, FED_EINVAL,
		                     "spec.targetKind is required; set it to "
		                     "FederatedDeployment, FederatedReplicaSet or "
		                     "FederatedStatefulSet");
	if (!cJSON_IsString(v))
		return fed_error_set(err, FED_EINVAL, "spec.targetKind: expected a string, got %s",
		                     type_name(v));
	for (i = 0; i < N_KINDS; i++) {
		if (!strcmp(v->valuestring, kind_names[i])) {
			*out = (enum fed_rsp_target_kind)i;
			return 0;
		}
	}
	fed_quote(q, sizeof(q), v->valuestring);
	return fed_error_set(err, FED_EINVAL,
	                     "spec.targetKind: %s is not supported; use "
	                     "FederatedDeployment, FederatedReplicaSet or FederatedStatefulSet",
	                     q);
}

static int parse_entry(const cJSON *item, struct fed_rsp_cluster_entry *e, struct fed_error *err)
{
	char path[ENTRY_PATH_MAX];
	int ret;

	entry_path(path, sizeof(path), item->string);
	if (!cJSON_IsObject(item))
		return fed_error_set(err, FED_EINVAL,
		                     "%s: expected an object with minReplicas, "
		                     "maxReplicas and weight, got %s",
		                     path, type_name(item));
	if ((ret = check_fields(item, pref_fields, PREF_FIELDS, path, err)))
		return ret;
	if ((ret = get_int(item, "minReplicas", path, false, 0, &e->pref.min, err)) ||
	    (ret = get_int(item, "maxReplicas", path, false, -1, &e->pref.max, err)) ||
	    (ret = get_int(item, "weight", path, false, 0, &e->pref.weight, err)))
		return ret;
	/* -1 means unbounded inside; a written -1 is a negative value */
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(item, "maxReplicas")) &&
	    e->pref.max < 0)
		return fed_error_set(err, FED_EINVAL,
		                     "%s.maxReplicas: %lld is negative; use 0 "
		                     "or more, or leave it out for no limit",
		                     path, (long long)e->pref.max);
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct fed_rsp_cluster_entry *)a)->name,
	              ((const struct fed_rsp_cluster_entry *)b)->name);
}

static int parse_clusters(const cJSON *spec, struct fed_rsp_spec *s, struct fed_error *err)
{
	const cJSON *map = cJSON_GetObjectItemCaseSensitive(spec, "clusters");
	const cJSON *it;
	size_t n = 0;
	int ret = 0;

	if (map && !cJSON_IsNull(map) && !cJSON_IsObject(map))
		return fed_error_set(err, FED_EINVAL,
		                     "spec.clusters: expected a map of cluster "
		                     "name (or \"*\") to preferences, got %s",
		                     type_name(map));
	if (map && cJSON_IsObject(map))
		n = (size_t)cJSON_GetArraySize(map);
	if (n == 0) {
		/* kubefed's default: every cluster, equal weight */
		s->clusters = calloc(1, sizeof(*s->clusters));
		if (!s->clusters || !(s->clusters[0].name = strdup(FED_RSP_WILDCARD)))
			return fed_error_set(err, FED_ENOMEM, "out of memory");
		s->clusters[0].pref = (struct fed_rsp_cluster_pref){0, -1, 1};
		s->n_clusters = 1;
		return 0;
	}
	s->clusters = calloc(n, sizeof(*s->clusters));
	if (!s->clusters)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, map) {
		struct fed_rsp_cluster_entry *e = &s->clusters[s->n_clusters];

		if (!it->string || !*it->string)
			return fed_error_set(err, FED_EINVAL,
			                     "spec.clusters: a key is empty; use a "
			                     "cluster name or \"*\"");
		if ((ret = parse_entry(it, e, err)))
			return ret;
		if (!(e->name = strdup(it->string)))
			return fed_error_set(err, FED_ENOMEM, "out of memory");
		s->n_clusters++;
	}
	qsort(s->clusters, s->n_clusters, sizeof(*s->clusters), cmp_entry);
	return 0;
}

static int parse_key(const cJSON *obj, struct fed_rsp_spec *s, struct fed_error *err)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *ns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
	const char *n = cJSON_IsString(name) ? name->valuestring : "";
	const char *sp = cJSON_IsString(ns) ? ns->valuestring : "";
	size_t len = strlen(sp) + 1 + strlen(n) + 1;

	if (meta && !cJSON_IsNull(meta) && !cJSON_IsObject(meta))
		return fed_error_set(err, FED_EINVAL, "metadata: expected an object, got %s",
		                     type_name(meta));
	/* kubefed's QualifiedName.String(): "ns/name", or "name" without one */
	s->key = malloc(len);
	if (!s->key)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	snprintf(s->key, len, "%s%s%s", sp, *sp ? "/" : "", n);
	return 0;
}

int fed_rsp_parse(const cJSON *obj, struct fed_rsp_spec *out, struct fed_error *err)
{
	struct fed_rsp_spec s = {0};
	const cJSON *spec, *kind;
	int ret;

	if (!out) {
		ret = fed_error_set(err, FED_EINVAL, "fed_rsp_parse: no spec to fill");
		goto out;
	}
	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(obj)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "ReplicaSchedulingPreference: expected a "
		                    "JSON object, got %s",
		                    obj ? type_name(obj) : "nothing");
		goto out;
	}
	kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
	if (kind && !(cJSON_IsString(kind) && !strcmp(kind->valuestring, FED_RSP_KIND))) {
		char q[FED_QUOTE_BUF];
		fed_quote(q, sizeof(q), cJSON_IsString(kind) ? kind->valuestring : type_name(kind));
		ret = fed_error_set(err, FED_EINVAL,
		                    "kind: %s is not " FED_RSP_KIND "; pass the RSP object", q);
		goto out;
	}
	spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "spec: %s; an RSP needs spec.targetKind and "
		                    "spec.totalReplicas",
		                    spec ? "expected an object" : "missing");
		goto out;
	}
	if ((ret = check_fields(spec, spec_fields, SPEC_FIELDS, "spec", err)) ||
	    (ret = parse_kind(spec, &s.target_kind, err)) ||
	    (ret = get_int(spec, "totalReplicas", "spec", true, 0, &s.total_replicas, err)) ||
	    (ret = get_bool(spec, "rebalance", &s.rebalance, err)) ||
	    (ret = get_bool(spec, "intersectWithClusterSelector",
	                    &s.intersect_with_cluster_selector, err)) ||
	    (ret = parse_clusters(spec, &s, err)) || (ret = parse_key(obj, &s, err)) ||
	    (ret = fed_rsp_validate(&s, err)))
		goto out;
	*out = s;
	memset(&s, 0, sizeof(s));
out:
	fed_rsp_spec_release(&s);
	return ret;
}

void fed_rsp_spec_release(struct fed_rsp_spec *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; s->clusters && i < s->n_clusters; i++)
		free(s->clusters[i].name);
	free(s->clusters);
	free(s->key);
	memset(s, 0, sizeof(*s));
}

static int check_count(int64_t v, int64_t max, const char *path, const char *field,
                       const char *what, struct fed_error *err)
{
	if (v < 0)
		return fed_error_set(err, FED_EINVAL, "%s.%s: %lld is negative; use 0 or more",
		                     path, field, (long long)v);
	if (v > max)
		return fed_error_set(err, FED_EINVAL,
		                     "%s.%s: %lld is too large; %s at most "
		                     "%lld",
		                     path, field, (long long)v, what, (long long)max);
	return 0;
}

int fed_rsp_validate(const struct fed_rsp_spec *s, struct fed_error *err)
{
	char path[ENTRY_PATH_MAX];
	size_t i;
	int ret;

	if (!s)
		return fed_error_set(err, FED_EINVAL, "no RSP spec");
	if ((size_t)s->target_kind >= N_KINDS)
		return fed_error_set(err, FED_EINVAL,
		                     "spec.targetKind: %d is not a target kind; "
		                     "use FederatedDeployment, FederatedReplicaSet or "
		                     "FederatedStatefulSet",
		                     (int)s->target_kind);
	if ((ret = check_count(s->total_replicas, FED_RSP_TOTAL_MAX, "spec", "totalReplicas",
	                       "it is an int32:", err)))
		return ret;
	if (s->n_clusters && !s->clusters)
		return fed_error_set(err, FED_EINVAL, "spec.clusters: %zu entries but no array",
		                     s->n_clusters);
	for (i = 0; i < s->n_clusters; i++) {
		const struct fed_rsp_cluster_entry *e = &s->clusters[i];

		if (!e->name || !*e->name)
			return fed_error_set(err, FED_EINVAL,
			                     "spec.clusters: entry %zu has no "
			                     "name; use a cluster name or \"*\"",
			                     i);
		entry_path(path, sizeof(path), e->name);
		if (i > 0 && strcmp(s->clusters[i - 1].name, e->name) >= 0)
			return fed_error_set(err, FED_EINVAL, "%s: %s; keep one entry per cluster",
			                     path,
			                     strcmp(s->clusters[i - 1].name, e->name)
			                         ? "entries are not sorted by name"
			                         : "given twice");
		if ((ret = check_count(e->pref.min, FED_RSP_COUNT_MAX, path, "minReplicas", "use",
		                       err)) ||
		    (e->pref.max != -1 && (ret = check_count(e->pref.max, FED_RSP_COUNT_MAX, path,
		                                             "maxReplicas", "use", err))) ||
		    (ret = check_count(e->pref.weight, FED_RSP_WEIGHT_MAX, path, "weight",
		                       "weights are relative: use", err)))
			return ret;
		if (e->pref.max >= 0 && e->pref.max < e->pref.min)
			return fed_error_set(err, FED_EINVAL,
			                     "%s.maxReplicas: %lld is below "
			                     "minReplicas %lld; raise maxReplicas to at least %lld "
			                     "or lower minReplicas",
			                     path, (long long)e->pref.max, (long long)e->pref.min,
			                     (long long)e->pref.min);
	}
	return 0;
}

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct fed_rsp_cluster_entry *)elem)->name);
}

const struct fed_rsp_cluster_pref *fed_rsp_pref_for(const struct fed_rsp_spec *s,
                                                    const char *cluster)
{
	const struct fed_rsp_cluster_entry *e;

	if (!s || !s->clusters || !cluster)
		return NULL;
	e = bsearch(cluster, s->clusters, s->n_clusters, sizeof(*s->clusters), cmp_name);
	if (!e)
		e = bsearch(FED_RSP_WILDCARD, s->clusters, s->n_clusters, sizeof(*s->clusters),
		            cmp_name);
	return e ? &e->pref : NULL;
}
