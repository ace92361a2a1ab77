/* fedctl describe NAME: one joined cluster in detail: its entry in the
 * Federation ConfigMap, what fed-controller reports (KubeFedCluster), the
 * federated objects placed there and its recent events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fed/federation.h"
#include "fedctl.h"

static const char usage[] = "fedctl describe NAME";
static const char examples[] =
    "  # addresses, conditions, cluster facts, placed resources and events\n"
    "  fedctl describe cluster1\n"
    "  # in a federation using another namespace\n"
    "  fedctl describe cluster1 --federation-namespace my-federation\n";

static cJSON *entry_json(const struct fed_cluster_spec *c)
{
	cJSON *e = cJSON_CreateObject(), *addrs;
	size_t i;

	cJSON_AddStringToObject(e, "mode", c->mode == FED_CLUSTER_AGENT ? "agent" : "direct");
	cJSON_AddBoolToObject(e, "disabled", c->disabled);
	if (c->err.code)
		cJSON_AddStringToObject(e, "error", c->err.msg);
	addrs = cJSON_AddArrayToObject(e, "addresses");
	for (i = 0; i < c->n_addrs; i++) {
		cJSON *a = cJSON_CreateObject();
		if (c->addrs[i].client_cidr)
			cJSON_AddStringToObject(a, "clientCIDR", c->addrs[i].client_cidr);
		if (c->addrs[i].server_address)
			cJSON_AddStringToObject(a, "serverAddress", c->addrs[i].server_address);
		if (c->addrs[i].server_url)
			cJSON_AddStringToObject(a, "serverURL", c->addrs[i].server_url);
		cJSON_AddItemToArray(addrs, a);
	}
	return e;
}

/* GET that treats 404 as "nothing": returns NULL with err->code 0. */
static cJSON *get_opt(struct fedctl *ctx, struct fed_kube_client *host, const char *path,
                      struct fed_error *err)
{
	cJSON *j = fedctl_get(ctx, host, path, err);

	if (!j && err->code == FED_ENOTFOUND)
		*err = (struct fed_error)FED_ERROR_INIT;
	return j;
}

/* Federated objects of every FederatedTypeConfig placed on name. */
static void placed_resources(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                             cJSON *out)
{
	struct fed_error err = FED_ERROR_INIT;
	const cJSON *ftc, *it, *c;
	char path[768];
	cJSON *ftcs;

	snprintf(path, sizeof(path),
	         "/apis/core.kubefed.io/v1beta1/namespaces/%s/federatedtypeconfigs",
	         ctx->fed_namespace);
	ftcs = get_opt(ctx, host, path, &err);
	if (err.code)
		fprintf(stderr, "warning: listing federatedtypeconfigs: %s\n", err.msg);
	cJSON_ArrayForEach(ftc, cJSON_GetObjectItemCaseSensitive(ftcs, "items")) {
		const char *g = fed_obj_str(ftc, "spec.federatedType.group");
		const char *v = fed_obj_str(ftc, "spec.federatedType.version");
		const char *p = fed_obj_str(ftc, "spec.federatedType.pluralName");
		const char *kind = fed_obj_str(ftc, "spec.federatedType.kind");
		cJSON *objs;
		if (!v || !p)
			continue;
		if (g && *g)
			snprintf(path, sizeof(path), "/apis/%s/%s/%s", g, v, p);
		else
			snprintf(path, sizeof(path), "/api/%s/%s", v, p);
		err = (struct fed_error)FED_ERROR_INIT;
		objs = get_opt(ctx, host, path, &err);
		if (err.code && ctx->verbosity >= 2)
			fprintf(stderr, "warning: listing %s: %s\n", p, err.msg);
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(objs, "items")) {
			cJSON_ArrayForEach(
			    c, cJSON_GetObjectItemCaseSensitive(
			           cJSON_GetObjectItemCaseSensitive(it, "status"), "clusters")) {
				const char *n = fed_obj_str(c, "name");
				cJSON *r;
				if (!n || strcmp(n, name))
					continue;
				r = cJSON_CreateObject();
				cJSON_AddStringToObject(r, "kind", kind ? kind : p);
				if (fed_obj_namespace(it))
					cJSON_AddStringToObject(r, "namespace",
					                        fed_obj_namespace(it));
				cJSON_AddStringToObject(r, "name",
				                        fed_obj_name(it) ? fed_obj_name(it) : "");
				cJSON_AddStringToObject(
				    r, "status",
				    fed_obj_str(c, "status") ? fed_obj_str(c, "status") : "");
				if (fed_obj_str(c, "message"))
					cJSON_AddStringToObject(r, "message",
					                        fed_obj_str(c, "message"));
				cJSON_AddItemToArray(out, r);
				break;
			}
		}
		cJSON_Delete(objs);
	}
	cJSON_Delete(ftcs);
}

