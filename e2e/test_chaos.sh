#!/usr/bin/env bash
# A short chaos run (issue 15) on the fixture's host, member1 and member2
# plus clusters of its own: cw (the fifth member, joined and deleted by
# the workload), agent1 and agent2 in network namespaces. Two controller
# replicas on a short Lease, a seeded workload, random faults alone and
# together, rounds that end in a settle and the checker; then the tamper
# test: the checker must catch exactly an edited, a deleted and a stray
# copy, and pass again once the controllers are back. The seed rotates
# per run day (FED_CHAOS_SEED overrides it); a failure prints how to
# replay it. Needs root (ip netns) and tinyproxy (scripts/setup).
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_E2E_STATE:?}"
here=$(cd "$(dirname "$0")" && pwd)
K=$FED_E2E_KUBECONFIG
out=${FED_E2E_ARTIFACTS:-${TMPDIR:-/tmp}}/test_chaos
mkdir -p "$out"
. "$here/lib.sh"
asan=()
# sanitizer builds are slower: their bounds get the slack they need
[ -z "${FED_SANITIZE:-}" ] || asan=(--asan)
[ "$(id -u)" = 0 ] || { echo "FAIL: the chaos run needs root (ip netns)"; exit 1; }
command -v tinyproxy >/dev/null || { echo "FAIL: tinyproxy is not installed (run scripts/setup)"; exit 1; }
seed=()
[ -z "${FED_CHAOS_SEED:-}" ] || seed=(--seed "$FED_CHAOS_SEED")
rc=0
python3 "$here/chaos/chaos.py" ${seed[@]+"${seed[@]}"} ${asan[@]+"${asan[@]}"} \
	--rounds "${FED_CHAOS_ROUNDS:-2}" --round-seconds "${FED_CHAOS_ROUND_SECONDS:-60}" \
	--tamper-test --work "$out/work" --json "$out/report.json" || rc=$?
# the logs stay with the artifacts (collect_artifacts adds the fixture's
# Events and Secrets); the agents' bootstrap and ServiceAccount tokens are
# planted too, so the secret scan fails should any log hold one
for f in "$out"/work/timeline.jsonl "$out"/work/snapshot-*.json; do [ -f "$f" ] && cp "$f" "$out/"; done
planted=()
for f in "$out"/work/*-pod/token "$out"/work/*-pod/sa-token; do [ -f "$f" ] && planted+=(--file "$f"); done
[ ${#planted[@]} = 0 ] || python3 "$here/secret_scan.py" plant "${planted[@]}" || true
collect_artifacts "$out/work" || true
rm -rf "$out/work"
[ $rc = 0 ] || echo "FAIL: chaos run failed; replay: e2e/chaos/chaos.py --replay $out/report.json"
exit $rc
