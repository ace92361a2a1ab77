#!/usr/bin/env bash
# Agent mode through the tunnel, on loopback (member2's apiserver is still
# reachable from the host here; the network-namespace variant is not done
# yet): fed-controller serves the tunnel, fed-agent dials it with a
# one-time bootstrap token and member2's ServiceAccount token; the
# mode: agent cluster becomes Ready through the tunnel, objects propagate
# to it, the bootstrap token cannot be replayed, a credential signed by
# another federation or renamed to another cluster is refused, nothing
# secret reaches a log, a frozen
# agent makes the cluster Offline and a thawed one brings it back, drift
# corrected.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-tunnel-$$ C=tun2
work=$(mktemp -d)
pass=0 fail=0 cpid= apid=

. "$(dirname "$0")/lib.sh"
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
status_of() { kfc "$1" '{.status.connectivityStatus}'; }
metric() { curl -s "http://127.0.0.1:$mport/metrics" | sed -n "s/^$1 //p"; }

cleanup() {
	collect_artifacts "$work" || true
	[ -z "$apid" ] || { kill -CONT "$apid"; kill -9 "$apid"; } 2>/dev/null || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	for c in host member2; do km $c delete ns $NS --wait=false >/dev/null 2>&1 || true; done
	fed_unfederate
	km member2 -n default delete sa fed-agent-e2e --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete clusterrolebinding fed-agent-e2e --ignore-not-found >/dev/null 2>&1 || true
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-tunnel-controller.log" 2>/dev/null || true
	cp "$work/agent.log" "${TMPDIR:-/tmp}/fed-e2e-tunnel-agent.log" 2>/dev/null || true
	cp "$work/agent4.log" "${TMPDIR:-/tmp}/fed-e2e-tunnel-agent4.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fed_install_local

# ---- the member side: the agent's own ServiceAccount token ------------------
M2=$(srv member2)
CA2=$(ca_data member2)
km member2 -n default create sa fed-agent-e2e >/dev/null
km member2 create clusterrolebinding fed-agent-e2e --clusterrole=cluster-admin \
	--serviceaccount=default:fed-agent-e2e >/dev/null
SATOK=$(km member2 -n default create token fed-agent-e2e --duration=1h)
printf '%s' "$SATOK" >"$work/sa-token"
tokenfile_kubeconfig "$work/agent-kc" "$M2" "$CA2" "$work/sa-token"

# ---- the host side: config, one-time token (stored hashed) ------------------
tunnel_token $C
# $C joins the config only after its agent first dialled: that refusal must
# not spend the bootstrap token
fed_federate_agents tun-b

start_controller "$work/ctl.log" --health-period 1 --health-timeout 1 --failure-threshold 3 \
	--leader-elect=false --tunnel-address 127.0.0.1:0 --tunnel-heartbeat 1 --log-level debug
if wait_until 30 grep -q "serving fed-agents" "$work/ctl.log"; then
	ok "controller serves the tunnel; generated certificate and credential key in secret fed-tunnel"
else
	bad "tunnel not served"; cat "$work/ctl.log"; exit 1
fi
tport=$(sed -n 's/.*serving fed-agents on .* (port \([0-9]*\)).*/\1/p' "$work/ctl.log" | sed -n 1p)
mport=$(sed -n 's/.*serving .* port \([0-9]*\).*/\1/p' "$work/ctl.log" | sed -n 1p)
k -n kube-system get secret fed-tunnel -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/host-ca.crt"
wait_eq 20 AgentNotConnected kfc tun-b '{.status.conditions[?(@.type=="Ready")].reason}' &&
	ok "before the agent: tun-b is AgentNotConnected" || bad "before the agent: $(kfc tun-b '{.status}')"

# ---- join through the tunnel --------------------------------------------------
agent() { # extra args
	start_agent -a "$work/agent.log" --host-address 127.0.0.1:$tport --host-ca-file "$work/host-ca.crt" \
		--bootstrap-token-file "$work/token" --credential-file "$work/cred" \
		--kubeconfig "$work/agent-kc" --heartbeat 1 --max-backoff 2 --log-level debug "$@"
	apid=$!
}
agent
if wait_until 20 grep -q "cluster '$C' is not in the Federation config with mode: agent (the bootstrap token stays valid)" "$work/ctl.log"; then
	ok "agent of a cluster not in the config yet refused; its token kept"
else
	bad "early agent: $(grep refused "$work/ctl.log" | tail -2)"
fi
t0=$(now)
fed_federate_agents $C tun-b
if wait_eq 40 Connected status_of $C; then
	ok "$C added to the config; its agent joined with the same bootstrap token: Ready/Connected through the tunnel in $(since "$t0")s"
else
	bad "$C not Ready: $(kfc $C '{.status}')"; tail -30 "$work/ctl.log" "$work/agent.log"; exit 1
fi
# the facts may land in a status write after the one that said Connected
wait_set 20 kfc $C '{.status.kubernetesVersion}' || true
v=$(kfc $C '{.status.kubernetesVersion}') n=$(kfc $C '{.status.totalNodeCount}')
[ -n "$v" ] && ok "facts through the tunnel: version $v, nodes ${n:-?}" || bad "no facts: $(kfc $C '{.status}')"
[ -s "$work/cred" ] && ok "the agent stored its per-cluster credential ($(stat -c %a "$work/cred"))" ||
	bad "no credential stored"
if k -n kube-system get secret fed-tunnel -o jsonpath='{.data}' | grep -q "bootstrap-$HASH"; then
	bad "used bootstrap token still in the Secret"
else
	ok "used bootstrap token removed from secret fed-tunnel"
fi

# ---- propagation through the tunnel -------------------------------------------
k create ns $NS >/dev/null
fed_ns_cm $NS $C cfg 1
cmget() { km member2 -n $NS get cm cfg -o jsonpath='{.data.a}' 2>/dev/null || true; }
if wait_eq 30 1 cmget; then
	ok "FederatedConfigMap propagated to $C through the tunnel"
else
	bad "no ConfigMap in member2: $(k -n $NS get federatedconfigmap cfg -o jsonpath='{.status}')"
fi

# ---- security -------------------------------------------------------------------
# the same bootstrap token again, from a second agent without a credential
rm -f "$work/cred2"
start_agent "$work/agent2.log" --host-address 127.0.0.1:$tport --host-ca-file "$work/host-ca.crt" \
	--bootstrap-token-file "$work/token" --credential-file "$work/cred2" \
	--kubeconfig "$work/agent-kc" --heartbeat 1 --log-level debug
a2=$!
if wait_until 15 grep -q "GOAWAY" "$work/agent2.log" &&
	wait_until 10 grep -q "bootstrap token already used" "$work/ctl.log"; then
	ok "replayed bootstrap token refused ($(grep -c 'authentication refused' "$work/ctl.log") refusals logged)"
else
	bad "replayed token: $(tail -5 "$work/agent2.log")"
fi
kill "$a2" 2>/dev/null || true
[ ! -s "$work/cred2" ] && ok "no credential for the replaying agent" || bad "replaying agent got a credential"
exited() { ! kill -0 "$1" 2>/dev/null; }
wait_until 5 exited "$a2" && ok "fed-agent exits on SIGTERM" || bad "agent still running after SIGTERM"
# a credential for this cluster signed with another key: refused
printf 'fedc1.%s.%s.%s' $C $(($(date +%s) + 86400)) "$(openssl rand -hex 32)" >"$work/forged"
start_agent "$work/agent3.log" --host-address 127.0.0.1:$tport --host-ca-file "$work/host-ca.crt" \
	--credential-file "$work/forged" --kubeconfig "$work/agent-kc"
a3=$!
if wait_until 15 grep -q "not signed by this federation" "$work/ctl.log"; then
	ok "forged cluster credential refused"
else
	bad "forged credential: $(tail -3 "$work/ctl.log")"
fi
# a3 retries within a second: once it is gone, every later "not signed"
# refusal is a4's (else a3's retry could stand in for a4's refusal)
kill "$a3" 2>/dev/null || true
wait_until 10 exited "$a3" || kill -9 "$a3" 2>/dev/null || true
# cluster A's valid credential with cluster B's name in it: refused, and B
# stays without an agent
sed -E "s/^(fedc[0-9]+)\.$C\./\1.tun-b./" "$work/cred" >"$work/cred-b"
cp "$work/cred-b" "$work/cred-b.orig"
# The host's refusal is what counts: the agent may see the closed socket
# before the GOAWAY frame, so its own log is not waited on; and the metric,
# not the log, whose refusal lines have a budget.
badcred() { metric 'fed_tunnel_refused_total{reason="bad_credential"}'; }
nsigned=$(badcred)
signed_more() { [ "$(badcred)" -gt "${nsigned:-0}" ]; }
start_agent "$work/agent4.log" --host-address 127.0.0.1:$tport --host-ca-file "$work/host-ca.crt" \
	--credential-file "$work/cred-b" --kubeconfig "$work/agent-kc"
a4=$!
if wait_until 30 signed_more && cmp -s "$work/cred-b" "$work/cred-b.orig" &&
	[ "$(kfc tun-b '{.status.conditions[?(@.type=="Ready")].reason}')" = AgentNotConnected ]; then
	ok "cluster $C's credential renamed to tun-b refused; tun-b still AgentNotConnected"
else
	bad "renamed credential: $(tail -3 "$work/agent4.log") $(grep 'refused' "$work/ctl.log" | tail -2) tun-b: $(kfc tun-b '{.status}')"
fi
kill "$a4" 2>/dev/null || true
refused=$(curl -s "http://127.0.0.1:$mport/metrics" | grep '^fed_tunnel_refused_total' | tr '\n' ' ')
if grep -q 'reason="replayed_token"} [1-9]' <<<"$refused" && grep -q 'reason="bad_credential"} [2-9]' <<<"$refused"; then
	ok "/metrics counts refusals: $refused"
else
	bad "refusals not counted: $refused"
fi
# ---- a hand-made peer: malformed, oversize and unknown-stream frames ------------
# Raw frames through openssl s_client: a garbage frame before authentication,
# then, authenticated as tun-b with a bootstrap token of its own, frames for
# streams the host never opened (each answered with RST, the connection
# lives on) and an oversize frame (the connection ends). The host counts
# each, logs no secret and keeps serving tun2.
frame() { # TYPE STREAM LEN -> the 12-byte header, as printf escapes
	printf '\\x%02x\\x00\\x00\\x00' "$1"
	printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($2 >> 24 & 255)) $(($2 >> 16 & 255)) $(($2 >> 8 & 255)) $(($2 & 255))
	printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($3 >> 24 & 255)) $(($3 >> 16 & 255)) $(($3 >> 8 & 255)) $(($3 & 255))
}
hello="$(frame 1 0 12)\x00\x01\x00\x00\x00\x01\x00\x00\x00\x04\x00\x00"
rogue() { # FRAMES [FRAMES a second later] (printf escapes) -> the host's answer, in hex
	# the pauses are the frame timing under test (a second frame later), not waits
	{ printf "$1"; sleep 1; printf "${2:-}"; sleep 1; } |
		timeout 10 openssl s_client -quiet -connect 127.0.0.1:$tport \
			-CAfile "$work/host-ca.crt" -verify_return_error 2>/dev/null | od -An -v -tx1 | tr -d ' \n' ||
		true # the host ends the connection: s_client fails
}
mf0=$(metric 'fed_tunnel_refused_total{reason="malformed_frame"}')
rogue "$(frame 238 0 4)\x00\x00\x00\x00" >/dev/null
ROGUE=$(openssl rand -hex 32)
RHASH=$(printf '%s' "$ROGUE" | sha256sum | cut -d' ' -f1)
k -n kube-system patch secret fed-tunnel --type merge -p \
	"{\"stringData\":{\"bootstrap-$RHASH\":\"tun-b $(($(date +%s) + 600))\"}}" >/dev/null
