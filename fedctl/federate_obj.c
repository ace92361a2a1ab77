/* fedctl federate, the pure part: objects from a YAML or JSON file, the
 * server-set fields stripped, and the Federated<Kind> wrapper kubefedctl
 * writes. No I/O; tested by tests/unit/test_fedctl_federate.c and fuzzed
 * by tests/fuzz/fuzz_federate_file.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "fed/yaml.h"
#include "fedctl.h"

#define MAX_DEPTH 64

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

/* A plain scalar kept as its text (a cJSON raw item): written back as it
 * was, it means what it meant (YAML 1.1's yes, 0x1F, 1:20 included). Not
 * an empty one (null), nor one over lines (folded) or tagged (its tag
 * would be lost): those become what they say. */
static cJSON *raw_scalar(struct fy_node *n, const char *s, size_t len)
{
	size_t tlen = 0;
	char *str;
	cJSON *v;

	if (!len || memchr(s, '\n', len) || fy_node_get_tag(n, &tlen))
		return tlen ? scalar(s, len, false) : scalar(s, len, true);
	if (!(str = strndup(s, len)))
		return NULL;
	v = cJSON_CreateRaw(str);
	free(str);
	return v;
}

/* A node tree to cJSON; aliases are refused (a hostile document can make
 * them exponential), as is nesting past MAX_DEPTH. */
static cJSON *to_json(struct fy_node *n, int depth, bool raw, const char **why)
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
		const char *s = fed_yaml_text(n, &len);
		bool plain = fy_node_get_style(n) == FYNS_PLAIN;
		if (raw && plain)
			v = raw_scalar(n, s ? s : "", s ? len : 0);
		else
			v = scalar(s ? s : "", s ? len : 0, plain);
		break;
	}
	case FYNT_SEQUENCE: {
		struct fy_node *c;
		v = cJSON_CreateArray();
		while (v && (c = fy_node_sequence_iterate(n, &it))) {
			cJSON *e = to_json(c, depth + 1, raw, why);
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
			const char *ks = k && fy_node_is_scalar(k) ? fed_yaml_text(k, &len) : NULL;
			char *key;
			cJSON *e;
			if (!ks) {
				*why = "a mapping key that is not a string";
				cJSON_Delete(v);
				return NULL;
			}
			if (!(key = strndup(ks, len)) ||
			    !(e = to_json(fy_node_pair_value(p), depth + 1, raw, why))) {
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

cJSON *fedctl_yaml_json(struct fy_node *n, bool raw, const char **why)
{
	*why = NULL;
	return to_json(n, 0, raw, why);
}

/* One object, or the items of a List, appended to items. */
static int add_object(cJSON *items, cJSON *o, const char *source, int n, struct fed_error *err)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kind"));
	cJSON *it;

	if (!cJSON_IsObject(o) || !kind)
		return fed_error_set(
		    err, FED_EINVAL,
		    "%s: document %d is not a Kubernetes object (it needs kind and "
		    "metadata.name)",
		    source, n);
	if (strcmp(kind, "List")) {
		if (!fed_obj_name(o) || !*fed_obj_name(o)) {
			char q[FED_QUOTE_BUF];
			return fed_error_set(err, FED_EINVAL,
			                     "%s: document %d (kind %s) has no metadata.name",
			                     source, n, fed_quote(q, sizeof(q), kind));
		}
		cJSON_AddItemToArray(items, cJSON_Duplicate(o, true));
		return 0;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "items")) {
		if (!cJSON_IsObject(it) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "kind")) ||
		    !fed_obj_name(it) || !*fed_obj_name(it))
			return fed_error_set(err, FED_EINVAL,
			                     "%s: document %d: a List item is not a Kubernetes "
			                     "object with kind and metadata.name",
			                     source, n);
		cJSON_AddItemToArray(items, cJSON_Duplicate(it, true));
	}
	return 0;
}

/* The next document of a stream: up to a "---" line (or "--- ..."), or a
 * "..." line. *next is where the one after starts (len at the end). */
static size_t document_end(const char *data, size_t len, size_t from, size_t *next)
{
	size_t i = from;

	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t eol = nl ? (size_t)(nl - data) : len;
		size_t n = eol - i;
		bool sep =
		    n >= 3 && !memcmp(data + i, "---", 3) &&
		    (n == 3 || data[i + 3] == ' ' || data[i + 3] == '\t' || data[i + 3] == '\r');
		bool end = n >= 3 && !memcmp(data + i, "...", 3) &&
		           (n == 3 || data[i + 3] == ' ' || data[i + 3] == '\r');
		if (sep && i > from) {
			*next = i;
			return i;
		}
		if (end) {
			*next = nl ? eol + 1 : len;
			return i;
		}
		i = nl ? eol + 1 : len;
	}
	*next = len;
	return len;
}

