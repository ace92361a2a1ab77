#!/usr/bin/env bash
# Finding 11: the controller reaches an agent's cluster through a Unix
# socket in a directory only it can enter, not through a loopback port any
# local user could use as the agent. With an agent connected: the
# controller listens on TCP only on the tunnel and ops ports; the socket's
# directory (the default, a mkdtemp under $XDG_RUNTIME_DIR or /tmp) is
# 0700 and ours, and another uid (nobody, via setpriv) reaches the member
# neither through the socket nor through any port of the controller's;
# the member is Ready and objects propagate through the socket. At exit
# the socket and the directory are gone. --tunnel-socket-dir: a stale
# socket is removed at start, a directory of the wrong mode, owner or a
# symbolic link is refused with a message naming the flag.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-unix-$$ C=unix2
work=$(mktemp -d)
chmod 0755 "$work" # so that only the socket directory's own mode protects it
pass=0 fail=0 cpid= apid=

. "$(dirname "$0")/lib.sh"
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
status_of() { kfc "$1" '{.status.connectivityStatus}'; }

cleanup() {
	collect_artifacts "$work" || true
	[ -z "$apid" ] || kill -9 "$apid" 2>/dev/null || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	km member2 delete ns $NS --wait=false >/dev/null 2>&1 || true
	k delete ns $NS --wait=false >/dev/null 2>&1 || true
	fed_unfederate
	km member2 -n default delete sa fed-agent-unix --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete clusterrolebinding fed-agent-unix --ignore-not-found >/dev/null 2>&1 || true
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-unix-controller.log" 2>/dev/null || true
	cp "$work/agent.log" "${TMPDIR:-/tmp}/fed-e2e-unix-agent.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# TCP ports PID listens on, from its socket inodes (no ss -p needed).
tcp_listen_ports() { # PID
	local inodes hex
	inodes=$(ls -l /proc/"$1"/fd 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p' | sort -u | tr '\n' ' ')
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v want=" $inodes" '$4 == "0A" && index(want, " " $10 " ") { split($2, a, ":"); print a[2] }' |
		while read -r hex; do echo $((16#$hex)); done | sort -un
}
# As uid/gid 65534: GET /version through a Unix socket or a TCP port; prints the HTTP code.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -o /dev/null -w '%{http_code}' -m 3 "$@" 2>/dev/null || true; }

fed_install_local

# ---- the agent's ServiceAccount on member2 ---------------------------------------
km member2 -n default create sa fed-agent-unix >/dev/null
km member2 create clusterrolebinding fed-agent-unix --clusterrole=cluster-admin \
	--serviceaccount=default:fed-agent-unix >/dev/null
km member2 -n default create token fed-agent-unix --duration=1h >"$work/sa-token"
tokenfile_kubeconfig "$work/agent-kc" "$(srv member2)" "$(ca_data member2)" "$work/sa-token"
tunnel_token $C
fed_federate_agents $C

# ---- the default socket directory ---------------------------------------------------
start_ctl() { # extra args
	start_controller -a "$work/ctl.log" --health-period 1 --health-timeout 1 --failure-threshold 3 \
		--leader-elect=false --tunnel-address 127.0.0.1:0 --tunnel-heartbeat 1 "$@"
}
start_ctl
wait_until 30 grep -q "serving fed-agents" "$work/ctl.log" || { bad "tunnel not served"; tail "$work/ctl.log"; exit 1; }
tport=$(sed -n 's/.*serving fed-agents on .* (port \([0-9]*\)).*/\1/p' "$work/ctl.log" | sed -n 1p)
mport=$(sed -n 's/.*serving .* port \([0-9]*\).*/\1/p' "$work/ctl.log" | grep -vx "$tport" | sed -n 1p)
k -n kube-system get secret fed-tunnel -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/host-ca.crt"
start_agent -a "$work/agent.log" --host-address 127.0.0.1:$tport --host-ca-file "$work/host-ca.crt" \
	--bootstrap-token-file "$work/token" --credential-file "$work/cred" \
	--kubeconfig "$work/agent-kc" --heartbeat 1 --max-backoff 2
apid=$!
if wait_eq 40 Connected status_of $C; then
	ok "$C Connected through the tunnel"
else
	bad "$C not Ready: $(kfc $C '{.status}')"; tail -20 "$work/ctl.log" "$work/agent.log"; exit 1
fi

# (a) TCP listeners: the tunnel port and the ops port, nothing else
ports=$(tcp_listen_ports $cpid | tr '\n' ' ')
want=$(printf '%s\n' "$tport" "$mport" | sort -un | tr '\n' ' ')
if [ "$ports" = "$want" ]; then
	ok "the controller listens on TCP only on the tunnel port $tport and the ops port $mport"
else
	bad "the controller's TCP listeners are [$ports], want only [$want] (tunnel, ops)"
fi
# nobody reaches the member through any TCP port of the controller's
reached=
for p in $ports; do
	[ "$p" = "$tport" ] || [ "$p" = "$mport" ] || {
		code=$(as_nobody "http://127.0.0.1:$p/version")
		[ "$code" != 200 ] || reached="$reached $p"
	}
done
[ -z "$reached" ] && ok "no TCP port of the controller's reaches the member as another uid" ||
	bad "uid 65534 reached member2's apiserver as the agent through 127.0.0.1:$reached"

# (b) the socket and its directory
sdir=$(sed -n 's/.*reached through Unix sockets in \(.*\)$/\1/p' "$work/ctl.log" | sed -n 1p)
sock="$sdir/$C.sock"
if [ -n "$sdir" ] && [ -S "$sock" ]; then
	ok "the agent's cluster is reached through the Unix socket $sock"
else
	bad "no Unix socket for $C (directory '${sdir}')"
fi
if [ -n "$sdir" ] && [ "$(stat -c '%a %u' "$sdir")" = "700 $(id -u)" ] && [ ! -L "$sdir" ]; then
	ok "its directory is mode 0700, owned by uid $(id -u)"
else
	bad "socket directory: $(stat -c '%a %u %F' "$sdir" 2>&1)"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 --unix-socket "$sock" http://localhost/version || true)
[ "$code" = 200 ] && ok "the controller's own uid reaches member2 through the socket (HTTP $code)" ||
	bad "through the socket as the owner: HTTP $code"
code=$(as_nobody --unix-socket "$sock" http://localhost/version)
if [ "$code" = 000 ]; then
	ok "uid 65534 cannot connect to the socket (curl: $(setpriv --reuid=65534 --regid=65534 --clear-groups curl -sS -m 3 --unix-socket "$sock" http://localhost/version 2>&1 | head -1))"
else
	bad "uid 65534 got HTTP $code through $sock"
fi

# (c) propagation through the socket
k create ns $NS >/dev/null
fed_ns_cm $NS $C cfg 1
cmget() { km member2 -n $NS get cm cfg -o jsonpath='{.data.a}' 2>/dev/null || true; }
wait_eq 30 1 cmget && ok "FederatedConfigMap propagated to $C through the socket" ||
	bad "no ConfigMap in member2: $(k -n $NS get federatedconfigmap cfg -o jsonpath='{.status}')"

# at exit: the socket and the directory made for it are removed
kill -TERM $cpid
wait_until 20 bash -c "! kill -0 $cpid 2>/dev/null" || kill -9 $cpid 2>/dev/null || true
cpid=
[ -n "$sdir" ] && [ ! -e "$sdir" ] && ok "the socket directory is removed at exit" ||
	bad "left behind: $(ls -la "$sdir" 2>&1)"

# ---- --tunnel-socket-dir: stale sockets, wrong mode, owner, symbolic links --------------
dir="$work/socks"
mkdir -m 0700 "$dir"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$dir/$C.sock"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$dir/gone.sock"
echo keep >"$dir/notes.txt"
: >"$work/ctl.log"
start_ctl --tunnel-socket-dir "$dir"
wait_until 30 grep -q "serving fed-agents" "$work/ctl.log" || { bad "tunnel not served"; tail "$work/ctl.log"; }
[ ! -e "$dir/gone.sock" ] && [ -f "$dir/notes.txt" ] &&
	ok "stale sockets in --tunnel-socket-dir removed at start, other files kept" ||
	bad "after start: $(ls -la "$dir")"
kill -TERM $cpid
wait_until 20 bash -c "! kill -0 $cpid 2>/dev/null" || kill -9 $cpid 2>/dev/null || true
cpid=
[ -d "$dir" ] && [ ! -e "$dir/$C.sock" ] && ok "a given --tunnel-socket-dir is kept at exit, its sockets removed" ||
	bad "after exit: $(ls -la "$dir" 2>&1)"

# not start_controller: a start that must fail, run in the foreground for
# its exit status and message
refused() { # DESCRIPTION DIR WANT_IN_MESSAGE
	local out rc=0
	out=$(timeout 20 "$FED_BIN_DIR/fed-controller" --kubeconfig "$K" --context host \
		--leader-elect=false --tunnel-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 \
		--tunnel-socket-dir "$2" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q -- "--tunnel-socket-dir $2.*$3" <<<"$out"; then
		ok "$1 refused: $(grep -- --tunnel-socket-dir <<<"$out" | sed 's/.*\] //' | head -1)"
	else
		bad "$1: exit $rc, $(tail -2 <<<"$out")"
	fi
}
mkdir -m 0755 "$work/open"
refused "a directory of mode 0755" "$work/open" "mode 0755"
mkdir -m 0700 "$work/theirs"
chown 65534:65534 "$work/theirs"
refused "a directory of another owner" "$work/theirs" "owned by uid 65534"
ln -s "$dir" "$work/link"
refused "a symbolic link" "$work/link" "symbolic link"

echo "tunnel_unix: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
