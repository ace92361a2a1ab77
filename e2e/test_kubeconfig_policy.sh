#!/usr/bin/env bash
# Finding 12 and issue 13's acceptance item 4: a member kubeconfig in the
# Secret that runs an exec plugin (member2) or reads a local file
# (tokenFile: tokf) is refused by default, with one line naming the field,
# the cluster and the flag (KubeFedCluster status, Event, controller log),
# and the plugin never runs. With --allow-kubeconfig-exec and
# --allow-kubeconfig-files, a plugin that sleeps 20 s before it answers
# does not hold the loop: member1's health checks keep completing, the
# loop lag stays under a second, the leader Lease keeps being renewed;
# when the plugin answers, member2 becomes Ready (and tokf with its file).
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system LEASE=fed-e2e-kcpol-$$ SLEEP=20
work=$(mktemp -d)
pass=0 fail=0 cpid=

. "$(dirname "$0")/lib.sh"
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
cond() { kfc "$1" "{.status.conditions[?(@.type==\"Ready\")].$2}"; }
# a loop that is stuck does not answer: give up after 5 s, print nothing
metric() { { curl -s -m 5 "http://127.0.0.1:$mport/metrics" || true; } | sed -n "s/^$1 //p"; }
renew_time() { k -n $FNS get lease $LEASE -o jsonpath='{.spec.renewTime}' 2>/dev/null || true; }
ready() { [ "$(cond "$1" status)" = True ]; }
holder() { k -n $FNS get lease $LEASE -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true; }

cleanup() {
	collect_artifacts "$work" || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	fed_unfederate
	k -n $FNS delete lease $LEASE --ignore-not-found >/dev/null 2>&1 || true
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-kcpol-controller.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fed_install_local

# ---- the Secret: member1 inline, member2 through a slow exec plugin, tokf from a token file ----
TOKEN2=$(tr -d '\r\n' <"$FED_E2E_STATE/member2/token")
printf '%s' "$TOKEN2" >"$work/tok2"
cat >"$work/plugin.sh" <<EOF
#!/bin/sh
date +%s.%N >>"$work/plugin-runs"
sleep $SLEEP
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}\n' "\$(cat "$work/tok2")"
EOF
chmod 0755 "$work/plugin.sh"
M2=$(srv member2) CA2=$(ca_data member2)
{
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubefed-config, namespace: kube-system}\ndata:\n  kubefed.yaml: |\n'
	printf '    apiVersion: federation/v1beta1\n    kind: Federation\n    spec:\n      clusters:\n'
	for c in member1 member2 tokf; do
		s=$M2
		[ $c != member1 ] || s=$(srv member1)
		printf '      - clusterName: %s\n        serverAddressByClientCIDRs:\n        - {clientCIDR: 0.0.0.0/0, serverAddress: "%s"}\n' $c "$s"
	done
	printf -- '---\napiVersion: v1\nkind: Secret\nmetadata: {name: kubefed-kubeconfig, namespace: kube-system}\nstringData:\n'
	echo "  kubeconfig-member1: |"
	kubectl --kubeconfig "$K" config view --raw --minify --flatten --context member1 | sed 's/^/    /'
	cat <<EOF
  kubeconfig-member2: |
    apiVersion: v1
    kind: Config
    clusters: [{name: m2, cluster: {server: "$M2", certificate-authority-data: $CA2}}]
    users:
    - name: plugin
      user:
        exec: {apiVersion: client.authentication.k8s.io/v1, command: "$work/plugin.sh", interactiveMode: Never}
    contexts: [{name: m2, context: {cluster: m2, user: plugin}}]
    current-context: m2
  kubeconfig-tokf: |
    apiVersion: v1
    kind: Config
    clusters: [{name: m2, cluster: {server: "$M2", certificate-authority-data: $CA2}}]
    users: [{name: file, user: {tokenFile: "$work/tok2"}}]
    contexts: [{name: m2, context: {cluster: m2, user: file}}]
    current-context: m2
EOF
} | k apply -f - >/dev/null

start_ctl() { # extra args
	start_controller "$work/ctl.log" --health-period 1 --health-timeout 1 --failure-threshold 3 "$@"
	wait_until 30 grep -q "serving .* port" "$work/ctl.log" || { bad "controller did not start"; tail "$work/ctl.log"; exit 1; }
	mport=$(sed -n 's/.*serving .* port \([0-9]*\).*/\1/p' "$work/ctl.log" | sed -n 1p)
}
stop_ctl() {
	kill -TERM $cpid 2>/dev/null || true
	wait_until 20 bash -c "! kill -0 $cpid 2>/dev/null" || kill -9 $cpid 2>/dev/null || true
	cpid=
}

# ---- by default: refused, with the flag named; the plugin never runs ----------------
start_ctl --leader-elect=false
wait_until 30 ready member1 &&
	ok "member1 (inline kubeconfig) Ready" || bad "member1: $(kfc member1 '{.status}')"
if wait_eq 30 KubeconfigNotAllowed cond member2 reason; then
	msg=$(cond member2 message)
	case "$msg" in
	*kubeconfig-member2*users\[plugin\].exec*--allow-kubeconfig-exec*) ok "member2 (exec) refused: $msg" ;;
	*) bad "member2's message does not name the cluster, field and flag: $msg" ;;
	esac
