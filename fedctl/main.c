/* fedctl: the command-line client of fed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "fed/harden.h"
#include "fedctl.h"

static const struct fedctl_cmd commands[] = {
    {"api-resources", cmd_api_resources, "List the resource types a cluster serves"},
    {"completion", cmd_completion, "Print a bash or zsh completion script"},
    {"describe", cmd_describe, "Show one joined cluster in detail"},
    {"disable", cmd_disable, "Stop propagating a type (delete its FederatedTypeConfig)"},
    {"enable", cmd_enable, "Propagate a type: its Federated<Kind> CRD and FederatedTypeConfig"},
    {"federate", cmd_federate,
     "Wrap an object (or a namespace and its contents) in its Federated<Kind>"},
    {"list", cmd_list, "List the joined clusters and their health"},
    {"join", cmd_join, "Join a cluster to the federation"},
    {"kubeconfig", cmd_kubeconfig,
     "Add contexts that reach members through the host (cluster connect)"},
    {"rotate", cmd_rotate, "Revoke an agent member's tunnel credentials and issue new ones"},
    {"scale", cmd_scale, "Set the replicas of federated workloads per cluster or in total"},
    {"delete", cmd_delete, "Remove a cluster from the federation (alias: unjoin)"},
    {"unjoin", cmd_delete, "Same as delete"},
    {"version", cmd_version, "Print the client and server versions"},
    {NULL, NULL, NULL},
};

const struct fedctl_cmd *fedctl_commands(void)
{
	return commands;
}

static void usage(FILE *f)
{
	const struct fedctl_cmd *c;
	const struct fed_opt *const tables[] = {fedctl_global_opts, NULL};

	fprintf(f, "fedctl controls a fed cluster federation.\n\nUsage:\n"
	           "  fedctl [global options] COMMAND [options]\n"
	           "  kubectl fed COMMAND [options]      (installed as kubectl-fed too)\n\n"
	           "Commands:\n");
	for (c = commands; c->name; c++)
		fprintf(f, "  %-16s %s\n", c->name, c->summary);
	fprintf(f, "\nGlobal options (before or after the command):\n");
	fed_opt_print_help(f, tables);
	fprintf(f, "\nExit codes: 0 success, 1 failure, 2 usage error.\n"
	           "Run 'fedctl COMMAND --help' for a command's options.\n");
}

/* The global option argv[i] names (or NULL), and whether its value is in
 * the same word (--kubeconfig=X, -v2). */
static const struct fed_opt *global_opt(const char *a, bool *inline_value)
{
	const struct fed_opt *o;

	*inline_value = false;
	for (o = fedctl_global_opts; o->type != FED_OPT_END; o++) {
		size_t n = strlen(o->name);
		if (a[0] == '-' && a[1] == '-' && !strncmp(a + 2, o->name, n) &&
		    (a[2 + n] == '\0' || a[2 + n] == '=')) {
			*inline_value = a[2 + n] == '=';
			return o;
		}
		if (o->short_name && a[0] == '-' && a[1] == o->short_name) {
			*inline_value = a[2] != '\0';
			return o;
		}
	}
	return NULL;
}

/* The global options before the command: *cmd_at is the command's index.
 * 0 to go on; 1 when --help was printed; FED_EINVAL on a usage error
 * (printed). */
static int leading_globals(int argc, char **argv, int *cmd_at)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		bool inline_value;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(argv[i], "--help-markdown")) {
			fedctl_print_markdown(fedctl_global_opts);
			return 1;
		}
		if (!global_opt(argv[i], &inline_value)) {
			fprintf(
			    stderr,
			    "error: unknown global option %s (before the command only "
			    "--kubeconfig, --host-cluster-context, --federation-namespace and -v; "
			    "see fedctl --help)\n",
			    argv[i]);
			return FED_EINVAL;
		}
		if (!inline_value && ++i >= argc) {
			fprintf(stderr, "error: %s needs a value\n", argv[i - 1]);
			return FED_EINVAL;
		}
	}
	*cmd_at = i;
	return 0;
}

static const struct fedctl_cmd *find_command(const char *name)
{
	const struct fedctl_cmd *c;

	for (c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	fprintf(stderr, "error: unknown command \"%s\" (run 'fedctl --help' for the list)\n", name);
	return NULL;
}

int main(int argc, char **argv)
{
	struct fedctl ctx;
	const struct fedctl_cmd *c;
	char **cargv = NULL;
	int ret, i, cmd_at = 0, cargc = 0;

	(void)fed_process_harden();
	memset(&ctx, 0, sizeof(ctx));
	/* global options may come first: fedctl --kubeconfig X list */
	if ((ret = leading_globals(argc, argv, &cmd_at)))
		return ret > 0 ? EXIT_OK : EXIT_USAGE;
	if (cmd_at >= argc || !strcmp(argv[cmd_at], "help")) {
		usage(cmd_at >= argc ? stderr : stdout);
		return cmd_at >= argc ? EXIT_USAGE : EXIT_OK;
	}
	if (!(c = find_command(argv[cmd_at])))
		return EXIT_USAGE;
	/* the command parses the globals itself, wherever they are: hand it
	 * the leading ones first */
	cargv = calloc((size_t)argc + 1, sizeof(*cargv));
	if (!cargv) {
		fprintf(stderr, "error: out of memory\n");
		return EXIT_FAIL;
	}
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help-markdown"))
			ctx.options_markdown = true; /* hidden: for scripts/gen-fedctl-docs */
		else if (i != cmd_at)
			cargv[cargc++] = argv[i];
	fed_log_setup(FED_LOG_WARN, false);
	ctx.loop = ev_default_loop(0);
	ret = c->run(&ctx, cargc, cargv);
	fed_kube_client_free(ctx.host);
	free(ctx.context_namespace);
	free(cargv);
	ev_loop_destroy(ctx.loop);
	return ret;
}
