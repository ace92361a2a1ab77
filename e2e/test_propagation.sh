#!/usr/bin/env bash
# Propagation of Federated<Kind> objects from the host to member1 and
# member2 (real apiservers): placement, overrides, the managed label,
# retained fields, drift correction, adoption and managed=false, restart
# without writes, status and events, deletion (also orphaning, and with an
# unready member that holds no copy).
set -euo pipefail
: "${FED_E2E_KUBECONFIG:?run through ctest}" "${FED_BIN_DIR:?}" "${FED_LOCAL_CLUSTERS:?}" "${FED_E2E_STATE:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
K=$FED_E2E_KUBECONFIG
FNS=kube-federation-system NS=fed-e2e-$$  # unique: without kcm a deleted namespace never goes
work=$(mktemp -d)
pass=0 fail=0 cpid=

. "$(dirname "$0")/lib.sh"
mget() { km "$1" -n $NS get "${@:2}" 2>/dev/null || true; }
cm_data() { mget "$1" cm "$2" -o jsonpath="{.data.$3}"; }
absent() { ! km "$1" -n $NS get "$2" "$3" >/dev/null 2>&1; }
fstatus() { k -n $NS get "$1" "$2" -o jsonpath="$3" 2>/dev/null || true; }
writes() { grep -c " $NS/[a-z0-9.-]*: writing (" "$work/ctl.log" || true; }

cleanup() {
	collect_artifacts "$work" || true
	[ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true
	"$FED_LOCAL_CLUSTERS" start --state-dir "$FED_E2E_STATE" member1 >/dev/null 2>&1 || true
	for c in host member1 member2; do km $c delete ns $NS --wait=false >/dev/null 2>&1 || true; done
	km member1 delete clusterrole fed-e2e-reader --ignore-not-found >/dev/null 2>&1 || true
	km member2 delete clusterrole fed-e2e-reader --ignore-not-found >/dev/null 2>&1 || true
	k delete federatedclusterrole fed-e2e-reader --ignore-not-found --wait=false >/dev/null 2>&1 || true
	fed_unfederate
	cp "$work/ctl.log" "${TMPDIR:-/tmp}/fed-e2e-propagation-controller.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# ---- install: CRDs and RBAC, then the default FederatedTypeConfigs --------
fed_install_local # fails the test if manifests/ or manifests/types/ does not apply
n=$(k -n $FNS get federatedtypeconfigs --no-headers | wc -l)
[ "$n" -gt 0 ] && ok "manifests/ then manifests/types/ applied: $n FederatedTypeConfigs" ||
	bad "no FederatedTypeConfigs after applying manifests/types/"

fed_federate member1 member2

ctl() {
	start_controller -a "$work/ctl.log" --health-period 1 --health-timeout 1 --failure-threshold 2 \
		--leader-elect=false --log-level debug
}
ctl
ready() { [ "$(k -n $FNS get kubefedcluster "$1" -o jsonpath='{.status.connectivityStatus}' 2>/dev/null)" = Connected ]; }
wait_until 30 ready member1 && wait_until 30 ready member2 || { bad "members not Ready"; cat "$work/ctl.log"; exit 1; }
wait_until 30 grep -q "type services: propagating" "$work/ctl.log" || { bad "types not started"; exit 1; }

# ---- propagate ---------------------------------------------------------------
k create ns $NS >/dev/null
# an object that already exists unlabelled in member2 (adopted) and one
# labelled managed=false in member1 (never touched)
km member1 create ns $NS >/dev/null; km member2 create ns $NS >/dev/null
km member2 -n $NS create cm adopt-me --from-literal=a=old >/dev/null
km member1 -n $NS create cm hands-off --from-literal=a=mine >/dev/null
km member1 -n $NS label cm hands-off kubefed.io/managed=false >/dev/null
cat >"$work/objs.yaml" <<EOF
apiVersion: types.kubefed.io/v1beta1
kind: FederatedNamespace
metadata: {name: $NS, namespace: $NS}
spec:
  placement: {clusterSelector: {}}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: cfg, namespace: $NS}
spec:
  template:
    metadata: {annotations: {team: blue}}
    data: {a: "1"}
  placement:
    clusters: [{name: member1}, {name: member2}]
  overrides:
  - clusterName: member2
    clusterOverrides:
    - {path: /data/a, value: "2"}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: adopt-me, namespace: $NS}
