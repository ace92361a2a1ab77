#include <stdio.h>

#include <time.h>

#include "fed/table.h"
#include "fedctl.h"

static const char usage[] = "fedctl version [--client]";
static const char examples[] = "  fedctl version\n  fedctl version --client\n";

static int count(const cJSON *o, const char *section, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(o, section), key);

	return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* What runs as fed-controller: its Deployment's image and readiness, and
 * the holder of its leader Lease (fed-controller does not publish its
 * version otherwise). */
static void controller(struct fedctl *ctx, struct fed_kube_client *host)
{
	const struct fed_kube_ref deployment = {&fed_r_deployments, ctx->fed_namespace,
	                                        "fed-controller", NULL};
	const struct fed_kube_ref lease = {&fed_r_leases, ctx->fed_namespace, "fed-controller",
	                                   NULL};
	struct fed_error err = FED_ERROR_INIT;
	char age[32];
	cJSON *d, *l, *c;
	const char *image = NULL, *holder, *renew;

	d = fedctl_get_ref(ctx, host, &deployment, &err);
	c = cJSON_GetArrayItem(
	    cJSON_GetObjectItem(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "spec"), "template"),
	                            "spec"),
	        "containers"),
	    0);
	image = fed_obj_str(c, "image");
	if (d)
		printf("Controller: image %s, deployment %s/fed-controller %d/%d ready\n",
		       image ? image : "unknown", ctx->fed_namespace,
		       count(d, "status", "readyReplicas"), count(d, "spec", "replicas"));
	else
		printf("Controller: no deployment %s/fed-controller (%s)\n", ctx->fed_namespace,
		       err.msg);
	cJSON_Delete(d);
	fed_error_clear(&err);
	l = fedctl_get_ref(ctx, host, &lease, &err);
	holder = fed_obj_str(l, "spec.holderIdentity");
	renew = fed_obj_str(l, "spec.renewTime");
	fed_age_since(age, sizeof(age), renew, time(NULL));
	if (holder && *holder)
		printf("Controller Leader: %s (lease renewed %s ago)\n", holder, age);
	else
		printf("Controller Leader: none (no Lease %s/fed-controller held: leader election "
		       "is off, or no controller is running)\n",
		       ctx->fed_namespace);
	cJSON_Delete(l);
}

int cmd_version(struct fedctl *ctx, int argc, char **argv)
{
	bool client_only = false;
	const struct fed_opt opts[] = {
	    {FED_OPT_BOOL, "client", 0, &client_only, NULL, "print only the client version", NULL},
	    FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client *host;
	char *args[1];
	int nargs, ret;
	cJSON *v;
	const struct fedctl_spec spec = {usage, examples, opts};
	bool stop;

	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 0, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	printf("Client Version: v%s\n", FED_VERSION);
	if (client_only)
		return EXIT_OK;
	if (fedctl_host(ctx, &host, &err))
		return fedctl_fail(&err);
	v = fedctl_get(ctx, host, "/version", &err);
	if (!v)
		return fedctl_fail(&err);
	printf("Host Cluster Version: %s\n",
	       fed_obj_str(v, "gitVersion") ? fed_obj_str(v, "gitVersion") : "unknown");
	cJSON_Delete(v);
	controller(ctx, host);
	return EXIT_OK;
}