# the controller's informer has the new token: nothing logs or counts
# that, so there is no poll for it
sleep 1
ans=$(rogue "$hello$(frame 2 0 65)\x01$ROGUE$(frame 8 99 0)$(frame 6 101 5)hello" "$(frame 6 103 1073741824)")
# RST (type 9, 4-byte payload) for streams 99 (0x63) and 101 (0x65), code 4: unknown stream
if grep -q 09000000000000630000000400000004 <<<"$ans" && grep -q 09000000000000650000000400000004 <<<"$ans"; then
	ok "frames for streams the host never opened answered with RST (unknown stream)"
else
	bad "no RST for unknown streams: ${ans:0:300}"
fi
mf=$(metric 'fed_tunnel_refused_total{reason="malformed_frame"}')
us=$(metric 'fed_tunnel_refused_total{reason="unknown_stream"}')
if [ "${mf:-0}" -ge $((${mf0:-0} + 2)) ] && [ "${us:-0}" -ge 2 ]; then
	ok "/metrics counts them: malformed_frame ${mf0:-0} -> $mf (unknown type, oversize), unknown_stream $us"
else
	bad "not counted: malformed_frame ${mf0:-0} -> ${mf:-0}, unknown_stream ${us:-0}"
fi
grep -q "frame for stream 99 refused (unknown_stream)" "$work/ctl.log" &&
	ok "logged: $(grep -o 'FIN frame for stream 99 refused[^"]*' "$work/ctl.log" | sed -n 1p); $(grep -o 'malformed frame[^"]*exceeds[^"]*' "$work/ctl.log" | sed -n 1p)" ||
	bad "unknown stream not logged"
