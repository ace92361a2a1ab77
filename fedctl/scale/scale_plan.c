/* fedctl scale, the pure part: the replicas a federated workload asks of
 * one cluster, setting them as a per-cluster override, spreading a total
 * evenly, the workload kinds and the before -> after table. No I/O;
 * tested by tests/unit/test_fedctl_scale.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fed/table.h"
#include "fedctl.h"

static const struct fedctl_workload_kind kinds[] = {
    {"FederatedDeployment", "federateddeployments", "Deployment"},
    {"FederatedReplicaSet", "federatedreplicasets", "ReplicaSet"},
    {"FederatedStatefulSet", "federatedstatefulsets", "StatefulSet"},
    {NULL, NULL, NULL},
};

const struct fedctl_workload_kind *fedctl_workload_kinds(void)
{
	return kinds;
}

const struct fedctl_workload_kind *fedctl_workload_kind(const char *s)
{
	/* what kubectl users type: kind, plural or short name, with or
	 * without the Federated prefix (fdeploy is kubefed's short name) */
	static const struct {
		const char *alias;
		int kind;
	} aliases[] = {
	    {"deploy", 0}, {"deployment", 0},  {"deployments", 0},
	    {"rs", 1},     {"replicaset", 1},  {"replicasets", 1},
	    {"sts", 2},    {"statefulset", 2}, {"statefulsets", 2},
	};
	const char *base = s;
	size_t i;

	if (!strncasecmp(s, "federated", 9))
		base = s + 9;
	else if (s[0] == 'f' && strlen(s) > 1 &&
	         (!strcmp(s + 1, "deploy") || !strcmp(s + 1, "rs") || !strcmp(s + 1, "sts")))
		base = s + 1;
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcasecmp(base, aliases[i].alias))
			return &kinds[aliases[i].kind];
	/* "federateddeployments.types.kubefed.io" */
	for (i = 0; kinds[i].kind; i++) {
		size_t n = strlen(kinds[i].plural);
		if (!strncasecmp(s, kinds[i].plural, n) && !strcasecmp(s + n, ".types.kubefed.io"))
			return &kinds[i];
	}
	return NULL;
}

static cJSON *replicas_op(const cJSON *cluster_overrides)
{
	cJSON *op;

	cJSON_ArrayForEach(op, cluster_overrides) {
		const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "path"));
		if (p && !strcmp(p, "/spec/replicas"))
			return op;
	}
	return NULL;
}

static cJSON *cluster_entry(const cJSON *overrides, const char *cluster)
{
	cJSON *e;

	cJSON_ArrayForEach(e, overrides) {
		const char *n =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "clusterName"));
		if (n && !strcmp(n, cluster))
			return e;
	}
	return NULL;
}

/* v as a whole number, or dflt (a double past what long long holds would
 * be undefined to convert). */
static long long number_or(const cJSON *v, long long dflt)
{
	return cJSON_IsNumber(v) && fabs(v->valuedouble) < 1e15 ? (long long)v->valuedouble : dflt;
}

long long fedctl_replicas_for(const cJSON *fed_obj, const char *cluster)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(fed_obj, "spec");
	const cJSON *e =
	    cluster_entry(cJSON_GetObjectItemCaseSensitive(spec, "overrides"), cluster);
	const cJSON *op =
	    e ? replicas_op(cJSON_GetObjectItemCaseSensitive(e, "clusterOverrides")) : NULL;
	const cJSON *tspec = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(spec, "template"), "spec");
	long long dflt = number_or(cJSON_GetObjectItemCaseSensitive(tspec, "replicas"), 1);

	if (op) {
		const char *o = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "op"));
		if (o && !strcmp(o, "remove"))
			return 1; /* the field goes: Kubernetes defaults it to 1 */
		return number_or(cJSON_GetObjectItemCaseSensitive(op, "value"), dflt);
	}
	return dflt;
}

