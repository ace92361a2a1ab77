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

/* A GET (of a list with o) that treats 404 as "nothing": returns NULL with
 * err->code 0. */
static cJSON *get_opt(struct fedctl *ctx, struct fed_kube_client *host,
                      const struct fed_kube_ref *ref, const struct fed_kube_list_opts *o,
                      struct fed_error *err)
{
	cJSON *j = NULL;

	fedctl_list_ref(ctx, host, ref, o, &j, err);
	if (!j && err->code == FED_ENOTFOUND)
		*err = (struct fed_error)FED_ERROR_INIT;
	return j;
}

/* The objects of a federated type list that report on cluster name. */
static void placed_in(const cJSON *objs, const char *kind, const char *name, cJSON *out)
{
	const cJSON *it, *c;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(objs, "items")) {
		cJSON_ArrayForEach(
		    c, cJSON_GetObjectItemCaseSensitive(
		           cJSON_GetObjectItemCaseSensitive(it, "status"), "clusters")) {
			const char *n = fed_obj_str(c, "name");
			cJSON *r;
			if (!n || strcmp(n, name))
				continue;
			r = cJSON_CreateObject();
			cJSON_AddStringToObject(r, "kind", kind);
			if (fed_obj_namespace(it))
				cJSON_AddStringToObject(r, "namespace", fed_obj_namespace(it));
			cJSON_AddStringToObject(r, "name",
			                        fed_obj_name(it) ? fed_obj_name(it) : "");
			cJSON_AddStringToObject(
			    r, "status", fed_obj_str(c, "status") ? fed_obj_str(c, "status") : "");
			if (fed_obj_str(c, "message"))
				cJSON_AddStringToObject(r, "message", fed_obj_str(c, "message"));
			cJSON_AddItemToArray(out, r);
			break;
		}
	}
}

/* Federated objects of every FederatedTypeConfig placed on name. */
static void placed_resources(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                             cJSON *out)
{
	const struct fed_kube_ref ftcs_ref = {&fed_r_federatedtypeconfigs, ctx->fed_namespace, NULL,
	                                      NULL};
	const struct fed_kube_list_opts all = {0};
	struct fed_error err = FED_ERROR_INIT;
	const cJSON *ftc;
	cJSON *ftcs;

	ftcs = get_opt(ctx, host, &ftcs_ref, &all, &err);
	if (err.code)
		fprintf(stderr, "warning: listing federatedtypeconfigs: %s\n", err.msg);
	cJSON_ArrayForEach(ftc, cJSON_GetObjectItemCaseSensitive(ftcs, "items")) {
		const char *g = fed_obj_str(ftc, "spec.federatedType.group");
		const char *v = fed_obj_str(ftc, "spec.federatedType.version");
		const char *p = fed_obj_str(ftc, "spec.federatedType.pluralName");
		const char *kind = fed_obj_str(ftc, "spec.federatedType.kind");
		struct fed_kube_resource r = fedctl_resource(g, v, p, true);
		const struct fed_kube_ref objs_ref = {&r, NULL, NULL, NULL};
		cJSON *objs;
		if (!v || !p)
			continue;
		err = (struct fed_error)FED_ERROR_INIT;
		objs = get_opt(ctx, host, &objs_ref, &all, &err);
		if (err.code && ctx->verbosity >= 2)
			fprintf(stderr, "warning: listing %s: %s\n", p, err.msg);
		placed_in(objs, kind ? kind : p, name, out);
		cJSON_Delete(objs);
	}
	cJSON_Delete(ftcs);
}

/* The cluster's recent events, into d. */
static void add_events(struct fedctl *ctx, struct fed_kube_client *host, const char *name, cJSON *d)
{
	const struct fed_kube_ref ref = {&fed_r_events, ctx->fed_namespace, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf sel = FED_BUF_INIT;
	struct fed_kube_list_opts o = {0};
	cJSON *events;

	fed_buf_printf(&sel, "involvedObject.name=%s", name);
	o.field_selector = fed_buf_str(&sel);
	events = get_opt(ctx, host, &ref, &o, &err);
	fed_buf_release(&sel);
	if (err.code)
		fprintf(stderr, "warning: listing events: %s\n", err.msg);
	if (events) {
		cJSON *items = cJSON_DetachItemFromObjectCaseSensitive(events, "items");
		if (items)
			cJSON_AddItemToObject(d, "events", items);
		cJSON_Delete(events);
	}
}

/* What describe shows of the joined cluster name (its entry cspec). */
static int describe_doc(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                        const struct fed_cluster_spec *cspec, cJSON **out, struct fed_error *err)
{
	const struct fed_kube_ref kfc_ref = {&fed_r_kubefedclusters, ctx->fed_namespace, name,
	                                     NULL};
	cJSON *d = cJSON_CreateObject(), *kfc = NULL;

	cJSON_AddStringToObject(d, "name", name);
	cJSON_AddStringToObject(d, "namespace", ctx->fed_namespace);
	cJSON_AddItemToObject(d, "entry", entry_json(cspec));
	kfc = fedctl_get_ref(ctx, host, &kfc_ref, err);
	if (!kfc && err->code != FED_ENOTFOUND) {
		cJSON_Delete(d);
		return err->code;
	}
	fed_error_clear(err);
	if (kfc)
		cJSON_AddItemToObject(d, "cluster", kfc);
	placed_resources(ctx, host, name, cJSON_AddArrayToObject(d, "resources"));
	add_events(ctx, host, name, d);
	*out = d;
	return 0;
}

int cmd_describe(struct fedctl *ctx, int argc, char **argv)
{
	const struct fedctl_spec spec = {usage, examples, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *fed = NULL;
	const struct fed_cluster_spec *cspec = NULL;
	struct fed_kube_client *host;
	struct fed_buf out = FED_BUF_INIT;
	cJSON *d = NULL;
	char *args[2];
	size_t i;
	int nargs, ret, rc = EXIT_OK;
	bool stop;

	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 2, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if (nargs != 1) {
		fprintf(stderr, "error: %s\nUsage: %s\n",
		        nargs ? "describe takes one cluster name" : "which cluster? give its name",
		        usage);
		return EXIT_USAGE;
	}
	if (fedctl_host(ctx, &host, &err) || fedctl_load_federation(ctx, host, &fed, &err)) {
		rc = fedctl_fail(&err);
		goto out;
	}
	for (i = 0; fed && i < fed->n && !cspec; i++)
		if (fed->clusters[i].name && !strcmp(fed->clusters[i].name, args[0]))
			cspec = &fed->clusters[i];
	if (!cspec) {
		fprintf(
		    stderr,
		    "error: cluster \"%s\" is not joined (fedctl list shows the joined clusters)\n",
		    args[0]);
		rc = EXIT_FAIL;
	} else if (describe_doc(ctx, host, args[0], cspec, &d, &err) ||
	           (fedctl_format_describe(&out, d, time(NULL)) &&
	            fed_error_set(&err, FED_ENOMEM, "out of memory"))) {
		rc = fedctl_fail(&err);
	} else {
		fwrite(fed_buf_str(&out), 1, out.len, stdout);
	}
out:
	fed_federation_free(fed);
	cJSON_Delete(d);
	fed_buf_release(&out);
	return rc;
}
