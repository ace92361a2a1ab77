/* fedctl federate, the pure part: objects from a YAML or JSON file, the
 * server-set fields stripped, and the Federated<Kind> wrapper kubefedctl
 * writes. No I/O; tested by tests/unit/test_fedctl_federate.c and fuzzed
 * by tests/fuzz/fuzz_federate_file.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "fedctl.h"

#define MAX_DEPTH 64

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

/* A plain scalar as YAML 1.2's core schema reads it. */
static cJSON *scalar(const char *s, size_t n, bool plain)
{
	char buf[64], *end;
	double d;

	if (plain && n < sizeof(buf)) {
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (!strcmp(buf, "true") || !strcmp(buf, "True") || !strcmp(buf, "TRUE"))
			return cJSON_CreateTrue();
		if (!strcmp(buf, "false") || !strcmp(buf, "False") || !strcmp(buf, "FALSE"))
			return cJSON_CreateFalse();
		if (!n || !strcmp(buf, "null") || !strcmp(buf, "Null") || !strcmp(buf, "NULL") ||
		    !strcmp(buf, "~"))
			return cJSON_CreateNull();
		if (strspn(buf, "0123456789+-.eE") == n) {
			d = strtod(buf, &end);
			if (end != buf && !*end)
				return cJSON_CreateNumber(d);
		}
	}
	{
		char *str = strndup(s, n);
		cJSON *v = str ? cJSON_CreateString(str) : NULL;
		free(str);
		return v;
	}
}

/* A node tree to cJSON; aliases are refused (a hostile document can make
 * them exponential), as is nesting past MAX_DEPTH. */
static cJSON *to_json(struct fy_node *n, int depth, const char **why)
{
	cJSON *v = NULL;
	void *it = NULL;

	if (depth > MAX_DEPTH) {
		*why = "nested too deeply";
		return NULL;
	}
	if (!n)
		return cJSON_CreateNull();
	if (fy_node_is_alias(n)) {
		*why = "YAML aliases (*name) are not supported";
		return NULL;
	}
	switch (fy_node_get_type(n)) {
	case FYNT_SCALAR: {
		size_t len = 0;
		const char *s = fy_node_get_scalar(n, &len);
		v = scalar(s ? s : "", s ? len : 0, fy_node_get_style(n) == FYNS_PLAIN);
		break;
	}
	case FYNT_SEQUENCE: {
		struct fy_node *c;
		v = cJSON_CreateArray();
		while (v && (c = fy_node_sequence_iterate(n, &it))) {
			cJSON *e = to_json(c, depth + 1, why);
			if (!e) {
				cJSON_Delete(v);
				return NULL;
			}
			cJSON_AddItemToArray(v, e);
		}
		break;
	}
	case FYNT_MAPPING: {
		struct fy_node_pair *p;
		v = cJSON_CreateObject();
		while (v && (p = fy_node_mapping_iterate(n, &it))) {
			struct fy_node *k = fy_node_pair_key(p);
			size_t len = 0;
			const char *ks = k && fy_node_is_scalar(k) ? fy_node_get_scalar(k, &len) : NULL;
			char *key;
			cJSON *e;
			if (!ks) {
				*why = "a mapping key that is not a string";
				cJSON_Delete(v);
				return NULL;
			}
			if (!(key = strndup(ks, len)) ||
			    !(e = to_json(fy_node_pair_value(p), depth + 1, why))) {
				free(key);
				cJSON_Delete(v);
				return NULL;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(v, key); /* the last wins */
			cJSON_AddItemToObject(v, key, e);
			free(key);
		}
		break;
	}
	}
	if (!v && !*why)
		*why = "out of memory";
	return v;
}

/* One object, or the items of a List, appended to items. */
static int add_object(cJSON *items, cJSON *o, const char *source, int n, struct fed_error *err)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind"));
	cJSON *it;

	if (!cJSON_IsObject(o) || !kind)
		return fed_error_set(err, FED_EINVAL,
				     "%s: document %d is not a Kubernetes object (it needs kind and "
				     "metadata.name)",
				     source, n);
	if (strcmp(kind, "List")) {
		if (!fed_obj_name(o) || !*fed_obj_name(o))
			return fed_error_set(err, FED_EINVAL,
					     "%s: document %d (%s) has no metadata.name", source, n,
					     kind);
		cJSON_AddItemToArray(items, cJSON_Duplicate(o, true));
		return 0;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "items"))
	{
		if (!cJSON_IsObject(it) || !cJSON_IsString(cJSON_GetObjectItem(it, "kind")) ||
		    !fed_obj_name(it) || !*fed_obj_name(it))
			return fed_error_set(err, FED_EINVAL,
					     "%s: document %d: a List item is not a Kubernetes "
					     "object with kind and metadata.name",
					     source, n);
		cJSON_AddItemToArray(items, cJSON_Duplicate(it, true));
	}
	return 0;
}

int fedctl_objects_parse(const char *data, size_t len, const char *source, cJSON **out,
			 struct fed_error *err)
{
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg cfg;
	struct fy_diag *diag = NULL;
	struct fy_parser *p = NULL;
	struct fy_document *fyd;
	cJSON *items = cJSON_CreateArray();
	int ret = 0, n = 0;

