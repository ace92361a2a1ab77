# shellcheck shell=bash
# Cluster connect's test setup, shared by e2e/test_connect.sh and
# bench/connect; sourced after e2e/lib.sh (k, srv, $K, $S).

CONNECT_GROUP=proxy.fed.kubefed.io

# An address the host's aggregator can dial (Endpoints may not be loopback,
# and there is no kube-proxy: --enable-aggregator-routing dials them): one
# end of a veth pair, the other in a network namespace, both made here and
# removed by connect_addr_down. Sets CONNECT_IP (the peer end is
# CONNECT_IP's .2: a process in the namespace reaches the host there).
connect_addr_up() { # NETNS VETH_ROOT VETH_PEER
	CONNECT_IP=10.251.$((RANDOM % 250 + 1)).1
	ip netns add "$1"
	ip link add "$2" type veth peer name "$3"
	ip link set "$3" netns "$1"
	ip addr add "$CONNECT_IP/30" dev "$2"
	ip link set "$2" up
	ip -n "$1" addr add "${CONNECT_IP%.1}.2/30" dev "$3"
	ip -n "$1" link set "$3" up
	ip -n "$1" link set lo up
}
connect_addr_down() { # NETNS VETH_ROOT (never fails)
	ip link del "$2" 2>/dev/null || true
	ip netns del "$1" 2>/dev/null || true
}
# A free TCP port on ADDRESS.
free_port_on() { # ADDRESS
	python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}
# What manifests/connect/ registers, pointed at a controller that runs as
# a local process on IP:PORT: the Service fed-connect with hand-made
# Endpoints and EndpointSlice, and the APIService (the controller writes
# its caBundle).
connect_register() { # IP PORT
	k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: fed-connect, namespace: kube-federation-system}
spec: {ports: [{port: 443, targetPort: $2}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: fed-connect, namespace: kube-federation-system}
subsets: [{addresses: [{ip: "$1"}], ports: [{port: $2}]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: fed-connect-1
  namespace: kube-federation-system
  labels: {kubernetes.io/service-name: fed-connect}
addressType: IPv4
endpoints: [{addresses: ["$1"], conditions: {ready: true}}]
ports: [{port: $2, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1alpha1.$CONNECT_GROUP}
spec:
  group: $CONNECT_GROUP
  version: v1alpha1
  service: {namespace: kube-federation-system, name: fed-connect, port: 443}
  groupPriorityMinimum: 1000
  versionPriority: 15
EOF
}
connect_available() {
	k get apiservice "v1alpha1.$CONNECT_GROUP" -o jsonpath='{.status.conditions[?(@.type=="Available")].status}'
}
# A user of the clusters' CA (local-clusters shares one CA among its
# clusters: the same certificate is NAME on the host and on members), in
# the kubeconfig USERS: NAME.crt and NAME.key under $S.
connect_user() { # USERS NAME SUBJECT
	local pki=$S/pki
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$S/$2.key" \
		-subj "$3" -out "$S/$2.csr" 2>/dev/null
	openssl x509 -req -in "$S/$2.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
		-set_serial "0x$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')" \
		-days 1 -extfile "$pki/client.ext" -out "$S/$2.crt" 2>/dev/null
	kubectl --kubeconfig "$1" config set-credentials "$2" --client-certificate "$S/$2.crt" \
		--client-key "$S/$2.key" --embed-certs >/dev/null
}
# In USERS: cluster fed-CLUSTER (the host's server plus the proxy path, the
# host's CA) and context USER@CLUSTER.
connect_context() { # USERS USER CLUSTER
	[ -s "$S/host-ca.crt" ] ||
		kubectl --kubeconfig "$K" config view --raw \
			-o jsonpath='{.clusters[?(@.name=="host")].cluster.certificate-authority-data}' |
		base64 -d >"$S/host-ca.crt"
	kubectl --kubeconfig "$1" config set-cluster "fed-$3" --embed-certs \
		--certificate-authority "$S/host-ca.crt" \
		--server "$(srv host)/apis/$CONNECT_GROUP/v1alpha1/clusters/$3/proxy" >/dev/null
	kubectl --kubeconfig "$1" config set-context "$2@$3" --cluster "fed-$3" --user "$2" >/dev/null
}
