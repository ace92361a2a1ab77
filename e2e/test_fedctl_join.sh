#!/usr/bin/env bash
# fedctl join / delete against real apiservers (host, member1, member2) with
# fed-controller running as a local process: members become Ready, re-runs
# are no-ops, bad names and unknown contexts fail clearly, the host joins
# itself, delete removes everything (never the host's own namespace), is
# idempotent and, with --force, copes with an unreachable member.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system
F="$FED_BIN_DIR/fedctl"
work=$(mktemp -d)
pass=0 fail=0 pids=()

. "$(dirname "$0")/lib.sh"
WAIT_STEP=0.1
fedctl() { local c=$1; shift; "$F" "$c" --kubeconfig "$K" --host-cluster-context host "$@"; }
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
is_ready() {
	[ "$(kfc "$1" '{.status.conditions[?(@.type=="Ready")].status}')" = True ] &&
		[ "$(kfc "$1" '{.status.connectivityStatus}')" = Connected ]
}
kfc_gone() { ! k -n $FNS get kubefedcluster "$1" >/dev/null 2>&1; }
cm_yaml() { k -n kube-system get cm kubefed-config -o jsonpath='{.data.kubefed\.yaml}' 2>/dev/null; }
in_cm() { cm_yaml | grep -q "clusterName: $1\$"; }
in_secret() { [ -n "$(k -n kube-system get secret kubefed-kubeconfig -o jsonpath="{.data.kubeconfig-$1}" 2>/dev/null)" ]; }
ns_state() { km "$1" get ns $FNS -o jsonpath='{.status.phase}' 2>/dev/null || echo Gone; }
# plain clusters have no kube-controller-manager: a deleted namespace stays
# Terminating until someone drops its finalizer
finalize_ns() {
	printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"},"spec":{"finalizers":[]}}' $FNS |
		km "$1" replace --raw /api/v1/namespaces/$FNS/finalize -f - >/dev/null 2>&1 || true
}
member_clean() { # CONTEXT: what join creates, gone
	local c=$1
	! km "$c" get clusterrole fed-controller:member >/dev/null 2>&1 &&
		! km "$c" get clusterrolebinding fed-controller:member >/dev/null 2>&1 &&
		! km "$c" -n $FNS get sa fed-member >/dev/null 2>&1 &&
		! km "$c" -n $FNS get secret fed-member-token >/dev/null 2>&1
}

cleanup() {
	local p c
	collect_artifacts "$work" || true
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	"$FED_LOCAL_CLUSTERS" start --state-dir "$FED_E2E_STATE" member2 >/dev/null 2>&1 || true
	fed_unfederate
	for c in host member1 member2; do
		km "$c" delete clusterrolebinding,clusterrole fed-controller:member --ignore-not-found >/dev/null 2>&1 || true
		km "$c" -n $FNS delete secret fed-member-token --ignore-not-found >/dev/null 2>&1 || true
		km "$c" -n $FNS delete sa fed-member --ignore-not-found >/dev/null 2>&1 || true
	done
	for c in member1 member2; do
		km "$c" delete ns $FNS --ignore-not-found --wait=false >/dev/null 2>&1 || true
		finalize_ns "$c"
	done
	rm -rf "$work"
}
trap cleanup EXIT

# ---- setup: manifests, fed-controller as a local process --------------------
fed_install_local
fed_reset # a clean start: no federation left by an earlier test
start_controller "$work/controller.log" --leader-elect=false --health-period 2 --log-level info
disown "$cpid" 2>/dev/null || true

# ---- join ------------------------------------------------------------------
if out=$(fedctl join member1 2>&1); then
	echo "$out" | sed 's/^/    /'
	if is_ready member1 && echo "$out" | grep -q "cluster member1 is Ready" &&
		echo "$out" | grep -q "member: namespace $FNS created"; then
		ok "join member1: Ready, steps printed"
	else
		bad "join member1: exit 0 but not Ready: $out"
	fi
else
	bad "join member1 failed: $out"
fi
if out=$(fedctl join member2 --rbac minimal 2>&1) && is_ready member2; then
	ok "join member2 --rbac minimal: Ready"
else
	bad "join member2: $out"
fi
if in_cm member1 && in_cm member2 && in_secret member1 && in_secret member2; then
	ok "configmap and secret hold member1 and member2"
else
	bad "configmap/secret: $(cm_yaml)"
fi

