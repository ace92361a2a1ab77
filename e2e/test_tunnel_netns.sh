#!/usr/bin/env bash
# Agent mode where the host truly cannot reach the member: the member's
# apiserver (and etcd) and its fed-agent run in a network namespace joined
# to the host by one veth pair in 198.18.0.0/15; the member's apiserver
# listens on the namespace's own loopback. The host's services listen on
# 127.0.0.1, so from the namespace only what binds the veth address - the
# tunnel listener - is reachable (no firewall rules: neither iptables nor
# nft is installed here). fedctl join --mode agent (agent.yaml created in the
# member), Ready, propagation, scale, delete; cut the link
# (veth down) -> Offline within 40 s, restore -> Connected, drift corrected.
# Then the same agent again through a real HTTP CONNECT proxy (tinyproxy on
# the veth address), to a tunnel address only the proxy can reach: Connected
# with the credential kept in the member's Secret, propagation, scale, and
# fedctl delete, after which the host closes the tunnel.
# Needs root (ip netns) and tinyproxy (scripts/setup installs it).
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-netns-$$ C=private
NETNS=fed-tun-$$ VH=ft$$h VM=ft$$m
# a /30 of 198.18.0.0/15 of our own
NET=198.18.$((($$ >> 6) & 255)) BASE=$((($$ & 63) * 4))
HOSTIP=$NET.$((BASE + 1)) MEMBERIP=$NET.$((BASE + 2))
work=$(mktemp -d)
MSTATE=$work/clusters
pass=0 fail=0 cpid= apid= ppid_=

. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1 ||
	{ echo "FAIL: this test needs root and ip netns"; exit 1; }
command -v tinyproxy >/dev/null || { echo "FAIL: tinyproxy is not installed (run scripts/setup)"; exit 1; }
inns() { ip netns exec "$NETNS" "$@"; }
kp() { inns kubectl --kubeconfig "$MSTATE/kubeconfig" --context $C "$@"; }
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
status_of() { kfc "$1" '{.status.connectivityStatus}'; }

cleanup() {
	collect_artifacts "$work" || true
	[ -z "$apid" ] || kill -9 "$apid" 2>/dev/null || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	[ -z "$ppid_" ] || kill -9 "$ppid_" 2>/dev/null || true
	"$FED_LOCAL_CLUSTERS" down --state-dir "$MSTATE" >/dev/null 2>&1 || true
	ip netns del "$NETNS" 2>/dev/null || true
	ip link del "$VH" 2>/dev/null || true
	k delete ns $NS --wait=false >/dev/null 2>&1 || true
	fed_unfederate
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-tunnel-netns-controller.log" 2>/dev/null || true
	cp "$work/agent.log" "${TMPDIR:-/tmp}/fed-e2e-tunnel-netns-agent.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# ---- the private data centre ---------------------------------------------------
ip netns add "$NETNS"
ip link add "$VH" type veth peer name "$VM"
ip link set "$VM" netns "$NETNS"
ip addr add "$HOSTIP/30" dev "$VH"
ip link set "$VH" up
inns ip link set lo up
inns ip addr add "$MEMBERIP/30" dev "$VM"
inns ip link set "$VM" up
inns ip route add default via "$HOSTIP"
t0=$(now)
inns "$FED_LOCAL_CLUSTERS" up --state-dir "$MSTATE" $C >/dev/null 2>&1 ||
	{ bad "cannot start a cluster in the namespace"; exit 1; }
ok "member cluster '$C' up inside network namespace $NETNS ($MEMBERIP) in $(since "$t0")s"
MSERVER=$(cat "$MSTATE/$C/server")
if curl -sk --max-time 2 "$MSERVER/version" >/dev/null 2>&1; then
	bad "the host reaches the member's apiserver at $MSERVER"
else
	ok "the host cannot reach the member's apiserver ($MSERVER inside the namespace)"
fi
if inns curl -sk --max-time 2 "$(kubectl --kubeconfig "$K" config view --raw -o jsonpath='{.clusters[?(@.name=="host")].cluster.server}')/version" >/dev/null 2>&1; then
	bad "the namespace reaches the host's apiserver"
else
	ok "the namespace cannot reach the host's apiserver"
fi

# ---- the host --------------------------------------------------------------------
fed_install_local
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }
tport=$(free_port)
start_controller "$work/ctl.log" --health-period 2 --health-timeout 1 --failure-threshold 3 \
	--leader-elect=false --tunnel-address "0.0.0.0:$tport" --tunnel-heartbeat 2 \
	--tunnel-sans "IP:$HOSTIP,IP:127.0.0.1" --log-level debug

