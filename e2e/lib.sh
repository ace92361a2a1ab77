# Helpers shared by the e2e shell tests. Source it after setting K (the
# kubeconfig with contexts host, member1, ...) and pass=0 fail=0.
k() { kubectl --kubeconfig "$K" --context host "$@"; }
km() { local c=$1; shift; kubectl --kubeconfig "$K" --context "$c" "$@"; }
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
# Poll CMD until it succeeds or SECONDS pass (every WAIT_STEP, default 0.05 s).
wait_until() { # SECONDS CMD...
	local end
	end=$(awk -v a="$(now)" -v t="$1" 'BEGIN { printf "%.3f", a + t }'); shift
	until "$@"; do
		le "$(now)" "$end" || return 1
		sleep "${WAIT_STEP:-0.05}"
	done
}
# Poll until CMD prints WANT (CMD runs again each time, unlike a
# "$(...)" argument, which the shell would expand only once).
wait_eq() { # SECONDS WANT CMD...
	local t=$1 want=$2; shift 2
	wait_until "$t" _out_is "$want" "$@"
}
_out_is() { [ "$("${@:2}")" = "$1" ]; }
# Poll until CMD prints something / nothing.
wait_set() { local t=$1; shift; wait_until "$t" _out_set "$@"; }
wait_unset() { local t=$1; shift; wait_until "$t" _out_unset "$@"; }
_out_set() { [ -n "$("$@")" ]; }
_out_unset() { [ -z "$("$@")" ]; }
# Install fed's CRDs, RBAC and default FederatedTypeConfigs on the host.
fed_install() {
	k apply -f "$root/manifests/" >/dev/null
	# a CRD created a moment ago may have no conditions yet, which kubectl
	# wait reports as an error rather than waiting: try again
	local i
	for i in 1 2 3 4 5; do
		k wait --for condition=established crd --all --timeout=60s >/dev/null 2>&1 && break
		sleep 1
	done
	k wait --for condition=established crd --all --timeout=60s >/dev/null
	k apply -f "$root/manifests/types/" >/dev/null
}
# fed_install, then the controller's Deployment scaled to 0: there is no
# kubelet here to run it, the test runs the controller (start_controller).
fed_install_local() {
	fed_install
	k -n kube-federation-system scale deployment fed-controller --replicas=0 >/dev/null
}
# A clean start: no Federation, kubeconfigs or tunnel Secret left by an
# earlier test (fails the setup if the host does not answer).
fed_reset() {
	k -n kube-system delete cm kubefed-config --ignore-not-found >/dev/null
	k -n kube-system delete secret kubefed-kubeconfig fed-tunnel --ignore-not-found >/dev/null
}
# From a cleanup: the Federation, its Secrets and the KubeFedClusters gone;
# never fails.
fed_unfederate() {
	k -n kube-system delete cm kubefed-config --ignore-not-found >/dev/null 2>&1 || true
	k -n kube-system delete secret kubefed-kubeconfig fed-tunnel --ignore-not-found >/dev/null 2>&1 || true
	k -n kube-federation-system delete kubefedclusters --all >/dev/null 2>&1 || true
}
# A namespace deleted in a cluster without kube-controller-manager stays
# Terminating until someone drops its finalizer: do that (never fails).
fed_finalize_ns() { # CONTEXT NAMESPACE
	printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"},"spec":{"finalizers":[]}}' "$2" |
		km "$1" replace --raw "/api/v1/namespaces/$2/finalize" -f - >/dev/null 2>&1 || true
}
# Run fed-controller as a local process (there is no kubelet here to run
# its Deployment): the host context, 127.0.0.1 as its client address, the
# ops port on a free port; extra ARGS pass through (later ones win), stderr
# goes to LOG (-a: appended, to keep an earlier run's lines). Environment
# set before the call (POD_NAME=... start_controller ...) reaches it; the
# array FED_WRAP, if set, is the command it runs under (valgrind, ...).
# Sets $cpid and adds it to the caller's pids array (killed in cleanup).
start_controller() { # [-a] LOG [ARGS...]
	[ "$1" = -a ] && shift || : >"$1"
	${FED_WRAP[@]+"${FED_WRAP[@]}"} "$FED_BIN_DIR/fed-controller" --kubeconfig "$K" --context host \
		--client-ip 127.0.0.1 --metrics-address 127.0.0.1:0 "${@:2}" 2>>"$1" &
	cpid=$!
	pids+=("$cpid")
}
# A one-member test's start: fed installed, member1 federated, a
# controller (no leader election, debug log to LOG) running, member1 Ready
# and ConfigMaps propagating; the test ends (FAIL) if that does not come.
fed_one_member() { # LOG
	fed_install_local
	fed_reset
	fed_federate member1
	start_controller "$1" --leader-elect=false --health-period 1 --log-level debug
	members_connected 60 member1 && wait_until 30 grep -q "type configmaps: propagating" "$1" ||
		{ bad "member1 not Ready"; exit 1; }
}
# Run fed-agent as a local process with ARGS (its host address, CA and
# credentials are the test's), stderr to LOG (-a: appended); environment
# and FED_WRAP (ip netns exec ..., valgrind ...) as for start_controller.
# $! is the agent afterwards (ip netns exec execs it); it is added to the
# caller's pids array.
start_agent() { # [-a] LOG [ARGS...]
	[ "$1" = -a ] && shift || : >"$1"
	${FED_WRAP[@]+"${FED_WRAP[@]}"} "$FED_BIN_DIR/fed-agent" "${@:2}" 2>>"$1" &
	pids+=("$!")
}
# The ops port a controller logged to LOG (empty until it serves).
metrics_port() { sed -n 's/.*serving .* port \([0-9]*\).*/\1/p' "$1" | head -1; }
# True when the controller logging to LOG answers /readyz with 200: it
# leads (or stands by) with its informers synced.
ctl_ready() { # LOG
	local p
	p=$(metrics_port "$1")
	[ -n "$p" ] && [ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$p/readyz")" = 200 ]
}
# The server of kubeconfig cluster NAME.
srv() { kubectl --kubeconfig "$K" config view --raw -o jsonpath="{.clusters[?(@.name==\"$1\")].cluster.server}"; }
# Register members in the Federation ConfigMap (any client address) and
# their kubeconfigs in the Secret, as a user of kubefed's seed would.
fed_federate() { # CLUSTER...
	local c
	{
		printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubefed-config, namespace: kube-system}\ndata:\n  kubefed.yaml: |\n'
		printf '    apiVersion: federation/v1beta1\n    kind: Federation\n    spec:\n      clusters:\n'
		for c in "$@"; do
			printf '      - clusterName: %s\n        serverAddressByClientCIDRs:\n        - {clientCIDR: 0.0.0.0/0, serverAddress: "%s"}\n' "$c" "$(srv "$c")"
		done
		printf -- '---\napiVersion: v1\nkind: Secret\nmetadata: {name: kubefed-kubeconfig, namespace: kube-system}\nstringData:\n'
		for c in "$@"; do
			echo "  kubeconfig-$c: |"
			kubectl --kubeconfig "$K" config view --raw --minify --flatten --context "$c" | sed 's/^/    /'
		done
	} | k apply -f - >/dev/null
}
# Agent mode: a one-time bootstrap token for CLUSTER (in $work/token; the
# host's Secret fed-tunnel keeps only its SHA-256), and a Federation of
# agent-mode CLUSTERs (no server address, an empty kubeconfig Secret).
tunnel_token() { # CLUSTER
	TOKEN=$(openssl rand -hex 32)
	printf '%s' "$TOKEN" >"$work/token"
	HASH=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
	k -n kube-system create secret generic fed-tunnel \
		--from-literal="bootstrap-$HASH=$1 $(($(date +%s) + 86400))" >/dev/null
}
fed_federate_agents() { # CLUSTER...
	local c
	k -n kube-system get secret kubefed-kubeconfig >/dev/null 2>&1 ||
		k -n kube-system create secret generic kubefed-kubeconfig >/dev/null
	{
		printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubefed-config, namespace: kube-system}\ndata:\n  kubefed.yaml: |\n'
		printf '    apiVersion: federation/v1beta1\n    kind: Federation\n    spec:\n      clusters:\n'
		for c in "$@"; do printf '      - clusterName: %s\n        mode: agent\n' "$c"; done
	} | k apply -f - >/dev/null
}
# A kubeconfig at OUT for SERVER with CA (base64 PEM) and a bearer token
# read from TOKEN_FILE (re-read by fed's client, like a projected token).
tokenfile_kubeconfig() { # OUT SERVER CA_DATA TOKEN_FILE
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cluster
  cluster: {server: "$2", certificate-authority-data: $3}
users:
- name: user
  user: {tokenFile: $4}
contexts:
- name: cluster
  context: {cluster: cluster, user: user}
current-context: cluster
EOF
}
# The CA data (base64) of cluster NAME in $K.
ca_data() { kubectl --kubeconfig "$K" config view --raw -o jsonpath="{.clusters[?(@.name==\"$1\")].cluster.certificate-authority-data}"; }
# FederatedNamespace NS and FederatedConfigMap NS/NAME (data a=VALUE), both
# placed on CLUSTER, applied on the host (namespace NS must exist there).
fed_ns_cm() { # NS CLUSTER NAME VALUE
	cat <<EOF | k apply -f - >/dev/null
apiVersion: types.kubefed.io/v1beta1
kind: FederatedNamespace
metadata: {name: $1, namespace: $1}
spec:
  placement: {clusters: [{name: $2}]}
---
apiVersion: types.kubefed.io/v1beta1
kind: FederatedConfigMap
metadata: {name: $3, namespace: $1}
spec:
  template: {data: {a: "$4"}}
  placement: {clusters: [{name: $2}]}
EOF
}
# FederatedNamespace NS (namespace NS must exist on the host) placed on
# the CLUSTERs (applied again: the placement becomes exactly those).
fed_namespace_on() { # NS CLUSTER...
	local ns=$1
	shift
	{
		printf 'apiVersion: types.kubefed.io/v1beta1\nkind: FederatedNamespace\n'
		printf 'metadata: {name: %s, namespace: %s}\nspec:\n  placement: {clusters: [' "$ns" "$ns"
		printf '{name: %s},' "$@" | sed 's/,$//'
		printf ']}\n'
	} | k apply -f - >/dev/null
}
# FederatedDeployment NS/NAME (1 replica of nginx, label app=NAME) placed
# on the CLUSTERs.
fed_deployment() { # NS NAME CLUSTER...
	local ns=$1 name=$2
	shift 2
	{
		printf 'apiVersion: types.kubefed.io/v1beta1\nkind: FederatedDeployment\n'
		printf 'metadata: {name: %s, namespace: %s}\nspec:\n  template:\n    spec:\n' "$name" "$ns"
		printf '      replicas: 1\n      selector: {matchLabels: {app: %s}}\n' "$name"
		printf '      template:\n        metadata: {labels: {app: %s}}\n' "$name"
		printf '        spec: {containers: [{name: c, image: nginx}]}\n'
		printf '  placement: {clusters: ['
		printf '{name: %s},' "$@" | sed 's/,$//'
		printf ']}\n'
	} | k apply -f - >/dev/null
}
# Wait up to SECONDS for each CLUSTER's KubeFedCluster to be Connected.
members_connected() { # SECONDS CLUSTER...
	local t=$1 c
	shift
	for c in "$@"; do wait_until "$t" _connected "$c" || return 1; done
}
_connected() {
	[ "$(k -n kube-federation-system get kubefedcluster "$1" -o jsonpath='{.status.connectivityStatus}' 2>/dev/null)" = Connected ]
}
# ---- the secret scan (e2e/secret_scan.py, run last as e2e.zz_secret_scan) ----
# Every test leaves what it produced in $FED_E2E_ARTIFACTS/<test>/ and
# plants the secret values it used in $FED_E2E_ARTIFACTS/secrets; the scan
# fails on any artifact holding any of them.
FED_E2E_ARTIFACTS=${FED_E2E_ARTIFACTS:-${TMPDIR:-/tmp}/fed-e2e-artifacts}
_e2e_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Record VALUE as a secret no log, Event, status or metric may hold.
plant_secret() { # VALUE
	python3 "$_e2e_dir/secret_scan.py" plant --value "$1"
}
# From the test's cleanup, before its processes and clusters go: copy
# DIR's logs and outputs, dump Events, KubeFedClusters, the federated
# objects' status and each running controller's /metrics, and plant the
# secrets in sight (fed's Secrets in every cluster: kubeconfigs, tunnel
# keys, agent credentials and tokens, member tokens; token and
# credential files in DIR, the test's kubeconfig, each SECRET given).
# Bounded (a few seconds), and it never fails the test or its cleanup.
collect_artifacts() { # DIR [SECRET...]
	(set +e +u +o pipefail; _collect_artifacts "$@") >/dev/null 2>&1 </dev/null || true
}
_kget() { # CONTEXT ARGS...
	local c=$1
	shift
	timeout 20 kubectl --kubeconfig "$K" --context "$c" --request-timeout=8s "$@"
}
_collect_artifacts() {
	local dir=$1 out f p c tmp planted=()
	shift
	out=$FED_E2E_ARTIFACTS/$(basename "$0" .sh)
	mkdir -p "$out" || return
	tmp=$(mktemp -d)
	for f in "$dir"/*.log "$dir"/*.out "$dir"/*.err; do
		[ -f "$f" ] && cp "$f" "$out/"
	done
	for p in $(sed -n 's/.*serving \/healthz, \/readyz and \/metrics on .* port \([0-9]*\).*/\1/p' "$dir"/*.log | sort -u); do
		curl -s --max-time 3 "http://127.0.0.1:$p/metrics" >"$out/metrics-$p.txt" ||
			rm -f "$out/metrics-$p.txt" # that controller is gone
	done
	if [ -n "${K:-}" ] && [ -f "$K" ]; then
		# concurrently: each call is bounded, the whole takes the slowest
		for c in $(kubectl --kubeconfig "$K" config get-contexts -o name); do
			_kget "$c" get events -A -o yaml >"$out/events-$c.yaml" &
			# the agents' credentials and tokens, the member tokens
			_kget "$c" get secrets -A -o json >"$tmp/secrets-$c.json" &
		done
		_kget host get kubefedclusters -A -o yaml >"$out/kubefedclusters.yaml" &
		{
			p=$(_kget host api-resources -o name | grep -E '\.(types|core|scheduling)\.kubefed\.io$' |
				grep -v '^kubefedclusters\.' | paste -sd, -)
			[ -z "$p" ] || _kget host get "$p" -A -o \
				jsonpath='{range .items[*]}{.kind} {.metadata.namespace}/{.metadata.name} {.status}{"\n"}{end}'
		} >"$out/federated-status.txt" &
		wait
		for f in "$tmp"/*.json; do
			[ -s "$f" ] && planted+=(--k8s-secret-json "$f")
		done
		planted+=(--kubeconfig "$K")
	fi
	for f in "$dir"/*token* "$dir"/*cred* "$dir"/forged* "$dir"/*.key; do
		case $f in *.log | *.out | *.err) continue ;; esac
		[ -f "$f" ] && [ "$(stat -c %s "$f")" -le 16384 ] && planted+=(--file "$f")
	done
	for p in "$@"; do planted+=(--value "$p"); done
	python3 "$_e2e_dir/secret_scan.py" plant "${planted[@]}"
	rm -rf "$tmp"
	: >"$out/collected"
}
# A private podman for the Pod-path tests, its store under DIR: runc (crun
# cannot set the default rlimits here: no CAP_SYS_RESOURCE, and cgroup v1
# hybrid), cgroupfs (no systemd), vfs storage (no overlay mounts needed),
# default ulimits within the machine's hard limits.
podman_env() { # DIR
	mkdir -p "$1/podman"
	cat >"$1/podman/containers.conf" <<PEOF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$1/podman/tmp"
PEOF
	cat >"$1/podman/storage.conf" <<PEOF
[storage]
driver = "vfs"
runroot = "$1/podman/run"
graphroot = "$1/podman/root"
PEOF
	export CONTAINERS_CONF=$1/podman/containers.conf CONTAINERS_STORAGE_CONF=$1/podman/storage.conf
}
# The podman store of podman_env gone (vfs leaves read-only directories).
podman_clean() { # DIR
	podman ps -aq 2>/dev/null | xargs -r podman rm -f >/dev/null 2>&1 || true
	chmod -R u+w "$1/podman" 2>/dev/null || true
	rm -rf "$1/podman"
}
# The image scripts/image built ($FED_IMAGE_ARCHIVE, set by ctest) in the
# private podman; the test fails when it is missing.
image_load() {
	[ -s "${FED_IMAGE_ARCHIVE:-}" ] || { echo "FAIL: no image archive (FED_IMAGE_ARCHIVE=${FED_IMAGE_ARCHIVE:-}): run scripts/image"; exit 1; }
	podman load -q -i "$FED_IMAGE_ARCHIVE" >/dev/null
}
# The end of a test that ran Pods with e2e/pod-runner (pids in the caller's
# pids array) in clusters of its own under $S: the runners stopped (they stop
# their containers), the Pods' logs kept with the artifacts, the podman store
# and the clusters gone.
pod_test_cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	cp "$S"/pods-*/*.log "$S/" 2>/dev/null || true
	collect_artifacts "$S" || true
	podman_clean "$S"
	"$FED_LOCAL_CLUSTERS" down --state-dir "$S" >/dev/null 2>&1 || true
	rm -rf "$S"
}
# How many containers the pod-runner whose state is DIR runs now.
pods_running() { # DIR
	python3 -c 'import json,sys; print(sum(1 for p in json.load(open(sys.argv[1])).values() if p.get("running")))' \
		"$1/pods.json" 2>/dev/null || echo 0
}
