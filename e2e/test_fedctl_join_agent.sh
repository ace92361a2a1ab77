#!/usr/bin/env bash
# fedctl join NAME --mode agent on the fixture clusters: host + member2 as the
# agent member. fed-controller serves the tunnel on loopback; the test is the
# cloud load balancer of Service fed-tunnel (it patches the status); join
# writes agent.yaml, which is created in member2. Its Deployment's pod never
# runs (no kubelet), so the test runs the real fed-agent as that pod would:
# args from the member's Deployment, token and CA from the member's Secret,
# and the fed-agent ServiceAccount's own token (so the RBAC of agent.yaml is
# what is exercised). Then: Connecting -> Ready, propagation, scale, delete
# with the agent removal hint, idempotent re-join, the proxyPublishAddress
# branch and the error with no address, --rbac minimal, no token in any
# output or log, agent.yaml mode 0600.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG F=$FED_BIN_DIR/fedctl
FNS=kube-federation-system NS=fed-e2e-jagent-$$ ANS=fed-e2e-agent-$$ C=edge
work=$(mktemp -d)
pass=0 fail=0 cpid= apid=

. "$(dirname "$0")/lib.sh"
fedctl() { "$F" --kubeconfig "$K" --host-cluster-context host "$@"; }
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
list_status() { fedctl list 2>/dev/null | awk -v c="$1" '$1 == c { print $2 "/" $3 }'; }
tokens_of() { # CLUSTER: how many bootstrap-* entries name it
	k -n kube-system get secret fed-tunnel -o json |
		jq -r '.data | to_entries[] | select(.key | startswith("bootstrap-")) | .value | @base64d' |
		awk -v c="$1" '$1 == c' | wc -l
}

stop_agent() { [ -z "$apid" ] || { kill "$apid" 2>/dev/null; wait "$apid" 2>/dev/null; } || true; apid=; }
remove_agent() { # what kubectl delete -f agent.yaml does, without waiting for the namespace
	km member2 delete clusterrolebinding fed-agent --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete clusterrole fed-agent --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete clusterrole,validatingadmissionpolicy,validatingadmissionpolicybinding fed-member-secrets --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete ns "$1" --wait=false --ignore-not-found >/dev/null 2>&1 || true
}
cleanup() {
	collect_artifacts "$work" || true
	stop_agent
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	for c in host member2; do km $c delete ns $NS $NS-2 --wait=false >/dev/null 2>&1 || true; done
	remove_agent $ANS
	remove_agent $ANS-min
	fed_unfederate
	k -n $FNS delete svc fed-tunnel --ignore-not-found >/dev/null 2>&1 || true
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-join-agent-controller.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

remove_agent $ANS # a fed-agent ClusterRole(Binding) left by an earlier run
fed_reset
fed_install_local

# ---- no tunnel certificate yet: one message naming --tunnel-address -----------
k -n kube-system create secret generic fed-tunnel >/dev/null
t0=$(now)
if out=$(cd "$work" && fedctl join $C --mode agent -o "$work/none.yaml" 2>&1); then
	bad "join without a tunnel certificate succeeded: $out"
elif grep -q -- "--tunnel-address" <<<"$out" && [ ! -e "$work/none.yaml" ]; then
	ok "no certificate: refused after $(since "$t0")s, naming --tunnel-address, no file left"
else
	bad "no certificate: $out"
fi
k -n kube-system delete secret fed-tunnel >/dev/null

# ---- the controller serves the tunnel; the test is the load balancer ----------
start_controller "$work/ctl.log" --health-period 1 --health-timeout 1 --failure-threshold 3 \
	--leader-elect=false --tunnel-address 127.0.0.1:0 --tunnel-heartbeat 1 --log-level debug
wait_until 30 grep -q "serving fed-agents" "$work/ctl.log" || { bad "tunnel not served"; cat "$work/ctl.log"; exit 1; }
tport=$(sed -n 's/.*serving fed-agents on .* (port \([0-9]*\)).*/\1/p' "$work/ctl.log" | sed -n 1p)
wait_set 20 k -n kube-system get secret fed-tunnel -o jsonpath='{.data.tls\.crt}' ||
	{ bad "no tls.crt in fed-tunnel"; exit 1; }

# the Service without a load balancer address, no proxyPublishAddress: one error
k apply -f "$root/manifests/04-tunnel-service.yaml" >/dev/null
if out=$(fedctl join $C --mode agent -o "$work/x.yaml" 2>&1); then
	bad "join without any address succeeded: $out"
elif grep -q -- "--host-address" <<<"$out" && grep -q "proxyPublishAddress" <<<"$out" &&
	grep -q "load balancer" <<<"$out" && [ "$(grep -c . <<<"$out")" = 1 ]; then
	ok "no address: one error naming --host-address, the load balancer and proxyPublishAddress"
else
	bad "no address: $out"
fi
k get cm -n kube-system kubefed-config >/dev/null 2>&1 && bad "the failed join registered the cluster" ||
	ok "the failed join changed nothing on the host"

# proxyPublishAddress: an address the certificate lacks -> --host-server-name
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubefed-config, namespace: kube-system}\ndata:\n  kubefed.yaml: |\n    apiVersion: federation/v1beta1\n    kind: Federation\n    spec:\n      tunnel: {proxyPublishAddress: "tunnel.example.net:9443"}\n      clusters: []\n' |
	k apply -f - >/dev/null
