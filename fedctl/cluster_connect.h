/* fedctl's part of cluster connect (docs/cluster-connect.md). Pure: the
 * member RBAC that lets fed impersonate callers there (connect_rbac.c,
 * used by join in both modes and by delete), and the kubeconfig entries
 * that reach a member through the host (kubeconfig_edit.c). The files
 * fedctl kubeconfig reads and writes: kubeconfig_file.c; the command:
 * cmd_kubeconfig.c. */
#ifndef FEDCTL_CLUSTER_CONNECT_H
#define FEDCTL_CLUSTER_CONNECT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "fed/error.h"

/* The ClusterRole and its ClusterRoleBinding in the member (one name). */
#define FEDCTL_CONNECT_ROLE "fed-cluster-connect"
/* The prefix of fedctl kubeconfig's cluster and context names. */
#define FEDCTL_CONNECT_CONTEXT_PREFIX "fed-"

/* --cluster-connect of join: given, =false, or not given. */
enum fedctl_connect_choice {
	FEDCTL_CONNECT_KEEP = 0, /* leave whatever the member has */
	FEDCTL_CONNECT_GRANT,
	FEDCTL_CONNECT_REVOKE,
};

/* ClusterRole FEDCTL_CONNECT_ROLE (labels managed-by fedctl and
 * app.kubernetes.io/name label_name): impersonate on users and groups
 * (core) and on every resource of authentication.k8s.io (userextras/KEY,
 * uids), nothing else. Never serviceaccounts. */
cJSON *fedctl_connect_role(const char *label_name);
/* Its ClusterRoleBinding to the ServiceAccount sa_ns/sa. */
cJSON *fedctl_connect_binding(const char *label_name, const char *sa, const char *sa_ns);

/* What fedctl kubeconfig copies from the host's context. */
struct fedctl_connect_host {
	const char *server; /* the host cluster's server URL */
	const char *ca_pem; /* NULL: the system's trust store */
	size_t ca_len;
	const char *tls_server_name, *proxy_url; /* NULL: none */
	bool insecure;
	const char *user; /* the context's user (by name), NULL: none */
};

/* The member's URL through the host: host_server (its path kept, a
 * trailing '/' dropped) + /apis/proxy.fed.kubefed.io/v1alpha1/clusters/
 * CLUSTER/proxy. *out malloc'd. FED_EINVAL naming the fix when the server
 * is no http(s) URL or is a proxy URL itself. */
int fedctl_connect_server(const char *host_server, const char *cluster, char **out,
                          struct fed_error *err);

/* A kubeconfig file's text (YAML or JSON) as a cJSON tree. Plain scalars
 * other than strings keep their text (cJSON raw items), so that writing the
 * tree back with fedctl_yaml changes no value. Blank text gives an empty
 * Config. source names the file in messages (never its content). */
int fedctl_kubeconfig_parse(const char *text, size_t len, const char *source, cJSON **out,
                            struct fed_error *err);

/* Cluster and context fed-CLUSTER in kc: an entry of that name is
 * replaced where it is, else appended; every other entry stays as it is,
 * in its place. The context names the host's user and no namespace.
 * current-context becomes fed-CLUSTER only when use. *state: "added",
 * "updated", "made current" or "unchanged". source names kc in messages. */
int fedctl_kubeconfig_add(cJSON *kc, const struct fedctl_connect_host *h, const char *cluster,
                          bool use, const char *source, const char **state, struct fed_error *err);

/* A standalone kubeconfig for clusters[0..n): their entries, the host's
 * user entry (user, copied; may be NULL for none) and current-context the
 * first. *out is the caller's. */
int fedctl_kubeconfig_standalone(const struct fedctl_connect_host *h, const char *const *clusters,
                                 size_t n, const cJSON *user, cJSON **out, struct fed_error *err);

/* The users[] entry named name in kc (NULL if none), duplicated, with its
 * relative file paths (client-certificate, client-key, tokenFile, an exec
 * command with a '/') made absolute against dir, the kubeconfig's
 * directory: the copy works wherever it is saved. */
cJSON *fedctl_kubeconfig_user(const cJSON *kc, const char *name, const char *dir);

/* kubeconfig_file.c */
/* The kubeconfig files kubectl reads, in its order: --kubeconfig alone,
 * else $KUBECONFIG's, else ~/.kube/config. The first is the one fedctl
 * kubeconfig writes. Free with fedctl_files_free. */
int fedctl_kubeconfig_files(const char *explicit_path, char ***out, size_t *n,
                            struct fed_error *err);
void fedctl_files_free(char **v, size_t n);
/* The whole file (*text "" when empty), *text NULL when it does not
 * exist. */
int fedctl_file_read(const char *path, char **text, size_t *len, struct fed_error *err);
/* client-go's lock of a kubeconfig: TARGET.lock created exclusively,
 * TARGET being path or, for a symlink, the file it names (*target, the
 * file to write). The directory is made when missing. */
int fedctl_kubeconfig_lock(const char *path, char **target, char **lock, struct fed_error *err);
void fedctl_kubeconfig_unlock(char *lock);
/* target replaced by data at once (a temp file, mode 0600, renamed over
 * it): a reader sees the old file or the new, never a part. */
int fedctl_file_replace(const char *target, const char *data, size_t len, struct fed_error *err);

#endif
