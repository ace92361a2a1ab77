/* fedctl list: the joined clusters (the Federation ConfigMap) with what
 * fed-controller reports about each (its KubeFedCluster). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fed/federation.h"
#include "fedctl.h"

static const char usage[] = "fedctl list [-o table|wide|json|yaml|name]";
static const char examples[] =
    "  # the joined clusters and their health\n"
    "  fedctl list\n"
    "  # with the chosen address, distribution and infrastructure\n"
    "  fedctl list -o wide\n"
    "  # the KubeFedCluster objects\n"
    "  fedctl list -o yaml\n"
    "  # against another host cluster\n"
    "  fedctl list --host-cluster-context host --kubeconfig ~/.kube/fed\n";

static const struct fed_kube_ref federation_cm = {&fed_r_configmaps, FEDCTL_CONFIG_NS,
                                                  FEDCTL_CONFIGMAP, NULL};

/* The Federation in a kubefed-config ConfigMap object. */
static int federation_of(const cJSON *cm, struct fed_federation **out, struct fed_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cm, "data"), "kubefed.yaml");

	if (!cJSON_IsString(v))
		return fed_error_set(err, FED_EINVAL,
		                     "configmap kube-system/kubefed-config has no key kubefed.yaml "
		                     "(fedctl join writes it)");
	return fed_federation_parse(out, v->valuestring, strlen(v->valuestring),
	                            "configmap kube-system/kubefed-config key kubefed.yaml", err);
}

int fedctl_load_federation(struct fedctl *ctx, struct fed_kube_client *host,
                           struct fed_federation **out, struct fed_error *err)
{
	struct fed_error gerr = FED_ERROR_INIT;
	cJSON *cm;
	int ret;

	*out = NULL;
	cm = fedctl_get_ref(ctx, host, &federation_cm, &gerr);
	if (!cm) {
		if (gerr.code == FED_ENOTFOUND)
			return 0;
		*err = gerr;
		return err->code;
	}
	ret = federation_of(cm, out, err);
	cJSON_Delete(cm);
	return ret;
}

/* Two GETs at once (one round trip instead of two). */
struct pget {
	int *pending;
	bool *done;
	bool answered;
	cJSON *json;
	struct fed_error err;
};

static void pget_cb(struct fed_kube_response *resp, void *ud)
{
	struct pget *g = ud;

	g->answered = true;
	g->err = resp->err;
	g->json = resp->json;
	resp->json = NULL;
	if (--*g->pending == 0)
		*g->done = true;
}

static int get_both(struct fedctl *ctx, struct fed_kube_client *c,
                    const struct fed_kube_ref *const refs[2], struct pget g[2],
                    struct fed_error *err)
{
	struct fed_kube_call *calls[2] = {NULL, NULL};
	struct fed_buf paths[2] = {FED_BUF_INIT, FED_BUF_INIT};
	int pending = 0, i, ret = 0;
	bool done = false;

	for (i = 0; i < 2; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		g[i].pending = &pending;
		g[i].done = &done;
	}
	for (i = 0; i < 2 && !ret; i++) {
		struct fed_kube_request req = {.method = "GET", .max_retries = -1};
		if (fed_kube_path(&paths[i], refs[i])) {
			ret = fed_error_set(err, FED_ENOMEM, "out of memory");
			continue;
		}
		req.path = paths[i].data;
		pending++;
		ret = fed_kube_request(c, &req, pget_cb, &g[i], &calls[i], err);
	}
	if (ret && i > 1) /* the second failed: the first is under way */
		fed_kube_call_cancel(calls[0]);
	if (!ret && fed_kube_wait(ctx->loop, &done, 60)) {
		for (i = 0; i < 2; i++)
			if (!g[i].answered)
				fed_kube_call_cancel(calls[i]);
		cJSON_Delete(g[0].json);
		cJSON_Delete(g[1].json);
		ret = fed_error_set(err, FED_ETIMEOUT, "no answer from %s within 60s",
		                    fed_kube_client_server(c));
	}
	fed_buf_release(&paths[0]);
	fed_buf_release(&paths[1]);
	return ret;
}

static const cJSON *find_item(const cJSON *items, const char *name)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, items) {
		const char *n = fed_obj_name(it);
		if (n && !strcmp(n, name))
			return it;
	}
	return NULL;
}

/* A row for a joined cluster fed-controller has not written yet. */
static cJSON *placeholder(const struct fed_cluster_spec *c)
{
	cJSON *o = cJSON_CreateObject(), *cond;

	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "metadata"), "name", c->name);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "spec"), "mode",
	                        c->mode == FED_CLUSTER_AGENT ? "agent" : "direct");
	cond = cJSON_CreateObject();
	cJSON_AddStringToObject(cond, "type", "Ready");
	cJSON_AddStringToObject(cond, "status", c->err.code ? "False" : "Unknown");
	if (c->err.code)
		cJSON_AddStringToObject(cond, "reason", "InvalidConfig");
	cJSON_AddItemToArray(
	    cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "status"), "conditions"), cond);
	return o;
}

