#!/usr/bin/env bash
# Member tokens are bound tokens with an expiry that fed-controller renews
# (issue 13, finding 21), against real apiservers (host, member1):
# fedctl join writes a TokenRequest token (exp - iat = --token-lifetime),
# creates no legacy token Secret and removes one an older join left, and
# grants the ServiceAccount create on its own serviceaccounts/token only;
# the controller renews it (a later exp in the Secret, the member stays
# Ready, propagation goes on, a renewal counted, no token in its log); a
# restarted controller neither renews again needlessly nor loses the
# member, and picks up an overdue renewal from the token alone; a refused
# token shows the member not ready with "fedctl join member1", which fixes it.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system
F="$FED_BIN_DIR/fedctl"
NS=token-e2e
work=$(mktemp -d)
pass=0 fail=0 cpid=

. "$(dirname "$0")/lib.sh"
WAIT_STEP=0.2
fedctl() { local c=$1; shift; "$F" "$c" --kubeconfig "$K" --host-cluster-context host "$@"; }
kfc() { k -n $FNS get kubefedcluster "$1" -o jsonpath="$2" 2>/dev/null || true; }
is_ready() { [ "$(kfc member1 '{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
# the Secret's member1 token, and one claim of its payload (empty, never a
# failure, when there is none)
token() {
	k -n kube-system get secret kubefed-kubeconfig -o jsonpath='{.data.kubeconfig-member1}' 2>/dev/null |
		base64 -d | sed -n 's/^ *token: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' || true
}
claim() { # TOKEN NAME
	local p
	p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
	while [ $((${#p} % 4)) -ne 0 ]; do p="$p="; done
	base64 -d <<<"$p" 2>/dev/null | jq -r ".$2 // empty" 2>/dev/null || true
}
exp_now() { claim "$(token)" exp; }
ctl() { # LOG FRACTION
	start_controller "$1" --leader-elect=false --health-period 1 --log-level debug \
		--member-token-renew-fraction "$2"
}
stop_controller() { [ -n "$cpid" ] && kill "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null; cpid=; }
metric() { # LOG NAME: the member1 value on that controller's /metrics
	local port
	port=$(sed -n 's/.*serving .* port \([0-9]*\).*/\1/p' "$1" | head -1)
	curl -s "http://127.0.0.1:$port/metrics" | sed -n "s/^$2{cluster=\"member1\"} //p"
}
finalize_ns() {
	printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"},"spec":{"finalizers":[]}}' "$2" |
		km "$1" replace --raw "/api/v1/namespaces/$2/finalize" -f - >/dev/null 2>&1 || true
}
cleanup() {
	collect_artifacts "$work" || true
	stop_controller
	k delete ns $NS --ignore-not-found --wait=false >/dev/null 2>&1 || true
	fed_unfederate
	km member1 delete clusterrolebinding,clusterrole fed-controller:member --ignore-not-found >/dev/null 2>&1 || true
	# no kube-controller-manager here: a deleted namespace keeps its objects
	km member1 -n $FNS delete rolebinding,role fed-controller:member-token --ignore-not-found >/dev/null 2>&1 || true
	km member1 -n $FNS delete secret fed-member-token --ignore-not-found >/dev/null 2>&1 || true
	for n in $FNS $NS; do
		km member1 delete ns $n --ignore-not-found --wait=false >/dev/null 2>&1 || true
		finalize_ns member1 $n
	done
	rm -rf "$work"
}
trap cleanup EXIT

# ---- setup: manifests, a legacy token Secret as an older join left it ------
fed_install_local
fed_reset
km member1 create ns $FNS >/dev/null 2>&1 || true
km member1 -n $FNS create sa fed-member >/dev/null 2>&1 || true
km member1 -n $FNS apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: fed-member-token
  labels: {app.kubernetes.io/managed-by: fedctl}
  annotations: {kubernetes.io/service-account.name: fed-member}
type: kubernetes.io/service-account-token
YAML
ctl "$work/c1.log" 0.02

# ---- join: a bound token, no legacy Secret ---------------------------------
# --rbac minimal: the full ClusterRole would allow every token request anyway
if out=$(fedctl join member1 --token-lifetime 10m --rbac minimal 2>&1) && is_ready; then
	ok "join member1 --token-lifetime 10m --rbac minimal: Ready"
else
	bad "join member1: $out"
fi
echo "$out" | sed 's/^/    /'
t1=$(token)
iat1=$(claim "$t1" iat) exp1=$(claim "$t1" exp)
if [ -n "$exp1" ] && [ -n "$iat1" ] && [ $((exp1 - iat1)) -eq 600 ] &&
	[ "$(claim "$t1" sub)" = "system:serviceaccount:$FNS:fed-member" ]; then
	ok "the Secret's token is a bound JWT: exp - iat = $((exp1 - iat1)) s, sub $(claim "$t1" sub)"
else
	bad "the Secret's token has no 10m expiry: iat=$iat1 exp=$exp1 sub=$(claim "$t1" sub)"
fi
legacy=$(km member1 -n $FNS get secrets --field-selector type=kubernetes.io/service-account-token -o name 2>&1)
if [ -z "$legacy" ] && echo "$out" | grep -q "legacy token secret fed-member-token deleted"; then
	ok "no legacy service-account-token Secret in member1 (the old one deleted)"
else
	bad "legacy token Secret(s) in member1: $legacy"
fi
if [ "$(km member1 auth can-i --as system:serviceaccount:$FNS:fed-member create serviceaccounts/fed-member -n $FNS --subresource token)" = yes ] &&
	[ "$(km member1 auth can-i --as system:serviceaccount:$FNS:fed-member create serviceaccounts/other -n $FNS --subresource token)" = no ]; then
	ok "fed-member may request tokens for itself only"
else
	bad "fed-member's token Role is missing or too wide"
fi

# ---- renewal: a later exp, Ready all along, propagation ------------------
k create ns $NS >/dev/null 2>&1 || true
fed_ns_cm $NS member1 cfg 1
wait_eq 60 1 km member1 -n $NS get cm cfg -o jsonpath='{.data.a}' &&
	ok "propagated before renewal" || bad "cfg not propagated before renewal"
trans0=$(kfc member1 '{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')
notready=0 end=$(($(date +%s) + 90))
while [ "$(date +%s)" -lt "$end" ]; do
	is_ready || notready=$((notready + 1))
	e=$(exp_now)
	[ -n "$e" ] && [ "$e" -gt "$exp1" ] && break
	sleep 0.3
done
exp2=$(exp_now)
if [ -n "$exp2" ] && [ "$exp2" -gt "$exp1" ]; then
	ok "renewed: the Secret's token exp $exp1 -> $exp2"
else
	bad "no renewal within 90 s (exp $exp1 -> $exp2)"
fi
wait_until 30 eval '[ "$(metric "$work/c1.log" fed_member_token_renewals_total)" -ge 1 ] 2>/dev/null' &&
	ok "fed_member_token_renewals_total{cluster=member1} = $(metric "$work/c1.log" fed_member_token_renewals_total), expiry gauge $(metric "$work/c1.log" fed_member_token_expiry_timestamp_seconds)" ||
	bad "renewal not counted: $(metric "$work/c1.log" fed_member_token_renewals_total)"
sleep 2 # an absence: two health periods of probes with the new token, no transition
if [ $notready = 0 ] && is_ready &&
	[ "$(kfc member1 '{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')" = "$trans0" ]; then
	ok "member1 stayed Ready through the renewal (no transition)"
else
	bad "member1 not Ready during renewal ($notready samples), transition $trans0 -> $(kfc member1 '{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')"
fi
fed_ns_cm $NS member1 cfg 2
wait_eq 60 2 km member1 -n $NS get cm cfg -o jsonpath='{.data.a}' &&
	ok "propagation after renewal (cfg a=2)" || bad "no propagation after renewal"
if grep -qF "$t1" "$work/c1.log" || grep -qF "$(token)" "$work/c1.log"; then
	bad "a token in the controller's log"
else
	ok "no token in the controller's log ($(grep -c 'renewed the member' "$work/c1.log") renewals logged)"
fi

# ---- restart: no needless renewal, the member kept ------------------------
stop_controller
t2=$(token)
ctl "$work/c2.log" 0.9
wait_until 60 is_ready && ok "restarted controller: member1 Ready" || bad "member1 lost after restart"
sleep 8 # an absence: no renewal during 8 s
if [ "$(token)" = "$t2" ] && ! grep -q 'renewed the member' "$work/c2.log"; then
	ok "restarted controller (fraction 0.9): the token in the Secret unchanged, no renewal"
else
	bad "restarted controller renewed needlessly"
fi
stop_controller
ctl "$work/c3.log" 0.02
wait_until 60 eval '[ "$(exp_now)" -gt "$(claim "$t2" exp)" ]' &&
	ok "restarted controller (fraction 0.02): the overdue renewal done, from the token alone" ||
	bad "restarted controller did not renew an overdue token"

# ---- a refused token: not ready, names fedctl join; join fixes it --------
stop_controller
km member1 -n $FNS create secret generic bind-me >/dev/null
uid=$(km member1 -n $FNS get secret bind-me -o jsonpath='{.metadata.uid}')
bt=$(km member1 -n $FNS create token fed-member --duration 10m --bound-object-kind Secret \
	--bound-object-name bind-me --bound-object-uid "$uid")
km member1 -n $FNS delete secret bind-me >/dev/null # the token is refused from now on
kc=$(k -n kube-system get secret kubefed-kubeconfig -o jsonpath='{.data.kubeconfig-member1}' | base64 -d |
	sed "s|^\( *token: *\).*|\1$bt|" | base64 -w0)
k -n kube-system patch secret kubefed-kubeconfig --type merge -p "{\"data\":{\"kubeconfig-member1\":\"$kc\"}}" >/dev/null
ctl "$work/c4.log" 0.02
msg() { kfc member1 '{.status.conditions[?(@.type=="Ready")].message}'; }
if wait_until 60 eval 'msg | grep -q "run fedctl join member1"' && ! is_ready; then
	ok "refused token: not Ready, status says: $(msg | head -c 160)"
else
	bad "refused token: Ready=$(kfc member1 '{.status.conditions[?(@.type=="Ready")].status}') message: $(msg)"
fi
wait_until 60 grep -q 'cannot renew the member.s token.*fedctl join member1' "$work/c4.log" &&
	ok "the log names fedctl join member1" || bad "no renewal failure logged"
if out=$(fedctl join member1 --token-lifetime 10m --rbac minimal 2>&1) && is_ready &&
	[ "$(token)" != "$bt" ]; then
	ok "fedctl join member1 again: a new token, Ready"
else
	bad "re-join after a refused token: $out"
fi
for f in "$work"/c*.log; do
	for t in "$t1" "$t2" "$bt" "$(token)"; do
		[ -n "$t" ] && grep -qF "$t" "$f" && bad "a token in $f"
	done
done
[ -n "$bt" ] && k -n $FNS get events -o json | grep -qF "$bt" && bad "a token in an Event"
[ -n "$bt" ] && k -n $FNS get kubefedcluster member1 -o json | grep -qF "$bt" && bad "a token in the status"

echo "passed: $pass, failed: $fail"
[ "$fail" -eq 0 ]
