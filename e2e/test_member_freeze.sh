#!/usr/bin/env bash
# A member apiserver that stops answering (SIGSTOP: its connections stay
# open, nothing is refused) must not leave that member stale: it goes
# Offline; when it answers again (SIGCONT) it is Ready again, its informers
# list afresh, a change made on the host meanwhile reaches it, and its
# watch is live again (a drift made in the member is put right).
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-freeze-$$ # unique: without kcm a deleted namespace never goes
work=$(mktemp -d)
pass=0 fail=0 cpid=

. "$(dirname "$0")/lib.sh"
lc() { "$FED_LOCAL_CLUSTERS" "$1" --state-dir "$FED_E2E_STATE" "${@:2}" >/dev/null 2>&1; }
cm_data() { km member1 -n $NS get cm cfg -o jsonpath='{.data.a}' 2>/dev/null || true; }
conn() { k -n $FNS get kubefedcluster member1 -o jsonpath='{.status.connectivityStatus}' 2>/dev/null || true; }
# new member informers of configmaps (each starts with a full LIST)
lists() { grep -c "\[member1\] watching managed configmaps" "$work/ctl.log" || true; }

cleanup() {
	collect_artifacts "$work" || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	lc thaw member1 || true
	for c in host member1; do km $c delete ns $NS --wait=false >/dev/null 2>&1 || true; done
	fed_unfederate
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-member-freeze-controller.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fed_install_local
fed_federate member1
start_controller -a "$work/ctl.log" --health-period 1 --health-timeout 1 --failure-threshold 2 \
	--leader-elect=false --log-level debug
wait_eq 30 Connected conn || { bad "member1 not Ready"; tail -20 "$work/ctl.log"; exit 1; }
wait_until 30 grep -q "type configmaps: propagating" "$work/ctl.log" || { bad "types not started"; exit 1; }

k create ns $NS >/dev/null
km member1 create ns $NS >/dev/null
fed_ns_cm $NS member1 cfg v1
if wait_eq 30 v1 cm_data; then ok "FederatedConfigMap cfg (a=v1) propagated to member1"; else bad "cfg not propagated"; exit 1; fi

# ---- freeze: Offline --------------------------------------------------------------
lc freeze member1
t0=$(now)
# period 1 s x threshold 2 + timeout 1 s, with room for a loaded machine
if wait_eq 20 Offline conn; then
	ok "member1 frozen (SIGSTOP) -> Offline in $(since "$t0")s"
else
	bad "member1 still '$(conn)' $(since "$t0")s after SIGSTOP"
fi
# a change on the host while the member cannot hear it
k -n $NS patch federatedconfigmap cfg --type merge -p '{"spec":{"template":{"data":{"a":"v2"}}}}' >/dev/null
before=$(lists)

# ---- thaw: Ready, re-listed, caught up, watching ----------------------------------
lc thaw member1
t0=$(now)
if wait_eq 30 Connected conn; then ok "member1 thawed (SIGCONT) -> Ready in $(since "$t0")s"; else bad "member1 not Ready again: '$(conn)'"; fi
if wait_eq 30 v2 cm_data; then
	ok "the change made during the freeze reached member1 $(since "$t0")s after the thaw"
else
	bad "member1 still has a=$(cm_data) 30s after the thaw"
fi
if [ "$(lists)" -gt "$before" ]; then
	ok "member1's informers started again (and listed): $before -> $(lists) 'watching managed configmaps'"
else
	bad "member1's informers were not restarted after the thaw ($before -> $(lists))"
fi
# the new watch is live: a drift in the member is seen and undone
km member1 -n $NS patch cm cfg --type merge -p '{"data":{"a":"drift"}}' >/dev/null
t0=$(now)
if wait_eq 30 v2 cm_data; then
	ok "a drift in member1 after the thaw was corrected in $(since "$t0")s (its watch is live)"
else
	bad "drift in member1 not corrected: a=$(cm_data)"
fi

echo "member freeze: $pass passed, $fail failed"
[ "$fail" = 0 ]
