#!/usr/bin/env bash
# e2e test of e2e/local-clusters itself: a workload cluster runs a real
# Deployment; stop/start/freeze/thaw/down behave as documented. Uses its own
# state dir, so it can run next to the shared e2e clusters.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LC=${FED_LOCAL_CLUSTERS:-$here/local-clusters}
KUBECTL=${KUBECTL:-kubectl}
DEPLOY_TIMEOUT=${FED_DEPLOY_TIMEOUT:-120}
state=$(mktemp -d "${TMPDIR:-/tmp}/fed-lc-test.XXXXXX")
passed=0
failed=0

lc() { "$LC" "$1" --state-dir "$state" "${@:2}"; }
cleanup() {
	{ . "$(dirname "$0")/lib.sh" && collect_artifacts "$state"; } || true
	lc down >/dev/null 2>&1 || true
	rm -rf "$state"
}
trap cleanup EXIT

pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
summary() { echo "$passed passed, $failed failed"; }
# A failed step makes the later ones meaningless: stop here.
fatal() {
	fail "$*"
	summary
	exit 1
}

command -v "$KUBECTL" >/dev/null || fatal "kubectl not found (set KUBECTL)"
kc() { "$KUBECTL" --kubeconfig "$state/kubeconfig" --context solo --request-timeout=10s "$@"; }
port() { cat "$state/solo/port"; }
# HTTP status of /readyz with the cluster's bearer token; 000 = no answer.
readyz() {
	curl -s --noproxy '*' --max-time "${1:-5}" -o /dev/null -w '%{http_code}' \
		--cacert "$state/pki/ca.crt" -H "Authorization: Bearer $(cat "$state/solo/token")" \
		"https://127.0.0.1:$(port)/readyz" || true
}
# A process that exited but was not reaped yet (zombie) counts as gone: the
# stopped daemons are reparented to PID 1, which reaps when it gets to it.
running_pid() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}
apiserver_pid() { awk '$1 == "solo" && $2 == "kube-apiserver" { print $3 }' < <(lc pids); }

# 1. up with workloads
if lc up --workloads solo; then pass "up --workloads solo"; else fatal "up --workloads solo failed"; fi
for f in kubeconfig solo/kubeconfig solo/token pki/ca.crt pki/ca.key; do
	[ -s "$state/$f" ] || fatal "state file $f missing"
done
pass "state files present"
if [ "$(readyz)" = 200 ]; then pass "token auth: /readyz 200"; else fatal "token auth on /readyz: $(readyz)"; fi

# the aggregation layer is on: the apiserver publishes the front proxy's CA
# and header names for aggregated API servers (cluster connect)
eaa=$(kc -n kube-system get cm extension-apiserver-authentication -o json 2>/dev/null || true)
if python3 -c '
import json, sys
d = json.loads(sys.stdin.read())["data"]
ca = open(sys.argv[1]).read()
assert d["requestheader-client-ca-file"].strip() == ca.strip(), "front-proxy CA"
assert json.loads(d["requestheader-allowed-names"]) == ["front-proxy-client"]
assert json.loads(d["requestheader-username-headers"]) == ["X-Remote-User"]
assert json.loads(d["requestheader-group-headers"]) == ["X-Remote-Group"]
assert json.loads(d["requestheader-extra-headers-prefix"]) == ["X-Remote-Extra-"]
' "$state/pki/front-proxy-ca.crt" <<<"$eaa"; then
	pass "aggregation: extension-apiserver-authentication names the front-proxy CA and the X-Remote-* headers"
else
	fatal "aggregation not configured: $(head -c 300 <<<"$eaa")"
fi

# 2. a real Deployment gets 3 available replicas
kc create deployment web --image=registry.k8s.io/pause:3.10 --replicas=3 >/dev/null ||
	fatal "kubectl create deployment failed"
deadline=$(($(date +%s) + DEPLOY_TIMEOUT))
avail=
while :; do
	avail=$(kc get deployment web -o 'jsonpath={.status.availableReplicas}' 2>/dev/null || true)
	[ "$avail" = 3 ] && break
	[ "$(date +%s)" -lt "$deadline" ] || {
		kc get deployment,rs,pods,nodes -o wide || true
		fatal "Deployment web: availableReplicas='$avail' after ${DEPLOY_TIMEOUT}s"
	}
	sleep 1
done
pass "Deployment web availableReplicas=3"
phases=$(kc get pods -l app=web -o 'jsonpath={range .items[*]}{.status.phase}{"\n"}{end}' | grep -c '^Running$' || true)
if [ "$phases" = 3 ]; then pass "3 pods Running"; else fatal "expected 3 Running pods, got $phases"; fi

# 3. stop: the port refuses connections; start: ready again, data kept
old_pid=$(apiserver_pid)
lc stop solo || fatal "stop solo failed"
code=0
curl -s --noproxy '*' --max-time 5 -k -o /dev/null "https://127.0.0.1:$(port)/readyz" || code=$?
if [ "$code" = 7 ]; then pass "stopped apiserver refuses connections"; else fatal "after stop, curl exit code $code (want 7 = connection refused)"; fi
running_pid "$old_pid" && fatal "apiserver pid $old_pid still alive after stop"
# grep on a variable, not a pipe: with pipefail, grep -q exiting early can
# make the pipeline fail by SIGPIPE.
st=$(lc status)
if grep -Eq '^solo +[0-9]+ +yes +stopped' <<<"$st"; then pass "status shows solo stopped"; else fatal "status does not show solo stopped: $st"; fi

lc start solo || fatal "start solo failed"
if [ "$(readyz)" = 200 ]; then pass "started apiserver ready on the same port"; else fatal "after start /readyz: $(readyz)"; fi
if kc get deployment web >/dev/null; then pass "Deployment survived stop/start"; else fatal "Deployment web gone after start"; fi

# 4. freeze: requests hang; thaw: they are answered again
lc freeze solo || fatal "freeze solo failed"
code=$(readyz 2)
if [ "$code" = 000 ]; then pass "frozen apiserver does not answer"; else fatal "frozen apiserver answered $code"; fi
st=$(lc status)
grep -Eq '^solo +[0-9]+ +yes +frozen' <<<"$st" || fatal "status does not show solo frozen: $st"
lc thaw solo || fatal "thaw solo failed"
ok=0
for _ in $(seq 50); do [ "$(readyz)" = 200 ] && { ok=1; break; }; sleep 0.2; done
if [ $ok = 1 ]; then pass "thawed apiserver answers again"; else fatal "thawed apiserver does not answer"; fi

# 5. down: every recorded process gone, state dir removed; idempotent
mapfile -t pids < <(lc pids | awk '{ print $3 }')
[ ${#pids[@]} -ge 5 ] || fatal "expected >= 5 recorded pids (etcd, apiserver, kcm, scheduler, kwok), got ${#pids[@]}"
lc down || fatal "down failed"
left=()
for p in "${pids[@]}"; do running_pid "$p" && left+=("$p"); done
if [ ${#left[@]} -eq 0 ]; then pass "down: all ${#pids[@]} recorded processes gone"; else fatal "down left pids: ${left[*]}"; fi
if [ ! -e "$state" ]; then pass "down removed the state dir"; else fatal "state dir $state still exists"; fi
if lc down; then pass "second down exits 0"; else fatal "second down failed"; fi

summary
[ "$failed" = 0 ]
