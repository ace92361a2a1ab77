/* fedctl enable TYPE / disable TYPE, as kubefedctl does: enable writes the
 * Federated<Kind> CRD and the FederatedTypeConfig of a type the host
 * serves (rendered by apis/federated_type.c, like manifests/), disable
 * deletes the FederatedTypeConfig (and with --delete-crd the CRD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federated_type.h"
#include "fedctl.h"
#include "join.h"

static const char enable_usage[] =
    "fedctl enable TYPE [-o yaml|json] [--dry-run] [--member-role-dir DIR]";
static const char enable_examples[] =
    "  fedctl enable configmaps\n"
    "  fedctl enable deployments.apps\n"
    "  # a custom resource (its CRD must be installed on the host)\n"
    "  fedctl enable widgets.example.com\n"
    "  # print the CRD and the FederatedTypeConfig instead of applying them\n"
    "  fedctl enable widgets.example.com -o yaml\n";
static const char disable_usage[] =
    "fedctl disable TYPE [--delete-crd] [--dry-run] [--member-role-dir DIR]";
static const char disable_examples[] =
    "  fedctl disable widgets.example.com\n"
    "  # also the Federated<Kind> CRD, and with it every federated object of the type\n"
    "  fedctl disable widgets.example.com --delete-crd\n";

#define CRD_PATH "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
#define MEMBER_ROLE_DIR_HELP                                                                       \
	"where the updated role of a member whose context (named like the cluster) does not "      \
	"answer from here is written, to apply there"

/* Server-side apply of obj at path (field manager fedctl); one line. */
static int apply(struct fedctl *ctx, struct fed_kube_client *host, const char *what,
                 const char *path, const cJSON *obj, bool dry_run, struct fed_error *err)
{
	cJSON *old = NULL, *now = NULL;
	char *body, url[1024];
	const char *a, *b;
	int ret;

	ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &old, err);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: get %s", what);
	fed_error_clear(err);
	if (dry_run) {
		printf("host: %s %s (dry run)\n", what,
		       old ? "would be applied" : "would be created");
		cJSON_Delete(old);
		return 0;
	}
	body = cJSON_PrintUnformatted(obj);
	snprintf(url, sizeof(url), "%s?fieldManager=fedctl&force=true", path);
	ret = fedctl_call(ctx, host, "PATCH", url, body, "application/apply-patch+yaml", 0, &now,
	                  err);
	free(body);
	if (ret) {
		cJSON_Delete(old);
		if (ret == FED_EFORBIDDEN)
			return fed_error_wrap(err, "host: apply %s (needs create and patch on it)",
			                      what);
		return fed_error_wrap(err, "host: apply %s", what);
	}
	a = old ? fed_obj_resource_version(old) : NULL;
	b = fed_obj_resource_version(now);
	printf("host: %s %s\n", what,
	       !old                        ? "created"
	       : (a && b && !strcmp(a, b)) ? "unchanged"
	                                   : "configured");
	cJSON_Delete(old);
	cJSON_Delete(now);
	return 0;
}

static bool established(const cJSON *crd)
{
	const cJSON *c;

	cJSON_ArrayForEach(c,
	                   cJSON_GetObjectItem(cJSON_GetObjectItem(crd, "status"), "conditions")) {
		const char *t = fed_obj_str(c, "type"), *s = fed_obj_str(c, "status");
		if (t && s && !strcmp(t, "Established") && !strcmp(s, "True"))
			return true;
	}
	return false;
}

static void to_target(const struct fedctl_type *d, struct fed_api_resource *t)
{
	memset(t, 0, sizeof(*t));
	t->group = d->group;
	t->version = d->version;
	t->kind = d->kind;
	t->plural = d->plural;
	t->namespaced = d->namespaced;
	t->short_names = d->short_names;
}

