#!/usr/bin/env bash
# fed-controller under valgrind through real activity: it leads, joins
# member1 and member2 from the ConfigMap and Secret, sees member1 go away and
# come back, a bad config, a removed cluster and a host apiserver restart;
# no leaks and no memory errors when it exits on SIGTERM.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
command -v valgrind >/dev/null || { echo "valgrind is not installed (scripts/setup installs it)"; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
work=$(mktemp -d)
pass=0 fail=0
. "$(dirname "$0")/lib.sh"
cleanup() {
	collect_artifacts "$work" || true
	[ -z "${pid:-}" ] || kill -9 "$pid" 2>/dev/null || true
	fed_unfederate
	"$FED_LOCAL_CLUSTERS" start --state-dir "$FED_E2E_STATE" member1 >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
log=$work/log vlog=$work/vlog
k apply -f "$root/manifests/00-namespace.yaml" -f "$root/manifests/01-crd-kubefedclusters.yaml" >/dev/null
k wait --for condition=established crd/kubefedclusters.core.kubefed.io --timeout=30s >/dev/null
k -n kube-system delete cm kubefed-config --ignore-not-found >/dev/null

cm() { # entries "name address" ...
	local e
	{
		printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubefed-config, namespace: kube-system}\ndata:\n  kubefed.yaml: |\n'
		printf '    apiVersion: federation/v1beta1\n    kind: Federation\n    spec:\n      clusters:\n'
		for e in "$@"; do
			printf '      - clusterName: %s\n        serverAddressByClientCIDRs:\n        - {clientCIDR: 0.0.0.0/0, serverAddress: "%s"}\n' ${e}
		done
	} | k apply -f - >/dev/null
}
{
	printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: kubefed-kubeconfig, namespace: kube-system}\nstringData:\n'
	for c in member1 member2; do
		echo "  kubeconfig-$c: |"
		kubectl --kubeconfig "$K" config view --raw --minify --flatten --context $c | sed 's/^/    /'
	done
} | k apply -f - >/dev/null

FED_WRAP=(valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --log-file="$vlog")
start_controller "$log" --health-period 1 --health-timeout 1 --failure-threshold 2 --log-level debug
FED_WRAP=()
pid=$cpid
_log_count() { [ "$(grep -c -- "$1" "$log" || true)" -ge "$2" ]; }
wait_log() { # pattern timeout [count]
	WAIT_STEP=0.1 wait_until "$2" _log_count "$1" "${3:-1}" && return 0
	echo "FAIL: no log line matching '$1' within $2s"; cat "$log"; exit 1
}
wait_log "leading (Lease" 90
cm "member1 $(srv member1)" "member2 $(srv member2)"
wait_log "\[member1\] Connected" 60
wait_log "\[member2\] Connected" 60
port=$(sed -n 's/.*serving .* port \([0-9]*\).*/\1/p' "$log" | head -1)
curl -sf "http://127.0.0.1:$port/metrics" | grep -q 'kubefedcluster_total{state="ready"} 2'
"$FED_LOCAL_CLUSTERS" stop --state-dir "$FED_E2E_STATE" member1 >/dev/null 2>&1
wait_log "\[member1\] Offline" 60
"$FED_LOCAL_CLUSTERS" start --state-dir "$FED_E2E_STATE" member1 >/dev/null 2>&1
wait_log "\[member1\] Connected" 60 2
# propagation: a namespace and a ConfigMap in both members, then gone
fed_install
ns=fed-vg-$$
k create ns $ns >/dev/null
cat <<EOF2 | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedNamespace
metadata: {name: $ns, namespace: $ns}
spec: {placement: {clusterSelector: {}}}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: cfg, namespace: $ns}
spec:
  template: {data: {a: "1"}}
  placement: {clusterSelector: {}}
  overrides: [{clusterName: member2, clusterOverrides: [{path: /data/a, value: "2"}]}]
EOF2
wait_log "\[member2\] created ConfigMap $ns/cfg" 90
wait_log "\[member1\] created ConfigMap $ns/cfg" 30
k -n $ns delete federatedconfigmap cfg --wait=false >/dev/null
wait_log "FederatedConfigMap $ns/cfg deleted" 60
k -n kube-system patch cm kubefed-config -p '{"data":{"kubefed.yaml":"spec: ["}}' >/dev/null
wait_log "previous configuration stays" 30
cm "member1 $(srv member1)" "member2 10.0.0.0/33"
wait_log "federation config applied" 30 2
"$FED_LOCAL_CLUSTERS" restart --state-dir "$FED_E2E_STATE" host >/dev/null 2>&1
cm "member1 $(srv member1)"
wait_log "\[member2\] removed from the federation" 60
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
pid=
if [ $rc -ne 0 ]; then
	echo "FAIL: fed-controller under valgrind exited $rc"; cat "$vlog"; tail -20 "$log"; exit 1
fi
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|All heap" "$vlog"
echo "1 passed, 0 failed"