# ---- fedctl join --mode agent; agent.yaml created in the private cluster ---------------
fedctl() { "$FED_BIN_DIR/fedctl" --kubeconfig "$K" --host-cluster-context host "$@"; }
t0=$(now)
if fedctl join $C --mode agent --host-address "$HOSTIP:$tport" -o "$work/agent.yaml" >"$work/join.out" 2>&1 &&
	kp create -f "$work/agent.yaml" >/dev/null; then
	ok "fedctl join $C --mode agent wrote agent.yaml; created in the private cluster ($(since "$t0")s)"
else
	bad "join: $(cat "$work/join.out")"; tail -5 "$work/ctl.log"; exit 1
fi
TOKEN=$(kp -n $FNS get secret fed-agent -o jsonpath='{.data.token}' | base64 -d)
# the pod fed-agent would be, run in the namespace: the Deployment's args,
# the Secret's files, the ServiceAccount's own token (agent.yaml's RBAC)
mkdir -p "$work/pod"
kp -n $FNS get secret fed-agent -o jsonpath='{.data.token}' | base64 -d >"$work/pod/token"
kp -n $FNS get secret fed-agent -o jsonpath='{.data.ca\.crt}' | base64 -d >"$work/pod/ca.crt"
kp -n $FNS create token fed-agent --duration=1h >"$work/sa-token"
MCA=$(kubectl --kubeconfig "$MSTATE/kubeconfig" config view --raw -o jsonpath="{.clusters[?(@.name==\"$C\")].cluster.certificate-authority-data}")
tokenfile_kubeconfig "$work/agent-kc" "$MSERVER" "$MCA" "$work/sa-token"
args=()
for a in $(kp -n $FNS get deploy fed-agent -o jsonpath='{.spec.template.spec.containers[0].args[*]}'); do
	args+=("${a//\/etc\/fed-agent/$work/pod}")
done
printf '%s\n' "${args[@]}" >"$work/pod/args"

# ---- the agent dials out -----------------------------------------------------------
t0=$(now)
# ip netns exec execs the agent: $! is the agent itself
FED_WRAP=(ip netns exec "$NETNS") # both agents of this test run in the namespace
POD_NAMESPACE=$FNS start_agent "$work/agent.log" "${args[@]}" \
	--kubeconfig "$work/agent-kc" --heartbeat 2 --max-backoff 4 --log-level debug
apid=$!
if wait_eq 40 Connected status_of $C; then
	ok "agent in the namespace joined: $C Ready/Connected through the tunnel in $(since "$t0")s ($(kfc $C '{.status.kubernetesVersion}'))"
else
	bad "$C not Ready: $(kfc $C '{.status}')"; tail -20 "$work/ctl.log" "$work/agent.log"; exit 1
fi

# ---- propagation and delete ------------------------------------------------------------
k create ns $NS >/dev/null
fed_ns_cm $NS $C cfg 1
cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: gone, namespace: $NS}
spec:
  template: {data: {a: "1"}}
  placement: {clusters: [{name: $C}]}
EOF
cmget() { kp -n $NS get cm "$1" -o jsonpath='{.data.a}' 2>/dev/null || true; }
wait_eq 30 1 cmget cfg && wait_eq 30 1 cmget gone &&
	ok "FederatedConfigMaps propagated into the private cluster" ||
	bad "not propagated: $(k -n $NS get federatedconfigmap cfg -o jsonpath='{.status}')"
k -n $NS delete federatedconfigmap gone --wait=false >/dev/null
cm_absent() { ! kp -n $NS get cm gone >/dev/null 2>&1; }
wait_until 30 cm_absent && ok "deleting the FederatedConfigMap removed the member's copy" ||
	bad "member copy not deleted"

