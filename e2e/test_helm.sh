#!/usr/bin/env bash
# charts/fed installed, upgraded and uninstalled with helm on a host that
# runs kube-controller-manager, kube-scheduler and kwok, its Pods run from
# the image by e2e/pod-runner (as in test_pod_path.sh).
#
# install: two replicas elect a leader; fedctl join makes member1 Ready; a
# FederatedConfigMap and a FederatedDeployment propagate.
# upgrade: from the previous chart (FED_HELM_PREVIOUS_CHART: a chart
# directory or .tgz; default this tree's chart, packaged as version 0.1.0
# with the image tagged 0.1.0-prev: there is no earlier release yet) to this
# tree's chart packaged as the next version with a new image tag: the
# Deployment rolls to new Pods, the new leader leads, no member copy is
# rewritten (resourceVersions equal), no member is lost.
# uninstall: the controller's objects go; the CRDs, KubeFedClusters,
# federated objects and the members' copies stay (docs/helm.md).
# Starts clusters of its own (host with --workloads, member1).
set -euo pipefail
: "${FED_BIN_DIR:?run through ctest}" "${FED_LOCAL_CLUSTERS:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
S=$(mktemp -d /tmp/fed-e2e-helm.XXXXXX)
K=$S/kubeconfig FNS=kube-federation-system NS=helm-e2e
F=$FED_BIN_DIR/fedctl
pass=0 fail=0 pids=()

