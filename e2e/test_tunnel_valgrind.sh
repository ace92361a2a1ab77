#!/usr/bin/env bash
# The tunnel's two long-running ends under valgrind: fed-controller serving
# the tunnel and fed-agent for member2, through real activity (bootstrap,
# Ready through the tunnel, propagation, a replayed token, the agent
# restarting with its credential, the cluster leaving the config so that its
# tunnel is closed). No leaks and no memory errors in either when they exit
# on SIGTERM.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
command -v valgrind >/dev/null || { echo "FAIL: valgrind is not installed (scripts/setup installs it)"; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-tunvg-$$ C=tunvg
work=$(mktemp -d)
pass=0 fail=0 cpid= apid=
. "$(dirname "$0")/lib.sh"
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
status_of() { kfc "$1" '{.status.connectivityStatus}'; }

cleanup() {
	collect_artifacts "$work" || true
	[ -z "$apid" ] || kill -9 "$apid" 2>/dev/null || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	for c in host member2; do km $c delete ns $NS --wait=false >/dev/null 2>&1 || true; done
	fed_unfederate
	km member2 -n default delete sa fed-agent-vg --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete clusterrolebinding fed-agent-vg --ignore-not-found >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

VG=(valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99)
# stop pid, then require a clean valgrind exit
stopped_clean() { # pid vlog name
	local rc
	kill -TERM "$1" 2>/dev/null || true
	set +e; wait "$1"; rc=$?; set -e
	if [ "$rc" -eq 0 ] && grep -q "ERROR SUMMARY: 0 errors" "$2"; then
		ok "$3 under valgrind: exit 0, $(grep -o 'ERROR SUMMARY: 0 errors' "$2"), $(grep -E -o 'All heap blocks were freed|definitely lost: [0-9,]+ bytes' "$2" | sed -n 1p)"
	else
		bad "$3 under valgrind exited $rc"; grep -E -A12 "lost in loss record|Invalid|uninitialised|ERROR SUMMARY" "$2" | head -60
	fi
}

fed_install_local

km member2 -n default create sa fed-agent-vg >/dev/null
km member2 create clusterrolebinding fed-agent-vg --clusterrole=cluster-admin \
	--serviceaccount=default:fed-agent-vg >/dev/null
km member2 -n default create token fed-agent-vg --duration=1h >"$work/sa-token"
tokenfile_kubeconfig "$work/agent-kc" "$(srv member2)" "$(ca_data member2)" "$work/sa-token"

tunnel_token $C
fed_federate_agents $C
FED_WRAP=("${VG[@]}" --log-file="$work/ctl.vg")
start_controller "$work/ctl.log" --health-period 2 --health-timeout 2 --failure-threshold 3 \
	--leader-elect=false --tunnel-address 127.0.0.1:0 --tunnel-heartbeat 2 --log-level debug
FED_WRAP=()
wait_until 120 grep -q "serving fed-agents" "$work/ctl.log" || { bad "tunnel not served"; tail -20 "$work/ctl.log"; exit 1; }
tport=$(sed -n 's/.*serving fed-agents on .* (port \([0-9]*\)).*/\1/p' "$work/ctl.log" | sed -n 1p)
k -n kube-system get secret fed-tunnel -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/host-ca.crt"

agent() { # name token-file
	local FED_WRAP=("${VG[@]}" --log-file="$work/$1.vg")
	start_agent "$work/$1.log" --host-address 127.0.0.1:$tport \
		--host-ca-file "$work/host-ca.crt" --bootstrap-token-file "$2" --credential-file "$work/cred" \
		--kubeconfig "$work/agent-kc" --heartbeat 2 --max-backoff 2 --log-level debug
	apid=$!
}
agent agent1 "$work/token"
if wait_eq 120 Connected status_of $C; then
	ok "agent under valgrind joined: $C Connected through the tunnel"
else
	bad "$C not Connected: $(kfc $C '{.status}')"; tail -20 "$work/ctl.log" "$work/agent1.log"; exit 1
fi
k create ns $NS >/dev/null
fed_ns_cm $NS $C cfg 1
cmget() { km member2 -n $NS get cm cfg -o jsonpath='{.data.a}' 2>/dev/null || true; }
wait_eq 90 1 cmget && ok "propagated through the tunnel" || bad "not propagated"
stopped_clean "$apid" "$work/agent1.vg" "fed-agent (after bootstrap, propagation, SIGTERM)"

# a replay of the spent token (refused), then the agent again with its credential
cp "$work/cred" "$work/cred.keep"
rm -f "$work/cred"
agent agent2 "$work/token"
wait_until 90 grep -q "bootstrap token already used" "$work/ctl.log" && ok "replayed token refused" ||
	bad "replay not refused"
stopped_clean "$apid" "$work/agent2.vg" "fed-agent (refused with GOAWAY, retrying)"
cp "$work/cred.keep" "$work/cred"
agent agent3 "$work/token"
# the host must hold agent3's connection (the status may still say
# Connected from agent1): its second "agent ... connected" line
connections() { grep -c "\[$C\] tunnel: agent .* connected" "$work/ctl.log" || true; }
two_connections() { [ "$(connections)" -ge 2 ]; }
wait_until 90 grep -q "connecting to .* with the cluster credential" "$work/agent3.log" &&
	wait_until 90 two_connections && wait_eq 90 Connected status_of $C &&
	ok "agent restarted with its credential: connected to the host, $C Connected" ||
	bad "restart with credential: $(connections) connections; $(kfc $C '{.status}')"
# the cluster leaves the config: the host closes its tunnel
fed_federate_agents other
wait_until 90 grep -q "no longer in the Federation config" "$work/ctl.log" &&
	ok "cluster removed: tunnel closed by the host" || bad "tunnel not closed"
stopped_clean "$apid" "$work/agent3.vg" "fed-agent (credential, closed by the host)"
stopped_clean "$cpid" "$work/ctl.vg" "fed-controller with the tunnel"
cpid= apid=

leak=
for s in "$TOKEN" "$(cat "$work/sa-token")" "$(cat "$work/cred")"; do
	grep -qF -- "$s" "$work"/*.log && leak=1
done
[ -z "$leak" ] && ok "no token or credential in the logs" || bad "secret in a log"
echo "tunnel-valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
