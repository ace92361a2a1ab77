#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fed/log.h"
#include "fedctl.h"

const struct fed_opt fedctl_global_opts[] = {
    {FED_OPT_STRING, "kubeconfig", 0, NULL, "FILE",
     "kubeconfig to use (unset: $KUBECONFIG, then ~/.kube/config)", NULL},
    {FED_OPT_STRING, "host-cluster-context", 0, NULL, "CONTEXT",
     "context of the host cluster (unset: the kubeconfig's current context)", NULL},
    {FED_OPT_STRING, "federation-namespace", 0, NULL, "NS",
     "where the KubeFedClusters, FederatedTypeConfigs and Events are", "kube-federation-system"},
    {FED_OPT_INT, "v", 'v', NULL, "N", "log verbosity: 0 errors ... 4 trace", "1"},
    FED_OPT_TABLE_END,
};

/* "--name -s --name2 ...|--valued ...": the command's own options, then
 * those that take a value (for the completion scripts). */
static void list_options(const struct fed_opt *opts)
{
	const struct fed_opt *o;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		bool first = true;
		for (o = opts; o && o->type != FED_OPT_END; o++) {
			if (pass && o->type == FED_OPT_BOOL)
				continue;
			printf("%s--%s", first ? "" : " ", o->name);
			if (o->short_name)
				printf(" -%c", o->short_name);
			first = false;
		}
		printf("%s", pass ? "" : "|");
	}
}

void fedctl_print_markdown(const struct fed_opt *opts)
{
	const struct fed_opt *const tables[] = {opts, NULL};

	if (opts && opts->type != FED_OPT_END)
		fed_opt_print_markdown(stdout, tables);
	else
		printf("No options besides the global ones.\n");
}

int fedctl_parse_args(struct fedctl *ctx, const struct fedctl_spec *spec, int argc, char **argv,
                      char **args, int max_args, int *nargs, bool *stop)
{
	struct fed_opt globals[sizeof(fedctl_global_opts) / sizeof(fedctl_global_opts[0])];
	const struct fed_opt *tables[3] = {spec->opts, globals, NULL};
	struct fed_error err = FED_ERROR_INIT;
	bool help = false;
	int verbosity = 0;

	*stop = true;
	*nargs = 0;
	if (ctx->list_options || ctx->options_markdown) {
		if (ctx->list_options)
			list_options(spec->opts);
		else
			fedctl_print_markdown(spec->opts);
		return 0;
	}
	/* the global table is static; bind it to this ctx */
	memcpy(globals, fedctl_global_opts, sizeof(globals));
	globals[0].value = &ctx->kubeconfig;
	globals[1].value = &ctx->host_context;
	globals[2].value = &ctx->fed_namespace;
	globals[3].value = &verbosity;
	if (!spec->opts)
		tables[0] = globals, tables[1] = NULL;
	if (fed_opt_parse(tables, argc, argv, args, max_args, nargs, &help, &err)) {
		fprintf(stderr, "error: %s\nUsage: %s\n", err.msg, spec->usage);
		return FED_EINVAL;
	}
	if (help) {
		printf("Usage: %s\n\nOptions:\n", spec->usage);
		fed_opt_print_help(stdout, tables);
		if (spec->examples)
			printf("\nExamples:\n%s", spec->examples);
		return 0;
	}
	ctx->verbosity = verbosity;
	fed_log_setup(verbosity, false);
	*stop = false;
	return 0;
}

int fedctl_host(struct fedctl *ctx, struct fed_kube_client **out, struct fed_error *err)
{
	struct fed_rest_config cfg;
	int ret;

	if (ctx->host) {
		*out = ctx->host;
		return 0;
	}
	fed_rest_config_init(&cfg);
	ret = fed_rest_config_load(&cfg, ctx->kubeconfig, ctx->host_context, err);
	if (!ret)
		ret = fed_kube_client_new(&ctx->host, ctx->loop, &cfg,
		                          cfg.context ? cfg.context : "host", err);
	if (!ret && cfg.namespace && !ctx->context_namespace)
		ctx->context_namespace = strdup(cfg.namespace);
	fed_rest_config_release(&cfg);
	*out = ctx->host;
	return ret;
}

struct get_result {
	bool done;
	cJSON *json;
	struct fed_error err;
};

static void get_cb(struct fed_kube_response *resp, void *ud)
{
	struct get_result *r = ud;

	r->done = true;
	r->err = resp->err;
	r->json = resp->json;
	resp->json = NULL;
}

cJSON *fedctl_get(struct fedctl *ctx, struct fed_kube_client *c, const char *path,
                  struct fed_error *err)
{
	struct fed_kube_request req;
	struct get_result r;

