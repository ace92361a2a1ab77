#!/usr/bin/env bash
# fed-controller under valgrind through real activity on the host cluster
# (its inputs created, changed and deleted; the host apiserver restarted):
# no leaks and no memory errors when it exits on SIGTERM.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
command -v valgrind >/dev/null || { echo "valgrind is not installed (scripts/setup installs it)"; exit 1; }
k() { kubectl --kubeconfig "$FED_E2E_KUBECONFIG" --context host "$@"; }
log=$(mktemp); vlog=$(mktemp)
trap 'rm -f "$log" "$vlog"; k -n kube-system delete cm kubefed-config --ignore-not-found >/dev/null 2>&1 || true' EXIT
k -n kube-system delete cm kubefed-config --ignore-not-found >/dev/null

valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --log-file="$vlog" \
	"$FED_BIN_DIR/fed-controller" --kubeconfig "$FED_E2E_KUBECONFIG" --context host \
	--log-level debug 2>"$log" &
pid=$!
wait_log() { # pattern timeout
	for _ in $(seq $(( $2 * 10 ))); do grep -q "$1" "$log" && return 0; sleep 0.1; done
	echo "FAIL: no log line matching '$1' within $2s"; cat "$log"; kill $pid 2>/dev/null; exit 1
}
wait_log "connecting to" 60
sleep 3 # valgrind is slow to get its informers going
k -n kube-system create cm kubefed-config --from-literal=kubefed.yaml=a >/dev/null
wait_log "federation config kube-system/kubefed-config" 30
"$FED_LOCAL_CLUSTERS" restart --state-dir "$FED_E2E_STATE" host >&2
k -n kube-system patch cm kubefed-config -p '{"data":{"kubefed.yaml":"b"}}' >/dev/null
k -n kube-system delete cm kubefed-config >/dev/null
wait_log "was deleted" 60
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
if [ $rc -ne 0 ]; then
	echo "FAIL: fed-controller under valgrind exited $rc"; cat "$vlog"; exit 1
fi
grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$vlog"
echo "1 passed, 0 failed"
