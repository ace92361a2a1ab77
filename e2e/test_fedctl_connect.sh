#!/usr/bin/env bash
# fedctl's part of cluster connect against real apiservers (host, member1):
# join --cluster-connect lets fed's member ServiceAccount impersonate
# users, groups and user extras in the member and nothing more (not
# ServiceAccounts, no RBAC writes), checked by the member's own
# authorizer and by real impersonating requests; a join without the flag
# keeps the grant, --cluster-connect=false removes it (twice: fine);
# fedctl kubeconfig writes a fed-member1 context with the host's user and
# the proxy path, the same file when run twice, every other entry kept;
# --print gives a standalone kubeconfig; fedctl list shows CONNECT and
# fedctl delete removes the grant. No fed-controller runs (join --wait 0);
# no token or Secret value is printed.
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
# shellcheck disable=SC2034 # root: lib.sh (fed_install) reads it
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system
SA=system:serviceaccount:$FNS:fed-member
PROXY=/apis/proxy.fed.kubefed.io/v1alpha1/clusters/member1/proxy
F="$FED_BIN_DIR/fedctl"
work=$(mktemp -d)
pass=0 fail=0

. "$(dirname "$0")/lib.sh"
fedctl() { local c=$1; shift; "$F" "$c" --kubeconfig "$K" --host-cluster-context host "$@"; }
# fedctl kubeconfig on a copy of the test's kubeconfig (never the shared one)
fkc() { "$F" kubeconfig --kubeconfig "$work/kc" --host-cluster-context host "$@"; }
kcv() { kubectl --kubeconfig "$work/kc" config view -o jsonpath="$1"; }
# What fed's member ServiceAccount may do in member1, by its authorizer.
can() { km member1 auth can-i "$@" --as "$SA" 2>/dev/null || true; }
# The same for an impersonated user extra (kubectl auth can-i cannot name
# a resource the apiserver does not serve): a SubjectAccessReview.
can_extra() { # KEY
	printf '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"%s","groups":["system:serviceaccounts","system:authenticated"],"resourceAttributes":{"group":"authentication.k8s.io","resource":"userextras","subresource":"%s","name":"x","verb":"impersonate"}}}' "$SA" "$1" |
		km member1 create -f - -o jsonpath='{.status.allowed}' 2>/dev/null || true
}
# A request to member1 as fed's ServiceAccount with impersonation HEADERs:
# the apiserver's message (which names the refused impersonation, or the
# impersonated user's missing right). The token stays in a file.
as_fed() { # HEADER...
	local h=() x
	for x in "$@"; do h+=(-H "$x"); done
	curl -s --max-time 10 --cacert "$work/member1-ca.crt" -H @"$work/fed-member.hdr" "${h[@]}" \
		"$(srv member1)/api/v1/namespaces/default/pods?limit=1" | jq -r '.message // .kind'
}
granted() { km member1 get clusterrole,clusterrolebinding fed-cluster-connect -o name 2>/dev/null | wc -l; }

cleanup() {
	collect_artifacts "$work" || true
	fed_unfederate
	km member1 delete clusterrolebinding,clusterrole fed-cluster-connect fed-controller:member --ignore-not-found >/dev/null 2>&1 || true
	km member1 -n $FNS delete sa fed-member --ignore-not-found >/dev/null 2>&1 || true
	km member1 delete ns $FNS --ignore-not-found --wait=false >/dev/null 2>&1 || true
	fed_finalize_ns member1 $FNS
	rm -rf "$work"
}
trap cleanup EXIT

fed_install_local
fed_reset
# no federated type: the member role is then its bare minimum (the default
# types include clusterrolebindings), and what the grant adds stands out
k -n $FNS delete federatedtypeconfigs --all >/dev/null

# ---- join --cluster-connect ---------------------------------------------------
if out=$(fedctl join member1 --wait 0 --cluster-connect 2>&1) &&
	grep -q "^member: clusterrole fed-cluster-connect created" <<<"$out" &&
	grep -q "^member: clusterrolebinding fed-cluster-connect created" <<<"$out"; then
	ok "join member1 --cluster-connect: fed-cluster-connect created"
else
	bad "join --cluster-connect: $out"
fi
km member1 auth can-i --list --as "$SA" 2>/dev/null | sort >"$work/rights-granted.txt"
got="users=$(can impersonate users) groups=$(can impersonate groups)"
got+=" credential-id=$(can_extra authentication.kubernetes.io/credential-id) scopes=$(can_extra scopes)"
got+=" serviceaccounts=$(can impersonate serviceaccounts) sa-kube-system=$(can impersonate serviceaccounts -n kube-system)"
got+=" clusterrolebindings=$(can create clusterrolebindings) escalate=$(can escalate clusterroles) secrets=$(can get secrets -n kube-system)"
if [ "$got" = "users=yes groups=yes credential-id=true scopes=true serviceaccounts=no sa-kube-system=no clusterrolebindings=no escalate=no secrets=no" ]; then
	ok "member1's authorizer: $got"
