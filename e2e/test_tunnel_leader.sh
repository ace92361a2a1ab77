#!/usr/bin/env bash
# Only the leading controller replica serves the agent tunnel, and agents
# reach a new leader within 30 s (issue 6). Two fed-controller processes
# stand in for the two replicas of the Deployment: each has a Pod object of
# its own in the host (Pending forever: no kubelet, which is fine, only its
# labels matter) and the same --tunnel-address, with leader election on a
# short Lease (4/3/1 s). Two fed-agent replicas serve one agent-mode cluster
# (member2), each joined with a bootstrap token of its own; they start
# before the host serves, so their reconnect backoff has grown. Checks:
# only the leader listens, the Pods are labelled leader/standby for the
# fed-tunnel Service, both agents on the leader, Ready, propagation. Then
# SIGKILL the leader: the standby takes the Lease, both agents and Ready
# within 30 s (timings printed), labels flip, a change made during the
# failover arrives, and the restarted ex-leader clears its stale label.
# Then SIGTERM the new leader: it hands over at once and clears its label.
# Last, as the ServiceAccount of manifests/02-rbac.yaml: its own Pod in the
# controller's namespace can be labelled; elsewhere labelling fails with a
# warning naming the fix and the controller carries on.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-tunlead-$$ C=tunlead LEASE=fed-e2e-tunlead-$$
work=$(mktemp -d)
pass=0 fail=0 pids=()

. "$(dirname "$0")/lib.sh"
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
holder() { k -n $FNS get lease $LEASE -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true; }
label_of() { k -n $NS get pod "$1" -o jsonpath='{.metadata.labels.fed\.kubefed\.io/tunnel}' 2>/dev/null || true; }
# the metrics port of the process that wrote to LOG last (restarts append)
mport_of() { sed -n 's/.*serving \/healthz.* port \([0-9]*\).*/\1/p' "$work/$1.log" | tail -n 1; }
metric() { # CONTROLLER SERIES
	curl -s --max-time 2 "http://127.0.0.1:$(mport_of "$1")/metrics" 2>/dev/null |
		awk -v s="$2" '$1 == s { print $2 }'
}
agents_on() { metric "$1" "fed_tunnel_agents{cluster=\"$C\"}"; }
ready_on() { metric "$1" "fed_cluster_ready{cluster=\"$C\"}"; }
# pid listening on the tunnel port, empty if none
listener() { ss -ltnpH "sport = :$TPORT" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | sort -u | tr '\n' ' ' | sed 's/ $//'; }

