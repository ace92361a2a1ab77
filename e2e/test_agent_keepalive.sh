#!/usr/bin/env bash
# fed-agent's sockets to its member apiserver end when the apiserver
# vanishes without a RST (audit finding 7), so the host's watches through
# the tunnel re-list instead of going stale forever.
# The agent runs in a network namespace with two veth pairs to the host:
# A carries the tunnel (fed-controller listens on A's host address), B
# reaches member1's apiserver through a small TCP relay on B's host
# address. With the controller watching member1's ConfigMaps through the
# tunnel, link B is cut (veth down): within the keepalive/user timeout
# (flags below: 2 s idle, 1 s interval, 2 probes, 5 s user timeout) the
# agent's apiserver connections for its streams are gone (all but its own
# member client's) and the controller's watch ended,
# while the tunnel stays up. The relay is then killed (its RSTs lost on the
# cut link, as when a node dies), a drift is made in member1 directly, the
# relay restarted and link B restored: the controller watches again and
# corrects the drift. The controller's failure threshold is 2 minutes, so
# its own health checks do not stop the watches during the cut. With the
# old agent the watch connections stay ESTABLISHED across the cut, the
# watch never ends, and the drift is never seen.
# KA_FLAGS and CUT_DEADLINE override the keepalive flags and the limit
# (e.g. KA_FLAGS= CUT_DEADLINE=90 checks the defaults: 30 s + 3 x 10 s).
# Needs root (ip netns).
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-keepalive-$$ C=member1
NETNS=fed-ka-$$ VAH=fka$$h VAM=fka$$m VBH=fkb$$h VBM=fkb$$m
# a /29 of 198.19.128.0/17 of our own (test_tunnel_https_proxy uses the
# lower half of 198.19.0.0/16): A and B are its two /30s
NET=198.19.$((128 + (($$ >> 5) & 127))) BASE=$((($$ & 31) * 8))
HOSTA=$NET.$((BASE + 1)) MEMBA=$NET.$((BASE + 2))
HOSTB=$NET.$((BASE + 5)) MEMBB=$NET.$((BASE + 6))
KA_FLAGS=${KA_FLAGS---tcp-keepalive-idle 2 --tcp-keepalive-interval 1 --tcp-keepalive-count 2 --tcp-user-timeout 5}
CUT_DEADLINE=${CUT_DEADLINE:-15}
work=$(mktemp -d)
pass=0 fail=0 cpid= apid= rpid=

. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1 ||
	{ echo "FAIL: this test needs root and ip netns"; exit 1; }
inns() { ip netns exec "$NETNS" "$@"; }
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
status_of() { kfc "$1" '{.status.connectivityStatus}'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }

