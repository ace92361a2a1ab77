#!/usr/bin/env bash
# Cluster connect (issue 17) with direct members: kubectl through the
# host's aggregator and fed-controller to a member, as the caller.
# The host's apiserver authenticates alice (a client certificate of the
# host's CA) and authorises clusters/proxy on cm1 only; fed checks the
# front proxy's certificate and impersonates alice on the member, whose
# RBAC decides. Members run kwok fake kubelets: logs -f, exec and
# port-forward go all the way. Starts clusters of its own (host, cm1, cm2).
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
"$FED_LOCAL_CLUSTERS" up --state-dir "$S" --workloads --nodes 1 cm1 cm2 >/dev/null
echo "clusters up in $(since "$t0")s"

# ---- the address the aggregator dials ------------------------------------------------
connect_addr_up "$NETNS" "$VR" "$VP"
IP=$CONNECT_IP
port=$(free_port_on "$IP")

fed_install_local
fed_reset
fed_federate cm1 cm2
connect_register "$IP" "$port"
start_controller "$S/ctl.log" --leader-elect=false --health-period 1 --log-level debug \
	--connect-address "$IP:$port" --connect-max-streams-per-user 6 \
	--connect-max-body-bytes 100000
members_connected 60 cm1 cm2 || { bad "members not Ready"; tail "$S/ctl.log"; exit 1; }
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
	for c in cm1 cm2; do connect_context "$S/users" ${u%% *} $c; done
done
# the host: alice may use cm1's proxy, nothing else
k apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: connect-cm1}
rules:
- apiGroups: [$GROUP]
  resources: [clusters/proxy]
  resourceNames: [cm1]
  verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: connect-cm1-alice}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: connect-cm1}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
EOF
# each member: alice may work in namespace team (so only the host stops her on cm2)
for c in cm1 cm2; do
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
wait_until 60 eval '[ "$(km cm1 -n '$NS' get pod p1 -o jsonpath={.status.phase})" = Running ]' ||
	bad "pod p1 not Running in cm1"

# ---- acceptance 1: allowed, refused by the member, refused by the host --------------------------
if ka --context alice@cm1 -n $NS create configmap hello --from-literal=a=1 >/dev/null 2>"$S/err" &&
	[ "$(ka --context alice@cm1 -n $NS get cm hello -o jsonpath='{.data.a}')" = 1 ] &&
	[ "$(km cm1 -n $NS get cm hello -o jsonpath='{.data.a}')" = 1 ] &&
	ka --context alice@cm1 -n $NS delete cm hello >/dev/null 2>>"$S/err" &&
	! km cm1 -n $NS get cm hello >/dev/null 2>&1; then
	ok "alice created, read and deleted a ConfigMap in cm1 through the proxy"
else
	bad "create/get/delete through the proxy: $(cat "$S/err")"
fi
out=$(ka --context alice@cm1 -n kube-system get secrets 2>&1 || true)
[[ $out == *'User "alice" cannot list resource "secrets"'* ]] &&
	ok "cm1's RBAC refused alice what it does not grant her (403 from the member, alice named)" ||
	bad "listing secrets in cm1 as alice: $out"
# --raw: no discovery first (whose refusals kubectl reports otherwise); its
# path is absolute on the host
out=$(ka --context alice@cm1 get --raw "/apis/$GROUP/v1alpha1/clusters/cm2/proxy/api/v1/namespaces/$NS/configmaps" 2>&1 || true)
[[ $out == *'User \"alice\" cannot'*'clusters/proxy'* || $out == *'User "alice" cannot'*'clusters/proxy'* ]] &&
	ok "the host refused alice cm2's proxy (403 from the host): $(head -1 <<<"$out" | cut -c1-160)" ||
	bad "alice on cm2 through the proxy: $out"

# ---- acceptance 2: the member sees the caller, and nothing of the host's rights -------------------
who=$(ka --context alice@cm1 auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}' 2>&1 || true)
[[ $who == 'alice '*devs*system:authenticated* ]] &&
	ok "cm1's SelfSubjectReview through the proxy: $who" || bad "whoami as alice on cm1: $who"
who=$(ka --context mallory@cm1 auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}' 2>&1 || true)
out=$(ka --context mallory@cm1 -n kube-system get secrets 2>&1 || true)
if [[ $who == mallory* && $who != *system:masters* && $out == *'User "mallory" cannot list'* ]]; then
	ok "a host system:masters user is a plain user on cm1 (groups $(cut -d' ' -f2- <<<"$who"); secrets refused)"
else
	bad "mallory on cm1: whoami '$who', secrets: $out"
fi

# ---- streaming: logs -f, exec, port-forward, a watch idle for 60 s -------------------------------
# kubectl itself in the background (not the function ka), so $! is kubectl
kubectl --kubeconfig "$S/users" --context alice@cm1 -n $NS logs -f p1 >"$S/logs.out" 2>&1 &
bg+=($!)
wait_until 20 grep -q "hello from cm1" "$S/logs.out" || true
printf '%s stdout F streamed through fed\n' "2026-01-01T00:00:02.000000000Z" >>"$S/cm1/pod.log"
if wait_until 20 grep -q "streamed through fed" "$S/logs.out"; then
	ok "kubectl logs -f through the proxy streamed a line written after it started"
else
	bad "logs -f: $(cat "$S/logs.out")"
fi
out=$(ka --context alice@cm1 -n $NS exec p1 -- sh -c 'echo exec-through-fed' 2>&1 || true)
[ "$out" = exec-through-fed ] && ok "kubectl exec through the proxy" || bad "exec: $out"
fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
kubectl --kubeconfig "$S/users" --context alice@cm1 -n $NS port-forward pod/p1 "$fport:80" >"$S/pf.out" 2>&1 &
bg+=($!)
wait_until 20 grep -q Forwarding "$S/pf.out" || true
out=$(curl -sk --max-time 5 "https://127.0.0.1:$fport/healthz" || true)
[ "$out" = ok ] && ok "kubectl port-forward through the proxy (kwok's /healthz answered 'ok' at the pod's port)" ||
	bad "port-forward: '$out' $(cat "$S/pf.out")"
kubectl --kubeconfig "$S/users" --context alice@cm1 -n $NS get cm -w --output-watch-events -o name >"$S/watch.out" 2>&1 &
wpid=$!
bg+=("$wpid")
sleep 65
km cm1 -n $NS create cm after-idle >/dev/null
if wait_until 10 grep -q after-idle "$S/watch.out"; then
	ok "a watch idle for 65 s through the proxy saw the next change"
else
	bad "watch after 65 s idle: $(cat "$S/watch.out")"
fi

# ---- limits ------------------------------------------------------------------------------------------
# alice holds logs -f, port-forward's stream and the watch (3 of 6); three more
for _ in 1 2 3; do
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
[ "$proxied" -ge 20 ] && [ "$callers" -le 2 ] && [ "$members" -le 2 ] &&
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