spec:
  template: {data: {a: new}}
  placement: {clusterSelector: {}}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: hands-off, namespace: $NS}
spec:
  template: {data: {a: fed}}
  placement: {clusterSelector: {}}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedService
metadata: {name: web, namespace: $NS}
spec:
  template:
    spec:
      type: NodePort
      selector: {app: web}
      ports: [{name: http, port: 80}]
  placement: {clusterSelector: {}}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedDeployment
metadata: {name: web, namespace: $NS}
spec:
  template:
    spec:
      replicas: 3
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: web, image: nginx}]}
  placement: {clusterSelector: {}}
  overrides:
  - clusterName: member1
    clusterOverrides:
    - {path: /spec/replicas, value: 5}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedClusterRole
metadata: {name: fed-e2e-reader}
spec:
  template:
    rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
  placement: {clusterSelector: {}}
EOF
t0=$(now)
k apply -f "$work/objs.yaml" >/dev/null
if wait_eq 10 2 cm_data member2 cfg a && wait_eq 10 1 cm_data member1 cfg a &&
	wait_eq 10 5 mget member1 deploy web -o jsonpath='{.spec.replicas}' &&
	wait_eq 10 3 mget member2 deploy web -o jsonpath='{.spec.replicas}' &&
	wait_until 10 km member2 get clusterrole fed-e2e-reader; then
	ok "propagated in $(since "$t0")s: ConfigMap (override a=2 on member2), Service, Deployment (replicas 5 on member1, 3 on member2), ClusterRole"
else
	bad "propagation: $(mget member1 cm -o name) / $(mget member2 deploy -o name)"; grep -E "WARN|ERR" "$work/ctl.log" | tail -5
fi
[ "$(mget member1 cm cfg -o jsonpath='{.metadata.labels.kubefed\.io/managed}')" = true ] &&
	[ "$(mget member1 cm cfg -o jsonpath='{.metadata.annotations.team}')" = blue ] &&
	ok "member copy labelled kubefed.io/managed=true, template annotation kept" || bad "label/annotation on member copy"
wait_eq 10 new cm_data member2 adopt-me a &&
	ok "pre-existing unlabelled ConfigMap in member2 adopted (a: old -> new)" || bad "adoption: $(cm_data member2 adopt-me a)"
wait_eq 10 ManagedLabelFalse fstatus federatedconfigmap hands-off '{.status.clusters[?(@.name=="member1")].status}' &&
	[ "$(cm_data member1 hands-off a)" = mine ] &&
	ok "managed=false object in member1 untouched, status ManagedLabelFalse" || bad "managed=false: $(fstatus federatedconfigmap hands-off '{.status}')"
# the label taken off: fed sees it at once (it watches unmanaged metadata
# too) and adopts the object, no 30 s re-look
t0=$(now)
km member1 -n $NS label cm hands-off kubefed.io/managed- >/dev/null
wait_eq 5 true mget member1 cm hands-off -o jsonpath='{.metadata.labels.kubefed\.io/managed}' &&
	ok "managed=false label removed in member1: adopted in $(since "$t0")s" ||
	bad "managed=false label removed: not adopted within 5 s"
wait_eq 10 True fstatus federatedconfigmap cfg '{.status.conditions[0].status}' &&
	ok "status: Propagation=True, clusters $(fstatus federatedconfigmap cfg '{.status.clusters[*].name}')" || bad "status: $(fstatus federatedconfigmap cfg '{.status}')"

# ---- retained fields ---------------------------------------------------------
ip=$(mget member1 svc web -o jsonpath='{.spec.clusterIP}'); np=$(mget member1 svc web -o jsonpath='{.spec.ports[0].nodePort}')
k -n $NS patch federatedservice web --type merge -p '{"spec":{"template":{"metadata":{"labels":{"v":"2"}}}}}' >/dev/null
if wait_eq 10 2 mget member1 svc web -o jsonpath='{.metadata.labels.v}' &&
	[ "$(mget member1 svc web -o jsonpath='{.spec.clusterIP}')" = "$ip" ] &&
	[ "$(mget member1 svc web -o jsonpath='{.spec.ports[0].nodePort}')" = "$np" ] && [ -n "$ip" ]; then
	ok "Service template updated in place: clusterIP $ip and nodePort $np retained"