else
	bad "member1's authorizer: $got"
fi
if [ "$(km member1 get clusterrolebinding fed-cluster-connect -o jsonpath='{.subjects[0].kind}/{.subjects[0].namespace}/{.subjects[0].name} {.metadata.labels.app\.kubernetes\.io/managed-by}')" = "ServiceAccount/$FNS/fed-member fedctl" ]; then
	ok "bound to $FNS/fed-member, labelled managed-by fedctl"
else
	bad "binding: $(km member1 get clusterrolebinding fed-cluster-connect -o yaml)"
fi

# real requests as fed's ServiceAccount, as fed-controller will send them
ca_data member1 | base64 -d >"$work/member1-ca.crt"
km member1 -n $FNS create token fed-member --duration 10m >"$work/fed-member.token"
# (not named *token*: collect_artifacts plants the token file alone)
printf 'Authorization: Bearer %s' "$(cat "$work/fed-member.token")" >"$work/fed-member.hdr"
m=$(as_fed "Impersonate-User: alice" "Impersonate-Group: team" \
	"Impersonate-Extra-authentication.kubernetes.io%2fcredential-id: X509SHA256=ab")
if [[ $m == *'User "alice" cannot list resource "pods"'* ]] && [[ $m != *"cannot impersonate"* ]]; then
	ok "impersonating alice with a group and a credential-id extra: passes (alice has no right: $m)"
else
	bad "impersonating alice: $m"
fi
m=$(as_fed "Impersonate-User: system:serviceaccount:kube-system:default")
if [[ $m == *'cannot impersonate resource "serviceaccounts"'* ]]; then
	ok "impersonating a kube-system ServiceAccount: refused ($m)"
else
	bad "impersonating a ServiceAccount: $m"
fi

# ---- a join without the flag keeps it; =false removes it ----------------------
if out=$(fedctl join member1 --wait 0 2>&1) && ! grep -q "cluster-connect" <<<"$out" &&
	[ "$(granted)" = 2 ] && [ "$(can impersonate users)" = yes ]; then
	ok "join again without --cluster-connect: grant kept, not mentioned"
else
	bad "join without the flag: granted=$(granted) $out"
fi
if out=$(fedctl join member1 --wait 0 --cluster-connect=false 2>&1) &&
	grep -q "^member: clusterrolebinding fed-cluster-connect deleted" <<<"$out" &&
	[ "$(granted)" = 0 ] && [ "$(can impersonate users)" = no ] && [ "$(can_extra scopes)" = false ] &&
	[ "$(can get namespaces)" = yes ]; then
	ok "join --cluster-connect=false: grant removed, impersonation refused, the member role kept"
else
	bad "join --cluster-connect=false: granted=$(granted) $out"
fi
# what the grant added, by the member's own list: impersonate, nothing else
km member1 auth can-i --list --as "$SA" 2>/dev/null | sort >"$work/rights-plain.txt"
added=$(comm -13 "$work/rights-plain.txt" "$work/rights-granted.txt")
if [ -n "$added" ] && ! grep -v '\[impersonate\]$' <<<"$added" | grep -q . &&
	[ -z "$(comm -23 "$work/rights-plain.txt" "$work/rights-granted.txt")" ]; then
	ok "the grant added only: $(awk '{ print $1 }' <<<"$added" | paste -sd' ') [impersonate]"
else
	bad "the grant added: $added"
fi
if out=$(fedctl join member1 --wait 0 --cluster-connect=false 2>&1) &&
	grep -q "^member: clusterrole fed-cluster-connect not found" <<<"$out"; then
	ok "join --cluster-connect=false again: nothing to remove, exit 0"
else
	bad "join --cluster-connect=false again: $out"
fi
rc=0
out=$(fedctl join member1 --wait 0 --cluster-connect=maybe 2>&1) || rc=$?
if [ $rc = 2 ] && grep -q -- '--cluster-connect takes true or false, not "maybe"' <<<"$out"; then
	ok "join --cluster-connect=maybe: usage error, exit 2"
else
	bad "--cluster-connect=maybe: rc=$rc $out"
fi
if grep -q -- "--cluster-connect " <<<"$("$F" join --help)"; then
	ok "join --help shows --cluster-connect"
else
	bad "join --help: no --cluster-connect"
fi
fedctl join member1 --wait 0 --cluster-connect >/dev/null 2>&1 || bad "join --cluster-connect (again) failed"