int fedctl_objects_parse(const char *data, size_t len, const char *source, cJSON **out,
                         struct fed_error *err)
{
	cJSON *items = cJSON_CreateArray();
	size_t at = 0, next, end;
	int ret = 0, n = 0;

	*out = NULL;
	if (!items)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	/* one document at a time through lib/yaml.c, which guards libfyaml
	 * against the inputs it mishandles (invalid UTF-8, explicit keys) */
	while (!ret && at < len) {
		struct fed_yaml_doc *doc = NULL;
		struct fy_node *root;
		const char *why = NULL;
		char name[300];
		cJSON *o = NULL;
		size_t skip = 0;
		end = document_end(data, len, at, &next);
		/* a leading "---" line belongs to this document */
		if (end - at >= 3 && !memcmp(data + at, "---", 3)) {
			const char *nl = memchr(data + at, '\n', end - at);
			skip = nl ? (size_t)(nl - (data + at)) + 1 : end - at;
		}
		n++;
		snprintf(name, sizeof(name), "%s (document %d)", source, n);
		ret = fed_yaml_parse(&doc, data + at + skip, end - at - skip, name, err);
		root = doc ? fed_yaml_root(doc) : NULL;
		if (!ret && root && !(o = fedctl_yaml_json(root, false, &why)))
			ret = fed_error_set(err, FED_EINVAL, "%s: document %d: %s", source, n, why);
		else if (!ret && o && !cJSON_IsNull(o)) /* null: an empty document */
			ret = add_object(items, o, source, n, err);
		cJSON_Delete(o);
		fed_yaml_free(doc);
		at = next;
	}
	if (!ret && !cJSON_GetArraySize(items))
		ret = fed_error_set(err, FED_EINVAL, "%s holds no object", source);
	if (!ret) {
		*out = items;
		items = NULL;
	}
	cJSON_Delete(items);
	return ret;
}

static const char *kind_of(const cJSON *o)
{
	const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kind"));
	return k ? k : "";
}

void fedctl_strip_server_fields(cJSON *o)
{
	static const char *const meta[] = {
	    "uid",
	    "resourceVersion",
	    "creationTimestamp",
	    "managedFields",
	    "generation",
	    "selfLink",
	    "deletionTimestamp",
	    "deletionGracePeriodSeconds",
	    "ownerReferences",
	    "finalizers",
	    "generateName",
	};
	cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "metadata"), *ann;
	size_t i;

	cJSON_DeleteItemFromObjectCaseSensitive(o, "status");
	for (i = 0; i < sizeof(meta) / sizeof(meta[0]); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(m, meta[i]);
	ann = cJSON_GetObjectItemCaseSensitive(m, "annotations");
	cJSON_DeleteItemFromObjectCaseSensitive(ann,
	                                        "kubectl.kubernetes.io/last-applied-configuration");
	cJSON_DeleteItemFromObjectCaseSensitive(ann, "deployment.kubernetes.io/revision");
	if (ann && !cJSON_GetArraySize(ann))
		cJSON_DeleteItemFromObjectCaseSensitive(m, "annotations");
	/* values the API server allocates (kubefedctl drops them too) */
	if (!strcmp(kind_of(o), "Namespace")) {
		cJSON *labels = cJSON_GetObjectItemCaseSensitive(m, "labels");
		cJSON_DeleteItemFromObjectCaseSensitive(labels, "kubernetes.io/metadata.name");
		if (labels && !cJSON_GetArraySize(labels))
			cJSON_DeleteItemFromObjectCaseSensitive(m, "labels");
		cJSON_DeleteItemFromObjectCaseSensitive(o, "spec"); /* only finalizers */
	}
	if (!strcmp(kind_of(o), "Service")) {
		cJSON *spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "clusterIP");
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "clusterIPs");
	}
}

cJSON *fedctl_federated_object(const cJSON *obj, const char *fed_api_version, const char *fed_kind,
                               bool namespaced)
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
	m = cJSON_GetObjectItemCaseSensitive(t, "metadata");
	cJSON_DeleteItemFromObjectCaseSensitive(m, "name");
	cJSON_DeleteItemFromObjectCaseSensitive(m, "namespace");
	if (m && !cJSON_GetArraySize(m))
		cJSON_DeleteItemFromObjectCaseSensitive(t, "metadata");
	cJSON_AddItemToObject(spec, "template", t);
	cJSON_AddArrayToObject(cJSON_AddObjectToObject(spec, "placement"), "clusters");
	return f;
}
