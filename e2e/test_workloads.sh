#!/usr/bin/env bash
# With real workloads (kube-controller-manager, kube-scheduler and kwok fake
# nodes in each member): a FederatedDeployment's pods run in both members
# and its aggregate status reaches the summed available replicas.
# Starts clusters of its own (host, wl1, wl2 with --workloads).
set -euo pipefail
: "${FED_BIN_DIR:?run through ctest}" "${FED_LOCAL_CLUSTERS:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
S=$(mktemp -d /tmp/fed-e2e-workloads.XXXXXX)
K=$S/kubeconfig FNS=kube-federation-system NS=shop
pass=0 fail=0 cpid=

. "$(dirname "$0")/lib.sh"
WAIT_STEP=0.2
cleanup() {
	collect_artifacts "$S" || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	cp "$S/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-workloads-controller.log" 2>/dev/null || true
	"$FED_LOCAL_CLUSTERS" down --state-dir "$S" >/dev/null 2>&1 || true
	rm -rf "$S"
}
trap cleanup EXIT

t0=$(now)
"$FED_LOCAL_CLUSTERS" up --state-dir "$S" host >/dev/null
"$FED_LOCAL_CLUSTERS" up --state-dir "$S" --workloads --nodes 2 wl1 wl2 >/dev/null
echo "clusters up in $(since "$t0")s"
fed_install
fed_federate wl1 wl2
start_controller "$S/ctl.log" --health-period 2 --leader-elect=false

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
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers: [{name: web, image: nginx, resources: {requests: {cpu: 100m}}}]
  placement: {clusterSelector: {}}
  overrides:
  - clusterName: wl2
    clusterOverrides: [{path: /spec/replicas, value: 3}]
EOF
agg() { k -n $NS get federateddeployment web -o jsonpath="{.status.aggregate.$1}" 2>/dev/null || true; }
t0=$(now)
progress() { # the aggregate while waiting, for the log
	local a
	a=$(agg availableReplicas)
	echo "  $(since "$t0")s: aggregate available ${a:-none}"
	[ "$a" = "$1" ]
}
if wait_until 120 progress 5 >"$S/progress"; then
	tail -3 "$S/progress"
	ok "FederatedDeployment 2 + 3 replicas: aggregate available 5 in $(since "$t0")s: $(k -n $NS get federateddeployment web -o jsonpath='{.status.aggregate}')"
else
	tail -5 "$S/progress"
	bad "aggregate: $(k -n $NS get federateddeployment web -o jsonpath='{.status}')"
fi
running() { km "$1" -n $NS get pods --field-selector=status.phase=Running --no-headers 2>/dev/null | wc -l; }
[ "$(running wl1)" = 2 ] && [ "$(running wl2)" = 3 ] &&
	ok "pods Running on kwok nodes: wl1 $(running wl1), wl2 $(running wl2)" ||
	bad "running pods: wl1 $(running wl1), wl2 $(running wl2)"
k -n $NS patch federateddeployment web --type merge -p '{"spec":{"template":{"spec":{"replicas":4}}}}' >/dev/null
t0=$(now)
wait_eq 120 7 agg availableReplicas &&
	ok "scaled the template to 4 (wl2 stays 3 by override): aggregate available 7 in $(since "$t0")s" ||
	bad "after scaling: $(agg availableReplicas)"

kill -TERM "$cpid"; wait "$cpid" 2>/dev/null || true; cpid=
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
