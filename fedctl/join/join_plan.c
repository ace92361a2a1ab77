/* join, the plan: the options checked and turned into what to do (direct
 * or agent, the member's context, its addresses, durations), before any
 * cluster is contacted. Usage errors are FED_EINVAL, naming the option. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federation.h"
#include "join.h"

/* Whether option name was given: a value other than its default, a
 * repeatable one with items, a flag set. */
static bool given(const struct join_opts *o, const char *name)
{
	const struct fed_opt *t;

	for (t = o->table; t->type != FED_OPT_END; t++) {
		if (strcmp(t->name, name))
			continue;
		if (t->type == FED_OPT_BOOL)
			return *(const bool *)t->value;
		if (t->type == FED_OPT_LIST)
			return ((const struct fed_opt_list *)t->value)->n > 0;
		if (t->type == FED_OPT_STRING) {
			const char *v = *(const char *const *)t->value;
			return v && (!t->def || strcmp(v, t->def));
		}
	}
	return false;
}

/* --cluster-connect given, =false, or not at all: fed_opt_parse writes
 * the bool only when it is given, so its byte keeps JOIN_OPT_UNSET
 * otherwise (a bool holds 0 or 1: the union reads that byte, never a bool
 * that was not written). */
static enum fedctl_connect_choice connect_choice(const struct join_opts *o)
{
	_Static_assert(sizeof(bool) == 1, "join_opts.connect reads a bool's byte");
	if (o->connect.raw == JOIN_OPT_UNSET)
		return FEDCTL_CONNECT_KEEP;
	return o->connect.on ? FEDCTL_CONNECT_GRANT : FEDCTL_CONNECT_REVOKE;
}

/* A bad NAME stops join with exit 1, not as a usage error. */
static int check_name(const char *name, struct fed_error *err)
{
	if (!fedctl_check_cluster_name(name, err))
		return 0;
	err->code = FED_ERR;
	return FED_ERR;
}

static int plan_agent(const struct join_opts *o, struct fedctl_join_agent_opts *a,
                      struct fed_error *err)
{
	char hhost[256];
	int port;

	if (given(o, "cluster-context") || given(o, "client-cidr") || given(o, "overwrite") ||
	    given(o, "dry-run") || given(o, "token-lifetime"))
		return fed_error_set(err, FED_EINVAL,
		                     "--mode agent never contacts the member: --cluster-context, "
		                     "--client-cidr, --token-lifetime, --overwrite and --dry-run "
		                     "are for direct members (run join again to replace the "
		                     "agent's token)");
	if (check_name(o->name, err))
		return err->code;
	if (fedctl_parse_duration(o->token_ttl, &a->ttl) || a->ttl < 60)
		return fed_error_set(err, FED_EINVAL,
		                     "--token-ttl takes a duration of at least 1m, such as 24h or "
		                     "90m, not \"%s\"",
		                     o->token_ttl);
	if (o->wait && fedctl_parse_duration(o->wait, &a->wait_for))
		return fed_error_set(err, FED_EINVAL,
		                     "--wait takes a duration such as 2m, 90s or 0, not \"%s\"",
		                     o->wait);
	if ((o->proxy_https && fedctl_agent_check_proxy(o->proxy_https, err)) ||
	    (o->proxy_skip && fedctl_agent_check_no_proxy(o->proxy_skip, err)) ||
	    (o->agent_ns && fedctl_agent_check_namespace(o->agent_ns, err)) ||
	    (o->host_address &&
	     fedctl_agent_split_address(o->host_address, hhost, sizeof(hhost), &port, err) &&
	     fed_error_wrap(err, "--host-address")))
		return err->code = FED_EINVAL;
	if (o->proxy_skip && !o->proxy_https)
		return fed_error_set(err, FED_EINVAL,
		                     "--proxy-skip-range needs --proxy-https (the proxy it "
		                     "bypasses)");
	a->name = o->name;
	a->output = o->output;
	a->host_address = o->host_address;
	a->proxy_https = o->proxy_https;
	a->proxy_skip = o->proxy_skip;
	a->proxy_cert = o->proxy_cert;
	a->image = o->agent_image;
	a->agent_ns = o->agent_ns;
	a->minimal = !strcmp(o->rbac, "minimal");
	a->connect = connect_choice(o);
	return 0;
}