# ---- scale through the tunnel: fedctl scale sets the member's replicas -------------------
cat <<EOF | k apply -f - >/dev/null
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
        spec: {containers: [{name: web, image: nginx}]}
  placement: {clusters: [{name: $C}]}
EOF
reps() { kp -n $NS get deploy web -o jsonpath='{.spec.replicas}' 2>/dev/null || true; }
if wait_eq 30 1 reps; then
	t0=$(now)
	if "$FED_BIN_DIR/fedctl" --kubeconfig "$K" --host-cluster-context host scale $C --replicas=3 -n $NS \
		>"$work/scale.out" 2>&1 && wait_eq 30 3 reps; then
		ok "fedctl scale $C --replicas=3: the private cluster's Deployment at 3 in $(since "$t0")s"
	else
		bad "scale through the tunnel: $(cat "$work/scale.out") replicas $(reps)"
	fi
else
	bad "FederatedDeployment not propagated: $(k -n $NS get federateddeployment web -o jsonpath='{.status}')"
fi

# ---- cut the link, restore it ---------------------------------------------------------
t0=$(now)
cut=$(wc -l <"$work/ctl.log")
ip link set "$VH" down
if wait_eq 40 Offline status_of $C; then
	ok "link cut -> $C Offline in $(since "$t0")s (limit 40 s): $(kfc $C '{.status.conditions[?(@.type=="Ready")].message}')"
else
	bad "not Offline after the cut: $(kfc $C '{.status}')"
fi
# No hung watch: the host declares the tunnel dead (every stream reset) and
# every watch the controller had open on the member ends, long before a
# watch timeout (5-10 min).
since_cut() { tail -n +"$((cut + 1))" "$work/ctl.log"; }
dead() { since_cut | grep -q "\[$C\] tunnel: agent .* disconnected: no heartbeat"; }
watched=$(head -n "$cut" "$work/ctl.log" | sed -n "s/.*\[$C\] watching managed \([^ ]*\).*/\1/p" | sort -u)
open_watches() {
	local w n=0
	for w in $watched; do
		since_cut | grep -qE "\[$C\] (stopped watching $w\$|watch $w ended)" || n=$((n + 1))
	done
	echo $n
}
if [ -n "$watched" ] && wait_until 40 dead && wait_eq 10 0 open_watches; then
	ok "no hung watch: tunnel declared dead $(since "$t0")s after the cut, all $(wc -w <<<"$watched") member watches ended"
else
	bad "after the cut: $(open_watches) of $(wc -w <<<"$watched") watches still open; $(since_cut | grep "\[$C\]" | tail -3)"
fi
kp -n $NS patch cm cfg --type merge -p '{"data":{"a":"drift"}}' >/dev/null
t0=$(now)
ip link set "$VH" up
if wait_eq 60 Connected status_of $C; then
	ok "link restored -> $C Connected again in $(since "$t0")s"
else
	bad "not back: $(kfc $C '{.status}')"; tail -20 "$work/agent.log"
fi
wait_eq 30 1 cmget cfg && ok "drift made during the cut corrected" || bad "drift not corrected: $(cmget cfg)"
kill -0 "$apid" && ok "agent survived the cut (reconnects: $(grep -c 'reconnecting in' "$work/agent.log"))" ||
	bad "agent exited"
# ---- the same through a real HTTP CONNECT proxy ------------------------------------------
pport=$(free_port)
cat >"$work/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port $pport
Listen $HOSTIP
Timeout 600
Allow 198.18.0.0/15
ConnectPort $tport
MaxClients 20
LogLevel Info
EOF
tinyproxy -d -c "$work/tinyproxy.conf" >"$work/tinyproxy.log" 2>&1 &
ppid_=$!
kill -9 "$apid"
wait_eq 30 Offline status_of $C || true
t0=$(now)
# the agent asks for 127.0.0.1:TPORT: inside the namespace that is its own
# loopback, so only the proxy (on the host) can reach it
# (its credential is in the member's Secret now; the token is spent)
HTTPS_PROXY="http://$HOSTIP:$pport" NO_PROXY="localhost,.svc" POD_NAMESPACE=$FNS \
	start_agent "$work/agent-proxy.log" "${args[@]/--host-address=*/--host-address=127.0.0.1:$tport}" \
	--kubeconfig "$work/agent-kc" --heartbeat 2 --max-backoff 4 --log-level debug