# ---- fedctl kubeconfig -----------------------------------------------------------
cp "$K" "$work/kc"
chmod 644 "$work/kc"
before_current=$(kcv '{.current-context}')
host_user=$(kcv '{.contexts[?(@.name=="host")].context.user}')
if out=$(fkc member1 2>&1) && grep -q "context fed-member1 added (user $host_user" <<<"$out"; then
	ok "kubeconfig member1: $(head -1 <<<"$out" | sed "s|$work/||")"
else
	bad "kubeconfig member1: $out"
fi
server=$(kcv '{.clusters[?(@.name=="fed-member1")].cluster.server}')
ctx=$(kcv '{.contexts[?(@.name=="fed-member1")].context.cluster}/{.contexts[?(@.name=="fed-member1")].context.user}/{.contexts[?(@.name=="fed-member1")].context.namespace}')
if [ "$server" = "$(srv host)$PROXY" ] && [ "$ctx" = "fed-member1/$host_user/" ] &&
	[ "$(kcv '{.clusters[?(@.name=="fed-member1")].cluster.certificate-authority-data}')" = DATA+OMITTED ]; then
	ok "context fed-member1: server $server, user $host_user, no namespace, the host's CA"
else
	bad "context fed-member1: server=$server ctx=$ctx"
fi
# names in file order (kubectl config view sorts them): the new ones
# last, every other kept, no user added
names() { awk -v s="$2:" '$0 == s { on = 1; next } /^[^ -]/ { on = 0 } on && /^- name: / { print $3 }' "$1" | paste -sd' '; }
if [ "$(names "$work/kc" contexts)" = "$(names "$K" contexts) fed-member1" ] &&
	[ "$(names "$work/kc" clusters)" = "$(names "$K" clusters) fed-member1" ] &&
	[ "$(names "$work/kc" users)" = "$(names "$K" users)" ] && [ "$(kcv '{.current-context}')" = "$before_current" ] &&
	[ "$(stat -c %a "$work/kc")" = 600 ] && [ ! -e "$work/kc.lock" ]; then
	ok "other contexts kept in order, current-context $before_current kept, mode 0600, no lock left"
else
	bad "kubeconfig file: contexts $(names "$work/kc" contexts) current $(kcv '{.current-context}') mode $(stat -c %a "$work/kc")"
fi
# the host context's credential still works from the rewritten file
if kubectl --kubeconfig "$work/kc" --context host get ns kube-system -o name >/dev/null 2>&1; then
	ok "the rewritten kubeconfig still reaches the host"
else
	bad "the rewritten kubeconfig no longer reaches the host"
fi
cp "$work/kc" "$work/kc.first"
if out=$(fkc member1 2>&1) && cmp -s "$work/kc" "$work/kc.first" &&
	grep -q "context fed-member1 unchanged" <<<"$out"; then
	ok "kubeconfig member1 twice: the same file, unchanged"
else
	bad "kubeconfig twice: $(diff "$work/kc.first" "$work/kc" | head -5) $out"
fi
if fkc --all >/dev/null 2>&1 && cmp -s "$work/kc" "$work/kc.first"; then
	ok "kubeconfig --all (member1 only joined): the same file"
else
	bad "kubeconfig --all: $(diff "$work/kc.first" "$work/kc" | head -5)"
fi
rc=0
out=$(fkc nope 2>&1) || rc=$?
if [ $rc = 1 ] && grep -q 'cluster "nope" is not joined (joined: member1); fedctl list shows them' <<<"$out" &&
	cmp -s "$work/kc" "$work/kc.first"; then
	ok "kubeconfig nope: exit 1, lists the joined clusters, file untouched"
else
	bad "kubeconfig nope: rc=$rc $out"
fi
rc=0
out=$(fkc member1 --all 2>&1) || rc=$?
[ $rc = 2 ] && ok "kubeconfig CLUSTER --all: usage error" || bad "kubeconfig CLUSTER --all: rc=$rc $out"
if fkc member1 --use >/dev/null 2>&1 && [ "$(kcv '{.current-context}')" = fed-member1 ]; then
	ok "kubeconfig member1 --use: current context fed-member1"
else
	bad "kubeconfig --use: current $(kcv '{.current-context}')"
fi
# now the current context is a member's: fedctl says to name the host
rc=0
out=$("$F" kubeconfig member1 --kubeconfig "$work/kc" 2>&1) || rc=$?
if [ $rc = 1 ] && grep -q "is a cluster connect URL itself" <<<"$out" && grep -q -- "--host-cluster-context" <<<"$out"; then
	ok "kubeconfig with a fed-* current context: exit 1, asks for --host-cluster-context"