rv0=$(k -n kube-system get cm kubefed-config -o jsonpath='{.metadata.resourceVersion}')
srv0=$(k -n kube-system get secret kubefed-kubeconfig -o jsonpath='{.metadata.resourceVersion}')
if out=$(fedctl join member1 2>&1) &&
	! echo "$out" | grep -E "^(member|host):" | grep -vq unchanged &&
	[ "$(k -n kube-system get cm kubefed-config -o jsonpath='{.metadata.resourceVersion}')" = "$rv0" ] &&
	[ "$(k -n kube-system get secret kubefed-kubeconfig -o jsonpath='{.metadata.resourceVersion}')" = "$srv0" ]; then
	ok "join member1 again: unchanged, exit 0"
else
	bad "join member1 again: $out"
fi

rc=0
out=$(fedctl join member1 --client-cidr 10.0.0.0/8=https://10.9.9.9:6443 --wait 0 2>&1) || rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q 'cluster "member1" is already joined (use --overwrite'; then
	ok "join with a different address: already joined, exit 1"
else
	bad "join different address: rc=$rc $out"
fi

rc=0
out=$(fedctl join Bad_Name 2>&1) || rc=$?
if [ $rc = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] &&
	echo "$out" | grep -q "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"; then
	ok "join Bad_Name: exit 1 with the rule"
else
	bad "join Bad_Name: rc=$rc $out"
fi

rc=0
out=$(fedctl join nosuch 2>&1) || rc=$?
# the shared fixture may hold more clusters (e2e.test_chaos adds cw)
if [ $rc = 1 ] && echo "$out" | grep -q 'context "nosuch" not found (available: host, member1, member2[,)]'; then
	ok "join with an unknown context: names it and lists the contexts"
else
	bad "join nosuch: rc=$rc $out"
fi

rc=0
out=$(fedctl join member3 --rbac bogus 2>&1) || rc=$?
if [ $rc = 2 ]; then ok "join --rbac bogus: usage error, exit 2"; else bad "--rbac bogus: rc=$rc $out"; fi

rc=0
out=$(fedctl join member1 --dry-run --overwrite 2>&1) || rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "(dry run)" &&
	[ "$(k -n kube-system get cm kubefed-config -o jsonpath='{.metadata.resourceVersion}')" = "$rv0" ]; then
	ok "join --dry-run: changes nothing"
else
	bad "join --dry-run: rc=$rc $out"
fi

if out=$(fedctl join host 2>&1) && is_ready host; then
	ok "join host (the host itself): Ready"
else
	bad "join host: $out"
fi

# ---- delete ----------------------------------------------------------------
if out=$(fedctl delete member1 2>&1); then
	echo "$out" | sed 's/^/    /'
	st=$(ns_state member1)
	if ! in_cm member1 && ! in_secret member1 && in_cm member2 && member_clean member1 &&
		{ [ "$st" = Gone ] || [ "$st" = Terminating ]; } && wait_until 20 kfc_gone member1; then
		ok "delete member1: gone from configmap/secret, member clean (namespace $st), KubeFedCluster removed"
	else
		bad "delete member1: ns=$st cm=$(cm_yaml)"
	fi
else
	bad "delete member1 failed: $out"
fi
finalize_ns member1

rc=0
out=$(fedctl delete member1 2>&1) || rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "cluster member1 is not joined: nothing to do"; then
	ok "delete member1 again: not joined, exit 0"
else
	bad "delete member1 again: rc=$rc $out"
fi

if out=$(fedctl unjoin host 2>&1) && ! in_cm host && member_clean host &&
	[ "$(ns_state host)" = Active ] && echo "$out" | grep -q "is the host itself"; then
	ok "unjoin host: host's namespace kept, the rest removed"
else
	bad "unjoin host: ns=$(ns_state host) $out"
fi

# an unreachable member: refused without --force, host-only with it
"$FED_LOCAL_CLUSTERS" stop --state-dir "$FED_E2E_STATE" member2 >/dev/null 2>&1
rc=0
out=$(fedctl delete member2 2>&1) || rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q "cannot reach the member cluster" && in_cm member2; then
	ok "delete of an unreachable member: refused, still joined"
else
	bad "delete unreachable: rc=$rc $out"
fi
rc=0
out=$(fedctl delete member2 --force --wait 20s 2>&1) || rc=$?
if [ $rc = 0 ] && ! in_cm member2 && ! in_secret member2 && echo "$out" | grep -q "left in the member"; then
	ok "delete member2 --force: host cleaned, says what is left in the member"
else
	bad "delete --force: rc=$rc $out"
fi
"$FED_LOCAL_CLUSTERS" start --state-dir "$FED_E2E_STATE" member2 >/dev/null 2>&1

echo "fedctl join/delete: $pass passed, $fail failed"
[ "$fail" = 0 ]
