/* fedctl join, parse -> plan -> apply (fedctl/join/): cmd_join.c parses
 * the options into a struct join_opts; join_plan.c checks them and decides
 * what to do (direct or agent, names, addresses, durations) without
 * contacting a cluster; join_direct.c applies a direct join (the host's
 * ConfigMap and Secret), join_member.c and join_token.c what it creates in
 * the member, join_agent.c an agent join (the host's side and agent.yaml,
 * whose pure part is fedctl/agent_check.c and agent_yaml.c), join_wait.c waits for
 * fed-controller to report the cluster Ready. */
#ifndef FEDCTL_JOIN_H
#define FEDCTL_JOIN_H

#include "agent.h"
#include "cluster_connect.h"
#include "fedctl.h"

#define FEDCTL_JOIN_MAX_ADDRS 32
/* Role in the member: the ServiceAccount may renew its own token */
#define FEDCTL_MEMBER_TOKEN_ROLE "fed-controller:member-token"

struct fedctl_join {
	struct fedctl *ctx;
	const char *name;
	const char *ns;
	bool dry_run;
	struct fed_kube_client *member;
	struct fed_rest_config mcfg;
	const char *cidr[FEDCTL_JOIN_MAX_ADDRS];
	char *addr[FEDCTL_JOIN_MAX_ADDRS];
	int n_addrs;
	double token_lifetime;      /* seconds asked of TokenRequest (--token-lifetime) */
	const char *member_context; /* --cluster-context, else the name */
	bool context_given;         /* --cluster-context was given */
	const char *rbac;           /* "minimal" or "full" */
	bool overwrite;
	double wait_for;                    /* seconds; 0: do not wait */
	enum fedctl_connect_choice connect; /* --cluster-connect */
};

/* fedctl join's options as given; table is what fedctl_parse read them
 * with (its def fields are the defaults). */
struct join_opts {
	const char *name;
	const char *mode, *cluster_ctx, *rbac, *wait, *token_lifetime;
	struct fed_opt_list cidrs;
	const char *output, *host_address, *proxy_https, *proxy_skip, *proxy_cert;
	const char *token_ttl, *agent_image, *agent_ns;
	bool overwrite, dry_run;
	/* --cluster-connect, three ways: the table's bool is .on; .raw keeps
	 * JOIN_OPT_UNSET when the option is not given (join_plan.c) */
	union {
		bool on;
		unsigned char raw;
	} connect;
	struct fed_opt table[20];
};
#define JOIN_OPT_UNSET 2

/* fedctl join NAME --mode agent (fedctl/join/join_agent.c). */
struct fedctl_join_agent_opts {
	const char *name;
	const char *output; /* "-": stdout */
	const char *host_address, *proxy_https, *proxy_skip, *proxy_cert;
	const char *image, *agent_ns;
	double ttl;      /* seconds the bootstrap token is valid */
	double wait_for; /* seconds; 0: do not wait */
	bool minimal;
	enum fedctl_connect_choice connect; /* --cluster-connect */
};

/* What join does: one of the two, decided from the options alone. */
struct join_plan {
	bool agent;
	struct fedctl_join direct; /* its cidr/addr strings: fedctl_join_release */
	struct fedctl_join_agent_opts agent_opts;
};

/* Check the options and fill p (nothing is contacted). FED_EINVAL: a
 * usage error (exit 2); any other code: exit 1. err names the option and
 * the fix. */
int fedctl_join_plan(struct fedctl *ctx, const struct join_opts *o, struct join_plan *p,
                     struct fed_error *err);
void fedctl_join_release(struct fedctl_join *j);
/* Apply a direct join; an exit code (join_direct.c). */
int fedctl_join_direct(struct fedctl *ctx, struct fedctl_join *j);
/* Apply an agent join; an exit code (join_agent.c). */
int fedctl_join_agent(struct fedctl *ctx, const struct fedctl_join_agent_opts *o);

/* The object's resourceVersion, "" when none. */
const char *fedctl_join_rv(const cJSON *o);
/* Server-side apply of one member object; prints its step line. */
int fedctl_join_apply(struct fedctl_join *j, const char *what, const struct fed_kube_ref *ref,
                      cJSON *obj, struct fed_error *err);
/* Server-side apply of obj at ref as field manager fedctl (forced); *out
 * (may be NULL) gets the answer. */
int fedctl_apply_ref(struct fedctl *ctx, struct fed_kube_client *c, const struct fed_kube_ref *ref,
                     const cJSON *obj, cJSON **out, struct fed_error *err);
/* A bare object labelled app.kubernetes.io/managed-by=fedctl. */
cJSON *fedctl_join_object(const char *api_version, const char *kind, const char *ns,
                          const char *name);
/* A (Cluster)RoleBinding named like role, of role to the member's
 * ServiceAccount (FEDCTL_MEMBER_SA in j->ns). */
cJSON *fedctl_join_binding(const struct fedctl_join *j, const char *kind, const char *ns,
                           const char *role_kind, const char *role);
/* The member's ClusterRole and ClusterRoleBinding for mode full|minimal. */
int fedctl_join_setup_rbac(struct fedctl_join *j, struct fed_kube_client *host, const char *mode,
                           struct fed_error *err);
/* The reference of one of fedctl_member_secrets_docs' objects, -1 if none. */
int fedctl_secrets_doc_ref(const cJSON *o, struct fed_kube_ref *ref);
/* The targets of the host's enabled FederatedTypeConfigs (*out malloc'd,
 * free with fedctl_member_targets_free): the rules of the member role. */
int fedctl_member_targets(struct fedctl *ctx, struct fed_kube_client *host,
                          struct fedctl_agent_rule **out, size_t *n, struct fed_error *err);
void fedctl_member_targets_free(struct fedctl_agent_rule *rules, size_t n);
/* fedctl enable/disable (fedctl/member_rbac.c): every joined member's
 * least-privilege ClusterRole rewritten for the enabled types plus add
 * minus drop (either may be NULL), with the kubeconfig context named like
 * the member; a member that does not answer gets its role in
 * DIR/fed-member-role-NAME.yaml and a line saying how to apply it. */
int fedctl_member_roles_sync(struct fedctl *ctx, struct fed_kube_client *host,
                             const struct fedctl_agent_rule *add,
                             const struct fedctl_agent_rule *drop, const char *dir, bool dry_run,
                             struct fed_error *err);
/* The Role that lets the ServiceAccount renew its own token, and the
 * removal of a legacy token Secret of an earlier join (join_token.c). */
int fedctl_join_token_setup(struct fedctl_join *j, struct fed_error *err);
/* The ServiceAccount's bound token (malloc'd), NULL with err. */
char *fedctl_join_token(struct fedctl_join *j, const char *existing, struct fed_error *err);
/* Cluster connect's RBAC in the member as j->connect says: applied,
 * deleted or left alone (join_connect.c). */
int fedctl_join_connect(struct fedctl_join *j, struct fed_error *err);
/* Wait until fed-controller reports the cluster Ready at one of j's
 * addresses, written after before_rv; prints the outcome; an exit code. */
int fedctl_join_wait_ready(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                           double timeout, const char *before_rv, const struct fedctl_join *j);

#endif
