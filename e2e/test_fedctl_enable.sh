#!/usr/bin/env bash
# fedctl enable / disable / federate against real apiservers with
# fed-controller running: enable a custom resource type (the
# Federated<Kind> CRD and the FederatedTypeConfig appear, and a
# FederatedWidget propagates to member1), re-runs are no-ops, -o yaml and
# --dry-run change nothing, errors exit non-zero; federate a namespace with
# its contents (and it propagates once placed), from a file, and its
# errors; disable removes the FederatedTypeConfig, --delete-crd the CRD.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-enable-$$ NS2=fed-e2e-federate-$$
F=$FED_BIN_DIR/fedctl
work=$(mktemp -d)
pass=0 fail=0 cpid=

. "$(dirname "$0")/lib.sh"
WAIT_STEP=0.1
fc() { "$F" "$1" --kubeconfig "$K" --host-cluster-context host "${@:2}"; }
run() { rc=0; fc "$@" >"$work/out" 2>"$work/err" || rc=$?; out=$(cat "$work/out"); err=$(cat "$work/err"); }
crd() { # CONTEXT KIND PLURAL
	km "$1" apply -f - >/dev/null <<EOF
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: $3.example.com}
spec:
  group: example.com
  names: {kind: $2, plural: $3, singular: $(tr A-Z a-z <<<"$2"), shortNames: [$(tr A-Z a-z <<<"$2" | cut -c1-2)]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
EOF
	km "$1" wait --for condition=established crd/$3.example.com --timeout=30s >/dev/null
}
ftc_exists() { k -n $FNS get federatedtypeconfig "$1" >/dev/null 2>&1; }
crd_exists() { k get crd "$1" >/dev/null 2>&1; }