if out=$(fedctl join pub --mode agent -o "$work/pub.yaml" 2>&1) &&
	grep -q -- "--host-address=tunnel.example.net:9443" "$work/pub.yaml" &&
	grep -q -- "--host-server-name=fed-tunnel" "$work/pub.yaml"; then
	ok "proxyPublishAddress used when the Service has no load balancer; host name not in the cert -> --host-server-name=fed-tunnel"
else
	bad "proxyPublishAddress: $out $(grep -- --host "$work/pub.yaml" 2>/dev/null)"
fi
# -o -: the YAML alone on stdout (kubectl reads it), the steps on stderr
if fedctl join pub --mode agent -o - 2>"$work/stdout-join.out" >"$work/stdout.yaml" &&
	[ "$(km member2 create --dry-run=client -o name -f "$work/stdout.yaml" | wc -l)" = 11 ] &&
	grep -q "next: kubectl" "$work/stdout-join.out" && ! grep -q "next:" "$work/stdout.yaml"; then
	ok "-o -: agent.yaml on stdout (11 objects for kubectl, fed-member-secrets and its policy included), the steps on stderr"
else
	bad "-o -: $(cat "$work/stdout-join.out")"
fi
[ "$(tokens_of pub)" = 1 ] && ok "re-join of pub replaced its unused token (one left)" || bad "pub tokens: $(tokens_of pub)"
out=$(fedctl delete pub 2>&1) || bad "delete pub: $out"
[ "$(tokens_of pub)" = 0 ] && ok "delete of an agent member removed its unused token" || bad "token of pub left"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubefed-config, namespace: kube-system}\ndata:\n  kubefed.yaml: |\n    apiVersion: federation/v1beta1\n    kind: Federation\n    spec:\n      tunnel: {proxyPublishAddress: "https://x:1"}\n      clusters: []\n' |
	k apply -f - >/dev/null
out=$(fedctl join pub --mode agent -o "$work/pub.yaml" 2>&1) && bad "bad proxyPublishAddress accepted" ||
	{ grep -q "kubefed.yaml:4:[0-9]*: spec.tunnel.proxyPublishAddress: must be HOST:PORT" <<<"$out" &&
		ok "bad proxyPublishAddress refused with its line: $(sed -n 1p <<<"$out" | cut -c1-150)" ||
		bad "bad proxyPublishAddress: $out"; }
k -n kube-system delete cm kubefed-config >/dev/null

# the cloud load balancer: ingress 127.0.0.1, the Service's port = the tunnel port
k -n $FNS patch svc fed-tunnel --type json \
	-p "[{\"op\":\"replace\",\"path\":\"/spec/ports/0/port\",\"value\":$tport}]" >/dev/null
k -n $FNS patch svc fed-tunnel --subresource=status --type merge \
	-p '{"status":{"loadBalancer":{"ingress":[{"ip":"127.0.0.1"}]}}}' >/dev/null

# ---- join --------------------------------------------------------------------
fedctl join $C --mode agent --agent-namespace $ANS -o "$work/agent.yaml" >"$work/join.out" 2>&1 ||
	{ bad "join: $(cat "$work/join.out")"; exit 1; }
