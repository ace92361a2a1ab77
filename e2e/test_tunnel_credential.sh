#!/usr/bin/env bash
# The agent's credential lifecycle with a short --tunnel-credential-lifetime
# (8 s): fed-agent keeps its credential in a member Secret
# (--credential-secret, in its own namespace, written with its own
# ServiceAccount token); the host rotates it on the live connection (the
# Secret changes, the agent stays connected past the first credential's
# expiry without reconnecting); a restarted agent uses the stored
# credential (the bootstrap token is spent); a frozen agent past expiry
# makes the KubeFedCluster Expired (CredentialExpired, with the re-join
# advice), a thawed one is refused and counted and the cluster stays
# Expired, also across a controller restart; a new bootstrap token (the
# re-join) brings the still-running agent back. fedctl describe shows the
# agent's metadata, matching the member. Nothing secret in any log.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system C=cred1 M=member1
NS=fed-e2e-cred-$$ SECRET=fed-agent-credential LIFETIME=8
work=$(mktemp -d)
pass=0 fail=0 cpid= apid=

. "$(dirname "$0")/lib.sh"
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
status_of() { kfc "$1" '{.status.connectivityStatus}'; }
metrics() { curl -s "http://127.0.0.1:$mport/metrics"; }
# every refused AUTH, from the metric (the log's refusal lines have a budget)
refusals() {
	metrics | awk '/^fed_tunnel_refused_total\{reason="(bad|replayed|expired)_(token|credential)"\}/ ||
		/^fed_tunnel_refused_total\{reason="(not_agent_cluster|bad_auth_kind|too_many_agents)"\}/ { n += $2 }
		END { print n + 0 }'
}
fc() { "$FED_BIN_DIR/fedctl" "$1" --kubeconfig "$K" --host-cluster-context host "${@:2}"; }
stored() { km $M -n $NS get secret $SECRET -o jsonpath='{.data.credential}' 2>/dev/null | base64 -d 2>/dev/null || true; }
expiry_of() { local e=${1%.*}; echo "${e##*.}"; } # fedc1.<cluster>.<expiry>.<hmac>
count() { grep -c "$1" "$2" || true; }
CREDS=()

cleanup() {
	collect_artifacts "$work" || true
	[ -z "$apid" ] || { kill -CONT "$apid"; kill -9 "$apid"; } 2>/dev/null || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	km $M delete ns $NS --wait=false >/dev/null 2>&1 || true
	km $M delete clusterrolebinding fed-agent-$NS --ignore-not-found >/dev/null 2>&1 || true
	fed_unfederate
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-cred-controller.log" 2>/dev/null || true
	cp "$work/agent.log" "${TMPDIR:-/tmp}/fed-e2e-cred-agent.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fed_install_local

# ---- the member side: namespace, ServiceAccount, the Secret's Role ----------
raw() { kubectl --kubeconfig "$K" config view --raw -o jsonpath="$1"; }
SRV=$(raw "{.clusters[?(@.name==\"$M\")].cluster.server}")
CA=$(raw "{.clusters[?(@.name==\"$M\")].cluster.certificate-authority-data}")
km $M create ns $NS >/dev/null
km $M -n $NS create sa fed-agent >/dev/null
# what fedctl join --mode agent grants for the Secret (create cannot be
# limited to a name), plus cluster-admin for the federation's own work
cat <<EOF | km $M apply -f - >/dev/null
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: fed-agent-credential, namespace: $NS}
rules:
- {apiGroups: [""], resources: [secrets], resourceNames: [$SECRET], verbs: [get, update, patch]}
- {apiGroups: [""], resources: [secrets], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: fed-agent-credential, namespace: $NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: fed-agent-credential}
subjects: [{kind: ServiceAccount, name: fed-agent, namespace: $NS}]
EOF
km $M create clusterrolebinding fed-agent-$NS --clusterrole=cluster-admin \
	--serviceaccount=$NS:fed-agent >/dev/null
