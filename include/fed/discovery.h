/* API discovery: which groups, versions and resources a server has, so any
 * type, custom resources included, can be addressed by kind or name. Uses
 * aggregated discovery (apidiscovery.k8s.io/v2, Kubernetes 1.30+): two
 * requests for the whole server. */
#ifndef FED_DISCOVERY_H
#define FED_DISCOVERY_H

#include "fed/kube.h"

struct fed_api_resource {
	struct fed_kube_resource r; /* strings owned by the discovery */
	char *kind;
	char *singular;
	char **short_names; /* NULL-terminated */
	char **verbs;       /* NULL-terminated */
	bool preferred;     /* the group's preferred version */
};

struct fed_discovery {
	struct fed_api_resource *items;
	size_t n;
};

typedef void (*fed_discovery_cb)(struct fed_discovery *d, const struct fed_error *err, void *ud);

/* cb owns d (free with fed_discovery_free). */
int fed_kube_discover(struct fed_kube_client *c, fed_discovery_cb cb, void *ud,
                      struct fed_error *err);
void fed_discovery_free(struct fed_discovery *d);

/* Parse one APIGroupDiscoveryList document into d (appending). */
int fed_discovery_parse(struct fed_discovery *d, const cJSON *doc, struct fed_error *err);

/* Find a resource the way kubectl resolves names: "deployments",
 * "deployment", "Deployment", "deploy", "deployments.apps",
 * "deployments.v1.apps". Preferred versions win. NULL if unknown. */
const struct fed_api_resource *fed_discovery_find(const struct fed_discovery *d, const char *name);
/* By group and kind (preferred version unless version is given). */
const struct fed_api_resource *fed_discovery_find_kind(const struct fed_discovery *d,
                                                       const char *group, const char *version,
                                                       const char *kind);

#endif
