/* Cluster connect in the member (fedctl/connect_rbac.c): exactly the
 * impersonation fed needs and nothing broader, never ServiceAccounts; in
 * agent.yaml only when asked; and join's --cluster-connect read three
 * ways (given, =false, not given) by the real option parser and plan
 * (fedctl/join/join_plan.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#include "../../fedctl/agent_check.c"
#include "../../fedctl/agent_yaml.c"
#include "../../fedctl/connect_rbac.c"
#include "../../fedctl/join/join_plan.c"
#include "../../fedctl/member_setup.c"
#include "../../fedctl/output.c"

static bool has(const cJSON *arr, const char *s)
{
	const cJSON *x;

	cJSON_ArrayForEach(x, arr)
		if (cJSON_IsString(x) && !strcmp(x->valuestring, s))
			return true;
	return false;
}

/* The strings of arr, comma-joined ("" as core). */
static void joined(const cJSON *arr, char *out, size_t n)
{
	const cJSON *x;
	size_t off = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(x, arr)
		if (off < n)
			off += (size_t)snprintf(out + off, n - off, "%s%s", off ? "," : "",
			                        *x->valuestring ? x->valuestring : "core");
}

/* "groups resources verbs" of a rule, for comparing. */
static void describe_rule(const cJSON *r, char *out, size_t n)
{
	char g[64], res[64], v[64];

	joined(cJSON_GetObjectItem(r, "apiGroups"), g, sizeof(g));
	joined(cJSON_GetObjectItem(r, "resources"), res, sizeof(res));
	joined(cJSON_GetObjectItem(r, "verbs"), v, sizeof(v));
	snprintf(out, n, "%s %s %s", g, res, v);
}

static void test_role_rules(void)
{
	static const char *const want[] = {"core users,groups impersonate",
	                                   "authentication.k8s.io * impersonate"};
	cJSON *cr = fedctl_connect_role(NULL), *r;
	const cJSON *labels = cJSON_GetObjectItem(cJSON_GetObjectItem(cr, "metadata"), "labels");
	char d[512];
	int i = 0;

	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cr, "kind")), "ClusterRole");
	CHECK_STR(fed_obj_name(cr), "fed-cluster-connect");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(labels, "app.kubernetes.io/managed-by")),
	          "fedctl");
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(cr, "rules")), 2);
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(cr, "rules")) {
		const cJSON *res = cJSON_GetObjectItem(r, "resources");
		const cJSON *groups = cJSON_GetObjectItem(r, "apiGroups");
		describe_rule(r, d, sizeof(d));
		CHECK_STR(d, want[i]);
		i++;
		/* one verb, impersonate: never "*" */
		CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r, "verbs")), 1);
		CHECK(has(cJSON_GetObjectItem(r, "verbs"), "impersonate"));
		/* never serviceaccounts (fed would be any ServiceAccount of the
		 * member), never the "*" group, no nonResourceURLs or names */
		CHECK(!has(res, "serviceaccounts"));
		CHECK(!has(groups, "*"));
		CHECK(cJSON_GetObjectItem(r, "nonResourceURLs") == NULL);
		CHECK(cJSON_GetObjectItem(r, "resourceNames") == NULL);
		/* the one wildcard: every resource of authentication.k8s.io
		 * (userextras/KEY and uids), as RBAC has no userextras/ANY */
		if (has(res, "*")) {
			CHECK_INT(cJSON_GetArraySize(groups), 1);
			CHECK(has(groups, "authentication.k8s.io"));
		}
	}
	cJSON_Delete(cr);
}

static void test_binding(void)
{
	cJSON *b = fedctl_connect_binding("fed-agent", "fed-agent", "edge-ns");
	const cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "subjects"), 0);
	const cJSON *ref = cJSON_GetObjectItem(b, "roleRef");

	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "kind")), "ClusterRoleBinding");
	CHECK_STR(fed_obj_name(b), "fed-cluster-connect");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
	              cJSON_GetObjectItem(cJSON_GetObjectItem(b, "metadata"), "labels"),
	              "app.kubernetes.io/name")),
	          "fed-agent");
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(b, "subjects")), 1);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "kind")), "ServiceAccount");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "name")), "fed-agent");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "namespace")), "edge-ns");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ref, "kind")), "ClusterRole");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ref, "name")), "fed-cluster-connect");
	cJSON_Delete(b);
}