/* The Federation (NULL when the ConfigMap is missing) and the list of
 * KubeFedClusters (NULL when there is none to read), in one round trip. */
static int load(struct fedctl *ctx, struct fed_kube_client *host, struct fed_federation **fed,
                cJSON **list, struct fed_error *err)
{
	const struct fed_kube_ref kfcs = {&fed_r_kubefedclusters, ctx->fed_namespace, NULL, NULL};
	const struct fed_kube_ref *const refs[2] = {&federation_cm, &kfcs};
	struct pget g[2];
	int ret;

	if ((ret = get_both(ctx, host, refs, g, err)))
		return ret;
	*list = g[1].json;
	if (g[0].err.code && g[0].err.code != FED_ENOTFOUND) {
		*err = g[0].err;
		ret = err->code;
	} else if (!g[0].err.code) {
		ret = federation_of(g[0].json, fed, err);
	}
	cJSON_Delete(g[0].json);
	if (!ret && g[1].err.code && g[1].err.code != FED_ENOTFOUND && *fed && (*fed)->n) {
		*err = g[1].err;
		ret = err->code;
	}
	return ret;
}

/* A KubeFedCluster list item as kubectl shows it: with its kind, without
 * managedFields (--show-managed-fields=false). */
static cJSON *kfc_row(const cJSON *kfc)
{
	cJSON *row = cJSON_CreateObject();
	const cJSON *f;

	cJSON_AddStringToObject(row, "apiVersion", "core.kubefed.io/v1beta1");
	cJSON_AddStringToObject(row, "kind", "KubeFedCluster");
	cJSON_ArrayForEach(f, kfc) {
		if (strcmp(f->string, "apiVersion") && strcmp(f->string, "kind"))
			cJSON_AddItemToObject(row, f->string, cJSON_Duplicate(f, true));
	}
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(row, "metadata"),
	                                        "managedFields");
	return row;
}

/* One row per joined cluster, in the ConfigMap's order. */
static cJSON *rows(const struct fed_federation *fed, const cJSON *list)
{
	cJSON *items = cJSON_CreateArray();
	size_t i;

	for (i = 0; fed && i < fed->n; i++) {
		const struct fed_cluster_spec *c = &fed->clusters[i];
		const cJSON *kfc;
		if (!c->name) {
			fprintf(stderr, "warning: %s\n", c->err.msg);
			continue;
		}
		if (find_item(items, c->name))
			continue; /* a later duplicate: the first entry owns the name */
		kfc = find_item(cJSON_GetObjectItemCaseSensitive(list, "items"), c->name);
		cJSON_AddItemToArray(items, kfc ? kfc_row(kfc) : placeholder(c));
	}
	return items;
}

int cmd_list(struct fedctl *ctx, int argc, char **argv)
{
	const char *output = NULL;
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "output", 'o', &output, "FORMAT", "table, wide, json, yaml or name",
	     "table"},
	    FED_OPT_TABLE_END,
	};
	const struct fedctl_spec spec = {usage, examples, opts};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *fed = NULL;
	struct fed_kube_client *host;
	struct fed_buf out = FED_BUF_INIT;
	enum fedctl_output fmt;
	cJSON *list = NULL, *items = NULL;
	char *args[1];
	int nargs, ret, rc = EXIT_OK;
	bool stop;

	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 0, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if (fedctl_output_parse(output, &fmt)) {
		fprintf(stderr,
		        "error: --output must be table, wide, json, yaml or name, not \"%s\"\n"
		        "Usage: %s\n",
		        output, usage);
		return EXIT_USAGE;
	}
	if (fedctl_host(ctx, &host, &err) || load(ctx, host, &fed, &list, &err)) {
		rc = fedctl_fail(&err);
		goto out;
	}
	items = rows(fed, list);
	if (!cJSON_GetArraySize(items) && fmt != FEDCTL_OUT_JSON && fmt != FEDCTL_OUT_YAML) {
		fprintf(stderr, "No clusters joined.\n");
		goto out;
	}
	if (fedctl_format_clusters(&out, items, fmt, time(NULL))) {
		fed_error_set(&err, FED_ENOMEM, "out of memory");
		rc = fedctl_fail(&err);
		goto out;
	}
	if (!cJSON_GetArraySize(items))
		fprintf(stderr, "No clusters joined.\n");
	fwrite(fed_buf_str(&out), 1, out.len, stdout);
out:
	fed_federation_free(fed);
	cJSON_Delete(list);
	cJSON_Delete(items);
	fed_buf_release(&out);
	return rc;
}
