/* fedctl internals: the command table and what commands share. */
#ifndef FEDCTL_H
#define FEDCTL_H

#include <ev.h>

#include "fed/kube.h"
#include "fed/opt.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct fedctl {
	/* global options, accepted by every command */
	const char *kubeconfig;
	const char *host_context;
	const char *fed_namespace;
	int verbosity;
	struct ev_loop *loop;
	struct fed_kube_client *host; /* connected on first use */
};

struct fedctl_cmd {
	const char *name;
	int (*run)(struct fedctl *ctx, int argc, char **argv);
	const char *summary;
};

extern const struct fed_opt fedctl_global_opts[];

/* Parse a command's options plus the global ones; prints the error or the
 * help and returns an exit code >= 0 when the command should stop, -1 to
 * go on. */
int fedctl_parse(struct fedctl *ctx, const char *usage, const char *examples,
		 const struct fed_opt *opts, int argc, char **argv, char **args, int max_args,
		 int *nargs);

/* Connect to the host cluster (once). */
int fedctl_host(struct fedctl *ctx, struct fed_kube_client **out, struct fed_error *err);

/* Run a GET of path on c and wait: returns the parsed answer or NULL with err. */
cJSON *fedctl_get(struct fedctl *ctx, struct fed_kube_client *c, const char *path,
		  struct fed_error *err);

/* One line "error: ..." on stderr; returns EXIT_FAIL. */
int fedctl_fail(const struct fed_error *err);

int cmd_version(struct fedctl *ctx, int argc, char **argv);
int cmd_api_resources(struct fedctl *ctx, int argc, char **argv);

#endif
