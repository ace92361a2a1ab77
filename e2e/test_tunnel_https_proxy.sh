#!/usr/bin/env bash
# fed-agent through a real HTTPS CONNECT proxy: stunnel (TLS, certificate
# from a test CA made here) in front of tinyproxy (with BasicAuth). The
# member cluster and its agent run in a network namespace joined to the
# host by one veth pair in 198.18.0.0/15; the tunnel listens on the host's
# 127.0.0.1 and tinyproxy on 127.0.0.1 too, so the agent's only way out is
# stunnel on the veth address: TLS to the proxy, CONNECT inside it, the
# tunnel's own TLS (pinned host CA) inside that.
# Refused, each with its message and never connecting: a proxy certificate
# from another CA (or from the system store), a wrong proxy password, an
# unsupported scheme.
# Then the right --proxy-ca-file: Connected, propagation, tinyproxy logged
# the CONNECT, no secret in any log.
# Needs root (ip netns), tinyproxy and stunnel4 (scripts/setup installs them).
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-hproxy-$$ C=private
NETNS=fed-hp-$$ VH=fh$$h VM=fh$$m
# a /30 of 198.18.0.0/15 of our own (198.19.x: apart from test_tunnel_netns)
NET=198.19.$((($$ >> 6) & 255)) BASE=$((($$ & 63) * 4))
HOSTIP=$NET.$((BASE + 1)) MEMBERIP=$NET.$((BASE + 2))
PXUSER=fedagent PXPASS=pw-$(openssl rand -hex 12)
work=$(mktemp -d)
MSTATE=$work/clusters
pass=0 fail=0 cpid= apid= tpid= spid=

. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1 ||
	{ echo "FAIL: this test needs root and ip netns"; exit 1; }
command -v tinyproxy >/dev/null || { echo "FAIL: tinyproxy is not installed (run scripts/setup)"; exit 1; }
command -v stunnel4 >/dev/null || { echo "FAIL: stunnel4 is not installed (run scripts/setup)"; exit 1; }
inns() { ip netns exec "$NETNS" "$@"; }
kp() { inns kubectl --kubeconfig "$MSTATE/kubeconfig" --context $C "$@"; }
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
status_of() { kfc "$1" '{.status.connectivityStatus}'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }

