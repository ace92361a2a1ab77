#!/usr/bin/env bash
# Managed copies without a federated object go, whatever the history
# (found by the chaos run, issue 15): a FederatedConfigMap deleted with its
# finalizer removed by hand while no controller runs leaves its copy in
# member1, and an object labelled kubefed.io/managed=true appears there
# with no federated object at all. On start the controller removes both,
# and a stray made while it runs goes too; an unlabelled ConfigMap and one
# labelled kubefed.io/managed=false are left alone, and the copy of a live
# FederatedConfigMap stays. Before the fix the controller only removed
# copies it had a record of in the federated object's status.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-stray-$$ # unique: without kcm a deleted namespace never goes
work=$(mktemp -d)
pass=0 fail=0 cpid=
pids=()

. "$(dirname "$0")/lib.sh"

has_cm() { km member1 -n $NS get cm "$1" >/dev/null 2>&1; }
no_cm() { ! has_cm "$1"; }
mcm() { # NAME LABEL-VALUE|-
	local l=
	[ "$2" = - ] || l="labels: {kubefed.io/managed: \"$2\"}"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s, %s}\ndata: {a: x}\n' \
		"$1" $NS "$l" | km member1 apply -f - >/dev/null
}
fcm() { # NAME
	cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: $1, namespace: $NS}
spec:
  template: {data: {a: "1"}}
  placement: {clusters: [{name: member1}]}
EOF
}

cleanup() {
	collect_artifacts "$work" || true
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for c in host member1; do km $c delete ns $NS --wait=false >/dev/null 2>&1 || true; done
	fed_unfederate
	rm -rf "$work"
}
trap cleanup EXIT

fed_one_member "$work/ctl.log"

k create ns $NS >/dev/null
fed_namespace_on $NS member1
fcm kept
fcm dropped
wait_until 30 has_cm kept && wait_until 30 has_cm dropped && ok "two FederatedConfigMaps propagated" ||
	{ bad "not propagated"; exit 1; }

# ---- while no controller runs --------------------------------------------------
kill -TERM "$cpid"
wait "$cpid" 2>/dev/null || true
k -n $NS patch federatedconfigmap dropped --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
k -n $NS delete federatedconfigmap dropped --wait=true >/dev/null
mcm stray true
mcm mine -
mcm hands-off false
has_cm dropped && has_cm stray && ok "controller stopped: the dropped object's copy and a stray managed ConfigMap are in member1" ||
	bad "setup: $(km member1 -n $NS get cm -o name | tr '\n' ' ')"

t0=$(now)
start_controller -a "$work/ctl.log" --leader-elect=false --health-period 1 --log-level debug
if wait_until 60 no_cm dropped && wait_until 30 no_cm stray; then
	ok "on start the controller removed the copy of the deleted object and the stray in $(since "$t0")s"
else
	bad "still there: $(km member1 -n $NS get cm -o name | tr '\n' ' ')"
fi

# ---- while it runs -------------------------------------------------------------
t0=$(now)
mcm stray2 true
if wait_until 30 no_cm stray2; then
	ok "a managed ConfigMap with no federated object, made while the controller runs, removed in $(since "$t0")s"
else
	bad "stray2 still in member1"
fi
# the negatives, after the stray removals above have had their chance
# (the deletes of this sync were issued; nothing else would come)
sleep 2
has_cm kept && ok "the live FederatedConfigMap's copy stays" || bad "the copy of 'kept' was removed"
has_cm mine && ok "an unlabelled ConfigMap is left alone" || bad "the unlabelled ConfigMap was removed"
has_cm hands-off && ok "a ConfigMap labelled kubefed.io/managed=false is left alone" ||
	bad "the managed=false ConfigMap was removed"
grep -q "is gone without our finalizer's help" "$work/ctl.log" &&
	ok "the controller logged why: $(grep -m1 "is gone without our finalizer's help" "$work/ctl.log" | sed 's/.*INFO *//')" ||
	bad "no log line for the removal"

echo "passed $pass, failed $fail"
[ "$fail" -eq 0 ]
