/* fedctl enable TYPE, as kubefedctl does: the Federated<Kind> CRD and the
 * FederatedTypeConfig of a type the host serves (rendered by
 * apis/federated_type.c, like manifests/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enable.h"
#include "join.h"

static const char usage[] = "fedctl enable TYPE [-o yaml|json] [--dry-run] [--member-role-dir DIR]";
static const char examples[] =
    "  fedctl enable configmaps\n"
    "  fedctl enable deployments.apps\n"
    "  # a custom resource (its CRD must be installed on the host)\n"
    "  fedctl enable widgets.example.com\n"
    "  # print the CRD and the FederatedTypeConfig instead of applying them\n"
    "  fedctl enable widgets.example.com -o yaml\n";

struct enable_opts {
	const char *type, *output, *role_dir;
	enum fedctl_output fmt;
	bool dry_run;
};

/* argv -> o; an exit code when the command stops here, else -1. */
static int parse(struct fedctl *ctx, struct enable_opts *o, int argc, char **argv)
{
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "output", 'o', &o->output, "FORMAT",
	     "yaml or json: print the CRD and the FederatedTypeConfig, apply nothing", NULL},
	    {FED_OPT_BOOL, "dry-run", 0, &o->dry_run, NULL, "print what would be done", NULL},
	    {FED_OPT_STRING, "member-role-dir", 0, &o->role_dir, "DIR", FEDCTL_ROLE_DIR_HELP, "."},
	    FED_OPT_TABLE_END,
	};
	const struct fedctl_spec spec = {usage, examples, opts};
	char *args[1];
	int nargs, ret;
	bool stop;

	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 1, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if (nargs != 1) {
		fprintf(stderr,
		        "error: enable needs the TYPE (e.g. configmaps, widgets.example.com)"
		        "\nUsage: %s\n",
		        usage);
		return EXIT_USAGE;
	}
	o->fmt = FEDCTL_OUT_TABLE;
	if (o->output && (fedctl_output_parse(o->output, &o->fmt) ||
	                  (o->fmt != FEDCTL_OUT_YAML && o->fmt != FEDCTL_OUT_JSON))) {
		fprintf(stderr, "error: --output must be yaml or json, not \"%s\"\n", o->output);
		return EXIT_USAGE;
	}
	o->type = args[0];
	return -1;
}

/* -o yaml|json: the two objects, as kubectl prints them. */
static int print_objects(enum fedctl_output fmt, cJSON *crd, cJSON *ftc, struct fed_error *err)
{
	struct fed_buf out = FED_BUF_INIT;
	int ret;

	if (fmt == FEDCTL_OUT_YAML) {
		ret = fedctl_yaml(&out, crd);
		fed_buf_printf(&out, "---\n");
		ret = ret ? ret : fedctl_yaml(&out, ftc);
	} else {
		cJSON *list = cJSON_CreateObject(), *items;
		cJSON_AddStringToObject(list, "apiVersion", "v1");
		items = cJSON_AddArrayToObject(list, "items");
		cJSON_AddItemReferenceToArray(items, crd);
		cJSON_AddItemReferenceToArray(items, ftc);
		cJSON_AddStringToObject(list, "kind", "List");
		ret = fedctl_json(&out, list);
		cJSON_Delete(list);
	}
	if (ret)
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
	else
		fwrite(fed_buf_str(&out), 1, out.len, stdout);
	fed_buf_release(&out);
	return ret;
}

/* The CRD, then (once it is served, so that the controller does not start
 * on a CRD that is not there yet) the members' roles (so that the
 * controller's first write of the type in a member is allowed), then the
 * FederatedTypeConfig. */
static int apply_all(struct fedctl *ctx, struct fed_kube_client *host, const struct enable_opts *o,
                     const struct fedctl_type *d, cJSON *crd, cJSON *ftc, struct fed_error *err)
{
	const struct fed_kube_ref crd_ref = {&fed_r_crds, NULL, fed_obj_name(crd), NULL};
	const struct fed_kube_ref ftc_ref = {&fed_r_federatedtypeconfigs, ctx->fed_namespace,
	                                     fed_obj_name(ftc), NULL};
	const struct fedctl_agent_rule add = {d->group, d->plural};
	char what[600];
	int ret;

	snprintf(what, sizeof(what), "customresourcedefinition %s", fed_obj_name(crd));
	if ((ret = fedctl_apply(ctx, host, what, &crd_ref, crd, o->dry_run, err)) ||
	    (!o->dry_run && (ret = fedctl_wait_established(ctx, host, fed_obj_name(crd), err))) ||
	    (ret = fedctl_member_roles_sync(ctx, host, &add, NULL, o->role_dir, o->dry_run, err)))
		return ret;
	snprintf(what, sizeof(what), "federatedtypeconfig %s/%s", ctx->fed_namespace,
	         fed_obj_name(ftc));
	if (fedctl_apply(ctx, host, what, &ftc_ref, ftc, o->dry_run, err))
		return fed_error_wrap(err, "the CRD is in place: run enable again to finish");
	return 0;
}

int cmd_enable(struct fedctl *ctx, int argc, char **argv)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client *host;
	struct enable_opts o;
	struct fedctl_type d;
	struct fed_type_config t;
	cJSON *crd = NULL, *ftc = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&d, 0, sizeof(d));
	memset(&t, 0, sizeof(t));
	if ((rc = parse(ctx, &o, argc, argv)) >= 0)
		goto out;
	rc = EXIT_OK;
	if (fedctl_host(ctx, &host, &err) || fedctl_discover_type(ctx, host, o.type, &d, &err) ||
	    fedctl_enable_render(&d, ctx->fed_namespace, &t, &crd, &ftc, &err))
		rc = fedctl_fail(&err);
	else if (o.output)
		rc = print_objects(o.fmt, crd, ftc, &err) ? fedctl_fail(&err) : EXIT_OK;
	else if (apply_all(ctx, host, &o, &d, crd, ftc, &err))
		rc = fedctl_fail(&err);
	else if (!o.dry_run)
		printf("type %s enabled: create %s objects (%s/%s) to propagate it\n", t.name,
		       t.federated.kind, t.federated.group, t.federated.version);
out:
	cJSON_Delete(crd);
	cJSON_Delete(ftc);
	fed_type_config_release(&t);
	fedctl_type_release(&d);
	return rc;
}
