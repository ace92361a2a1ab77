#!/usr/bin/env bash
# Cluster connect (issue 17): kubectl through the host's aggregator and
# fed-controller to a member, as the caller: direct members cm1 and cm2,
# and cm3, a member whose fed-agent runs in a network namespace (it dials
# the host's tunnel, and reaches its apiserver through a relay: the test's
# namespace has no route to 127.0.0.1 of the host).
# The host's apiserver authenticates alice (a client certificate of the
# host's CA) and authorises clusters/proxy on cm1 only; fed checks the
# front proxy's certificate and impersonates alice on the member, whose
# RBAC decides. Members run kwok fake kubelets: logs -f, exec and
# port-forward go all the way. Starts clusters of its own.
#
# The aggregator dials the APIService's Service through its Endpoints
# (--enable-aggregator-routing; there is no kube-proxy), and Endpoints may
# not be loopback: the controller listens on an address of a veth pair the
# test makes (its peer in a network namespace of the test's), torn down at
# the end. Nothing leaves the machine.
set -euo pipefail
: "${FED_BIN_DIR:?run through ctest}" "${FED_LOCAL_CLUSTERS:?}"
export root
root=$(cd "$(dirname "$0")/.." && pwd)
S=$(mktemp -d /tmp/fed-e2e-connect.XXXXXX)
K=$S/kubeconfig FNS=kube-federation-system NS=team
pass=0 fail=0 pids=() bg=()
NETNS=fedconn-$$ VR=fcr$$ VP=fcp$$

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/connect-lib.sh"
GROUP=$CONNECT_GROUP
export WAIT_STEP=0.2
cleanup() {
	local p
	for p in ${bg[@]+"${bg[@]}"} ${pids[@]+"${pids[@]}"}; do kill -9 "$p" 2>/dev/null || true; done
	collect_artifacts "$S" || true
	connect_addr_down "$NETNS" "$VR"
	"$FED_LOCAL_CLUSTERS" down --state-dir "$S" >/dev/null 2>&1 || true
	rm -rf "$S"
}
trap cleanup EXIT

# kubectl as alice (or another user made below) through the proxy
ka() { kubectl --kubeconfig "$S/users" "$@"; }

t0=$(now)
"$FED_LOCAL_CLUSTERS" up --state-dir "$S" host >/dev/null
"$FED_LOCAL_CLUSTERS" up --state-dir "$S" --workloads --nodes 1 cm1 cm2 cm3 >/dev/null
echo "clusters up in $(since "$t0")s"

# ---- the address the aggregator dials ------------------------------------------------
connect_addr_up "$NETNS" "$VR" "$VP"
IP=$CONNECT_IP
port=$(free_port_on "$IP")

fed_install_local
fed_reset
fed_federate cm1 cm2
# cm3 joins in agent mode: its entry added to the Federation, a bootstrap token
work=$S
k -n kube-system get cm kubefed-config -o jsonpath='{.data.kubefed\.yaml}' >"$S/fed.yaml"
printf '  - clusterName: cm3\n    mode: agent\n' >>"$S/fed.yaml"
k -n kube-system create cm kubefed-config --from-file=kubefed.yaml="$S/fed.yaml" --dry-run=client -o yaml |
	k apply -f - >/dev/null
tunnel_token cm3
connect_register "$IP" "$port"
start_controller "$S/ctl.log" --leader-elect=false --health-period 1 --log-level debug \
	--connect-address "$IP:$port" --connect-max-streams-per-user 6 \
	--connect-max-body-bytes 100000 --tunnel-address "$IP:0" --tunnel-sans "IP:$IP" \
	--tunnel-socket-dir "$S/socks"
members_connected 60 cm1 cm2 || { bad "members not Ready"; tail "$S/ctl.log"; exit 1; }

# ---- cm3's agent, in the namespace: its ServiceAccount may work and impersonate -----------
km cm3 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: fed-agent, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: fed-agent-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: fed-agent, namespace: default}]
EOF
km cm3 -n default create token fed-agent --duration=2h >"$S/agent-token"
rport=$(free_port_on "$IP")
python3 "$root/e2e/chaos/relay.py" --listen "$IP:$rport" --target "127.0.0.1:$(srv cm3 | sed 's/.*://')" \
	>"$S/relay.log" 2>&1 &
