#!/usr/bin/env bash
# The controller's own RBAC (manifests/02-rbac.yaml) on a real host: as a
# token of the fed-controller ServiceAccount bound to Pod A, patching A's
# fed.kubefed.io/tunnel label is allowed, while B's label, A's image and
# A's other labels and annotations are refused (ValidatingAdmissionPolicy
# fed-controller-own-pod-label); an unbound token patches no Pod; and
# kubectl auth can-i shows every other rule keeps to its names.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system
SA=system:serviceaccount:$FNS:fed-controller
work=$(mktemp -d)
pass=0 fail=0

. "$(dirname "$0")/lib.sh"
WAIT_STEP=0.2

cleanup() {
	collect_artifacts "$work" || true
	k -n $FNS delete pod rbac-a rbac-b --ignore-not-found --grace-period=0 --force >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

fed_install
pod() { # NAME: a Pod that stays Pending (no kubelet on the host): enough to patch
	k -n $FNS apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $FNS, labels: {app.kubernetes.io/name: fed-controller, keep: "yes"}}
spec:
  serviceAccountName: fed-controller
  automountServiceAccountToken: false
  containers: [{name: c, image: "fed:0.1.0"}]
YAML
}
pod rbac-a && pod rbac-b || { echo "FAIL: cannot create the test Pods"; exit 1; }
uid=$(k -n $FNS get pod rbac-a -o jsonpath='{.metadata.uid}')
tok=$(k -n $FNS create token fed-controller --duration 10m --bound-object-kind Pod \
	--bound-object-name rbac-a --bound-object-uid "$uid")
free_tok=$(k -n $FNS create token fed-controller --duration 10m)
[ -n "$tok" ] && [ -n "$free_tok" ] || { echo "FAIL: kubectl create token"; exit 1; }
# as the controller: the host's server and CA, no other credential
srv_url=$(srv host)
kubectl --kubeconfig "$K" config view --raw --minify --flatten --context host \
	-o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$work/ca.crt"
as() { # TOKEN kubectl-args...: stderr into $work/err
	local t=$1; shift
	kubectl --kubeconfig /dev/null --server "$srv_url" --certificate-authority "$work/ca.crt" \
		--token "$t" "$@" 2>"$work/err"
}
label() { k -n $FNS get pod "$1" -o jsonpath='{.metadata.labels.fed\.kubefed\.io/tunnel}'; }

# the policy's admission takes a moment to see a new policy: poll until the
# first refusal counts, so a slow start is no false failure (a policy that
# never refuses fails the checks below, not this wait)
wait_until 30 eval '! as "$tok" -n $FNS patch pod rbac-b --type merge -p "{\"metadata\":{\"labels\":{\"fed.kubefed.io/tunnel\":\"leader\"}}}" >/dev/null' || true

if as "$tok" -n $FNS patch pod rbac-a --type merge \
	-p '{"metadata":{"labels":{"fed.kubefed.io/tunnel":"leader"}}}' >/dev/null &&
	[ "$(label rbac-a)" = leader ]; then
	ok "its own Pod (the token's): label fed.kubefed.io/tunnel=leader patched"
else
	bad "its own Pod's tunnel label not patched: $(cat "$work/err")"
fi
if as "$tok" -n $FNS patch pod rbac-a --type merge \
	-p '{"metadata":{"labels":{"fed.kubefed.io/tunnel":"standby"}}}' >/dev/null &&
	[ "$(label rbac-a)" = standby ]; then
	ok "its own Pod: label back to standby"
else
	bad "its own Pod: standby not written: $(cat "$work/err")"
fi
refused() { # WHAT PATCH-ARGS...
	local what=$1; shift
	if as "$tok" -n $FNS patch "$@" >/dev/null; then
		bad "$what was allowed"
	elif grep -q 'fed-controller may\|fed.kubefed.io/tunnel label is\|forbidden' "$work/err"; then
		ok "$what refused ($(sed 's/.*denied request: //' "$work/err" | head -c 120))"
	else
		bad "$what failed, but not as refused: $(cat "$work/err")"
	fi
}
refused "another Pod's (rbac-b) tunnel label" pod rbac-b --type merge \
	-p '{"metadata":{"labels":{"fed.kubefed.io/tunnel":"leader"}}}'
[ -z "$(label rbac-b)" ] && ok "rbac-b unlabelled" || bad "rbac-b labelled $(label rbac-b)"
refused "its own Pod's image" pod rbac-a --type json \
	-p '[{"op":"replace","path":"/spec/containers/0/image","value":"evil:latest"}]'
[ "$(k -n $FNS get pod rbac-a -o jsonpath='{.spec.containers[0].image}')" = fed:0.1.0 ] &&
	ok "image unchanged" || bad "image changed"
refused "another label on its own Pod" pod rbac-a --type merge -p '{"metadata":{"labels":{"keep":"no"}}}'
refused "removing a label of its own Pod" pod rbac-a --type json -p '[{"op":"remove","path":"/metadata/labels/keep"}]'
refused "an annotation on its own Pod" pod rbac-a --type merge -p '{"metadata":{"annotations":{"x":"y"}}}'
refused "a tunnel label value other than leader/standby" pod rbac-a --type merge \
	-p '{"metadata":{"labels":{"fed.kubefed.io/tunnel":"other"}}}'
if as "$free_tok" -n $FNS patch pod rbac-a --type merge \
	-p '{"metadata":{"labels":{"fed.kubefed.io/tunnel":"leader"}}}' >/dev/null; then
	bad "a token bound to no Pod patched a Pod"
else
	ok "a token bound to no Pod patches no Pod"
fi

# the other rules: by name where RBAC can name things
can() { # WANT VERB RESOURCE [NS] [SUBRESOURCE]
	local want=$1 got
	# can-i exits 1 when the answer is no: the answer is what counts
	got=$(k auth can-i --as "$SA" "$2" "$3" ${4:+-n "$4"} ${5:+--subresource "$5"} 2>/dev/null || true)
	[ "$got" = "$want" ] && ok "can-i $2 $3${5:+/$5} ${4:+in $4}: $got" ||
		bad "can-i $2 $3${5:+/$5} ${4:+in $4}: $got, want $want"
}
can yes get configmaps/kubefed-config kube-system
can no get configmaps/other kube-system
can no list configmaps kube-system
can yes patch secrets/kubefed-kubeconfig kube-system
can no get secrets/other kube-system
can no list secrets kube-system
can no patch secrets/other kube-system
can yes patch secrets/fed-tunnel kube-system
can no get secrets/anything $FNS
can yes update leases/fed-controller $FNS
can no update leases/other $FNS
can no get leases/other $FNS
can yes create leases $FNS
can no delete leases/fed-controller $FNS
can no update pods/some-pod $FNS
can no patch pods/rbac-a $FNS status
can no create pods $FNS
can no delete pods/rbac-a $FNS
can no patch pods/rbac-a default
can yes create events kube-system
can no get pods/rbac-a $FNS log
can no create pods/rbac-a $FNS exec
can no get nodes/n1 "" proxy

echo "passed: $pass, failed: $fail"
[ "$fail" -eq 0 ]
