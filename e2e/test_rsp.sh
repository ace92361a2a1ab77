#!/usr/bin/env bash
# ReplicaSchedulingPreference end to end, with real scheduling: host + three
# members with --workloads (kube-controller-manager, kube-scheduler, kwok
# fake nodes). Each member has 2 fake nodes of 8 CPUs and every pod asks for
# 2 CPUs, so a member holds 8 replicas.
#  (a) weights 2:1:1 of 8 -> 4/2/2 replicas available in the members;
#  (b) wl1's nodes cordoned and 2 of its pods deleted: the new pods stay
#      Pending, so after --rsp-unschedulable-threshold those 2 replicas run in
#      wl2/wl3 (within 90 s); uncordoned, with rebalance on, back to 4/2/2;
#  (c) wl1's apiserver stopped: after --rsp-offline-grace wl2/wl3 carry its
#      share, wl1's Deployment is untouched (same generation and replicas
#      after restart), and after the restart the totals return to 4/2/2;
#      the available replicas summed over the members, sampled every
#      second, never drop below 8.
# Starts clusters of its own.
set -euo pipefail
: "${FED_BIN_DIR:?run through ctest}" "${FED_LOCAL_CLUSTERS:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
S=$(mktemp -d /tmp/fed-e2e-rsp.XXXXXX)
K=$S/kubeconfig NS=rsp MEMBERS="wl1 wl2 wl3"
GRACE=10 THRESHOLD=10
pass=0 fail=0 cpid= spid=

. "$(dirname "$0")/lib.sh"
WAIT_STEP=0.5
cleanup() {
	collect_artifacts "$S" || true
	[ -z "$spid" ] || kill "$spid" 2>/dev/null || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	cp "$S/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-rsp-controller.log" 2>/dev/null || true
	"$FED_LOCAL_CLUSTERS" down --state-dir "$S" >/dev/null 2>&1 || true
	rm -rf "$S"
}
trap cleanup EXIT

tall=$(now)
t0=$(now)
"$FED_LOCAL_CLUSTERS" up --state-dir "$S" host >/dev/null
"$FED_LOCAL_CLUSTERS" up --state-dir "$S" --workloads --nodes 2 $MEMBERS >/dev/null
echo "clusters up in $(since "$t0")s"
fed_install
fed_federate $MEMBERS
ctl() { # [-a] LOG
	start_controller "$@" --health-period 1 --health-timeout 1 --failure-threshold 2 \
		--rsp-offline-grace $GRACE --rsp-unschedulable-threshold $THRESHOLD --leader-elect=false
}
ctl "$S/ctl.log"

k create ns $NS >/dev/null
cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedNamespace
metadata: {name: $NS, namespace: $NS}
spec: {placement: {clusterSelector: {}}}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedDeployment
metadata: {name: web, namespace: $NS}
spec:
  template:
    spec:
      replicas: 1
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers: [{name: web, image: nginx, resources: {requests: {cpu: "2"}}}]
  placement: {clusterSelector: {}}
---
apiVersion: scheduling.kubefed.io/v1alpha1
kind: ReplicaSchedulingPreference
metadata: {name: web, namespace: $NS}
spec:
  targetKind: FederatedDeployment
  totalReplicas: 8
  rebalance: true
  clusters:
    wl1: {weight: 2}
    wl2: {weight: 1}
    wl3: {weight: 1}
EOF

# A member Deployment's field, "-" when unreadable (a stopped apiserver).
dfield() { km "$1" -n $NS get deploy web --request-timeout=3s -o jsonpath="{$2}" 2>/dev/null || echo -; }
avail() { local a; a=$(dfield "$1" .status.availableReplicas); echo "${a:-0}"; }
avails() { echo "$(avail wl1) $(avail wl2) $(avail wl3)"; }
asked() { echo "$(dfield wl1 .spec.replicas) $(dfield wl2 .spec.replicas) $(dfield wl3 .spec.replicas)"; }
steady() { # 4/2/2 asked and available
	[ "$(asked)" = "4 2 2" ] && [ "$(avails)" = "4 2 2" ]
}
rspstatus() { k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o jsonpath='{range .status.clusters[*]}{.name}={.replicas} {end}{.status.conditions[0].reason}' 2>/dev/null || true; }