	memset(&req, 0, sizeof(req));
	memset(&r, 0, sizeof(r));
	req.method = "GET";
	req.path = path;
	req.max_retries = -1;
	if (fed_kube_request(c, &req, get_cb, &r, NULL, err))
		return NULL;
	if (fed_kube_wait(ctx->loop, &r.done, 60)) {
		fed_error_set(err, FED_ETIMEOUT, "no answer from %s within 60s",
		              fed_kube_client_server(c));
		return NULL;
	}
	if (r.err.code) {
		*err = r.err;
		cJSON_Delete(r.json);
		return NULL;
	}
	return r.json;
}

cJSON *fedctl_get_ref(struct fedctl *ctx, struct fed_kube_client *c, const struct fed_kube_ref *ref,
                      struct fed_error *err)
{
	struct fed_buf path = FED_BUF_INIT;
	cJSON *out = NULL;

	if (fed_kube_path(&path, ref))
		fed_error_set(err, FED_ENOMEM, "out of memory");
	else
		out = fedctl_get(ctx, c, path.data, err);
	fed_buf_release(&path);
	return out;
}

int fedctl_call_query(struct fedctl *ctx, struct fed_kube_client *c, const char *method,
                      const struct fed_kube_ref *ref, const char *query, const char *body,
                      const char *content_type, int timeout_ms, cJSON **out, struct fed_error *err)
{
	struct fed_buf path = FED_BUF_INIT;
	int ret;

	if (out)
		*out = NULL;
	if (fed_kube_path(&path, ref) || (query && fed_buf_printf(&path, "?%s", query)))
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
	else
		ret = fedctl_call(ctx, c, method, path.data, body, content_type, timeout_ms, out,
		                  err);
	fed_buf_release(&path);
	return ret;
}

int fedctl_call_ref(struct fedctl *ctx, struct fed_kube_client *c, const char *method,
                    const struct fed_kube_ref *ref, const char *body, const char *content_type,
                    int timeout_ms, cJSON **out, struct fed_error *err)
{
	return fedctl_call_query(ctx, c, method, ref, NULL, body, content_type, timeout_ms, out,
	                         err);
}

int fedctl_list_ref(struct fedctl *ctx, struct fed_kube_client *c, const struct fed_kube_ref *ref,
                    const struct fed_kube_list_opts *o, cJSON **out, struct fed_error *err)
{
	struct fed_buf q = FED_BUF_INIT;
	int ret;

	*out = NULL;
	if (fed_kube_list_query(&q, o, false))
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
	else /* the query comes with its "?" */
		ret = fedctl_call_query(ctx, c, "GET", ref, q.len ? q.data + 1 : NULL, NULL, NULL,
		                        0, out, err);
	fed_buf_release(&q);
	return ret;
}

struct fed_kube_resource fedctl_resource(const char *group, const char *version, const char *plural,
                                         bool namespaced)
{
	struct fed_kube_resource r = {group, version, plural, namespaced};

	return r;
}

void fedctl_sleep(struct fedctl *ctx, double s)
{
	bool never = false;

	fed_kube_wait(ctx->loop, &never, s);
}

int fedctl_fail(const struct fed_error *err)
{
	/* the fix, when the code alone tells it */
	const char *hint = NULL;

	switch (err->code) {
	case FED_EUNAVAILABLE:
	case FED_ETIMEOUT:
		hint = "is the cluster up and reachable from here? check --kubeconfig and the "
		       "context";
		break;
	case FED_ETLS:
		hint = "the server's certificate does not match the kubeconfig's CA or name";
		break;
	case FED_EUNAUTHORIZED:
		hint = "the kubeconfig's credentials were rejected: renew them";
		break;
	case FED_EFORBIDDEN:
		/* RBAC's denial ("User x cannot list resource y"), not admission's */
		if (strstr(err->msg, " cannot "))
			hint = "the user lacks that permission: grant it (RBAC) or use a context "
			       "that has it";
		break;
	}
	if (hint && !strstr(err->msg, hint))
		fprintf(stderr, "error: %s (%s)\n", err->msg, hint);
	else
		fprintf(stderr, "error: %s\n", err->msg);
	return EXIT_FAIL;
}

int fedctl_member_delete(struct fedctl *ctx, struct fed_kube_client *member, const char *what,
                         const struct fed_kube_ref *ref, struct fed_error *err)
{
	int ret = fedctl_call_ref(ctx, member, "DELETE", ref, NULL, NULL, 0, NULL, err);

	if (ret == FED_ENOTFOUND) {
		fed_error_clear(err);
		printf("member: %s not found\n", what);
		return 0;
	}
	if (ret)
		return fed_error_wrap(err, "member: delete %s", what);
	printf("member: %s deleted\n", what);
	return 0;
}
