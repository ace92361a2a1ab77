/* The resource types fed's binaries address by name, declared once so
 * that a request is built from a struct fed_kube_ref (fed_kube_path) and
 * never from a hand-written path. */
#ifndef FED_KUBE_KNOWN_H
#define FED_KUBE_KNOWN_H

#include "fed/kube.h"

/* core/v1 */
extern const struct fed_kube_resource fed_r_namespaces, fed_r_configmaps, fed_r_secrets,
    fed_r_serviceaccounts, fed_r_pods, fed_r_nodes, fed_r_events;
/* rbac.authorization.k8s.io/v1 */
extern const struct fed_kube_resource fed_r_clusterroles, fed_r_clusterrolebindings, fed_r_roles,
    fed_r_rolebindings;
/* apps/v1, coordination.k8s.io/v1, apiextensions.k8s.io/v1,
 * admissionregistration.k8s.io/v1, authentication.k8s.io/v1 */
extern const struct fed_kube_resource fed_r_deployments, fed_r_leases, fed_r_crds,
    fed_r_validatingadmissionpolicies, fed_r_validatingadmissionpolicybindings,
    fed_r_selfsubjectreviews;
/* kubefed's API */
extern const struct fed_kube_resource fed_r_kubefedclusters, fed_r_federatedtypeconfigs,
    fed_r_replicaschedulingpreferences, fed_r_federatednamespaces;

#endif