	*out = NULL;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = diag_discard;
	dcfg.level = FYET_ERROR;
	dcfg.colorize = false;
	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = FYPCF_QUIET;
	if (!items || !(diag = fy_diag_create(&dcfg))) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	fy_diag_set_collect_errors(diag, true);
	cfg.diag = diag;
	if (!(p = fy_parser_create(&cfg)) || fy_parser_set_string(p, data, len)) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	while (!ret && (fyd = fy_parse_load_document(p))) {
		const char *why = NULL;
		cJSON *o = NULL;
		n++;
		if (fy_document_root(fyd) && !(o = to_json(fy_document_root(fyd), 0, &why)))
			ret = fed_error_set(err, FED_EINVAL, "%s: document %d: %s", source, n, why);
		else if (o && !cJSON_IsNull(o)) /* null: an empty document */
			ret = add_object(items, o, source, n, err);
		cJSON_Delete(o);
		fy_parse_document_destroy(p, fyd);
	}
	if (!ret && (fy_parser_get_stream_error(p) || fy_diag_got_error(diag)))
		ret = fed_error_set(err, FED_EINVAL, "%s: not valid YAML or JSON (document %d)",
				    source, n + 1);
	if (!ret && !cJSON_GetArraySize(items))
		ret = fed_error_set(err, FED_EINVAL, "%s holds no object", source);
	if (!ret) {
		*out = items;
		items = NULL;
	}
out:
	cJSON_Delete(items);
	if (p)
		fy_parser_destroy(p);
	if (diag)
		fy_diag_destroy(diag);
	return ret;
}

static const char *kind_of(const cJSON *o)
{
	const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind"));
	return k ? k : "";
}

void fedctl_strip_server_fields(cJSON *o)
{
	static const char *const meta[] = {
		"uid",		 "resourceVersion",  "creationTimestamp",
		"managedFields", "generation",	     "selfLink",
		"deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences",
		"finalizers",	 "generateName",
	};
	cJSON *m = cJSON_GetObjectItem(o, "metadata"), *ann;
	size_t i;

	cJSON_DeleteItemFromObjectCaseSensitive(o, "status");
	for (i = 0; i < sizeof(meta) / sizeof(meta[0]); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(m, meta[i]);
	ann = cJSON_GetObjectItem(m, "annotations");
	cJSON_DeleteItemFromObjectCaseSensitive(ann, "kubectl.kubernetes.io/last-applied-configuration");
	cJSON_DeleteItemFromObjectCaseSensitive(ann, "deployment.kubernetes.io/revision");
	if (ann && !cJSON_GetArraySize(ann))
		cJSON_DeleteItemFromObjectCaseSensitive(m, "annotations");
	/* values the API server allocates (kubefedctl drops them too) */
	if (!strcmp(kind_of(o), "Namespace")) {
		cJSON *labels = cJSON_GetObjectItem(m, "labels");
		cJSON_DeleteItemFromObjectCaseSensitive(labels, "kubernetes.io/metadata.name");
		if (labels && !cJSON_GetArraySize(labels))
			cJSON_DeleteItemFromObjectCaseSensitive(m, "labels");
		cJSON_DeleteItemFromObjectCaseSensitive(o, "spec"); /* only finalizers */
	}
	if (!strcmp(kind_of(o), "Service")) {
		cJSON *spec = cJSON_GetObjectItem(o, "spec");
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "clusterIP");
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "clusterIPs");
	}
}

cJSON *fedctl_federated_object(const cJSON *obj, const char *fed_api_version,
			       const char *fed_kind, bool namespaced)
{
	cJSON *f = cJSON_CreateObject(), *m, *spec, *t;
	const char *name = fed_obj_name(obj), *ns = fed_obj_namespace(obj);
	bool is_ns = !strcmp(kind_of(obj), "Namespace");

	cJSON_AddStringToObject(f, "apiVersion", fed_api_version);
	cJSON_AddStringToObject(f, "kind", fed_kind);
	m = cJSON_AddObjectToObject(f, "metadata");
	cJSON_AddStringToObject(m, "name", name);
	/* a FederatedNamespace lives in the namespace it federates */
	if (is_ns)
		cJSON_AddStringToObject(m, "namespace", name);
	else if (namespaced && ns)
		cJSON_AddStringToObject(m, "namespace", ns);
	spec = cJSON_AddObjectToObject(f, "spec");
	t = cJSON_Duplicate(obj, true);
	fedctl_strip_server_fields(t);
	/* name, namespace, apiVersion and kind come from the federated object
	 * and its type (kubefedctl's RemoveUnwantedFields) */
	cJSON_DeleteItemFromObjectCaseSensitive(t, "apiVersion");
	cJSON_DeleteItemFromObjectCaseSensitive(t, "kind");
	m = cJSON_GetObjectItem(t, "metadata");
	cJSON_DeleteItemFromObjectCaseSensitive(m, "name");
	cJSON_DeleteItemFromObjectCaseSensitive(m, "namespace");
	if (m && !cJSON_GetArraySize(m))
		cJSON_DeleteItemFromObjectCaseSensitive(t, "metadata");
	cJSON_AddItemToObject(spec, "template", t);
	cJSON_AddArrayToObject(cJSON_AddObjectToObject(spec, "placement"), "clusters");
	return f;
}