kill -0 "$cpid" && [ "$(status_of $C)" = Connected ] &&
	ok "controller still serving; $C still Connected" || bad "controller or $C hurt by the bad frames: $(status_of $C)"

CRED=$(cat "$work/cred")
leak=
for f in "$work/ctl.log" "$work/agent.log" "$work/agent2.log" "$work/agent3.log" "$work/agent4.log"; do
	for s in "$TOKEN" "$SATOK" "$CRED" "${CRED##*.}" "$HASH" "$ROGUE"; do
		grep -qF -- "$s" "$f" && leak="$leak $(basename "$f")"
	done
done
[ -z "$leak" ] && ok "no bootstrap token, SA token or credential in any log" || bad "secret in:$leak"

# ---- liveness: freeze the agent, thaw it ------------------------------------------
t0=$(now)
kill -STOP "$apid"
if wait_eq 40 Offline status_of $C; then
	ok "agent frozen -> $C Offline in $(since "$t0")s (limit 40 s)"
else
	bad "not Offline: $(kfc $C '{.status}')"
fi
grep -q "no heartbeat" "$work/ctl.log" && ok "host dropped the silent tunnel: $(grep -o 'disconnected: no heartbeat[^"]*' "$work/ctl.log" | sed -n 1p)" ||
	bad "no heartbeat death logged"