else
	bad "Service retention: $(mget member1 svc web -o yaml)"
fi

# ---- drift -------------------------------------------------------------------
km member1 -n $NS patch cm cfg -p '{"data":{"a":"drift"}}' >/dev/null
t0=$(now)
wait_eq 5 1 cm_data member1 cfg a && ok "member-side edit corrected in $(since "$t0")s" || bad "drift not corrected: $(cm_data member1 cfg a)"
km member2 -n $NS delete cm cfg >/dev/null
t0=$(now)
wait_eq 5 2 cm_data member2 cfg a && ok "member-side delete corrected in $(since "$t0")s" || bad "deleted copy not recreated"

# ---- aggregate status ----------------------------------------------------------
# No kube-controller-manager here: write the members' Deployment status the
# way theirs would, and the federated object sums it up.
for c in member1:5 member2:3; do
	km ${c%%:*} -n $NS patch deploy web --subresource=status --type merge -p \
		"{\"status\":{\"replicas\":${c#*:},\"readyReplicas\":${c#*:},\"availableReplicas\":${c#*:},\"updatedReplicas\":${c#*:}}}" >/dev/null
done
t0=$(now)
if wait_eq 5 8 fstatus federateddeployment web '{.status.aggregate.availableReplicas}'; then
	ok "aggregate over members in $(since "$t0")s: $(fstatus federateddeployment web '{.status.aggregate}')"
else
	bad "aggregate: $(fstatus federateddeployment web '{.status}')"
fi

# ---- placement change --------------------------------------------------------
k -n $NS patch federatedconfigmap cfg --type merge -p '{"spec":{"placement":{"clusters":[{"name":"member2"}]}}}' >/dev/null
t0=$(now)
wait_until 5 absent member1 cm cfg && ok "placement narrowed to member2: member1 copy removed in $(since "$t0")s" || bad "member1 copy still there"

# ---- restart: nothing written ------------------------------------------------
# no signal says the controller is idle: 1 s for writes still in flight,
# which a restart would redo (rightly) and count as a failure here
sleep 1
kill -TERM "$cpid"; wait "$cpid" 2>/dev/null || true
before=$(writes)
ctl
wait_until 20 grep -q "type services: propagating" <(tail -n +1 "$work/ctl.log" | tail -n 200) || true
sleep 4 # an absence: no write during 4 s after the restart
after=$(writes)
[ "$after" = "$before" ] && ok "controller restarted: 0 writes to members (everything already as wanted)" ||
	{ bad "restart wrote $((after - before)) objects"; grep "writing (" "$work/ctl.log" | grep " $NS/" | tail -n $((after - before)); }

# ---- failures reported -------------------------------------------------------
cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedDeployment
metadata: {name: broken, namespace: $NS}
spec:
  template:
    spec:
      selector: {matchLabels: {app: x}}
      template:
        metadata: {labels: {app: y}}
        spec: {containers: [{name: c, image: nginx}]}
  placement: {clusters: [{name: member1}]}
EOF
if wait_eq 10 CreationFailed fstatus federateddeployment broken '{.status.clusters[0].status}'; then
	ok "invalid template: member1 CreationFailed: $(fstatus federateddeployment broken '{.status.clusters[0].message}' | cut -c1-160)"
else
	bad "no CreationFailed: $(fstatus federateddeployment broken '{.status}')"
fi
wait_set 10 k -n $NS get events --field-selector involvedObject.name=broken,reason=CreateInClusterFailed -o name 2>/dev/null &&
	ok "event CreateInClusterFailed on the FederatedDeployment" || bad "no CreateInClusterFailed event"
k -n $NS delete federateddeployment broken --wait=false >/dev/null

# ---- NamespaceNotFederated and a forbidden override ---------------------------
k create ns $NS-nofed >/dev/null
cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: lonely, namespace: $NS-nofed}
spec: {template: {data: {a: "1"}}, placement: {clusterSelector: {}}}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: rename-me, namespace: $NS}
spec:
  template: {data: {a: "1"}}
  placement: {clusterSelector: {}}
  overrides: [{clusterName: member2, clusterOverrides: [{path: /metadata/name, value: other}]}]
