#!/usr/bin/env bash
# Cluster connect through an agent (issue 17): the controller's second Unix
# socket per agent cluster, <dir>/<cluster>_connect.sock, opens tunnel
# streams of the connect kind, on which fed-agent keeps the caller's
# Impersonate-* headers and lets a websocket/SPDY upgrade through. Spoken
# to directly here (the aggregated API in front of it is another test's),
# against member2 joined in agent mode, the agent's ServiceAccount allowed
# everything but impersonation at first:
#   - both sockets exist, mode 0600, in the 0700 socket directory;
#   - the member answers a SelfSubjectReview on the connect socket with
#     403 (the ServiceAccount may not impersonate), then, once a
#     ClusterRole grants impersonate on users and groups (what
#     `fedctl join --cluster-connect` grants), as user alice in group
#     devs; the same request on the ordinary socket is answered as the
#     agent's ServiceAccount (stripped);
#   - Impersonate-User: system:admin, Impersonate-Group: system:masters and
#     a request without Impersonate-User are refused by the agent (403);
#   - a websocket upgrade (a watch of ConfigMaps that only group devs may
#     see) gets 101 on the connect socket and the watch's frames, a close
#     frame sent raw ends it; on the ordinary socket the Upgrade is removed
#     (plain 200 as the ServiceAccount);
#   - a second request on one connect connection is refused;
#   - an agent of the tunnel's first version (a hand-made one: HELLO
#     without features) gets ordinary streams but never a connect stream:
#     the connect socket's connection is closed at once;
#   - with no agent, the connect socket's connections are closed at once;
#     at exit both sockets are removed.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-connect-$$ C=conn2 SA=fed-agent-connect
work=$(mktemp -d)
pass=0 fail=0 cpid='' apid='' oapid=''
pids=()

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
status_of() { kfc "$1" '{.status.connectivityStatus}'; }
metric() { curl -s "http://127.0.0.1:$mport/metrics" | sed -n "s/^$1 //p"; }

cleanup() {
	collect_artifacts "$work" || true
	[ -z "$apid" ] || kill -9 "$apid" 2>/dev/null || true
	[ -z "$oapid" ] || kill -9 "$oapid" 2>/dev/null || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	km member2 delete ns $NS --wait=false >/dev/null 2>&1 || true
	fed_finalize_ns member2 $NS
	fed_unfederate
	km member2 -n default delete sa $SA --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete clusterrolebinding $SA $SA-impersonate --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete clusterrole $SA $SA-impersonate --ignore-not-found >/dev/null 2>&1 || true
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-connect-controller.log" 2>/dev/null || true
	cp "$work/agent.log" "${TMPDIR:-/tmp}/fed-e2e-connect-agent.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# HTTP over a Unix socket: prints the status code, the body goes to $work/body.
SSR='{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}'
review() { # SOCKET [HEADER...]
	local sock=$1 h=()
	shift
	for x in "$@"; do h+=(-H "$x"); done
	curl -s -m 10 -o "$work/body" -w '%{http_code}' --unix-socket "$sock" -X POST \
		http://localhost/apis/authentication.k8s.io/v1/selfsubjectreviews \
		-H 'Content-Type: application/json' ${h[@]+"${h[@]}"} -d "$SSR" || true
}
username() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"]["userInfo"]["username"])' "$work/body" 2>/dev/null || true; }
message() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["message"])' "$work/body" 2>/dev/null || true; }
groups() { python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["status"]["userInfo"].get("groups", [])))' "$work/body" 2>/dev/null || true; }

# A websocket watch of NS's ConfigMaps over a Unix socket, by hand (no
# client library): the status line, then for a 101 the first frame's
# frames' text and what a close frame sent raw gets back (EOF: the apiserver ended
# the watch). Prints "STATUS|TEXT|AFTER_CLOSE".
ws_watch() { # SOCKET [HEADER...]
	python3 - "$@" <<'PYEOF'
import os, socket, struct, sys, time
sock, headers = sys.argv[1], sys.argv[2:]
ns = os.environ["NS"]
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sock)
req = ("GET /api/v1/namespaces/%s/configmaps?watch=1 HTTP/1.1\r\nHost: localhost\r\n"
       "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://localhost\r\n" % ns)