else
	bad "kubeconfig from a fed-* context: rc=$rc $out"
fi

# --print: standalone, with a copy of the host user's entry (never shown here)
if fkc member1 --print >"$work/printed.kubeconfig" 2>"$work/print.err" &&
	[ "$(kubectl --kubeconfig "$work/printed.kubeconfig" config view -o jsonpath='{.current-context} {.contexts[0].context.user} {.clusters[0].cluster.server} {.users[*].name}')" = \
		"fed-member1 $host_user $(srv host)$PROXY $host_user" ] &&
	[ "$(kubectl --kubeconfig "$work/printed.kubeconfig" config view --raw -o jsonpath='{.users[0].user}' | sha256sum)" = \
		"$(kubectl --kubeconfig "$K" config view --raw -o jsonpath="{.users[?(@.name==\"$host_user\")].user}" | sha256sum)" ]; then
	ok "kubeconfig --print: standalone, current context fed-member1, the host user's entry copied"
else
	bad "kubeconfig --print: $(cat "$work/print.err")"
fi

# a user who may not read kube-system (cluster connect's usual user): the
# names are written unchecked; --all cannot be
k -n default create serviceaccount viewer >/dev/null 2>&1 || true
k -n default create token viewer --duration 10m >"$work/viewer.token"
tokenfile_kubeconfig "$work/viewer.kc" "$(srv host)" "$(ca_data host)" "$work/viewer.token"
rc=0
out=$("$F" kubeconfig member1 --kubeconfig "$work/viewer.kc" 2>&1) || rc=$?
if [ $rc = 0 ] && grep -q "warning: user user may not read configmap kube-system/kubefed-config" <<<"$out" &&
	[ "$(kubectl --kubeconfig "$work/viewer.kc" config view -o jsonpath='{.contexts[?(@.name=="fed-member1")].context.user}')" = user ]; then
	ok "kubeconfig as a user who may not read the Federation: written, names unchecked (warning)"
else
	bad "kubeconfig as a restricted user: rc=$rc $out"
fi
rc=0
out=$("$F" kubeconfig --all --kubeconfig "$work/viewer.kc" 2>&1) || rc=$?
if [ $rc = 1 ] && grep -q -- "--all reads the joined clusters from configmap kube-system/kubefed-config, which user user may not read on the host: name the clusters instead" <<<"$out"; then
	ok "kubeconfig --all as that user: exit 1, says to name the clusters"
else
	bad "kubeconfig --all as a restricted user: rc=$rc $out"
fi
k -n default delete serviceaccount viewer >/dev/null 2>&1 || true

# ---- fedctl list / describe: CONNECT ------------------------------------------------
out=$(fedctl list 2>&1) || true
if [[ $(head -1 <<<"$out") =~ LAST-SEEN\ +CONNECT$ ]] && grep -Eq '^member1 .* -$' <<<"$out"; then
	ok "list: CONNECT column, - while fed-controller has not written it"
else
	bad "list: $out"
fi
# as fed-controller will write it, when the CRD has the field (manifests)
k apply -f - >/dev/null <<EOF
apiVersion: core.kubefed.io/v1beta1
kind: KubeFedCluster
metadata: {name: member1, namespace: $FNS}
spec: {apiEndpoint: "$(srv member1)", secretRef: {name: kubefed-kubeconfig}}
EOF
k -n $FNS patch kubefedcluster member1 --subresource=status --type=merge \
	-p '{"status":{"connectivityStatus":"Connected","clusterConnect":"Available"}}' >/dev/null 2>&1
if [ "$(k -n $FNS get kubefedcluster member1 -o jsonpath='{.status.clusterConnect}')" != Available ]; then
	ok "list/describe with a value: skipped (the KubeFedCluster CRD has no status.clusterConnect yet)"
elif [[ $(fedctl list 2>&1 | grep '^member1 ') =~ \ Available$ ]] &&
	fedctl describe member1 2>&1 | grep -q '^Cluster Connect: *Available$' &&
	[ "$(fedctl list -o json | jq -r '.items[0].status.clusterConnect')" = Available ]; then
	ok "list, describe and -o json show clusterConnect Available"
else
	bad "list/describe Available: $(fedctl list 2>&1)"
fi

# ---- delete removes the grant ----------------------------------------------------
if out=$(fedctl delete member1 --wait 0 2>&1) && grep -q "^member: clusterrolebinding fed-cluster-connect deleted" <<<"$out" &&
	[ "$(granted)" = 0 ]; then
	ok "delete member1: fed-cluster-connect removed"
else
	bad "delete member1: granted=$(granted) $out"
fi

echo "fedctl cluster connect: $pass passed, $fail failed"
[ "$fail" = 0 ]
