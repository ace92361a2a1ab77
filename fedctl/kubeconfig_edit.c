/* fedctl kubeconfig, the pure part: a kubeconfig as a cJSON tree, the
 * cluster and context that reach a member through the host's cluster
 * connect API put into it, and the standalone file of --print. Tested by
 * tests/unit/test_fedctl_kubeconfig.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_connect.h"
#include "fed/base64.h"
#include "fed/buf.h"
#include "fed/connect.h"
#include "fed/yaml.h"
#include "fedctl.h"

/* A string or a plain scalar kept as text: its text; else NULL. */
static const char *text_of(const cJSON *v)
{
	return cJSON_IsString(v) || cJSON_IsRaw(v) ? v->valuestring : NULL;
}

int fedctl_connect_server(const char *host_server, const char *cluster, char **out,
                          struct fed_error *err)
{
	const char *s = host_server ? host_server : "";
	const char *rest = !strncmp(s, "https://", 8)  ? s + 8
	                   : !strncmp(s, "http://", 7) ? s + 7
	                                               : NULL;
	struct fed_buf b = FED_BUF_INIT;
	size_t n = strlen(s);

	*out = NULL;
	if (!rest || !*rest || *rest == '/' || strpbrk(s, "?# \t\r\n"))
		return fed_error_set(err, FED_EINVAL,
		                     "the host context's server \"%.200s\" is not a URL such as "
		                     "https://host:6443; fix its cluster entry (kubectl config "
		                     "set-cluster NAME --server URL)",
		                     s);
	if (strstr(s, "/apis/" FED_CONNECT_GROUP "/"))
		return fed_error_set(err, FED_EINVAL,
		                     "the host context's server %.200s is a cluster connect URL "
		                     "itself (a " FEDCTL_CONNECT_CONTEXT_PREFIX "* context): pass "
		                     "--host-cluster-context with the host cluster's own context",
		                     s);
	if (!cluster || !*cluster ||
	    strspn(cluster, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(cluster))
		return fed_error_set(err, FED_EINVAL, "\"%.100s\" is not a cluster name",
		                     cluster ? cluster : "");
	while (n > (size_t)(rest - s) && s[n - 1] == '/')
		n--;
	if (fed_buf_printf(&b, "%.*s" FED_CONNECT_PREFIX "%s/proxy", (int)n, s, cluster) < 0)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	*out = fed_buf_detach(&b);
	return *out ? 0 : fed_error_set(err, FED_ENOMEM, "out of memory");
}

static cJSON *empty_config(void)
{
	cJSON *kc = cJSON_CreateObject();

	cJSON_AddStringToObject(kc, "apiVersion", "v1");
	cJSON_AddStringToObject(kc, "kind", "Config");
	cJSON_AddArrayToObject(kc, "clusters");
	cJSON_AddArrayToObject(kc, "contexts");
	return kc;
}

int fedctl_kubeconfig_parse(const char *text, size_t len, const char *source, cJSON **out,
                            struct fed_error *err)
{
	struct fed_yaml_doc *doc = NULL;
	struct fy_node *root;
	const char *why = NULL;
	int ret;

	*out = NULL;
	if ((ret = fed_yaml_parse(&doc, text, len, source, err)))
		return ret;
	root = fed_yaml_root(doc);
	if (!root) {
		*out = empty_config();
	} else if (!(*out = fedctl_yaml_json(root, true, &why))) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: %s (fedctl does not rewrite such a file: fix it, or pass "
		                    "another with --kubeconfig)",
		                    source, why ? why : "out of memory");
	} else if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s is not a kubeconfig (a mapping with clusters, contexts and "
		                    "users); fix it, or pass another file with --kubeconfig",
		                    source);
	}
	fed_yaml_free(doc);
	return ret;
}

/* kc's list key, made when missing or null; NULL (err set) when it is
 * something else. */
