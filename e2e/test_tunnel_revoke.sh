#!/usr/bin/env bash
# Tunnel tokens and credentials that are single-use, revocable and
# rotatable (issue 13, findings 8 and 13), with real fed-controller and
# fed-agent processes on host + member2:
#  (a) a bootstrap token whose removal from the Secret is denied (a
#      ValidatingAdmissionPolicy) gets the agent no credential; once the
#      removal succeeds the agent connects, and the same token replayed
#      after a controller restart, and after a leader failover, is refused;
#  (b) after fedctl delete and a re-join (fedctl join --mode agent), the old
#      agent's credential is refused (revoked_credential) and the new agent
#      (the re-join's token) connects;
#  (c) fedctl rotate on a live agent: its credential file changes, the old
#      credential is refused when a second agent presents it, the agent stays
#      Connected on its one connection, and a watch held open through the
#      tunnel across the rotation still delivers events (no stream dropped);
#  (d) a new credential-key in the Secret: the live agent gets a credential
#      under it without reconnecting, the old one is refused, no restart;
#  (e) a new tls.crt/tls.key: new handshakes use it (an agent pinning the
#      old one is refused by its own check), the live agent stays, no restart.
# Refusals are counted from fed_tunnel_refused_total{reason=...} (the log's
# refusal lines have a budget).
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system C=revk NS=fed-e2e-revoke-$$ LEASE=fed-e2e-revoke-$$ VAP=fed-e2e-keep-token-$$
work=$(mktemp -d)
pass=0 fail=0 pids=() cpid=

. "$(dirname "$0")/lib.sh"
fedctl() { "$FED_BIN_DIR/fedctl" --kubeconfig "$K" --host-cluster-context host "$@"; }
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
status_of() { kfc $C '{.status.connectivityStatus}'; }
mport_of() { sed -n 's/.*serving \/healthz.* port \([0-9]*\).*/\1/p' "$work/$1.log" | tail -n 1; }
metric() { # LOGNAME SERIES
	curl -s --max-time 2 "http://127.0.0.1:$(mport_of "$1")/metrics" 2>/dev/null |
		awk -v s="$2" '$1 == s { v = $2 } END { print v + 0 }'
}
refused() { metric "${CTL:-ctl}" "fed_tunnel_refused_total{reason=\"$1\"}"; }
agents() { metric "${CTL:-ctl}" "fed_tunnel_agents{cluster=\"$C\"}"; }
ge() { [ "$("${@:2}")" -ge "$1" ]; }
secret_key() { k -n kube-system get secret fed-tunnel -o jsonpath="{.data.$1}" 2>/dev/null || true; }
has_token() { [ -n "$(secret_key "bootstrap-$1")" ]; }
count() { grep -c "$1" "$2" 2>/dev/null || true; }
file_differs() { [ -s "$1" ] && ! cmp -s "$1" "$2"; }

