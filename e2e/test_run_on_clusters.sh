#!/usr/bin/env bash
# e2e/run-on-clusters against clusters started beforehand, as a user's kind
# or cloud clusters would be: three local clusters with context names of
# their own (ext-host, ext-a, ext-b), which run-on-clusters maps to host,
# member1 and member2 without starting anything; two portable tests run
# there and pass, and a test that needs local-clusters is refused.
set -euo pipefail
: "${FED_BIN_DIR:?run through ctest}" "${FED_LOCAL_CLUSTERS:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
S=$(mktemp -d /tmp/fed-e2e-runon.XXXXXX)
pass=0 fail=0

. "$(dirname "$0")/lib.sh"
cleanup() {
	collect_artifacts "$S" || true
	"$FED_LOCAL_CLUSTERS" down --state-dir "$S/clusters" >/dev/null 2>&1 || true
	rm -rf "$S"
}
trap cleanup EXIT

"$FED_LOCAL_CLUSTERS" up --state-dir "$S/clusters" ext-host ext-a ext-b >/dev/null
kc=$S/clusters/kubeconfig
before=$(kubectl --kubeconfig "$kc" config get-contexts -o name | sort | tr '\n' ' ')
t0=$(now)
if "$root/e2e/run-on-clusters" --kubeconfig "$kc" --host ext-host --member1 ext-a --member2 ext-b \
	--bin-dir "$FED_BIN_DIR" --artifacts "$S/artifacts" test_placement_labels test_copy_readded >"$S/run.out" 2>&1 &&
	grep -q "run-on-clusters: 2 tests passed" "$S/run.out"; then
	ok "run-on-clusters: test_placement_labels and test_copy_readded passed on ext-host/ext-a/ext-b in $(since "$t0")s"
else
	bad "run-on-clusters: $(tail -15 "$S/run.out")"
fi
sed "s/^/  | /" "$S/run.out"
grep -q "0 leaks" "$S/run.out" && ok "their artifacts passed the secret scan" || bad "no secret scan result"
[ "$(kubectl --kubeconfig "$kc" config get-contexts -o name | sort | tr '\n' ' ')" = "$before" ] &&
	ok "the user's kubeconfig is unchanged (contexts $before)" || bad "kubeconfig contexts changed"
rc=0
out=$("$root/e2e/run-on-clusters" --kubeconfig "$kc" --host ext-host --member1 ext-a --member2 ext-b \
	--bin-dir "$FED_BIN_DIR" test_member_freeze 2>&1) || rc=$?
[ $rc = 2 ] && grep -q "not in e2e/portable-tests" <<<"$out" && ok "a test that needs local-clusters is refused: $out" ||
	bad "non-portable test: rc=$rc $out"
cp "$S/run.out" "$S/run-on-clusters.log"

echo "run-on-clusters: $pass passed, $fail failed"
[ "$fail" = 0 ]