/* agent.yaml holds the grant only with --cluster-connect. */
static void test_agent_yaml(void)
{
	struct fedctl_agent_spec s;
	struct fed_error err = FED_ERROR_INIT;
	char *y = NULL;

	memset(&s, 0, sizeof(s));
	s.cluster = "edge-1";
	s.ns = "fed-system";
	s.host_address = "h:8080";
	s.image = "fed:1";
	s.token = "0123456789abcdef";
	s.ca_pem = "CA";
	s.ca_len = 2;
	CHECK_INT(fedctl_agent_render(&s, &y, &err), 0);
	CHECK(strstr(y, "fed-cluster-connect") == NULL);
	CHECK(strstr(y, "impersonate") == NULL);
	free(y);
	s.cluster_connect = true;
	CHECK_INT(fedctl_agent_render(&s, &y, &err), 0);
	CHECK_HAS(y, "kind: ClusterRole\nmetadata:\n  name: fed-cluster-connect\n");
	CHECK_HAS(y, "kind: ClusterRoleBinding\nmetadata:\n  name: fed-cluster-connect\n");
	CHECK_HAS(y, "  name: fed-cluster-connect\nsubjects:\n- kind: ServiceAccount\n"
	             "  name: fed-agent\n  namespace: fed-system\n");
	free(y);
}

/* join_opts as cmd_join.c fills it, with only --cluster-connect in the
 * table; argv parsed by fed_opt_parse, then planned. */
static enum fedctl_connect_choice plan_of(const char *mode, int argc, char **argv)
{
	static struct fedctl ctx;
	struct join_opts o;
	struct join_plan p;
	struct fed_error err = FED_ERROR_INIT;
	const struct fed_opt *const tables[] = {o.table, NULL};
	char *args[1];
	int nargs;
	bool help;
	enum fedctl_connect_choice c;

	memset(&o, 0, sizeof(o));
	memset(&p, 0, sizeof(p));
	o.connect.raw = JOIN_OPT_UNSET;
	o.table[0] =
	    (struct fed_opt){FED_OPT_BOOL, "cluster-connect", 0, &o.connect.on, NULL, "", NULL};
	o.name = "east";
	o.mode = mode;
	o.rbac = "minimal";
	o.token_lifetime = "24h";
	o.token_ttl = "24h";
	o.output = "agent.yaml";
	ctx.fed_namespace = "kube-federation-system";
	if (fed_opt_parse(tables, argc, argv, args, 1, &nargs, &help, &err) ||
	    fedctl_join_plan(&ctx, &o, &p, &err))
		return (enum fedctl_connect_choice) - 1;
	c = p.agent ? p.agent_opts.connect : p.direct.connect;
	fedctl_join_release(&p.direct);
	return c;
}

static void test_option_three_ways(void)
{
	char *none[] = {NULL}, *on[] = {"--cluster-connect"}, *t[] = {"--cluster-connect=true"},
	     *off[] = {"--cluster-connect=false"};
	const char *modes[] = {"direct", "agent"};
	int i;

	for (i = 0; i < 2; i++) {
		CHECK_INT(plan_of(modes[i], 0, none), FEDCTL_CONNECT_KEEP);
		CHECK_INT(plan_of(modes[i], 1, on), FEDCTL_CONNECT_GRANT);
		CHECK_INT(plan_of(modes[i], 1, t), FEDCTL_CONNECT_GRANT);
		CHECK_INT(plan_of(modes[i], 1, off), FEDCTL_CONNECT_REVOKE);
	}
}

int main(void)
{
	RUN(test_role_rules);
	RUN(test_binding);
	RUN(test_agent_yaml);
	RUN(test_option_three_ways);
	return CHECK_EXIT();
}