EOF
lonely() { k -n $NS-nofed get federatedconfigmap lonely -o jsonpath="$1" 2>/dev/null || true; }
if wait_eq 10 NamespaceNotFederated lonely '{.status.conditions[0].reason}' &&
	! km member1 -n $NS-nofed get cm lonely >/dev/null 2>&1; then
	ok "no FederatedNamespace: Propagation False, reason NamespaceNotFederated, nothing written"
else
	bad "NamespaceNotFederated: $(lonely '{.status}')"
fi
if wait_eq 10 ApplyOverridesFailed fstatus federatedconfigmap rename-me '{.status.conditions[0].reason}' &&
	absent member1 cm rename-me; then
	ok "forbidden override refused: $(fstatus federatedconfigmap rename-me '{.status.conditions[0].message}')"
else
	bad "forbidden override: $(fstatus federatedconfigmap rename-me '{.status}')"
fi

# ---- a custom resource type enabled at runtime ---------------------------------
G=e2e.fed.io
cat <<EOF | k apply -f - >/dev/null
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.$G}
spec:
  group: $G
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
EOF
awk '/^---/{n++} n==1' "$root/manifests/11-crds-federated-types.yaml" |
	sed -e 's/federatedconfigmaps/federatedwidgets/g; s/FederatedConfigMap/FederatedWidget/g; s/federatedconfigmap/federatedwidget/g; s/- fcm/- fwidget/' |
	k apply -f - >/dev/null
k wait --for condition=established crd/widgets.$G crd/federatedwidgets.types.kubefed.io --timeout=30s >/dev/null
cat <<EOF | k apply -f - >/dev/null
apiVersion: core.kubefed.io/v1beta1
kind: FederatedTypeConfig
metadata: {name: widgets.$G, namespace: $FNS}
spec:
  targetType: {group: $G, version: v1, kind: Widget, pluralName: widgets, scope: Namespaced}
  federatedType: {group: types.kubefed.io, version: v1beta1, kind: FederatedWidget, pluralName: federatedwidgets, scope: Namespaced}
  propagation: Enabled
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedWidget
metadata: {name: w1, namespace: $NS}
spec:
  template: {spec: {size: 3}}
  placement: {clusterSelector: {}}
  overrides: [{clusterName: member2, clusterOverrides: [{path: /spec/size, value: 7}]}]
EOF
# raw paths: kubectl's discovery cache may not know a type this young
wsize() { km "$1" get --raw "/apis/$G/v1/namespaces/$NS/widgets/w1" 2>/dev/null | sed -n 's/.*"size":\([0-9]*\).*/\1/p'; }
t0=$(now)
if wait_eq 30 7 wsize member2 && wait_eq 10 3 wsize member1; then
	ok "custom type widgets.$G enabled at runtime: its CRD created in members, then Widget w1 (size 3 / 7) in $(since "$t0")s"
else
	bad "custom type: $(km member1 get crd widgets.$G 2>&1 | tail -1)"; grep -E "widgets|Widget" "$work/ctl.log" | tail -5
fi

# ---- a frozen member does not hold the other back -------------------------------
"$FED_LOCAL_CLUSTERS" freeze --state-dir "$FED_E2E_STATE" member1 >/dev/null 2>&1
cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: during-freeze, namespace: $NS}
spec: {template: {data: {a: "1"}}, placement: {clusterSelector: {}}}
EOF
t0=$(now)
if wait_eq 5 1 cm_data member2 during-freeze a; then
	ok "member1 frozen (SIGSTOP): member2 got a new object in $(since "$t0")s"
else
	bad "member2 held back by frozen member1"
fi
"$FED_LOCAL_CLUSTERS" thaw --state-dir "$FED_E2E_STATE" member1 >/dev/null 2>&1
t0=$(now)
wait_eq 60 1 cm_data member1 during-freeze a &&
	ok "member1 thawed (SIGCONT): caught up in $(since "$t0")s" || bad "member1 did not catch up"
wait_until 30 ready member1 || true