cat "$work/join.out"
grep -q -- "--host-address=127.0.0.1:$tport" "$work/agent.yaml" &&
	ok "agent.yaml dials the Service's load balancer address 127.0.0.1:$tport" ||
	bad "address: $(grep -- --host "$work/agent.yaml")"
! grep -q -- "--host-server-name" "$work/agent.yaml" && ok "127.0.0.1 is in the certificate: no --host-server-name" ||
	bad "unneeded --host-server-name"
[ "$(stat -c %a "$work/agent.yaml")" = 600 ] && ok "agent.yaml is mode 0600" ||
	bad "agent.yaml mode $(stat -c %a "$work/agent.yaml")"
grep -q "kubectl --context <member> create -f" "$work/join.out" && ok "join says what to do next" ||
	bad "no next step"
[ "$(kfc $C '{.spec.mode}')" = agent ] || wait_eq 10 agent kfc $C '{.spec.mode}' || true
[ "$(tokens_of $C)" = 1 ] && ok "one bootstrap token for $C in secret fed-tunnel" || bad "tokens: $(tokens_of $C)"

# re-join: a new token replaces the unused one; the entry is unchanged
cp "$work/agent.yaml" "$work/agent-1.yaml"
fedctl join $C --mode agent --agent-namespace $ANS -o "$work/agent.yaml" >"$work/join2.out" 2>&1 ||
	bad "re-join: $(cat "$work/join2.out")"
if [ "$(tokens_of $C)" = 1 ] && ! cmp -s "$work/agent.yaml" "$work/agent-1.yaml" &&
	grep -q "unchanged" "$work/join2.out" &&
	[ "$(k -n kube-system get cm kubefed-config -o jsonpath='{.data.kubefed\.yaml}' | grep -c "clusterName: $C")" = 1 ]; then
	ok "re-join is idempotent: still one entry and one token (the new one)"
else
	bad "re-join: tokens $(tokens_of $C): $(cat "$work/join2.out")"
fi
# a direct member's name is refused (an entry with a server address)
k -n kube-system get cm kubefed-config -o jsonpath='{.data.kubefed\.yaml}' >"$work/fed.yaml"
printf 'apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  clusters:\n  - {clusterName: %s, mode: agent}\n  - clusterName: direct1\n    serverAddressByClientCIDRs: [{clientCIDR: 0.0.0.0/0, serverAddress: "https://127.0.0.1:1"}]\n' $C >"$work/fed2.yaml"
k -n kube-system create cm kubefed-config --from-file=kubefed.yaml="$work/fed2.yaml" --dry-run=client -o yaml | k apply -f - >/dev/null 2>&1
if out=$(fedctl join direct1 --mode agent -o "$work/d1.yaml" 2>&1); then
	bad "joining direct member direct1 in agent mode succeeded"
else
	grep -q "direct member" <<<"$out" && [ ! -e "$work/d1.yaml" ] && ok "a direct member's name is refused: $out" || bad "direct: $out"
fi
k -n kube-system create cm kubefed-config --from-file=kubefed.yaml="$work/fed.yaml" --dry-run=client -o yaml | k apply -f - >/dev/null 2>&1
[ "$(tokens_of $C)" = 1 ] || bad "tokens after the direct check: $(tokens_of $C)"

# ---- the member: create agent.yaml, then run fed-agent as its pod would -------
if out=$(km member2 create -f "$work/agent.yaml" 2>&1); then
	ok "kubectl --context member2 create -f agent.yaml"
else
	bad "create agent.yaml: $out"; exit 1
fi
run_agent() { # NAMESPACE LOG
	local ns=$1 d="$work/pod-$1" a args=()
	mkdir -p "$d"
	km member2 -n "$ns" get secret fed-agent -o jsonpath='{.data.token}' | base64 -d >"$d/token"
	km member2 -n "$ns" get secret fed-agent -o jsonpath='{.data.ca\.crt}' | base64 -d >"$d/ca.crt"
	km member2 -n "$ns" create token fed-agent --duration=1h >"$d/sa-token"
	tokenfile_kubeconfig "$d/kc" "$(srv member2)" "$(ca_data member2)" "$d/sa-token"
	# the pod's args as they are (the Secret's mount point mapped to $d);
	# --credential-secret writes the credential into the member through the
	# ServiceAccount, so agent.yaml's Role is exercised too
	for a in $(km member2 -n "$ns" get deploy fed-agent -o jsonpath='{.spec.template.spec.containers[0].args[*]}'); do
		args+=("${a//\/etc\/fed-agent/$d}")
	done
	printf '%s\n' "${args[@]}" >"$d/args"
	POD_NAMESPACE=$ns start_agent -a "$2" "${args[@]}" --kubeconfig "$d/kc" --heartbeat 1 --max-backoff 2 \
		--log-level debug
	apid=$!
}
seen="$work/seen"
: >"$seen"
record() { local s; s=$(list_status $C); echo "$s" >>"$seen"; [ "$s" = "agent/Connected" ]; }
t0=$(now)
run_agent $ANS "$work/agent.log"
if WAIT_STEP=0.1 wait_until 40 record; then
	ok "fedctl list: $C $(sort -u "$seen" | grep -v '^$' | tr '\n' ' ')in $(since "$t0")s"
