/* fedctl kubeconfig CLUSTER...: kubectl to joined members through the
 * host's cluster connect API, as yourself. For each member a cluster and a
 * context fed-NAME in the kubeconfig kubectl uses: the host's server with
 * the member's proxy path, the host's CA, and the host context's user by
 * name (no credential is copied). --print writes a kubeconfig of its own
 * to stdout instead. The tree edits: kubeconfig_edit.c; the files:
 * kubeconfig_file.c. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_connect.h"
#include "fed/federation.h"
#include "fedctl.h"

#define MAX_CLUSTERS 128

static const char usage[] = "fedctl kubeconfig CLUSTER... | --all [--use] [--print]";
static const char examples[] =
    "  # context fed-edge-1: kubectl to member edge-1 through the host, as yourself\n"
    "  fedctl kubeconfig edge-1\n"
    "  kubectl --context fed-edge-1 get pods\n"
    "  # every joined cluster\n"
    "  fedctl kubeconfig --all\n"
    "  # and make fed-east the current context\n"
    "  fedctl kubeconfig east --use\n"
    "  # a kubeconfig of its own (it holds your credential: keep it private)\n"
    "  fedctl kubeconfig edge-1 --print > edge-1.kubeconfig\n";

/* One run: the options, what it read, what it chose. */
struct kc_run {
	struct fedctl *ctx;
	bool all, use, print;
	char *args[MAX_CLUSTERS];
	int nargs;
	const char *names[MAX_CLUSTERS]; /* the chosen members (into fed or args) */
	size_t n;
	struct fed_rest_config cfg; /* the host context */
	struct fedctl_connect_host h;
	struct fed_federation *fed;
	char **files;
	size_t nfiles;
};

/* -1: go on; else the exit code. */
static int parse(struct kc_run *r, int argc, char **argv)
{
	const struct fed_opt opts[] = {
	    {FED_OPT_BOOL, "all", 0, &r->all, NULL,
	     "every cluster joined in the Federation (fedctl list's)", NULL},
	    {FED_OPT_BOOL, "use", 0, &r->use, NULL,
	     "make the one CLUSTER's context the current context", NULL},
	    {FED_OPT_BOOL, "print", 0, &r->print, NULL,
	     "print a kubeconfig of its own to stdout (with a copy of your user entry: keep it "
	     "private) instead of editing yours",
	     NULL},
	    FED_OPT_TABLE_END,
	};
	const struct fedctl_spec spec = {usage, examples, opts};
	const char *why = NULL;
	bool stop;

	if (fedctl_parse_args(r->ctx, &spec, argc, argv, r->args, MAX_CLUSTERS, &r->nargs, &stop))
		return EXIT_USAGE;
	if (stop)
		return EXIT_OK;
	if (!r->nargs && !r->all)
		why = "which clusters? name them, or pass --all";
	else if (r->nargs && r->all)
		why = "--all takes no CLUSTER";
	else if (r->use && r->print)
		why = "--use changes your kubeconfig, --print writes none: pass one of them";
	else if (r->use && (r->all || r->nargs != 1))
		why = "--use takes exactly one CLUSTER (the context to make current)";
	if (why) {
		fprintf(stderr, "error: %s\nUsage: %s\n", why, usage);
		return EXIT_USAGE;
	}
	return -1;
}

/* "a, b, c" of the joined clusters, for an unknown name. */
static void joined_list(const struct fed_federation *fed, char *out, size_t n)
{
	size_t i, off = 0;

	out[0] = '\0';
	for (i = 0; fed && i < fed->n && off < n; i++)
		if (fed->clusters[i].name)
			off += (size_t)snprintf(out + off, n - off, "%s%s", off ? ", " : "",
			                        fed->clusters[i].name);
}

static bool joined(const struct fed_federation *fed, const char *name)
{
	size_t i;

	for (i = 0; fed && i < fed->n; i++)
		if (fed->clusters[i].name && !strcmp(fed->clusters[i].name, name))
			return true;
	return false;
}

/* The names as given: the user may not read the Federation (an end user
 * of cluster connect seldom may read kube-system); the host checks each
 * proxy request anyway. */