apid=$!
if wait_eq 40 Connected status_of $C; then
	ok "agent through tinyproxy: $C Connected again in $(since "$t0")s"
else
	bad "not Connected through the proxy: $(kfc $C '{.status}')"
	tail -5 "$work/agent-proxy.log" "$work/tinyproxy.log"
fi
if grep -q "through the proxy $HOSTIP:$pport" "$work/agent-proxy.log" &&
	grep -q "CONNECT 127.0.0.1:$tport" "$work/tinyproxy.log"; then
	ok "tinyproxy carried the tunnel: $(grep -m1 -o "CONNECT 127.0.0.1:$tport.*" "$work/tinyproxy.log")"
else
	bad "no CONNECT through the proxy: $(tail -3 "$work/tinyproxy.log")"
fi
cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: via-proxy, namespace: $NS}
spec:
  template: {data: {a: "1"}}
  placement: {clusters: [{name: $C}]}
EOF
wait_eq 30 1 cmget via-proxy && ok "propagation through the proxied tunnel" || bad "not propagated via the proxy"

grep -q "with the cluster credential" "$work/agent-proxy.log" &&
	ok "the restarted agent used the credential kept in the member's Secret $FNS/fed-agent-credential" ||
	bad "restarted agent: $(grep -i credential "$work/agent-proxy.log" | tail -2)"
# scale again, through the proxied tunnel
if fedctl scale $C --replicas=2 -n $NS >"$work/scale2.out" 2>&1 && wait_eq 30 2 reps; then
	ok "fedctl scale $C --replicas=2 through the proxied tunnel"
else
	bad "scale via the proxy: $(cat "$work/scale2.out") replicas $(reps)"
fi

# ---- fedctl delete: the cluster leaves; its tunnel is closed; the agent removed -------
CRED=$(kp -n $FNS get secret fed-agent-credential -o jsonpath='{.data.credential}' | base64 -d)
t0=$(now)
if fedctl delete $C >"$work/delete.out" 2>&1 && grep -q "delete -f" "$work/delete.out"; then
	ok "fedctl delete $C: done in $(since "$t0")s, and it says how to remove the agent: $(grep -m1 'delete -f' "$work/delete.out" | sed 's/^ *//')"
else
	bad "delete: $(cat "$work/delete.out")"
fi
kfc_gone() { ! k -n $FNS get kubefedcluster $C >/dev/null 2>&1; }
no_bootstrap() { ! k -n kube-system get secret fed-tunnel -o jsonpath='{.data}' | grep -q bootstrap-; }
wait_until 30 kfc_gone && no_bootstrap && ok "KubeFedCluster gone, no bootstrap token left in fed-tunnel" ||
	bad "after delete: $(kfc $C '{.status}')"
wait_until 30 grep -q "\[$C\] tunnel: .*closing" "$work/ctl.log" && ok "the host closed the agent's tunnel" ||
	bad "tunnel not closed after delete"
kp delete -f "$work/agent.yaml" --wait=false >/dev/null 2>&1 || true
agent_gone() { ! kp -n $FNS get deploy fed-agent >/dev/null 2>&1 && ! kp get clusterrolebinding fed-agent >/dev/null 2>&1; }
wait_until 30 agent_gone && ok "kubectl delete -f agent.yaml removed the agent's objects from the member" ||
	bad "agent objects left: $(kp get clusterrolebinding | grep fed-agent)"

leak=
for s in "$TOKEN" "$(cat "$work/sa-token")" "$CRED"; do
	[ -n "$s" ] || continue
	grep -qF -- "$s" "$work/ctl.log" "$work/agent.log" "$work/agent-proxy.log" \
		"$work/tinyproxy.log" "$work/join.out" "$work/delete.out" && leak=1
done
[ -z "$leak" ] && ok "no token or credential in the logs" || bad "secret in a log"

echo "tunnel-netns: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
