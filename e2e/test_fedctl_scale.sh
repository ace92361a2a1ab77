#!/usr/bin/env bash
# The seed walkthrough end to end against real apiservers with
# fed-controller running: join cluster1 and cluster2 (contexts member1,
# member2), list, describe, scale cluster1 --replicas=3 (the override lands
# and the member Deployment follows), every other scale form and error,
# then delete cluster1 (the member is left clean: no fed namespace, SA,
# RBAC or managed objects) and delete cluster2 --orphan (its copies stay,
# unlabelled).
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-scale-$$ # unique: without kcm a deleted namespace never goes
F=$FED_BIN_DIR/fedctl
work=$(mktemp -d)
pass=0 fail=0 cpid= bgpid=

. "$(dirname "$0")/lib.sh"
WAIT_STEP=0.1
fc() { "$F" "$1" --kubeconfig "$K" --host-cluster-context host "${@:2}"; } # CMD ARGS...
run() { rc=0; fc "$@" >"$work/out" 2>"$work/err" || rc=$?; out=$(cat "$work/out"); err=$(cat "$work/err"); }
fd() { k -n $NS get federateddeployment "$1" -o json; }
# the /spec/replicas override of a federated deployment for a cluster
ovr() { fd "$1" | jq -r --arg c "$2" '[.spec.overrides[]? | select(.clusterName == $c) | .clusterOverrides[]? | select(.path == "/spec/replicas") | .value] | first // "none"'; }
mreplicas() { km "$1" -n $NS get deploy "$2" -o jsonpath='{.spec.replicas}' 2>/dev/null; }
finalize_ns() { # CONTEXT NS: drop the finalizer nobody runs here (no kcm)
	printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"},"spec":{"finalizers":[]}}' "$2" |
		km "$1" replace --raw "/api/v1/namespaces/$2/finalize" -f - >/dev/null 2>&1 || true
}