static cJSON *list_of(cJSON *kc, const char *key, const char *source, struct fed_error *err)
{
	static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
	cJSON *l = cJSON_GetObjectItemCaseSensitive(kc, key);
	bool null = !l || cJSON_IsNull(l);
	size_t i;

	if (cJSON_IsArray(l))
		return l;
	for (i = 0; cJSON_IsRaw(l) && nulls[i]; i++)
		null = null || !strcmp(l->valuestring, nulls[i]);
	if (!null) {
		fed_error_set(err, FED_EINVAL, "%s: %s is not a list; fix it and run again", source,
		              key);
		return NULL;
	}
	l = cJSON_CreateArray();
	if (cJSON_GetObjectItemCaseSensitive(kc, key))
		cJSON_ReplaceItemInObjectCaseSensitive(kc, key, l);
	else
		cJSON_AddItemToObject(kc, key, l);
	return l;
}

/* YAML text of v (for comparing: a string and the same plain scalar read
 * back as text print alike). */
static char *yaml_of(const cJSON *v)
{
	struct fed_buf b = FED_BUF_INIT;

	if (fedctl_yaml(&b, v)) {
		fed_buf_release(&b);
		return NULL;
	}
	return fed_buf_detach(&b);
}

static bool same(const cJSON *a, const cJSON *b)
{
	char *x = yaml_of(a), *y = yaml_of(b);
	bool eq = x && y && !strcmp(x, y);

	free(x);
	free(y);
	return eq;
}

/* entry into list: in place of the first entry of its name (later ones of
 * that name removed: one entry, no doubt which counts), else appended.
 * *state: "added", "updated" or "unchanged". Takes entry. */
static void put(cJSON *list, cJSON *entry, const char **state)
{
	const char *name = text_of(cJSON_GetObjectItemCaseSensitive(entry, "name"));
	cJSON *it = list->child, *next, *found = NULL;

	for (; it; it = next) {
		const char *n = text_of(cJSON_GetObjectItemCaseSensitive(it, "name"));
		next = it->next;
		if (!cJSON_IsObject(it) || !n || strcmp(n, name))
			continue;
		if (found) {
			cJSON_Delete(cJSON_DetachItemViaPointer(list, it));
			*state = "updated";
		} else {
			found = it;
		}
	}
	if (!found) {
		cJSON_AddItemToArray(list, entry);
		*state = "added";
		return;
	}
	if (!same(found, entry))
		*state = "updated";
	cJSON_ReplaceItemViaPointer(list, found, entry);
}

static cJSON *named(const char *name, const char *key, cJSON *body)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "name", name);
	cJSON_AddItemToObject(e, key, body);
	return e;
}

/* The clusters[] and contexts[] entries of fed-CLUSTER. */
static int entries(const struct fedctl_connect_host *h, const char *cluster, cJSON **cl, cJSON **cx,
                   struct fed_error *err)
{
	char name[300], *server = NULL, *ca = NULL;
	cJSON *c;
	int ret;

	*cl = *cx = NULL;
	if ((ret = fedctl_connect_server(h->server, cluster, &server, err)))
		return ret;
	if (h->ca_pem && !(ca = fed_base64_encode_str(h->ca_pem, h->ca_len))) {
		free(server);
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	snprintf(name, sizeof(name), FEDCTL_CONNECT_CONTEXT_PREFIX "%s", cluster);
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "server", server);
	if (ca)
		cJSON_AddStringToObject(c, "certificate-authority-data", ca);
	if (h->tls_server_name)
		cJSON_AddStringToObject(c, "tls-server-name", h->tls_server_name);
	if (h->proxy_url)
		cJSON_AddStringToObject(c, "proxy-url", h->proxy_url);
	if (h->insecure)
		cJSON_AddTrueToObject(c, "insecure-skip-tls-verify");
	*cl = named(name, "cluster", c);
	/* the host's user by name: no credential is copied; no namespace */
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "cluster", name);
	if (h->user)
		cJSON_AddStringToObject(c, "user", h->user);
	*cx = named(name, "context", c);
	free(server);
	free(ca);
	return 0;
}