static int unchecked(struct kc_run *r, struct fed_error *err)
{
	int k;

	fprintf(stderr,
	        "warning: user %s may not read configmap %s/%s on the host: whether the "
	        "clusters are joined is not checked\n",
	        r->h.user ? r->h.user : "(none)", FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP);
	fed_error_clear(err);
	for (k = 0; k < r->nargs; k++)
		r->names[r->n++] = r->args[k];
	return 0;
}

/* The members to write, from the Federation the host holds. */
static int choose(struct kc_run *r, struct fed_error *err)
{
	struct fed_kube_client *host;
	char known[1024];
	size_t i;
	int k, ret;

	for (k = 0; k < r->nargs; k++)
		if ((ret = fedctl_check_cluster_name(r->args[k], err)))
			return ret;
	if ((ret = fedctl_host(r->ctx, &host, err)))
		return ret;
	ret = fedctl_load_federation(r->ctx, host, &r->fed, err);
	if (ret == FED_EFORBIDDEN && !r->all)
		return unchecked(r, err);
	if (ret == FED_EFORBIDDEN)
		return fed_error_set(err, ret,
		                     "--all reads the joined clusters from configmap %s/%s, which "
		                     "user %s may not read on the host: name the clusters instead",
		                     FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP,
		                     r->h.user ? r->h.user : "(none)");
	if (ret)
		return ret;
	joined_list(r->fed, known, sizeof(known));
	if (!*known)
		return fed_error_set(err, FED_ENOTFOUND,
		                     "no cluster is joined to the federation of context %s (fedctl "
		                     "join NAME joins one)",
		                     r->cfg.context ? r->cfg.context : "?");
	for (i = 0; r->all && i < r->fed->n && r->n < MAX_CLUSTERS; i++) {
		const char *name = r->fed->clusters[i].name;
		size_t j;
		bool dup = false;
		for (j = 0; name && j < r->n; j++)
			dup = dup || !strcmp(r->names[j], name);
		if (name && !dup)
			r->names[r->n++] = name;
	}
	for (k = 0; k < r->nargs; k++) {
		if (!joined(r->fed, r->args[k]))
			return fed_error_set(
			    err, FED_ENOTFOUND,
			    "cluster \"%s\" is not joined (joined: %s); fedctl list "
			    "shows them",
			    r->args[k], known);
		r->names[r->n++] = r->args[k];
	}
	return 0;
}

/* The host context and what its fed-* contexts copy of it. */
static int host_context(struct kc_run *r, struct fed_error *err)
{
	int ret = fed_rest_config_load(&r->cfg, r->ctx->kubeconfig, r->ctx->host_context, err);
	char *check = NULL;

	if (ret)
		return ret;
	if (r->cfg.source && !strcmp(r->cfg.source, "in-cluster"))
		return fed_error_set(
		    err, FED_EINVAL,
		    "no kubeconfig found (only the in-cluster config, which has no "
		    "user to name): pass --kubeconfig FILE");
	r->h.server = r->cfg.server;
	r->h.ca_pem = r->cfg.ca_pem;
	r->h.ca_len = r->cfg.ca_len;
	r->h.tls_server_name = r->cfg.tls_server_name;
	r->h.proxy_url = r->cfg.proxy_url;
	r->h.insecure = r->cfg.insecure_skip_tls_verify;
	r->h.user = r->cfg.user;
	/* before contacting it: a fed-* context is a member, not the host */
	if ((ret = fedctl_connect_server(r->h.server, "check", &check, err)))
		return fed_error_wrap(err, "context %s", r->cfg.context ? r->cfg.context : "?");
	free(check);
	return fedctl_kubeconfig_files(r->ctx->kubeconfig, &r->files, &r->nfiles, err);
}