cleanup() {
	local c
	collect_artifacts "$work" || true
	[ -z "$bgpid" ] || kill "$bgpid" 2>/dev/null || true
	# the controller's finalizer would hold the federated objects forever
	k -n $NS delete federateddeployments,federatednamespaces,replicaschedulingpreferences --all --wait=false >/dev/null 2>&1 || true
	for o in $(k -n $NS get federateddeployments,federatednamespaces -o name 2>/dev/null); do
		k -n $NS patch "$o" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
	done
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	fed_unfederate
	for c in host member1 member2; do
		km $c delete ns $NS --wait=false >/dev/null 2>&1 || true
		km $c delete clusterrolebinding,clusterrole fed-controller:member --ignore-not-found >/dev/null 2>&1 || true
		km $c -n $FNS delete secret fed-member-token --ignore-not-found >/dev/null 2>&1 || true
		km $c -n $FNS delete sa fed-member --ignore-not-found >/dev/null 2>&1 || true
	done
	for c in member1 member2; do
		km $c delete ns $FNS --ignore-not-found --wait=false >/dev/null 2>&1 || true
		finalize_ns $c $FNS
		finalize_ns $c $NS
	done
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-fedctl-scale-controller.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# ---- setup: manifests, fed-controller as a local process --------------------
fed_install_local
fed_reset
start_controller "$work/ctl.log" --leader-elect=false --health-period 1 --log-level debug
disown "$cpid" 2>/dev/null || true

# ---- the seed: join x2, list, describe -----------------------------------------
for i in 1 2; do
	run join cluster$i --cluster-context member$i
	if [ $rc = 0 ] && grep -q "cluster cluster$i is Ready" <<<"$out"; then
		ok "join cluster$i (context member$i): Ready"
	else
		bad "join cluster$i: rc=$rc $out $err"
	fi
done
run list
if [ $rc = 0 ] && grep -Eq '^cluster1 +direct +Connected +True ' <<<"$out" &&
	grep -Eq '^cluster2 +direct +Connected +True ' <<<"$out"; then
	ok "list: cluster1 and cluster2 Connected"
else
	bad "list: rc=$rc $out $err"
fi
run describe cluster1
if [ $rc = 0 ] && grep -Eq '^Name: +cluster1$' <<<"$out" && grep -Eq '^Status: +Connected$' <<<"$out"; then
	ok "describe cluster1"
else
	bad "describe cluster1: rc=$rc $out $err"
fi

run version
if [ $rc = 0 ] && grep -q "^Client Version: v" <<<"$out" && grep -q "^Host Cluster Version: v" <<<"$out" &&
	grep -q "^Controller: image fed:.*, deployment $FNS/fed-controller 0/0 ready$" <<<"$out" &&
	grep -q "^Controller Leader: none" <<<"$out"; then
	ok "version: client, host, the controller's image and leader"
else
	bad "version: rc=$rc $out $err"
fi

# ---- errors of every command: unreachable host, missing permission ---------------
sed "s#server: https://127.0.0.1:[0-9]*#server: https://127.0.0.1:1#" "$K" >"$work/dead.kubeconfig"
rc=0; out=$("$F" list --kubeconfig "$work/dead.kubeconfig" --host-cluster-context host 2>&1) || rc=$?
if [ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "cannot reach https://127.0.0.1:1" <<<"$out" &&
	grep -q "is the cluster up and reachable" <<<"$out"; then
	ok "list with the host unreachable: one line, problem and fix, exit 1"
else
	bad "unreachable host: rc=$rc $out"
fi
k -n default create serviceaccount fedctl-nobody-$$ >/dev/null
tok=$(k -n default create token fedctl-nobody-$$)
kubectl --kubeconfig "$K" config view --raw --minify --flatten --context host >"$work/nobody.kubeconfig"
kubectl --kubeconfig "$work/nobody.kubeconfig" config set-credentials nobody --token="$tok" >/dev/null
kubectl --kubeconfig "$work/nobody.kubeconfig" config set-context --current --user=nobody >/dev/null
rc=0; out=$("$F" scale cluster1 --replicas=1 --kubeconfig "$work/nobody.kubeconfig" 2>&1) || rc=$?
if [ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q 'cannot list resource "kubefedclusters"' <<<"$out" &&
	grep -q "lacks that permission" <<<"$out"; then
	ok "scale without rights: names the verb and resource, exit 1"
else
	bad "forbidden: rc=$rc $out"
fi
k -n default delete serviceaccount fedctl-nobody-$$ >/dev/null

# ---- global options first, KUBECONFIG, kubectl fed, completion ------------------
rc=0; out=$("$F" --kubeconfig "$K" --host-cluster-context host -v 2 list -o name 2>&1) || rc=$?
[ $rc = 0 ] && [ "$out" = $'kubefedcluster/cluster1\nkubefedcluster/cluster2' ] &&
	ok "global options before the command" || bad "globals first: rc=$rc $out"
rc=0; out=$("$F" --bogus list 2>&1) || rc=$?
[ $rc = 2 ] && grep -q "unknown global option --bogus" <<<"$out" && ok "unknown global option: exit 2" || bad "--bogus: rc=$rc $out"
rc=0; out=$("$F" --kubeconfig 2>&1) || rc=$?
[ $rc = 2 ] && ok "global option without its value: exit 2" || bad "--kubeconfig alone: rc=$rc $out"
rc=0; out=$(KUBECONFIG=$K PATH="$FED_BIN_DIR:$PATH" kubectl fed list --host-cluster-context host 2>&1) || rc=$?
if [ $rc = 0 ] && grep -Eq '^cluster1 +direct +Connected' <<<"$out"; then
	ok "kubectl fed list (KUBECONFIG, kubectl-fed on PATH)"
else
	bad "kubectl fed list: rc=$rc $out"
fi
comp() { # WORDS...: what completing the last word offers
	F="$F" PATH="$FED_BIN_DIR:$PATH" bash -c 'source <("$F" completion bash) && complete -p fedctl >/dev/null && complete -p kubectl-fed >/dev/null || exit 9
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _fedctl; echo "${COMPREPLY[*]}"' comp "$@"
}
[ "$(comp fedctl sc)" = scale ] && ok "completion: fedctl sc<TAB> gives scale" || bad "completion sc: $(comp fedctl sc)"
[ "$(comp fedctl --kubeconfig "$K" scale cluster1 --rep)" = --replicas ] &&
	ok "completion: scale's --rep<TAB> gives --replicas (from its option table)" || bad "completion --rep: $(comp fedctl scale x --rep)"
[ "$(comp fedctl --kubeconfig "$K" --host-cluster-context host describe clu)" = "cluster1 cluster2" ] &&
	ok "completion: describe clu<TAB> gives the joined clusters" || bad "completion names: $(comp fedctl --kubeconfig "$K" --host-cluster-context host describe clu)"
[ "$(comp fedctl list -o y)" = yaml ] && ok "completion: -o y<TAB> gives yaml" || bad "completion -o: $(comp fedctl list -o y)"
if command -v zsh >/dev/null; then
	zsh -c 'source <("$0" completion zsh) && [[ -n ${_comps[fedctl]} ]]' "$F" && ok "completion zsh loads" || bad "completion zsh does not load"
else
	echo "skip: zsh is not installed, completion zsh not loaded"
fi
rc=0; "$F" completion fish >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] && ok "completion fish: exit 2" || bad "completion fish"

# ---- workloads: web and api on both clusters, worker on cluster2 only --------
wait_until 30 grep -q "type deployments.apps: propagating" "$work/ctl.log" || bad "deployments not propagating"
k create ns $NS >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: types.kubefed.io/v1beta1
kind: FederatedNamespace
metadata: {name: $NS, namespace: $NS}
spec: {placement: {clusterSelector: {}}}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedDeployment
metadata: {name: web, namespace: $NS, labels: {tier: front}}
spec:
  template:
    spec:
      replicas: 1
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: c, image: "nginx:1"}]}
  placement: {clusters: [{name: cluster1}, {name: cluster2}]}
  overrides:
  - clusterName: cluster1
    clusterOverrides:
    - {path: /spec/template/spec/containers/0/image, value: "nginx:2"}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedDeployment
metadata: {name: api, namespace: $NS}
spec:
  template:
    spec:
      selector: {matchLabels: {app: api}}
      template:
        metadata: {labels: {app: api}}
        spec: {containers: [{name: c, image: "nginx:1"}]}
  placement: {clusterSelector: {}}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedDeployment
metadata: {name: worker, namespace: $NS}
spec:
  template:
    spec:
      replicas: 2
      selector: {matchLabels: {app: worker}}
      template:
        metadata: {labels: {app: worker}}
        spec: {containers: [{name: c, image: "nginx:1"}]}
  placement: {clusters: [{name: cluster2}]}
EOF
wait_eq 30 1 mreplicas member1 web && wait_eq 30 1 mreplicas member2 web && wait_set 30 mreplicas member1 api ||
	bad "web/api not propagated: $(k -n $NS get federateddeployment web -o jsonpath='{.status}')"

# ---- scale CLUSTER ---------------------------------------------------------------
rv0=$(fd web | jq -r .metadata.resourceVersion)
run scale cluster1 --replicas=3 --dry-run
if [ $rc = 0 ] && grep -Eq "^$NS +federateddeployment/web +cluster1 +override +1 → 3$" <<<"$out" &&
	grep -Eq "^$NS +federateddeployment/api +cluster1 +override +1 → 3$" <<<"$out" &&
	! grep -q worker <<<"$out" && grep -q "dry run" <<<"$err" &&
	[ "$(fd web | jq -r .metadata.resourceVersion)" = "$rv0" ]; then
	ok "scale cluster1 --dry-run: before → after printed, nothing written"
