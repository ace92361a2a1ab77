#!/usr/bin/env bash
# fed-controller against real apiservers (host, member1, member2): the
# seed's Federation ConfigMap and a kubeconfig Secret become Ready members;
# health reacts to a stopped member; ConfigMap edits apply within 2 s; bad
# inputs give clear messages and harm no good cluster; a restart converges;
# two replicas fail over within 15 s; manifests/ applies. Prints figures.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system
PERIOD=2 TIMEOUT=1 THRESHOLD=3
work=$(mktemp -d)
pass=0 fail=0 pids=()

. "$(dirname "$0")/lib.sh"
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
cond() { kfc "$1" "{.status.conditions[?(@.type==\"Ready\")].$2}"; }
is_ready() { [ "$(cond "$1" status)" = True ] && [ "$(kfc "$1" '{.status.connectivityStatus}')" = Connected ]; }
has_reason() { [ "$(cond "$1" reason)" = "$2" ]; }
is_status() { [ "$(kfc "$1" '{.status.connectivityStatus}')" = "$2" ]; }
gone() { ! k -n $FNS get kubefedcluster "$1" >/dev/null 2>&1; }
last_event() { # OBJECT-NAME REASON
	k get events -A --field-selector "involvedObject.name=$1,reason=$2" \
		-o jsonpath='{range .items[*]}{.message}{"\n"}{end}' 2>/dev/null | tail -1
}
has_event() { [ -n "$(last_event "$1" "$2")" ]; }