cleanup() {
	local p
	collect_artifacts "$work" "$PXPASS" || true
	for p in "$apid" "$cpid" "$spid" "$tpid"; do
		[ -z "$p" ] || kill -9 "$p" 2>/dev/null || true
	done
	"$FED_LOCAL_CLUSTERS" down --state-dir "$MSTATE" >/dev/null 2>&1 || true
	ip netns del "$NETNS" 2>/dev/null || true
	ip link del "$VH" 2>/dev/null || true
	k delete ns $NS --wait=false >/dev/null 2>&1 || true
	fed_unfederate
	for p in ctl agent-badca agent-sysca agent-badpw agent-scheme agent tinyproxy stunnel; do
		cp "$work/$p.log" "${TMPDIR:-/tmp}/fed-e2e-https-proxy-$p.log" 2>/dev/null || true
	done
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

kp -n default create sa fed-agent >/dev/null
kp create clusterrolebinding fed-agent --clusterrole=cluster-admin --serviceaccount=default:fed-agent >/dev/null
kp -n default create token fed-agent --duration=1h >"$work/sa-token"
MCA=$(kubectl --kubeconfig "$MSTATE/kubeconfig" config view --raw -o jsonpath="{.clusters[?(@.name==\"$C\")].cluster.certificate-authority-data}")
tokenfile_kubeconfig "$work/agent-kc" "$MSERVER" "$MCA" "$work/sa-token"

# ---- the host: the tunnel on its loopback only ------------------------------------------
fed_install_local
tunnel_token $C
fed_federate_agents $C
start_controller "$work/ctl.log" --health-period 2 --health-timeout 1 --failure-threshold 3 \
	--leader-elect=false --tunnel-address "127.0.0.1:0" --tunnel-heartbeat 2 \
	--tunnel-sans "IP:127.0.0.1" --log-level debug
wait_until 30 grep -q "serving fed-agents" "$work/ctl.log" || { bad "tunnel not served"; cat "$work/ctl.log"; exit 1; }
tport=$(sed -n 's/.*serving fed-agents on .* (port \([0-9]*\)).*/\1/p' "$work/ctl.log" | sed -n 1p)
k -n kube-system get secret fed-tunnel -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/host-ca.crt"

# ---- the HTTPS proxy: a test CA, stunnel on the veth address, tinyproxy behind it ------
newca() { # NAME
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj "/CN=fed e2e $1" -keyout "$work/$1.key" -out "$work/$1.crt" 2>/dev/null
}
newca proxy-ca
newca other-ca
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=proxy" \
	-keyout "$work/proxy.key" -out "$work/proxy.csr" 2>/dev/null
printf 'subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$HOSTIP" >"$work/proxy.ext"
openssl x509 -req -in "$work/proxy.csr" -CA "$work/proxy-ca.crt" -CAkey "$work/proxy-ca.key" \
	-CAcreateserial -days 1 -extfile "$work/proxy.ext" -out "$work/proxy.crt" 2>/dev/null
pport=$(free_port) sport=$(free_port)
cat >"$work/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port $pport
Listen 127.0.0.1
Timeout 600
Allow 127.0.0.1
ConnectPort $tport
BasicAuth $PXUSER $PXPASS
MaxClients 20
LogLevel Info
EOF
tinyproxy -d -c "$work/tinyproxy.conf" >"$work/tinyproxy.log" 2>&1 &
tpid=$!
cat >"$work/stunnel.conf" <<EOF
foreground = yes
pid =
[https-proxy]
accept = $HOSTIP:$sport
connect = 127.0.0.1:$pport
cert = $work/proxy.crt
key = $work/proxy.key
EOF
stunnel4 "$work/stunnel.conf" >"$work/stunnel.log" 2>&1 &
spid=$!
wait_until 10 grep -q "Configuration successful" "$work/stunnel.log" ||
	{ bad "stunnel did not start: $(tail -3 "$work/stunnel.log")"; exit 1; }
# what the namespace can and cannot reach
reach() { inns python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)' "$1" "$2" 2>/dev/null; }
if ! reach "$HOSTIP" "$tport" && ! reach 127.0.0.1 "$tport" && ! reach "$HOSTIP" "$pport" && reach "$HOSTIP" "$sport"; then
	ok "from the namespace only the HTTPS proxy ($HOSTIP:$sport) is reachable: not the tunnel ($tport), not tinyproxy ($pport)"
else
	bad "the namespace reaches more than the HTTPS proxy"
fi
PROXY="https://$PXUSER:$PXPASS@$HOSTIP:$sport"

# run_agent LOG HTTPS_PROXY [fed-agent flags...]: in the namespace; $! is the agent
run_agent() {
	local log=$1 px=$2; shift 2
	local FED_WRAP=(ip netns exec "$NETNS")
	HTTPS_PROXY="$px" NO_PROXY="localhost,.svc" start_agent "$work/$log.log" \
		--host-address "127.0.0.1:$tport" --host-ca-file "$work/host-ca.crt" \
		--bootstrap-token-file "$work/token" --credential-file "$work/cred" \
		--kubeconfig "$work/agent-kc" --heartbeat 2 --max-backoff 2 --log-level debug "$@"
	apid=$!
}
# refused LOG WHAT PATTERN: the agent logs PATTERN at least 3 times (it keeps
# retrying), stays alive, and the cluster never connects
refused() {
	local log=$1 what=$2 pat=$3
	if _count_ge "$work/$log.log" "$pat" 3; then
		if kill -0 "$apid" 2>/dev/null && [ "$(status_of $C)" != Connected ] && [ ! -e "$work/cred" ]; then
			ok "$what refused, retried $(grep -c 'reconnecting in' "$work/$log.log") times, never connected: $(grep -m1 -F -- "$pat" "$work/$log.log" | sed 's/^[^ ]* [a-z]* *//')"
		else
			bad "$what: the agent exited or connected ($(status_of $C))"
		fi
	else
		bad "$what: no '$pat' in the agent's log: $(grep -v member "$work/$log.log" | tail -3)"
	fi
	stop_agent "$log"
}
# SIGTERM: the agent stops cleanly (exit 0; under ASan that includes no leak)
stop_agent() { # LOG
	local rc=0
	kill -TERM "$apid" 2>/dev/null || true
	wait_until 15 _gone "$apid" || kill -9 "$apid" 2>/dev/null || true
	wait "$apid" 2>/dev/null || rc=$?
	apid=
	[ "$rc" = 0 ] && ok "agent ($1) stopped cleanly on SIGTERM" ||
		bad "agent ($1) exited $rc on SIGTERM: $(tail -5 "$work/$1.log")"
}
_gone() { ! kill -0 "$1" 2>/dev/null; }
_count_ge() { [ "$(grep -cF -- "$2" "$1" 2>/dev/null)" -ge "$3" ]; }

# ---- refused: the proxy's certificate from another CA ------------------------------------
run_agent agent-badca "$PROXY" --proxy-ca-file "$work/other-ca.crt"
wait_until 30 _count_ge "$work/agent-badca.log" "its TLS certificate is not trusted" 3 || true
refused agent-badca "a proxy certificate not signed by --proxy-ca-file" \
	"--proxy-ca-file $work/other-ca.crt must hold the CA that signed it"
grep -q "CONNECT 127.0.0.1\|Established connection" "$work/tinyproxy.log" &&
	bad "tinyproxy saw a CONNECT through an untrusted proxy certificate" ||
	ok "no CONNECT reached tinyproxy through the untrusted certificate"

# ---- refused: the system store does not know the test CA ---------------------------------
run_agent agent-sysca "$PROXY"
wait_until 30 _count_ge "$work/agent-sysca.log" "not trusted by the system store" 3 || true
refused agent-sysca "without --proxy-ca-file, a proxy certificate from a private CA" \
	"give its CA with --proxy-ca-file FILE"

# ---- refused: a wrong proxy password (tinyproxy: 401; status line only) -------------------
run_agent agent-badpw "https://$PXUSER:wrong-$PXPASS@$HOSTIP:$sport" --proxy-ca-file "$work/proxy-ca.crt"
wait_until 30 _count_ge "$work/agent-badpw.log" "CONNECT refused" 3 || true
refused agent-badpw "a wrong proxy password" \
	"proxy $HOSTIP:$sport: CONNECT refused: \"HTTP/1.0 401 Unauthorized\" (proxy authentication: check user:password"
grep -qi "tinyproxy/\|Proxy-Authenticate\|realm=" "$work/agent-badpw.log" &&
	bad "the proxy's headers reached the agent's log" ||
	ok "the refusal shows the status line only, none of the proxy's headers"

# ---- refused: an unsupported scheme --------------------------------------------------------
run_agent agent-scheme "socks5://$PXUSER:$PXPASS@$HOSTIP:$sport" --proxy-ca-file "$work/proxy-ca.crt"
wait_until 30 _count_ge "$work/agent-scheme.log" "unsupported scheme" 3 || true
refused agent-scheme "a socks5:// proxy URL" "unsupported scheme socks5:// (use http:// or https://"

# ---- the right CA: connected through the HTTPS proxy ----------------------------------------
t0=$(now)
run_agent agent "$PROXY" --proxy-ca-file "$work/proxy-ca.crt"
if wait_eq 40 Connected status_of $C; then
	ok "agent through the HTTPS proxy: $C Ready/Connected in $(since "$t0")s ($(kfc $C '{.status.kubernetesVersion}'))"
else
	bad "$C not Connected through the HTTPS proxy: $(kfc $C '{.status}')"
	tail -5 "$work/agent.log" "$work/tinyproxy.log" "$work/stunnel.log"; exit 1
fi
if grep -q "through the proxy $HOSTIP:$sport (TLSv1.[23] to the proxy)" "$work/agent.log" &&
	grep -q "CONNECT 127.0.0.1:$tport" "$work/tinyproxy.log" &&
	grep -q "Established connection to host \"127.0.0.1\"" "$work/tinyproxy.log" &&
	grep -q "Service \[https-proxy\] accepted connection from $MEMBERIP" "$work/stunnel.log"; then
	ok "the tunnel went through stunnel (TLS from $MEMBERIP) and tinyproxy: $(grep -m1 -o "CONNECT 127.0.0.1:$tport.*" "$work/tinyproxy.log")"
else
	bad "no CONNECT through the HTTPS proxy: $(tail -3 "$work/tinyproxy.log")"
fi

k create ns $NS >/dev/null
cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedNamespace
metadata: {name: $NS, namespace: $NS}
spec:
  placement: {clusters: [{name: $C}]}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: via-https-proxy, namespace: $NS}
spec:
  template: {data: {a: "1"}}
  placement: {clusters: [{name: $C}]}
EOF
cmget() { kp -n $NS get cm "$1" -o jsonpath='{.data.a}' 2>/dev/null || true; }
wait_eq 30 1 cmget via-https-proxy && ok "FederatedConfigMap propagated through the HTTPS-proxied tunnel" ||
	bad "not propagated: $(k -n $NS get federatedconfigmap via-https-proxy -o jsonpath='{.status}')"
kp -n $NS patch cm via-https-proxy --type merge -p '{"data":{"a":"drift"}}' >/dev/null
wait_eq 30 1 cmget via-https-proxy && ok "drift in the member corrected through the proxy" ||
	bad "drift not corrected: $(cmget via-https-proxy)"

leak=
for s in "$TOKEN" "$(cat "$work/sa-token")" "$(cat "$work/cred")" "$PXPASS" \
	"$(printf '%s:%s' "$PXUSER" "$PXPASS" | base64 -w0)"; do
	grep -qF -- "$s" "$work"/*.log && leak=1
done
[ -z "$leak" ] && ok "no token, credential or proxy password in any log" || bad "secret in a log"

stop_agent agent

echo "tunnel-https-proxy: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
