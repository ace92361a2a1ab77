#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/discovery.h"
#include "fedctl.h"

static const char usage[] = "fedctl api-resources [--api-group GROUP] [--namespaced=true|false]";
static const char examples[] = "  fedctl api-resources\n  fedctl api-resources --api-group apps\n";

static int cmp(const void *a, const void *b)
{
	const struct fed_api_resource *x = *(const struct fed_api_resource *const *)a;
	const struct fed_api_resource *y = *(const struct fed_api_resource *const *)b;
	int c = strcmp(x->r.group, y->r.group);

	return c ? c : strcmp(x->r.resource, y->r.resource);
}

int cmd_api_resources(struct fedctl *ctx, int argc, char **argv)
{
	const char *group = NULL, *namespaced = NULL;
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "api-group", 0, &group, "GROUP", "only this API group (\"\" for core)",
	     NULL},
	    {FED_OPT_STRING, "namespaced", 0, &namespaced, "BOOL",
	     "only namespaced (true) or cluster-scoped (false) types", NULL},
	    FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client *host;
	const struct fed_api_resource **rows = NULL;
	struct fed_discovery *d = NULL;
	char *args[1];
	size_t i, n = 0;
	int nargs, ret;
	const struct fedctl_spec spec = {usage, examples, opts};
	bool stop;

	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 0, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if (namespaced && strcmp(namespaced, "true") && strcmp(namespaced, "false")) {
		fprintf(stderr, "error: --namespaced takes true or false, not \"%s\"\n",
		        namespaced);
		return EXIT_USAGE;
	}
	if (fedctl_host(ctx, &host, &err))
		return fedctl_fail(&err);
	if (fedctl_discover(ctx, host, &d, &err))
		return fedctl_fail(&err);
	rows = calloc(d->n + 1, sizeof(*rows));
	if (!rows) {
		fed_discovery_free(d);
		fed_error_set(&err, FED_ENOMEM, "out of memory");
		return fedctl_fail(&err);
	}
	for (i = 0; i < d->n; i++) {
		const struct fed_api_resource *a = &d->items[i];
		if (!a->preferred || (group && strcmp(a->r.group, group)))
			continue;
		if (namespaced && a->r.namespaced != !strcmp(namespaced, "true"))
			continue;
		rows[n++] = a;
	}
	qsort(rows, n, sizeof(*rows), cmp);
	printf("%-40s %-12s %-36s %-11s %s\n", "NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED",
	       "KIND");
	for (i = 0; i < n; i++) {
		const struct fed_api_resource *a = rows[i];
		char apiv[128], shorts[64] = "";
		char **s;
		snprintf(apiv, sizeof(apiv), "%s%s%s", a->r.group, *a->r.group ? "/" : "",
		         a->r.version);
		for (s = a->short_names; s && *s; s++) {
			size_t l = strlen(shorts);
			snprintf(shorts + l, sizeof(shorts) - l, "%s%s", l ? "," : "", *s);
		}
		printf("%-40s %-12s %-36s %-11s %s\n", a->r.resource, shorts, apiv,
		       a->r.namespaced ? "true" : "false", a->kind);
	}
	free(rows);
	fed_discovery_free(d);
	return EXIT_OK;
}
