/* fedctl join NAME: set up a member (namespace, ServiceAccount, RBAC, a
 * bound token that fed-controller renews) and register it in the host
 * (Federation ConfigMap + kubeconfig Secret), then wait until
 * fed-controller reports it Ready. This file parses; join_plan.c decides,
 * join_direct.c and join_agent.c apply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"

static const char usage[] =
    "fedctl join NAME [--cluster-context CTX] [--host-cluster-context CTX]\n"
    "       [--client-cidr CIDR=ADDRESS ...] [--rbac minimal|full] [--wait DURATION]\n"
    "       [--token-lifetime DURATION] [--cluster-connect[=false]] [--overwrite] [--dry-run]\n"
    "fedctl join NAME --mode agent [-o FILE] [--host-address HOST:PORT] [--rbac minimal|full]\n"
    "       [--proxy-https URL] [--proxy-skip-range LIST] [--proxy-cert FILE]\n"
    "       [--token-ttl DURATION] [--agent-image IMAGE] [--agent-namespace NS] [--wait DURATION]\n"
    "       [--cluster-connect[=false]]";
static const char examples[] =
    "  # join the cluster of context cluster1 under the name cluster1\n"
    "  fedctl join cluster1 --host-cluster-context host\n"
    "  # the host joins itself\n"
    "  fedctl join host --host-cluster-context host\n"
    "  # another context, with every right in the member (not the default)\n"
    "  fedctl join east --cluster-context kind-east --rbac full\n"
    "  # the controller reaches the member at another address from 10.0.0.0/8\n"
    "  fedctl join east --client-cidr 10.0.0.0/8=https://10.1.2.3:6443 \\\n"
    "      --client-cidr 0.0.0.0/0=https://east.example.com\n"
    "  # kubectl to the member through the host, as yourself (then: fedctl kubeconfig east)\n"
    "  fedctl join east --cluster-context kind-east --cluster-connect\n"
    "  # a member behind a firewall: its agent dials the host; apply agent.yaml there\n"
    "  fedctl join edge --mode agent -o agent.yaml\n"
    "  kubectl --context edge create -f agent.yaml\n"
    "  # through an outbound proxy, tunnel address given by hand\n"
    "  fedctl join edge --mode agent --host-address tunnel.example.com:8080 \\\n"
    "      --proxy-https http://proxy.example.com:3128 --proxy-skip-range 10.0.0.0/8\n";

/* The option table, bound to o's fields; the defaults live here only. */
static void bind_options(struct join_opts *o)
{
	const struct fed_opt t[] = {
	    {FED_OPT_STRING, "mode", 0, &o->mode, "direct|agent",
	     "direct: the controller dials the member's API server; agent: the member runs "
	     "fed-agent, which dials the host (writes agent.yaml)",
	     "direct"},
	    {FED_OPT_STRING, "cluster-context", 0, &o->cluster_ctx, "CTX",
	     "kubeconfig context of the member (default: NAME)", NULL},
	    {FED_OPT_LIST, "client-cidr", 0, &o->cidrs, "CIDR=ADDRESS",
	     "address of the member's API server for controllers in CIDR (repeatable; default: "
	     "the context's server for 0.0.0.0/0 and ::/0)",
	     NULL},
	    {FED_OPT_STRING, "rbac", 0, &o->rbac, "minimal|full",
	     "rights of the federation in the member: minimal: only what fed uses (the enabled "
	     "federated types, namespaces and nodes read, health endpoints; fedctl "
	     "enable/disable keep it in step), or full: everything (cluster-admin)",
	     "minimal"},
	    {FED_OPT_STRING, "wait", 0, &o->wait, "DURATION",
	     "wait this long for the cluster to be Ready (default 2m; 0: do not wait; agent "
	     "mode waits only when given)",
	     NULL},
	    {FED_OPT_STRING, "output", 'o', &o->output, "FILE",
	     "agent mode: write agent.yaml here (-: stdout); mode 0600, it holds the bootstrap "
	     "token",
	     "agent.yaml"},
	    {FED_OPT_STRING, "host-address", 0, &o->host_address, "HOST:PORT",
	     "agent mode: where agents dial the host (default: the load balancer of service "
	     "fed-tunnel, else the Federation's spec.tunnel.proxyPublishAddress)",
	     NULL},
	    {FED_OPT_STRING, "proxy-https", 0, &o->proxy_https, "URL",
	     "agent mode: the member's outbound proxy, http:// or https://", NULL},
	    {FED_OPT_STRING, "proxy-skip-range", 0, &o->proxy_skip, "LIST",
	     "agent mode: comma list of CIDRs, IPs and domains the agent reaches without the "
	     "proxy (NO_PROXY)",
	     NULL},
	    {FED_OPT_STRING, "proxy-cert", 0, &o->proxy_cert, "FILE",
	     "agent mode: PEM CA bundle of an https:// proxy", NULL},
	    {FED_OPT_STRING, "token-ttl", 0, &o->token_ttl, "DURATION",
	     "agent mode: how long the one-time bootstrap token is valid", "24h"},
	    {FED_OPT_STRING, "agent-image", 0, &o->agent_image, "IMAGE",
	     "agent mode: the image holding /usr/bin/fed-agent (scripts/image builds it)",
	     "fed:" FED_VERSION},
	    {FED_OPT_STRING, "agent-namespace", 0, &o->agent_ns, "NS",
	     "agent mode: the agent's namespace in the member (default: the federation "
	     "namespace)",
	     NULL},
	    {FED_OPT_STRING, "token-lifetime", 0, &o->token_lifetime, "DURATION",
	     "direct mode: lifetime of the member ServiceAccount's bound token (at least 10m); "
	     "fed-controller renews it before it expires",
	     "24h"},
	    {FED_OPT_BOOL, "cluster-connect", 0, &o->connect.on, NULL,
	     "let fed impersonate users, groups and user extras in the member (not "
	     "ServiceAccounts), for kubectl through the host (fedctl kubeconfig); it may then act "
	     "as any user or group there. =false removes that; not given: left as it is",
	     NULL},
	    {FED_OPT_BOOL, "overwrite", 0, &o->overwrite, NULL,
	     "update a cluster that is already joined", NULL},
	    {FED_OPT_BOOL, "dry-run", 0, &o->dry_run, NULL, "only print what would be done", NULL},
	    FED_OPT_TABLE_END,
	};

	_Static_assert(sizeof(t) <= sizeof(o->table), "join_opts.table is too small");
	memcpy(o->table, t, sizeof(t));
}

