/* fedctl: the command-line client of fed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "fedctl.h"

static const struct fedctl_cmd commands[] = {
	{"api-resources", cmd_api_resources, "List the resource types a cluster serves"},
	{"describe", cmd_describe, "Show one joined cluster in detail"},
	{"list", cmd_list, "List the joined clusters and their health"},
	{"join", cmd_join, "Join a cluster to the federation"},
	{"delete", cmd_delete, "Remove a cluster from the federation (alias: unjoin)"},
	{"unjoin", cmd_delete, "Same as delete"},
	{"version", cmd_version, "Print the client and server versions"},
	{NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	const struct fedctl_cmd *c;
	const struct fed_opt *const tables[] = {fedctl_global_opts, NULL};

	fprintf(f, "fedctl controls a fed cluster federation.\n\nUsage:\n  fedctl COMMAND [options]\n\n"
		   "Commands:\n");
	for (c = commands; c->name; c++)
		fprintf(f, "  %-16s %s\n", c->name, c->summary);
	fprintf(f, "\nGlobal options:\n");
	fed_opt_print_help(f, tables);
	fprintf(f, "\nRun 'fedctl COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	struct fedctl ctx;
	const struct fedctl_cmd *c;
	const char *name;
	int ret;

	memset(&ctx, 0, sizeof(ctx));
	ctx.fed_namespace = "kube-federation-system";
	/* installed as kubectl-fed too: "kubectl fed join ..." runs us */
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	name = argv[1];
	for (c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			break;
	if (!c->name) {
		fprintf(stderr, "error: unknown command \"%s\" (run 'fedctl --help' for the list)\n",
			name);
		return EXIT_USAGE;
	}
	fed_log_setup(FED_LOG_WARN, false);
	ctx.loop = ev_default_loop(0);
	ret = c->run(&ctx, argc - 2, argv + 2);
	fed_kube_client_free(ctx.host);
	ev_loop_destroy(ctx.loop);
	return ret;
}
