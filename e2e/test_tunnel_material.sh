#!/usr/bin/env bash
# Generating the tunnel material is retried (audit finding 15): the tunnel
# Secret exists but is immutable, so the controller's apply of the
# generated certificate and credential key fails; once the Secret is
# replaced by a writable one, the controller writes the material, serves
# the tunnel and an agent joins, all without a restart.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system C=tunm
work=$(mktemp -d)
pass=0 fail=0 cpid= apid=

. "$(dirname "$0")/lib.sh"
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
status_of() { kfc "$1" '{.status.connectivityStatus}'; }
count() { grep -c -- "$1" "$2" || true; }

cleanup() {
	collect_artifacts "$work" || true
	[ -z "$apid" ] || kill -9 "$apid" 2>/dev/null || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	fed_unfederate
	km member2 -n default delete sa fed-agent-mat --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete clusterrolebinding fed-agent-mat --ignore-not-found >/dev/null 2>&1 || true
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-tunnel-material-controller.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fed_install_local
km member2 -n default create sa fed-agent-mat >/dev/null
km member2 create clusterrolebinding fed-agent-mat --clusterrole=cluster-admin \
	--serviceaccount=default:fed-agent-mat >/dev/null
km member2 -n default create token fed-agent-mat --duration=1h >"$work/sa-token"
tokenfile_kubeconfig "$work/agent-kc" "$(srv member2)" "$(ca_data member2)" "$work/sa-token"
fed_federate_agents $C

# the tunnel Secret with a bootstrap token but no material, immutable:
# the apiserver refuses every write to it
TOKEN=$(openssl rand -hex 32)
printf '%s' "$TOKEN" >"$work/token"
HASH=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
secret() { # IMMUTABLE
	printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: fed-tunnel, namespace: kube-system}\n'
	printf 'immutable: %s\nstringData:\n  bootstrap-%s: "%s %s"\n' "$1" "$HASH" $C $(($(date +%s) + 86400))
}
secret true | k apply -f - >/dev/null

start_controller "$work/ctl.log" --health-period 1 --health-timeout 1 --failure-threshold 3 \
	--leader-elect=false --tunnel-address 127.0.0.1:0 --tunnel-heartbeat 1
failed_writes() { count "writing generated material to secret .*immutable" "$work/ctl.log"; }
twice() { [ "$(failed_writes)" -ge 2 ]; }
if wait_until 30 twice; then
	ok "the failed write is retried: $(grep -o 'writing generated material.*' "$work/ctl.log" | tail -1 | cut -c1-200)"
else
	bad "no retried write: $(grep -i 'secret' "$work/ctl.log" | tail -3)"
fi
grep -q "serving fed-agents" "$work/ctl.log" && bad "serving without material" || true

# the cause goes away: a writable Secret with the same token
k -n kube-system delete secret fed-tunnel >/dev/null
secret false | k apply -f - >/dev/null
t0=$(now)
if wait_until 90 grep -q "serving fed-agents" "$work/ctl.log"; then
	ok "material written and the tunnel served $(since "$t0")s after the Secret became writable, no restart"
else
	bad "tunnel never served: $(tail -5 "$work/ctl.log")"; exit 1
fi
tport=$(sed -n 's/.*serving fed-agents on .* (port \([0-9]*\)).*/\1/p' "$work/ctl.log" | sed -n 1p)
k -n kube-system get secret fed-tunnel -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/host-ca.crt"
start_agent "$work/agent.log" --host-address 127.0.0.1:$tport --host-ca-file "$work/host-ca.crt" \
	--bootstrap-token-file "$work/token" --credential-file "$work/cred" \
	--kubeconfig "$work/agent-kc" --heartbeat 1 --max-backoff 2
apid=$!
if wait_eq 40 Connected status_of $C; then
	ok "an agent joined with the token kept in the Secret: $C Connected"
else
	bad "$C not Connected: $(kfc $C '{.status}') $(tail -3 "$work/agent.log")"
fi
grep -qF -- "$TOKEN" "$work/ctl.log" "$work/agent.log" && bad "token in a log" || ok "no token in the logs"
kill "$cpid"
rc=0
wait "$cpid" || rc=$?
cpid=
[ $rc = 0 ] && ok "controller exits cleanly on SIGTERM (under ASan: no leak)" || bad "controller exit code $rc"

echo "tunnel material: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
