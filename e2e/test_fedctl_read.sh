#!/usr/bin/env bash
# fedctl list and fedctl describe against real apiservers (host, member1,
# member2) with fed-controller running: every -o form, the describe
# sections (a FederatedConfigMap placed on member1 shows up with status
# OK), the error paths and exit codes, and the time of `fedctl list` with
# 100 registered clusters (printed, not asserted).
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-read-$$ # unique: without kcm a deleted namespace never goes
F=$FED_BIN_DIR/fedctl
work=$(mktemp -d)
pass=0 fail=0 cpid=

. "$(dirname "$0")/lib.sh"
fc() { "$F" "$1" --kubeconfig "$K" --host-cluster-context host "${@:2}"; } # CMD ARGS...
# run fedctl: $out, $err, $rc
run() { rc=0; fc "$@" >"$work/out" 2>"$work/err" || rc=$?; out=$(cat "$work/out"); err=$(cat "$work/err"); }

cleanup() {
	collect_artifacts "$work" || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	for c in host member1; do km $c delete ns $NS --wait=false >/dev/null 2>&1 || true; done
	fed_unfederate
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-fedctl-read-controller.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# ---- install, join member1 and member2 through the ConfigMap + Secret -------
fed_install_local

# before anything is joined
k -n kube-system delete cm kubefed-config --ignore-not-found >/dev/null
run list
if [ $rc = 0 ] && [ -z "$out" ] && [ "$err" = "No clusters joined." ]; then
	ok "no ConfigMap: 'No clusters joined.' on stderr, exit 0"
else
	bad "empty list: rc=$rc out=$out err=$err"
fi

srv() { kubectl --kubeconfig "$K" config view --raw -o jsonpath="{.clusters[?(@.name==\"$1\")].cluster.server}"; }
{
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubefed-config, namespace: kube-system}\ndata:\n  kubefed.yaml: |\n'
	printf '    apiVersion: federation/v1beta1\n    kind: Federation\n    spec:\n      clusters:\n'
	for c in member1 member2; do
		printf '      - clusterName: %s\n        serverAddressByClientCIDRs:\n' $c
		printf '        - {clientCIDR: 10.0.0.0/8, serverAddress: "10.255.0.1:6443"}\n'
		printf '        - {clientCIDR: 127.0.0.0/8, serverAddress: "%s"}\n' "$(srv $c)"
	done
} | k apply -f - >/dev/null
{
	printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: kubefed-kubeconfig, namespace: kube-system}\nstringData:\n'
	for c in member1 member2; do
		echo "  kubeconfig-$c: |"
		kubectl --kubeconfig "$K" config view --raw --minify --flatten --context $c | sed 's/^/    /'
	done
} | k apply -f - >/dev/null

start_controller -a "$work/ctl.log" --health-period 1 --health-timeout 1 --failure-threshold 2 \
	--leader-elect=false --log-level debug
ready() { [ "$(k -n $FNS get kubefedcluster "$1" -o jsonpath='{.status.connectivityStatus}' 2>/dev/null)" = Connected ]; }
facts() { [ -n "$(k -n $FNS get kubefedcluster "$1" -o jsonpath='{.status.kubernetesVersion}' 2>/dev/null)" ]; }
wait_until 30 ready member1 && wait_until 30 ready member2 && wait_until 20 facts member1 ||
	{ bad "members not Ready"; cat "$work/ctl.log"; exit 1; }
wait_until 30 grep -q "type configmaps: propagating" "$work/ctl.log" || { bad "types not started"; exit 1; }

# a FederatedConfigMap placed on member1 only
k create ns $NS >/dev/null
km member1 create ns $NS >/dev/null
k apply -f - >/dev/null <<EOF2
apiVersion: types.kubefed.io/v1beta1
kind: FederatedNamespace
metadata: {name: $NS, namespace: $NS}
spec:
  placement:
    clusters: [{name: member1}]
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: cfg, namespace: $NS}
spec:
  template: {data: {a: "1"}}
  placement:
    clusters: [{name: member1}]
EOF2
placed() { [ "$(k -n $NS get federatedconfigmap cfg -o jsonpath='{.status.clusters[?(@.name=="member1")].name}' 2>/dev/null)" = member1 ] &&
	km member1 -n $NS get cm cfg >/dev/null 2>&1; }
wait_until 20 placed || bad "cfg not placed: $(k -n $NS get federatedconfigmap cfg -o jsonpath='{.status}')"

