/* ReplicaSchedulingPreference (RSP): how many replicas of a federated
 * Deployment, ReplicaSet or StatefulSet run in each member cluster. Pure
 * logic: the controller reads the RSP, the members' current replicas and
 * their capacity, and writes the plan out as placement and overrides.
 *
 *   apiVersion: scheduling.kubefed.io/v1alpha1
 *   kind: ReplicaSchedulingPreference
 *   metadata: {namespace: ns, name: web}      # same as the target's
 *   spec:
 *     targetKind: FederatedDeployment         # or FederatedReplicaSet, FederatedStatefulSet
 *     totalReplicas: 9
 *     rebalance: false                        # may running replicas move?
 *     intersectWithClusterSelector: false
 *     clusters:                               # empty means {"*": {weight: 1}}
 *       "*":  {weight: 1}
 *       east: {minReplicas: 4, maxReplicas: 6, weight: 2}
 *
 * The planner is kubefed's (pkg/controller/util/planner), so kubefed's
 * documented results come out the same: minimums first, then the rest in
 * proportion to weight rounding up, capped by maxReplicas and capacity,
 * repeated until nothing changes; with rebalance off, replicas already
 * running are kept where they fit. Clusters are ordered by weight, then by
 * kubefed's FNV-1 hash of cluster name + "namespace/name" (so the odd
 * replica of different workloads lands on different clusters, not always
 * on the alphabetically first one), then by name.
 *
 * Beyond kubefed: a per-cluster capacity caps a share and the excess goes
 * to the others; offline clusters get no share and may keep what they run;
 * replicas that fit nowhere are reported; every number has a reason. */
#ifndef FED_RSP_H
#define FED_RSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fed/error.h"

#define FED_RSP_API_VERSION "scheduling.kubefed.io/v1alpha1"
#define FED_RSP_KIND        "ReplicaSchedulingPreference"
#define FED_RSP_WILDCARD    "*"
/* totalReplicas is an int32 in kubefed. */
#define FED_RSP_TOTAL_MAX INT64_C(2147483647)
/* Weights are relative; the bound keeps remaining * weight within int64. */
#define FED_RSP_WEIGHT_MAX INT64_C(2147483647)
/* minReplicas/maxReplicas: integers a JSON number holds exactly. */
#define FED_RSP_COUNT_MAX  INT64_C(9007199254740991)
#define FED_RSP_REASON_MAX 96

enum fed_rsp_target_kind {
	FED_RSP_FEDERATED_DEPLOYMENT,
	FED_RSP_FEDERATED_REPLICASET,
	FED_RSP_FEDERATED_STATEFULSET,
};

struct fed_rsp_cluster_pref {
	int64_t min;    /* minReplicas, default 0 */
	int64_t max;    /* maxReplicas, -1 unbounded (the default) */
	int64_t weight; /* default 0: such a cluster gets only its minimum */
};

struct fed_rsp_cluster_entry {
	char *name; /* a cluster name, or "*" for every cluster without its own entry */
	struct fed_rsp_cluster_pref pref;
};

struct fed_rsp_spec {
	enum fed_rsp_target_kind target_kind;
	int64_t total_replicas;
	bool rebalance;
	bool intersect_with_cluster_selector;
	/* spec.clusters sorted by name (strcmp), each name once. An empty or
	 * missing map is stored as {"*": {weight: 1}}, kubefed's default. */
	struct fed_rsp_cluster_entry *clusters;
	size_t n_clusters;
	/* "namespace/name" (or "name") of the RSP, which is that of its target:
	 * seeds the tie-break hash. NULL or "" is allowed (kubefed's tests use ""). */
	char *key;
};

/* Parse an RSP object (apiVersion/kind optional; kind, when given, must be
 * ReplicaSchedulingPreference) into out, which the caller releases. On
 * failure out is left empty and err names the field and the fix, e.g.
 * `spec.clusters["east"].maxReplicas: 3 is below minReplicas 4; ...`:
 * FED_EINVAL for wrong types, unknown fields, negative values, max < min,
 * an unknown targetKind, a missing spec/targetKind/totalReplicas. */
int fed_rsp_parse(const cJSON *rsp_object, struct fed_rsp_spec *out, struct fed_error *err);
/* Free what a spec owns and zero it; NULL is fine. */
void fed_rsp_spec_release(struct fed_rsp_spec *s);
/* The checks fed_rsp_parse makes on values, for specs built by hand:
 * ranges, max >= min, clusters sorted and unique. fed_rsp_plan calls it. */
int fed_rsp_validate(const struct fed_rsp_spec *s, struct fed_error *err);
/* The preference that applies to a cluster: its own entry, else "*", else
 * NULL (the cluster gets no replicas). */
const struct fed_rsp_cluster_pref *fed_rsp_pref_for(const struct fed_rsp_spec *s,
                                                    const char *cluster);
/* "FederatedDeployment", ... */
const char *fed_rsp_target_kind_name(enum fed_rsp_target_kind k);

/* One member cluster as the controller sees it now. */
struct fed_rsp_cluster_in {
	const char *name;
	/* Chosen by the target's placement (clusterSelector). Only consulted
	 * when spec.intersectWithClusterSelector is set; otherwise, as in
	 * kubefed, every cluster passed in is a candidate. */
	bool selected;
	/* Not ready past the controller's grace period: gets no share, and the
	 * share it would have had goes to the others. (Within the grace period,
	 * pass offline = false with its last known current.) */
	bool offline;
	/* With offline: do not reduce or remove what runs there. The plan
	 * reports it as keep (with current as retained); its replicas are not
	 * counted against totalReplicas, so the workload runs a surplus until
	 * the cluster is back. Without it, an offline cluster is planned 0. */
	bool keep_offline;
	int64_t current;  /* replicas running there now; < 0 unknown (as 0) */
	int64_t capacity; /* replicas that fit there; < 0 unknown (no cap) */
	/* The target cannot run there: a namespaced target whose
	 * FederatedNamespace does not place its namespace on this cluster.
	 * Never a candidate (a share there would never become available). */
	bool barred;
};

