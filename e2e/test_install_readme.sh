#!/usr/bin/env bash
# README's "Install on a cluster", run as written: the fenced block after the
# marker <!-- install-on-a-cluster --> runs line for line in the source tree,
# with one change: REGISTRY is a registry this test runs on 127.0.0.1
# (e2e/registry-bin; plain HTTP, declared insecure for its address alone in
# a registries.conf.d drop-in that the test removes, so skopeo and podman
# need no extra flags). The contexts
# cluster1 (host, with --workloads) and cluster2 are local clusters;
# e2e/pod-runner runs the chart's Pods, pulling the image from the registry
# as a node would. The block's last line (fedctl list) must show cluster2
# Connected and Ready.
set -euo pipefail
: "${FED_BIN_DIR:?run through ctest}" "${FED_LOCAL_CLUSTERS:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
S=$(mktemp -d /tmp/fed-e2e-readme.XXXXXX)
K=$S/kubeconfig FNS=kube-federation-system
pass=0 fail=0 pids=() dropin=

. "$(dirname "$0")/lib.sh"
WAIT_STEP=0.2
cleanup() {
	pod_test_cleanup
	[ -z "$dropin" ] || rm -f "$dropin"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1 || { echo "FAIL: this test needs root and ip netns"; exit 1; }
HELM=$("$root/e2e/helm-bin" --check) || { echo "FAIL: no helm (scripts/setup builds it: e2e/helm-bin)"; exit 1; }
REGBIN=$("$root/e2e/registry-bin" --check) || { echo "FAIL: no test registry (scripts/setup builds it: e2e/registry-bin)"; exit 1; }
port() { srv "$1" | sed 's/.*://'; }
running() { pods_running "$S/pods-host"; }

t0=$(now)
"$FED_LOCAL_CLUSTERS" up --state-dir "$S" cluster2 >/dev/null
"$FED_LOCAL_CLUSTERS" up --state-dir "$S" --workloads cluster1 >/dev/null
echo "clusters up in $(since "$t0")s"
# the block, as README has it
python3 - "$root/README.md" >"$S/block.sh" <<'PYEOF'
import sys
lines = open(sys.argv[1]).read().split("\n")
i = next(n for n, l in enumerate(lines) if l.startswith("<!-- install-on-a-cluster"))
assert lines[i + 1] == "```sh", "the marker is not followed by a sh block"
j = lines.index("```", i + 2)
print("\n".join(lines[i + 2:j]))
PYEOF
grep -q '^export REGISTRY=' "$S/block.sh" || { echo "FAIL: README's block sets no REGISTRY"; cat "$S/block.sh"; exit 1; }
echo "README's block:"; sed 's/^/  | /' "$S/block.sh"

podman_env "$S"
"$REGBIN" >"$S/registry.out" 2>&1 &
pids+=($!)
wait_until 10 grep -q "serving on" "$S/registry.out" || { echo "FAIL: registry: $(cat "$S/registry.out")"; exit 1; }
reg=$(sed -n 's/serving on //p' "$S/registry.out")
# skopeo 1.9 reads no CONTAINERS_REGISTRIES_CONF: a drop-in for this
# registry's address alone, removed by the cleanup
dropin=/etc/containers/registries.conf.d/fed-e2e-${reg//[:.]/-}.conf
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$reg" >"$dropin"

# the kubelet's part for cluster1's fed-controller Pods, pulling as a node does
"$root/e2e/pod-runner" --kubeconfig "$K" --context cluster1 --namespace $FNS \
	--selector app.kubernetes.io/name=fed-controller --state "$S/pods-host" \
	--forward "$(port cluster1)" --forward "$(port cluster2)" 2>"$S/runner-host.log" &
pids+=($!)

sed -i "s|^export REGISTRY=.*|export REGISTRY=$reg/platform|" "$S/block.sh"
t0=$(now)
if (cd "$root" && KUBECONFIG=$K PATH="$FED_BIN_DIR:$(dirname "$HELM"):$PATH" bash -euxo pipefail "$S/block.sh") \
	>"$S/block.out" 2>&1; then
	ok "README's block ran as written in $(since "$t0")s"
else
	bad "README's block failed: $(tail -15 "$S/block.out")"
fi
sed 's/^/  | /' "$S/block.out" | grep -v '^  | Copying\|^  | Writing\|^  | Getting\|^  | Storing' | tail -25
grep -q "pulled $reg/platform/fed:0.1.0" "$S/runner-host.log" && [ "$(running)" = 2 ] &&
	ok "both fed-controller Pods run the image pulled from $reg/platform/fed:0.1.0" ||
	bad "pods: $(running) running; $(tail -3 "$S/runner-host.log")"
[ "$(awk '$1 == "cluster2" { print $3 "/" $4 }' "$S/block.out")" = Connected/True ] &&
	ok "fedctl list (the block's last line): cluster2 Connected, Ready True" ||
	bad "fedctl list: $(grep -A3 'fedctl list' "$S/block.out" | tail -3)"

echo "install-readme: $pass passed, $fail failed"
[ "$fail" = 0 ]
