#!/usr/bin/env bash
# A ReplicaSchedulingPreference spreads replicas only where its target can
# run (found by the chaos run, issue 15): the FederatedNamespace places the
# namespace on member1 only, the RSP asks for 4 replicas over "*". Before
# the fix the planner gave member2 half of them, where the namespace (and
# so the Deployment) never goes: those replicas never became available
# and the RSP stayed Moving. Now member1 gets all 4, member2 is reported
# "the target's namespace is not placed there", and the RSP is Scheduled.
# Placing the namespace on member2 too spreads them 2/2.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-rspns-$$ # unique: without kcm a deleted namespace never goes
work=$(mktemp -d)
pass=0 fail=0 cpid=
pids=()

. "$(dirname "$0")/lib.sh"
plan() {
	k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o \
		jsonpath='{range .status.clusters[*]}{.name}={.replicas} {end}{.status.conditions[?(@.type=="Scheduled")].reason}' 2>/dev/null || true
}
reason2() {
	k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o \
		jsonpath='{.status.clusters[?(@.name=="member2")].reason}' 2>/dev/null || true
}

cleanup() {
	collect_artifacts "$work" || true
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for c in host member1 member2; do km $c delete ns $NS --wait=false >/dev/null 2>&1 || true; done
	fed_unfederate
	rm -rf "$work"
}
trap cleanup EXIT

fed_install_local
fed_reset
fed_federate member1 member2
start_controller "$work/ctl.log" --leader-elect=false --health-period 1 --log-level debug
members_connected 60 member1 member2 || { bad "members not Ready"; exit 1; }

k create ns $NS >/dev/null
fed_namespace_on $NS member1
fed_deployment $NS web member1 member2
cat <<EOF | k apply -f - >/dev/null
apiVersion: scheduling.kubefed.io/v1alpha1
kind: ReplicaSchedulingPreference
metadata: {name: web, namespace: $NS}
spec:
  targetKind: FederatedDeployment
  totalReplicas: 4
  clusters: {"*": {weight: 1}}
EOF
if wait_eq 30 "member1=4 member2=0 Scheduled" plan; then
	ok "namespace on member1 only: all 4 replicas there, member2: $(reason2)"
else
	bad "plan: '$(plan)' (member2: $(reason2))"
fi
[ "$(reason2)" = "the target's namespace is not placed there" ] && ok "member2's reason names the namespace" ||
	bad "member2's reason: '$(reason2)'"

fed_namespace_on $NS member1 member2
if wait_eq 30 "member1=2 member2=2 Scheduled" plan; then
	ok "namespace on both: 2/2 ($(plan))"
else
	bad "after placing the namespace on member2: '$(plan)'"
fi

echo "passed $pass, failed $fail"
[ "$fail" -eq 0 ]
