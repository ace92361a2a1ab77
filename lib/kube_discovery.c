/* Aggregated discovery: GET /api and /apis with the apidiscovery v2 media
 * type returns every group, version and resource in two answers. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fed/discovery.h"
#include "kube_internal.h"

#define ACCEPT_V2 "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

static void strv_free(char **v)
{
	char **p;

	if (!v)
		return;
	for (p = v; *p; p++)
		free(*p);
	free(v);
}

static char **strv_from_json(const cJSON *arr)
{
	const cJSON *it;
	char **v;
	size_t n = 0;

	v = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*v));
	if (!v)
		return NULL;
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it))
			continue;
		v[n] = strdup(it->valuestring);
		if (!v[n]) {
			strv_free(v);
			return NULL;
		}
		n++;
	}
	return v;
}

void fed_discovery_free(struct fed_discovery *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++) {
		struct fed_api_resource *a = &d->items[i];
		free((char *)a->r.group);
		free((char *)a->r.version);
		free((char *)a->r.resource);
		free(a->kind);
		free(a->singular);
		strv_free(a->short_names);
		strv_free(a->verbs);
	}
	free(d->items);
	free(d);
}

static int add_resource(struct fed_discovery *d, const char *group, const char *version,
                        bool preferred, const cJSON *res)
{
	const char *resource = fed_obj_str(res, "resource");
	const char *kind = fed_obj_str(res, "responseKind.kind");
	const char *scope = fed_obj_str(res, "scope");
	const char *singular = fed_obj_str(res, "singularResource");
	struct fed_api_resource *a, *items;

	if (!resource || !kind)
		return 0; /* nothing addressable */
	items = realloc(d->items, (d->n + 1) * sizeof(*items));
	if (!items)
		return FED_ENOMEM;
	d->items = items;
	a = &d->items[d->n];
	memset(a, 0, sizeof(*a));
	a->r.group = strdup(group);
	a->r.version = strdup(version);
	a->r.resource = strdup(resource);
	a->r.namespaced = scope && strcmp(scope, "Namespaced") == 0;
	a->kind = strdup(kind);
	a->singular = strdup(singular ? singular : "");
	a->short_names = strv_from_json(cJSON_GetObjectItemCaseSensitive(res, "shortNames"));
	a->verbs = strv_from_json(cJSON_GetObjectItemCaseSensitive(res, "verbs"));
	a->preferred = preferred;
	d->n++; /* counted before the check so free releases partial entries */
	if (!a->r.group || !a->r.version || !a->r.resource || !a->kind || !a->singular ||
	    !a->short_names || !a->verbs)
		return FED_ENOMEM;
	return 0;
}

int fed_discovery_parse(struct fed_discovery *d, const cJSON *doc, struct fed_error *err)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	const cJSON *g, *v, *r;
	const char *kind = fed_obj_str(doc, "kind");

	if (!kind || strcmp(kind, "APIGroupDiscoveryList") || !cJSON_IsArray(items))
		return fed_error_set(
		    err, FED_ERR,
		    "discovery: the server did not answer with an "
		    "APIGroupDiscoveryList (aggregated discovery needs Kubernetes 1.30 or later)");
	cJSON_ArrayForEach(g, items) {
		const char *group = fed_obj_str(g, "metadata.name");
		const cJSON *versions = cJSON_GetObjectItemCaseSensitive(g, "versions");
		bool first = true;
		if (!group)
			group = "";
		cJSON_ArrayForEach(v, versions) {
			const char *version = fed_obj_str(v, "version");
			const cJSON *resources = cJSON_GetObjectItemCaseSensitive(v, "resources");
			if (!version)
				continue;
			/* versions are listed in preference order */
			cJSON_ArrayForEach(r, resources) {
				if (add_resource(d, group, version, first, r))
					return fed_error_set(err, FED_ENOMEM, "out of memory");
			}
			first = false;
		}
	}
	return 0;
}

struct disco {
	struct fed_kube_client *client;
	struct fed_discovery *d;
	fed_discovery_cb cb;
	void *ud;
	int pending;
	struct fed_error err;
};

