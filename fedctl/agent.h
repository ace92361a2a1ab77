/* fedctl join --mode agent, the pure part: checking the options, choosing
 * the address agents dial, checking it against the host certificate
 * (fedctl/agent_check.c), and rendering the member roles and agent.yaml
 * (fedctl/agent_yaml.c). The rest talks to the host
 * (fedctl/join/join_agent.c). */
#ifndef FEDCTL_AGENT_H
#define FEDCTL_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "fed/error.h"

#define FEDCTL_AGENT_NAME          "fed-agent"
#define FEDCTL_AGENT_CREDENTIAL    "fed-agent-credential"
#define FEDCTL_TUNNEL_SECRET       "fed-tunnel"
#define FEDCTL_TUNNEL_SERVICE      "fed-tunnel"
#define FEDCTL_TUNNEL_DEFAULT_PORT 8080
#define FEDCTL_AGENT_DIR           "/etc/fed-agent"
#define FEDCTL_AGENT_COMMAND       "/usr/bin/fed-agent" /* in the image scripts/image builds */
/* the agent Secret's key holding --proxy-https (it may hold a password) */
#define FEDCTL_AGENT_PROXY_KEY "https-proxy"
/* on the member ClusterRole fedctl keeps in step with the enabled types */
#define FEDCTL_RBAC_LABEL "fed.kubefed.io/rbac"

/* A resource the minimal role may write (a FederatedTypeConfig's target). */
struct fedctl_agent_rule {
	const char *group; /* "" for core */
	const char *plural;
};

struct fedctl_agent_spec {
	const char *cluster;      /* for the header comment */
	const char *ns;           /* the agent's namespace in the member */
	const char *host_address; /* HOST:PORT agents dial */
	const char *server_name;  /* --host-server-name, NULL when the host is in the cert */
	const char *image;
	bool minimal;         /* --rbac minimal */
	bool cluster_connect; /* --cluster-connect: its ClusterRole and binding too */
	const struct fedctl_agent_rule *rules;
	size_t n_rules;
	const char *proxy_https; /* NULL: none */
	const char *no_proxy;    /* NULL: none */
	const char *token;       /* the bootstrap token */
	const char *ca_pem;      /* the host CA */
	size_t ca_len;
	const char *proxy_ca_pem; /* NULL: no --proxy-cert */
	size_t proxy_ca_len;
};

/* --proxy-https: an http:// or https:// URL with a host. */
int fedctl_agent_check_proxy(const char *url, struct fed_error *err);
/* --proxy-skip-range: a comma list of CIDRs, IPs and domain names (".d",
 * "*.d" or "*" too). */
int fedctl_agent_check_no_proxy(const char *list, struct fed_error *err);
/* --agent-namespace: a DNS label (a-z, 0-9, '-', at most 63). */
int fedctl_agent_check_namespace(const char *ns, struct fed_error *err);
/* HOST:PORT ([IPv6]:PORT), port 1..65535; host into host (size n). */
int fedctl_agent_split_address(const char *addr, char *host, size_t n, int *port,
                               struct fed_error *err);

/* Where agents dial, in this order: flag (--host-address), the fed-tunnel
 * Service's load balancer ingress (svc may be NULL) with its port named
 * tunnel (else its first port, else 8080), the Federation's
 * proxyPublishAddress. *out is malloc'd; *source says which ("--host-
 * address", "service ...", "proxyPublishAddress"). One error naming the
 * three fixes when none applies. */
int fedctl_agent_pick_address(const char *flag, const cJSON *svc, const char *svc_ns,
                              const char *publish, char **out, const char **source,
                              struct fed_error *err);

/* Whether the PEM certificate covers host (an IP or DNS name); when not,
 * *server_name gets a DNS name of the certificate to verify instead
 * (malloc'd), or the error says what to do. *server_name NULL when host is
 * covered. */
int fedctl_agent_server_name(const char *pem, size_t len, const char *host, char **server_name,
                             struct fed_error *err);

/* A failed write of the fed-tunnel Secret: the server's message may
 * repeat the Secret's data (a 422 echoes the patched object), so only the
 * status and reason are kept. */
void fedctl_agent_redact(struct fed_error *err, const char *what);

/* The least-privilege member ClusterRole `name` (label
 * app.kubernetes.io/name=label_name, fed.kubefed.io/rbac=minimal): read
 * and write the enabled types' targets (rules), read namespaces and
 * nodes, the enabled custom types' CRDs, /healthz, /readyz, /livez,
 * /version. No "*" anywhere. Secrets, when enabled, only through
 * FEDCTL_SECRETS_ROLE: bind on it, RoleBindings of that name. Used by
 * join (both modes), enable and disable. */
cJSON *fedctl_member_role(const char *name, const char *label_name,
                          const struct fedctl_agent_rule *rules, size_t n);

/* The ClusterRole the controller binds its member ServiceAccount per
 * namespace it manages when Secrets are federated (a RoleBinding of the
 * same name), never cluster-wide. */
#define FEDCTL_SECRETS_ROLE "fed-member-secrets"
/* Fill b with roleRef (role_kind role) and the one subject ServiceAccount
 * sa_ns/sa; returns b. */
cJSON *fedctl_rbac_bind(cJSON *b, const char *role_kind, const char *role, const char *sa,
                        const char *sa_ns);
/* Whether the enabled targets include core secrets. */
bool fedctl_rules_have_secrets(const struct fedctl_agent_rule *rules, size_t n);
/* With secrets enabled, what goes with the member role (an array): the
 * ClusterRole FEDCTL_SECRETS_ROLE (rw on secrets), and a
 * ValidatingAdmissionPolicy + binding holding the ServiceAccount
 * sa_ns/sa_name's RoleBinding writes to: name FEDCTL_SECRETS_ROLE, that
 * ClusterRole, itself as the only subject, not in kube-system,
 * kube-public or kube-node-lease. */
cJSON *fedctl_member_secrets_docs(const char *sa_ns, const char *sa_name);

/* agent.yaml: Namespace, ServiceAccount, RBAC (cluster connect's with
 * cluster_connect), Secret, Deployment. */
int fedctl_agent_render(const struct fedctl_agent_spec *s, char **out, struct fed_error *err);

#endif