req += "".join(h + "\r\n" for h in headers) + "\r\n"
s.sendall(req.encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(65536)
    if not d:
        break
    buf += d
head, _, rest = buf.partition(b"\r\n\r\n")
status = head.split(b"\r\n")[0].decode(errors="replace")
code = status.split(" ")[1] if " " in status else "none"
if code != "101":
    print("%s||" % code)
    sys.exit(0)
def need(n):
    global rest
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError
        rest += d
    out, rest = rest[:n], rest[n:]
    return out
# the watch's frames (ADDED for each ConfigMap), up to the one wanted
text = ""
try:
    for _ in range(8):
        b0, b1 = need(2)
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack(">H", need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", need(8))[0]
        text += need(n).decode(errors="replace")
        if "connect-e2e" in text:
            break
except (EOFError, socket.timeout):
    pass
# a masked close frame, raw through the tunnel: the apiserver ends the watch
s.sendall(b"\x88\x80\x01\x02\x03\x04")
after = "eof"
t0 = time.time()
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        if b"fed-agent:" in d:
            after = "refused-by-agent"
except socket.timeout:
    after = "no-eof"
text = text.replace("|", "/").replace("\n", " ").replace("\r", " ")
print("%s|%s|%s" % (code, text[:2000], after))
PYEOF
}

fed_install_local
fed_reset

# ---- member2: the agent's ServiceAccount, everything but impersonation -------------
cat <<EOF | km member2 apply -f - >/dev/null
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: $SA}
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: [get, list, watch, create, update, patch, delete, deletecollection]
- nonResourceURLs: ["*"]
  verbs: [get]
EOF
km member2 -n default create sa $SA >/dev/null
km member2 create clusterrolebinding $SA --clusterrole=$SA --serviceaccount=default:$SA >/dev/null
km member2 -n default create token $SA --duration=1h >"$work/sa-token"
tokenfile_kubeconfig "$work/agent-kc" "$(srv member2)" "$(ca_data member2)" "$work/sa-token"
# what group devs may do there: watch ConfigMaps in NS
km member2 create ns $NS >/dev/null
km member2 -n $NS create configmap connect-e2e --from-literal=a=1 >/dev/null
km member2 -n $NS create role cm-reader --verb=get,list,watch --resource=configmaps >/dev/null
km member2 -n $NS create rolebinding cm-reader-devs --role=cm-reader --group=devs >/dev/null

# ---- the controller and the agent -----------------------------------------------------
tunnel_token $C
fed_federate_agents $C
sdir="$work/socks"
start_controller "$work/ctl.log" --health-period 1 --health-timeout 1 --failure-threshold 3 \
	--leader-elect=false --tunnel-address 127.0.0.1:0 --tunnel-heartbeat 1 \
	--tunnel-socket-dir "$sdir" --log-level debug
wait_until 30 grep -q "serving fed-agents" "$work/ctl.log" || { bad "tunnel not served"; tail "$work/ctl.log"; exit 1; }
tport=$(sed -n 's/.*serving fed-agents on .* (port \([0-9]*\)).*/\1/p' "$work/ctl.log" | sed -n 1p)
mport=$(sed -n 's/.*serving .* port \([0-9]*\).*/\1/p' "$work/ctl.log" | grep -vx "$tport" | sed -n 1p)
k -n kube-system get secret fed-tunnel -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/host-ca.crt"
[ ! -e "$sdir/${C}_connect.sock" ] && ok "no connect socket before the agent authenticated" ||
	bad "a connect socket before any agent: $(ls -la "$sdir")"
start_agent "$work/agent.log" --host-address 127.0.0.1:$tport --host-ca-file "$work/host-ca.crt" \
	--bootstrap-token-file "$work/token" --credential-file "$work/cred" \
	--kubeconfig "$work/agent-kc" --heartbeat 1 --max-backoff 2 --log-level debug
apid=$!
if wait_eq 40 Connected status_of $C; then
	ok "$C Connected through the tunnel"
else
	bad "$C not Ready: $(kfc $C '{.status}')"; tail -20 "$work/ctl.log" "$work/agent.log"; exit 1
fi
grep -q "agent .* connected (1 connection; cluster connect: served)" "$work/ctl.log" &&
	ok "the agent announced cluster connect streams (HELLO feature)" ||
	bad "no 'cluster connect: served' in the controller's log"

# ---- the sockets ------------------------------------------------------------------------
sock="$sdir/$C.sock" csock="$sdir/${C}_connect.sock"
if [ -S "$sock" ] && [ -S "$csock" ] && [ "$(stat -c %a "$csock")" = 600 ] &&
	[ "$(stat -c '%a %u' "$sdir")" = "700 $(id -u)" ]; then
	ok "$csock beside $(basename "$sock"), mode 0600, in a 0700 directory of ours"
else
	bad "sockets: $(ls -la "$sdir" 2>&1)"
fi

# ---- impersonation: refused by the member until its RBAC allows it -------------------
code=$(review "$csock" 'Impersonate-User: alice' 'Impersonate-Group: devs')
if [ "$code" = 403 ] && grep -q "cannot impersonate" "$work/body"; then
	ok "without impersonate rights the member refuses the caller: HTTP $code ($(message))"