static void disco_cb(struct fed_kube_response *resp, void *ud)
{
	struct disco *s = ud;

	if (!s->err.code) {
		if (resp->err.code)
			s->err = resp->err;
		else
			fed_discovery_parse(s->d, resp->json, &s->err);
	}
	if (--s->pending)
		return;
	if (s->err.code) {
		fed_discovery_free(s->d);
		s->cb(NULL, &s->err, s->ud);
	} else {
		s->cb(s->d, NULL, s->ud);
	}
	free(s);
}

static int disco_get(struct disco *s, const char *path, struct fed_error *err)
{
	struct fed_kube_request req;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = path;
	req.accept = ACCEPT_V2;
	req.max_retries = -1;
	return fed_kube_request(s->client, &req, disco_cb, s, NULL, err);
}

int fed_kube_discover(struct fed_kube_client *c, fed_discovery_cb cb, void *ud,
                      struct fed_error *err)
{
	struct disco *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	s->d = calloc(1, sizeof(*s->d));
	if (!s->d) {
		free(s);
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	s->client = c;
	s->cb = cb;
	s->ud = ud;
	ret = disco_get(s, "/api", err);
	if (ret)
		goto fail;
	s->pending = 1;
	ret = disco_get(s, "/apis", err);
	if (ret) {
		/* the first request is queued and will complete into s */
		s->err = *err;
		return 0;
	}
	s->pending = 2;
	return 0;
fail:
	fed_discovery_free(s->d);
	free(s);
	return ret;
}

static bool name_matches(const struct fed_api_resource *a, const char *name)
{
	char **p;

	if (!strcmp(a->r.resource, name) || !strcmp(a->singular, name) ||
	    !strcasecmp(a->kind, name))
		return true;
	for (p = a->short_names; p && *p; p++)
		if (!strcmp(*p, name))
			return true;
	return false;
}

const struct fed_api_resource *fed_discovery_find(const struct fed_discovery *d, const char *name)
{
	const struct fed_api_resource *best = NULL;
	char res[256], *dot, *group = NULL, *version = NULL;
	size_t i;

	if (!d || !name || strlen(name) >= sizeof(res))
		return NULL;
	memcpy(res, name, strlen(name) + 1);
	/* RESOURCE[.VERSION].GROUP: kubectl first tries RESOURCE.GROUP */
	dot = strchr(res, '.');
	if (dot) {
		*dot = '\0';
		group = dot + 1;
		for (i = 0; i < d->n; i++) {
			const struct fed_api_resource *a = &d->items[i];
			if (!strcmp(a->r.group, group) && name_matches(a, res) &&
			    !strchr(a->r.resource, '/') &&
			    (!best || (a->preferred && !best->preferred)))
				best = a;
		}
		if (best)
			return best;
		/* RESOURCE.VERSION.GROUP */
		dot = strchr(group, '.');
		if (!dot)
			return NULL;
		*dot = '\0';
		version = group;
		group = dot + 1;
	}
	for (i = 0; i < d->n; i++) {
		const struct fed_api_resource *a = &d->items[i];
		if (group && strcmp(a->r.group, group))
			continue;
		if (version && strcmp(a->r.version, version))
			continue;
		if (!name_matches(a, res))
			continue;
		/* core group wins over others for bare names, as kubectl */
		if (!best || (a->preferred && !best->preferred) ||
		    (a->preferred == best->preferred && !*a->r.group && *best->r.group))
			best = a;
	}
	return best;
}

const struct fed_api_resource *fed_discovery_find_kind(const struct fed_discovery *d,
                                                       const char *group, const char *version,
                                                       const char *kind)
{
	const struct fed_api_resource *best = NULL;
	size_t i;

	for (i = 0; d && i < d->n; i++) {
		const struct fed_api_resource *a = &d->items[i];
		if (strcmp(a->r.group, group ? group : "") || strcmp(a->kind, kind))
			continue;
		if (version && strcmp(a->r.version, version))
			continue;
		if (!best || (a->preferred && !best->preferred))
			best = a;
	}
	return best;
}