else
	bad "$C not Ready: $(kfc $C '{.status}') $(tail -5 "$work/agent.log")"
fi
# Connecting lasts until the first health check through the tunnel (well
# under a second here): polling may miss it, the controller's log does not
if grep -qx "agent/Connecting" "$seen"; then
	ok "fedctl list showed Connecting before Connected"
elif grep "\[$C\] status:" "$work/ctl.log" | grep -q '"connectivityStatus":"Connecting"'; then
	ok "$C went through Connecting (controller log; too short for fedctl list polling) before Connected"
elif grep -q "\[$C\] connecting to .* through the agent's socket" "$work/ctl.log"; then
	# status writes are coalesced: one in flight when Connecting began and
	# Connected came before it returned leaves only the newest written
	ok "$C went through Connecting (controller log: connecting through the agent's socket; the status write was coalesced into Connected)"
else
	bad "$C never Connecting"
fi
stored_cred() { km member2 -n $ANS get secret fed-agent-credential -o jsonpath='{.data.credential}' 2>/dev/null || true; }
if grep -q -- "--host-address=127.0.0.1:$tport" "$work/pod-$ANS/args" &&
	grep -q -- "--credential-secret=fed-agent-credential" "$work/pod-$ANS/args" && wait_set 20 stored_cred; then
	ok "the agent ran with the Deployment's args and stored its credential in Secret $ANS/fed-agent-credential (agent.yaml's Role)"
else
	bad "args/credential: $(cat "$work/pod-$ANS/args" | tr '\n' ' ') $(grep -i credential "$work/agent.log" | tail -2)"
fi
out=$(fedctl describe $C 2>&1 || true)
grep -q "Mode: *agent" <<<"$out" && ok "fedctl describe shows Mode: agent" || bad "describe: $out"

# propagation and scale through the tunnel, with the agent's own RBAC
k create ns $NS >/dev/null
fed_ns_cm $NS $C cfg 1
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
        spec: {containers: [{name: c, image: "nginx:1"}]}
  placement: {clusters: [{name: $C}]}
EOF
cmget() { km member2 -n $NS get cm cfg -o jsonpath='{.data.a}' 2>/dev/null || true; }
replicas() { km member2 -n $NS get deploy web -o jsonpath='{.spec.replicas}' 2>/dev/null || true; }
wait_eq 30 1 cmget && ok "FederatedConfigMap propagated to $C through the agent" ||
	bad "no ConfigMap in member2: $(k -n $NS get federatedconfigmap cfg -o jsonpath='{.status}')"
wait_eq 30 1 replicas || bad "no Deployment in member2"
out=$(fedctl scale deploy/web --replicas=3 -n $NS 2>&1) || bad "scale: $out"
wait_eq 30 3 replicas && ok "fedctl scale deploy/web --replicas=3 reached $C" || bad "replicas $(replicas): $out"

# ---- delete ------------------------------------------------------------------
out=$(fedctl delete $C --cluster-context member2 2>&1) || bad "delete: $out"
echo "$out"
gone() { km member2 -n $NS get cm cfg -o name 2>/dev/null || true; }
if wait_unset 10 gone && grep -q "kubectl --context member2 delete -f agent.yaml" <<<"$out" &&
	[ -z "$(kfc $C '{.metadata.name}')" ]; then
	ok "fedctl delete $C: copies removed, KubeFedCluster gone, agent removal hint printed"
else
	bad "delete: copies $(gone): $out"