else
	bad "scale --dry-run: rc=$rc $out $err"
fi
run scale cluster1 --replicas=3
echo "$out" | sed 's/^/    /'
if [ $rc = 0 ] && [ "$(ovr web cluster1)" = 3 ] && [ "$(ovr api cluster1)" = 3 ] &&
	[ "$(ovr worker cluster1)" = none ] && [ "$(ovr web cluster2)" = none ] &&
	[ "$(fd web | jq -r '.spec.overrides[] | select(.clusterName == "cluster1") | .clusterOverrides[0].value')" = nginx:2 ]; then
	ok "scale cluster1 --replicas=3: overrides set on web and api, image override kept, worker untouched"
else
	bad "scale cluster1: rc=$rc $out $err $(fd web | jq -c .spec.overrides)"
fi
if wait_eq 30 3 mreplicas member1 web && wait_eq 30 3 mreplicas member1 api && [ "$(mreplicas member2 web)" = 1 ]; then
	ok "member1 Deployments web and api at spec.replicas 3, member2 still 1"
else
	bad "member replicas: member1 web=$(mreplicas member1 web) api=$(mreplicas member1 api) member2 web=$(mreplicas member2 web)"
fi
rv1=$(fd web | jq -r .metadata.resourceVersion)
run scale cluster1 --replicas=3
if [ $rc = 0 ] && grep -Eq "federateddeployment/web +cluster1 +override +3 \(unchanged\)$" <<<"$out" &&
	[ "$(fd web | jq -r .metadata.resourceVersion)" = "$rv1" ]; then
	ok "scale cluster1 --replicas=3 again: unchanged, not written"
else
	bad "scale again: rc=$rc $out $err"
fi
run scale cluster1 --replicas=2 -n $NS -l tier=front
if [ $rc = 0 ] && [ "$(ovr web cluster1)" = 2 ] && [ "$(ovr api cluster1)" = 3 ] && [ "$(wc -l <<<"$out")" = 2 ]; then
	ok "scale -l tier=front: only web"
else
	bad "scale -l: rc=$rc $out $err"
fi
run scale cluster1 --replicas=4 -n $NS --workload deploy/api -o json
if [ $rc = 0 ] && [ "$(jq -r '.kind + " " + (.items | length | tostring) + " " + .items[0].metadata.name' <<<"$out")" = "List 1 api" ] &&
	[ "$(ovr api cluster1)" = 4 ] && [ "$(ovr web cluster1)" = 2 ]; then
	ok "scale --workload deploy/api -o json: a List with the written object"
else
	bad "scale --workload: rc=$rc $(head -c 300 <<<"$out") $err"
fi

# ---- scale KIND/NAME: the total ----------------------------------------------------
run scale deployment/web --replicas=5 -n $NS
if [ $rc = 0 ] && [ "$(ovr web cluster1)" = 3 ] && [ "$(ovr web cluster2)" = 2 ] &&
	grep -Eq "federateddeployment/web +cluster1 +override +2 → 3$" <<<"$out" &&
	grep -Eq "federateddeployment/web +cluster2 +override +1 → 2$" <<<"$out"; then
	ok "scale deployment/web --replicas=5: spread 3 + 2 over cluster1, cluster2"
else
	bad "scale total: rc=$rc $out $err"
fi
wait_eq 30 2 mreplicas member2 web && ok "member2 web at 2" || bad "member2 web: $(mreplicas member2 web)"
k apply -f - >/dev/null <<EOF
apiVersion: scheduling.kubefed.io/v1alpha1
kind: ReplicaSchedulingPreference
metadata: {name: api, namespace: $NS}
spec:
  targetKind: FederatedDeployment
  totalReplicas: 2