cleanup() {
	collect_artifacts "$work" || true
	k -n $NS delete federatedwidgets --all --wait=false >/dev/null 2>&1 || true
	for o in $(k -n $NS get federatedwidgets,federatednamespaces -o name 2>/dev/null); do
		k -n $NS patch "$o" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
	done
	k -n $NS2 delete federatedconfigmaps,federatedsecrets,federatednamespaces --all --wait=false >/dev/null 2>&1 || true
	for o in $(k -n $NS2 get federatedconfigmaps,federatedsecrets,federatednamespaces -o name 2>/dev/null); do
		k -n $NS2 patch "$o" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
	done
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	k -n $FNS delete federatedtypeconfig widgets.example.com gadgets.example.com --ignore-not-found >/dev/null 2>&1 || true
	k delete crd federatedwidgets.types.kubefed.io federatedgadgets.types.kubefed.io widgets.example.com gadgets.example.com --ignore-not-found --wait=false >/dev/null 2>&1 || true
	km member1 delete crd widgets.example.com --ignore-not-found --wait=false >/dev/null 2>&1 || true
	fed_unfederate
	for c in host member1; do km $c delete ns $NS $NS2 --wait=false >/dev/null 2>&1 || true; done
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-fedctl-enable-controller.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# ---- setup: manifests, member1 registered directly, fed-controller ----------
fed_install_local
srv() { kubectl --kubeconfig "$K" config view --raw -o jsonpath="{.clusters[?(@.name==\"$1\")].cluster.server}"; }
k -n kube-system create cm kubefed-config --dry-run=client -o yaml --from-literal=kubefed.yaml="$(printf 'apiVersion: federation/v1beta1\nkind: Federation\nspec:\n  clusters:\n  - clusterName: member1\n    serverAddressByClientCIDRs:\n    - {clientCIDR: 0.0.0.0/0, serverAddress: "%s"}\n' "$(srv member1)")" | k apply -f - >/dev/null
kubectl --kubeconfig "$K" config view --raw --minify --flatten --context member1 >"$work/m1.kubeconfig"
k -n kube-system create secret generic kubefed-kubeconfig --from-file=kubeconfig-member1="$work/m1.kubeconfig" --dry-run=client -o yaml | k apply -f - >/dev/null
start_controller "$work/ctl.log" --leader-elect=false --health-period 1 --log-level debug
crd host Widget widgets
crd member1 Widget widgets
crd host Gadget gadgets

# ---- enable ---------------------------------------------------------------------
run enable gadgets.example.com -o yaml
if [ $rc = 0 ] && grep -q '^  name: federatedgadgets.types.kubefed.io$' <<<"$out" && grep -q '^---$' <<<"$out" &&
	grep -q '^kind: FederatedTypeConfig$' <<<"$out" && ! crd_exists federatedgadgets.types.kubefed.io &&
	! ftc_exists gadgets.example.com; then
	ok "enable -o yaml: prints the CRD and the FederatedTypeConfig, applies nothing"
else
	bad "enable -o yaml: rc=$rc $(head -5 <<<"$out") $err"
fi
run enable gadgets.example.com --dry-run
if [ $rc = 0 ] && grep -q "would be created (dry run)" <<<"$out" && ! ftc_exists gadgets.example.com; then
	ok "enable --dry-run: changes nothing"
else
	bad "enable --dry-run: rc=$rc $out $err"
fi
run enable widgets.example.com
echo "$out" | sed 's/^/    /'
if [ $rc = 0 ] && crd_exists federatedwidgets.types.kubefed.io && ftc_exists widgets.example.com &&
	[ "$(k -n $FNS get federatedtypeconfig widgets.example.com -o jsonpath='{.spec.federatedType.kind} {.spec.propagation}')" = "FederatedWidget Enabled" ]; then
	ok "enable widgets.example.com: CRD federatedwidgets.types.kubefed.io and the FederatedTypeConfig"
else
	bad "enable: rc=$rc $out $err"
fi
run enable widgets.example.com
if [ $rc = 0 ] && [ "$(grep -c unchanged <<<"$out")" = 2 ]; then
	ok "enable again: unchanged"
else
	bad "enable again: rc=$rc $out $err"
fi

# the type propagates
ready() { [ "$(k -n $FNS get kubefedcluster member1 -o jsonpath='{.status.connectivityStatus}' 2>/dev/null)" = Connected ]; }
wait_until 30 ready || bad "member1 not Connected"
wait_until 30 grep -q "type widgets.example.com: propagating" "$work/ctl.log" || bad "widgets not propagating: $(grep -i widget "$work/ctl.log" | tail -3)"
k create ns $NS >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: types.kubefed.io/v1beta1
kind: FederatedNamespace
metadata: {name: $NS, namespace: $NS}
spec: {placement: {clusters: [{name: member1}]}}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedWidget
metadata: {name: w1, namespace: $NS}
spec:
  template: {spec: {size: 3}}
  placement: {clusters: [{name: member1}]}
EOF
wsize() { km member1 -n $NS get widgets.example.com w1 -o jsonpath='{.spec.size}' 2>/dev/null; }
if wait_eq 30 3 wsize; then
	ok "a FederatedWidget propagates to member1"
else
	bad "widget not propagated: $(k -n $NS get federatedwidget w1 -o jsonpath='{.status}' 2>&1)"
fi

# ---- errors ------------------------------------------------------------------------
run enable nosuchthings
[ $rc = 1 ] && grep -q 'serves no resource type "nosuchthings"' <<<"$err" && ok "enable nosuchthings: exit 1, says so" || bad "nosuch: rc=$rc $err"
run enable federatedtypeconfigs
[ $rc = 1 ] && grep -q "one of fed's own types" <<<"$err" && ok "enable of fed's own type: refused" || bad "own type: rc=$rc $err"
run enable
[ $rc = 2 ] && ok "enable without TYPE: exit 2" || bad "enable no arg: rc=$rc $err"
run enable widgets.example.com -o table
[ $rc = 2 ] && ok "enable -o table: exit 2" || bad "enable -o table: rc=$rc $err"

# ---- federate ----------------------------------------------------------------------
k create ns $NS2 >/dev/null
k -n $NS2 create configmap settings --from-literal=color=blue >/dev/null
k -n $NS2 create secret generic creds --from-literal=user=me >/dev/null
k -n $NS2 create configmap owned --from-literal=a=1 >/dev/null
k -n $NS2 patch configmap owned --type merge -p '{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"settings","uid":"'"$(k -n $NS2 get cm settings -o jsonpath='{.metadata.uid}')"'"}]}}' >/dev/null
run federate namespace $NS2 --contents -o yaml
if [ $rc = 0 ] && grep -q '^kind: FederatedNamespace$' <<<"$out" && grep -q '^  name: settings$' <<<"$out" &&
	grep -q '^kind: FederatedSecret$' <<<"$out" && ! grep -q 'kube-root-ca.crt\|name: owned$\|name: default$\|resourceVersion\|uid:' <<<"$out" &&
	grep -q '^    clusters: \[\]$' <<<"$out" && ! k -n $NS2 get federatednamespace $NS2 >/dev/null 2>&1; then
	ok "federate namespace --contents -o yaml: namespace, configmap, secret (no owned/system objects, no server fields), nothing created"
else
	bad "federate -o yaml: rc=$rc $out $err"
fi
run federate namespace $NS2 --contents
echo "$out" | sed 's/^/    /'
if [ $rc = 0 ] && k -n $NS2 get federatednamespace $NS2 >/dev/null && k -n $NS2 get federatedconfigmap settings >/dev/null &&
	[ "$(k -n $NS2 get federatedconfigmap settings -o jsonpath='{.spec.template.data.color}')" = blue ] &&
	k -n $NS2 get federatedsecret creds >/dev/null && ! k -n $NS2 get federatedconfigmap owned >/dev/null 2>&1; then
	ok "federate namespace --contents: FederatedNamespace, FederatedConfigMap, FederatedSecret created"
else
	bad "federate --contents: rc=$rc $out $err"
fi
run federate configmap settings -n $NS2
[ $rc = 0 ] && grep -q "already exists: left as it is" <<<"$out" && ok "federate again: already exists, exit 0" || bad "federate again: rc=$rc $out $err"
# placed on member1, it propagates
k -n $NS2 patch federatednamespace $NS2 --type merge -p '{"spec":{"placement":{"clusters":[{"name":"member1"}]}}}' >/dev/null
k -n $NS2 patch federatedconfigmap settings --type merge -p '{"spec":{"placement":{"clusters":[{"name":"member1"}]}}}' >/dev/null
mcolor() { km member1 -n $NS2 get cm settings -o jsonpath='{.data.color}' 2>/dev/null; }
wait_eq 30 blue mcolor && ok "the federated ConfigMap propagates to member1 once placed" || bad "not propagated: $(k -n $NS2 get federatedconfigmap settings -o jsonpath='{.status}')"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fromfile, uid: x, resourceVersion: "1"}\ndata: {k: v}\n' >"$work/cm.yaml"
run federate -f "$work/cm.yaml" -n $NS2 --dry-run
[ $rc = 0 ] && grep -q "federatedconfigmaps $NS2/fromfile would be created (dry run)" <<<"$out" && ! k -n $NS2 get federatedconfigmap fromfile >/dev/null 2>&1 &&
	ok "federate -f FILE --dry-run" || bad "federate -f dry-run: rc=$rc $out $err"