fi
[ "$(tokens_of $C)" = 0 ] && ok "no token of $C left" || bad "tokens after delete: $(tokens_of $C)"
out=$(fedctl delete $C 2>&1) && grep -q "not joined" <<<"$out" && ok "delete again: $out" ||
	bad "delete again: $out"
stop_agent
remove_agent $ANS

# ---- --rbac minimal ------------------------------------------------------------
fedctl join $C --mode agent --rbac minimal --agent-namespace $ANS-min -o "$work/agent-min.yaml" \
	>"$work/join3.out" 2>&1 || bad "join --rbac minimal: $(cat "$work/join3.out")"
grep -q "name: cluster-admin" "$work/agent-min.yaml" && bad "minimal agent.yaml binds cluster-admin" ||
	ok "minimal agent.yaml does not bind cluster-admin"
km member2 create -f "$work/agent-min.yaml" >/dev/null || bad "create agent-min.yaml"
can() { km member2 auth can-i "$@" --as system:serviceaccount:$ANS-min:fed-agent 2>/dev/null || true; }
# the authorizer's cache may still hold the full agent's binding of the same
# name for a moment; secrets, clusterroles ... are federated types by default
# (manifests/types), so their writes are in the minimal role too
if wait_eq 20 no can create pods -n default && [ "$(can delete nodes)" = no ] &&
	[ "$(can create persistentvolumes)" = no ] && [ "$(can create configmaps -n default)" = yes ] &&
	[ "$(can list pods -A)" = no ] && [ "$(can update secrets/fed-agent-credential -n $ANS-min)" = yes ]; then
	ok "minimal role: writes the federated types, reads no pods, writes no nodes or volumes"
else
	bad "minimal role: pods $(can create pods -n default) nodes $(can delete nodes) cm $(can create configmaps -n default)"
fi
run_agent $ANS-min "$work/agent-min.log"
wait_eq 40 agent/Connected list_status $C && ok "agent with the minimal role: Ready" ||
	bad "minimal: $(kfc $C '{.status}') $(tail -5 "$work/agent-min.log")"
# a new namespace: the first one is Terminating in member2 for good (no
# namespace controller there) since delete removed the copies
k create ns $NS-2 >/dev/null
cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedNamespace
metadata: {name: $NS-2, namespace: $NS-2}
spec:
  placement: {clusters: [{name: $C}]}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: cfg, namespace: $NS-2}
spec:
  template: {data: {a: "2"}}
  placement: {clusters: [{name: $C}]}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedSecret
metadata: {name: sec, namespace: $NS-2}
spec:
  template: {data: {a: Mg==}}
  placement: {clusters: [{name: $C}]}
EOF
# Secrets through the agent: only in the namespace fed manages (issue 13)
sec2() { km member2 -n $NS-2 get secret sec -o jsonpath='{.data.a}' 2>/dev/null || true; }
wait_eq 30 Mg== sec2 && [ "$(can get secrets -n kube-system)" = no ] && [ "$(can get secrets -n $NS-2)" = yes ] &&
	ok "agent with the minimal role propagated a Secret; its SA reads Secrets in $NS-2 only, not kube-system" ||
	bad "minimal, secrets: $(sec2) kube-system $(can get secrets -n kube-system) $(k -n $NS-2 get federatedsecret sec -o jsonpath='{.status}')"
cm2() { km member2 -n $NS-2 get cm cfg -o jsonpath='{.data.a}' 2>/dev/null || true; }
wait_eq 30 2 cm2 && ok "agent with the minimal role propagated a namespace and a ConfigMap" ||
	bad "minimal: no ConfigMap: $(k -n $NS-2 get federatedconfigmap cfg -o jsonpath='{.status}')"
out=$(fedctl delete $C --cluster-context member2 2>&1) || bad "delete minimal: $out"
stop_agent

# ---- no token in any output or log --------------------------------------------
leaks=0
for f in "$work"/pod-*/token; do
	tok=$(cat "$f")
	[ ${#tok} = 64 ] || bad "token length ${#tok}"
	for l in "$work"/*.out "$work"/*.log; do
		grep -qF "$tok" "$l" && { bad "token in $l"; leaks=$((leaks + 1)); }
	done
done
[ $leaks = 0 ] && ok "no bootstrap token in fedctl's output, the controller's or the agents' logs"

echo "fedctl join --mode agent: $pass passed, $fail failed"
[ "$fail" = 0 ]