cleanup() {
	collect_artifacts "$work" || true
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	k delete ns $NS --wait=false >/dev/null 2>&1 || true
	km member2 delete ns $NS --wait=false >/dev/null 2>&1 || true
	k -n $FNS delete lease $LEASE --ignore-not-found >/dev/null 2>&1 || true
	k -n $FNS delete pod fed-e2e-tunlead-$$ --ignore-not-found --wait=false >/dev/null 2>&1 || true
	fed_unfederate
	km member2 -n default delete sa fed-agent-tunlead --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete clusterrolebinding fed-agent-tunlead --ignore-not-found >/dev/null 2>&1 || true
	for f in "$work"/*.log; do
		[ -f "$f" ] && cp "$f" "${TMPDIR:-/tmp}/fed-e2e-tunnel-leader-$(basename "$f")" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

fed_install_local

# a free port for the one tunnel address both replicas are given
TPORT=
for p in $(shuf -i 20000-39999 -n 50); do
	[ -z "$(ss -ltnH "sport = :$p")" ] && { TPORT=$p; break; }
done
[ -n "$TPORT" ] || { echo "FAIL: no free port"; exit 1; }

# ---- the member side: the agents' ServiceAccount token ------------------------
M2=$(srv member2)
CA2=$(ca_data member2)
km member2 -n default create sa fed-agent-tunlead >/dev/null
km member2 create clusterrolebinding fed-agent-tunlead --clusterrole=cluster-admin \
	--serviceaccount=default:fed-agent-tunlead >/dev/null
SATOK=$(km member2 -n default create token fed-agent-tunlead --duration=1h)
printf '%s' "$SATOK" >"$work/sa-token"
tokenfile_kubeconfig "$work/agent-kc" "$M2" "$CA2" "$work/sa-token"

# ---- the host side: config, a token per agent replica, the host CA ------------
tunnel_token $C
mv "$work/token" "$work/token1"
TOKEN1=$TOKEN
TOKEN2=$(openssl rand -hex 32)
printf '%s' "$TOKEN2" >"$work/token2"
HASH2=$(printf '%s' "$TOKEN2" | sha256sum | cut -d' ' -f1)
k -n kube-system patch secret fed-tunnel --type merge \
	-p "{\"stringData\":{\"bootstrap-$HASH2\":\"$C $(($(date +%s) + 86400))\"}}" >/dev/null
fed_federate_agents $C
# the tunnel's certificate now, so that the agents can start before any controller
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=fed-tunnel \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$work/tls.key" -out "$work/host-ca.crt" 2>/dev/null
k -n kube-system patch secret fed-tunnel --type merge -p "{\"data\":{
	\"tls.crt\":\"$(base64 -w0 "$work/host-ca.crt")\",\"tls.key\":\"$(base64 -w0 "$work/tls.key")\"}}" >/dev/null

# ---- two controller "replicas", each with a Pod of its own -----------------------
k create ns $NS >/dev/null
for r in ctl-a ctl-b; do
	cat <<EOF | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata:
  name: $r
  namespace: $NS
  labels: {app.kubernetes.io/name: fed-controller}
spec:
  containers: [{name: fed-controller, image: "fed:0.1.0"}]
EOF
done
start_ctl() { # NAME (its Pod's name)
	POD_NAME=$1 POD_NAMESPACE=$NS start_controller -a "$work/$1.log" --health-period 1 \
		--health-timeout 1 --failure-threshold 3 --leader-elect-lease-name $LEASE \
		--leader-elect-lease-duration 4 --leader-elect-renew-deadline 3 \
		--leader-elect-retry-period 1 --tunnel-address 127.0.0.1:$TPORT --tunnel-heartbeat 1 \
		--log-level debug
	eval "pid_${1//-/_}=$!"
}

# ---- two agent replicas, started first: their backoff grows meanwhile ---------
agent() { # N
	start_agent -a "$work/agent$1.log" --host-address 127.0.0.1:$TPORT \
		--host-ca-file "$work/host-ca.crt" --bootstrap-token-file "$work/token$1" \
		--credential-file "$work/cred$1" --kubeconfig "$work/agent-kc" --heartbeat 1 --log-level debug
}
agent 1
agent 2
if wait_until 40 grep -q "(attempt 4)" "$work/agent1.log" &&
	wait_until 40 grep -q "(attempt 4)" "$work/agent2.log"; then
	ok "both agents retry with a grown backoff while no controller serves (attempt 4)"
else
	bad "agents did not back off: $(tail -3 "$work/agent1.log")"
fi

start_ctl ctl-a
wait_eq 20 ctl-a holder && ok "ctl-a leads (Lease $LEASE)" || bad "ctl-a not leading: '$(holder)'"
start_ctl ctl-b
wait_until 20 grep -q "leader is now ctl-a" "$work/ctl-b.log" && ok "ctl-b stands by" ||
	bad "ctl-b: $(tail -3 "$work/ctl-b.log")"
wait_until 20 grep -q "serving fed-agents" "$work/ctl-a.log" && ok "the leader serves the tunnel on port $TPORT" ||
	{ bad "tunnel not served: $(tail -5 "$work/ctl-a.log")"; exit 1; }
wait_eq 10 leader label_of ctl-a && ok "leader's Pod labelled fed.kubefed.io/tunnel=leader" ||
	bad "ctl-a label: '$(label_of ctl-a)'"
wait_eq 10 standby label_of ctl-b && ok "standby's Pod labelled fed.kubefed.io/tunnel=standby" ||
	bad "ctl-b label: '$(label_of ctl-b)'"
[ "$(listener)" = "$pid_ctl_a" ] && ok "only the leader listens on $TPORT (pid $(listener))" ||
	bad "listeners on $TPORT: '$(listener)' (leader $pid_ctl_a, standby $pid_ctl_b)"
grep -q "serving fed-agents" "$work/ctl-b.log" && bad "the standby served the tunnel" ||
	ok "the standby never served the tunnel"

t0=$(now)
if wait_eq 60 2 agents_on ctl-a; then
	ok "both agents connected to the leader (fed_tunnel_agents=2) $(since "$t0")s after it served"
else
	bad "agents on the leader: '$(agents_on ctl-a)'"; tail -5 "$work/agent1.log" "$work/agent2.log"
fi
connected_at=$(now)
wait_eq 30 Connected kfc $C '{.status.connectivityStatus}' && ok "$C Ready through the tunnel" ||
	bad "$C not Ready: $(kfc $C '{.status}')"
attempt_before=$(sed -n 's/.*(attempt \([0-9]*\)).*/\1/p' "$work/agent1.log" | tail -1)

fed_ns_cm $NS $C cfg 1
cmget() { km member2 -n $NS get cm cfg -o jsonpath='{.data.a}' 2>/dev/null || true; }
wait_eq 30 1 cmget && ok "FederatedConfigMap propagated through the leader's tunnel" ||
	bad "no ConfigMap in member2: $(k -n $NS get federatedconfigmap cfg -o jsonpath='{.status}')"

# ---- failover: SIGKILL the leader ---------------------------------------------------
# agents in production have been connected for long; here at least the 10 s
# after which fed-agent treats a lost connection as a failover
while ! le 12 "$(since "$connected_at")"; do sleep 0.5; done
t0=$(now)
kill -9 "$pid_ctl_a"
wait "$pid_ctl_a" 2>/dev/null || true
k -n $NS patch federatedconfigmap cfg --type merge -p '{"spec":{"template":{"data":{"a":"2"}}}}' >/dev/null
if wait_eq 30 ctl-b holder; then
	t_lease=$(since "$t0")
	ok "ctl-b took the Lease ${t_lease}s after the leader was killed"
else
	bad "no takeover: holder '$(holder)'"; tail -5 "$work/ctl-b.log"
fi
if wait_eq 40 2 agents_on ctl-b; then
	t_agents=$(since "$t0")
	le "$t_agents" 30 && ok "both agents connected to the new leader ${t_agents}s after the kill (limit 30 s)" ||
		bad "agents took ${t_agents}s (limit 30 s)"
else
	bad "agents on the new leader: '$(agents_on ctl-b)'"; tail -8 "$work/agent1.log" "$work/agent2.log"
fi
if wait_eq 40 1 ready_on ctl-b; then
	t_ready=$(since "$t0")
	le "$t_ready" 30 && ok "$C Ready again on the new leader ${t_ready}s after the kill (limit 30 s)" ||
		bad "Ready took ${t_ready}s (limit 30 s)"
else
	bad "$C not Ready on the new leader: $(kfc $C '{.status}')"
fi
wait_eq 10 Connected kfc $C '{.status.connectivityStatus}' && ok "KubeFedCluster $C Connected" ||
	bad "$C: $(kfc $C '{.status}')"
echo "failover: Lease ${t_lease:-?} s, both agents ${t_agents:-?} s, Ready ${t_ready:-?} s after SIGKILL"
# the fed-agent side of it: from attempt 1 again, never more than 4 s apart
for n in 1 2; do
	after=$(awk '/connected to the host/ { c = 1 } c && /tunnel to .* closed/ { seen = 1 }
		seen && /reconnecting in/' "$work/agent$n.log")
	first=$(sed -n 1p <<<"$after" | sed -n 's/.*(attempt \([0-9]*\)).*/\1/p')
	longest=$(sed -n 's/.*reconnecting in \([0-9.]*\) s.*/\1/p' <<<"$after" | sort -n | tail -1)
	if [ "$first" = 1 ] && le "${longest:-99}" 4; then
		ok "agent $n: reconnect backoff restarted at attempt 1 (was at ${attempt_before:-?}), longest wait ${longest}s (cap 4 s)"
	else
		bad "agent $n backoff after the drop: first attempt '$first', longest '${longest:-}': $after"
	fi
done
wait_eq 10 leader label_of ctl-b && ok "new leader's Pod labelled leader" || bad "ctl-b label: '$(label_of ctl-b)'"
[ "$(label_of ctl-a)" = leader ] && ok "the killed leader's Pod still says leader (its process died)" ||
	bad "ctl-a label: '$(label_of ctl-a)'"
[ "$(listener)" = "$pid_ctl_b" ] && ok "only the new leader listens on $TPORT" || bad "listeners: '$(listener)'"
wait_eq 30 2 cmget && ok "the change made during the failover reached member2" ||
	bad "member2 has a=$(cmget), want 2"

# ---- the ex-leader restarts in the same Pod ---------------------------------------
start_ctl ctl-a
wait_eq 20 standby label_of ctl-a && ok "restarted ex-leader cleared its stale label: ctl-a standby" ||
	bad "ctl-a label after restart: '$(label_of ctl-a)'"
wait_until 20 grep -q "leader is now ctl-b" "$work/ctl-a.log" && ok "restarted ctl-a stands by" ||
	bad "ctl-a: $(tail -3 "$work/ctl-a.log")"
[ "$(listener)" = "$pid_ctl_b" ] && [ "$(agents_on ctl-b)" = 2 ] &&
	ok "the standby did not take the listener; both agents stay on ctl-b" ||
	bad "listeners '$(listener)', agents on ctl-b '$(agents_on ctl-b)'"

# ---- graceful handover: SIGTERM the leader ------------------------------------------
t0=$(now)
kill -TERM "$pid_ctl_b"
wait_eq 10 standby label_of ctl-b && ok "a leader shutting down relabels its Pod standby" ||
	bad "ctl-b label after SIGTERM: '$(label_of ctl-b)'"
wait_eq 10 ctl-a holder && ok "ctl-a leads $(since "$t0")s after SIGTERM (Lease released)" ||
	bad "holder '$(holder)'"
if wait_eq 30 2 agents_on ctl-a && wait_eq 30 1 ready_on ctl-a; then
	ok "both agents on ctl-a and $C Ready $(since "$t0")s after the SIGTERM"
else
	bad "after handover: agents '$(agents_on ctl-a)', ready '$(ready_on ctl-a)'"
fi
wait_eq 10 leader label_of ctl-a && ok "ctl-a's Pod labelled leader again" || bad "ctl-a label: '$(label_of ctl-a)'"

# ---- RBAC: the manifests' ServiceAccount may label its own Pod, nothing else ---
# Two more standbys on the same Lease (ctl-a keeps it, so they never act),
# running as the fed-controller ServiceAccount of manifests/02-rbac.yaml: one
# whose Pod is in the controller's namespace, one whose Pod is elsewhere.
RBPOD=fed-e2e-tunlead-$$
cat <<EOF | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: $RBPOD, namespace: $FNS, labels: {fed.kubefed.io/tunnel: leader}}
spec:
  serviceAccountName: fed-controller
  containers: [{name: fed-controller, image: "fed:0.1.0"}]
EOF
# a token bound to that Pod, as the kubelet mounts one: the manifests'
# admission policy lets it change only the tunnel label of the Pod it names
CTLTOK=$(k -n $FNS create token fed-controller --duration=10m --bound-object-kind Pod \
	--bound-object-name $RBPOD --bound-object-uid "$(k -n $FNS get pod $RBPOD -o jsonpath='{.metadata.uid}')")
printf '%s' "$CTLTOK" >"$work/ctl-token"
tokenfile_kubeconfig "$work/ctl-kc" "$(srv host)" "$(ca_data host)" "$work/ctl-token"
# the manifests name the Lease fed-controller; this test's Lease has its
# own name, so the ServiceAccount gets the same rights on it here
k -n $FNS create role fed-e2e-lease-$$ --verb=get,list,watch,update --resource=leases \
	--resource-name=$LEASE >/dev/null
k -n $FNS create rolebinding fed-e2e-lease-$$ --role=fed-e2e-lease-$$ \
	--serviceaccount=$FNS:fed-controller >/dev/null
# not start_controller: this one runs as the ServiceAccount, from its own
# kubeconfig, with none of the local process's address options
start_sa_ctl() { # LOG POD_NAME POD_NAMESPACE
	POD_NAME=$2 POD_NAMESPACE=$3 "$FED_BIN_DIR/fed-controller" --kubeconfig "$work/ctl-kc" \
		--metrics-address off --leader-elect-lease-name $LEASE --leader-elect-lease-duration 4 \
		--leader-elect-renew-deadline 3 --leader-elect-retry-period 1 \
		--tunnel-address 127.0.0.1:0 2>>"$work/$1.log" &
	pids+=($!)
	last_pid=$!
}
rblabel() { k -n $FNS get pod $RBPOD -o jsonpath='{.metadata.labels.fed\.kubefed\.io/tunnel}' 2>/dev/null || true; }
start_sa_ctl sa-own $RBPOD $FNS
sa_own=$last_pid
start_sa_ctl sa-other ctl-b $NS
sa_other=$last_pid
wait_eq 20 standby rblabel && ok "as the manifests' ServiceAccount: its own Pod in $FNS relabelled standby" ||
	bad "SA-run controller's Pod label: '$(rblabel)': $(tail -3 "$work/sa-own.log")"
if wait_until 20 grep -q "Grant get and patch on pods in namespace $NS" "$work/sa-other.log"; then
	ok "no RBAC for pods in $NS: warned with the fix ($(sed -n 's/.*\(Grant get and patch on pods in namespace [^ ]*\).*/\1/p' "$work/sa-other.log" | sed -n 1p))"
else
	bad "no RBAC warning: $(tail -3 "$work/sa-other.log")"
fi
wait_until 20 grep -q "leader is now ctl-a" "$work/sa-other.log" && kill -0 "$sa_other" 2>/dev/null &&
	ok "the label failure did not stop the controller: it campaigns and stands by" ||
	bad "after the label failure: $(tail -3 "$work/sa-other.log")"
[ "$(holder)" = ctl-a ] && [ "$(label_of ctl-b)" = standby ] && ok "ctl-a still leads; ctl-b's label untouched" ||
	bad "holder '$(holder)', ctl-b label '$(label_of ctl-b)'"
kill -9 "$sa_own" "$sa_other" 2>/dev/null || true
wait "$sa_own" "$sa_other" 2>/dev/null || true
k -n $FNS delete pod $RBPOD --wait=false >/dev/null 2>&1 || true
k -n $FNS delete role,rolebinding fed-e2e-lease-$$ >/dev/null 2>&1 || true

leak=
for f in "$work"/*.log; do
	for s in "$TOKEN1" "$TOKEN2" "$SATOK" "$CTLTOK" "$(cat "$work/cred1" 2>/dev/null || echo none)"; do
		grep -qF -- "$s" "$f" && leak="$leak $(basename "$f")"
	done
done
[ -z "$leak" ] && ok "no token or credential in any log" || bad "secret in:$leak"

echo "tunnel_leader: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
