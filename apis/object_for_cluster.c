/* The object fed wants in one member cluster (kubefed's ObjectForCluster,
 * RetainClusterFields, ApplyOverrides and the managed label, in that
 * order), its desired-state hash, the managed-label contract and the
 * namespaces that are never propagated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/propagation.h"
#include "propagation_internal.h"

/* Server-set metadata that must not be sent from a template. */
static const char *const dropped_metadata[] = {
    "finalizers",        "resourceVersion",   "uid",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
    "managedFields",     "ownerReferences",   "generation",
    "selfLink",          "generateName",
};

static bool is_null(const cJSON *v)
{
	return !v || cJSON_IsNull(v);
}

/* Set by the template: present and not null, "", [] or 0 (the API's "unset"). */
static bool is_set(const cJSON *v)
{
	if (is_null(v))
		return false;
	if (cJSON_IsString(v))
		return v->valuestring[0] != '\0';
	if (cJSON_IsArray(v))
		return v->child != NULL;
	if (cJSON_IsNumber(v))
		return v->valuedouble != 0;
	return true;
}

static const char *str_of(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* obj[key] = v (replacing), taking v; v is freed on failure. */
static int set_item(cJSON *obj, const char *key, cJSON *v)
{
	int ret = 0;

	if (!v) {
		ret = FED_ENOMEM;
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
	} else if (!cJSON_AddItemToObject(obj, key, v)) {
		cJSON_Delete(v);
		ret = FED_ENOMEM;
	}
out:
	return ret;
}

static int set_copy(cJSON *obj, const char *key, const cJSON *v)
{
	return set_item(obj, key, cJSON_Duplicate(v, 1));
}

static int set_string(cJSON *obj, const char *key, const char *s)
{
	return set_item(obj, key, cJSON_CreateString(s));
}

/* obj[key] as an object, created when absent or null; NULL when it is
 * something else or memory ran out (*bad tells which). */
static cJSON *child_object(cJSON *obj, const char *key, bool *bad)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*bad = false;
	if (cJSON_IsObject(v))
		return v;
	if (!is_null(v)) {
		*bad = true;
		return NULL;
	}
	v = cJSON_CreateObject();
	if (set_item(obj, key, v))
		return NULL;
	return v;
}

static bool same_str(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* The existing port that matches desired port dp: by name when dp has one
 * and an existing port carries it, else by port number and protocol. */
static const cJSON *match_port(const cJSON *dp, const cJSON *eports, const bool *used)
{
	const char *name = str_of(dp, "name"), *proto = str_of(dp, "protocol");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(dp, "port"), *ep;
	int k;

	if (!proto || !*proto)
		proto = "TCP";
	if (name && *name) {
		k = 0;
		cJSON_ArrayForEach(ep, eports) {
			if (!used[k] && same_str(str_of(ep, "name"), name))
				return ep;
			k++;
		}
	}
	if (!cJSON_IsNumber(port))
		return NULL;
	k = 0;
	cJSON_ArrayForEach(ep, eports) {
		const cJSON *eport = cJSON_GetObjectItemCaseSensitive(ep, "port");
		const char *eproto = str_of(ep, "protocol");

		if (!eproto || !*eproto)
			eproto = "TCP";
		if (!used[k] && cJSON_IsNumber(eport) && eport->valuedouble == port->valuedouble &&
		    !strcmp(eproto, proto))
			return ep;
		k++;
	}
	return NULL;
}

static bool node_port_taken(const cJSON *dports, double np)
{
	const cJSON *dp;

	cJSON_ArrayForEach(dp, dports) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(dp, "nodePort");

		if (cJSON_IsNumber(v) && v->valuedouble == np)
			return true;
	}
	return false;
}