EOF
run scale fdeploy/api --replicas=6 -n $NS
planned=$(grep -E "federateddeployment/api +cluster[12] +rsp \(planned\) " <<<"$out" | awk '{ s += ($NF == "(unchanged)" ? $(NF-1) : $NF) } END { print s }' || true)
if [ $rc = 0 ] && [ "$(k -n $NS get rsp api -o jsonpath='{.spec.totalReplicas}')" = 6 ] && [ "$planned" = 6 ]; then
	ok "scale fdeploy/api --replicas=6 with an RSP: totalReplicas 6, the plan shows 6 over cluster1 and cluster2"
else
	bad "scale via RSP: rc=$rc $out $err $(k -n $NS get rsp api -o json | jq -c .spec)"
fi
run scale cluster1 --replicas=1 -n $NS --workload deployment/api --dry-run
if [ $rc = 0 ] && grep -q "has a ReplicaSchedulingPreference" <<<"$err"; then
	ok "scale CLUSTER of an RSP-managed workload warns that the RSP replans it"
else
	bad "RSP warning: rc=$rc $out $err"
fi

# concurrent edits: labels written meanwhile survive, and so do the overrides
(for i in $(seq 1 40); do k -n $NS label federateddeployment web "edit$i=x" >/dev/null 2>&1 || true; done) &
bgpid=$!
n=0
for r in 4 5 6 7 8 9; do fc scale cluster2 --replicas=$r -n $NS --workload deployment/web >/dev/null 2>&1 && n=$((n + 1)); done
wait "$bgpid"
bgpid=
labels=$(fd web | jq -r '[.metadata.labels | keys[] | select(startswith("edit"))] | length')
if [ $n = 6 ] && [ "$(ovr web cluster2)" = 9 ] && [ "$labels" = 40 ]; then
	ok "scale under concurrent edits: 6/6 scales done, all 40 labels kept"
else
	bad "concurrent: $n/6 scales, override $(ovr web cluster2), $labels/40 labels"
fi

# ---- scale errors -------------------------------------------------------------------
run scale cluster1
[ $rc = 2 ] && grep -q -- "--replicas=N is required" <<<"$err" && ok "scale without --replicas: exit 2" || bad "no --replicas: rc=$rc $err"
run scale daemonset/x --replicas=1
[ $rc = 2 ] && grep -q "is not KIND/NAME with KIND deployment" <<<"$err" && ok "scale daemonset/x: exit 2" || bad "daemonset: rc=$rc $err"
run scale cluster1 --replicas=1 -l a=b --workload deploy/x
[ $rc = 2 ] && ok "scale -l with --workload: exit 2" || bad "-l + --workload: rc=$rc $err"
run scale Bad_Name --replicas=1
[ $rc = 1 ] && grep -q "must consist of lower case alphanumeric" <<<"$err" && ok "scale Bad_Name: exit 1, the rule quoted" || bad "Bad_Name: rc=$rc $err"
run scale cluster9 --replicas=1
[ $rc = 1 ] && grep -q 'cluster "cluster9" is not joined' <<<"$err" && ok "scale cluster9: not joined, exit 1" || bad "cluster9: rc=$rc $err"
run scale deployment/nosuch --replicas=1 -n $NS
[ $rc = 1 ] && grep -q "FederatedDeployment $NS/nosuch not found" <<<"$err" && ok "scale deployment/nosuch: not found, exit 1" || bad "nosuch: rc=$rc $err"
run scale cluster1 --replicas=1 -n $NS --workload deployment/worker
[ $rc = 1 ] && grep -q "is not placed on cluster cluster1" <<<"$err" && ok "scale --workload not placed there: exit 1" || bad "not placed: rc=$rc $err"
run scale cluster1 --replicas=1 -n $NS -l tier=nobody
[ $rc = 1 ] && grep -q "is placed on cluster cluster1" <<<"$err" && ok "scale with nothing matching: exit 1" || bad "nothing matching: rc=$rc $err"