/* -1: go on with o filled; else the exit code. */
static int parse(struct fedctl *ctx, int argc, char **argv, struct join_opts *o)
{
	const struct fedctl_spec spec = {usage, examples, o->table};
	char *args[1];
	int nargs;
	bool stop;

	memset(o, 0, sizeof(*o));
	o->connect.raw = JOIN_OPT_UNSET; /* no default: fed_opt_parse leaves it */
	bind_options(o);
	if (fedctl_parse_args(ctx, &spec, argc, argv, args, 1, &nargs, &stop))
		return EXIT_USAGE;
	if (stop)
		return EXIT_OK;
	if (nargs != 1) {
		fprintf(stderr, "error: join needs the cluster's NAME\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	o->name = args[0];
	return -1;
}

int cmd_join(struct fedctl *ctx, int argc, char **argv)
{
	struct join_opts o;
	struct join_plan p;
	struct fed_error err = FED_ERROR_INIT;
	int rc;

	rc = parse(ctx, argc, argv, &o);
	if (rc >= 0)
		return rc;
	memset(&p, 0, sizeof(p));
	if (fedctl_join_plan(ctx, &o, &p, &err)) {
		if (err.code == FED_EINVAL) {
			fprintf(stderr, "error: %s\n", err.msg);
			rc = EXIT_USAGE;
		} else {
			rc = fedctl_fail(&err);
		}
	} else if (p.agent) {
		rc = fedctl_join_agent(ctx, &p.agent_opts);
	} else {
		rc = fedctl_join_direct(ctx, &p.direct);
	}
	fedctl_join_release(&p.direct);
	return rc;
}