static int retain_node_ports(cJSON *ds, const cJSON *es)
{
	const cJSON *eports = cJSON_GetObjectItemCaseSensitive(es, "ports");
	cJSON *dports = cJSON_GetObjectItemCaseSensitive(ds, "ports"), *dp;
	bool *used = NULL;
	int n, ret = 0;

	if (!cJSON_IsArray(dports) || !cJSON_IsArray(eports))
		goto out;
	n = cJSON_GetArraySize(eports);
	used = calloc((size_t)n + 1, sizeof(*used));
	if (!used) {
		ret = FED_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(dp, dports) {
		const cJSON *ep, *np, *e;
		int k = 0;

		if (!cJSON_IsObject(dp) || is_set(cJSON_GetObjectItemCaseSensitive(dp, "nodePort")))
			continue;
		ep = match_port(dp, eports, used);
		if (!ep)
			continue;
		cJSON_ArrayForEach(e, eports) {
			if (e == ep)
				used[k] = true;
			k++;
		}
		np = cJSON_GetObjectItemCaseSensitive(ep, "nodePort");
		/* never hand out a node port the template gives another port */
		if (!cJSON_IsNumber(np) || np->valuedouble == 0 ||
		    node_port_taken(dports, np->valuedouble))
			continue;
		ret = set_copy(dp, "nodePort", np);
		if (ret)
			goto out;
	}
out:
	free(used);
	return ret;
}

/* Service: what the member's API server allocated, unless the template says. */
static int retain_service(cJSON *obj, const cJSON *existing)
{
	const cJSON *es = cJSON_GetObjectItemCaseSensitive(existing, "spec"), *v;
	cJSON *ds;
	const char *type, *etp;
	bool bad;
	int ret = 0;

	if (!cJSON_IsObject(es))
		goto out;
	ds = child_object(obj, "spec", &bad);
	if (!ds) {
		ret = bad ? 0 : FED_ENOMEM; /* a broken spec is the server's to reject */
		goto out;
	}
	type = str_of(ds, "type");
	if (!type || !*type)
		type = "ClusterIP";
	if (strcmp(type, "ExternalName")) {
		/* clusterIP and clusterIPs go together: "None" with a retained list is invalid */
		if (!is_set(cJSON_GetObjectItemCaseSensitive(ds, "clusterIP")) &&
		    !is_set(cJSON_GetObjectItemCaseSensitive(ds, "clusterIPs"))) {
			v = cJSON_GetObjectItemCaseSensitive(es, "clusterIP");
			if (is_set(v) && (ret = set_copy(ds, "clusterIP", v)))
				goto out;
			v = cJSON_GetObjectItemCaseSensitive(es, "clusterIPs");
			if (is_set(v) && (ret = set_copy(ds, "clusterIPs", v)))
				goto out;
		}
		/* families given by the template make the policy the template's too:
		 * a retained SingleStack with two families is invalid */
		if (!is_set(cJSON_GetObjectItemCaseSensitive(ds, "ipFamilies"))) {
			v = cJSON_GetObjectItemCaseSensitive(es, "ipFamilies");
			if (is_set(v) && (ret = set_copy(ds, "ipFamilies", v)))
				goto out;
			v = cJSON_GetObjectItemCaseSensitive(es, "ipFamilyPolicy");
			if (!is_set(cJSON_GetObjectItemCaseSensitive(ds, "ipFamilyPolicy")) &&
			    is_set(v) && (ret = set_copy(ds, "ipFamilyPolicy", v)))
				goto out;
		}
	}
	/* node ports exist only for these types; a retained one on ClusterIP is invalid */
	if (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer")) {
		ret = retain_node_ports(ds, es);
		if (ret)
			goto out;
	}
	etp = str_of(ds, "externalTrafficPolicy");
	v = cJSON_GetObjectItemCaseSensitive(es, "healthCheckNodePort");
	if (!strcmp(type, "LoadBalancer") && same_str(etp, "Local") &&
	    !is_set(cJSON_GetObjectItemCaseSensitive(ds, "healthCheckNodePort")) && is_set(v))
		ret = set_copy(ds, "healthCheckNodePort", v);
out:
	return ret;
}

/* ServiceAccount: token and pull secrets the member added, when the template has none. */
static int retain_service_account(cJSON *obj, const cJSON *existing)
{
	static const char *const keys[] = {"secrets", "imagePullSecrets"};
	const cJSON *v;
	size_t i;
	int ret = 0;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = cJSON_GetObjectItemCaseSensitive(existing, keys[i]);
		if (!is_set(cJSON_GetObjectItemCaseSensitive(obj, keys[i])) && is_set(v)) {
			ret = set_copy(obj, keys[i], v);
			if (ret)
				goto out;
		}
	}
out:
	return ret;
}

