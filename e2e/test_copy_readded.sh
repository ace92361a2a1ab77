#!/usr/bin/env bash
# A copy fed deleted, then placed again and written anew, is deleted again
# when the placement drops it once more (found by the chaos run, issue 15,
# where RSPs flip placements while copies are deleted and re-created).
# fed's record of the member kept "a delete of ours is under way" after
# the delete was answered, and writing a new copy did not clear it: the
# next removal was skipped as already under way, and the copy stayed
# forever. A member-side finalizer holds the deleted copy in place (as a
# slow watch or a foreground deletion does for a moment), so the placement
# comes back while the old copy is still listed, without a race.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
NS=fed-e2e-readd-$$ # unique: without kcm a deleted namespace never goes
work=$(mktemp -d)
pass=0 fail=0 cpid=
pids=()

. "$(dirname "$0")/lib.sh"

copy() { km member1 -n $NS get cm c1 -o jsonpath='{.metadata.uid} {.metadata.deletionTimestamp}' 2>/dev/null || true; }
no_copy() { [ -z "$(copy)" ]; }
terminating() { [ -n "$(copy | cut -s -d' ' -f2)" ]; }
live_copy() { local c; c=$(copy); [ -n "$c" ] && [ -z "$(cut -s -d' ' -f2 <<<"$c")" ]; }
new_copy() { live_copy && [ "$(copy | cut -d' ' -f1)" != "$1" ]; }
place() { # CLUSTERS-JSON
	k -n $NS patch federatedconfigmap c1 --type merge -p "{\"spec\":{\"placement\":{\"clusters\":$1}}}" >/dev/null
}

cleanup() {
	collect_artifacts "$work" || true
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	km member1 -n $NS patch cm c1 --type json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null 2>&1 || true
	for c in host member1; do km $c delete ns $NS --wait=false >/dev/null 2>&1 || true; done
	fed_unfederate
	rm -rf "$work"
}
trap cleanup EXIT

fed_one_member "$work/ctl.log"

k create ns $NS >/dev/null
fed_namespace_on $NS member1
cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: c1, namespace: $NS}
spec:
  template: {data: {a: "1"}}
  placement: {clusters: [{name: member1}]}
EOF
wait_until 30 live_copy || { bad "no copy in member1"; exit 1; }
old=$(copy | cut -d' ' -f1)
km member1 -n $NS patch cm c1 --type merge -p '{"metadata":{"finalizers":["e2e.fed.io/hold"]}}' >/dev/null

place '[]'
if wait_until 20 terminating; then ok "placement dropped: fed deleted the copy (held by the member's finalizer)"; else bad "copy not deleted: '$(copy)'"; fi
place '[{"name":"member1"}]'
sleep 2 # fed syncs the placement back while the old copy is still there
km member1 -n $NS patch cm c1 --type json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
if wait_until 30 new_copy "$old"; then ok "placed again: a new copy once the old one went"; else bad "no new copy: '$(copy)'"; fi

place '[]'
t0=$(now)
if wait_until 30 no_copy; then
	ok "placement dropped again: the new copy deleted in $(since "$t0")s"
else
	bad "the new copy stayed 30 s after the placement dropped it: '$(copy)'"
fi

echo "passed $pass, failed $fail"
[ "$fail" -eq 0 ]
