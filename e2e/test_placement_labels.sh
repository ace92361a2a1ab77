#!/usr/bin/env bash
# Cluster labels reach placement, as in kubefed: `kubectl label
# kubefedcluster member1 region=eu` places an existing FederatedConfigMap
# whose placement.clusterSelector.matchLabels is {region: eu} on member1
# (within 1 s; on a loaded machine the assert allows $BOUND s and the
# figure is printed), and removing the label takes the copy out again.
# The same for a ReplicaSchedulingPreference (intersectWithClusterSelector)
# whose target selects tier=gold: labelling member2 makes it a candidate,
# unlabelling it takes its replicas away. Without the label events the
# federated objects are only re-placed when they are touched themselves.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-labels-$$ # unique: without kcm a deleted namespace never goes
BOUND=${FED_E2E_LABEL_BOUND:-3} # seconds; the target is 1 s, the figure is printed
work=$(mktemp -d)
pass=0 fail=0 cpid=
pids=()

. "$(dirname "$0")/lib.sh"

kfc_label() { k -n $FNS label kubefedcluster "$@" >/dev/null; }
has_cm() { km "$1" -n $NS get cm eu-only >/dev/null 2>&1; }
no_cm() { ! has_cm "$1"; }
# The RSP's plan for member2 (its replicas in status.clusters, 0 if absent).
planned() {
	local v
	v=$(k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web \
		-o jsonpath='{.status.clusters[?(@.name=="member2")].replicas}' 2>/dev/null || true)
	echo "${v:-0}"
}
member2_planned() { [ "$(planned)" -gt 0 ]; }
member2_unplanned() { [ "$(planned)" -eq 0 ]; }
rspstatus() { k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o jsonpath='{range .status.clusters[*]}{.name}={.replicas} {end}{.status.conditions[0].reason}' 2>/dev/null || true; }

cleanup() {
	collect_artifacts "$work" || true
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	k -n $FNS label kubefedcluster member1 member2 region- tier- >/dev/null 2>&1 || true
	for c in host member1 member2; do km $c delete ns $NS --wait=false >/dev/null 2>&1 || true; done
	fed_unfederate
	rm -rf "$work"
}
trap cleanup EXIT

fed_install_local
fed_reset
fed_federate member1 member2
start_controller "$work/ctl.log" --leader-elect=false --health-period 1 --log-level debug
ready() { [ "$(k -n $FNS get kubefedcluster "$1" -o jsonpath='{.status.connectivityStatus}' 2>/dev/null)" = Connected ]; }
wait_until 60 ready member1 && wait_until 60 ready member2 || { bad "members not Ready"; exit 1; }
wait_until 30 grep -q "type configmaps: propagating" "$work/ctl.log" || { bad "types not started"; exit 1; }
wait_until 30 grep -q "type deployments.apps: propagating" "$work/ctl.log" || { bad "deployments not started"; exit 1; }

k create ns $NS >/dev/null
cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedNamespace
metadata: {name: $NS, namespace: $NS}
spec:
  placement: {clusterSelector: {}}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: eu-only, namespace: $NS}
spec:
  template: {data: {a: "1"}}
  placement:
    clusterSelector: {matchLabels: {region: eu}}
EOF
wait_until 30 km member1 get ns $NS >/dev/null 2>&1 || bad "namespace not propagated to member1"
# the object is synced once (status written) and placed nowhere
wait_until 30 _out_set k -n $NS get federatedconfigmap eu-only -o jsonpath='{.status.conditions}' ||
	bad "FederatedConfigMap never synced"
if no_cm member1 && no_cm member2; then ok "no cluster labelled region=eu: no copy"; else bad "a copy without the label"; fi

# ---- the label placed the object on member1 ------------------------------------
kfc_label member1 region=eu
t0=$(now) # the label is in the apiserver: from here to the copy
if wait_until 30 has_cm member1; then
	dt=$(since "$t0")
	if le "$dt" "$BOUND"; then ok "label region=eu on member1: copy there in ${dt}s (target 1 s)"; else bad "copy in member1 only after ${dt}s (> ${BOUND}s)"; fi
else
	bad "label region=eu on member1: no copy after 30 s"
fi
no_cm member2 && ok "member2 (unlabelled) still has no copy" || bad "copy in unlabelled member2"

# ---- and removing it took the copy out -----------------------------------------
had=0
has_cm member1 && had=1
kfc_label member1 region-
t0=$(now) # the label is in the apiserver: from here to the copy
if [ $had = 1 ] && wait_until 30 no_cm member1; then
	dt=$(since "$t0")
	if le "$dt" "$BOUND"; then ok "label removed from member1: copy gone in ${dt}s (target 1 s)"; else bad "copy left member1 only after ${dt}s (> ${BOUND}s)"; fi
else
	bad "label removed from member1: copy not taken out within 30 s (or never there)"
fi

# ---- RSP candidates follow the target's clusterSelector --------------------------
kfc_label member1 tier=gold
cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedDeployment
metadata: {name: web, namespace: $NS}
spec:
  template:
    spec:
      replicas: 4
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: c, image: registry.k8s.io/pause:3.9}]}
  placement:
    clusterSelector: {matchLabels: {tier: gold}}
---
apiVersion: scheduling.kubefed.io/v1alpha1
kind: ReplicaSchedulingPreference
metadata: {name: web, namespace: $NS}
spec:
  targetKind: FederatedDeployment
  totalReplicas: 4
  intersectWithClusterSelector: true
  clusters:
    "*": {weight: 1}
EOF
if wait_until 30 _out_set k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o jsonpath='{.status.clusters}'; then
	member2_unplanned && ok "RSP: member2 (not tier=gold) is no candidate: $(rspstatus)" ||
		bad "RSP: member2 planned without the label: $(rspstatus)"
else
	bad "RSP: no status after 30 s"
fi
kfc_label member2 tier=gold
t0=$(now) # the label is in the apiserver: from here to the copy
if wait_until 30 member2_planned; then
	dt=$(since "$t0")
	if le "$dt" "$BOUND"; then ok "RSP: label tier=gold on member2 made it a candidate in ${dt}s: $(rspstatus)"; else bad "RSP: member2 planned only after ${dt}s (> ${BOUND}s)"; fi
else
	bad "RSP: label tier=gold on member2: not planned after 30 s: $(rspstatus)"
fi
had=0
member2_planned && had=1
kfc_label member2 tier-
t0=$(now) # the label is in the apiserver: from here to the copy
if [ $had = 1 ] && wait_until 30 member2_unplanned; then
	dt=$(since "$t0")
	if le "$dt" "$BOUND"; then ok "RSP: label removed from member2: no longer a candidate in ${dt}s: $(rspstatus)"; else bad "RSP: member2 unplanned only after ${dt}s (> ${BOUND}s)"; fi
else
	bad "RSP: label removed from member2: still planned after 30 s (or never planned): $(rspstatus)"
fi

echo "passed $pass, failed $fail"
[ "$fail" -eq 0 ]