/* PersistentVolumeClaim: the bound volume and the defaulted class are immutable. */
static int retain_pvc(cJSON *obj, const cJSON *existing)
{
	static const char *const keys[] = {"volumeName", "storageClassName"};
	const cJSON *es = cJSON_GetObjectItemCaseSensitive(existing, "spec"), *v;
	cJSON *ds;
	size_t i;
	bool bad;
	int ret = 0;

	if (!cJSON_IsObject(es))
		goto out;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = cJSON_GetObjectItemCaseSensitive(es, keys[i]);
		if (!is_set(v))
			continue;
		ds = child_object(obj, "spec", &bad);
		if (!ds) {
			ret = bad ? 0 : FED_ENOMEM;
			goto out;
		}
		if (!is_set(cJSON_GetObjectItemCaseSensitive(ds, keys[i]))) {
			ret = set_copy(ds, keys[i], v);
			if (ret)
				goto out;
		}
	}
out:
	return ret;
}

static int retain_metadata(cJSON *meta, const cJSON *existing)
{
	const cJSON *em = cJSON_GetObjectItemCaseSensitive(existing, "metadata"), *v, *a;
	cJSON *annotations;
	bool bad;
	int ret = 0;

	if (!cJSON_IsObject(em))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(em, "resourceVersion");
	if (cJSON_IsString(v) && (ret = set_copy(meta, "resourceVersion", v)))
		goto out;
	/* finalizers belong to the member's controllers */
	v = cJSON_GetObjectItemCaseSensitive(em, "finalizers");
	if (is_set(v) && (ret = set_copy(meta, "finalizers", v)))
		goto out;
	/* member annotations the template does not set (kubefed kept all of them,
	 * because it dropped the template's) */
	v = cJSON_GetObjectItemCaseSensitive(em, "annotations");
	if (!cJSON_IsObject(v) || !v->child)
		goto out;
	annotations = child_object(meta, "annotations", &bad);
	if (!annotations) {
		ret = bad ? 0 : FED_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(a, v) {
		if (a->string && !cJSON_GetObjectItemCaseSensitive(annotations, a->string) &&
		    (ret = set_copy(annotations, a->string, a)))
			goto out;
	}
out:
	return ret;
}

static int retain(cJSON *obj, cJSON *meta, const cJSON *fed_spec, const struct fed_target_type *t,
                  const cJSON *existing)
{
	const cJSON *es, *replicas;
	cJSON *ds;
	bool core = !strcmp(t->api_version, "v1"), bad;
	int ret;

	ret = retain_metadata(meta, existing);
	if (ret)
		goto out;
	if (core && !strcmp(t->kind, "Service"))
		ret = retain_service(obj, existing);
	else if (core && !strcmp(t->kind, "ServiceAccount"))
		ret = retain_service_account(obj, existing);
	else if (core && !strcmp(t->kind, "PersistentVolumeClaim"))
		ret = retain_pvc(obj, existing);
	if (ret)
		goto out;
	/* retainReplicas: an HPA in the member owns spec.replicas */
	es = cJSON_GetObjectItemCaseSensitive(existing, "spec");
	replicas = cJSON_GetObjectItemCaseSensitive(es, "replicas");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fed_spec, "retainReplicas")) &&
	    cJSON_IsNumber(replicas)) {
		ds = child_object(obj, "spec", &bad);
		if (!ds) {
			ret = bad ? 0 : FED_ENOMEM;
			goto out;
		}
		ret = set_copy(ds, "replicas", replicas);
	}