int cmd_describe(struct fedctl *ctx, int argc, char **argv)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *fed = NULL;
	const struct fed_cluster_spec *cspec = NULL;
	struct fed_kube_client *host;
	struct fed_buf out = FED_BUF_INIT, q = FED_BUF_INIT;
	cJSON *d, *kfc, *events;
	char *args[2], path[768];
	const char *name;
	size_t i;
	int nargs, ret;
	const struct fedctl_spec spec = {usage, examples, NULL};
	bool stop;

	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 2, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if (nargs != 1) {
		fprintf(stderr, "error: %s\nUsage: %s\n",
		        nargs ? "describe takes one cluster name" : "which cluster? give its name",
		        usage);
		return EXIT_USAGE;
	}
	name = args[0];
	if (fedctl_host(ctx, &host, &err))
		return fedctl_fail(&err);
	if (fedctl_load_federation(ctx, host, &fed, &err))
		return fedctl_fail(&err);
	for (i = 0; fed && i < fed->n && !cspec; i++)
		if (fed->clusters[i].name && !strcmp(fed->clusters[i].name, name))
			cspec = &fed->clusters[i];
	if (!cspec) {
		fed_federation_free(fed);
		fprintf(
		    stderr,
		    "error: cluster \"%s\" is not joined (fedctl list shows the joined clusters)\n",
		    name);
		return EXIT_FAIL;
	}
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "name", name);
	cJSON_AddStringToObject(d, "namespace", ctx->fed_namespace);
	cJSON_AddItemToObject(d, "entry", entry_json(cspec));
	fed_federation_free(fed);

	snprintf(path, sizeof(path),
	         "/apis/core.kubefed.io/v1beta1/namespaces/%s/kubefedclusters/%s",
	         ctx->fed_namespace, name);
	kfc = get_opt(ctx, host, path, &err);
	if (err.code) {
		cJSON_Delete(d);
		return fedctl_fail(&err);
	}
	if (kfc)
		cJSON_AddItemToObject(d, "cluster", kfc);
	placed_resources(ctx, host, name, cJSON_AddArrayToObject(d, "resources"));

	fed_buf_printf(&q, "/api/v1/namespaces/%s/events?fieldSelector=", ctx->fed_namespace);
	{
		struct fed_buf sel = FED_BUF_INIT;
		fed_buf_printf(&sel, "involvedObject.name=%s", name);
		fed_buf_urlencode(&q, fed_buf_str(&sel));
		fed_buf_release(&sel);
	}
	events = get_opt(ctx, host, fed_buf_str(&q), &err);
	fed_buf_release(&q);
	if (err.code)
		fprintf(stderr, "warning: listing events: %s\n", err.msg);
	if (events) {
		cJSON *items = cJSON_DetachItemFromObjectCaseSensitive(events, "items");
		if (items)
			cJSON_AddItemToObject(d, "events", items);
		cJSON_Delete(events);
	}
	ret = fedctl_format_describe(&out, d, time(NULL));
	cJSON_Delete(d);
	if (ret) {
		fed_buf_release(&out);
		fed_error_set(&err, FED_ENOMEM, "out of memory");
		return fedctl_fail(&err);
	}
	fwrite(fed_buf_str(&out), 1, out.len, stdout);
	fed_buf_release(&out);
	return EXIT_OK;
}
