/* FederatedTypeConfig (core.kubefed.io/v1beta1): which Kubernetes types fed
 * federates, and the Federated<Kind> CRD (types.kubefed.io/v1beta1) that
 * holds the federated objects of one type. Pure logic, no I/O.
 *
 *   apiVersion: core.kubefed.io/v1beta1
 *   kind: FederatedTypeConfig
 *   metadata: {name: deployments.apps, namespace: kube-federation-system}
 *   spec:
 *     targetType:    {group: apps, version: v1, kind: Deployment,
 *                     pluralName: deployments, scope: Namespaced}
 *     federatedType: {group: types.kubefed.io, version: v1beta1,
 *                     kind: FederatedDeployment,
 *                     pluralName: federateddeployments, scope: Namespaced}
 *     propagation: Enabled                 # or Disabled
 *     statusCollection: Disabled           # optional, Enabled | Disabled
 *
 * Defaulting (kubefed's SetFederatedTypeConfigDefaults, plus the defaults
 * `kubefedctl enable` writes, so a short FTC is enough):
 *   - targetType.pluralName and .group default from metadata.name
 *     ("<plural>[.<group>]"); the name must then equal plural[.group];
 *   - federatedType may be left out; its kind defaults to Federated<Kind>,
 *     group to types.kubefed.io, version to v1beta1, pluralName to
 *     federated<target plural> when the kind is the default one, else to
 *     fed_default_plural(kind); its scope is the target's, except that
 *     FederatedNamespace is namespaced (a Cluster scope given for it, or a
 *     scope that differs for any other type, is an error).
 *
 * The manifests manifests/11-crds-federated-types.yaml and
 * 12-federatedtypeconfigs.yaml are generated from fed_default_target_types()
 * by tests/unit/test_federated_type.c (FED_REGEN_MANIFESTS=1). */
#ifndef FED_FEDERATED_TYPE_H
#define FED_FEDERATED_TYPE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "fed/error.h"

#define FED_CORE_GROUP            "core.kubefed.io"
#define FED_FTC_VERSION           "v1beta1"
#define FED_FTC_API_VERSION       FED_CORE_GROUP "/" FED_FTC_VERSION
#define FED_FTC_KIND              "FederatedTypeConfig"
#define FED_FTC_PLURAL            "federatedtypeconfigs"
#define FED_TYPES_GROUP           "types.kubefed.io" /* default federated group */
#define FED_TYPES_VERSION         "v1beta1"          /* default federated version */
#define FED_PROPAGATION_CONDITION "Propagation"
/* Limits of a kind / plural / group / version accepted from an FTC. */
#define FED_TYPE_NAME_MAX 253

struct fed_api_resource {
	char *group; /* "" for core */
	char *version;
	char *kind;
	char *plural;
	bool namespaced;
	/* Short names of the target (e.g. "deploy"), NULL-terminated; NULL
	 * when none or unknown. An FTC carries none; fed_federated_crd()
	 * prefixes each with "f" for the federated CRD. */
	char **short_names;
};

struct fed_type_config {
	char *name; /* <plural>[.<group>] */
	struct fed_api_resource target, federated;
	bool propagation_enabled; /* spec.propagation == Enabled */
	bool status_collection;   /* spec.statusCollection == Enabled */
};

/* Parse and default an FTC object (as read from the API server or a file).
 * *out must be zeroed or released; on error it is left released. Errors
 * (FED_EINVAL) name the field and the fix, e.g.
 *   FederatedTypeConfig "deployments": metadata.name must be
 *   "<targetType.pluralName>[.<targetType.group>]" = "deployments.apps";
 *   rename it or fix spec.targetType
 * Kinds must be [A-Za-z][A-Za-z0-9]*, plurals and versions lowercase DNS
 * labels, groups lowercase DNS subdomains (they end up in URL paths). */
int fed_type_config_parse(const cJSON *ftc_object, struct fed_type_config *out,
                          struct fed_error *err);
void fed_type_config_release(struct fed_type_config *t);
void fed_api_resource_release(struct fed_api_resource *r);
/* Deep copy (short names included). */
int fed_api_resource_copy(struct fed_api_resource *dst, const struct fed_api_resource *src,
                          struct fed_error *err);

/* kubefed's rule: lowercase, +es after s/x/ch/sh/z/o, final y -> ies, else
 * +s. No exceptions (kubefed has none: Endpoints -> endpointses), which is
 * why FTCs written by fed always give pluralName. malloc'd; NULL for NULL,
 * "" or out of memory. */
char *fed_default_plural(const char *kind);

/* "<plural>" for the core group, else "<plural>.<group>": the FTC name of a
 * target type, and the CRD name of a federated type. malloc'd, NULL on OOM. */
char *fed_api_resource_name(const struct fed_api_resource *r);
/* "v1" for the core group, else "<group>/<version>". malloc'd. */
char *fed_api_resource_api_version(const struct fed_api_resource *r);

/* Whether the target is scalable (spec.replicas is an int32 the HPA may
 * own), i.e. its federated CRD gets spec.retainReplicas: apps Deployment,
 * ReplicaSet and StatefulSet. */
bool fed_type_scalable(const struct fed_api_resource *target);

/* The CRD (apiextensions.k8s.io/v1) for the federated type: name
 * federated<plural>.<fedgroup>, kind Federated<Kind>, scope from
 * federated.namespaced, short names f<targetShortNames> if given, status
 * subresource, schema: spec {template: object
 * x-kubernetes-preserve-unknown-fields, placement {clusters: [{name}],
 * clusterSelector {matchLabels, matchExpressions}}, overrides:
 * [{clusterName, clusterOverrides: [{op enum add/remove/replace, path,
 * value preserve-unknown}]}], retainReplicas: bool (only when `scalable`)},
 * status preserve-unknown-fields (observedGeneration, conditions, clusters,
 * and anything else the controller adds, e.g. aggregate); printer columns
 * Propagation (the condition's status), Reason (wide) and Age. *out is new
 * (cJSON_Delete). */
int fed_federated_crd(const struct fed_type_config *t, bool scalable, cJSON **out,
                      struct fed_error *err);

/* The FTC object (core.kubefed.io/v1beta1 FederatedTypeConfig) for a
 * target type, in namespace ns (NULL: no namespace), with the federated
 * type defaulted as above and propagation Enabled. *out is new. */
int fed_type_config_object(const struct fed_api_resource *target, const char *ns, cJSON **out,
                           struct fed_error *err);

/* Fill t (zeroed or released) from a target type with the defaults above
 * and propagation enabled: what fed_type_config_parse() would return for
 * fed_type_config_object(target). Short names are copied. */
int fed_type_config_for_target(const struct fed_api_resource *target, struct fed_type_config *t,
                               struct fed_error *err);

/* The types fed enables by default (manifests/12-federatedtypeconfigs.yaml),
 * in manifest order: namespaces, configmaps, secrets, serviceaccounts,
 * services, deployments.apps, replicasets.apps, statefulsets.apps,
 * daemonsets.apps, jobs.batch, cronjobs.batch,
 * ingresses.networking.k8s.io, clusterroles and clusterrolebindings
 * .rbac.authorization.k8s.io. Static storage: do not modify or release. */
const struct fed_api_resource *fed_default_target_types(size_t *count);

#endif