. "$(dirname "$0")/lib.sh"
WAIT_STEP=0.2
trap pod_test_cleanup EXIT
[ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1 || { echo "FAIL: this test needs root and ip netns"; exit 1; }
HELM=${HELM:-$("$root/e2e/helm-bin" --check)} || { echo "FAIL: no helm (scripts/setup builds it: e2e/helm-bin)"; exit 1; }
helm() { "$HELM" --kubeconfig "$K" --kube-context host "$@"; }
fedctl() { "$F" --kubeconfig "$K" --host-cluster-context host "$@"; }
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
port() { srv "$1" | sed 's/.*://'; }
holder() { k -n $FNS get lease fed-controller -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true; }
running() { pods_running "$S/pods-host"; }
pods() { k -n $FNS get pods -l app.kubernetes.io/name=fed-controller -o jsonpath='{range .items[*]}{.metadata.name} {.spec.containers[0].image}{"\n"}{end}' 2>/dev/null || true; }
ready() { [ "$(kfc "$1" '{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }

t0=$(now)
"$FED_LOCAL_CLUSTERS" up --state-dir "$S" member1 >/dev/null
"$FED_LOCAL_CLUSTERS" up --state-dir "$S" --workloads host >/dev/null
echo "clusters up in $(since "$t0")s"
podman_env "$S"
image_load
ver=$(sed -n 's/^appVersion: *"*\([^"]*\)"*/\1/p' "$root/charts/fed/Chart.yaml")
podman tag "fed:$ver" "fed:$ver-prev" "fed:$ver-next" 2>/dev/null ||
	podman tag "localhost/fed:$ver" "fed:$ver-prev" "fed:$ver-next"

# the two chart versions, packaged as a release would be
prev=${FED_HELM_PREVIOUS_CHART:-$root/charts/fed}
mkdir -p "$S/charts"
if [ -d "$prev" ]; then
	"$HELM" package "$prev" -d "$S/charts/prev" >/dev/null
	prev=$(ls "$S"/charts/prev/*.tgz)
fi
"$HELM" package "$root/charts/fed" -d "$S/charts/next" --version "$ver-next" >/dev/null
next=$(ls "$S"/charts/next/*.tgz)
echo "previous chart: $(basename "$prev"), next: $(basename "$next")"

# ---- install -----------------------------------------------------------------
t0=$(now)
if out=$(helm install fed "$prev" -n $FNS --create-namespace --set image.tag="$ver-prev" --wait=false 2>&1); then
	ok "helm install fed $(basename "$prev") -n $FNS ($(since "$t0")s)"
else
	bad "helm install: $out"; exit 1
fi
"$root/e2e/pod-runner" --kubeconfig "$K" --context host --namespace $FNS \
	--selector app.kubernetes.io/name=fed-controller --state "$S/pods-host" \
	--forward "$(port host)" --forward "$(port member1)" 2>"$S/runner-host.log" &
pids+=($!)
if wait_eq 120 2 running && wait_set 60 holder; then
	ok "two Pods of the release run; $(holder) leads"
else
	bad "after install: $(pods) $(tail -5 "$S/runner-host.log")"; exit 1
fi
t0=$(now)
out=$(fedctl join member1 --wait 60s 2>&1) && ready member1 && ok "fedctl join member1: Ready ($(since "$t0")s)" ||
	bad "join member1: $out"
k create ns $NS >/dev/null
fed_ns_cm $NS member1 cfg 1
fed_deployment $NS web member1
copies() { # the member copies' resourceVersions
	printf '%s %s %s' "$(km member1 get ns $NS -o jsonpath='{.metadata.resourceVersion}' 2>/dev/null)" \
		"$(km member1 -n $NS get cm cfg -o jsonpath='{.metadata.resourceVersion}' 2>/dev/null)" \
		"$(km member1 -n $NS get deploy web -o jsonpath='{.metadata.resourceVersion}' 2>/dev/null)"
}
three() { [ "$(copies | wc -w)" = 3 ]; }
synced() { # both federated objects report Propagation True
	[ "$(k -n $NS get federatedconfigmap cfg -o jsonpath='{.status.conditions[?(@.type=="Propagation")].status}' 2>/dev/null)" = True ] &&
		[ "$(k -n $NS get federateddeployment web -o jsonpath='{.status.conditions[?(@.type=="Propagation")].status}' 2>/dev/null)" = True ]
}
if wait_until 60 three && wait_until 60 synced; then
	ok "namespace, ConfigMap and Deployment propagated to member1"
else
	bad "copies: $(copies) status: $(k -n $NS get federatedconfigmap cfg -o jsonpath='{.status}')"
fi
sleep 3 # the controller's own status writes settle
before=$(copies)
old_leader=$(holder)

# ---- upgrade -----------------------------------------------------------------
t0=$(now)
if out=$(helm upgrade fed "$next" -n $FNS --set image.tag="$ver-next" --wait=false 2>&1); then
	ok "helm upgrade to $(basename "$next") ($(since "$t0")s)"
else
	bad "helm upgrade: $out"
fi
all_next() { [ "$(pods | awk 'NF' | wc -l)" = 2 ] && ! pods | grep -qv ":$ver-next\$"; }
new_leader() { local h; h=$(holder); [ -n "$h" ] && [ "$h" != "$old_leader" ] && pods | grep -q "^$h "; }
if wait_until 180 all_next && wait_eq 120 2 running && wait_until 90 new_leader; then
	ok "the Deployment rolled to two Pods of image fed:$ver-next; $(holder) leads ($(since "$t0")s)"
else
	bad "after upgrade: pods $(pods | tr '\n' ' ') holder $(holder) running $(running)"
fi
# the new leader propagates (it has listed everything and compared every
# copy); a few seconds more for writes it would make
led() { grep -q "type configmaps: propagating" "$S/pods-host/$(holder).log" 2>/dev/null; }
wait_until 60 led || bad "the new leader $(holder) does not propagate: $(tail -3 "$S/pods-host/$(holder).log")"
wait_until 60 ready member1 && sleep 8
after=$(copies)
[ "$before" = "$after" ] && ok "no member copy was rewritten by the upgrade (resourceVersions $after)" ||
	bad "copies rewritten: before $before, after $after"
ready member1 && [ "$(k -n $FNS get kubefedclusters -o name | wc -l)" = 1 ] && ok "member1 still joined and Ready" ||
	bad "members after upgrade: $(k -n $FNS get kubefedclusters -o name)"
k -n $NS patch federatedconfigmap cfg --type merge -p '{"spec":{"template":{"data":{"a":"2"}}}}' >/dev/null
cmval() { km member1 -n $NS get cm cfg -o jsonpath='{.data.a}' 2>/dev/null || true; }
wait_eq 60 2 cmval && ok "the upgraded controller propagates a change" || bad "change not propagated: $(cmval)"
[ "$(helm history fed -n $FNS -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] &&
	ok "helm history: 2 revisions" || bad "history: $(helm history fed -n $FNS)"

# ---- uninstall ---------------------------------------------------------------
if out=$(helm uninstall fed -n $FNS 2>&1); then ok "helm uninstall fed"; else bad "helm uninstall: $out"; fi
gone() { [ -z "$(k -n $FNS get deploy,role,rolebinding,svc -o name 2>/dev/null)" ] &&
	! k -n $FNS get sa fed-controller >/dev/null 2>&1 &&
	! k get clusterrole fed-controller-federated-types >/dev/null 2>&1 &&
	! k get validatingadmissionpolicy fed-controller-own-pod-label >/dev/null 2>&1; }
wait_until 60 gone && ok "the release's Deployment, ServiceAccount, RBAC, admission policy and Services are gone" ||
	bad "left after uninstall: $(k -n $FNS get deploy,sa,role,rolebinding,svc -o name 2>&1 | tr '\n' ' ')"
wait_eq 60 0 running && ok "its Pods were deleted and their containers stopped" || bad "containers still running: $(running)"
stays="$(k get crd kubefedclusters.core.kubefed.io federatedconfigmaps.types.kubefed.io -o name 2>/dev/null | wc -l)"
stays="$stays $(k -n $FNS get kubefedcluster member1 -o name 2>/dev/null | wc -l)"
stays="$stays $(k -n $NS get federatedconfigmap cfg -o name 2>/dev/null | wc -l)"
stays="$stays $(copies | wc -w)"
[ "$stays" = "2 1 1 3" ] && ok "what stays: the CRDs, KubeFedCluster member1, the federated objects, the members' copies" ||
	bad "after uninstall (crds kfc fcm copies): $stays"

echo "helm: $pass passed, $fail failed"
[ "$fail" = 0 ]