else
	bad "before the impersonate grant: HTTP $code $(head -c 300 "$work/body")"
fi
cat <<EOF | km member2 apply -f - >/dev/null
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: $SA-impersonate}
rules:
- apiGroups: [""]
  resources: [users, groups]
  verbs: [impersonate]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: $SA-impersonate}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: $SA-impersonate}
subjects:
- {kind: ServiceAccount, name: $SA, namespace: default}
EOF
seen() { review "$csock" 'Impersonate-User: alice' 'Impersonate-Group: devs' >/dev/null; username; }
if wait_eq 20 alice seen && [[ ",$(groups)," == *,devs,* ]]; then
	ok "on the connect socket the member sees user alice in groups $(groups)"
else
	bad "connect socket: user '$(username)' groups '$(groups)': $(head -c 300 "$work/body")"
fi
code=$(review "$sock" 'Impersonate-User: alice' 'Impersonate-Group: devs')
if [ "$code" = 201 ] && [ "$(username)" = "system:serviceaccount:default:$SA" ]; then
	ok "the same request on the ordinary socket is answered as $(username) (impersonation stripped)"
else
	bad "ordinary socket: HTTP $code user '$(username)'"
fi

# ---- what the agent refuses on a connect stream ---------------------------------------
refused() { # WANT_IN_BODY HEADER...
	local want=$1 code
	shift
	code=$(review "$csock" "$@")
	if [ "$code" = 403 ] && grep -q "fed-agent: .*$want" "$work/body"; then
		ok "$* refused by the agent: $(cat "$work/body")"
	else
		bad "$*: HTTP $code $(head -c 300 "$work/body")"
	fi
}
refused "system: user" 'Impersonate-User: system:admin'
refused "system: user" 'Impersonate-User: system:kube-controller-manager'
refused "system: group" 'Impersonate-User: alice' 'Impersonate-Group: system:masters'
refused "must impersonate a user" 'Authorization: Bearer not-a-token'

# ---- an upgrade: a websocket watch ----------------------------------------------------
export NS
out=$(ws_watch "$csock" 'Impersonate-User: alice' 'Impersonate-Group: devs' || true)
IFS='|' read -r wcode wtext wafter <<<"$out"
if [ "$wcode" = 101 ] && [[ $wtext == *'"type":"ADDED"'* ]] && [[ $wtext == *connect-e2e* ]]; then
	ok "connect socket: websocket upgrade answered 101, the watch's frames carry ADDED connect-e2e"
else
	bad "connect socket websocket watch: status $wcode, frame '${wtext:0:200}'"
fi
[ "$wafter" = eof ] && ok "a close frame passed raw after the 101: the apiserver ended the watch" ||
	bad "after the close frame: $wafter"
out=$(ws_watch "$sock" 'Impersonate-User: alice' 'Impersonate-Group: devs' || true)
IFS='|' read -r wcode _ _ <<<"$out"
[ "$wcode" = 200 ] && ok "ordinary socket: Upgrade removed, a plain watch (HTTP $wcode) as the ServiceAccount" ||
	bad "ordinary socket websocket watch: status $wcode"
out=$(ws_watch "$csock" 'Impersonate-User: bob' || true)
IFS='|' read -r wcode _ _ <<<"$out"
[ "$wcode" = 403 ] && ok "bob (not in devs) gets 403 for the same upgrade: the member's RBAC decides" ||
	bad "bob's websocket watch: status $wcode"

# ---- one request per connect connection ------------------------------------------------
body=$(printf 'GET /version HTTP/1.1\r\nHost: localhost\r\nImpersonate-User: alice\r\n\r\nGET /version HTTP/1.1\r\nHost: localhost\r\nImpersonate-User: alice\r\n\r\n' |
	timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read()); out = b""
try:
    while True:
        d = s.recv(65536)
        if not d: break
        out += d
except socket.timeout: pass
sys.stdout.write(out.decode(errors="replace"))' "$csock" || true)
# the first may be answered or dropped with the second (it depends on
# whether both arrive in one read); the second never is
if [ "$(grep -c '"gitVersion"' <<<"$body")" -le 1 ] && grep -q "fed-agent: one request per cluster connect stream" <<<"$body"; then
	ok "two pipelined requests on one connect connection: the second refused by the agent ($(grep -c '"gitVersion"' <<<"$body") answered)"
else
	bad "pipelined requests: $(head -c 600 <<<"$body")"
fi

# ---- secrets and metrics -------------------------------------------------------------------
n=$(metric "fed_tunnel_connect_streams_total{cluster=\"$C\"}")
[ "${n:-0}" -ge 9 ] && ok "fed_tunnel_connect_streams_total{cluster=\"$C\"} $n" ||
	bad "fed_tunnel_connect_streams_total: '$n'"
