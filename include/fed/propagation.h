/* Propagation, the pure part: which members a Federated<Kind> is placed
 * in, the object fed wants in each of them (template, retained
 * cluster-managed fields, JSON-patch overrides, the managed label), and a
 * canonical hash of it so the controller can tell whether anything changed.
 * No I/O: the controller reads and writes the objects.
 *
 * The shape is kubefed's (types.kubefed.io/v1beta1):
 *
 *   spec:
 *     template: {...}                       # the target object minus status
 *     placement:
 *       clusters: [{name: east}]            # non-nil wins; [] selects none
 *       clusterSelector: {matchLabels: {...}, matchExpressions: [...]}
 *     overrides:
 *     - clusterName: east
 *       clusterOverrides:
 *       - {op: replace, path: /spec/replicas, value: 5}
 *     retainReplicas: true
 *
 * Differences from kubefed, on purpose: template annotations are kept
 * (kubefed dropped them with a warning); a patch is atomic (a failing op
 * leaves the document as it was); an override path of "" (the whole
 * object) is refused like the name paths. */
#ifndef FED_PROPAGATION_H
#define FED_PROPAGATION_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "fed/error.h"

#define FED_MANAGED_LABEL "kubefed.io/managed"

/* Deepest document a patch may produce (cJSON's own parse limit), so that
 * a chain of adds cannot build a value too deep to free or hash. */
#define FED_JSON_MAX_DEPTH 1000

struct fed_member_info {
	const char *name;
	const cJSON *labels; /* KubeFedCluster metadata.labels, may be NULL */
};

/* kubefed placement: spec.placement.clusters non-nil wins (an empty list
 * selects none); else clusterSelector: absent/null selects none, {} selects
 * all; matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist).
 * Only clusters in `members` can be selected. selected[i] is set for
 * members[i] (all false on error). `placement` is spec.placement and may
 * be NULL (selects none). FED_EINVAL with a message for a bad placement or
 * selector. */
int fed_placement_select(const cJSON *placement, const struct fed_member_info *members, size_t n,
                         bool *selected, struct fed_error *err);

/* Validate spec.overrides (NULL or null: none): an array of
 * {clusterName, clusterOverrides: [{op?, path, value?}]}; op add|remove|
 * replace (default replace); value required for add and replace; path a
 * JSON pointer; forbidden: "" (the whole object), /metadata/name,
 * /metadata/namespace, /metadata/generateName, /kind; a duplicate
 * clusterName, or a duplicate path within a cluster, is an error. */
int fed_overrides_validate(const cJSON *overrides, struct fed_error *err);

/* The clusterOverrides array for `cluster` (borrowed), or NULL when none.
 * With a duplicate clusterName (which validation refuses) the first wins. */
const cJSON *fed_overrides_for(const cJSON *overrides, const char *cluster);

/* RFC 6902 add/remove/replace (op defaults to replace) applied to doc in
 * place, RFC 6901 pointers (~0 ~1, array index, "-" for append on add).
 * ops NULL or null: nothing to do. Atomic: on error doc is unchanged. The
 * error names the op index and path ("ops[1] remove \"/spec/x\": ..."). */
int fed_json_patch_apply(cJSON *doc, const cJSON *ops, struct fed_error *err);

struct fed_target_type {
	const char *api_version; /* "apps/v1" or "v1" */
	const char *kind;
	bool namespaced;
};

/* The object fed wants in `cluster`, from the Federated<Kind> `fed_obj`:
 * 1. copy spec.template (absent: {}); apiVersion from the template if it
 *    gives one, else the type's; kind from the type; metadata.name and
 *    namespace from fed_obj (namespace only when namespaced); drop status,
 *    metadata.finalizers, resourceVersion, uid, creationTimestamp,
 *    deletionTimestamp, deletionGracePeriodSeconds, managedFields,
 *    ownerReferences, generation, generateName, selfLink; keep template
 *    labels and annotations;
 * 2. retain cluster-managed fields from `existing` (the member's current
 *    object, may be NULL):
 *    - metadata.resourceVersion, metadata.finalizers, and member
 *      annotations whose keys the template does not set;
 *    - Service (v1), unless type ExternalName: spec.clusterIP and
 *      clusterIPs when the template sets neither; ipFamilies and
 *      ipFamilyPolicy when the template sets no ipFamilies; for NodePort
 *      and LoadBalancer, ports[].nodePort when unset, from the matching
 *      member port (by name, else by port+protocol); for LoadBalancer with
 *      externalTrafficPolicy Local, spec.healthCheckNodePort when unset;
 *    - ServiceAccount (v1): secrets and imagePullSecrets when the template
 *      has none;
 *    - PersistentVolumeClaim (v1): spec.volumeName and storageClassName
 *      when unset (both immutable once bound);
 *    - with fed_obj spec.retainReplicas true: spec.replicas;
 *    ("unset" is absent, null, "", [] or 0);
 * 3. apply fed_overrides_for(spec.overrides, cluster) (spec.overrides is
 *    validated first, so a bad entry fails every cluster); name, namespace
 *    and kind are put back afterwards;
 * 4. set label kubefed.io/managed=true.
 * *out is a new cJSON the caller frees (NULL on error). */
int fed_object_for_cluster(const cJSON *fed_obj, const struct fed_target_type *t,
                           const char *cluster, const cJSON *existing, cJSON **out,
                           struct fed_error *err);

/* Hex SHA-256 (65 bytes with NUL) of the canonical JSON of v (object keys
 * sorted recursively by bytes, no whitespace; numbers printed so that 1 and
 * 1.0 hash the same). NULL v hashes as "null". FED_EINVAL for a value
 * nested deeper than 2 * FED_JSON_MAX_DEPTH, FED_ENOMEM. */
int fed_json_hash(const cJSON *v, char out[65]);

/* The canonical JSON fed_json_hash() hashes, as a new string (free()). */
int fed_json_canonical(const cJSON *v, char **out);

/* The desired-state hash the controller records on the member object:
 * the hash of fed_object_for_cluster() with existing=NULL (so retention
 * does not change it). When the cluster's overrides only apply once fields
 * are retained (replace /spec/clusterIP), it is the hash of the object
 * before overrides together with those overrides instead: just as stable,
 * and it changes with the same inputs. */
int fed_desired_hash(const cJSON *fed_obj, const struct fed_target_type *t, const char *cluster,
                     char out[65], struct fed_error *err);

/* Whether `existing` in a member may be touched: FED_MANAGED_YES (label
 * kubefed.io/managed=true), FED_MANAGED_FALSE (label "false": never touch),
 * FED_MANAGED_NONE (no label, any other value, or existing NULL: adopt
 * only if adoption is enabled). */
enum fed_managed { FED_MANAGED_NONE, FED_MANAGED_YES, FED_MANAGED_FALSE };
enum fed_managed fed_managed_state(const cJSON *existing);

/* Namespaces that are never propagated: kube-system, kube-public,
 * kube-node-lease, default, and the federation namespace given (may be
 * NULL). NULL ns (cluster-scoped) is not reserved. */
bool fed_namespace_reserved(const char *ns, const char *federation_namespace);

#endif