struct fed_rsp_cluster_out {
	const char *name; /* in[i].name: out[i] is the plan for in[i] */
	/* This cluster's share of totalReplicas: the value of its
	 * /spec/replicas override. Within [min, max] and <= capacity whenever
	 * totalReplicas and capacity allow. */
	int64_t replicas;
	/* Replicas this cluster would take beyond its capacity (kubefed's
	 * overflow; with rebalance off, only what could not be placed at all).
	 * Not in replicas: kubefed adds it, fed reports it, so the sum of
	 * replicas never exceeds totalReplicas. */
	int64_t overflow;
	/* offline + keep_offline: leave the member object as it is (keep it in
	 * placement, do not lower its override); replicas is 0. */
	bool keep;
	int64_t retained;                /* with keep: in.current (-1 unknown); else 0 */
	char reason[FED_RSP_REASON_MAX]; /* e.g. "min 4 + 1 by weight 2 of 3" */
};

/* Plan totalReplicas over the n clusters in `in` into out[0..n-1] (same
 * order). *unplaced (may be NULL) receives the replicas no cluster could
 * take: all candidates at max or capacity, all weights 0, or no
 * candidate; the sum of out[].replicas + *unplaced == totalReplicas.
 * FED_EINVAL for an invalid spec, a cluster without a name or a name
 * given twice; FED_ENOMEM. Deterministic for the same inputs in any order. */
int fed_rsp_plan(const struct fed_rsp_spec *s, const struct fed_rsp_cluster_in *in, size_t n,
                 struct fed_rsp_cluster_out *out, int64_t *unplaced, struct fed_error *err);

/* ---- from plan to target: what the controller needs besides the plan ---- */

/* What one member's workload object (Deployment, ReplicaSet or
 * StatefulSet) says, with the little state that persists between looks.
 * Zero-initialise st once per (RSP, cluster); pass it back each time. */
struct fed_rsp_observed {
	int64_t current;  /* status.availableReplicas (else readyReplicas, else 0); -1: no object */
	int64_t capacity; /* estimate, -1: none (the cluster takes whatever it is given) */
	/* state: since when available replicas have stayed below spec.replicas
	 * (0: they have not), and spec.replicas then */
	double short_since;
	int64_t short_want;
	/* > 0: the estimate may change at this time without any event (the
	 * threshold passes): look again then */
	double recheck_at;
};

/* Estimate a member's capacity from its workload object, kubefed's idea
 * without watching pods: replicas that stay unavailable (Pending,
 * unschedulable) for `threshold` seconds mean the cluster holds only what
 * is available now, so capacity = availableReplicas; while they are
 * younger than that, or none are missing, there is no estimate. Scaling
 * the object up restarts the clock (new pods need time to start). obj NULL
 * (absent, or the cluster not watched): current -1, no estimate, state
 * cleared. now and threshold in seconds. */
void fed_rsp_observe(const cJSON *member_obj, double now, double threshold,
                     struct fed_rsp_observed *st);

/* One cluster's move from what it is asked to run now to its planned
 * target, made so that the available replicas never drop below
 * totalReplicas when they were not already below it. */
struct fed_rsp_step_in {
	int64_t target;    /* the plan: replicas + overflow */
	int64_t asked;     /* what the member is asked to run now (fed_rsp_asked) */
	int64_t available; /* available there now; -1 unknown (counts as 0) */
	bool keep;         /* offline, kept: left as it is, its replicas not counted */
};

/* out[i] = the replicas to ask of cluster i now. Scaling up is immediate.
 * Scaling down drops unavailable replicas at once (a ReplicaSet deletes
 * those first) but removes available ones only as far as the available
 * replicas of all clusters exceed total: the rest waits until the
 * replicas added elsewhere are available. Clusters are served in index
 * order, so pass them sorted (by name) for a deterministic result. */
void fed_rsp_step(const struct fed_rsp_step_in *in, size_t n, int64_t total, int64_t *out);

/* What fed_obj (a Federated<Kind>) asks of a cluster now: its
 * /spec/replicas override, else the template's spec.replicas (default 1)
 * when placed there, else 0. */
int64_t fed_rsp_asked(const cJSON *fed_obj, const char *cluster, bool placed);

/* The replicas one cluster is to run, for fed_rsp_target_patch. */
struct fed_rsp_assign {
	const char *name;
	int64_t replicas; /* > 0: placed here with a /spec/replicas override of this */
	bool keep;        /* leave its placement entry and overrides as they are */
	bool placed;      /* with keep: whether it is placed now (stays so) */
};

/* The JSON merge patch that makes fed_obj's spec.placement.clusters list
 * exactly the clusters with replicas > 0 (plus kept ones placed now) and
 * its /spec/replicas overrides say a[].replicas, leaving every other
 * override, every other field and kept clusters as they are; stale
 * replicas overrides (clusters not placed, or not in a) are removed. The
 * patch carries metadata.resourceVersion, so a concurrent change fails it
 * with a conflict instead of being overwritten. *patch is NULL when
 * fed_obj already says this (a restart writes nothing). FED_EINVAL when
 * spec.overrides is invalid (the message names the entry), or a name is
 * missing or given twice; FED_ENOMEM. */
int fed_rsp_target_patch(const cJSON *fed_obj, const struct fed_rsp_assign *a, size_t n,
                         cJSON **patch, struct fed_error *err);

#endif