# ---- create, update, delete of every default type --------------------------------
tmpl() { # KIND -> template (YAML flow style)
	case $1 in
	ConfigMap) echo '{data: {k: v}}' ;;
	Secret) echo '{stringData: {k: v}}' ;;
	ServiceAccount) echo '{}' ;;
	Service) echo '{spec: {selector: {app: t}, ports: [{port: 80}]}}' ;;
	Deployment | ReplicaSet | DaemonSet) echo '{spec: {selector: {matchLabels: {app: t}}, template: {metadata: {labels: {app: t}}, spec: {containers: [{name: c, image: nginx}]}}}}' ;;
	StatefulSet) echo '{spec: {serviceName: t, selector: {matchLabels: {app: t}}, template: {metadata: {labels: {app: t}}, spec: {containers: [{name: c, image: nginx}]}}}}' ;;
	Job) echo '{spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}' ;;
	CronJob) echo '{spec: {schedule: "0 0 * * *", jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}}}' ;;
	Ingress) echo '{spec: {defaultBackend: {service: {name: t, port: {number: 80}}}}}' ;;
	ClusterRole) echo '{rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]}' ;;
	ClusterRoleBinding) echo '{roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}, subjects: [{kind: ServiceAccount, name: t, namespace: default}]}' ;;
	esac
}
crud_ok=0 crud_bad=
for T in ConfigMap Secret ServiceAccount Service Deployment ReplicaSet StatefulSet DaemonSet Job CronJob Ingress ClusterRole ClusterRoleBinding; do
	lower=$(echo "$T" | tr 'A-Z' 'a-z')
	case $T in
	ClusterRole | ClusterRoleBinding) nsarg=() name=crud-$lower-$$ meta="{name: crud-$lower-$$}" ;;
	*) nsarg=(-n $NS) name=crud-$lower meta="{name: crud-$lower, namespace: $NS}" ;;
	esac
	printf 'apiVersion: types.kubefed.io/v1beta1\nkind: Federated%s\nmetadata: %s\nspec: {template: %s, placement: {clusterSelector: {}}}\n' \
		"$T" "$meta" "$(tmpl $T)" | k apply -f - >/dev/null
	got() { km "$1" "${nsarg[@]}" get "$lower" "$name" -o jsonpath="$2" 2>/dev/null || true; }
	if wait_set 15 got member1 '{.metadata.uid}' && wait_set 5 got member2 '{.metadata.uid}' &&
		k "${nsarg[@]}" patch "federated$lower" "$name" --type merge -p '{"spec":{"template":{"metadata":{"labels":{"crud":"2"}}}}}' >/dev/null &&
		wait_eq 10 2 got member1 '{.metadata.labels.crud}' && wait_eq 5 2 got member2 '{.metadata.labels.crud}' &&
		k "${nsarg[@]}" delete "federated$lower" "$name" --wait=false >/dev/null &&
		wait_unset 15 got member1 '{.metadata.uid}' && wait_unset 5 got member2 '{.metadata.uid}'; then
		crud_ok=$((crud_ok + 1))
	else
		crud_bad="$crud_bad $T"
	fi
done
if [ -z "$crud_bad" ]; then
	ok "create, update and delete propagated for all $crud_ok other default types (Namespace above)"
else
	bad "create/update/delete failed for:$crud_bad"
fi