static bool template_has_replicas(const cJSON *fed_obj)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(fed_obj, "spec"), "template");

	return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(t, "spec"), "replicas"));
}

int fedctl_replicas_set(cJSON *fed_obj, const char *cluster, long long n, struct fed_error *err)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(fed_obj, "spec");
	cJSON *overrides, *e, *co, *op;

	if (!cJSON_IsObject(spec))
		return fed_error_set(err, FED_EINVAL, "%s has no spec", fed_obj_name(fed_obj));
	overrides = cJSON_GetObjectItemCaseSensitive(spec, "overrides");
	if (!overrides || cJSON_IsNull(overrides)) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "overrides");
		overrides = cJSON_AddArrayToObject(spec, "overrides");
	}
	if (!cJSON_IsArray(overrides))
		return fed_error_set(err, FED_EINVAL,
		                     "spec.overrides of %s is not a list: fix it with kubectl edit",
		                     fed_obj_name(fed_obj));
	e = cluster_entry(overrides, cluster);
	if (!e) {
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "clusterName", cluster);
		cJSON_AddItemToArray(overrides, e);
	}
	co = cJSON_GetObjectItemCaseSensitive(e, "clusterOverrides");
	if (!co || cJSON_IsNull(co)) {
		cJSON_DeleteItemFromObjectCaseSensitive(e, "clusterOverrides");
		co = cJSON_AddArrayToObject(e, "clusterOverrides");
	}
	if (!cJSON_IsArray(co))
		return fed_error_set(
		    err, FED_EINVAL,
		    "spec.overrides[clusterName=%s].clusterOverrides of %s is not a "
		    "list: fix it with kubectl edit",
		    cluster, fed_obj_name(fed_obj));
	op = replicas_op(co);
	if (!op) {
		op = cJSON_CreateObject();
		cJSON_AddStringToObject(op, "path", "/spec/replicas");
		cJSON_AddItemToArray(co, op);
	}
	/* replace (the default op) fails on a template without
	 * spec.replicas; add sets the field either way */
	cJSON_DeleteItemFromObjectCaseSensitive(op, "op");
	cJSON_DeleteItemFromObjectCaseSensitive(op, "value");
	if (!template_has_replicas(fed_obj)) {
		cJSON_DeleteItemFromObjectCaseSensitive(op, "path");
		cJSON_AddStringToObject(op, "op", "add");
		cJSON_AddStringToObject(op, "path", "/spec/replicas");
	}
	cJSON_AddNumberToObject(op, "value", (double)n);
	return 0;
}

void fedctl_spread(long long total, size_t n, long long *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = total / (long long)n + ((long long)i < total % (long long)n ? 1 : 0);
}

int fedctl_format_scale(struct fed_buf *out, const struct fedctl_scale_row *rows, size_t n)
{
	static const char *const headers[] = {"NAMESPACE", "WORKLOAD", "CLUSTER",
	                                      "VIA",       "REPLICAS", NULL};
	struct fed_table t;
	size_t i;
	int ret;

	if ((ret = fed_table_init(&t, headers)))
		return ret;
	for (i = 0; i < n && !ret; i++) {
		char workload[512], reps[64];
		const char *cells[5];
		snprintf(workload, sizeof(workload), "%s/%s", rows[i].kind, rows[i].name);
		for (char *p = workload; *p && *p != '/'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		if (rows[i].before == rows[i].after)
			snprintf(reps, sizeof(reps), "%lld (unchanged)", rows[i].after);
		else
			snprintf(reps, sizeof(reps), "%lld \xe2\x86\x92 %lld", rows[i].before,
			         rows[i].after);
		cells[0] = rows[i].ns;
		cells[1] = workload;
		cells[2] = rows[i].cluster;
		cells[3] = rows[i].via;
		cells[4] = reps;
		ret = fed_table_add(&t, cells);
	}
	if (!ret)
		ret = fed_table_render(&t, out, NULL, 1);
	fed_table_release(&t);
	return ret;
}
