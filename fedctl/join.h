/* join, split by responsibility: cmd_join.c (options, the host's
 * ConfigMap and Secret), join_member.c (what join creates in the member:
 * namespace, ServiceAccount, token, RBAC), join_wait.c (waiting for
 * fed-controller to report the cluster Ready), join_agent.c (--mode agent:
 * the host's side and agent.yaml; its pure part is agent_yaml.c). */
#ifndef FEDCTL_JOIN_H
#define FEDCTL_JOIN_H

#include "agent.h"
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
	double token_lifetime; /* seconds asked of TokenRequest (--token-lifetime) */
};

/* The object's resourceVersion, "" when none. */
const char *fedctl_join_rv(const cJSON *o);
/* Server-side apply of one member object; prints its step line. */
int fedctl_join_apply(struct fedctl_join *j, const char *what, const char *path, cJSON *obj,
                      struct fed_error *err);
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
/* The API path of one of fedctl_member_secrets_docs' objects, -1 if none. */
int fedctl_secrets_doc_path(const cJSON *o, char *buf, size_t n);
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
/* Wait until fed-controller reports the cluster Ready at one of j's
 * addresses, written after before_rv; prints the outcome; an exit code. */
int fedctl_join_wait_ready(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                           double timeout, const char *before_rv, const struct fedctl_join *j);

/* fedctl join NAME --mode agent (fedctl/join_agent.c). */
struct fedctl_join_agent_opts {
	const char *name;
	const char *output; /* "-": stdout */
	const char *host_address, *proxy_https, *proxy_skip, *proxy_cert;
	const char *token_ttl, *image, *agent_ns;
	const char *wait; /* NULL: do not wait */
	bool minimal;
};
int fedctl_join_agent(struct fedctl *ctx, const struct fedctl_join_agent_opts *o);

#endif
