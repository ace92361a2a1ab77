/* Kubeconfig loading, as kubectl does it, down to the one thing a client
 * needs: a struct fed_rest_config (where to connect and how to prove who we
 * are). PEM material is held in memory; file paths are resolved relative to
 * the kubeconfig file that named them. */
#ifndef FED_KUBECONFIG_H
#define FED_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "fed/error.h"

/* users[].user.exec (client.authentication.k8s.io/v1 and v1beta1). */
struct fed_exec_config {
	char *api_version; /* e.g. "client.authentication.k8s.io/v1" */
	char *command; /* resolved against the kubeconfig's dir if it has a '/' and is relative */
	char **args;   /* NULL-terminated */
	char **env;    /* NULL-terminated "NAME=value" */
	char *install_hint;
	bool provide_cluster_info;
	char *interactive_mode; /* Never | IfAvailable | Always; fed never has a TTY */
};

/* Result of running an exec plugin (ExecCredential.status). */
struct fed_exec_credential {
	char *token;
	char *client_cert_pem;
	char *client_key_pem;
	time_t expires; /* 0 = no expiry given */
};

/* Everything needed to talk to one API server. */
struct fed_rest_config {
	char *server; /* "https://host:port[/prefix]" */
	char *tls_server_name;
	char *proxy_url;
	/* connect to this Unix socket instead of server's host and port (the
	 * URL still gives the scheme, Host header and paths): how the
	 * controller reaches an agent's cluster. Never from a kubeconfig. */
	char *unix_socket;
	bool insecure_skip_tls_verify;
	char *ca_pem; /* NULL = system trust store */
	size_t ca_len;
	char *cert_pem; /* client certificate */
	size_t cert_len;
	char *key_pem; /* client key */
	size_t key_len;
	char *token;                  /* static bearer token */
	char *token_file;             /* re-read when it changes (in-cluster tokens rotate) */
	struct fed_exec_config *exec; /* NULL unless users[].user.exec */
	char *context;                /* names, for messages; never secrets */
	char *cluster;
	char *user;
	char *namespace; /* context namespace, NULL if unset */
	char *source;    /* file the context came from, "in-cluster" or "<string>" */
	/* client tuning; qps/burst 0 take the client's defaults (50/100) */
	double qps;
	int burst;
	int timeout_ms;
};

void fed_rest_config_init(struct fed_rest_config *cfg);
void fed_rest_config_release(struct fed_rest_config *cfg);
int fed_rest_config_copy(struct fed_rest_config *dst, const struct fed_rest_config *src,
                         struct fed_error *err);

/* A parsed (and possibly merged) kubeconfig. Opaque. */
struct fed_kubeconfig;

/* Parse one kubeconfig document. `source` names it in messages and is the
 * base for relative paths (its directory), may be NULL for "<string>". */
int fed_kubeconfig_parse(struct fed_kubeconfig **out, const char *yaml, size_t len,
                         const char *source, struct fed_error *err);
int fed_kubeconfig_load_file(struct fed_kubeconfig **out, const char *path, struct fed_error *err);
/* kubectl's precedence: explicit path (only that file) > $KUBECONFIG (a
 * ':'-separated list, merged: the first file to set a map key or
 * current-context wins, missing files are skipped) > ~/.kube/config. */
int fed_kubeconfig_load_default(struct fed_kubeconfig **out, const char *explicit_path,
                                struct fed_error *err);
void fed_kubeconfig_free(struct fed_kubeconfig *kc);

const char *fed_kubeconfig_current_context(const struct fed_kubeconfig *kc);
/* Names of all contexts, in file order; *n gets the count. Owned by kc. */
const char *const *fed_kubeconfig_contexts(const struct fed_kubeconfig *kc, size_t *n);

/* Resolve a context (NULL = current-context) to a rest config: looks up the
 * cluster and user, reads every referenced file. Errors name the file, the
 * entry and the field, e.g.
 *   kubeconfig /x/config: users[admin].client-key: cannot read /x/admin.key: No such file */
