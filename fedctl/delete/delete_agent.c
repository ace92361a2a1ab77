/* fedctl delete of an agent member: the entry and the unused bootstrap
 * tokens on the host; in the member, when its context answers from here
 * (an agent member often does not), the propagated copies. The agent
 * itself came from agent.yaml: the user removes it the same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cluster_connect.h"
#include "delete.h"
#include "fedctl.h"

static void agent_hint(const char *mctx, const char *ns)
{
	printf("to remove the agent from the member: kubectl --context %s delete -f agent.yaml\n"
	       "  (or: kubectl --context %s delete --ignore-not-found namespace/%s "
	       "clusterrolebinding/%s clusterrole/%s clusterrolebinding/%s clusterrole/%s)\n",
	       mctx, mctx, ns, FEDCTL_AGENT_NAME, FEDCTL_AGENT_NAME, FEDCTL_CONNECT_ROLE,
	       FEDCTL_CONNECT_ROLE);
}

/* The member when its context answers, else NULL (said so). */
static void reach_member(struct fedctl_delete *d)
{
	struct fed_error merr = FED_ERROR_INIT;

	if (fedctl_connect(d->ctx, "member", d->o.member_context, &d->mcfg, &d->member, &merr)) {
		printf("member: context %s does not answer from here (%s): agent members often "
		       "do not; the propagated copies stay there\n",
		       d->o.member_context, merr.msg);
		fed_kube_client_free(d->member);
		d->member = NULL;
	} else {
		fedctl_delete_check_self(d);
	}
}

static int dry_run(struct fedctl_delete *d, int n, struct fed_error *err)
{
	if (d->p.in_cm)
		printf("host: configmap %s/%s: agent cluster %s would be removed (dry run)\n",
		       FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP, d->o.name);
	printf("host: secret %s/%s: %d unused bootstrap token(s) would be removed (dry "
	       "run), and the agents' credentials revoked\n",
	       FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, n);
	if (d->member)
		return fedctl_member_clean_managed(d->ctx, d->host, d->member, d->self, d->o.orphan,
		                                   true, err);
	return 0;
}

static void done(const struct fedctl_delete *d)
{
	printf("cluster %s left the federation; %s\n", d->o.name,
	       !d->member    ? "its propagated copies were not removed (the member was not reached)"
	       : d->o.orphan ? "its propagated copies stay in the member, unmanaged (--orphan)"
	                     : "its propagated copies were removed from the member");
	agent_hint(d->o.member_context, d->ctx->fed_namespace);
}

/* After the tokens are read: 0 done, 1 when the wait for fed-controller
 * failed (said so), else a fed error in err. */
static int steps(struct fedctl_delete *d, const char *patch, int n, struct fed_error *err)
{
	int ret = 0;

	reach_member(d);
	if (d->o.dry_run)
		return dry_run(d, n, err);
	if ((d->p.in_cm && (ret = fedctl_delete_remove_entry(d, err))) ||
	    (patch && (ret = fedctl_delete_patch_tokens(d, patch, err))))
		return ret;
	printf("host: secret %s/%s: %d unused bootstrap token(s) of %s removed%s\n",
	       FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, n, d->o.name,
	       patch ? "; its agents' credentials revoked (generation raised)" : "");
	if (d->o.wait_for > 0 && fedctl_delete_wait_released(d))
		return 1;
	if (d->member && (ret = fedctl_member_clean_managed(d->ctx, d->host, d->member, d->self,
	                                                    d->o.orphan, false, err)))
		return ret;
	done(d);
	return 0;
}

int fedctl_delete_agent(struct fedctl_delete *d)
{
	struct fed_error err = FED_ERROR_INIT;
	char *patch = NULL;
	int n = 0, ret;

	if (!(ret = fedctl_delete_agent_tokens(d, true, &patch, &n, &err)))
		ret = steps(d, patch, n, &err);
	free(patch);
	if (ret > 0)
		return EXIT_FAIL;
	return ret ? fedctl_fail(&err) : EXIT_OK;
}