int cmd_enable(struct fedctl *ctx, int argc, char **argv)
{
	const char *output = NULL, *role_dir = NULL;
	bool dry_run = false;
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "output", 'o', &output, "FORMAT",
	     "yaml or json: print the CRD and the FederatedTypeConfig, apply nothing", NULL},
	    {FED_OPT_BOOL, "dry-run", 0, &dry_run, NULL, "print what would be done", NULL},
	    {FED_OPT_STRING, "member-role-dir", 0, &role_dir, "DIR", MEMBER_ROLE_DIR_HELP, "."},
	    FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client *host;
	struct fedctl_type d;
	struct fed_api_resource target;
	struct fed_type_config t;
	struct fed_buf out = FED_BUF_INIT;
	enum fedctl_output fmt = FEDCTL_OUT_TABLE;
	cJSON *crd = NULL, *ftc = NULL;
	char *args[1], path[1024], what[512];
	int nargs, ret, rc = EXIT_FAIL, i;
	const struct fedctl_spec spec = {enable_usage, enable_examples, opts};
	bool stop;

	memset(&d, 0, sizeof(d));
	memset(&t, 0, sizeof(t));
	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 1, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if (nargs != 1) {
		fprintf(stderr,
		        "error: enable needs the TYPE (e.g. configmaps, widgets.example.com)"
		        "\nUsage: %s\n",
		        enable_usage);
		return EXIT_USAGE;
	}
	if (output && (fedctl_output_parse(output, &fmt) ||
	               (fmt != FEDCTL_OUT_YAML && fmt != FEDCTL_OUT_JSON))) {
		fprintf(stderr, "error: --output must be yaml or json, not \"%s\"\n", output);
		return EXIT_USAGE;
	}
	if (fedctl_host(ctx, &host, &err) || fedctl_discover_type(ctx, host, args[0], &d, &err))
		goto fail;
	if (!strcmp(d.group, FED_CORE_GROUP) || !strcmp(d.group, FED_TYPES_GROUP) ||
	    !strcmp(d.group, "scheduling.kubefed.io")) {
		fed_error_set(&err, FED_EINVAL,
		              "%s.%s is one of fed's own types and cannot be federated", d.plural,
		              d.group);
		goto fail;
	}
	to_target(&d, &target);
	if ((ret = fed_type_config_for_target(&target, &t, &err)) ||
	    (ret = fed_federated_crd(&t, fed_type_scalable(&target), &crd, &err)) ||
	    (ret = fed_type_config_object(&target, ctx->fed_namespace, &ftc, &err)))
		goto fail;
	if (output) {
		if (fmt == FEDCTL_OUT_YAML) {
			ret = fedctl_yaml(&out, crd);
			fed_buf_printf(&out, "---\n");
			ret = ret ? ret : fedctl_yaml(&out, ftc);
		} else {
			cJSON *list = cJSON_CreateObject();
			cJSON_AddStringToObject(list, "apiVersion", "v1");
			cJSON *items = cJSON_AddArrayToObject(list, "items");
			cJSON_AddItemReferenceToArray(items, crd);
			cJSON_AddItemReferenceToArray(items, ftc);
			cJSON_AddStringToObject(list, "kind", "List");
			ret = fedctl_json(&out, list);
			cJSON_Delete(list);
		}
		if (ret) {
			fed_error_set(&err, FED_ENOMEM, "out of memory");
			goto fail;
		}
		fwrite(fed_buf_str(&out), 1, out.len, stdout);
		rc = EXIT_OK;
		goto out;
	}
	snprintf(path, sizeof(path), CRD_PATH "/%s", fed_obj_name(crd));
	snprintf(what, sizeof(what), "customresourcedefinition %s", fed_obj_name(crd));
	if (apply(ctx, host, what, path, crd, dry_run, &err))
		goto fail;
	/* the FTC only once its federated type is served, so the controller
	 * does not start on a CRD that is not there yet */
	for (i = 0; !dry_run; i++) {
		cJSON *now = NULL;
		bool ok = !fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &now, &err) &&
		          established(now);
		cJSON_Delete(now);
		if (ok)
			break;
		if (i >= 60) {
			fed_error_set(&err, FED_ETIMEOUT,
			              "customresourcedefinition %s is not Established after 30s "
			              "(kubectl describe crd %s); run enable again once it is",
			              fed_obj_name(crd), fed_obj_name(crd));
			goto fail;
		}
		{
			bool never = false;
			fed_kube_wait(ctx->loop, &never, 0.5);
		}
	}
	/* the members' roles first: the controller's first write of the
	 * type in a member is then allowed */
	{
		struct fedctl_agent_rule add = {d.group, d.plural};
		if (fedctl_member_roles_sync(ctx, host, &add, NULL, role_dir, dry_run, &err))
			goto fail;
	}
	snprintf(path, sizeof(path), "/apis/%s/%s/namespaces/%s/%s/%s", FED_CORE_GROUP,
	         FED_FTC_VERSION, ctx->fed_namespace, FED_FTC_PLURAL, fed_obj_name(ftc));
	snprintf(what, sizeof(what), "federatedtypeconfig %s/%s", ctx->fed_namespace,
	         fed_obj_name(ftc));
	if (apply(ctx, host, what, path, ftc, dry_run, &err)) {
		fed_error_wrap(&err, "the CRD is in place: run enable again to finish");
		goto fail;
	}
	if (!dry_run)
		printf("type %s enabled: create %s objects (%s/%s) to propagate it\n", t.name,
		       t.federated.kind, t.federated.group, t.federated.version);
	rc = EXIT_OK;
	goto out;