pids+=($!)
tokenfile_kubeconfig "$S/agent-kc" "https://$IP:$rport" "$(ca_data cm3)" "$S/agent-token"
# the apiserver's certificate names localhost, not the relay's address
sed -i 's|^  cluster: {|  cluster: {tls-server-name: localhost, |' "$S/agent-kc"
wait_until 30 grep -q "serving fed-agents" "$S/ctl.log" || { bad "tunnel not served"; exit 1; }
tport=$(sed -n 's/.*serving fed-agents on .* (port \([0-9]*\)).*/\1/p' "$S/ctl.log" | sed -n 1p)
k -n kube-system get secret fed-tunnel -o jsonpath='{.data.tls\.crt}' | base64 -d >"$S/tunnel-ca.crt"
FED_WRAP=(ip netns exec "$NETNS")
start_agent "$S/agent.log" --host-address "$IP:$tport" --host-ca-file "$S/tunnel-ca.crt" \
	--bootstrap-token-file "$S/token" --credential-file "$S/cred" --kubeconfig "$S/agent-kc" \
	--heartbeat 2 --log-level debug
FED_WRAP=()
members_connected 60 cm3 || { bad "cm3 (agent) not Ready"; tail "$S/ctl.log" "$S/agent.log"; exit 1; }
ok "cm3's agent, in network namespace $NETNS, connected through the tunnel"
if wait_eq 60 True connect_available; then
	ok "APIService v1alpha1.$GROUP Available (the controller wrote its caBundle and answers discovery)"
else
	bad "APIService not Available: $(k get apiservice "v1alpha1.$GROUP" -o jsonpath='{.status.conditions}')"
	tail -20 "$S/ctl.log"
	exit 1
fi
secret_type=$(k -n kube-system get secret fed-connect -o jsonpath='{.type}')
[ "$secret_type" = kubernetes.io/tls ] && ok "serving certificate generated into Secret kube-system/fed-connect" ||
	bad "no fed-connect Secret of type kubernetes.io/tls ($secret_type)"

# ---- users: alice (group devs) and mallory (host system:masters) ---------------------------
for u in "alice /O=devs/CN=alice" "mallory /O=system:masters/CN=mallory"; do
	connect_user "$S/users" ${u%% *} "${u#* }"
	for c in cm1 cm2 cm3; do connect_context "$S/users" ${u%% *} $c; done
done
# the host: alice may use cm1's and cm3's proxies, not cm2's
k apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: connect-cm1}
rules:
- apiGroups: [$GROUP]
  resources: [clusters/proxy]
  resourceNames: [cm1, cm3]
  verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: connect-cm1-alice}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: connect-cm1}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
EOF
# each member: alice may work in namespace team (so only the host stops her on cm2)
for c in cm1 cm2 cm3; do
	km $c create ns $NS >/dev/null
	km $c apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: dev, namespace: $NS}
rules:
- apiGroups: [""]
  resources: [configmaps, pods]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [""]
  resources: [pods/exec, pods/portforward]
  verbs: [get, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev-alice, namespace: $NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: dev}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
EOF
	km $c -n $NS run p1 --image=x --restart=Never >/dev/null
done
for c in cm1 cm3; do
	wait_until 60 eval '[ "$(km '$c' -n '$NS' get pod p1 -o jsonpath={.status.phase})" = Running ]' ||
		bad "pod p1 not Running in $c"
done
connect_status() { k -n $FNS get kubefedcluster "$1" -o jsonpath='{.status.clusterConnect}'; }
wait_eq 30 Available connect_status cm1 && wait_eq 30 Available connect_status cm3 &&
	ok "status.clusterConnect Available for cm1 (direct) and cm3 (agent)" ||
	bad "status.clusterConnect: cm1 $(connect_status cm1), cm3 $(connect_status cm3)"

