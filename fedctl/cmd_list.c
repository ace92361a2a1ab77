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

#define CONFIGMAP_PATH "/api/v1/namespaces/kube-system/configmaps/kubefed-config"

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
	cm = fedctl_get(ctx, host, CONFIGMAP_PATH, &gerr);
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

static int get_both(struct fedctl *ctx, struct fed_kube_client *c, const char *const paths[2],
                    struct pget g[2], struct fed_error *err)
{
	struct fed_kube_call *calls[2] = {NULL, NULL};
	struct fed_kube_request req;
	int pending = 0, i;
	bool done = false;

	for (i = 0; i < 2; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		g[i].pending = &pending;
		g[i].done = &done;
	}
	for (i = 0; i < 2; i++) {
		memset(&req, 0, sizeof(req));
		req.method = "GET";
		req.path = paths[i];
		req.max_retries = -1;
		pending++;
		if (fed_kube_request(c, &req, pget_cb, &g[i], &calls[i], err)) {
			if (i)
				fed_kube_call_cancel(calls[0]);
			return err->code;
		}
	}
	if (fed_kube_wait(ctx->loop, &done, 60)) {
		for (i = 0; i < 2; i++)
			if (!g[i].answered)
				fed_kube_call_cancel(calls[i]);
		cJSON_Delete(g[0].json);
		cJSON_Delete(g[1].json);
		return fed_error_set(err, FED_ETIMEOUT, "no answer from %s within 60s",
		                     fed_kube_client_server(c));
	}
	return 0;
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

int cmd_list(struct fedctl *ctx, int argc, char **argv)
{
	const char *output = NULL;
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "output", 'o', &output, "FORMAT", "table, wide, json, yaml or name",
	     "table"},
	    FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *fed = NULL;
	struct fed_kube_client *host;
	struct fed_buf out = FED_BUF_INIT;
	enum fedctl_output fmt;
	cJSON *list = NULL, *items;
	char *args[1], path[512];
	size_t i;
	int nargs, ret;
	const struct fedctl_spec spec = {usage, examples, opts};
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
	if (fedctl_host(ctx, &host, &err))
		return fedctl_fail(&err);
	snprintf(path, sizeof(path), "/apis/core.kubefed.io/v1beta1/namespaces/%s/kubefedclusters",
	         ctx->fed_namespace);
	{
		const char *const paths[2] = {CONFIGMAP_PATH, path};
		struct pget g[2];
		if (get_both(ctx, host, paths, g, &err))
			return fedctl_fail(&err);
		list = g[1].json;
		if (g[0].err.code == FED_ENOTFOUND) {
			cJSON_Delete(g[0].json);
		} else if (g[0].err.code || federation_of(g[0].json, &fed, &err)) {
			if (g[0].err.code)
				err = g[0].err;
			cJSON_Delete(g[0].json);
			cJSON_Delete(list);
			return fedctl_fail(&err);
		} else {
			cJSON_Delete(g[0].json);
		}
		if (g[1].err.code && g[1].err.code != FED_ENOTFOUND && fed && fed->n) {
			fed_federation_free(fed);
			cJSON_Delete(list);
			return fedctl_fail(&g[1].err);
		}
	}
	items = cJSON_CreateArray();
	for (i = 0; fed && i < fed->n; i++) {
		const struct fed_cluster_spec *c = &fed->clusters[i];
		const cJSON *kfc;
		cJSON *row;
		if (!c->name) {
			fprintf(stderr, "warning: %s\n", c->err.msg);
			continue;
		}
		if (find_item(items, c->name))
			continue; /* a later duplicate: the first entry owns the name */
		kfc = find_item(cJSON_GetObjectItemCaseSensitive(list, "items"), c->name);
		if (kfc) {
			const cJSON *f;
			/* list items carry no kind; kubectl adds it too */
			row = cJSON_CreateObject();
			cJSON_AddStringToObject(row, "apiVersion", "core.kubefed.io/v1beta1");
			cJSON_AddStringToObject(row, "kind", "KubeFedCluster");
			cJSON_ArrayForEach(f, kfc) {
				if (strcmp(f->string, "apiVersion") && strcmp(f->string, "kind"))
					cJSON_AddItemToObject(row, f->string,
					                      cJSON_Duplicate(f, true));
			}
			/* as kubectl shows them (--show-managed-fields=false) */
			cJSON_DeleteItemFromObjectCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(row, "metadata"), "managedFields");
		} else {
			row = placeholder(c);
		}
		cJSON_AddItemToArray(items, row);
	}
	fed_federation_free(fed);
	cJSON_Delete(list);
	if (!cJSON_GetArraySize(items) && fmt != FEDCTL_OUT_JSON && fmt != FEDCTL_OUT_YAML) {
		cJSON_Delete(items);
		fprintf(stderr, "No clusters joined.\n");
		return EXIT_OK;
	}
	if (fedctl_format_clusters(&out, items, fmt, time(NULL))) {
		cJSON_Delete(items);
		fed_buf_release(&out);
		fed_error_set(&err, FED_ENOMEM, "out of memory");
		return fedctl_fail(&err);
	}
	if (!cJSON_GetArraySize(items))
		fprintf(stderr, "No clusters joined.\n");
	fwrite(fed_buf_str(&out), 1, out.len, stdout);
	fed_buf_release(&out);
	cJSON_Delete(items);
	return EXIT_OK;
}