out:
	return ret;
}

/* Name, namespace, kind and apiVersion: from the federated object and its
 * type, also after the overrides. */
static int set_identity(cJSON *obj, cJSON *meta, const struct fed_target_type *t, const char *name,
                        const char *ns)
{
	int ret;

	ret = set_string(obj, "kind", t->kind);
	if (!ret)
		ret = set_string(meta, "name", name);
	if (!ret && ns)
		ret = set_string(meta, "namespace", ns);
	if (!ret && !ns)
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
	return ret;
}

/* What the steps share, borrowed from the federated object. */
struct build {
	const char *name, *ns;
	const cJSON *spec, *overrides;
};

/* Checks and steps 1 and 2: the object before the overrides. */
static int base_object(const cJSON *fed_obj, const struct fed_target_type *t, const cJSON *existing,
                       struct build *b, cJSON **out, struct fed_error *err)
{
	char qn[FED_QUOTE_BUF];
	const cJSON *fmeta, *tmpl, *v;
	cJSON *obj = NULL, *meta;
	size_t i;
	bool bad;
	int ret = 0;

	*out = NULL;
	if (!cJSON_IsObject(fed_obj)) {
		ret = fed_error_set(err, FED_EINVAL, "Federated%s: must be a JSON object", t->kind);
		goto out;
	}
	fmeta = cJSON_GetObjectItemCaseSensitive(fed_obj, "metadata");
	b->name = str_of(fmeta, "name");
	if (!b->name || !*b->name) {
		ret =
		    fed_error_set(err, FED_EINVAL,
		                  "metadata.name: required: the Federated%s has no name", t->kind);
		goto out;
	}
	if (t->namespaced) {
		b->ns = str_of(fmeta, "namespace");
		if (!b->ns || !*b->ns) {
			ret = fed_error_set(err, FED_EINVAL,
			                    "metadata.namespace: required: %s is namespaced, so "
			                    "Federated%s %s must live in a namespace",
			                    t->kind, t->kind, fed_quote(qn, sizeof(qn), b->name));
			goto out;
		}
	}
	b->spec = cJSON_GetObjectItemCaseSensitive(fed_obj, "spec");
	if (!cJSON_IsObject(b->spec)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "spec: required: an object with template, placement and "
		                    "overrides");
		goto out;
	}
	b->overrides = cJSON_GetObjectItemCaseSensitive(b->spec, "overrides");
	ret = fed_overrides_validate(b->overrides, err);
	if (ret)
		goto out;

	/* 1. the template */
	tmpl = cJSON_GetObjectItemCaseSensitive(b->spec, "template");
	if (!is_null(tmpl) && !cJSON_IsObject(tmpl)) {
		ret =
		    fed_error_set(err, FED_EINVAL,
		                  "spec.template: must be an object: the %s to propagate", t->kind);
		goto out;
	}
	obj = is_null(tmpl) ? cJSON_CreateObject() : cJSON_Duplicate(tmpl, 1);
	if (!obj) {
		ret = FED_ENOMEM;
		goto out;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
	v = cJSON_GetObjectItemCaseSensitive(obj, "apiVersion");
	if (!is_null(v) && (!cJSON_IsString(v) || !v->valuestring[0])) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "spec.template.apiVersion: must be a string such as \"%s\", or "
		                    "left out",
		                    t->api_version);
		goto out;
	}
	if (is_null(v) && (ret = set_string(obj, "apiVersion", t->api_version)))
		goto out;
	meta = child_object(obj, "metadata", &bad);
	if (!meta) {
		ret = bad ? fed_error_set(err, FED_EINVAL,
		                          "spec.template.metadata: must be an object")
		          : FED_ENOMEM;
		goto out;
	}
	for (i = 0; i < sizeof(dropped_metadata) / sizeof(dropped_metadata[0]); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(meta, dropped_metadata[i]);
	ret = set_identity(obj, meta, t, b->name, b->ns);
	if (ret)
		goto out;
	for (i = 0; i < 2; i++) {
		const char *key = i ? "annotations" : "labels";

		v = cJSON_GetObjectItemCaseSensitive(meta, key);
		if (cJSON_IsNull(v)) {
			cJSON_DeleteItemFromObjectCaseSensitive(meta, key);
		} else if (v && !cJSON_IsObject(v)) {
			ret = fed_error_set(err, FED_EINVAL,
			                    "spec.template.metadata.%s: must be a map of strings",
			                    key);
			goto out;
		}
	}

	/* 2. what the member's controllers own */
	if (cJSON_IsObject(existing) && (ret = retain(obj, meta, b->spec, t, existing)))
		goto out;
	*out = obj;
	obj = NULL;
out:
	cJSON_Delete(obj);
	return ret;
}