# ---- fedctl list -------------------------------------------------------------
run list
hdr=$(sed -n 1p <<<"$out")
if [ $rc = 0 ] && [[ $hdr =~ ^NAME\ +MODE\ +STATUS\ +READY\ +VERSION\ +NODES\ +AGE\ +LAST-SEEN\ +CONNECT$ ]] &&
	grep -Eq '^member1 +direct +Connected +True +v[0-9][^ ]* +[0-9]+ +[0-9]+[smhd][0-9smhd]* +[0-9]+[smh]' <<<"$out" &&
	grep -Eq '^member2 +direct +Connected +True ' <<<"$out" && [ "$(wc -l <<<"$out")" = 3 ]; then
	ok "list: $(sed -n 2p <<<"$out" | tr -s ' ')"
else
	bad "list: rc=$rc $out $err"
fi
# columns 3 spaces apart, aligned with the header
col=$(awk 'NR==1 { print index($0, "STATUS") } ' <<<"$out")
if [ "$(awk -v c="$col" 'NR>1 { print substr($0, c, 9) }' <<<"$out" | sort -u)" = Connected ] &&
	[[ $hdr == "NAME      MODE     STATUS"* ]]; then
	ok "list: kubectl column layout"
else
	bad "list layout: $out"
fi
run list -o wide
if [ $rc = 0 ] && [[ $(sed -n 1p <<<"$out") =~ LAST-SEEN\ +CONNECT\ +ADDRESS\ +DISTRIBUTION\ +INFRASTRUCTURE$ ]] &&
	grep -q "^member1 .*$(srv member1) " <<<"$out"; then
	ok "list -o wide: address $(srv member1), $(awk 'NR==2 { print $(NF-1), $NF }' <<<"$out")"
else
	bad "list -o wide: rc=$rc $out $err"
fi
run list -o json
if [ $rc = 0 ] && [ "$(jq -r '.kind + " " + (.items | length | tostring) + " " + ([.items[].kind] | unique | join(","))' <<<"$out")" = "List 2 KubeFedCluster" ] &&
	[ "$(jq -r '.items[0].metadata.name' <<<"$out")" = member1 ]; then
	ok "list -o json: a List of 2 KubeFedClusters"
else
	bad "list -o json: rc=$rc $(head -c 300 <<<"$out") $err"
fi
run list -o yaml
if [ $rc = 0 ] && [ "$(python3 -c 'import sys, yaml; d = yaml.safe_load(sys.stdin); print(d["kind"], len(d["items"]), d["items"][1]["metadata"]["name"], d["items"][0]["status"]["connectivityStatus"])' <<<"$out" 2>&1)" = "List 2 member2 Connected" ]; then
	ok "list -o yaml: parses, a List of 2"
elif [ $rc = 0 ] && [ "$(grep -c '^  kind: KubeFedCluster$' <<<"$out")" = 2 ] && grep -q '^kind: List$' <<<"$out"; then
	ok "list -o yaml: a List of 2 (no PyYAML to parse it)"
else
	bad "list -o yaml: rc=$rc $(head -20 <<<"$out") $err"
fi
run list -o name
if [ $rc = 0 ] && [ "$out" = $'kubefedcluster/member1\nkubefedcluster/member2' ]; then
	ok "list -o name"
else
	bad "list -o name: rc=$rc $out $err"
fi

# ---- fedctl describe ---------------------------------------------------------
run describe member1
missing=
for s in "Name: *member1" "Mode: *direct" "Status: *Connected" "Chosen Address: *$(srv member1)" \
	"Matched Client CIDR: *127.0.0.0/8" "Server Addresses:" "CLIENT CIDR *SERVER ADDRESS *CHOSEN" \
	"127.0.0.0/8 *$(srv member1) *\\*" "Conditions:" "Ready *True *ClusterReady" "Offline *False" \
	"Cluster Info:" "Kubernetes Version: *v[0-9]" "Nodes: *[0-9]" "Federated Resources:" \
	"FederatedConfigMap *$NS/cfg *OK" "Events:"; do
	grep -Eq "$s" <<<"$out" || missing+=" [$s]"
done
if [ $rc = 0 ] && [ -z "$missing" ] && ! grep -q "10.0.0.0/8 .*\\*" <<<"$out"; then
	ok "describe member1: every section; $(grep -E "FederatedConfigMap" <<<"$out" | tr -s ' ')"
else
	bad "describe member1: rc=$rc missing$missing"; echo "$out"; echo "$err"
fi
run describe member2
if [ $rc = 0 ] && ! grep -q "$NS/cfg" <<<"$out" && grep -q "^Name: *member2$" <<<"$out"; then
	ok "describe member2: cfg is not placed there"
else
	bad "describe member2: rc=$rc $out"
fi

# ---- errors --------------------------------------------------------------------
run describe nope
if [ $rc = 1 ] && [ "$err" = 'error: cluster "nope" is not joined (fedctl list shows the joined clusters)' ]; then
	ok "describe nope: exit 1, $err"