# ---- delete cluster1: the member is left clean ------------------------------------
run delete cluster1 --cluster-context member1
echo "$out" | sed 's/^/    /'
# managed objects left in member1 (a deleted namespace stays Terminating here: no kcm)
managed1() {
	km member1 get deploy -A -l kubefed.io/managed=true -o name 2>/dev/null
	km member1 get ns -l kubefed.io/managed=true -o jsonpath='{range .items[?(@.status.phase!="Terminating")]}{.metadata.name}{"\n"}{end}' 2>/dev/null
}
ns_phase() { km "$1" get ns "$2" -o jsonpath='{.status.phase}' 2>/dev/null || echo Gone; }
if [ $rc = 0 ] && grep -q "deployments.apps: 2 deleted" <<<"$out" &&
	[ -z "$(km member1 -n $NS get deploy -o name 2>/dev/null)" ] && [ -z "$(managed1)" ] &&
	! km member1 get clusterrole fed-controller:member >/dev/null 2>&1 &&
	! km member1 get clusterrolebinding fed-controller:member >/dev/null 2>&1 &&
	! km member1 -n $FNS get sa fed-member >/dev/null 2>&1 &&
	[[ "$(ns_phase member1 $FNS)" =~ ^(Gone|Terminating)$ ]] && [[ "$(ns_phase member1 $NS)" =~ ^(Gone|Terminating)$ ]]; then
	ok "delete cluster1: deployments and namespace $NS removed from member1, no SA/RBAC, $FNS $(ns_phase member1 $FNS)"
else
	bad "delete cluster1: rc=$rc $out $err; left: $(km member1 get deploy -A -o name 2>&1)"
fi
if wait_eq 20 9 mreplicas member2 web && k -n $NS get federateddeployment web >/dev/null; then
	ok "cluster2 and the federated objects untouched"
else
	bad "cluster2 web: $(mreplicas member2 web)"
fi
run delete cluster1 --cluster-context member1
[ $rc = 0 ] && grep -q "not joined: nothing to do" <<<"$out" && ok "delete cluster1 again: nothing to do" || bad "delete again: rc=$rc $out $err"
run delete cluster2 --cluster-context member2 --orphan
mlabel() { km member2 -n $NS get deploy web -o jsonpath='{.metadata.labels.kubefed\.io/managed}' 2>/dev/null; }
if [ $rc = 0 ] && [ "$(mreplicas member2 web)" = 9 ] && [ -z "$(mlabel)" ] &&
	[ "$(ns_phase member2 $NS)" = Active ] && ! km member2 -n $FNS get sa fed-member >/dev/null 2>&1; then
	ok "delete cluster2 --orphan: web stays in member2 without the managed label"
else
	bad "delete --orphan: rc=$rc $out $err label=$(mlabel)"
fi

# ---- no controller running: join times out saying so, delete undoes it -------------
kill -9 "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true # disowned: wait may not know it
cpid=
finalize_ns member2 $FNS # left Terminating by the delete above (no kcm here)
fns_gone() { ! km member2 get ns $FNS >/dev/null 2>&1; }
wait_until 20 fns_gone || bad "namespace $FNS still in member2"
run join lonely --cluster-context member2 --wait 3s
if [ $rc = 1 ] && grep -q 'cluster "lonely" is not Ready after 3s: no KubeFedCluster' <<<"$err" &&
	grep -q "is fed-controller running" <<<"$err" && grep -q "fedctl delete lonely" <<<"$err"; then
	ok "join with no controller running: times out naming the cause and how to undo, exit 1"
else
	bad "join without controller: rc=$rc $out $err"
fi
run delete lonely --cluster-context member2 --wait 2s
if [ $rc = 0 ] && ! km member2 -n $FNS get sa fed-member >/dev/null 2>&1 && ! k -n kube-system get cm kubefed-config -o yaml | grep -q lonely; then
	ok "delete lonely undoes it (no KubeFedCluster to wait for)"
else
	bad "delete lonely: rc=$rc $out $err"
fi

echo "fedctl scale / seed walkthrough: $pass passed, $fail failed"
[ "$fail" = 0 ]