else
	bad "member2 with an exec kubeconfig not refused: $(kfc member2 '{.status.conditions}')"
fi
if wait_eq 30 KubeconfigNotAllowed cond tokf reason; then
	msg=$(cond tokf message)
	case "$msg" in
	*kubeconfig-tokf*users\[file\].tokenFile*--allow-kubeconfig-files*) ok "tokf (tokenFile) refused: $msg" ;;
	*) bad "tokf's message does not name the cluster, field and flag: $msg" ;;
	esac
else
	bad "tokf with a tokenFile kubeconfig not refused: $(kfc tokf '{.status.conditions}')"
fi
grep -q "\[member2\] KubeconfigNotAllowed: .*--allow-kubeconfig-exec" "$work/ctl.log" &&
	[ "$(grep -c 'KubeconfigNotAllowed' "$work/ctl.log")" -le 4 ] &&
	ok "the controller log says it once per cluster: $(grep -m1 '\[member2\] KubeconfigNotAllowed' "$work/ctl.log" | sed 's/.*\] //' | cut -c1-80)..." ||
	bad "controller log: $(grep -c KubeconfigNotAllowed "$work/ctl.log") KubeconfigNotAllowed lines"
events() { k -n $FNS get events --field-selector involvedObject.name=member2,reason=KubeconfigNotAllowed -o jsonpath='{.items[*].message}' 2>/dev/null || true; }
wait_set 10 events && [[ "$(events)" == *--allow-kubeconfig-exec* ]] &&
	ok "an Event on member2 names the flag" || bad "no KubeconfigNotAllowed Event on member2"
[ ! -e "$work/plugin-runs" ] && ok "the plugin never ran" || bad "the plugin ran $(wc -l <"$work/plugin-runs") time(s) though not allowed"
stop_ctl
rm -f "$work/plugin-runs"

# ---- allowed: a plugin that sleeps ${SLEEP} s holds nothing but member2's calls -----
start_ctl --allow-kubeconfig-exec --allow-kubeconfig-files --leader-elect-lease-name $LEASE \
	--leader-elect-lease-duration 4 --leader-elect-renew-deadline 3 --leader-elect-retry-period 1
wait_until 30 test -s "$work/plugin-runs" || { bad "the plugin never started"; tail "$work/ctl.log"; exit 1; }
t0=$(sed -n 1p "$work/plugin-runs")
who=$(holder)
probes0=$(metric cluster_health_status_duration_seconds_count)
renews=() probes=() last=
while le "$(since "$t0")" $((SLEEP - 2)); do
	r=$(renew_time)
	[ -z "$r" ] || [ "$last" = "$r" ] || { renews+=("$r"); last=$r; }
	p=$(metric cluster_health_status_duration_seconds_count)
	probes+=("${p:-none}")
	sleep 1
done
probes1=$(metric cluster_health_status_duration_seconds_count)
probes0=${probes0:-0} probes1=${probes1:-0}
if [ "$((${probes1%.*} - ${probes0%.*}))" -ge $((SLEEP / 3)) ]; then
	ok "while the plugin slept: $((${probes1%.*} - ${probes0%.*})) health checks of the other members completed (samples: ${probes[*]})"
else
	bad "health checks stalled while the plugin slept: ${probes0:-?} -> ${probes1:-?} (samples: ${probes[*]})"
fi
if [ "${#renews[@]}" -ge $((SLEEP / 4)) ] && [ "$(holder)" = "$who" ] && [ -n "$who" ]; then
	ok "the Lease was renewed ${#renews[@]} times by $who while the plugin slept"
else
	bad "Lease renewals while the plugin slept: ${#renews[@]} (${renews[*]:-none}), holder $who -> $(holder)"
fi
if wait_until 40 ready member2; then
	ok "member2 Ready $(since "$t0") s after its plugin started (it answers after ${SLEEP} s)"
else
	bad "member2 not Ready after its plugin: $(kfc member2 '{.status.conditions}') $(grep member2 "$work/ctl.log" | tail -3)"
fi
# the largest lag since start, the plugin's whole run included
lagmax=$(metric fed_loop_lag_max_seconds)
if [ -n "$lagmax" ] && le "$lagmax" 1; then
	ok "fed_loop_lag_max_seconds $lagmax (< 1 s) across the plugin's run"
else
	bad "fed_loop_lag_max_seconds ${lagmax:-? (no answer)} across the plugin's run"
fi
[ "$(wc -l <"$work/plugin-runs")" -eq 1 ] && ok "one plugin run for all of member2's calls" ||
	bad "$(wc -l <"$work/plugin-runs") plugin runs"
wait_until 20 ready tokf && ok "tokf (tokenFile) Ready with --allow-kubeconfig-files" ||
	bad "tokf: $(kfc tokf '{.status.conditions}')"
if grep -q "$TOKEN2" "$work/ctl.log"; then bad "member2's token in the controller log"; else ok "no token in the controller log"; fi
stop_ctl

echo "kubeconfig_policy: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