# ---- (a) weights 2:1:1 of 8
t0=$(now)
if wait_until 150 steady; then
	ok "(a) weights 2:1:1 of 8: members run and have available $(avails) in $(since "$t0")s"
else
	bad "(a) asked $(asked), available $(avails); RSP status: $(rspstatus)"
fi
[ "$(rspstatus)" = "wl1=4 wl2=2 wl3=2 Scheduled" ] &&
	ok "(a) RSP status: $(rspstatus)" || bad "(a) RSP status: $(rspstatus)"
pl=$(k -n $NS get federateddeployment web -o jsonpath='{.spec.placement.clusters[*].name} {range .spec.overrides[*]}{.clusterName}={.clusterOverrides[0].value} {end}')
[ "$pl" = "wl1 wl2 wl3 wl1=4 wl2=2 wl3=2 " ] &&
	ok "(a) target placement and overrides: $pl" || bad "(a) target: $pl"
k -n $NS get events --field-selector involvedObject.kind=ReplicaSchedulingPreference,reason=Scheduled \
	-o jsonpath='{.items[*].message}' | grep -q 'wl1=4 wl2=2 wl3=2' &&
	ok "(a) Event Scheduled on the RSP" || bad "(a) no Scheduled event on the RSP"
# a restarted controller finds nothing to write
rv=$(k -n $NS get federateddeployment web -o jsonpath='{.metadata.resourceVersion}')
nev() { k -n $NS get events --field-selector involvedObject.kind=ReplicaSchedulingPreference -o name | wc -l; }
ev=$(nev)
rsprv() { k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o jsonpath='{.metadata.resourceVersion}'; }
rrv=$(rsprv)
kill -TERM "$cpid"; wait "$cpid" 2>/dev/null || true
ctl -a "$S/ctl.log"
sleep 6 # an absence: 6 s after the restart, nothing written
rv2=$(k -n $NS get federateddeployment web -o jsonpath='{.metadata.resourceVersion}')
[ "$rv" = "$rv2" ] && ok "(a) controller restart: the target is not written again (resourceVersion $rv)" ||
	bad "(a) controller restart rewrote the target ($rv -> $rv2)"
[ "$(rsprv)" = "$rrv" ] && ok "(a) controller restart: the RSP status is not written again" ||
	bad "(a) controller restart rewrote the RSP ($rrv -> $(rsprv))"
[ "$(nev)" = "$ev" ] && ok "(a) controller restart: no new Event on the RSP ($ev in all)" ||
	bad "(a) controller restart: RSP Events $ev -> $(nev)"

# ---- (b) wl1 loses room: 2 of its pods stay Pending
for n in wl1-node-1 wl1-node-2; do km wl1 cordon $n >/dev/null; done
km wl1 -n $NS delete --wait=false $(km wl1 -n $NS get pods -o name | sed -n 1,2p) >/dev/null
t0=$(now)
moved() { # wl1 holds 2, the 2 others run 6, 8 in all
	local a
	a=($(avails))
	[ "${a[0]}" = 2 ] && [ $(( a[1] + a[2] )) = 6 ]
}
if wait_until 90 moved; then
	tb=$(since "$t0")
	ok "(b) wl1 unschedulable: its replicas moved in ${tb}s (threshold ${THRESHOLD}s, limit 90s): available $(avails)"
else
	bad "(b) not moved in 90s: asked $(asked), available $(avails); RSP status: $(rspstatus)"
fi
pending=$(km wl1 -n $NS get pods --field-selector=status.phase=Pending --no-headers 2>/dev/null | wc -l)
[ "$pending" = 2 ] && ok "(b) wl1 keeps 2 Pending pods (kubefed's overflow: they run when room returns)" ||
	bad "(b) wl1 pending pods: $pending"
k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o jsonpath='{.status.clusters[0].reason}' | grep -q 'capped by capacity 2' &&
	ok "(b) RSP status says why: $(k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o jsonpath='{.status.clusters[0].reason}')" ||
	bad "(b) RSP status: $(k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o jsonpath='{.status.clusters}')"
