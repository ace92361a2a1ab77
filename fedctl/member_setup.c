/* What join and delete share: synchronous calls, connecting to a context,
 * the cluster-name rule, durations, editing the Federation
 * document and the names of what join creates in a member. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "fed/federation.h"
#include "fed/yaml.h"
#include "join.h"

struct call_result {
	bool done;
	int status;
	cJSON *json;
	struct fed_error err;
};

static void call_cb(struct fed_kube_response *resp, void *ud)
{
	struct call_result *r = ud;

	r->done = true;
	r->status = resp->status;
	r->err = resp->err;
	r->json = resp->json;
	resp->json = NULL;
}

int fedctl_call(struct fedctl *ctx, struct fed_kube_client *c, const char *method, const char *path,
                const char *body, const char *content_type, int timeout_ms, cJSON **out,
                struct fed_error *err)
{
	struct fed_kube_request req;
	struct call_result r;
	double limit = timeout_ms > 0 ? timeout_ms / 1000.0 + 5 : 65;

	if (out)
		*out = NULL;
	memset(&req, 0, sizeof(req));
	memset(&r, 0, sizeof(r));
	req.method = method;
	req.path = path;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = content_type;
	req.timeout_ms = timeout_ms;
	req.max_retries = timeout_ms > 0 ? 0 : -1;
	if (fed_kube_request(c, &req, call_cb, &r, NULL, err))
		return err->code ? err->code : FED_ERR;
	if (fed_kube_wait(ctx->loop, &r.done, limit))
		return fed_error_set(err, FED_ETIMEOUT, "no answer from %s within %.0fs",
		                     fed_kube_client_server(c), limit);
	if (r.err.code) {
		*err = r.err;
		cJSON_Delete(r.json);
		return r.err.code;
	}
	if (out)
		*out = r.json;
	else
		cJSON_Delete(r.json);
	return 0;
}

int fedctl_connect(struct fedctl *ctx, const char *what, const char *context,
                   struct fed_rest_config *cfg, struct fed_kube_client **out, struct fed_error *err)
{
	cJSON *ver = NULL;
	int ret;

	*out = NULL;
	fed_rest_config_init(cfg);
	ret = fed_rest_config_load(cfg, ctx->kubeconfig, context, err);
	if (ret)
		return ret;
	ret = fed_kube_client_new(out, ctx->loop, cfg, cfg->context ? cfg->context : what, err);
	if (ret)
		return ret;
	/* one quick probe, so that an unreachable cluster fails in seconds */
	ret = fedctl_call(ctx, *out, "GET", "/version", NULL, NULL, 10000, &ver, err);
	if (ret) {
		if (ret == FED_EUNAUTHORIZED)
			return fed_error_wrap(err,
			                      "%s cluster (context \"%s\") at %s rejected the "
			                      "credentials of user \"%s\"",
			                      what, cfg->context ? cfg->context : "", cfg->server,
			                      cfg->user ? cfg->user : "");
		return fed_error_wrap(err, "cannot reach the %s cluster (context \"%s\") at %s",
		                      what, cfg->context ? cfg->context : "", cfg->server);
	}
	cJSON_Delete(ver);
	return 0;
}