/* One --client-cidr CIDR=ADDRESS into j's addresses. */
static int plan_cidr(const char *item, struct fedctl_join *j, struct fed_error *err)
{
	const char *eq = strchr(item, '=');
	struct fed_cidr c;
	char cidr[128], *url = NULL;
	int ret = 0;

	if (!eq || eq == item || !eq[1] || (size_t)(eq - item) >= sizeof(cidr))
		return fed_error_set(err, FED_EINVAL,
		                     "--client-cidr takes CIDR=ADDRESS (e.g. "
		                     "10.0.0.0/8=https://10.1.2.3:6443), not \"%s\"",
		                     item);
	memcpy(cidr, item, (size_t)(eq - item));
	cidr[eq - item] = '\0';
	if (fed_cidr_parse(cidr, &c, err) || fed_server_url(eq + 1, &url, err) ||
	    strchr(eq + 1, '"') || strchr(eq + 1, '\\')) {
		char why[FED_ERROR_MSG_MAX];
		snprintf(why, sizeof(why), "%s",
		         err->code ? err->msg : "bad characters in the address");
		ret = fed_error_set(err, FED_EINVAL, "--client-cidr %s: %s", item, why);
		goto out;
	}
	j->cidr[j->n_addrs] = strndup(item, (size_t)(eq - item));
	j->addr[j->n_addrs++] = strdup(eq + 1);
out:
	free(url);
	return ret;
}

static int plan_direct(struct fedctl *ctx, const struct join_opts *o, struct fedctl_join *j,
                       struct fed_error *err)
{
	int i;

	if (given(o, "output") || given(o, "host-address") || given(o, "proxy-https") ||
	    given(o, "proxy-skip-range") || given(o, "proxy-cert") || given(o, "token-ttl") ||
	    given(o, "agent-namespace") || given(o, "agent-image"))
		return fed_error_set(err, FED_EINVAL,
		                     "-o, --host-address, --proxy-*, --token-ttl, --agent-image "
		                     "and --agent-namespace are for --mode agent");
	if (fedctl_parse_duration(o->token_lifetime, &j->token_lifetime) ||
	    j->token_lifetime < 600 || j->token_lifetime > 4294967295.0)
		return fed_error_set(err, FED_EINVAL,
		                     "--token-lifetime takes a duration of at least 10m (the "
		                     "apiserver's minimum), such as 24h, not \"%s\"",
		                     o->token_lifetime);
	/* not a table default: agent mode does not wait unless asked */
	if (fedctl_parse_duration(o->wait ? o->wait : "2m", &j->wait_for))
		return fed_error_set(err, FED_EINVAL,
		                     "--wait takes a duration such as 2m, 90s or 0, not \"%s\"",
		                     o->wait);
	if (check_name(o->name, err))
		return err->code;
	for (i = 0; i < o->cidrs.n && i < FEDCTL_JOIN_MAX_ADDRS; i++)
		if (plan_cidr(o->cidrs.items[i], j, err))
			return err->code;
	j->ctx = ctx;
	j->name = o->name;
	j->ns = ctx->fed_namespace;
	j->dry_run = o->dry_run;
	j->overwrite = o->overwrite;
	j->rbac = o->rbac;
	j->member_context = o->cluster_ctx ? o->cluster_ctx : o->name;
	j->context_given = o->cluster_ctx != NULL;
	j->connect = connect_choice(o);
	return 0;
}

int fedctl_join_plan(struct fedctl *ctx, const struct join_opts *o, struct join_plan *p,
                     struct fed_error *err)
{
	if (strcmp(o->rbac, "full") && strcmp(o->rbac, "minimal"))
		return fed_error_set(err, FED_EINVAL, "--rbac takes full or minimal, not \"%s\"",
		                     o->rbac);
	if (strcmp(o->mode, "direct") && strcmp(o->mode, "agent"))
		return fed_error_set(err, FED_EINVAL, "--mode takes direct or agent, not \"%s\"",
		                     o->mode);
	p->agent = !strcmp(o->mode, "agent");
	if (p->agent)
		return plan_agent(o, &p->agent_opts, err);
	fed_rest_config_init(&p->direct.mcfg);
	return plan_direct(ctx, o, &p->direct, err);
}

void fedctl_join_release(struct fedctl_join *j)
{
	int i;

	for (i = 0; i < j->n_addrs; i++) {
		free((char *)j->cidr[i]);
		free(j->addr[i]);
	}
	j->n_addrs = 0;
	fed_kube_client_free(j->member);
	j->member = NULL;
	fed_rest_config_release(&j->mcfg);
}
