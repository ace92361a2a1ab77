/* fedctl disable TYPE, as kubefedctl does: deletes the FederatedTypeConfig
 * (and with --delete-crd the Federated<Kind> CRD, never while federated
 * objects of it exist). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enable.h"
#include "join.h"

static const char usage[] =
    "fedctl disable TYPE [--delete-crd] [--dry-run] [--member-role-dir DIR]";
static const char examples[] =
    "  fedctl disable widgets.example.com\n"
    "  # also the Federated<Kind> CRD, and with it every federated object of the type\n"
    "  fedctl disable widgets.example.com --delete-crd\n";

struct disable_opts {
	const char *type, *role_dir;
	bool dry_run, delete_crd;
};

/* argv -> o; an exit code when the command stops here, else -1. */
static int parse(struct fedctl *ctx, struct disable_opts *o, int argc, char **argv)
{
	const struct fed_opt opts[] = {
	    {FED_OPT_BOOL, "delete-crd", 0, &o->delete_crd, NULL,
	     "also delete the Federated<Kind> CRD, and with it every federated object of the "
	     "type",
	     NULL},
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
		fprintf(stderr, "error: disable needs the TYPE\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	o->type = args[0];
	return -1;
}

/* The plan: names from discovery and the FTC (*ftc NULL when none). */
static int plan(struct fedctl *ctx, struct fed_kube_client *host, const struct disable_opts *o,
                struct fedctl_disable_plan *p, cJSON **ftc, struct fed_error *err)
{
	struct fed_type_config t;
	struct fedctl_type d;
	int ret = fedctl_discover_type(ctx, host, o->type, &d, err);

	memset(&t, 0, sizeof(t));
	if (ret && ret != FED_ENOTFOUND)
		return ret;
	fedctl_disable_name(ret ? NULL : &d, o->type, p);
	fedctl_type_release(&d);
	fed_error_clear(err);
	{
		const struct fed_kube_ref ref = {&fed_r_federatedtypeconfigs, ctx->fed_namespace,
		                                 p->name, NULL};
		ret = fedctl_call_ref(ctx, host, "GET", &ref, NULL, NULL, 0, ftc, err);
	}
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: get federatedtypeconfig %s/%s",
		                      ctx->fed_namespace, p->name);
	ret = *ftc ? fed_type_config_parse(*ftc, &t, err) : FED_ENOTFOUND;
	fedctl_disable_plan(ret ? NULL : &t, p);
	fed_type_config_release(&t);
	fed_error_clear(err);
	return 0;
}

static int delete_ftc(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                      struct fed_error *err)
{
	const struct fed_kube_ref ref = {&fed_r_federatedtypeconfigs, ctx->fed_namespace, name,
	                                 NULL};
	int ret = fedctl_call_ref(ctx, host, "DELETE", &ref, NULL, NULL, 0, NULL, err);

	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: delete federatedtypeconfig %s/%s%s",
		                      ctx->fed_namespace, name,
		                      ret == FED_EFORBIDDEN ? " (needs delete on it)" : "");
	fed_error_clear(err);
	printf("host: federatedtypeconfig %s/%s deleted: fed-controller stops propagating %s\n",
	       ctx->fed_namespace, name, name);
	return 0;
}

/* kubefedctl's rule: never take federated objects down with the CRD. */
static int delete_crd(struct fedctl *ctx, struct fed_kube_client *host,
                      const struct fedctl_disable_plan *p, bool dry_run, struct fed_error *err)
{
	const struct fed_kube_resource fr =
	    fedctl_resource(p->fed_group, p->fed_version, p->fed_plural, true);
	const struct fed_kube_ref objects = {&fr, NULL, NULL, NULL};
	const struct fed_kube_ref crd = {&fed_r_crds, NULL, p->crd_name, NULL};
	const struct fed_kube_list_opts one = {.limit = 1};
	cJSON *l = NULL;
	int ret = fedctl_list_ref(ctx, host, &objects, &one, &l, err);
	int n = cJSON_GetArraySize(cJSON_GetObjectItem(l, "items"));

	cJSON_Delete(l);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: list %s", p->crd_name);
	fed_error_clear(err);
	if (!ret && n > 0)
		return fed_error_set(err, FED_EINVAL,
		                     "cannot delete customresourcedefinition %s while objects of "
		                     "it exist: delete them first (kubectl get %s -A)",
		                     p->crd_name, p->fed_plural);
	if (dry_run) {
		printf("host: customresourcedefinition %s would be deleted (dry run)\n",
		       p->crd_name);
		return 0;
	}
	ret = fedctl_call_ref(ctx, host, "DELETE", &crd, NULL, NULL, 0, NULL, err);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: delete customresourcedefinition %s%s",
		                      p->crd_name,
		                      ret == FED_EFORBIDDEN ? " (needs delete on it)" : "");
	fed_error_clear(err);
	printf("host: customresourcedefinition %s %s\n", p->crd_name,
	       ret ? "not found" : "deleted");
	return 0;
}

int cmd_disable(struct fedctl *ctx, int argc, char **argv)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client *host;
	struct fedctl_disable_plan p;
	struct disable_opts o;
	cJSON *ftc = NULL;
	int rc, ret = 0;

	memset(&o, 0, sizeof(o));
	if ((rc = parse(ctx, &o, argc, argv)) >= 0)
		goto out;
	if ((ret = fedctl_host(ctx, &host, &err)) || (ret = plan(ctx, host, &o, &p, &ftc, &err)))
		goto out;
	if (!ftc)
		printf("type %s is not enabled (no federatedtypeconfig %s/%s): nothing to do\n",
		       p.name, ctx->fed_namespace, p.name);
	else if (o.dry_run)
		printf("host: federatedtypeconfig %s/%s would be deleted (dry run)\n",
		       ctx->fed_namespace, p.name);
	else if ((ret = delete_ftc(ctx, host, p.name, &err)))
		goto out;
	/* the type's rule leaves the members' roles (also when the type was
	 * disabled by hand: the stale rule goes too) */
	{
		const struct fedctl_agent_rule drop = {p.group, p.plural};
		if ((ret = fedctl_member_roles_sync(ctx, host, NULL, &drop, o.role_dir, o.dry_run,
		                                    &err)))
			goto out;
	}
	if (o.delete_crd)
		ret = delete_crd(ctx, host, &p, o.dry_run, &err);
out:
	if (rc < 0)
		rc = ret ? fedctl_fail(&err) : EXIT_OK;
	cJSON_Delete(ftc);
	return rc;
}