int fedctl_kubeconfig_add(cJSON *kc, const struct fedctl_connect_host *h, const char *cluster,
                          bool use, const char *source, const char **state, struct fed_error *err)
{
	cJSON *clusters, *contexts, *cl = NULL, *cx = NULL;
	const char *s1 = "unchanged", *s2 = "unchanged";
	int ret;

	*state = "unchanged";
	if (!(clusters = list_of(kc, "clusters", source, err)) ||
	    !(contexts = list_of(kc, "contexts", source, err)))
		return err->code;
	if ((ret = entries(h, cluster, &cl, &cx, err)))
		return ret;
	put(clusters, cl, &s1);
	put(contexts, cx, &s2);
	*state = !strcmp(s1, "added") || !strcmp(s2, "added")         ? "added"
	         : strcmp(s1, "unchanged") || strcmp(s2, "unchanged") ? "updated"
	                                                              : "unchanged";
	if (use) {
		const cJSON *cur = cJSON_GetObjectItemCaseSensitive(kc, "current-context");
		const char *name = text_of(cJSON_GetObjectItemCaseSensitive(cx, "name"));
		if (!text_of(cur) || strcmp(text_of(cur), name)) {
			cJSON_DeleteItemFromObjectCaseSensitive(kc, "current-context");
			cJSON_AddStringToObject(kc, "current-context", name);
			if (!strcmp(*state, "unchanged"))
				*state = "made current";
		}
	}
	return 0;
}

int fedctl_kubeconfig_standalone(const struct fedctl_connect_host *h, const char *const *clusters,
                                 size_t n, const cJSON *user, cJSON **out, struct fed_error *err)
{
	cJSON *kc = empty_config(), *users = cJSON_AddArrayToObject(kc, "users");
	const char *state;
	size_t i;
	int ret = 0;

	*out = NULL;
	for (i = 0; i < n && !ret; i++)
		ret = fedctl_kubeconfig_add(kc, h, clusters[i], i == 0, "the printed kubeconfig",
		                            &state, err);
	if (ret) {
		cJSON_Delete(kc);
		return ret;
	}
	if (user)
		cJSON_AddItemToArray(users, cJSON_Duplicate(user, true));
	*out = kc;
	return 0;
}

/* obj's key, a relative path, made absolute against dir. */
static void absolute(cJSON *obj, const char *key, const char *dir, bool only_with_slash)
{
	const char *p = text_of(cJSON_GetObjectItemCaseSensitive(obj, key));
	struct fed_buf b = FED_BUF_INIT;

	if (!p || !*p || *p == '/' || (only_with_slash && !strchr(p, '/')) ||
	    fed_buf_printf(&b, "%s/%s", dir, p) < 0) {
		fed_buf_release(&b);
		return;
	}
	cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(fed_buf_str(&b)));
	fed_buf_release(&b);
}

cJSON *fedctl_kubeconfig_user(const cJSON *kc, const char *name, const char *dir)
{
	const cJSON *it;
	cJSON *copy = NULL, *u;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(kc, "users")) {
		const char *n = text_of(cJSON_GetObjectItemCaseSensitive(it, "name"));
		if (name && n && !strcmp(n, name)) {
			copy = cJSON_Duplicate(it, true);
			break;
		}
	}
	u = cJSON_GetObjectItemCaseSensitive(copy, "user");
	if (!dir || !cJSON_IsObject(u))
		return copy;
	absolute(u, "client-certificate", dir, false);
	absolute(u, "client-key", dir, false);
	absolute(u, "tokenFile", dir, false);
	/* kubectl looks a bare command up in $PATH */
	absolute(cJSON_GetObjectItemCaseSensitive(u, "exec"), "command", dir, true);
	return copy;
}
