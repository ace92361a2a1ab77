#!/usr/bin/env bash
# A FederatedSecret gets its status even when a member it does not go to
# cannot list Secrets in its namespace (found by the chaos run, issue 15):
# members joined with fedctl's least-privilege role, the FederatedNamespace
# places the namespace on member1 only, the FederatedSecret names member1
# and member2. fed lists Secrets per namespace once it has bound itself
# the right to there, and in member2 that namespace never comes, so its
# Secrets are never listed there. Before the fix the planner waited for that listing
# and never wrote the status (observedGeneration unset, no condition),
# although the copy in member1 was made: member2 gets no copy and holds
# none of ours (none recorded), so there is nothing to wait for. Then the
# namespace is placed on member2 too, and the Secret follows there; last,
# the namespace goes from member2 while no controller runs, and then
# another while fed cannot list Secrets in it.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-secstat-$$ # unique: without kcm a deleted namespace never goes
work=$(mktemp -d)
pass=0 fail=0 cpid=
pids=()

. "$(dirname "$0")/lib.sh"
st() {
	k -n $NS get federatedsecret s1 -o jsonpath='{.metadata.generation}/{.status.observedGeneration} {.status.conditions[?(@.type=="Propagation")].status} {range .status.clusters[*]}{.name}={.status};{end}' 2>/dev/null || true
}
fedctl() { "$FED_BIN_DIR/fedctl" --kubeconfig "$K" --host-cluster-context host "$@"; }
# the cluster entries in name order
sorted_st() {
	local a b c
	read -r a b c <<<"$(st)"
	echo "$a $b $(tr ';' '\n' <<<"$c" | sed '/^$/d' | sort | tr '\n' ';')"
}
has_secret() { km "$1" -n $NS get secret s1 >/dev/null 2>&1; }

# FederatedSecret NS/s1 for member1 and member2
fsecret() { # NS
	cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedSecret
metadata: {name: s1, namespace: $1}
spec:
  template: {stringData: {a: b}}
  placement: {clusters: [{name: member1}, {name: member2}]}
EOF
}

cleanup() {
	collect_artifacts "$work" || true
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for c in host member1 member2; do km $c delete ns $NS $NS-b --wait=false >/dev/null 2>&1 || true; done
	for c in member1 member2; do
		fed_finalize_ns $c $NS
		fed_finalize_ns $c $NS-b
		fedctl delete $c --wait 10s >/dev/null 2>&1 || true
		fed_finalize_ns $c $FNS
	done
	fed_unfederate
	rm -rf "$work"
}
trap cleanup EXIT

fed_install_local
fed_reset
start_controller "$work/ctl.log" --leader-elect=false --health-period 1 --log-level debug
for c in member1 member2; do
	fedctl join $c --cluster-context $c --wait 2m >"$work/join-$c.out" 2>&1 ||
		{ bad "join $c: $(cat "$work/join-$c.out")"; exit 1; }
done

k create ns $NS >/dev/null
fed_namespace_on $NS member1
fsecret $NS
t0=$(now)
if wait_until 30 has_secret member1 && wait_eq 30 "1/1 True member1=;" st; then
	ok "copy in member1, none in member2 (namespace not there): status current in $(since "$t0")s ($(st))"
else
	bad "status after 30 s: '$(st)' (copy in member1: $(has_secret member1 && echo yes || echo no))"
fi

fed_namespace_on $NS member1 member2
t0=$(now)
if wait_until 60 has_secret member2 && wait_eq 30 "1/1 True member1=;member2=;" sorted_st; then
	ok "namespace placed on member2 too: the Secret followed and the status says so in $(since "$t0")s ($(st))"
else
	bad "after placing the namespace on member2: copy there: $(has_secret member2 && echo yes || echo no), status '$(st)'"
fi