run federate -f "$work/cm.yaml" -n $NS2
[ $rc = 0 ] && [ "$(k -n $NS2 get federatedconfigmap fromfile -o jsonpath='{.spec.template.data.k}')" = v ] && ok "federate -f FILE creates it" || bad "federate -f: rc=$rc $out $err"
run federate configmap nosuch -n $NS2
[ $rc = 1 ] && grep -q "ConfigMap $NS2/nosuch not found on the host" <<<"$err" && ok "federate of a missing object: exit 1" || bad "federate nosuch: rc=$rc $err"
run federate gadgets.example.com g1 -n $NS2
[ $rc = 1 ] && grep -q "is not enabled for federation (fedctl enable gadgets.example.com first)" <<<"$err" && ok "federate of a type not enabled: exit 1, names the fix" || bad "not enabled: rc=$rc $err"
run federate configmap
[ $rc = 2 ] && ok "federate without NAME: exit 2" || bad "federate no name: rc=$rc $err"
run federate configmap settings --contents -n $NS2
[ $rc = 2 ] && ok "federate --contents of a non-namespace: exit 2" || bad "--contents configmap: rc=$rc $err"
printf 'kind: [' >"$work/bad.yaml"
run federate -f "$work/bad.yaml"
[ $rc = 1 ] && grep -q "bad.yaml (document 1):2:1: flow sequence without a closing bracket" <<<"$err" && ok "federate -f of a broken file: exit 1, names file, document, line" || bad "bad file: rc=$rc $err"

# ---- disable -----------------------------------------------------------------------
run disable widgets.example.com --dry-run
[ $rc = 0 ] && ftc_exists widgets.example.com && ok "disable --dry-run: changes nothing" || bad "disable dry: rc=$rc $out $err"
run disable wi
if [ $rc = 0 ] && ! ftc_exists widgets.example.com && crd_exists federatedwidgets.types.kubefed.io; then
	ok "disable wi (short name): FederatedTypeConfig deleted, CRD kept"
else
	bad "disable: rc=$rc $out $err"
fi
run disable widgets.example.com --delete-crd
if [ $rc = 1 ] && grep -q "cannot delete customresourcedefinition federatedwidgets.types.kubefed.io while objects of it exist" <<<"$err" &&
	crd_exists federatedwidgets.types.kubefed.io; then
	ok "disable --delete-crd with FederatedWidgets left: refused, CRD kept"
else
	bad "disable --delete-crd with objects: rc=$rc $out $err"
fi
k -n $NS delete federatedwidget w1 --wait=false >/dev/null
# the controller may have removed its finalizer and the object already
k -n $NS patch federatedwidget w1 --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
# still there after 20 s: the disable below fails and says so
wait_until 20 sh -c "! kubectl --kubeconfig '$K' --context host -n $NS get federatedwidget w1 >/dev/null 2>&1" || true
run disable widgets.example.com --delete-crd
if [ $rc = 0 ] && grep -q "not enabled" <<<"$out" && wait_until 20 sh -c "! kubectl --kubeconfig '$K' --context host get crd federatedwidgets.types.kubefed.io >/dev/null 2>&1"; then
	ok "disable --delete-crd when already disabled: the CRD goes too"
else
	bad "disable --delete-crd: rc=$rc $out $err"
fi
run disable widgets.example.com
[ $rc = 0 ] && grep -q "nothing to do" <<<"$out" && ok "disable again: nothing to do" || bad "disable again: rc=$rc $out $err"

echo "fedctl enable/disable: $pass passed, $fail failed"
[ "$fail" = 0 ]