/* Steps 3 and 4 on obj; *patch_failed tells a patch that does not apply. */
static int finish_object(cJSON *obj, const struct fed_target_type *t, const char *cluster,
                         const struct build *b, bool *patch_failed, struct fed_error *err)
{
	char where[96], qc[FED_QUOTE_BUF];
	const cJSON *v;
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata"), *labels;
	bool bad;
	int idx, ret = 0;

	*patch_failed = false;
	/* 3. overrides for this cluster */
	idx = fed_prop_overrides_index(b->overrides, cluster);
	if (idx >= 0) {
		snprintf(where, sizeof(where), "spec.overrides[%d].clusterOverrides", idx);
		ret = fed_prop_patch_apply(
		    obj,
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(b->overrides, idx),
		                                     "clusterOverrides"),
		    where, err);
		if (ret) {
			*patch_failed = ret == FED_EINVAL;
			goto out;
		}
		fed_quote(qc, sizeof(qc), cluster);
		meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
		if (!cJSON_IsObject(meta)) {
			ret =
			    fed_error_set(err, FED_EINVAL,
			                  "spec.overrides[%d]: the overrides for cluster %s leave "
			                  "metadata not an object: override fields inside it",
			                  idx, qc);
			goto out;
		}
		v = cJSON_GetObjectItemCaseSensitive(obj, "apiVersion");
		if (!cJSON_IsString(v) || !v->valuestring[0]) {
			ret = fed_error_set(
			    err, FED_EINVAL,
			    "spec.overrides[%d]: the overrides for cluster %s leave no "
			    "apiVersion string: replace it with one such as \"%s\"",
			    idx, qc, t->api_version);
			goto out;
		}
		/* name and namespace paths are refused, but "/metadata" is not */
		ret = set_identity(obj, meta, t, b->name, b->ns);
		if (ret)
			goto out;
		if (!child_object(meta, "labels", &bad) && bad) {
			ret =
			    fed_error_set(err, FED_EINVAL,
			                  "spec.overrides[%d]: the overrides for cluster %s leave "
			                  "metadata.labels not a map",
			                  idx, qc);
			goto out;
		}
	}

	/* 4. the managed label */
	labels = child_object(meta, "labels", &bad);
	ret = labels ? set_string(labels, FED_MANAGED_LABEL, "true") : FED_ENOMEM;
out:
	return ret;
}

static int check_type(const struct fed_target_type *t, struct fed_error *err)
{
	if (!t || !t->kind || !*t->kind || !t->api_version || !*t->api_version)
		return fed_error_set(err, FED_EINVAL,
		                     "target type: kind and apiVersion are required (from the "
		                     "FederatedTypeConfig)");
	return 0;
}

static int nomem(const struct fed_target_type *t, const struct build *b, const char *cluster,
                 struct fed_error *err)
{
	char qn[FED_QUOTE_BUF], qc[FED_QUOTE_BUF];