cleanup() {
	collect_artifacts "$work" || true
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	k delete validatingadmissionpolicybinding $VAP --ignore-not-found >/dev/null 2>&1 || true
	k delete validatingadmissionpolicy $VAP --ignore-not-found >/dev/null 2>&1 || true
	k delete ns $NS --wait=false >/dev/null 2>&1 || true
	k -n $FNS delete lease $LEASE --ignore-not-found >/dev/null 2>&1 || true
	fed_unfederate
	k -n $FNS delete svc fed-tunnel --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete ns $NS-after-rotate --wait=false >/dev/null 2>&1 || true
	km member2 -n default delete sa fed-agent-revoke --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete clusterrolebinding fed-agent-revoke --ignore-not-found >/dev/null 2>&1 || true
	for f in "$work"/*.log; do
		[ -f "$f" ] && cp "$f" "${TMPDIR:-/tmp}/fed-e2e-tunnel-revoke-$(basename "$f")" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

fed_reset
fed_install_local

TPORT=
for p in $(shuf -i 20000-39999 -n 50); do
	[ -z "$(ss -ltnH "sport = :$p")" ] && { TPORT=$p; break; }
done
[ -n "$TPORT" ] || { echo "FAIL: no free port"; exit 1; }

km member2 -n default create sa fed-agent-revoke >/dev/null
km member2 create clusterrolebinding fed-agent-revoke --clusterrole=cluster-admin \
	--serviceaccount=default:fed-agent-revoke >/dev/null
SATOK=$(km member2 -n default create token fed-agent-revoke --duration=1h)
printf '%s' "$SATOK" >"$work/sa-token"
tokenfile_kubeconfig "$work/agent-kc" "$(srv member2)" "$(ca_data member2)" "$work/sa-token"

# ---- host: agent-mode Federation, a token, the certificate ---------------------
tunnel_token $C
TOKA=$TOKEN HASHA=$HASH
mv "$work/token" "$work/token-a"
fed_federate_agents $C
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=fed-tunnel \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$work/tls.key" -out "$work/host-ca.crt" 2>/dev/null
k -n kube-system patch secret fed-tunnel --type merge -p "{\"data\":{
	\"tls.crt\":\"$(base64 -w0 "$work/host-ca.crt")\",\"tls.key\":\"$(base64 -w0 "$work/tls.key")\"}}" >/dev/null

start_ctl() { # LOGNAME [leader election args...]
	local name=$1
	shift
	POD_NAME=$name POD_NAMESPACE=$NS start_controller -a "$work/$name.log" --health-period 1 \
		--health-timeout 1 --failure-threshold 3 --tunnel-address 127.0.0.1:$TPORT \
		--tunnel-heartbeat 1 --tunnel-label-pod=false --log-level debug "${@:---leader-elect=false}"
}
serving() { # LOGNAME [how many times]
	[ "$(count "serving fed-agents" "$work/$1.log")" -ge "${2:-1}" ]
}
agent() { # NAME TOKENFILE: credential in $work/cred-NAME; sets apid
	start_agent -a "$work/agent-$1.log" --host-address 127.0.0.1:$TPORT \
		--host-ca-file "$work/host-ca.crt" --bootstrap-token-file "$2" --credential-file "$work/cred-$1" \
		--kubeconfig "$work/agent-kc" --heartbeat 1 --max-backoff 2 --log-level debug
	apid=$!
	eval "pid_${1//-/_}=$apid"
}
connections() { count "connected to the host" "$work/agent-$1.log"; }

# ================= (a) single use across a restart and a failover =================
# the token's removal is denied (a policy, as an outage or RBAC would): the
# agent must not get a credential for a token that stays usable
cat <<EOF | k apply -f - >/dev/null
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: $VAP}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [UPDATE], resources: [secrets]}
  validations:
  - expression: >-
      object.metadata.name != 'fed-tunnel' ||
      !has(oldObject.data) || !('bootstrap-$HASHA' in oldObject.data) ||
      (has(object.data) && 'bootstrap-$HASHA' in object.data)
    message: e2e keeps this token
    reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: $VAP}
spec:
  policyName: $VAP
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
EOF
denied() {
	! k -n kube-system patch secret fed-tunnel --type json --dry-run=server \
		-p "[{\"op\":\"remove\",\"path\":\"/data/bootstrap-$HASHA\"}]" >/dev/null 2>&1
}
wait_until 30 denied && ok "policy $VAP denies removing token A from the Secret" ||
	{ bad "the policy does not take effect"; exit 1; }

start_ctl ctl
wait_until 30 serving ctl || { bad "tunnel not served: $(tail -5 "$work/ctl.log")"; exit 1; }
agent a1 "$work/token-a"
t0=$(now)
if wait_until 30 ge 1 refused token_not_spent; then
	ok "token A not removable: AUTH refused as retryable after $(since "$t0")s (token_not_spent $(refused token_not_spent))"
else
	bad "no token_not_spent refusal in 30 s (agent connections: $(connections a1))"
fi
if [ ! -e "$work/cred-a1" ] && [ "$(connections a1)" = 0 ] && has_token "$HASHA"; then
	ok "no credential issued while the token stays in the Secret"
else
	bad "a credential was issued for a token that was not spent (credential file: $([ -e "$work/cred-a1" ] && echo present || echo absent), connections $(connections a1), token still stored: $(has_token "$HASHA" && echo yes || echo no))"
fi

k delete validatingadmissionpolicybinding $VAP >/dev/null
k delete validatingadmissionpolicy $VAP >/dev/null
t0=$(now)
if wait_eq 60 Connected status_of && wait_until 10 test -s "$work/cred-a1"; then
	ok "policy gone: agent a1, retrying, spent token A and connected in $(since "$t0")s"
else
	bad "a1 not connected: $(status_of); $(tail -3 "$work/agent-a1.log")"
fi
wait_until 10 eval '! has_token "$HASHA"' && ok "token A is gone from the Secret" || bad "token A still stored"

# a controller restart, then token A replayed by a new agent
kill -9 "$cpid"
wait "$cpid" 2>/dev/null || true
start_ctl ctl
wait_until 30 serving ctl 2 || { bad "tunnel not served after restart"; exit 1; }
agent r1 "$work/token-a"
if wait_until 30 ge 1 refused bad_token; then
	ok "after a controller restart, replayed token A refused (bad_token $(refused bad_token))"
else
	bad "replayed token A not refused after restart"
fi
sleep 2 # an absence: no credential for the replay within 2 s
[ ! -e "$work/cred-r1" ] && [ "$(connections r1)" = 0 ] && ok "the replaying agent got no credential" ||
	bad "the replay after restart was accepted: credential issued to r1 ($(connections r1) connections)"
kill "$pid_r1" 2>/dev/null || true
wait_eq 30 Connected status_of && ok "a1 reconnected to the restarted controller with its credential" ||
	bad "a1 after restart: $(status_of)"

# a leader failover: two replicas with leader election, token B used on the
# leader, the leader killed, token B replayed to the new leader
kill -9 "$cpid"
wait "$cpid" 2>/dev/null || true
TOKB=$(openssl rand -hex 32) HASHB=$(printf '%s' "$TOKB" | sha256sum | cut -d' ' -f1)
printf '%s' "$TOKB" >"$work/token-b"
k -n kube-system patch secret fed-tunnel --type merge \
	-p "{\"stringData\":{\"bootstrap-$HASHB\":\"$C $(($(date +%s) + 3600))\"}}" >/dev/null
LE=(--leader-elect-lease-name $LEASE --leader-elect-lease-duration 4 --leader-elect-renew-deadline 3
	--leader-elect-retry-period 1)
k create ns $NS >/dev/null 2>&1 || true
start_ctl la "${LE[@]}"
pid_la=$cpid
wait_until 30 serving la || { bad "la does not serve"; exit 1; }
start_ctl lb "${LE[@]}"
pid_lb=$cpid
agent b1 "$work/token-b"
if CTL=la wait_eq 30 2 agents && wait_until 10 test -s "$work/cred-b1"; then
	ok "agent b1 spent token B on leader la (2 agents there)"
else
	bad "b1 on la: agents $(CTL=la agents); $(tail -3 "$work/agent-b1.log")"
fi
kill -9 "$pid_la"
wait "$pid_la" 2>/dev/null || true
wait_until 40 serving lb || bad "lb did not take over"
agent r2 "$work/token-b"
if CTL=lb wait_until 30 ge 1 refused bad_token; then
	ok "after a leader failover, replayed token B refused by the new leader (bad_token $(CTL=lb refused bad_token))"
else
	bad "replayed token B not refused by the new leader"
fi
sleep 2 # an absence: no credential for the replay within 2 s
[ ! -e "$work/cred-r2" ] && [ "$(connections r2)" = 0 ] && ok "the replaying agent got no credential from the new leader" ||
	bad "the replay after failover was accepted"
kill "$pid_r2" "$pid_b1" 2>/dev/null || true
CTL=lb wait_eq 30 1 agents && ok "a1 follows to the new leader" || bad "agents on lb: $(CTL=lb agents)"
kill -9 "$pid_lb"
wait "$pid_lb" 2>/dev/null || true

# ================= (b) delete and re-join: the old credential is revoked ============
start_ctl ctl
wait_until 30 serving ctl 3 || { bad "tunnel not served"; exit 1; }
wait_eq 30 1 agents && ok "a1 connected again (single controller)" || bad "a1: agents $(agents)"
cp "$work/cred-a1" "$work/cred-a1.old"
out=$(fedctl delete $C --wait 0 2>&1) && ok "fedctl delete $C: $(grep -o "revoked[^;]*" <<<"$out" | head -1)" ||
	bad "delete: $out"
gen_after_delete=$(secret_key "generation-$C" | base64 -d)
# (its value is Secret data: the secret scan would rightly flag it in the log)
[[ "$gen_after_delete" == *revoke ]] && ok "delete raised generation-$C and marked it revoke" ||
	bad "generation after delete does not end in revoke (${#gen_after_delete} bytes)"
if wait_until 30 ge 1 refused revoked_credential; then
	ok "a1's credential refused after delete (revoked_credential $(refused revoked_credential))"
else
	bad "a1 not refused as revoked: $(k -n kube-system get secret fed-tunnel -o json | jq -c '.data | keys')"
fi
# re-join: the test is the Service's load balancer, as in test_fedctl_join_agent
k apply -f "$root/manifests/04-tunnel-service.yaml" >/dev/null
k -n $FNS patch svc fed-tunnel --type json \
	-p "[{\"op\":\"replace\",\"path\":\"/spec/ports/0/port\",\"value\":$TPORT}]" >/dev/null
k -n $FNS patch svc fed-tunnel --subresource=status --type merge \
	-p '{"status":{"loadBalancer":{"ingress":[{"ip":"127.0.0.1"}]}}}' >/dev/null
if fedctl join $C --mode agent -o "$work/agent.yaml" >"$work/join.out" 2>&1; then
	ok "fedctl join $C --mode agent (re-join)"
else
	bad "re-join: $(cat "$work/join.out")"
fi
awk '/^kind: Secret/ { s = 1 } s && $1 == "token:" { print $2; exit }' "$work/agent.yaml" | base64 -d >"$work/token-n"
[ -s "$work/token-n" ] || bad "no token in agent.yaml"
revoked0=$(refused revoked_credential)
agent n1 "$work/token-n"
if wait_eq 40 Connected status_of && wait_until 10 test -s "$work/cred-n1"; then
	ok "the re-joined agent n1 connected with the new token"
else
	bad "n1: $(status_of); $(tail -3 "$work/agent-n1.log")"
fi
# the old agent, still running, still presents its revoked credential
cp "$work/cred-a1.old" "$work/cred-o1"
agent o1 /dev/null
if wait_until 30 ge $((revoked0 + 1)) refused revoked_credential && [ "$(connections o1)" = 0 ]; then
	ok "the old credential is refused after the re-join (revoked_credential $(refused revoked_credential))"
else
	bad "old credential after re-join: $(refused revoked_credential) refusals, $(connections o1) connections"
fi
kill "$pid_o1" "$pid_a1" 2>/dev/null || true
wait_eq 20 1 agents && ok "only n1 connected (fed_tunnel_agents 1)" || bad "agents: $(agents)"

# ================= (c) fedctl rotate on a live agent ====================================
cp "$work/cred-n1" "$work/cred-n1.before"
conn_n1=$(connections n1)
disc0=$(count "disconnected" "$work/ctl.log")
resets0=$(count "reset" "$work/agent-n1.log")
revoked0=$(refused revoked_credential)
# a watch held open through the tunnel across the rotation, through the
# agent's Unix socket that the controller's own client uses
sock=$(sed -n "s/.*\[$C\] connecting to .* through the agent's socket \(.*\)$/\1/p" "$work/ctl.log" | tail -n 1)
watch_url="/api/v1/namespaces?watch=1&timeoutSeconds=120"
curl -sN --max-time 120 --unix-socket "$sock" "http://localhost$watch_url" >"$work/watch.out" 2>/dev/null &
wpid=$!
pids+=($wpid)
wait_until 15 grep -q '"type":"ADDED"' "$work/watch.out" &&
	ok "a watch of namespaces is open through the tunnel ($sock)" || bad "no watch through the socket '$sock'"
out=$(fedctl rotate $C 2>&1) && ok "fedctl rotate $C: $out" || bad "rotate: $out"
if wait_until 20 file_differs "$work/cred-n1" "$work/cred-n1.before"; then
	ok "the live agent's credential file changed (generation $(tr . '\n' <"$work/cred-n1.before" | tail -3 | head -1) -> $(tr . '\n' <"$work/cred-n1" | tail -3 | head -1))"
else
	bad "credential file unchanged after rotate"
fi
cp "$work/cred-n1.before" "$work/cred-s1"
agent s1 /dev/null
if wait_until 30 ge $((revoked0 + 1)) refused revoked_credential && [ "$(connections s1)" = 0 ]; then
	ok "the pre-rotate credential, presented by a second agent, is refused (revoked_credential $(refused revoked_credential))"
else
	bad "old credential after rotate: $(refused revoked_credential) refusals, $(connections s1) connections"
fi
kill "$pid_s1" 2>/dev/null || true
sleep 2 # an absence: n1 keeps its one connection for 2 s after the refusal
if [ "$(status_of)" = Connected ] && [ "$(agents)" = 1 ] && [ "$(connections n1)" = "$conn_n1" ] &&
	[ "$(count "disconnected" "$work/ctl.log")" = "$disc0" ] && [ "$(count "reset" "$work/agent-n1.log")" = "$resets0" ]; then
	ok "n1 stayed Connected on its one connection (no reconnect, no disconnect, no stream reset)"
else
	bad "n1 after rotate: $(status_of), agents $(agents), connections $(connections n1) (was $conn_n1), disconnects $(count disconnected "$work/ctl.log") (was $disc0)"
fi
km member2 create ns $NS-after-rotate >/dev/null
if kill -0 "$wpid" 2>/dev/null && wait_until 15 grep -q "\"name\":\"$NS-after-rotate\"" "$work/watch.out"; then
	ok "the watch opened before the rotation is still open and delivers the namespace created after it (no stream dropped)"
else
	bad "the watch through the tunnel ended or stalled across the rotation"
fi
kill "$wpid" 2>/dev/null || true
km member2 delete ns $NS-after-rotate --wait=false >/dev/null 2>&1 || true
out=$(fedctl rotate nosuch 2>&1) && bad "rotate of an unknown cluster succeeded" ||
	{ grep -q "not in the federation" <<<"$out" && ok "rotate of an unknown cluster: $out" || bad "rotate nosuch: $out"; }

# ================= (d) a new credential-key, no restart =================================
cp "$work/cred-n1" "$work/cred-n1.before"
conn_n1=$(connections n1)
bad0=$(refused bad_credential)
k -n kube-system patch secret fed-tunnel --type merge \
	-p "{\"data\":{\"credential-key\":\"$(openssl rand -base64 32)\"}}" >/dev/null
if wait_until 20 file_differs "$work/cred-n1" "$work/cred-n1.before"; then
	ok "new credential-key: the live agent got a new credential"
else
	bad "no new credential after the key change: $(grep -i 'credential-key' "$work/ctl.log" | tail -2)"
fi
cp "$work/cred-n1.before" "$work/cred-s2"
agent s2 /dev/null
if wait_until 30 ge $((bad0 + 1)) refused bad_credential && [ "$(connections s2)" = 0 ]; then
	ok "a credential under the old key is refused (bad_credential $(refused bad_credential))"
else
	bad "old-key credential: $(refused bad_credential) refusals, $(connections s2) connections"
fi
kill "$pid_s2" 2>/dev/null || true
[ "$(status_of)" = Connected ] && [ "$(connections n1)" = "$conn_n1" ] && kill -0 "$cpid" &&
	ok "n1 still Connected on the same connection, the controller not restarted" ||
	bad "after key change: $(status_of), connections $(connections n1) (was $conn_n1)"

# ================= (e) a new certificate, no restart =====================================
# new handshakes use the new certificate; the live connection keeps its own
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=fed-tunnel-2 \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$work/tls2.key" -out "$work/host-ca2.crt" 2>/dev/null
conn_n1=$(connections n1)
k -n kube-system patch secret fed-tunnel --type merge -p "{\"data\":{
	\"tls.crt\":\"$(base64 -w0 "$work/host-ca2.crt")\",\"tls.key\":\"$(base64 -w0 "$work/tls2.key")\"}}" >/dev/null
start_agent_ca() { # NAME CA_FILE: with a copy of n1's credential
	cp "$work/cred-n1" "$work/cred-$1"
	start_agent -a "$work/agent-$1.log" --host-address 127.0.0.1:$TPORT --host-ca-file "$2" \
		--credential-file "$work/cred-$1" --kubeconfig "$work/agent-kc" --heartbeat 1 \
		--max-backoff 2 --log-level debug
	eval "pid_$1=$!"
}
start_agent_ca cnew "$work/host-ca2.crt"
if wait_until 30 ge 1 connections cnew; then
	ok "new certificate: an agent that pins it connects, the controller not restarted"
else
	bad "no connection with the new certificate: $(tail -2 "$work/agent-cnew.log")"
fi
start_agent_ca cold "$work/host-ca.crt"
if wait_until 20 grep -qi "verif" "$work/agent-cold.log" && [ "$(connections cold)" = 0 ]; then
	ok "an agent that pins the old certificate is refused by its own TLS check: $(grep -i -m1 'verif' "$work/agent-cold.log" | cut -c1-160)"
else
	bad "old certificate: $(connections cold) connections, $(tail -2 "$work/agent-cold.log")"
fi
kill "$pid_cnew" "$pid_cold" 2>/dev/null || true
[ "$(status_of)" = Connected ] && [ "$(connections n1)" = "$conn_n1" ] && kill -0 "$cpid" &&
	ok "n1 still Connected on its connection from before the certificate change" ||
	bad "after certificate change: $(status_of), connections $(connections n1) (was $conn_n1)"

# ---- no secret in any log ---------------------------------------------------------------
leak=
for f in "$work"/*.log; do
	for s in "$TOKA" "$TOKB" "$(cat "$work/token-n" 2>/dev/null)" "$SATOK" $(cat "$work"/cred-* 2>/dev/null); do
		[ -n "$s" ] || continue
		grep -qF -- "$s" "$f" && leak="$leak $(basename "$f")"
		grep -qF -- "${s##*.}" "$f" && leak="$leak $(basename "$f")(hmac)"
	done
done
[ -z "$leak" ] && ok "no token or credential in any log" || bad "secret in:$leak"

echo "tunnel_revoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