cleanup() {
	local p
	collect_artifacts "$work" || true
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	fed_unfederate
	k -n $FNS delete lease fed-controller --ignore-not-found >/dev/null 2>&1 || true
	km member2 -n default delete sa fed-e2e fed-e2e-revoke --ignore-not-found >/dev/null 2>&1 || true
	"$FED_LOCAL_CLUSTERS" start --state-dir "$FED_E2E_STATE" member1 >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

ctl() { # LOG [ARGS...]: this test's health timings
	start_controller "$1" --health-period $PERIOD --health-timeout $TIMEOUT \
		--failure-threshold $THRESHOLD --log-level debug "${@:2}"
}

# ---- manifests -------------------------------------------------------------
if out=$(k apply -f "$root/manifests/" 2>&1); then
	ok "kubectl apply -f manifests/ accepted ($(echo "$out" | wc -l) objects)"
else
	bad "kubectl apply -f manifests/: $out"
fi
k wait --for condition=established crd/kubefedclusters.core.kubefed.io --timeout=30s >/dev/null
k -n $FNS scale deployment fed-controller --replicas=0 >/dev/null # no kubelet here: the test runs it

# ---- credentials -----------------------------------------------------------
raw() { kubectl --kubeconfig "$K" config view --raw -o jsonpath="$1"; }
server_of() { raw "{.clusters[?(@.name==\"$1\")].cluster.server}"; }
ca_of() { raw "{.clusters[?(@.name==\"$1\")].cluster.certificate-authority-data}"; }
token_kubeconfig() { # CLUSTER-NAME SERVER CA-DATA TOKEN
	cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $1
  cluster:
    server: $2
    certificate-authority-data: $3
users:
- name: fed
  user:
    token: $4
contexts:
- name: $1
  context: {cluster: $1, user: fed}
current-context: $1
EOF
}
M1=$(server_of member1) M2=$(server_of member2) H=$(server_of host)
# member1 with the admin client certificate, member2 with a ServiceAccount
# token (what fedctl join creates), as a user of either would.
kubectl --kubeconfig "$K" config view --raw --minify --flatten --context member1 >"$work/kc1"
km member2 -n default create sa fed-e2e >/dev/null
km member2 create clusterrolebinding fed-e2e --clusterrole=cluster-admin \
	--serviceaccount=default:fed-e2e >/dev/null 2>&1 || true
TOK2=$(km member2 -n default create token fed-e2e --duration=1h)
token_kubeconfig member2 "$M2" "$(ca_of member2)" "$TOK2" >"$work/kc2"
kubectl --kubeconfig "$K" config view --raw --minify --flatten --context host >"$work/kch"

indent() { sed 's/^/    /'; }
# The seed's ConfigMap as written, with the members' real addresses.
federation_yaml() { # "NAME CIDR ADDRESS" ...
	echo "apiVersion: federation/v1beta1"
	echo "kind: Federation"
	echo "metadata:"
	echo "  name: federation"
	echo "spec:"
	echo "  # Add clusters to the federation here."
	echo "  clusters:"
	local e n c a
	for e in "$@"; do
		read -r n c a <<<"$e"
		echo "  - clusterName: $n"
		echo "    serverAddressByClientCIDRs:"
		echo "    - clientCIDR: $c"
		echo "      serverAddress: $a"
	done
}
configmap() { # kubefed.yaml text on stdin
	echo "apiVersion: v1"
	echo "kind: ConfigMap"
	echo "metadata:"
	echo "  name: kubefed-config"
	echo "  namespace: kube-system"
	echo "data:"
	echo "  kubefed.yaml: |"
	indent
}
set_config() { federation_yaml "$@" | configmap | k replace -f - >/dev/null; }
set_config_text() { configmap | k replace -f - >/dev/null; }
secret_yaml() { # KEY=FILE ...
	local kv
	printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: kubefed-kubeconfig\n  namespace: kube-system\nstringData:\n'
	for kv in "$@"; do
		echo "  kubeconfig-${kv%%=*}: |"
		indent <"${kv#*=}"
	done
}

C1="cluster1 0.0.0.0/0 $M1" C2="cluster2 0.0.0.0/0 $M2"

# ---- join: seed ConfigMap + Secret -> Ready ----------------------------------
ctl "$work/c1.log" --leader-elect=false
# informers synced: the create below is an event, not part of the first list
wait_until 20 ctl_ready "$work/c1.log" || { cat "$work/c1.log"; exit 1; }
federation_yaml "$C1" "$C2" | configmap >"$work/cm.yaml"
secret_yaml cluster1="$work/kc1" cluster2="$work/kc2" >"$work/secret.yaml"
t0=$(now)
k create -f "$work/cm.yaml" -f "$work/secret.yaml" >/dev/null
if wait_until 20 is_ready cluster1 && wait_until 20 is_ready cluster2; then
	ok "seed ConfigMap + Secret created -> cluster1 and cluster2 Ready/Connected in $(since "$t0")s"
else
	bad "members not Ready: $(kfc cluster1 '{.status}') $(kfc cluster2 '{.status}')"
	cat "$work/c1.log"; exit 1
fi
wait_set 10 kfc cluster2 '{.status.totalNodeCount}' || true
v1=$(kfc cluster1 '{.status.kubernetesVersion}') n1=$(kfc cluster1 '{.status.totalNodeCount}')
v2=$(kfc cluster2 '{.status.kubernetesVersion}') n2=$(kfc cluster2 '{.status.totalNodeCount}')
nodes=$(km member1 get nodes --no-headers 2>/dev/null | wc -l)
if [ -n "$v1" ] && [ -n "$v2" ] && [ "$n1" = "$nodes" ] && [ -n "$n2" ]; then
	ok "facts: cluster1 $v1 nodes=$n1, cluster2 $v2 nodes=$n2, address $(kfc cluster1 '{.status.serverAddress}')"
else
	bad "facts missing: '$v1' '$n1' '$v2' '$n2' (member1 has $nodes nodes)"
fi
hdr=$(k -n $FNS get kubefedclusters 2>&1 | sed -n 1p || true)
if [[ $hdr =~ NAME\ +READY\ +STATUS\ +VERSION\ +NODES\ +AGE ]]; then
	ok "kubectl get kubefedclusters: $(echo "$hdr" | tr -s ' ')"
else
	bad "kubectl get kubefedclusters columns: $hdr"
fi
port=$(metrics_port "$work/c1.log")
m=$(curl -s "http://127.0.0.1:$port/metrics")
if [ "$(curl -s "http://127.0.0.1:$port/healthz")" = ok ] &&
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] &&
	grep -q '^kubefedcluster_total{state="ready"} 2$' <<<"$m" &&
	grep -q '^cluster_health_status_duration_seconds_count [1-9]' <<<"$m"; then
	ok "/healthz, /readyz, /metrics: $(grep -E '^(kubefedcluster_total|cluster_health_status_duration_seconds_count)' <<<"$m" | tr '\n' ' ')"
else
	bad "operations endpoints: $m"
fi
if grep -qF "${TOK2:20:40}" "$work/c1.log" ||
	grep -q "BEGIN\|client-key-data\|token: ey" "$work/c1.log"; then
	bad "credentials in the log"
else
	ok "no token, key or kubeconfig in the controller's debug log"
fi

# ---- health: stop member1 ----------------------------------------------------
t_ready2=$(cond cluster2 lastTransitionTime)
t0=$(now)
"$FED_LOCAL_CLUSTERS" stop --state-dir "$FED_E2E_STATE" member1 >/dev/null 2>&1
limit=$((PERIOD * THRESHOLD + TIMEOUT))
if wait_until $((limit + 5)) is_status cluster1 Offline; then
	d=$(since "$t0")
	if le "$d" "$limit.9"; then
		ok "member1 stopped -> Offline in ${d}s (limit period*threshold+timeout = ${limit}s): $(cond cluster1 message)"
	else
		bad "member1 Offline only after ${d}s (limit ${limit}s)"
	fi
else
	bad "member1 never Offline: $(kfc cluster1 '{.status}')"
fi
if is_ready cluster2 && [ "$(cond cluster2 lastTransitionTime)" = "$t_ready2" ]; then
	ok "cluster2 untouched while member1 is down"
else
	bad "cluster2 disturbed: $(kfc cluster2 '{.status}')"
fi
"$FED_LOCAL_CLUSTERS" start --state-dir "$FED_E2E_STATE" member1 >/dev/null 2>&1
t0=$(now)
if wait_until $((PERIOD + 5)) is_ready cluster1; then
	d=$(since "$t0")
	if le "$d" "$PERIOD.5"; then ok "member1 back -> Ready in ${d}s (period ${PERIOD}s)"; else bad "member1 Ready after ${d}s (period ${PERIOD}s)"; fi
else
	bad "member1 not Ready again: $(kfc cluster1 '{.status}')"
fi

# ---- hot reload --------------------------------------------------------------
secret_yaml cluster1="$work/kc1" cluster2="$work/kc2" cluster3="$work/kch" | k replace -f - >/dev/null
t0=$(now)
set_config "$C1" "$C2" "cluster3 0.0.0.0/0 $H"
if wait_until 5 is_ready cluster3; then
	d=$(since "$t0"); le "$d" 2 && ok "third member (the host itself) added -> Ready in ${d}s" || bad "cluster3 Ready after ${d}s (> 2s)"
else
	bad "cluster3 not Ready: $(kfc cluster3 '{.status}')"
fi
t0=$(now)
set_config "cluster1 10.255.0.0/16 $M1" "$C2" "cluster3 0.0.0.0/0 $H"
if wait_until 5 has_reason cluster1 NoMatchingClientCIDR; then
	d=$(since "$t0"); le "$d" 2 && ok "cluster1 CIDR changed to 10.255.0.0/16 -> NoMatchingClientCIDR in ${d}s: $(cond cluster1 message)" || bad "CIDR change took ${d}s"
else
	bad "CIDR change not applied: $(kfc cluster1 '{.status}')"
fi
t0=$(now)
set_config "cluster1 127.0.0.0/8 $M1" "$C2" "cluster3 0.0.0.0/0 $H"
if wait_until 5 is_ready cluster1; then
	d=$(since "$t0"); le "$d" 2 && ok "cluster1 CIDR changed to 127.0.0.0/8 -> Ready in ${d}s, matched $(kfc cluster1 '{.status.matchedClientCIDR}')" || bad "CIDR change took ${d}s"
else
	bad "cluster1 not Ready on 127.0.0.0/8: $(kfc cluster1 '{.status}')"
fi
t0=$(now)
set_config "cluster1 127.0.0.0/8 $M1" "$C2"
if wait_until 5 gone cluster3; then
	d=$(since "$t0"); le "$d" 2 && ok "cluster3 removed -> KubeFedCluster deleted in ${d}s" || bad "removal took ${d}s"
else
	bad "cluster3 KubeFedCluster still there"
fi

# ---- bad inputs --------------------------------------------------------------
good_ok() { # the controller is up and the good clusters stayed Ready
	if kill -0 "$cpid" 2>/dev/null && is_ready cluster1 && is_ready cluster2; then
		ok "$1: controller up, cluster1 and cluster2 still Ready"
	else
		bad "$1: controller or good clusters disturbed"
	fi
}
GOOD=("cluster1 127.0.0.0/8 $M1" "$C2")
printf 'apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  clusters:\n  - clusterName: cluster1\n   serverAddressByClientCIDRs: []\n' | set_config_text
if wait_until 5 has_event kubefed-config InvalidConfig; then
	ok "malformed YAML -> event on the ConfigMap: $(last_event kubefed-config InvalidConfig)"
else
	bad "no InvalidConfig event for malformed YAML"
fi
good_ok "malformed YAML"
set_config "${GOOD[@]}" "Cluster_3 0.0.0.0/0 $H"
if wait_until 5 has_event kubefed-config InvalidClusterEntry; then
	ok "bad name -> $(last_event kubefed-config InvalidClusterEntry)"
else
	bad "no event for a bad cluster name"
fi
good_ok "bad name"
set_config "${GOOD[@]}" "cluster3 10.0.0.0/33 $H"
if wait_until 5 has_reason cluster3 InvalidConfig; then
	ok "bad CIDR -> cluster3 InvalidConfig: $(cond cluster3 message)"
else
	bad "bad CIDR not reported: $(kfc cluster3 '{.status}')"
fi
good_ok "bad CIDR"
set_config "${GOOD[@]}" "cluster4 0.0.0.0/0 $H"
if wait_until 5 has_reason cluster4 MissingKubeconfig; then
	ok "missing kubeconfig key -> cluster4 MissingKubeconfig: $(cond cluster4 message)"
else
	bad "missing key not reported: $(kfc cluster4 '{.status}')"
fi
good_ok "missing kubeconfig key"
# The seed's Secret puts plain YAML under data:. The apiserver itself refuses
# it (data must be base64), so kubectl is where the user sees the message.
{ printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: kubefed-kubeconfig-seed\n  namespace: kube-system\ndata:\n  kubeconfig-cluster4: |\n'; indent <"$work/kc1"; } >"$work/seed-secret.yaml"
if out=$(k create -f "$work/seed-secret.yaml" 2>&1); then
	bad "plain-YAML data: accepted by the apiserver?"
else
	ok "plain-YAML data: -> kubectl: $(echo "$out" | head -1 | cut -c1-200)"
fi
# The same mistake with data that does decode (base64 of something that is
# not a kubeconfig) reaches the controller, which points at stringData.
k -n kube-system patch secret kubefed-kubeconfig --type merge \
	-p "{\"data\":{\"kubeconfig-cluster4\":\"$(printf 'bm90IGEga3ViZWNvbmZpZw==')\"}}" >/dev/null
if wait_until 5 has_reason cluster4 InvalidKubeconfig; then
	ok "undecodable kubeconfig -> cluster4 InvalidKubeconfig: $(cond cluster4 message)"
else
	bad "junk kubeconfig not reported: $(kfc cluster4 '{.status}')"
fi
good_ok "plain-YAML / junk kubeconfig"
# wrong CA: a CA that did not sign member1's serving certificate
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=wrong-ca -keyout "$work/wrong.key" -out "$work/wrong.crt" >/dev/null 2>&1
sed "s|certificate-authority-data: .*|certificate-authority-data: $(base64 -w0 "$work/wrong.crt")|" "$work/kc1" >"$work/kc-wrongca"
# revoked token: a ServiceAccount token whose account is then deleted
km member2 -n default create sa fed-e2e-revoke >/dev/null
token_kubeconfig member2 "$M2" "$(ca_of member2)" "$(km member2 -n default create token fed-e2e-revoke --duration=1h)" >"$work/kc-revoke"
secret_yaml cluster1="$work/kc1" cluster2="$work/kc2" cluster5="$work/kc-wrongca" cluster6="$work/kc-revoke" | k replace -f - >/dev/null
set_config "${GOOD[@]}" "cluster5 0.0.0.0/0 $M1" "cluster6 0.0.0.0/0 $M2"
if wait_until 15 has_reason cluster5 ClusterTLSError; then
	ok "wrong CA -> cluster5 $(kfc cluster5 '{.status.connectivityStatus}') ClusterTLSError: $(cond cluster5 message)"
else
	bad "wrong CA not reported: $(kfc cluster5 '{.status}')"
fi
if wait_until 10 is_ready cluster6; then
	km member2 -n default delete sa fed-e2e-revoke >/dev/null
	t0=$(now)
	if wait_until 15 is_status cluster6 Expired; then
		ok "revoked token -> cluster6 Expired in $(since "$t0")s: $(cond cluster6 reason): $(cond cluster6 message)"
	else
		bad "revoked token not reported: $(kfc cluster6 '{.status}')"
	fi
else
	bad "cluster6 never Ready before revocation: $(kfc cluster6 '{.status}')"
fi
good_ok "wrong CA and revoked token"

# ---- restart converges -------------------------------------------------------
# Stop hard, change the config while down (cluster4..6 leave), start again:
# their KubeFedClusters go, nothing is duplicated, the rest stay Ready.
kill -9 "$cpid"; wait "$cpid" 2>/dev/null || true
set_config "${GOOD[@]}"
t0=$(now)
ctl "$work/c2.log" --leader-elect=false
if wait_until 15 gone cluster4 && wait_until 5 gone cluster5 && wait_until 5 gone cluster6 &&
	wait_until 10 is_ready cluster1 && wait_until 10 is_ready cluster2; then
	n=$(k -n $FNS get kubefedclusters --no-headers | wc -l)
	[ "$n" = 2 ] && ok "restart after kill -9 with the config changed meanwhile -> converged in $(since "$t0")s, $n KubeFedClusters" || bad "after restart $n KubeFedClusters"
else
	bad "no convergence after restart: $(k -n $FNS get kubefedclusters 2>&1)"
fi
kill -TERM "$cpid"; wait "$cpid" 2>/dev/null || true

# ---- two replicas, leader election (default Lease timings) -------------------
POD_NAME=replica-a ctl "$work/a.log"; pa=$cpid
wait_until 30 grep -q "leading" "$work/a.log" || bad "replica-a never leads"
POD_NAME=replica-b ctl "$work/b.log"; pb=$cpid
sleep 3 # an absence: replica-b must not lead during these 3 s
if grep -q "leading (Lease" "$work/b.log"; then
	bad "replica-b leads while replica-a does"
else
	ok "two replicas: replica-a leads, replica-b stands by ($(grep -c 'connecting to' "$work/b.log" || true) member connections in the standby)"
fi
t0=$(now)
kill -9 "$pa"
if wait_until 20 grep -q "leading (Lease" "$work/b.log"; then
	d=$(since "$t0")
	le "$d" 15 && ok "leader killed -> standby leads in ${d}s" || bad "standby took ${d}s (> 15s)"
else
	bad "standby never took over"; cat "$work/b.log"
fi
if wait_until 10 is_ready cluster1 && is_ready cluster2; then
	ok "new leader keeps cluster1 and cluster2 Ready"
else
	bad "after failover: $(k -n $FNS get kubefedclusters 2>&1)"
fi
t0=$(now)
kill -TERM "$pb"
if wait "$pb"; then
	ok "SIGTERM: the leader released its Lease and exited 0 in $(since "$t0")s"
else
	bad "leader exit status $? on SIGTERM"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