else
	bad "describe nope: rc=$rc $err"
fi
run list -o jsonpath
if [ $rc = 2 ] && grep -q "^error: --output must be table, wide, json, yaml or name" <<<"$err"; then
	ok "list -o jsonpath: exit 2, $(head -1 <<<"$err")"
else
	bad "bad -o: rc=$rc $err"
fi
run describe
if [ $rc = 2 ]; then ok "describe without a name: exit 2"; else bad "describe without a name: rc=$rc"; fi
rc=0; "$F" list --kubeconfig "$K" --host-cluster-context no-such-ctx >/dev/null 2>"$work/err" || rc=$?
err=$(cat "$work/err")
if [ $rc = 1 ] && grep -q 'no-such-ctx' <<<"$err" && [ "$(wc -l <"$work/err")" = 1 ]; then
	ok "unknown context: exit 1, $err"
else
	bad "unknown context: rc=$rc $err"
fi
for c in list describe; do
	rc=0; "$F" $c --help >"$work/out" 2>&1 || rc=$?
	if [ $rc = 0 ] && grep -q "^Examples:" "$work/out" && grep -q -- "--host-cluster-context" "$work/out"; then
		ok "$c --help: options and examples"
	else
		bad "$c --help: rc=$rc $(cat "$work/out")"
	fi
done

# ---- bench: 100 registered clusters -------------------------------------------
kill -9 "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true; cpid=
N=100
{
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubefed-config, namespace: kube-system}\ndata:\n  kubefed.yaml: |\n'
	printf '    apiVersion: federation/v1beta1\n    kind: Federation\n    spec:\n      clusters:\n'
	for i in $(seq -w 1 $N); do
		printf '      - clusterName: bench-%s\n        serverAddressByClientCIDRs:\n' "$i"
		printf '        - {clientCIDR: 0.0.0.0/0, serverAddress: "10.1.0.%d:6443"}\n' "$((10#$i))"
	done
} | k apply -f - >/dev/null
kfcs() { # spec or status documents
	for i in $(seq -w 1 $N); do
		printf -- '---\napiVersion: core.kubefed.io/v1beta1\nkind: KubeFedCluster\nmetadata: {name: bench-%s, namespace: %s}\n' "$i" $FNS
		if [ "$1" = spec ]; then
			printf 'spec: {apiEndpoint: "https://10.1.0.%d:6443", mode: direct}\n' "$((10#$i))"
		else
			printf 'status:\n  connectivityStatus: Connected\n  kubernetesVersion: v1.36.3\n  totalNodeCount: 3\n  totalCoreCount: 12\n'
			printf '  distribution: generic\n  infrastructure: generic\n  serverAddress: "https://10.1.0.%d:6443"\n  matchedClientCIDR: 0.0.0.0/0\n' "$((10#$i))"
			printf '  lastConnectivityTime: "%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
			printf '  conditions:\n  - {type: Ready, status: "True", reason: ClusterReady, message: ok, lastProbeTime: "%s"}\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
			printf '  - {type: Offline, status: "False", reason: ClusterReachable, message: cluster is reachable, lastProbeTime: "%s"}\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		fi
	done
}
k -n $FNS delete kubefedclusters --all >/dev/null
kfcs spec | k apply --server-side --field-manager fed-e2e -f - >/dev/null
kfcs status | k apply --server-side --field-manager fed-e2e --subresource=status -f - >/dev/null
run list
rows=$(grep -c '^bench-[0-9]* *direct *Connected *True ' <<<"$out" || true)
if [ $rc = 0 ] && [ "$rows" = $N ]; then
	ok "list with $N clusters: $N Connected rows"
else
	bad "list with $N clusters: rc=$rc rows=$rows $err"
fi
# per-run wall times in ms: min, median, mean (the machine's load moves the
# mean; the process start alone is shown for comparison)
bench() { # LABEL CMD...
	local label=$1 t0 t1 _; shift
	"$@" >/dev/null 2>&1 || true
	for _ in $(seq 20); do
		t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000 ))
	done | sort -n | awk -v l="$label" '{ a[NR] = $1; s += $1 }
		END { printf "bench: %s: min %.1f ms, median %.1f ms, mean %.1f ms (%d runs)\n", l, a[1] / 1000, a[int((NR + 1) / 2)] / 1000, s / NR / 1000, NR }'
}
bench "fedctl list, $N clusters" fc list
bench "fedctl list -o wide, $N clusters" fc list -o wide
bench "fedctl list -o json, $N clusters" fc list -o json
bench "process start only (fedctl version --client)" "$F" version --client
echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"

echo "fedctl read: $pass passed, $fail failed"
[ "$fail" = 0 ]