for n in wl1-node-1 wl1-node-2; do km wl1 uncordon $n >/dev/null; done
t0=$(now)
if wait_until 90 steady; then
	ok "(b) nodes back, rebalance on: 4/2/2 again in $(since "$t0")s"
else
	bad "(b) after uncordon: asked $(asked), available $(avails); RSP status: $(rspstatus)"
fi

# ---- (c) wl1's apiserver stops
gen=$(dfield wl1 .metadata.generation) reps=$(dfield wl1 .spec.replicas)
# sample the available replicas summed over the members every second; an
# unreachable member counts with its last value (its pods keep running: its
# controllers cannot change anything while its apiserver is down)
sampler() {
	declare -A last=([wl1]=0 [wl2]=0 [wl3]=0)
	local c a sum
	while :; do
		sum=0
		for c in $MEMBERS; do
			a=$(dfield $c .status.availableReplicas)
			[ "$a" = - ] || last[$c]=${a:-0}
			sum=$(( sum + last[$c] ))
		done
		echo "$(date +%s.%N) $sum ${last[wl1]} ${last[wl2]} ${last[wl3]}"
		sleep 1
	done
}
sampler >"$S/samples" &
spid=$!
samples_ge() { [ "$(wc -l <"$S/samples")" -ge "$1" ]; }
wait_until 20 samples_ge 2 || true # two samples before the stop; fewer show in the count below
"$FED_LOCAL_CLUSTERS" stop --state-dir "$S" wl1 >/dev/null
t0=$(now)
others() { local a; a=($(avails)); echo "${a[1]} ${a[2]}"; }
if wait_eq 90 "4 4" others; then
	tc=$(since "$t0")
	ok "(c) wl1 stopped: wl2/wl3 carry its share (4 4 available) ${tc}s after the stop (grace ${GRACE}s)"
else
	bad "(c) wl2/wl3 available $(others); RSP status: $(rspstatus)"
fi
k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o jsonpath='{.status.clusters[0].reason}' | grep -q 'offline' &&
	ok "(c) RSP status: $(rspstatus) ($(k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o jsonpath='{.status.clusters[0].reason}'))" ||
	bad "(c) RSP status: $(k -n $NS get replicaschedulingpreferences.scheduling.kubefed.io web -o jsonpath='{.status.clusters}')"
sleep 3 # an absence: 3 s more away, wl1's Deployment untouched and the total held
"$FED_LOCAL_CLUSTERS" start --state-dir "$S" wl1 >/dev/null
t0=$(now)
[ "$(dfield wl1 .metadata.generation) $(dfield wl1 .spec.replicas)" = "$gen $reps" ] &&
	ok "(c) wl1's Deployment untouched while it was away: generation $gen, replicas $reps" ||
	bad "(c) wl1's Deployment changed: generation $(dfield wl1 .metadata.generation) (was $gen), replicas $(dfield wl1 .spec.replicas) (was $reps)"
if wait_until 90 steady; then
	ok "(c) wl1 back: 4/2/2 again $(since "$t0")s after its restart"
else
	bad "(c) after restart: asked $(asked), available $(avails); RSP status: $(rspstatus)"
fi
n=$(wc -l <"$S/samples")
wait_until 20 samples_ge $((n + 2)) || true # two samples after the recovery
kill "$spid"; wait "$spid" 2>/dev/null || true; spid=
min=$(awk 'NR == 1 || $2 < m { m = $2 } END { print m }' "$S/samples")
n=$(wc -l <"$S/samples")
if [ "${min:-0}" -ge 8 ]; then
	ok "(c) $n samples, 1 s apart: total available never below 8 (minimum $min, maximum $(awk '$2 > m { m = $2 } END { print m }' "$S/samples"))"
else
	awk '$2 < 8' "$S/samples" | sed -n 1,5p
	bad "(c) total available dropped to $min"
fi

kill -TERM "$cpid"; wait "$cpid" 2>/dev/null || true; cpid=
echo "$pass passed, $fail failed in $(since "$tall")s"
[ "$fail" -eq 0 ]
