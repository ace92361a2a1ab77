/* Cluster connect, the pure part: from a request the host's aggregator
 * forwarded (its front-proxy certificate already verified by the caller of
 * these functions), the member it names, the caller the front proxy
 * authenticated, and the request head fed sends that member: the caller's
 * credentials and every header a client could use to choose an identity
 * removed, then fed's own Host, credential and Impersonate-* added.
 * docs/cluster-connect.md has the design. Pure; fuzzed. */
#ifndef FED_CONNECT_H
#define FED_CONNECT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "fed/buf.h"
#include "fed/error.h"
#include "fed/http_server.h"

#define FED_CONNECT_GROUP   "proxy.fed.kubefed.io"
#define FED_CONNECT_VERSION "v1alpha1"
/* the path up to the cluster name */
#define FED_CONNECT_PREFIX "/apis/" FED_CONNECT_GROUP "/" FED_CONNECT_VERSION "/clusters/"

/* The header names the front proxy uses (the requestheader-* keys of
 * kube-system/extension-apiserver-authentication), compared
 * case-insensitively. NULL or empty lists mean kube's defaults:
 * X-Remote-User, X-Remote-Group, X-Remote-Extra-. */
struct fed_connect_names {
	const char *const *user;
	size_t nuser;
	const char *const *group;
	size_t ngroup;
	const char *const *extra_prefix;
	size_t nextra_prefix;
};

/* What kube-system/extension-apiserver-authentication says about the front
 * proxy: the CA its client certificate must chain to, the names its
 * certificate may carry (empty: any name the CA signed), and the header
 * names it uses. The arrays hold the strings; names points into them. */
struct fed_connect_front_proxy {
	char *ca_pem;
	char **allowed_names;
	size_t nallowed_names;
	char **headers[3]; /* user, group, extra prefix */
	size_t nheaders[3];
	struct fed_connect_names names;
};

/* From the ConfigMap object (its data's requestheader-* keys: the CA as
 * PEM, the lists as JSON arrays in strings). FED_ENOTFOUND when it has no
 * requestheader-client-ca-file: the host's apiserver is not configured for
 * aggregation (--requestheader-client-ca-file). Release out either way. */
int fed_connect_front_proxy_parse(const cJSON *configmap, struct fed_connect_front_proxy *out,
                                  struct fed_error *err);
void fed_connect_front_proxy_release(struct fed_connect_front_proxy *fp);
/* May a front proxy whose certificate's CN is cn forward callers? */
bool fed_connect_front_proxy_allowed(const struct fed_connect_front_proxy *fp, const char *cn);

/* The discovery document for GET path, if path is one of the API's
 * discovery paths (/apis, /apis/GROUP, /apis/GROUP/VERSION): appends the
 * JSON to out and returns 1; 0 for any other path. The API has one
 * resource, clusters, whose only subresource is proxy. */
int fed_connect_discovery(const char *path, size_t len, struct fed_buf *out);

struct fed_connect_extra {
	char *key; /* as sent after the prefix: lower case, percent-encoded */
	char *value;
};

struct fed_connect_caller {
	char *user;
	char **groups; /* carried to the member: the system: ones are not */
	size_t ngroups;
	size_t dropped_groups; /* system: groups left out */
	struct fed_connect_extra *extras;
	size_t nextras;
};

/* The cluster name and the member's request target (path after
 * ".../clusters/NAME/proxy", "/" when empty, with the query). FED_ENOTFOUND
 * when the path is not a cluster proxy path of this API (the caller answers
 * 404); FED_EINVAL when the name is not a DNS label. *cluster and *target
 * are the caller's to free. */
int fed_connect_target(const struct fed_http_request *req, char **cluster, char **target,
                       struct fed_error *err);

/* The caller the front proxy named. FED_EUNAUTHORIZED: no user header (or
 * two); FED_EFORBIDDEN: a system: user (host identities are not carried to
 * members); FED_EINVAL: a malformed extra key. Release out either way. */
int fed_connect_caller_parse(const struct fed_http_request *req,
                             const struct fed_connect_names *names, struct fed_connect_caller *out,
                             struct fed_error *err);
void fed_connect_caller_release(struct fed_connect_caller *c);

/* What fed adds for the member: its Host, and its bearer token (NULL when
 * the member credential is a client certificate on the TLS connection). */
struct fed_connect_upstream {
	const char *host;
	const char *bearer;
};

/* Append to out the head to send the member: "METHOD target HTTP/1.1", the
 * caller's end-to-end headers except Authorization, Proxy-Authorization,
 * Impersonate-*, the front proxy's names, Host, hop-by-hop headers and
 * every header Connection names; then Host, Authorization, Impersonate-User,
 * -Group and -Extra-*. An Upgrade to SPDY/3.1 or websocket (exec, attach,
 * port-forward) is kept with "Connection: Upgrade, close" and *upgrade
 * set; any other Upgrade is dropped. Content-Length is kept. Returns FED_EINVAL
 * when the caller has no user (fed never sends a request as itself). out
 * carries the member credential: give a FED_BUF_INIT_SENSITIVE buffer. */
int fed_connect_rewrite(const struct fed_http_request *req, const char *target,
                        const struct fed_connect_caller *caller,
                        const struct fed_connect_names *names,
                        const struct fed_connect_upstream *up, bool *upgrade, struct fed_buf *out,
                        struct fed_error *err);

#endif