# ---- created and deleted at once ---------------------------------------------
# The finalizer and the first member writes go out together; an object
# deleted before its finalizer lands must not leave copies behind. One curl
# sends the create and the delete back to back on one connection (a few
# ms apart, faster than the controller's finalizer patch); every other one
# waits a little so that its copies reach the members first.
H="$FED_E2E_STATE/host"
blink() { # NAME DELAY
	local url
	url="$(cat "$H/server")/apis/types.kubefed.io/v1beta1/namespaces/$NS/federatedconfigmaps"
	printf '{"apiVersion":"types.kubefed.io/v1beta1","kind":"FederatedConfigMap","metadata":{"name":"%s"},"spec":{"template":{"data":{"a":"1"}},"placement":{"clusterSelector":{}}}}' "$1" >"$work/blink.json"
	if [ "$2" = 0 ]; then
		curl -sf --cacert "$FED_E2E_STATE/pki/ca.crt" --cert "$H/admin.crt" --key "$H/admin.key" \
			-H 'Content-Type: application/json' -d @"$work/blink.json" "$url" -o /dev/null \
			--next --cacert "$FED_E2E_STATE/pki/ca.crt" --cert "$H/admin.crt" --key "$H/admin.key" \
			-X DELETE "$url/$1" -o /dev/null
	else
		# DELAY is the gap between create and delete under test, not a wait
		k -n $NS create -f "$work/blink.json" >/dev/null && sleep "$2" && k -n $NS delete federatedconfigmap "$1" --wait=false >/dev/null
	fi
}
for i in 1 2 3 4 5 6; do blink blink-$i $([ $((i % 2)) = 0 ] && echo 0.3 || echo 0) || bad "blink-$i: create/delete"; done
blinks() { for c in member1 member2; do mget $c cm -o name; done | grep -c blink- || true; }
sleep 1 # an absence: copies written late (after the deletes) have 1 s to show up
if wait_eq 10 0 blinks; then
	ok "6 objects deleted right after creation: no copies left in members ($(grep -c "without our finalizer's help" "$work/ctl.log" || true) copies removed without the finalizer)"
else
	bad "copies left behind: $(for c in member1 member2; do mget $c cm -o name | grep blink-; done | tr '\n' ' ')(host: $(k -n $NS get federatedconfigmaps -o name 2>&1 | grep blink- | tr '\n' ' '))"
fi

# ---- deletion ----------------------------------------------------------------
k -n $NS annotate federatedconfigmap adopt-me kubefed.io/orphan=true >/dev/null
k -n $NS delete federatedconfigmap adopt-me --wait=false >/dev/null
wait_until 10 bash -c "! kubectl --kubeconfig '$K' --context host -n $NS get federatedconfigmap adopt-me >/dev/null 2>&1" &&
	[ "$(cm_data member2 adopt-me a)" = new ] &&
	[ -z "$(mget member2 cm adopt-me -o jsonpath='{.metadata.labels.kubefed\.io/managed}')" ] &&
	ok "kubefed.io/orphan: federated object gone, member copies kept without the managed label" || bad "orphan deletion"
# member1 holds no copy of cfg (placement is member2): its outage must not block
"$FED_LOCAL_CLUSTERS" stop --state-dir "$FED_E2E_STATE" member1 >/dev/null 2>&1
wait_eq 15 Offline k -n $FNS get kubefedcluster member1 -o jsonpath='{.status.connectivityStatus}' || true
t0=$(now)
k -n $NS delete federatedconfigmap cfg --wait=false >/dev/null
if wait_until 10 absent member2 cm cfg &&
	wait_until 10 bash -c "! kubectl --kubeconfig '$K' --context host -n $NS get federatedconfigmap cfg >/dev/null 2>&1"; then
	ok "deleted with member1 offline (it held no copy): removed from member2 and finalized in $(since "$t0")s"
else
	bad "deletion blocked: $(fstatus federatedconfigmap cfg '{.status}')"
fi
# member1 holds a copy of the Deployment: deletion waits for it
k -n $NS delete federateddeployment web --wait=false >/dev/null
sleep 2 # an absence: not finalized during 2 s
k -n $NS get federateddeployment web >/dev/null 2>&1 &&
	ok "deletion of an object member1 (offline) holds waits: $(fstatus federateddeployment web '{.status.clusters[?(@.name=="member1")].status}')" ||
	bad "FederatedDeployment finalized while member1 still holds a copy"
"$FED_LOCAL_CLUSTERS" start --state-dir "$FED_E2E_STATE" member1 >/dev/null 2>&1
t0=$(now)
if wait_until 30 absent member1 deploy web &&
	wait_until 10 bash -c "! kubectl --kubeconfig '$K' --context host -n $NS get federateddeployment web >/dev/null 2>&1"; then
	ok "member1 back: its copy removed and the FederatedDeployment finalized in $(since "$t0")s"
else
	bad "after member1 returned: $(mget member1 deploy -o name)"
fi

kill -TERM "$cpid"; wait "$cpid" 2>/dev/null || true; cpid=
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