/* --print: the user entry comes from the first file defining it. */
static int print_standalone(struct kc_run *r, struct fed_error *err)
{
	cJSON *user = NULL, *kc = NULL, *out = NULL;
	struct fed_buf b = FED_BUF_INIT_SENSITIVE; /* the user's credential */
	char *text = NULL, *dir = NULL;
	size_t i, len;
	int ret = 0;

	for (i = 0; r->h.user && i < r->nfiles && !user && !ret; i++) {
		if ((ret = fedctl_file_read(r->files[i], &text, &len, err)) || !text)
			continue;
		ret = fedctl_kubeconfig_parse(text, len, r->files[i], &kc, err);
		if (!ret && (dir = strdup(r->files[i])))
			user = fedctl_kubeconfig_user(kc, r->h.user, dirname(dir));
		cJSON_Delete(kc);
		kc = NULL;
		free(text);
		free(dir);
		text = dir = NULL;
	}
	if (!ret && r->h.user && !user)
		ret = fed_error_set(err, FED_ENOTFOUND,
		                    "user \"%s\" of context %s is in none of the kubeconfig files",
		                    r->h.user, r->cfg.context ? r->cfg.context : "?");
	if (ret || (ret = fedctl_kubeconfig_standalone(&r->h, r->names, r->n, user, &out, err)))
		goto out;
	if (fedctl_yaml(&b, out)) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	fwrite(fed_buf_str(&b), 1, b.len, stdout);
	fprintf(stderr,
	        "printed a kubeconfig for %zu cluster(s), current context %s%s: it holds "
	        "the credential of user %s, keep it private\n",
	        r->n, FEDCTL_CONNECT_CONTEXT_PREFIX, r->names[0], r->h.user ? r->h.user : "(none)");
out:
	cJSON_Delete(user);
	cJSON_Delete(out);
	fed_buf_release(&b);
	return ret;
}

/* The contexts into the first kubeconfig file, under its lock. */
static int write_contexts(struct kc_run *r, struct fed_error *err)
{
	const char *file = r->files[0];
	const char *states[MAX_CLUSTERS];
	char *target = NULL, *lock = NULL, *text = NULL;
	struct fed_buf b = FED_BUF_INIT;
	cJSON *kc = NULL;
	bool changed = false;
	size_t i, len = 0;
	int ret;

	if ((ret = fedctl_kubeconfig_lock(file, &target, &lock, err)) ||
	    (ret = fedctl_file_read(target, &text, &len, err)) ||
	    (ret = fedctl_kubeconfig_parse(text ? text : "", len, file, &kc, err)))
		goto out;
	for (i = 0; i < r->n && !ret; i++) {
		ret = fedctl_kubeconfig_add(kc, &r->h, r->names[i], r->use, file, &states[i], err);
		changed = changed || (!ret && strcmp(states[i], "unchanged"));
	}
	if (ret)
		goto out;
	/* nothing to change: the file stays as it is, to the byte */
	if (changed) {
		if (fedctl_yaml(&b, kc)) {
			ret = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
		if ((ret = fedctl_file_replace(target, fed_buf_str(&b), b.len, err)))
			goto out;
	}
	for (i = 0; i < r->n; i++)
		printf("kubeconfig %s: context %s%s %s (user %s, through the host of context %s)\n",
		       file, FEDCTL_CONNECT_CONTEXT_PREFIX, r->names[i], states[i],
		       r->h.user ? r->h.user : "(none)", r->cfg.context ? r->cfg.context : "?");
	if (r->use)
		printf("current context: %s%s (fedctl then needs --host-cluster-context %s)\n",
		       FEDCTL_CONNECT_CONTEXT_PREFIX, r->names[0],
		       r->cfg.context ? r->cfg.context : "HOST");
	printf("next: kubectl --context %s%s get pods (the member's RBAC decides what you may "
	       "do there)\n",
	       FEDCTL_CONNECT_CONTEXT_PREFIX, r->names[0]);
out:
	fedctl_kubeconfig_unlock(lock);
	cJSON_Delete(kc);
	fed_buf_release(&b);
	free(text);
	free(target);
	return ret;
}

int cmd_kubeconfig(struct fedctl *ctx, int argc, char **argv)
{
	struct fed_error err = FED_ERROR_INIT;
	struct kc_run r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	fed_rest_config_init(&r.cfg);
	if ((rc = parse(&r, argc, argv)) >= 0)
		goto out;
	rc = EXIT_OK;
	if (host_context(&r, &err) || choose(&r, &err) ||
	    (r.print ? print_standalone(&r, &err) : write_contexts(&r, &err)))
		rc = fedctl_fail(&err);
out:
	fed_federation_free(r.fed);
	fed_rest_config_release(&r.cfg);
	fedctl_files_free(r.files, r.nfiles);
	return rc;
}
