#!/usr/bin/env bash
# fed-agent with a proxy password holding a raw '@' (audit finding 9) and a
# proxy that does not answer (nothing listens on 127.0.0.1:1): it keeps
# retrying, names the proxy by HOST:PORT only, and no piece of the password
# reaches its log. The password is planted for the secret scan
# (e2e.zz_secret_scan), which checks this log and every other artifact.
set -euo pipefail
: "${FED_BIN_DIR:?run through ctest}"
PASSWORD='S3cr@t-Pa55-planted'
work=$(mktemp -d)
pass=0 fail=0 apid=
. "$(dirname "$0")/lib.sh"

cleanup() {
	collect_artifacts "$work" "$PASSWORD" || true
	[ -z "$apid" ] || kill -9 "$apid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj "/CN=fed e2e unused" -keyout "$work/unused.key" -out "$work/ca.crt" 2>/dev/null
printf 'abcdef.0123456789abcdef\n' >"$work/token"
cat >"$work/kubeconfig" <<EOF2
apiVersion: v1
kind: Config
current-context: m
clusters: [{name: m, cluster: {server: 'https://127.0.0.1:1', certificate-authority: '$work/ca.crt'}}]
users: [{name: m, user: {token: never-used}}]
contexts: [{name: m, context: {cluster: m, user: m}}]
EOF2
for url in "http://proxyuser:$PASSWORD@127.0.0.1:1" "http://proxyuser:S3cr%zz@t-Pa55-planted@127.0.0.1:1"; do
	log=$work/agent-$((pass + fail)).log
	HTTPS_PROXY=$url NO_PROXY= start_agent "$log" --host-address tunnel.invalid:443 \
		--host-ca-file "$work/ca.crt" --bootstrap-token-file "$work/token" \
		--kubeconfig "$work/kubeconfig" --max-backoff 1 --log-level trace
	apid=$!
	if wait_until 30 eval '[ "$(grep -c "reconnecting in" "$log")" -ge 3 ]'; then
		kill -9 "$apid"
		wait "$apid" 2>/dev/null || true
		apid=
		if grep -qE 'S3cr|t-Pa55|Pa55-planted|cHJveHl1c2VyOlMzY3JAdC1QYTU1' "$log"; then
			bad "the agent's log holds a piece of the proxy password: $(grep -cE 'S3cr|Pa55' "$log") lines"
		elif grep -q 'proxy 127.0.0.1:1\|HTTPS_PROXY: proxy: the password' "$log"; then
			ok "3 attempts through the proxy, no piece of the password in the log ($(grep -m1 -oE 'cannot connect to the proxy [^:]*:[0-9]*|HTTPS_PROXY: proxy: the password[^(]*' "$log"))"
		else
			bad "the log does not name the proxy: $(tail -3 "$log")"
		fi
	else
		bad "fed-agent did not retry 3 times in 30 s: $(tail -3 "$log")"
	fi
done
echo "passed: $pass failed: $fail"
[ "$fail" = 0 ]
