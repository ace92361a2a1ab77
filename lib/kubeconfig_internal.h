/* Internals shared by lib/kubeconfig*.c (and the kubeconfig tests/fuzzer).
 * The parsed form keeps kubeconfig's three name-keyed lists; paths are
 * already resolved against the directory of the file that named them, and
 * *-data fields are already base64-decoded. */
#ifndef FED_KUBECONFIG_INTERNAL_H
#define FED_KUBECONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "fed/buf.h"
#include "fed/error.h"
#include "fed/kubeconfig.h"

/* Bounds for files a kubeconfig names (CA bundles can be large) and for
 * the kubeconfig itself. */
#define FED_KC_FILE_MAX (16u << 20)

struct kc_cluster {
	char *name;
	const char *src; /* file it came from, owned by fed_kubeconfig.sources */
	int line;
	char *server;
	char *tls_server_name;
	char *proxy_url;
	bool insecure;
	char *ca_file;
	char *ca_data;
	size_t ca_data_len;
};

struct kc_user {
	char *name;
	const char *src;
	int line;
	char *cert_file, *cert_data;
	size_t cert_data_len;
	char *key_file, *key_data;
	size_t key_data_len;
	char *token;
	char *token_file;
	struct fed_exec_config *exec;
	char *auth_provider; /* its name ("" if unnamed) when set: an error on use */
};

struct kc_context {
	char *name;
	const char *src;
	int line;
	char *cluster;
	char *user;
	char *namespace;
};

struct fed_kubeconfig {
	struct kc_cluster *clusters;
	size_t nclusters;
	struct kc_user *users;
	size_t nusers;
	struct kc_context *contexts;
	size_t ncontexts;
	const char **context_names; /* NULL-terminated view of contexts[].name */
	char *current_context;
	char **sources; /* "<string>" or file paths, in load order */
	size_t nsources;
};

/* Read a whole file (at most max bytes, NUL-terminated). 0 or a negative
 * errno (-EFBIG when over max). */
int fed_kubeconfig_read_file(const char *path, size_t max, char **data, size_t *len);

/* Add src's entries that dst does not have yet (the first file to define
 * a name wins, as does the first current-context), then free src, also on
 * error. 0 or FED_ENOMEM. */
int fed_kubeconfig_merge(struct fed_kubeconfig *dst, struct fed_kubeconfig *src);

/* kubectl's "kubeconfig <files>" prefix for messages about the whole
 * (possibly merged) config. */
void fed_kubeconfig_describe(const struct fed_kubeconfig *kc, char *buf, size_t size);

/* Messages are one line, but names and paths come from the user: replace
 * control characters in err->msg. Returns ret, for "return ...(err, ret)". */
int fed_kubeconfig_oneline(struct fed_error *err, int ret);

void fed_exec_config_free(struct fed_exec_config *ec);
int fed_exec_config_copy(struct fed_exec_config **dst, const struct fed_exec_config *src);

/* True if resolving `context` (NULL = current) would read any file: lets
 * the fuzzer resolve only self-contained contexts. */
bool fed_kubeconfig_context_reads_files(const struct fed_kubeconfig *kc, const char *context);

#endif
