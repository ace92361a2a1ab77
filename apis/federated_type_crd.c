/* The Federated<Kind> CRD (kubefed's shape, pkg/kubefedctl/enable/
 * validation.go, as apiextensions.k8s.io/v1 with a structural schema), the
 * default types and which of them are scalable. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federated_type.h"

/* Short names of the default types; the federated CRDs get them with an
 * "f" in front (fdeploy, fcm, ...), as in kubefed's chart. */
static char *sn_ns[] = {"ns", NULL};
static char *sn_cm[] = {"cm", NULL};
static char *sn_sa[] = {"sa", NULL};
static char *sn_svc[] = {"svc", NULL};
static char *sn_deploy[] = {"deploy", NULL};
static char *sn_rs[] = {"rs", NULL};
static char *sn_sts[] = {"sts", NULL};
static char *sn_ds[] = {"ds", NULL};
static char *sn_cj[] = {"cj", NULL};
static char *sn_ing[] = {"ing", NULL};

static const struct fed_api_resource default_types[] = {
    {"", "v1", "Namespace", "namespaces", false, sn_ns},
    {"", "v1", "ConfigMap", "configmaps", true, sn_cm},
    {"", "v1", "Secret", "secrets", true, NULL},
    {"", "v1", "ServiceAccount", "serviceaccounts", true, sn_sa},
    {"", "v1", "Service", "services", true, sn_svc},
    {"apps", "v1", "Deployment", "deployments", true, sn_deploy},
    {"apps", "v1", "ReplicaSet", "replicasets", true, sn_rs},
    {"apps", "v1", "StatefulSet", "statefulsets", true, sn_sts},
    {"apps", "v1", "DaemonSet", "daemonsets", true, sn_ds},
    {"batch", "v1", "Job", "jobs", true, NULL},
    {"batch", "v1", "CronJob", "cronjobs", true, sn_cj},
    {"networking.k8s.io", "v1", "Ingress", "ingresses", true, sn_ing},
    {"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, NULL},
    {"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, NULL},
};

const struct fed_api_resource *fed_default_target_types(size_t *count)
{
	*count = sizeof(default_types) / sizeof(default_types[0]);
	return default_types;
}

bool fed_type_scalable(const struct fed_api_resource *target)
{
	if (!target->group || strcmp(target->group, "apps") || !target->kind)
		return false;
	return !strcmp(target->kind, "Deployment") || !strcmp(target->kind, "ReplicaSet") ||
	       !strcmp(target->kind, "StatefulSet");
}

/* ---- a small builder: every step is NULL-safe, the first failure sticks ---- */

struct jb {
	bool failed;
};

static cJSON *check(struct jb *b, cJSON *v)
{
	if (!v)
		b->failed = true;
	return v;
}

static cJSON *obj(struct jb *b, cJSON *parent, const char *key)
{
	return check(b, cJSON_AddObjectToObject(parent, key));
}

static cJSON *arr(struct jb *b, cJSON *parent, const char *key)
{
	return check(b, cJSON_AddArrayToObject(parent, key));
}

static void str(struct jb *b, cJSON *parent, const char *key, const char *val)
{
	check(b, cJSON_AddStringToObject(parent, key, val));
}

static void flag(struct jb *b, cJSON *parent, const char *key, bool val)
{
	check(b, cJSON_AddBoolToObject(parent, key, val));
}

/* parent[key] = [v...] (v NULL-terminated) */
static void strs(struct jb *b, cJSON *parent, const char *key, const char *const *v)
{
	cJSON *a = arr(b, parent, key), *s;

	for (; a && *v; v++) {
		s = check(b, cJSON_CreateString(*v));
		if (s && !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			b->failed = true;
		}
	}
}

/* An item appended to array a. */
static cJSON *item(struct jb *b, cJSON *a)
{
	cJSON *o = check(b, cJSON_CreateObject());

	if (o && !cJSON_AddItemToArray(a, o)) {
		cJSON_Delete(o);
		b->failed = true;
		return NULL;
	}
	return o;
}

/* props[key] = {type: type[, description: desc]}; returns it. */
static cJSON *prop(struct jb *b, cJSON *props, const char *key, const char *type, const char *desc)
{
	cJSON *p = obj(b, props, key);

	if (type)
		str(b, p, "type", type);
	if (desc)
		str(b, p, "description", desc);
	return p;
}

static cJSON *props(struct jb *b, cJSON *schema)
{
	return obj(b, schema, "properties");
}

/* props[key] = {type: array, items: {type: object, ...}}; returns items. */
static cJSON *object_list(struct jb *b, cJSON *parent_props, const char *key, const char *desc)
{
	cJSON *items = obj(b, prop(b, parent_props, key, "array", desc), "items");

	str(b, items, "type", "object");
	return items;
}

static void preserve(struct jb *b, cJSON *schema)
{
	flag(b, schema, "x-kubernetes-preserve-unknown-fields", true);
}

static void spec_schema(struct jb *b, cJSON *p, bool scalable)
{
	static const char *const name_req[] = {"name", NULL};
	static const char *const expr_req[] = {"key", "operator", NULL};
	static const char *const ops[] = {"In", "NotIn", "Exists", "DoesNotExist", NULL};
	static const char *const override_req[] = {"clusterName", NULL};
	static const char *const patch_req[] = {"path", NULL};
	static const char *const patch_ops[] = {"add", "remove", "replace", NULL};
	cJSON *s, *pl, *cl, *sel, *ov, *co, *x;

	s = prop(
	    b, p, "template", "object",
	    "The object to create in each selected cluster, without status; kind and "
	    "apiVersion come from the FederatedTypeConfig, name and namespace from this object.");
	preserve(b, s);

	pl = props(b, prop(b, p, "placement", "object",
	                   "Where to create the object: clusters, when given (even empty), wins "
	                   "over clusterSelector; {} as clusterSelector selects every cluster."));
	cl = object_list(b, pl, "clusters", "Member clusters by KubeFedCluster name.");
	strs(b, cl, "required", name_req);
	prop(b, props(b, cl), "name", "string", NULL);
	sel = props(b, prop(b, pl, "clusterSelector", "object",
	                    "Label selector over the KubeFedClusters' labels."));
	x = prop(b, sel, "matchLabels", "object", NULL);
	str(b, obj(b, x, "additionalProperties"), "type", "string");
	x = object_list(b, sel, "matchExpressions", NULL);
	strs(b, x, "required", expr_req);
	x = props(b, x);
	prop(b, x, "key", "string", NULL);
	strs(b, prop(b, x, "operator", "string", NULL), "enum", ops);
	str(b, obj(b, prop(b, x, "values", "array", NULL), "items"), "type", "string");

	ov =
	    object_list(b, p, "overrides",
	                "Per-cluster JSON patches (add, remove, replace) applied to the template.");
	strs(b, ov, "required", override_req);
	ov = props(b, ov);
	prop(b, ov, "clusterName", "string", NULL);
	co = object_list(b, ov, "clusterOverrides", NULL);
	strs(b, co, "required", patch_req);
	co = props(b, co);
	strs(b, prop(b, co, "op", "string", "add, remove or replace (the default)"), "enum",
	     patch_ops);
	prop(b, co, "path", "string", "JSON pointer, e.g. /spec/replicas");
	preserve(b, prop(b, co, "value", NULL, NULL));

	if (scalable)
		prop(b, p, "retainReplicas", "boolean",
		     "Keep each cluster's spec.replicas (e.g. set by an HPA) instead of the "
		     "template's.");
}

static void status_schema(struct jb *b, cJSON *s)
{
	static const char *const cond_req[] = {"type", "status", NULL};
	static const char *const name_req[] = {"name", NULL};
	cJSON *p, *x;

	preserve(b, s);
	p = props(b, s);
	str(b, prop(b, p, "observedGeneration", "integer", NULL), "format", "int64");
	x = object_list(b, p, "conditions", NULL);
	strs(b, x, "required", cond_req);
	x = props(b, x);
	prop(b, x, "type", "string", NULL);
	prop(b, x, "status", "string", NULL);
	prop(b, x, "reason", "string", NULL);
	prop(b, x, "message", "string", NULL);
	str(b, prop(b, x, "lastUpdateTime", "string", NULL), "format", "date-time");
	str(b, prop(b, x, "lastTransitionTime", "string", NULL), "format", "date-time");
	x = object_list(b, p, "clusters", NULL);
	strs(b, x, "required", name_req);
	preserve(b, x);
	x = props(b, x);
	prop(b, x, "name", "string", NULL);
	prop(b, x, "status", "string", NULL);
	preserve(b, prop(b, x, "remoteStatus", "object", NULL));
}

static void column(struct jb *b, cJSON *cols, const char *name, const char *type, int priority,
                   const char *path)
{
	cJSON *c = item(b, cols);

	str(b, c, "name", name);
	str(b, c, "type", type);
	if (priority)
		check(b, cJSON_AddNumberToObject(c, "priority", priority));
	str(b, c, "jsonPath", path);
}

static char *lower(const char *s)
{
	char *l = strdup(s);
	size_t i;

	for (i = 0; l && l[i]; i++)
		l[i] = (char)tolower((unsigned char)l[i]);
	return l;
}

int fed_federated_crd(const struct fed_type_config *t, bool scalable, cJSON **out,
                      struct fed_error *err)
{
	static const char *const spec_req[] = {"spec", NULL};
	const struct fed_api_resource *f = &t->federated;
	struct jb b = {false};
	char *name = NULL, *list_kind = NULL, *singular = NULL, **shorts = NULL;
	cJSON *crd = NULL, *spec, *names, *v, *cols, *schema, *p;
	size_t i, n = 0;
	int rc = 0;

	*out = NULL;
	if (!f->kind || !f->plural || !f->group || !f->version) {
		rc = fed_error_set(err, FED_EINVAL,
		                   "federated type of \"%s\" is incomplete: parse "
		                   "the FederatedTypeConfig first",
		                   t->name ? t->name : "?");
		goto out;
	}
	while (t->target.short_names && t->target.short_names[n])
		n++;
	name = fed_api_resource_name(f);
	list_kind = malloc(strlen(f->kind) + 5);
	singular = lower(f->kind);
	shorts = calloc(n + 1, sizeof(char *));
	if (!name || !list_kind || !singular || !shorts) {
		rc = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	strcpy(list_kind, f->kind);
	strcat(list_kind, "List");
	for (i = 0; i < n; i++) {
		const char *sn = t->target.short_names[i];

		if (!(shorts[i] = malloc(strlen(sn) + 2))) {
			rc = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
		shorts[i][0] = 'f';
		strcpy(shorts[i] + 1, sn);
	}

	crd = check(&b, cJSON_CreateObject());
	str(&b, crd, "apiVersion", "apiextensions.k8s.io/v1");
	str(&b, crd, "kind", "CustomResourceDefinition");
	str(&b, obj(&b, crd, "metadata"), "name", name);
	spec = obj(&b, crd, "spec");
	str(&b, spec, "group", f->group);
	names = obj(&b, spec, "names");
	str(&b, names, "kind", f->kind);
	str(&b, names, "listKind", list_kind);
	str(&b, names, "plural", f->plural);
	str(&b, names, "singular", singular);
	if (n)
		strs(&b, names, "shortNames", (const char *const *)shorts);
	str(&b, spec, "scope", f->namespaced ? "Namespaced" : "Cluster");
	v = item(&b, arr(&b, spec, "versions"));
	str(&b, v, "name", f->version);
	flag(&b, v, "served", true);
	flag(&b, v, "storage", true);
	obj(&b, obj(&b, v, "subresources"), "status");
	cols = arr(&b, v, "additionalPrinterColumns");
	column(&b, cols, "Propagation", "string", 0,
	       ".status.conditions[?(@.type=='" FED_PROPAGATION_CONDITION "')].status");
	column(&b, cols, "Reason", "string", 1,
	       ".status.conditions[?(@.type=='" FED_PROPAGATION_CONDITION "')].reason");
	column(&b, cols, "Age", "date", 0, ".metadata.creationTimestamp");
	schema = obj(&b, obj(&b, v, "schema"), "openAPIV3Schema");
	str(&b, schema, "type", "object");
	strs(&b, schema, "required", spec_req);
	p = props(&b, schema);
	prop(&b, p, "apiVersion", "string", NULL);
	prop(&b, p, "kind", "string", NULL);
	prop(&b, p, "metadata", "object", NULL);
	spec_schema(&b, props(&b, prop(&b, p, "spec", "object", NULL)), scalable);
	status_schema(&b, prop(&b, p, "status", "object", NULL));
	if (b.failed) {
		rc = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	*out = crd;
	crd = NULL;
out:
	cJSON_Delete(crd);
	for (i = 0; shorts && i < n; i++)
		free(shorts[i]);
	free(shorts);
	free(singular);
	free(list_kind);
	free(name);
	return rc;
}