if grep -q "cluster connect request refused: 403 a connect stream may not impersonate a system: user" "$work/agent.log" &&
	! grep -q "system:admin\|system:kube-controller-manager" "$work/agent.log"; then
	ok "the agent logs each refusal by its rule, not the header value"
else
	bad "agent log: $(grep -i "connect" "$work/agent.log" | tail -3)"
fi

# ---- an agent that predates connect streams gets none -----------------------------------
# A hand-made agent of the tunnel's first version: HELLO without features,
# AUTH with the real agent's credential, PINGs; it refuses every stream
# as fed-agent refuses a target it does not know, and says which it saw.
cat >"$work/old_agent.py" <<'PYEOF'
import socket, ssl, struct, sys, time
port, ca, cred = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read().strip()
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
def frame(t, stream, p):
    return struct.pack(">BBHII", t, 0, 0, stream, len(p)) + p
s.sendall(frame(1, 0, struct.pack(">HHII", 1, 0, 65536, 262144)) + frame(2, 0, b"\x02" + cred))
s.settimeout(0.5)
buf, last = b"", 0.0
while True:
    if time.time() - last > 0.5:
        s.sendall(frame(10, 0, b"oldagent"))
        last = time.time()
    try:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    except socket.timeout:
        continue
    while len(buf) >= 12:
        t, _, _, stream, n = struct.unpack(">BBHII", buf[:12])
        if len(buf) < 12 + n:
            break
        p, buf = buf[12:12 + n], buf[12 + n:]
        if t == 3:
            print("ready", flush=True)
        elif t == 4:
            print("open %d" % p[0], flush=True)
            s.sendall(frame(9, stream, struct.pack(">I", 2)))
PYEOF
kill -9 "$apid"
apid=
wait_until 20 grep -q "tunnel: agent .* disconnected" "$work/ctl.log" || bad "the agent's end not seen"
python3 "$work/old_agent.py" "$tport" "$work/host-ca.crt" "$work/cred" >"$work/old-agent.out" 2>&1 &
oapid=$!
pids+=("$oapid")
if wait_until 10 grep -q ready "$work/old-agent.out" &&
	wait_until 5 grep -q "cluster connect: not served by this agent's version" "$work/ctl.log"; then
	ok "a first-version agent (HELLO without features) authenticated"
else
	bad "the old agent: $(cat "$work/old-agent.out") $(tail -3 "$work/ctl.log")"
fi
t0=$(now)
code=$(review "$csock" 'Impersonate-User: alice' 'Impersonate-Group: devs')
curl -s -m 5 -o /dev/null --unix-socket "$sock" http://localhost/version || true
if [ "$code" = 000 ] && le "$(since "$t0")" 2 && grep -q "open 1" "$work/old-agent.out" &&
	! grep -q "open 2" "$work/old-agent.out"; then
	ok "with only an old agent the connect socket's connection is closed at once; it got an ordinary stream, never a connect stream"
else
	bad "old agent: HTTP $code, it saw: $(tr '\n' ' ' <"$work/old-agent.out")"
fi
n=$(metric 'fed_tunnel_refused_total{reason="connect_unsupported"}')
[ "${n:-0}" -ge 1 ] && grep -q "no connected agent serves connect streams (upgrade fed-agent)" "$work/ctl.log" &&
	ok "counted as connect_unsupported ($n), with a warning naming the fix" ||
	bad "connect_unsupported: '$n'"
kill -9 "$oapid" 2>/dev/null || true
oapid=
wait_until 20 bash -c "[ \$(grep -c 'tunnel: agent .* disconnected' '$work/ctl.log') -ge 2 ]" ||
	bad "the old agent's end not seen"

# ---- no agent: the connect socket's connections are closed at once ----------------------
t0=$(now)
code=$(review "$csock" 'Impersonate-User: alice')
if [ "$code" = 000 ] && le "$(since "$t0")" 2; then
	ok "without an agent the connect socket's connection is closed at once ($(since "$t0") s)"
else
	bad "without an agent: HTTP $code after $(since "$t0") s"
fi
n=$(metric 'fed_tunnel_refused_total{reason="no_agent"}')
[ "${n:-0}" -ge 1 ] && ok "counted as no_agent ($n)" || bad "no_agent: '$n'"

kill -TERM $cpid
wait_until 20 bash -c "! kill -0 $cpid 2>/dev/null" || kill -9 $cpid 2>/dev/null || true
cpid=
[ ! -e "$sock" ] && [ ! -e "$csock" ] && ok "both sockets removed at exit" ||
	bad "left behind: $(ls -la "$sdir" 2>&1)"

echo "tunnel_connect: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
