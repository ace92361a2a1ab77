/* The user's federation: which clusters are members and how to reach
 * them, read by fed-controller from the ConfigMap kube-system/kubefed-config
 * (key kubefed.yaml):
 *
 *   apiVersion: federation/v1beta1
 *   kind: Federation
 *   metadata:
 *     name: federation
 *   spec:
 *     clusters:
 *     - clusterName: cluster1
 *       mode: direct                 # or agent (no addresses needed)
 *       disabled: false
 *       serverAddressByClientCIDRs:
 *       - clientCIDR: 0.0.0.0/0
 *         serverAddress: https://10.0.1.1:6443
 *
 * A broken document (YAML syntax, wrong apiVersion/kind, no spec, unknown
 * keys outside the cluster entries) fails as a whole, so the caller keeps
 * its last good federation. A broken cluster entry only marks that cluster
 * invalid (its err says where, what and how to fix it); the others stay
 * usable. A name belongs to the first entry that gives it (valid or not);
 * later entries with the same name are invalid. */
#ifndef FED_FEDERATION_H
#define FED_FEDERATION_H

#include <stdbool.h>
#include <stddef.h>

#include "fed/error.h"

#define FED_FEDERATION_API_VERSION "federation/v1beta1"
#define FED_FEDERATION_KIND        "Federation"
/* Cluster names end up in label values. */
#define FED_CLUSTER_NAME_MAX 63
/* Bounds that keep a hostile document (aliases repeat entries cheaply)
 * from costing more than a real federation would. */
#define FED_FEDERATION_MAX_CLUSTERS 1000
#define FED_CLUSTER_MAX_ADDRS       64

/* An IPv4 or IPv6 network; addr has the host bits clear. */
struct fed_cidr {
	int family;             /* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network byte order; 4 bytes used for AF_INET */
	unsigned int prefix;    /* 0..32 or 0..128 */
};

enum fed_cluster_mode {
	FED_CLUSTER_DIRECT = 0, /* fed-controller dials the member's API server */
	FED_CLUSTER_AGENT,      /* fed-agent in the member dials out to fed-controller */
};

/* One serverAddressByClientCIDRs entry. */
struct fed_server_address {
	char *client_cidr; /* as written */
	struct fed_cidr cidr;
	char *server_address; /* as written */
	char *server_url;     /* normalized: "https://host:port[/path]" */
};

struct fed_cluster_spec {
	char *name; /* a valid cluster name, or NULL (only when err is set) */
	enum fed_cluster_mode mode;
	bool disabled;
	struct fed_server_address *addrs;
	size_t n_addrs;
	int line; /* of the entry in the document, 0 if unknown */
	/* err.code 0: valid. Otherwise err.msg is one line with the field
	 * path, line:col, the problem and the fix; the other fields are only
	 * what could be read. */
	struct fed_error err;
};

struct fed_federation {
	char *name; /* metadata.name, NULL when not given */
	struct fed_cluster_spec *clusters;
	size_t n; /* entries of spec.clusters, valid or not, in document order */
	/* spec.tunnel.proxyPublishAddress: HOST:PORT where agents reach the
	 * tunnel (through a proxy or NAT), NULL when not given; fedctl join
	 * --mode agent writes it into agent.yaml */
	char *proxy_publish_address;
};

/* Parse a Federation document. `source` names it in messages (e.g.
 * "configmap kube-system/kubefed-config kubefed.yaml"), NULL for
 * "<string>". Returns 0 (check each cluster's err), FED_EINVAL for a
 * document that cannot be used at all, or FED_ENOMEM. */
int fed_federation_parse(struct fed_federation **out, const char *yaml, size_t len,
                         const char *source, struct fed_error *err);
void fed_federation_free(struct fed_federation *f);

/* "10.0.0.0/8", "fd00::/64". Host bits must be clear (the message shows
 * the network form). FED_EINVAL with a message saying why. */
int fed_cidr_parse(const char *s, struct fed_cidr *out, struct fed_error *err);
/* Whether addr (family AF_INET: 4 bytes used; AF_INET6: 16) lies in c.
 * Families must match, except that an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is treated as the IPv4 address it carries. */
bool fed_cidr_contains(const struct fed_cidr *c, int family, const unsigned char addr[16]);
/* An IP address as text: "10.1.2.3", "fd00::1", "fe80::1%eth0" (the zone
 * is ignored). 0 or FED_EINVAL. */
int fed_ip_parse(const char *s, int *family, unsigned char addr[16]);

/* Normalize a serverAddress (host, host:port, IPv4[:port], [IPv6][:port],
 * bare IPv6, or an https:// URL whose path is kept) to
 * "https://host:port[/path]", port 443 when none is given. http:// and
 * other schemes are refused. *url is malloc'd. FED_EINVAL (message without
 * position: the caller adds it), FED_ENOMEM. */
int fed_server_url(const char *address, char **url, struct fed_error *err);

/* The address to use for a valid cluster, given the controller's own
 * client IPs: the entry whose clientCIDR contains one of them with the
 * longest prefix, list order on ties (federation v1's rule). Invalid
 * client IPs are skipped. Out pointers point into c (either may be NULL).
 * FED_ENOTFOUND when nothing matches (NoMatchingClientCIDR), FED_EINVAL
 * for a cluster with err set. */
int fed_federation_pick_address(const struct fed_cluster_spec *c, const char *const *client_ips,
                                size_t n_ips, const char **server_url_out,
                                const char **matched_cidr_out);

/* This machine's interface addresses (interfaces that are up), for when
 * no pod IP is known: IPv4 and IPv6 without link-local IPv6, loopback
 * last, no duplicates. *out is NULL-terminated as well; free it with
 * fed_local_addresses_free. */
int fed_local_addresses(char ***out, size_t *n, struct fed_error *err);
void fed_local_addresses_free(char **addrs);

#endif