SATOK=$(km $M -n $NS create token fed-agent --duration=1h)
printf '%s' "$SATOK" >"$work/sa-token"
tokenfile_kubeconfig "$work/agent-kc" "$SRV" "$CA" "$work/sa-token"

# ---- the host: agent-mode Federation, one-time token, short lifetime --------
tunnel_token $C
fed_federate_agents $C
ctl() {
	start_controller -a "$work/ctl.log" --health-period 1 --health-timeout 1 --failure-threshold 3 \
		--leader-elect=false --tunnel-address "127.0.0.1:${tport:-0}" --tunnel-heartbeat 1 \
		--tunnel-credential-lifetime $LIFETIME --log-level debug
}
ctl
wait_until 30 grep -q "serving fed-agents" "$work/ctl.log" || { bad "tunnel not served"; cat "$work/ctl.log"; exit 1; }
tport=$(sed -n 's/.*serving fed-agents on .* (port \([0-9]*\)).*/\1/p' "$work/ctl.log" | sed -n 1p)
mport=$(sed -n 's/.*serving .* port \([0-9]*\).*/\1/p' "$work/ctl.log" | sed -n 1p)
k -n kube-system get secret fed-tunnel -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/host-ca.crt"

agent() {
	local FED_WRAP=(env -u POD_NAMESPACE)
	start_agent -a "$work/agent.log" --host-address 127.0.0.1:$tport \
		--host-ca-file "$work/host-ca.crt" --bootstrap-token-file "$work/token" \
		--credential-secret $SECRET --namespace $NS --kubeconfig "$work/agent-kc" \
		--heartbeat 1 --max-backoff 2 --log-level debug
	apid=$!
}

# ---- join: the credential lands in the member Secret --------------------------
t0=$(now)
agent
if wait_eq 40 Connected status_of $C; then
	ok "agent joined with the bootstrap token: $C Connected in $(since "$t0")s"
else
	bad "$C not Connected: $(kfc $C '{.status}')"; tail -n 30 "$work/ctl.log" "$work/agent.log"; exit 1
fi
if wait_set 10 stored; then
	CRED1=$(stored) CREDS+=("$CRED1")
	ok "credential stored in secret $NS/$SECRET (key credential) with the agent's own token"
else
	bad "no credential in secret $NS/$SECRET: $(tail -5 "$work/agent.log")"; exit 1
fi
[ "$(km $M -n $NS get secret $SECRET -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by}')" = fed-agent ] &&
	ok "the Secret is labelled managed-by fed-agent" || bad "Secret labels: $(km $M -n $NS get secret $SECRET -o jsonpath='{.metadata.labels}')"
exp1=$(expiry_of "$CRED1")
life=$((exp1 - $(date +%s)))
[ "$life" -le $LIFETIME ] && [ "$life" -ge 0 ] && ok "issued credential lives $LIFETIME s (expires in ${life}s)" ||
	bad "credential expiry $exp1 not within $LIFETIME s"
wait_set 10 kfc $C '{.status.agent.credentialExpiry}' &&
	ok "status.agent.credentialExpiry: $(kfc $C '{.status.agent.credentialExpiry}')" ||
	bad "no status.agent: $(kfc $C '{.status}')"
k -n kube-system get secret fed-tunnel -o jsonpath="{.data.credential-expiry-$C}" | base64 -d | grep -q '^[0-9]*$' &&
	ok "the host recorded the newest expiry in secret fed-tunnel (credential-expiry-$C)" ||
	bad "no credential-expiry-$C in fed-tunnel"

# ---- rotation while connected ----------------------------------------------------
changed() { local s; s=$(stored); [ -n "$s" ] && [ "$s" != "$CRED1" ]; }
t0=$(now)
if wait_until 15 changed; then
	CRED2=$(stored) CREDS+=("$CRED2")
	ok "credential rotated on the live connection after $(since "$t0")s; the Secret holds the new one (expires $(expiry_of "$CRED2") > $exp1)"
else
	bad "no rotation: $(grep -i rotat "$work/ctl.log" | tail -3)"