# ---- per member: acceptance 1 and 2, logs -f, exec, port-forward -------------------------------
member_checks() { # CLUSTER HOW (how it is reached, for the messages)
local c=$1 how=$2 out who fport
# ---- acceptance 1: allowed, refused by the member, refused by the host --------------------------
if ka --context alice@$c -n $NS create configmap hello --from-literal=a=1 >/dev/null 2>"$S/err" &&
	[ "$(ka --context alice@$c -n $NS get cm hello -o jsonpath='{.data.a}')" = 1 ] &&
	[ "$(km $c -n $NS get cm hello -o jsonpath='{.data.a}')" = 1 ] &&
	ka --context alice@$c -n $NS delete cm hello >/dev/null 2>>"$S/err" &&
	! km $c -n $NS get cm hello >/dev/null 2>&1; then
	ok "$how: alice created, read and deleted a ConfigMap in $c through the proxy"
else
	bad "create/get/delete through the proxy: $(cat "$S/err")"
fi
out=$(ka --context alice@$c -n kube-system get secrets 2>&1 || true)
[[ $out == *'User "alice" cannot list resource "secrets"'* ]] &&
	ok "$how: $c's RBAC refused alice what it does not grant her (403 from the member, alice named)" ||
	bad "listing secrets in $c as alice: $out"
# ---- acceptance 2: the member sees the caller, and nothing of the host's rights -------------------
who=$(ka --context alice@$c auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}' 2>&1 || true)
[[ $who == 'alice '*devs*system:authenticated* ]] &&
	ok "$how: $c's SelfSubjectReview through the proxy: $who" || bad "whoami as alice on $c: $who"
who=$(ka --context mallory@$c auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}' 2>&1 || true)
out=$(ka --context mallory@$c -n kube-system get secrets 2>&1 || true)
if [[ $who == mallory* && $who != *system:masters* && $out == *'User "mallory" cannot list'* ]]; then
	ok "$how: a host system:masters user is a plain user on $c (groups $(cut -d' ' -f2- <<<"$who"); secrets refused)"
else
	bad "mallory on $c: whoami '$who', secrets: $out"
fi

# ---- streaming: logs -f, exec, port-forward, a watch idle for 60 s -------------------------------
# kubectl itself in the background (not the function ka), so $! is kubectl
kubectl --kubeconfig "$S/users" --context alice@$c -n $NS logs -f p1 >"$S/logs-$c.out" 2>&1 &
bg+=($!)
wait_until 20 grep -q "hello from $c" "$S/logs-$c.out" || true
printf '%s stdout F streamed through fed\n' "2026-01-01T00:00:02.000000000Z" >>"$S/$c/pod.log"
if wait_until 20 grep -q "streamed through fed" "$S/logs-$c.out"; then
	ok "$how: kubectl logs -f through the proxy streamed a line written after it started"
else
	bad "logs -f: $(cat "$S/logs-$c.out")"
fi
out=$(ka --context alice@$c -n $NS exec p1 -- sh -c 'echo exec-through-fed' 2>&1 || true)
[ "$out" = exec-through-fed ] && ok "$how: kubectl exec through the proxy" || bad "exec: $out"
fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
kubectl --kubeconfig "$S/users" --context alice@$c -n $NS port-forward pod/p1 "$fport:80" >"$S/pf-$c.out" 2>&1 &
bg+=($!)
wait_until 20 grep -q Forwarding "$S/pf-$c.out" || true
out=$(curl -sk --max-time 5 "https://127.0.0.1:$fport/healthz" || true)
[ "$out" = ok ] && ok "$how: kubectl port-forward through the proxy (kwok's /healthz answered 'ok' at the pod's port)" ||
	bad "port-forward: '$out' $(cat "$S/pf-$c.out")"
}
member_checks cm1 "direct member cm1"
member_checks cm3 "agent member cm3"
# --raw: no discovery first (whose refusals kubectl reports otherwise); its
# path is absolute on the host
out=$(ka --context alice@cm1 get --raw "/apis/$GROUP/v1alpha1/clusters/cm2/proxy/api/v1/namespaces/$NS/configmaps" 2>&1 || true)
[[ $out == *'User \"alice\" cannot'*'clusters/proxy'* || $out == *'User "alice" cannot'*'clusters/proxy'* ]] &&
	ok "the host refused alice cm2's proxy (403 from the host): $(head -1 <<<"$out" | cut -c1-160)" ||
	bad "alice on cm2 through the proxy: $out"

for c in cm1 cm3; do
	kubectl --kubeconfig "$S/users" --context alice@$c -n $NS get cm -w --output-watch-events -o name \
		>"$S/watch-$c.out" 2>&1 &
	bg+=($!)
done
sleep 65
for c in cm1 cm3; do
	km $c -n $NS create cm after-idle >/dev/null
	if wait_until 10 grep -q after-idle "$S/watch-$c.out"; then
		ok "a watch of $c idle for 65 s through the proxy saw the next change"
	else
		bad "watch of $c after 65 s idle: $(cat "$S/watch-$c.out")"
	fi
done

# ---- limits ------------------------------------------------------------------------------------------
# alice's streams closed, then six watches: her limit
for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
bg=()
sleep 2
for _ in 1 2 3 4 5 6; do
	kubectl --kubeconfig "$S/users" --context alice@cm1 -n $NS get cm -w -o name >/dev/null 2>&1 &
	bg+=($!)