fail:
	rc = fedctl_fail(&err);
out:
	fed_buf_release(&out);
	cJSON_Delete(crd);
	cJSON_Delete(ftc);
	fed_type_config_release(&t);
	fedctl_type_release(&d);
	return rc;
}

int cmd_disable(struct fedctl *ctx, int argc, char **argv)
{
	bool dry_run = false, delete_crd = false;
	const char *role_dir = NULL;
	const struct fed_opt opts[] = {
	    {FED_OPT_BOOL, "delete-crd", 0, &delete_crd, NULL,
	     "also delete the Federated<Kind> CRD, and with it every federated object of the "
	     "type",
	     NULL},
	    {FED_OPT_BOOL, "dry-run", 0, &dry_run, NULL, "print what would be done", NULL},
	    {FED_OPT_STRING, "member-role-dir", 0, &role_dir, "DIR", MEMBER_ROLE_DIR_HELP, "."},
	    FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client *host;
	struct fedctl_type d;
	struct fed_type_config t;
	cJSON *ftc = NULL;
	char *args[1], path[1024], name[600], crd_name[600];
	int nargs, ret, rc = EXIT_FAIL;
	const struct fedctl_spec spec = {disable_usage, disable_examples, opts};
	bool stop;

	memset(&d, 0, sizeof(d));
	memset(&t, 0, sizeof(t));
	crd_name[0] = '\0';
	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 1, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if (nargs != 1) {
		fprintf(stderr, "error: disable needs the TYPE\nUsage: %s\n", disable_usage);
		return EXIT_USAGE;
	}
	if (fedctl_host(ctx, &host, &err))
		goto fail;
	/* the FTC's name: from discovery when the type is still served,
	 * else TYPE as written (the target's CRD may be gone already) */
	if (!fedctl_discover_type(ctx, host, args[0], &d, &err))
		snprintf(name, sizeof(name), "%s%s%s", d.plural, *d.group ? "." : "", d.group);
	else if (err.code == FED_ENOTFOUND)
		snprintf(name, sizeof(name), "%s", args[0]);
	else
		goto fail;
	fed_error_clear(&err);
	snprintf(path, sizeof(path), "/apis/%s/%s/namespaces/%s/%s/%s", FED_CORE_GROUP,
	         FED_FTC_VERSION, ctx->fed_namespace, FED_FTC_PLURAL, name);
	ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &ftc, &err);
	if (ret && ret != FED_ENOTFOUND) {
		fed_error_wrap(&err, "host: get federatedtypeconfig %s/%s", ctx->fed_namespace,
		               name);
		goto fail;
	}
	if (ftc && !fed_type_config_parse(ftc, &t, &err))
		snprintf(crd_name, sizeof(crd_name), "%s.%s", t.federated.plural,
		         t.federated.group);
	fed_error_clear(&err);
	if (!ftc) {
		printf("type %s is not enabled (no federatedtypeconfig %s/%s): nothing to do\n",
		       name, ctx->fed_namespace, name);
	} else if (dry_run) {
		printf("host: federatedtypeconfig %s/%s would be deleted (dry run)\n",
		       ctx->fed_namespace, name);
	} else {
		ret = fedctl_call(ctx, host, "DELETE", path, NULL, NULL, 0, NULL, &err);
		if (ret && ret != FED_ENOTFOUND) {
			fed_error_wrap(&err, "host: delete federatedtypeconfig %s/%s%s",
			               ctx->fed_namespace, name,
			               ret == FED_EFORBIDDEN ? " (needs delete on it)" : "");
			goto fail;
		}
		printf("host: federatedtypeconfig %s/%s deleted: fed-controller stops propagating "
		       "%s\n",
		       ctx->fed_namespace, name, name);
	}
	/* the type's rule leaves the members' roles (also when the type
	 * was disabled by hand: the stale rule goes too) */
	{
		char plural[600];
		const char *dot = strchr(name, '.');
		struct fedctl_agent_rule drop = {dot ? dot + 1 : "", plural};
		snprintf(plural, sizeof(plural), "%.*s",
		         dot ? (int)(dot - name) : (int)strlen(name), name);
		if (fedctl_member_roles_sync(ctx, host, NULL, &drop, role_dir, dry_run, &err))
			goto fail;
	}
	if (delete_crd) {
		if (!*crd_name) {
			/* no FTC left to read it from: kubefed's default naming */
			const char *dot = strchr(name, '.');
			snprintf(crd_name, sizeof(crd_name), "federated%.*s.%s",
			         dot ? (int)(dot - name) : (int)strlen(name), name,
			         FED_TYPES_GROUP);
		}
		/* kubefedctl's rule: never take federated objects down with the CRD */
		{
			const char *dot = strchr(crd_name, '.');
			cJSON *l = NULL;
			int n;
			snprintf(path, sizeof(path), "/apis/%s/%s/%.*s?limit=1", dot ? dot + 1 : "",
			         t.federated.version ? t.federated.version : FED_TYPES_VERSION,
			         dot ? (int)(dot - crd_name) : 0, crd_name);
			ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &l, &err);
			n = cJSON_GetArraySize(cJSON_GetObjectItem(l, "items"));
			cJSON_Delete(l);
			if (ret && ret != FED_ENOTFOUND) {
				fed_error_wrap(&err, "host: list %s", crd_name);
				goto fail;
			}
			fed_error_clear(&err);
			if (!ret && n > 0) {
				fed_error_set(&err, FED_EINVAL,
				              "cannot delete customresourcedefinition %s while "
				              "objects of it exist: delete them first (kubectl get "
				              "%.*s -A)",
				              crd_name, dot ? (int)(dot - crd_name) : 0, crd_name);
				goto fail;
			}
		}
		snprintf(path, sizeof(path), CRD_PATH "/%s", crd_name);
		if (dry_run) {
			printf("host: customresourcedefinition %s would be deleted (dry run)\n",
			       crd_name);
		} else {
			ret = fedctl_call(ctx, host, "DELETE", path, NULL, NULL, 0, NULL, &err);
			if (ret == FED_ENOTFOUND) {
				printf("host: customresourcedefinition %s not found\n", crd_name);
			} else if (ret) {
				fed_error_wrap(
				    &err, "host: delete customresourcedefinition %s%s", crd_name,
				    ret == FED_EFORBIDDEN ? " (needs delete on it)" : "");
				goto fail;
			} else {
				printf("host: customresourcedefinition %s deleted\n", crd_name);
			}
		}
	}
	rc = EXIT_OK;
	goto out;
fail:
	rc = fedctl_fail(&err);
out:
	cJSON_Delete(ftc);
	fed_type_config_release(&t);
	fedctl_type_release(&d);
	return rc;
}