fi
# past the first credential's expiry, still on the first connection
while [ "$(date +%s)" -le $((exp1 + 2)) ]; do sleep 0.5; CREDS+=("$(stored)"); done
nconn=$(count "connected to the host" "$work/agent.log")
if [ "$(status_of $C)" = Connected ] && [ "$nconn" = 1 ] && ! grep -q "disconnected" "$work/ctl.log"; then
	ok "still Connected $(( $(date +%s) - exp1 ))s past the first credential's expiry, on the one connection ($(count 'rotated the credential' "$work/ctl.log") rotations)"
else
	bad "connection did not survive expiry: status $(status_of $C), $nconn connections; $(grep disconnected "$work/ctl.log" | tail -2)"
fi
[ "$(kfc $C '{.status.agent.connectedAgents}')" = 1 ] && ok "status.agent.connectedAgents = 1" ||
	bad "connectedAgents: $(kfc $C '{.status.agent}')"

# ---- metadata in status and describe ------------------------------------------------
mnodes=$(km $M get nodes -o name | wc -l)
mver=$(km $M get --raw /version | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')
if wait_eq 20 "$mnodes" kfc $C '{.status.agent.nodeCount}' && wait_eq 10 "$mver" kfc $C '{.status.agent.kubernetesVersion}'; then
	ok "status.agent: kubernetesVersion $mver and nodeCount $mnodes as the member says"
else
	bad "status.agent: $(kfc $C '{.status.agent}') (member: $mver, $mnodes nodes)"
fi
desc=$(fc describe $C)
dfield() { sed -n "/^Agent:/,/^[A-Z]/s/^  $1: *//p" <<<"$desc"; }
mem=$(dfield "Agent Memory") cpu=$(dfield "Agent CPU") hb=$(dfield "Last Heartbeat")
if [ "$(dfield 'Connected Agents')" = 1 ] && [ "$(dfield 'Kubernetes Version')" = "$mver" ] &&
	[ "$(dfield Nodes)" = "$mnodes" ] && [ "$(dfield 'Agent Version')" != "<none>" ] &&
	awk -v m="${mem%Mi}" 'BEGIN { exit !(m > 0.5 && m < 500) }' &&
	awk -v c="${cpu%s}" 'BEGIN { exit !(c >= 0 && c < 100) }' && grep -q "ago)" <<<"$hb" &&
	grep -q "(in " <<<"$(dfield 'Credential Expires')"; then
	ok "fedctl describe shows the agent: version $(dfield 'Agent Version'), k8s $mver, $mnodes nodes, cores $(dfield Cores), CPU $cpu, memory $mem, heartbeat $hb"
else
	bad "describe: $(sed -n '/^Agent:/,/^Federated/p' <<<"$desc")"
fi
writes=$(count "status: " "$work/ctl.log")

# ---- a restarted agent uses the stored credential ----------------------------------
kill "$apid"; wait "$apid" 2>/dev/null || true
refused0=$(refusals)
t0=$(now)
agent
if wait_until 20 grep -q "using the cluster credential stored in secret $NS/$SECRET" "$work/agent.log" &&
	wait_eq 20 2 count 'connected to the host' "$work/agent.log" && wait_eq 20 Connected status_of $C; then
	ok "restarted agent reconnected with the credential from the Secret in $(since "$t0")s"
else
	bad "restarted agent: $(tail -5 "$work/agent.log")"
fi
[ "$(refusals)" = "$refused0" ] && ok "no refusal: the spent bootstrap token was not used" ||
	bad "restart was refused: $(grep 'authentication refused' "$work/ctl.log" | tail -1)"
CREDS+=("$(stored)")

# ---- frozen past expiry: Expired -------------------------------------------------------
kill -STOP "$apid"
t0=$(now)
if wait_eq 40 Expired status_of $C; then
	ok "agent frozen -> $C Expired in $(since "$t0")s (lifetime $LIFETIME s)"
else
	bad "not Expired: $(kfc $C '{.status}')"
fi
reason=$(kfc $C '{.status.conditions[?(@.type=="Ready")].reason}')
msg=$(kfc $C '{.status.conditions[?(@.type=="Ready")].message}')
[ "$reason" = CredentialExpired ] && [ "$(kfc $C '{.status.conditions[?(@.type=="Ready")].status}')" = False ] &&
	grep -qF "fedctl join $C --mode agent" <<<"$msg" && ok "Ready False, CredentialExpired: $msg" ||
	bad "condition: $reason: $msg"
fc list | grep -q "^$C .* Expired " && ok "fedctl list shows Expired" || bad "fedctl list: $(fc list)"
CREDS+=("$(stored)")

# ---- thawed: refused with the expired credential, counted, stays Expired -----------
kill -CONT "$apid"
if wait_until 20 grep -q "authentication refused: cluster credential expired" "$work/ctl.log"; then
	ok "thawed agent's expired credential refused"
else
	bad "no refusal: $(tail -5 "$work/ctl.log")"
fi
n=$(metrics | sed -n 's/^fed_tunnel_refused_total{reason="expired_credential"} //p')
[ "${n:-0}" -ge 1 ] && ok "/metrics counts it: fed_tunnel_refused_total{reason=\"expired_credential\"} $n" ||
	bad "not counted: $(metrics | grep refused)"
sleep 3 # an absence: the retrying agent does not bring $C back in 3 s
[ "$(status_of $C)" = Expired ] && ok "$C stays Expired while the agent retries" || bad "status: $(status_of $C)"
kill -0 "$apid" && ok "agent keeps running (retrying with backoff)" || bad "agent exited"

# ---- a controller restart keeps the expiry ---------------------------------------------
kill "$cpid"; wait "$cpid" 2>/dev/null || true
k -n $FNS delete kubefedcluster $C >/dev/null
ctl
if wait_eq 40 Expired status_of $C; then
	ok "restarted controller shows $C Expired again (expiry from secret fed-tunnel)"
else
	bad "after restart: $(kfc $C '{.status}')"
fi

# ---- re-join: a new bootstrap token brings the running agent back --------------------
OLDTOKEN=$(cat "$work/token") before=$(stored)
differs() { local s; s=$(stored); [ -n "$s" ] && [ "$s" != "$before" ]; }
TOKEN=$(openssl rand -hex 32) HASH=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
k -n kube-system patch secret fed-tunnel --type merge \
	-p "{\"stringData\":{\"bootstrap-$HASH\":\"$C $(($(date +%s) + 3600))\"}}" >/dev/null
printf '%s' "$TOKEN" >"$work/token.new" && mv "$work/token.new" "$work/token"
t0=$(now)
if wait_eq 40 Connected status_of $C; then
	ok "re-joined: the agent, refused with its expired credential, used the new bootstrap token; $C Connected in $(since "$t0")s"
else
	bad "re-join: $(kfc $C '{.status}'); $(tail -n 5 "$work/agent.log")"
fi
wait_until 10 differs && ok "the new credential replaced the expired one in the Secret" ||
	bad "the Secret still holds the expired credential"
CREDS+=("$(stored)")
[ "$(kfc $C '{.status.agent.connectedAgents}')" = 1 ] && ok "status.agent shows the agent again" ||
	bad "status.agent after re-join: $(kfc $C '{.status.agent}')"

# ---- no secret in any log -----------------------------------------------------------------
leak=
for f in "$work/ctl.log" "$work/agent.log"; do
	for s in "$OLDTOKEN" "$TOKEN" "$SATOK" "${CREDS[@]}"; do
		[ -n "$s" ] || continue
		grep -qF -- "$s" "$f" && leak="$leak $(basename "$f")"
		grep -qF -- "${s##*.}" "$f" && leak="$leak $(basename "$f")(hmac)"
	done
done
[ -z "$leak" ] && ok "no bootstrap token, SA token or any of ${#CREDS[@]} credential values in any log" || bad "secret in:$leak"
echo "status writes seen in the debug log: $writes"

echo "tunnel_credential: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