int fed_kubeconfig_rest_config(const struct fed_kubeconfig *kc, const char *context,
                               struct fed_rest_config *out, struct fed_error *err);

/* What a kubeconfig someone else wrote (the controller's Secret) may make
 * this process do. A kubeconfig the user runs us with may do anything; one
 * read from the cluster must not run commands (exec) or read files of the
 * machine (tokenFile, client-certificate, client-key,
 * certificate-authority) unless the operator allowed it: the error then
 * names the field and the flag (*_flag) that allows it. The inline forms
 * (token, *-data) are always allowed. */
struct fed_kubeconfig_policy {
	bool deny_exec;
	bool deny_files;
	const char *exec_flag;  /* e.g. "--allow-kubeconfig-exec" */
	const char *files_flag; /* e.g. "--allow-kubeconfig-files" */
};
/* fed_kubeconfig_rest_config under policy (NULL: allow all). */
int fed_kubeconfig_rest_config_policy(const struct fed_kubeconfig *kc, const char *context,
                                      const struct fed_kubeconfig_policy *policy,
                                      struct fed_rest_config *out, struct fed_error *err);

/* In-cluster config from the pod's service account: KUBERNETES_SERVICE_HOST
 * and _PORT, /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,
 * namespace}. FED_SA_DIR overrides the directory (tests). */
int fed_rest_config_in_cluster(struct fed_rest_config *out, struct fed_error *err);

/* What a binary calls: --kubeconfig / KUBECONFIG / ~/.kube/config with
 * --context; when none of those exist and KUBERNETES_SERVICE_HOST is set,
 * the in-cluster config. */
int fed_rest_config_load(struct fed_rest_config *out, const char *kubeconfig_path,
                         const char *context, struct fed_error *err);

/* Run an exec credential plugin synchronously, waiting for it (for one-shot
 * tools; the kube client uses fed_exec_run_* below and does not wait). timeout_ms bounds it;
 * stderr of the plugin is passed through, stdout is parsed as an
 * ExecCredential. `cfg` supplies cluster info when provide_cluster_info. */
int fed_exec_credential_get(const struct fed_rest_config *cfg, int timeout_ms,
                            struct fed_exec_credential *out, struct fed_error *err);
void fed_exec_credential_release(struct fed_exec_credential *cred);

/* The same plugin run step by step, for an event loop that must not wait
 * (the kube client): start it, read its stdout (a non-blocking fd) when
 * readable, and once it is at EOF and the child exited, parse. */
struct fed_exec_run;
int fed_exec_run_start(const struct fed_rest_config *cfg, struct fed_exec_run **out,
                       struct fed_error *err);
int fed_exec_run_fd(const struct fed_exec_run *run);  /* its stdout */
int fed_exec_run_pid(const struct fed_exec_run *run); /* 0 once reaped */
/* Read what is there: 0 more to come, 1 at EOF, < 0 on error. */
int fed_exec_run_read(struct fed_exec_run *run, struct fed_error *err);
/* The child exited with status (waitpid's; !status_known when someone
 * else reaped it): the credential, or why not. */
int fed_exec_run_finish(struct fed_exec_run *run, int status, bool status_known,
                        struct fed_exec_credential *out, struct fed_error *err);
/* Its deadline passed: kill it (its process group) and say so. */
int fed_exec_run_timeout(struct fed_exec_run *run, double timeout_s, struct fed_error *err);
/* Kills it if still running; accepts NULL. */
void fed_exec_run_free(struct fed_exec_run *run);

/* Serialize a single-context kubeconfig (for local-clusters, join): embeds
 * the PEM data as base64 *-data fields. Returns a malloc'd YAML string. */
int fed_kubeconfig_render(const struct fed_rest_config *cfg, const char *context_name,
                          char **out_yaml, struct fed_error *err);

#endif
