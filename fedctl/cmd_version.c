#include <stdio.h>

#include "fedctl.h"

static const char usage[] = "fedctl version [--client]";
static const char examples[] = "  fedctl version\n  fedctl version --client\n";

int cmd_version(struct fedctl *ctx, int argc, char **argv)
{
	bool client_only = false;
	const struct fed_opt opts[] = {
		{FED_OPT_BOOL, "client", 0, &client_only, NULL, "print only the client version"},
		FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client *host;
	char *args[1];
	int nargs, ret;
	cJSON *v;

	ret = fedctl_parse(ctx, usage, examples, opts, argc, argv, args, 0, &nargs);
	if (ret >= 0)
		return ret;
	printf("Client Version: v%s\n", FED_VERSION);
	if (client_only)
		return EXIT_OK;
	if (fedctl_host(ctx, &host, &err))
		return fedctl_fail(&err);
	v = fedctl_get(ctx, host, "/version", &err);
	if (!v)
		return fedctl_fail(&err);
	printf("Host Cluster Version: %s\n", fed_obj_str(v, "gitVersion") ? fed_obj_str(v, "gitVersion") : "unknown");
	cJSON_Delete(v);
	return EXIT_OK;
}