	return fed_error_set(err, FED_ENOMEM, "%s %s for cluster %s: out of memory", t->kind,
	                     b->name ? fed_quote(qn, sizeof(qn), b->name) : "(unnamed)",
	                     fed_quote(qc, sizeof(qc), cluster));
}

int fed_object_for_cluster(const cJSON *fed_obj, const struct fed_target_type *t,
                           const char *cluster, const cJSON *existing, cJSON **out,
                           struct fed_error *err)
{
	struct build b = {NULL, NULL, NULL, NULL};
	cJSON *obj = NULL;
	bool patch_failed;
	int ret;

	*out = NULL;
	ret = check_type(t, err);
	if (ret)
		goto out;
	ret = base_object(fed_obj, t, existing, &b, &obj, err);
	if (!ret)
		ret = finish_object(obj, t, cluster, &b, &patch_failed, err);
	if (ret == FED_ENOMEM)
		nomem(t, &b, cluster, err);
	if (ret)
		goto out;
	*out = obj;
	obj = NULL;
out:
	cJSON_Delete(obj);
	return ret;
}

int fed_desired_hash(const cJSON *fed_obj, const struct fed_target_type *t, const char *cluster,
                     char out[65], struct fed_error *err)
{
	char qc[FED_QUOTE_BUF];
	struct build b = {NULL, NULL, NULL, NULL};
	cJSON *base = NULL, *obj = NULL, *inputs = NULL;
	const cJSON *hashed;
	bool patch_failed = false;
	int ret;

	out[0] = '\0';
	ret = check_type(t, err);
	if (ret)
		goto out;
	ret = base_object(fed_obj, t, NULL, &b, &base, err);
	if (!ret) {
		obj = cJSON_Duplicate(base, 1);
		ret = obj ? finish_object(obj, t, cluster, &b, &patch_failed, err) : FED_ENOMEM;
	}
	if (ret == FED_EINVAL && patch_failed) {
		/* an override that only applies once fields are retained (replace
		 * /spec/clusterIP): hash what the object is made of instead, which
		 * is as stable and changes with the same inputs */
		inputs = cJSON_CreateObject();
		if (!inputs || !cJSON_AddItemReferenceToObject(inputs, "base", base) ||
		    !cJSON_AddItemReferenceToObject(
		        inputs, "overrides", (cJSON *)fed_overrides_for(b.overrides, cluster))) {
			ret = FED_ENOMEM;
		} else {
			ret = 0;
			fed_error_clear(err);
		}
		hashed = inputs;
	} else {
		hashed = obj;
	}
	if (ret == FED_ENOMEM)
		nomem(t, &b, cluster, err);
	if (ret)
		goto out;
	ret = fed_json_hash(hashed, out);
	if (ret)
		ret = fed_error_set(err, ret, "hash of the %s for cluster %s: %s", t->kind,
		                    fed_quote(qc, sizeof(qc), cluster),
		                    ret == FED_EINVAL ? "nested too deep" : "out of memory");
out:
	cJSON_Delete(inputs);
	cJSON_Delete(obj);
	cJSON_Delete(base);
	return ret;
}

enum fed_managed fed_managed_state(const cJSON *existing)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(existing, "metadata"), "labels");
	const char *v = str_of(labels, FED_MANAGED_LABEL);

	if (same_str(v, "true"))
		return FED_MANAGED_YES;
	if (same_str(v, "false"))
		return FED_MANAGED_FALSE;
	return FED_MANAGED_NONE;
}

bool fed_namespace_reserved(const char *ns, const char *federation_namespace)
{
	static const char *const reserved[] = {"kube-system", "kube-public", "kube-node-lease",
	                                       "default"};
	size_t i;

	if (!ns)
		return false;
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (!strcmp(ns, reserved[i]))
			return true;
	return same_str(ns, federation_namespace);
}