km member2 -n $NS patch cm cfg --type merge -p '{"data":{"a":"drift"}}' >/dev/null
t0=$(now)
kill -CONT "$apid"
if wait_eq 40 Connected status_of $C; then
	ok "agent thawed -> reconnected with its credential, $C Connected in $(since "$t0")s"
else
	bad "not back: $(kfc $C '{.status}')"; tail -20 "$work/agent.log"
fi
if wait_eq 30 1 cmget; then
	ok "drift made while disconnected corrected after reconnect"
else
	bad "drift not corrected: $(cmget)"
fi
grep -q "connecting to .* with the cluster credential" "$work/agent.log" &&
	ok "reconnect used the rotated cluster credential, not the bootstrap token" ||
	bad "reconnect did not use the credential"
kill -0 "$apid" && ok "agent still running after the network errors" || bad "agent exited"

# ---- the cluster leaves the config: its tunnel is closed, reconnects refused -------
nref=$(grep -c "cluster '$C' is not in the Federation config" "$work/ctl.log" || true)
refused_more() { [ "$(grep -c "cluster '$C' is not in the Federation config" "$work/ctl.log" || true)" -gt "$nref" ]; }
agents() { metric "fed_tunnel_agents{cluster=\"$C\"}"; }
t0=$(now)
fed_federate_agents tun-b
if wait_eq 20 0 agents && wait_until 20 refused_more; then
	ok "$C removed from the config: its agent's tunnel closed in $(since "$t0")s and its reconnect refused"
else
	bad "tunnel of a removed cluster: agents $(agents); $(grep "$C" "$work/ctl.log" | tail -2)"
fi

echo "tunnel: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