done
sleep 3
out=$(ka --context alice@cm1 -n $NS get cm 2>&1 || true)
[[ $out == *'connections to members open'* ]] &&
	ok "a 7th concurrent stream of alice answered 429: $(head -1 <<<"$out" | cut -c1-140)" ||
	bad "over --connect-max-streams-per-user: $out"
who=$(ka --context mallory@cm1 auth whoami -o jsonpath='{.status.userInfo.username}' 2>&1 || true)
[ "$who" = mallory ] && ok "another caller is not held back by alice's limit" || bad "mallory while alice is at her limit: $who"
for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
bg=()
wait_until 15 eval '[ "$(ka --context alice@cm1 -n '$NS' get cm after-idle -o name 2>/dev/null)" = configmap/after-idle ]' &&
	ok "alice's streams closed: her requests pass again" || bad "alice still refused after closing her streams"
head -c 150000 /dev/zero | tr '\0' x >"$S/big"
out=$(ka --context alice@cm1 -n $NS create cm big --from-file=a="$S/big" 2>&1 || true)
[[ $out == *'--connect-max-body-bytes'* ]] && ok "a 150 kB body over --connect-max-body-bytes 100000 answered 413" ||
	bad "big body: $(cut -c1-200 <<<"$out")"

# connections kept alive on both sides: 20 requests in a row (each a new
# kubectl, so a new connection to the host) reuse fed's connections
metrics() { curl -s "http://127.0.0.1:$(metrics_port "$S/ctl.log")/metrics"; }
metric() { awk -v k="$1" 'index($0, k) == 1 { s += $2 } END { print s + 0 }' <<<"$2"; }
m0=$(metrics)
for _ in $(seq 20); do ka --context alice@cm1 get --raw "/apis/$GROUP/v1alpha1/clusters/cm1/proxy/api/v1/namespaces/$NS/configmaps" >/dev/null; done
m1=$(metrics)
d() { echo $(($(metric "$1" "$m1") - $(metric "$1" "$m0"))); }
proxied=$(d 'fed_connect_requests_total{cluster="cm1",result="proxied"}')
callers=$(d 'fed_connect_connections_total{side="caller"}')
members=$(d 'fed_connect_connections_total{side="member"}')
# (the aggregator's own discovery checks, which fed answers and closes,
# open connections in the same window: 6 were seen once under load; with
# no keep-alive every request would be one)
[ "$proxied" -ge 20 ] && [ "$callers" -le 8 ] && [ "$members" -le 2 ] &&
	ok "connections kept alive: $proxied requests to cm1 over $callers new connections from the aggregator and $members to the member" ||
	bad "keep-alive: $proxied requests over $callers new caller and $members new member connections"

# ---- only the front proxy gets in ---------------------------------------------------------------
code=$(curl -sk -o "$S/direct.out" -w '%{http_code}' --max-time 5 -H 'X-Remote-User: admin' \
	-H 'X-Remote-Group: system:masters' "https://$IP:$port/apis/$GROUP/v1alpha1/clusters/cm1/proxy/api/v1/namespaces/kube-system/secrets" || true)
[ "$code" = 401 ] && ok "a caller without the front proxy's certificate (X-Remote-User: admin) gets 401" ||
	bad "direct request with X-Remote headers: $code $(cat "$S/direct.out")"
code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 --cert "$S/alice.crt" --key "$S/alice.key" \
	-H 'X-Remote-User: admin' "https://$IP:$port/apis/$GROUP/v1alpha1/clusters/cm1/proxy/api" || true)
[ "$code" = 401 ] && ok "a client certificate of another CA (the host's client CA) gets 401 too" ||
	bad "direct request with alice's certificate: $code"

# ---- a member that is down ---------------------------------------------------------------------------
"$FED_LOCAL_CLUSTERS" stop --state-dir "$S" cm1 >/dev/null
members_offline() { [ "$(k -n $FNS get kubefedcluster cm1 -o jsonpath='{.status.connectivityStatus}')" = Offline ]; }
wait_until 60 members_offline || true
out=$(ka --context alice@cm1 -n $NS get cm 2>&1 || true)
[[ $out == *'cluster cm1 is not ready'* ]] && ok "cm1 down: 503 with the reason: $(head -1 <<<"$out" | cut -c1-160)" ||
	bad "cm1 down: $out"
"$FED_LOCAL_CLUSTERS" start --state-dir "$S" cm1 >/dev/null

grep -q "Bearer\|BEGIN .*PRIVATE" "$S/ctl.log" && bad "a credential in the controller's log" ||
	ok "no credential in the controller's log"
echo "connect: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
