/* fedctl delete NAME (alias unjoin): the reverse of join. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delete.h"
#include "fedctl.h"

static const char usage[] = "fedctl delete NAME [--cluster-context CTX] [--host-cluster-context "
                            "CTX] [--force] [--orphan] [--dry-run] [--wait DURATION]";
static const char examples[] =
    "  fedctl delete cluster1 --host-cluster-context host\n"
    "  # the member is gone for good: clean up the host only\n"
    "  fedctl delete cluster1 --force\n"
    "  # keep what was propagated there running, unmanaged\n"
    "  fedctl delete cluster1 --orphan\n"
    "\n"
    "Order: the host first (ConfigMap entry, kubeconfig key), then fedctl waits until\n"
    "fed-controller has let go of the cluster (its KubeFedCluster is gone), then in the\n"
    "member the propagated copies (labelled kubefed.io/managed=true) are deleted, or\n"
    "with --orphan unlabelled, and then the ServiceAccount, RBAC and namespace.\n";

/* argv -> d->o; an exit code when the command stops here, else -1. */
static int parse(struct fedctl_delete *d, int argc, char **argv)
{
	const char *wait_s = NULL;
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "cluster-context", 0, &d->o.member_context, "CTX",
	     "kubeconfig context of the member (unset: NAME)", NULL},
	    {FED_OPT_BOOL, "force", 0, &d->o.force, NULL,
	     "finish on the host even when the member cannot be reached (says what is left "
	     "there)",
	     NULL},
	    {FED_OPT_BOOL, "orphan", 0, &d->o.orphan, NULL,
	     "leave the propagated copies of federated resources running in the member, "
	     "without the kubefed.io/managed label (unset: they are deleted)",
	     NULL},
	    {FED_OPT_BOOL, "dry-run", 0, &d->o.dry_run, NULL, "only print what would be done",
	     NULL},
	    {FED_OPT_STRING, "wait", 0, &wait_s, "DURATION",
	     "wait this long for fed-controller to let go of the cluster (remove its "
	     "KubeFedCluster) before the member is cleaned (0: do not wait)",
	     "30s"},
	    FED_OPT_TABLE_END,
	};
	const struct fedctl_spec spec = {usage, examples, opts};
	struct fed_error err = FED_ERROR_INIT;
	char *args[1];
	int nargs, ret;
	bool stop;

	if ((ret = fedctl_parse_args(d->ctx, &spec, argc, argv, args, 1, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if (nargs != 1) {
		fprintf(stderr, "error: delete needs the cluster's NAME\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	if (fedctl_parse_duration(wait_s, &d->o.wait_for)) {
		fprintf(stderr, "error: --wait takes a duration such as 30s, 2m or 0, not \"%s\"\n",
		        wait_s);
		return EXIT_USAGE;
	}
	if (fedctl_check_cluster_name(args[0], &err))
		return fedctl_fail(&err);
	d->o.name = args[0];
	if (!d->o.member_context)
		d->o.member_context = args[0];
	return -1;
}

/* An earlier delete of an agent member may have stopped after the entry:
 * its tokens are what is left. */
static int leftover_tokens(struct fedctl_delete *d, struct fed_error *err)
{
	char *patch = NULL;
	int n = 0, ret = fedctl_delete_agent_tokens(d, false, &patch, &n, err);

	free(patch);
	if (!ret)
		d->p.agent = n > 0;
	return ret;
}

/* Neither the entry nor the key is on the host: an earlier delete may have
 * stopped there, so the member decides. 0 to finish the member, 1 when
 * there is nothing to do (said so). */
static int not_joined(struct fedctl_delete *d, int unreachable)
{
	const struct fed_kube_ref sa = {&fed_r_serviceaccounts, d->ctx->fed_namespace,
	                                FEDCTL_MEMBER_SA, NULL};
	struct fed_error merr = FED_ERROR_INIT;
	const char *other;

	if (unreachable ||
	    fedctl_call_ref(d->ctx, d->member, "GET", &sa, NULL, NULL, 0, NULL, &merr)) {
		printf("cluster %s is not joined: nothing to do\n", d->o.name);
		return 1;
	}
	if ((other = fedctl_joined_as(d->fed, d->mcfg.server))) {
		printf("cluster %s is not joined (context %s is the member joined as %s: "
		       "fedctl delete %s --cluster-context %s removes that one): nothing to do\n",
		       d->o.name, d->o.member_context, other, other, d->o.member_context);
		return 1;
	}
	printf("cluster %s is no longer in the host's configuration, but serviceaccount "
	       "%s/%s is still in the member: finishing the cleanup there\n",
	       d->o.name, d->ctx->fed_namespace, FEDCTL_MEMBER_SA);
	return 0;
}

/* The member must answer before anything changes, unless --force. 0 to
 * go on (d->member NULL when it does not answer), 1 when there is nothing
 * to do, else a fed error in err. */
static int reach_member(struct fedctl_delete *d, struct fed_error *err)
{
	struct fed_error merr = FED_ERROR_INIT;
	int ret =
	    fedctl_connect(d->ctx, "member", d->o.member_context, &d->mcfg, &d->member, &merr);

	if (!d->p.in_cm && !d->p.in_secret && not_joined(d, ret))
		return 1;
	if (ret && !d->o.force) {
		*err = merr;
		return fed_error_wrap(err,
		                      "cluster %s stays joined; fix the connection, or use "
		                      "--force to remove it from the host only",
		                      d->o.name);
	}
	if (ret) {
		printf("member: unreachable, continuing because of --force: %s\n", merr.msg);
		fed_kube_client_free(d->member);
		d->member = NULL;
		return 0;
	}
	fedctl_delete_check_self(d);
	if (d->self)
		printf("member: cluster %s is the host itself: namespace %s is kept\n", d->o.name,
		       d->ctx->fed_namespace);
	return 0;
}

static int dry_run(struct fedctl_delete *d, struct fed_error *err)
{
	int ret = 0;

	if (d->p.in_cm)
		printf("host: configmap %s/%s: cluster %s would be removed (dry run)\n",
		       FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP, d->o.name);
	if (d->p.in_secret)
		printf("host: secret %s/%s: key %s would be removed (dry run)\n", FEDCTL_CONFIG_NS,
		       FEDCTL_SECRET, d->p.key);
	if (d->member && (ret = fedctl_member_clean_managed(d->ctx, d->host, d->member, d->self,
	                                                    d->o.orphan, true, err)))
		return ret;
	if (d->member)
		printf("member: clusterrolebinding, clusterrole %s, secret %s, "
		       "serviceaccount %s%s%s would be deleted (dry run)\n",
		       FEDCTL_MEMBER_ROLE, FEDCTL_MEMBER_TOKEN, FEDCTL_MEMBER_SA,
		       d->self ? "" : ", namespace ", d->self ? "" : d->ctx->fed_namespace);
	return 0;
}

/* The member's part, once fed-controller let go of the cluster. */
static int clean_member(struct fedctl_delete *d)
{
	struct fed_error err = FED_ERROR_INIT;

	if (!d->member) {
		fedctl_delete_leftovers(d);
		printf("cluster %s left the federation (the member was not cleaned)\n", d->o.name);
		return EXIT_OK;
	}
	if (fedctl_member_clean_managed(d->ctx, d->host, d->member, d->self, d->o.orphan, false,
	                                &err) ||
	    fedctl_delete_member_objects(d, &err)) {
		fedctl_fail(&err);
		fedctl_delete_leftovers(d);
		return EXIT_FAIL;
	}
	printf("cluster %s left the federation; %s\n", d->o.name,
	       d->o.orphan ? "its propagated copies stay in the member, unmanaged (--orphan)"
	                   : "its propagated copies were removed from the member");
	return EXIT_OK;
}

/* A direct member: the host first, the entry before the key so that the
 * controller stops using the kubeconfig before it disappears; then, once
 * the controller let go (so that it does not write the copies back while
 * they are removed), the member. */
static int delete_direct(struct fedctl_delete *d)
{
	struct fed_error err = FED_ERROR_INIT;
	int ret;

	if ((ret = reach_member(d, &err)) > 0)
		return EXIT_OK;
	if (ret)
		return fedctl_fail(&err);
	if (d->o.dry_run)
		return dry_run(d, &err) ? fedctl_fail(&err) : EXIT_OK;
	if ((d->p.in_cm && fedctl_delete_remove_entry(d, &err)) ||
	    (d->p.in_secret && fedctl_delete_remove_key(d, &err)))
		return fedctl_fail(&err);
	if (d->o.wait_for > 0 && fedctl_delete_wait_released(d))
		return EXIT_FAIL;
	return clean_member(d);
}

int cmd_delete(struct fedctl *ctx, int argc, char **argv)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fedctl_delete d;
	int rc;

	memset(&d, 0, sizeof(d));
	d.ctx = ctx;
	fed_rest_config_init(&d.hcfg);
	fed_rest_config_init(&d.mcfg);
	if ((rc = parse(&d, argc, argv)) >= 0)
		goto out;
	rc = fedctl_connect(ctx, "host", ctx->host_context, &d.hcfg, &d.host, &err);
	ctx->host = d.host;
	if (!rc && !(rc = fedctl_delete_load(&d, &err))) {
		fedctl_delete_plan(d.fed, d.secret, d.o.name, &d.p);
		if (!d.p.agent && !d.p.in_cm && !d.p.in_secret)
			rc = leftover_tokens(&d, &err);
	}
	if (rc)
		rc = fedctl_fail(&err);
	else
		rc = d.p.agent ? fedctl_delete_agent(&d) : delete_direct(&d);
out:
	fed_kube_client_free(d.member);
	fed_rest_config_release(&d.mcfg);
	fed_rest_config_release(&d.hcfg);
	fed_federation_free(d.fed);
	cJSON_Delete(d.cm);
	cJSON_Delete(d.secret);
	return rc;
}