int fedctl_check_cluster_name(const char *name, struct fed_error *err)
{
	size_t i, n = strlen(name);

	if (n > FED_CLUSTER_NAME_MAX)
		return fed_error_set(
		    err, FED_EINVAL,
		    "\"%s\" is %zu characters long; a cluster name must be at most "
		    "%d characters",
		    name, n, FED_CLUSTER_NAME_MAX);
	for (i = 0; i < n; i++) {
		char ch = name[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		bool edge = i == 0 || i + 1 == n || name[i - 1] == '.' || name[i + 1] == '.';
		if (alnum)
			continue;
		if ((ch != '-' && ch != '.') || edge)
			break;
	}
	if (n == 0 || i < n)
		return fed_error_set(
		    err, FED_EINVAL,
		    "\"%s\" is not a valid cluster name: a cluster name must "
		    "consist of lower case alphanumeric characters, '-' or '.', and "
		    "must start and end with an alphanumeric character (e.g. "
		    "\"cluster-1\")",
		    name);
	return 0;
}

int fedctl_parse_duration(const char *s, double *out)
{
	char *end;
	double v = 0, total = 0;

	if (!s || !*s)
		return -1;
	while (*s) {
		v = strtod(s, &end);
		if (end == s || v < 0)
			return -1;
		s = end;
		if (*s == 'h')
			total += v * 3600, s++;
		else if (*s == 'm' && s[1] == 's')
			total += v / 1000, s += 2;
		else if (*s == 'm')
			total += v * 60, s++;
		else if (*s == 's')
			total += v, s++;
		else if (!*s)
			total += v;
		else
			return -1;
	}
	*out = total;
	return 0;
}

int fedctl_apply_ref(struct fedctl *ctx, struct fed_kube_client *c, const struct fed_kube_ref *ref,
                     const cJSON *obj, cJSON **out, struct fed_error *err)
{
	struct fed_buf path = FED_BUF_INIT;
	char *body = cJSON_PrintUnformatted(obj);
	int ret;

	if (out)
		*out = NULL;
	if (!body || fed_kube_path(&path, ref) ||
	    fed_buf_puts(&path, "?fieldManager=fedctl&force=true") < 0)
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
	else
		ret = fedctl_call(ctx, c, "PATCH", path.data, body, "application/apply-patch+yaml",
		                  0, out, err);
	fed_buf_release(&path);
	free(body);
	return ret;
}

static const char empty_federation[] = "apiVersion: " FED_FEDERATION_API_VERSION "\n"
                                       "kind: " FED_FEDERATION_KIND "\n"
                                       "metadata:\n"
                                       "  name: federation\n"
                                       "spec:\n"
                                       "  clusters:\n";

static bool blank(const char *s)
{
	for (; s && *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

/* spec.clusters of the Federation document root, a sequence, made when
 * missing (spec and clusters may be absent or null). */
static int clusters_of(struct fy_document *doc, struct fy_node *root, struct fy_node **out,
                       struct fed_error *err)
{
	struct fy_node *spec = fy_node_mapping_lookup_by_string(root, "spec", FY_NT), *clusters;
	struct fy_node_pair *p;

	if (!spec || !fy_node_is_mapping(spec)) {
		p = fy_node_mapping_lookup_pair_by_string(root, "spec", FY_NT);
		spec = fy_node_create_mapping(doc);
		if (p)
			fy_node_pair_set_value(p, spec);
		else
			fy_node_mapping_append(root, fy_node_create_scalar(doc, "spec", 4), spec);
	}
	clusters = fy_node_mapping_lookup_by_string(spec, "clusters", FY_NT);
	if (!clusters || !fy_node_is_sequence(clusters)) {
		p = fy_node_mapping_lookup_pair_by_string(spec, "clusters", FY_NT);
		if (clusters && !fy_node_is_null(clusters))
			return fed_error_set(err, FED_EINVAL,
			                     "configmap kube-system/kubefed-config: spec.clusters "
			                     "is not a list; fix it and run again");
		clusters = fy_node_create_sequence(doc);
		if (p)
			fy_node_pair_set_value(p, clusters);
		else
			fy_node_mapping_append(spec, fy_node_create_scalar(doc, "clusters", 8),
			                       clusters);
	}
	*out = clusters;
	return 0;
}

/* The entry of clusters whose clusterName is name, NULL if none. */
static struct fy_node *find_entry(struct fy_node *clusters, const char *name)
{
	struct fy_node *item;
	void *it = NULL;

	while ((item = fy_node_sequence_iterate(clusters, &it))) {
		struct fy_node *n =
		    fy_node_is_mapping(item)
		        ? fy_node_mapping_lookup_by_string(item, "clusterName", FY_NT)
		        : NULL;
		size_t len = 0;
		const char *v = n ? fed_yaml_text(n, &len) : NULL;
		if (v && len == strlen(name) && !memcmp(v, name, len))
			return item;
	}
	return NULL;
}

/* Replace (or append, or with entry NULL remove) the spec.clusters entry
 * named name; everything else is re-emitted as parsed (comments are kept
 * where libfyaml can). */
int fedctl_federation_edit(const char *old_yaml, const char *name, const char *entry, char **out,
                           struct fed_error *err)
{
	struct fed_yaml_doc *ydoc = NULL;
	struct fy_document *doc;
	struct fy_node *root, *spec, *clusters = NULL, *found, *node;
	int ret = 0;

	*out = NULL;
	if (blank(old_yaml))
		old_yaml = empty_federation;
	/* through lib/yaml.c's guards: libfyaml mishandles some inputs */
	if (fed_yaml_parse_editable(&ydoc, old_yaml, strlen(old_yaml), "kubefed.yaml", err)) {
		char why[FED_ERROR_MSG_MAX];

		snprintf(why, sizeof(why), "%s", err->msg);
		return fed_error_set(
		    err, FED_EINVAL,
		    "configmap kube-system/kubefed-config: %.400s; fix it (kubectl -n "
		    "kube-system edit configmap kubefed-config) and run again",
		    why);
	}
	doc = fed_yaml_document(ydoc);
	root = doc ? fy_document_root(doc) : NULL; /* NULL: comments only */
	spec = root ? fy_node_mapping_lookup_by_string(root, "spec", FY_NT) : NULL;
	if (!root || !fy_node_is_mapping(root) ||
	    (spec && !fy_node_is_mapping(spec) && !fy_node_is_scalar(spec))) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "configmap kube-system/kubefed-config: kubefed.yaml is not a "
		                    "Federation document; fix it and run again");
		goto out;
	}
	if ((ret = clusters_of(doc, root, &clusters, err)))
		goto out;
	found = find_entry(clusters, name);
	if (entry) {
		node = fy_node_build_from_string(doc, entry, FY_NT);
		if (!node) {
			ret = fed_error_set(err, FED_ERR, "cannot build the cluster entry");
			goto out;
		}
		if (found ? fy_node_sequence_insert_after(clusters, found, node)
		          : fy_node_sequence_append(clusters, node)) {
			ret = fed_error_set(err, FED_ERR, "cannot edit spec.clusters");
			goto out;
		}
	}
	if (found)
		fy_node_free(fy_node_sequence_remove(clusters, found));
	*out = fy_emit_document_to_string(doc, FYECF_MODE_ORIGINAL | FYECF_OUTPUT_COMMENTS |
	                                           FYECF_INDENT_2 | FYECF_WIDTH_INF);
	if (!*out)
		ret = fed_error_set(err, FED_ENOMEM, "cannot emit kubefed.yaml");
out:
	fed_yaml_free(ydoc);
	return ret;
}