# Then the namespace goes while no controller runs (the chaos run's case
# 4): member2's namespace, with the copy in it, is deleted, and the
# FederatedNamespace removed. The next controller is told NotFound when it
# binds itself in that namespace on member2; before the fix it waited for
# a listing there that could never come, and the status kept saying
# Propagation True with member2 listed, forever.
kill "$cpid" && wait "$cpid" 2>/dev/null || true
km member2 delete ns $NS --wait=false >/dev/null
fed_finalize_ns member2 $NS
ns_gone() { ! km member2 get ns $NS >/dev/null 2>&1; }
wait_until 30 ns_gone || bad "member2's namespace $NS did not go"
k -n $NS patch federatednamespace $NS --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null
k -n $NS delete federatednamespace $NS --wait=false >/dev/null
cond() {
	k -n $NS get federatedsecret s1 -o jsonpath='{.status.observedGeneration} {.status.conditions[?(@.type=="Propagation")].status} {.status.conditions[?(@.type=="Propagation")].reason} {range .status.clusters[*]}{.name};{end}' 2>/dev/null || true
}
start_controller -a "$work/ctl.log" --leader-elect=false --health-period 1 --log-level debug
t0=$(now)
if wait_eq 30 "1 False NamespaceNotFederated " cond; then
	ok "namespace gone from member2 while no controller ran: NamespaceNotFederated, no cluster left, in $(since "$t0")s"
else
	bad "status 30 s after the FederatedNamespace went: '$(cond)' (want '1 False NamespaceNotFederated ')"
fi

# Last, the chaos run's round 18: a leader starts with a copy of ours
# recorded in member2, its listing of Secrets there never completes (here:
# member2's ClusterRole fed-member-secrets lost its rules, so the binding
# applies but grants nothing; there: the namespace was being deleted), and
# then the namespace goes. Before the fix fed never asked again once its
# informer there had started, so it never learnt the namespace was gone,
# and waited for that listing forever: the status stayed True.
NS2=$NS-b
k create ns $NS2 >/dev/null
fed_namespace_on $NS2 member1 member2
fsecret $NS2
cond2() {
	k -n $NS2 get federatedsecret s1 -o jsonpath='{.status.observedGeneration} {.status.conditions[?(@.type=="Propagation")].status} {.status.conditions[?(@.type=="Propagation")].reason} {range .status.clusters[*]}{.name};{end}' 2>/dev/null || true
}
has2() { km "$1" -n $NS2 get secret s1 >/dev/null 2>&1; }
wait_until 30 has2 member1 && wait_until 30 has2 member2 && wait_until 30 _out_set cond2 ||
	bad "copies of $NS2/s1: member1 $(has2 member1 && echo yes || echo no), member2 $(has2 member2 && echo yes || echo no), status '$(cond2)'"
kill "$cpid" && wait "$cpid" 2>/dev/null || true
km member2 patch clusterrole fed-member-secrets --type json -p '[{"op":"replace","path":"/rules","value":[]}]' >/dev/null
start_controller -a "$work/ctl.log" --leader-elect=false --health-period 1 --log-level debug
sleep 8 # member2 Ready, fed's access checks done: its informer there starts, and cannot list
k -n $NS2 delete federatednamespace $NS2 --wait=false >/dev/null
ns2_terminating() { [ -n "$(km "$1" get ns $NS2 -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ]; }
for c in member1 member2; do # no kcm here to empty them: let them go
	wait_until 30 ns2_terminating $c || bad "fed did not delete namespace $NS2 in $c"
	fed_finalize_ns $c $NS2
done
t0=$(now)
if wait_eq 40 "1 False NamespaceNotFederated " cond2; then
	ok "namespace gone from member2 where fed could not list Secrets: NamespaceNotFederated in $(since "$t0")s"
else
	bad "status 40 s after member2's namespace $NS2 went: '$(cond2)' (want '1 False NamespaceNotFederated ')"
fi

echo "passed $pass, failed $fail"
[ "$fail" -eq 0 ]