cleanup() {
	local p
	collect_artifacts "$work" || true
	for p in "$apid" "$cpid" "$rpid"; do
		[ -z "$p" ] || kill -9 "$p" 2>/dev/null || true
	done
	ip netns del "$NETNS" 2>/dev/null || true
	ip link del "$VAH" 2>/dev/null || true
	ip link del "$VBH" 2>/dev/null || true
	k delete ns $NS --wait=false >/dev/null 2>&1 || true
	km $C delete ns $NS --wait=false >/dev/null 2>&1 || true
	km $C -n default delete sa fed-agent-ka --ignore-not-found >/dev/null 2>&1 || true
	km $C delete clusterrolebinding fed-agent-ka --ignore-not-found >/dev/null 2>&1 || true
	fed_unfederate
	for p in ctl agent relay; do
		cp "$work/$p.log" "${TMPDIR:-/tmp}/fed-e2e-agent-keepalive-$p.log" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

# ---- the agent's namespace: link A for the tunnel, link B to the apiserver ----------
ip netns add "$NETNS"
inns ip link set lo up
for l in "A $VAH $VAM $HOSTA $MEMBA" "B $VBH $VBM $HOSTB $MEMBB"; do
	set -- $l
	ip link add "$2" type veth peer name "$3"
	ip link set "$3" netns "$NETNS"
	ip addr add "$4/30" dev "$2"
	ip link set "$2" up
	inns ip addr add "$5/30" dev "$3"
	inns ip link set "$3" up
done

# the relay to member1's apiserver (on the host's 127.0.0.1) on link B;
# its sockets close with a RST (SO_LINGER 0), never a retransmitted FIN
cat >"$work/relay.py" <<'EOF'
import socket, struct, sys, threading
lhost, lport, uhost, uport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((lhost, lport))
ls.listen(64)
print("relay listening", flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
while True:
    c, _ = ls.accept()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    try:
        u = socket.create_connection((uhost, uport), 5)
    except OSError:
        c.close()
        continue
    u.settimeout(None)
    for a, b in ((c, u), (u, c)):
        threading.Thread(target=pipe, args=(a, b), daemon=True).start()
EOF
MSERVER=$(srv $C)
mport=${MSERVER##*:}
rport=$(free_port)
start_relay() {
	local n
	n=$(grep -c "relay listening" "$work/relay.log" 2>/dev/null || true)
	python3 "$work/relay.py" "$HOSTB" "$rport" 127.0.0.1 "$mport" >>"$work/relay.log" 2>&1 &
	rpid=$!
	# this relay's line, not the one before it
	wait_until 10 eval '[ "$(grep -c "relay listening" "$work/relay.log")" -gt "${n:-0}" ]'
}
start_relay || { bad "relay did not start: $(cat "$work/relay.log")"; exit 1; }

# the agent's own ServiceAccount token in member1; its apiserver only via the relay
km $C -n default create sa fed-agent-ka >/dev/null
km $C create clusterrolebinding fed-agent-ka --clusterrole=cluster-admin --serviceaccount=default:fed-agent-ka >/dev/null
km $C -n default create token fed-agent-ka --duration=1h >"$work/sa-token"
cat >"$work/agent-kc" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: m
  cluster: {server: "https://$HOSTB:$rport", certificate-authority-data: $(ca_data $C), tls-server-name: 127.0.0.1}
users:
- name: m
  user: {tokenFile: $work/sa-token}
contexts:
- name: m
  context: {cluster: m, user: m}
current-context: m
EOF

# ---- the host: the tunnel on link A ----------------------------------------------------
fed_install_local
tunnel_token $C
fed_federate_agents $C
# a failure threshold of 2 minutes: the health checks that fail during the
# cut must not be what ends the watches (an Offline member's are stopped)
start_controller "$work/ctl.log" --health-period 2 --health-timeout 1 --failure-threshold 60 \
	--leader-elect=false --tunnel-address "$HOSTA:0" --tunnel-heartbeat 2 \
	--tunnel-sans "IP:$HOSTA" --log-level debug
wait_until 30 grep -q "serving fed-agents" "$work/ctl.log" || { bad "tunnel not served"; tail "$work/ctl.log"; exit 1; }
tport=$(sed -n 's/.*serving fed-agents on .* (port \([0-9]*\)).*/\1/p' "$work/ctl.log" | sed -n 1p)
k -n kube-system get secret fed-tunnel -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/host-ca.crt"

# ---- the agent ---------------------------------------------------------------------------
t0=$(now)
# ip netns exec execs the agent: $! is the agent itself
# shellcheck disable=SC2086 # KA_FLAGS is a list of flags
FED_WRAP=(ip netns exec "$NETNS")
start_agent "$work/agent.log" --host-address "$HOSTA:$tport" --host-ca-file "$work/host-ca.crt" \
	--bootstrap-token-file "$work/token" --credential-file "$work/cred" \
	--kubeconfig "$work/agent-kc" --heartbeat 2 --max-backoff 2 --log-level debug $KA_FLAGS
apid=$!
FED_WRAP=()
if wait_eq 40 Connected status_of $C; then
	ok "agent (its apiserver through link B) Connected through the tunnel on link A in $(since "$t0")s"
else
	bad "$C not Connected: $(kfc $C '{.status}')"; tail -5 "$work/ctl.log" "$work/agent.log"; exit 1
fi

k create ns $NS >/dev/null
fed_ns_cm $NS $C cfg 1
cmget() { km $C -n $NS get cm cfg -o jsonpath='{.data.a}' 2>/dev/null || true; }
wait_eq 30 1 cmget || { bad "not propagated: $(k -n $NS get federatedconfigmap cfg -o jsonpath='{.status}')"; exit 1; }
wait_until 30 grep -q "\[$C\] watching managed configmaps" "$work/ctl.log" ||
	{ bad "the controller does not watch $C's configmaps"; exit 1; }
# the agent's connections to the apiserver (the relay), seen from its
# namespace: their local addresses, and how many of those made before the
# cut are still open (in any state but TIME-WAIT: a socket in FIN-WAIT or
# CLOSE-WAIT is still the agent's, and still open)
apiconns() { inns ss -Htn state established "( dport = :$rport )" | awk '{ print $3 }'; }
still_open() {
	local open l n=0
	open=$(inns ss -Htn state connected exclude time-wait "( dport = :$rport )" | awk '{ print $4 }')
	for l in $at_cut; do grep -qxF "$l" <<<"$open" && n=$((n + 1)); done
	echo $n
}
# all but one: the agent's own member client (metadata, credential Secret;
# lib/kube_easy.c's curl with its own keepalive, 30 s + 9 x 10 s) is no
# stream bridge
bridges_gone() { [ "$(still_open)" -le 1 ]; }
at_cut=$(apiconns)
n0=$(wc -w <<<"$at_cut")
[ "$n0" -ge 1 ] && ok "FederatedConfigMap propagated; the agent holds $n0 connections to the apiserver (watches among them)" ||
	{ bad "no agent connection to the apiserver"; exit 1; }

# ---- cut link B: the apiserver connections end, the tunnel stays ----------------------------
cut=$(wc -l <"$work/ctl.log")
since_cut() { tail -n +"$((cut + 1))" "$work/ctl.log"; }
watch_ended() { since_cut | grep -q "\[$C\] watch configmaps ended"; }
t0=$(now)
ip link set "$VBH" down
if wait_until "$CUT_DEADLINE" bridges_gone; then
	ok "link B cut: $((n0 - $(still_open))) of the $n0 agent connections to the apiserver (all its streams') ended in $(since "$t0")s (limit $CUT_DEADLINE s)"
else
	bad "link B cut: $(still_open) of the $n0 agent connections to the apiserver still open after $(since "$t0")s: $(inns ss -Htn exclude time-wait "( dport = :$rport )" | awk '{ print $1 }' | sort | uniq -c | xargs)"
fi
stopped() { since_cut | grep -q "\[$C\] stopped watching configmaps"; }
if stopped; then
	bad "the controller stopped its watches itself (Offline): the test proves nothing"
elif wait_until 10 watch_ended; then
	ok "the host saw its watch end: $(since_cut | grep -m1 "\[$C\] watch configmaps ended" | sed 's/^[^ ]* [a-z]* *//')"
else
	bad "the controller's watch of $C's configmaps did not end"
fi
grep -q "disconnected: no heartbeat" <(since_cut) && bad "the tunnel died (it should not: link A is up)" ||
	ok "the tunnel stayed up (link A)"

# ---- the apiserver side forgets the connections (RSTs lost), drift, restore --------------------
kill -9 "$rpid"
wait "$rpid" 2>/dev/null || true
km $C -n $NS patch cm cfg --type merge -p '{"data":{"a":"drift"}}' >/dev/null
start_relay
t0=$(now)
ip link set "$VBH" up
# the first probe that passes tells the watches waiting out their backoff
# (up to 30 s: the CI run of a0868a0 under ASan waited past 40 s) to
# watch again now: a health period (2 s) and a re-list, not the backoff
if wait_eq 15 1 cmget; then
	ok "link B restored: the host watched again and corrected the drift made during the cut in $(since "$t0")s"
else
	bad "drift made during the cut not corrected in 15 s ($(cmget)): the host's watch is stale"
	echo "the agent's connections to the relay now:"
	inns ss -tn "( dport = :$rport )" | sed 's/^/  /'
	echo "relay:"; ss -ltn "( sport = :$rport )" | sed 's/^/  /'
fi
# a probe that failed during the cut must be followed by "answers again"
# within a health period or two (else the watches wait out their backoff);
# with no failed probe, there is nothing to answer again
answered() { since_cut | grep -q "\[$C\] answers again"; }
if ! since_cut | grep -q "\[$C\] probe failed"; then
	ok "no probe failed during the cut (the watches recovered on their own)"
elif wait_until 6 answered; then
	ok "the controller retried at once when $C answered again"
else
	bad "probes failed during the cut, and no 'answers again' from the controller: the watches waited out their backoff"
fi

kill -TERM "$apid"
rc=0
wait_until 10 eval '! kill -0 '"$apid"' 2>/dev/null' || kill -9 "$apid" 2>/dev/null || true
wait "$apid" 2>/dev/null || rc=$?
apid=
[ "$rc" = 0 ] && ok "agent stopped cleanly on SIGTERM" || bad "agent exited $rc on SIGTERM: $(tail -3 "$work/agent.log")"

echo "agent-keepalive: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
