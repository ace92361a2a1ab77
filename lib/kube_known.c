/* Well-known resource types (see include/fed/kube_known.h). */
#include "fed/kube_known.h"

const struct fed_kube_resource fed_r_namespaces = {"", "v1", "namespaces", false};
const struct fed_kube_resource fed_r_configmaps = {"", "v1", "configmaps", true};
const struct fed_kube_resource fed_r_secrets = {"", "v1", "secrets", true};
const struct fed_kube_resource fed_r_serviceaccounts = {"", "v1", "serviceaccounts", true};
const struct fed_kube_resource fed_r_pods = {"", "v1", "pods", true};
const struct fed_kube_resource fed_r_nodes = {"", "v1", "nodes", false};
const struct fed_kube_resource fed_r_events = {"", "v1", "events", true};

#define RBAC "rbac.authorization.k8s.io"
const struct fed_kube_resource fed_r_clusterroles = {RBAC, "v1", "clusterroles", false};
const struct fed_kube_resource fed_r_clusterrolebindings = {RBAC, "v1", "clusterrolebindings",
                                                            false};
const struct fed_kube_resource fed_r_roles = {RBAC, "v1", "roles", true};
const struct fed_kube_resource fed_r_rolebindings = {RBAC, "v1", "rolebindings", true};

const struct fed_kube_resource fed_r_deployments = {"apps", "v1", "deployments", true};
const struct fed_kube_resource fed_r_leases = {"coordination.k8s.io", "v1", "leases", true};
const struct fed_kube_resource fed_r_crds = {"apiextensions.k8s.io", "v1",
                                             "customresourcedefinitions", false};
const struct fed_kube_resource fed_r_validatingadmissionpolicies = {
    "admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", false};
const struct fed_kube_resource fed_r_validatingadmissionpolicybindings = {
    "admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings", false};
const struct fed_kube_resource fed_r_selfsubjectreviews = {"authentication.k8s.io", "v1",
                                                           "selfsubjectreviews", false};

const struct fed_kube_resource fed_r_kubefedclusters = {"core.kubefed.io", "v1beta1",
                                                        "kubefedclusters", true};
const struct fed_kube_resource fed_r_federatedtypeconfigs = {"core.kubefed.io", "v1beta1",
                                                             "federatedtypeconfigs", true};
const struct fed_kube_resource fed_r_replicaschedulingpreferences = {
    "scheduling.kubefed.io", "v1alpha1", "replicaschedulingpreferences", true};
const struct fed_kube_resource fed_r_federatednamespaces = {"types.kubefed.io", "v1beta1",
                                                            "federatednamespaces", true};
