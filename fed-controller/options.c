/* The controller's command line: the option table with its defaults, and
 * the checks on the values given. */
#include <stdio.h>

#include "controller.h"
#include "fed/log.h"
#include "fed/opt.h"
#include "fed/tunnel_conn.h"

/* What is wrong with the options, or NULL. Written so that NaN fails where
 * a range is checked. */
static const char *bad_option(const struct controller_opts *o)
{
	const char *msg;

	if (!(o->member_token_renew_fraction > 0 && o->member_token_renew_fraction < 1))
		return "--member-token-renew-fraction takes a number between 0 and 1 (exclusive), "
		       "such as 0.6";
	if (fed_log_level_parse(o->log_level) < 0)
		return "--log-level: use error, warn, info, debug or trace";
	if (o->tunnel_cred_lifetime < 2)
		return "--tunnel-credential-lifetime must be at least 2 seconds";
	if (!(o->watch_idle_timeout >= 1))
		return "--watch-idle-timeout must be at least 1 second";
	if (!(o->max_response_bytes >= 65536 && o->max_response_bytes <= 1e12 &&
	      o->max_probe_bytes >= 4096 && o->max_probe_bytes <= 1e12))
		return "--max-response-bytes must be at least 65536 and "
		       "--max-probe-response-bytes at least 4096";
	if (o->tunnel_max_pending < 1 || o->tunnel_max_pending_per_ip < 1 ||
	    o->tunnel_max_agents < 1)
		return "--tunnel-max-pending, --tunnel-max-pending-per-ip and "
		       "--tunnel-max-agents-per-cluster must be at least 1";
	if ((msg = fed_tunnel_conn_check_limits(o->tunnel_max_queued, o->tunnel_ping_rate,
	                                        o->tunnel_refused_rate)))
		return msg;
	if (o->connect_max_connections < 1 || o->connect_max_streams_per_user < 1)
		return "--connect-max-connections and --connect-max-streams-per-user must be at "
		       "least 1";
	if (!(o->connect_max_body_bytes >= 0 && o->connect_max_body_bytes <= 1e12) ||
	    !(o->connect_idle_timeout >= 1) || !(o->connect_head_timeout >= 0.1))
		return "--connect-max-body-bytes must be 0 or more, --connect-idle-timeout at "
		       "least 1 second and --connect-head-timeout at least 0.1";
	if (o->probe_period <= 0 || o->probe_timeout <= 0 || o->failure_threshold < 1 ||
	    o->success_threshold < 1 || o->host_qps <= 0 || o->member_qps <= 0 ||
	    o->rsp_offline_grace < 0 || o->rsp_unschedulable_threshold < 0)
		return "--health-period, --health-timeout, --host-qps and --member-qps must be > "
		       "0, "
		       "thresholds >= 1, --rsp-* periods >= 0";
	return NULL;
}

int controller_parse_args(struct controller_opts *o, int argc, char **argv)
{
	bool version = false;
	const struct fed_opt table[] = {
	    {FED_OPT_STRING, "kubeconfig", 0, &o->kubeconfig, "FILE",
	     "kubeconfig of the host cluster (default: in-cluster)", NULL},
	    {FED_OPT_STRING, "context", 0, &o->context, "CONTEXT",
	     "kubeconfig context of the host cluster", NULL},
	    {FED_OPT_STRING, "config-namespace", 0, &o->config_namespace, "NS",
	     "namespace of the Federation ConfigMap and Secret", "kube-system"},
	    {FED_OPT_STRING, "config-name", 0, &o->config_name, "NAME", "Federation ConfigMap",
	     "kubefed-config"},
	    {FED_OPT_STRING, "secret-name", 0, &o->secret_name, "NAME", "kubeconfig Secret",
	     "kubefed-kubeconfig"},
	    {FED_OPT_STRING, "federation-namespace", 0, &o->fed_namespace, "NS",
	     "namespace of KubeFedClusters and the leader Lease", "kube-federation-system"},
	    {FED_OPT_STRING, "client-ip", 0, &o->client_ip, "IP",
	     "address matched against clientCIDRs (default: $POD_IP, else this host's addresses)",
	     NULL},
	    {FED_OPT_DOUBLE, "health-period", 0, &o->probe_period, "SECONDS", "health check period",
	     "10"},
	    {FED_OPT_DOUBLE, "health-timeout", 0, &o->probe_timeout, "SECONDS",
	     "health check timeout", "3"},
	    {FED_OPT_INT, "failure-threshold", 0, &o->failure_threshold, "N",
	     "consecutive failed checks before a cluster is offline", "3"},
	    {FED_OPT_INT, "success-threshold", 0, &o->success_threshold, "N",
	     "consecutive good checks before a cluster is ready", "1"},
	    {FED_OPT_STRING, "metrics-address", 0, &o->metrics_address, "HOST:PORT",
	     "serve /healthz, /readyz and /metrics here (port 0 picks one; off)", ":8080"},
	    {FED_OPT_BOOL, "leader-elect", 0, &o->leader_elect, NULL,
	     "elect one acting replica on a Lease (--leader-elect=false for one replica)", "true"},
	    {FED_OPT_STRING, "leader-elect-lease-name", 0, &o->lease_name, "NAME",
	     "Lease in the federation namespace", "fed-controller"},
	    {FED_OPT_DOUBLE, "leader-elect-lease-duration", 0, &o->lease_duration, "SECONDS",
	     "how long a standby waits before taking an unrenewed Lease", "15"},
	    {FED_OPT_DOUBLE, "leader-elect-renew-deadline", 0, &o->renew_deadline, "SECONDS",
	     "the leader steps down when it cannot renew for this long", "10"},
	    {FED_OPT_DOUBLE, "leader-elect-retry-period", 0, &o->retry_period, "SECONDS",
	     "between Lease attempts", "2"},
	    {FED_OPT_DOUBLE, "host-qps", 0, &o->host_qps, "QPS",
	     "request rate to the host apiserver, burst twice that (status writes for every "
	     "federated object)",
	     "100"},
	    {FED_OPT_DOUBLE, "member-qps", 0, &o->member_qps, "QPS",
	     "request rate to each member apiserver, burst twice that", "50"},
	    {FED_OPT_DOUBLE, "max-response-bytes", 0, &o->max_response_bytes, "BYTES",
	     "largest response body read from an apiserver (a LIST page); a larger one fails the "
	     "request (256 MiB)",
	     "268435456"},
	    {FED_OPT_DOUBLE, "max-probe-response-bytes", 0, &o->max_probe_bytes, "BYTES",
	     "largest answer to a health check or /version; a larger one fails the check (1 MiB)",
	     "1048576"},
	    {FED_OPT_DOUBLE, "watch-idle-timeout", 0, &o->watch_idle_timeout, "SECONDS",
	     "a watch that receives nothing this long (not even the apiserver's bookmarks, one a "
	     "minute) is ended and started again",
	     "120"},
	    {FED_OPT_DOUBLE, "rsp-offline-grace", 0, &o->rsp_offline_grace, "SECONDS",
	     "a cluster not ready this long loses its ReplicaSchedulingPreference share to the "
	     "others and keeps what it runs",
	     "60"},
	    {FED_OPT_DOUBLE, "rsp-unschedulable-threshold", 0, &o->rsp_unschedulable_threshold,
	     "SECONDS",
	     "replicas unavailable in a cluster this long cap its capacity at what is available",
	     "30"},
	    {FED_OPT_BOOL, "adopt-resources", 0, &o->adopt, NULL,
	     "adopt objects that already exist in members without the kubefed.io/managed label",
	     "true"},
	    {FED_OPT_STRING, "tunnel-address", 0, &o->tunnel_address, "[IP]:PORT",
	     "serve fed-agents of mode: agent members here, while leading (e.g. :8443)", "off"},
	    {FED_OPT_STRING, "tunnel-secret-name", 0, &o->tunnel_secret, "NAME",
	     "Secret in the config namespace with the tunnel's certificate, key and bootstrap "
	     "tokens",
	     "fed-tunnel"},
	    {FED_OPT_STRING, "tunnel-sans", 0, &o->tunnel_sans, "SANS",
	     "subjectAltNames of a generated tunnel certificate",
	     "DNS:fed-tunnel,DNS:localhost,IP:127.0.0.1"},
	    {FED_OPT_DOUBLE, "tunnel-heartbeat", 0, &o->tunnel_heartbeat, "SECONDS",
	     "heartbeat interval; an agent is gone after 3 missed", "10"},
	    {FED_OPT_BOOL, "tunnel-label-pod", 0, &o->tunnel_label_pod, NULL,
	     "label this Pod (POD_NAME, POD_NAMESPACE) fed.kubefed.io/tunnel=leader while serving "
	     "the tunnel, else standby, for the fed-tunnel Service",
	     "true"},
	    {FED_OPT_DOUBLE, "tunnel-credential-lifetime", 0, &o->tunnel_cred_lifetime, "SECONDS",
	     "lifetime of the credential issued to each fed-agent; rotated on the live connection "
	     "before half of it (30 days)",
	     "2592000"},
	    {FED_OPT_DOUBLE, "member-token-renew-fraction", 0, &o->member_token_renew_fraction, "F",
	     "renew a direct member's bound token after this fraction of its lifetime", "0.6"},
	    {FED_OPT_INT, "tunnel-max-pending", 0, &o->tunnel_max_pending, "N",
	     "agent connections not yet authenticated, in all; more are closed at once", "256"},
	    {FED_OPT_INT, "tunnel-max-pending-per-ip", 0, &o->tunnel_max_pending_per_ip, "N",
	     "agent connections not yet authenticated from one source address; more are closed "
	     "at once",
	     "16"},
	    {FED_OPT_INT, "tunnel-max-agents-per-cluster", 0, &o->tunnel_max_agents, "N",
	     "authenticated agent connections per cluster; one more is refused before its "
	     "bootstrap token is spent",
	     "8"},
	    /* FED_TUNNEL_DEFAULT_MAX_QUEUED, _PING_RATE, _REFUSED_RATE */
	    {FED_OPT_DOUBLE, "tunnel-max-queued-bytes", 0, &o->tunnel_max_queued, "BYTES",
	     "bytes queued to one agent connection before the controller stops reading from it "
	     "(new DATA waits from half of it) (4 MiB)",
	     "4194304"},
	    {FED_OPT_DOUBLE, "tunnel-ping-rate", 0, &o->tunnel_ping_rate, "PER_SECOND",
	     "PINGs answered per agent connection per second, bursts of twice that; more are "
	     "not answered",
	     "10"},
	    {FED_OPT_DOUBLE, "tunnel-refused-rate", 0, &o->tunnel_refused_rate, "PER_SECOND",
	     "frames for streams never opened taken per agent connection per second (bursts of "
	     "twice that), each answered with RST; past it the connection is closed",
	     "100"},
	    {FED_OPT_STRING, "tunnel-socket-dir", 0, &o->tunnel_socket_dir, "DIR",
	     "directory (mode 0700, owned by this user; created if missing) of the Unix sockets "
	     "through which the controller reaches each agent's cluster (default a new directory "
	     "under $XDG_RUNTIME_DIR or /tmp, removed at exit)",
	     NULL},
	    {FED_OPT_STRING, "connect-address", 0, &o->connect_address, "[IP]:PORT",
	     "serve cluster connect (the aggregated API proxy.fed.kubefed.io) here, while "
	     "leading (e.g. :9443)",
	     "off"},
	    {FED_OPT_STRING, "connect-secret-name", 0, &o->connect_secret, "NAME",
	     "Secret in the config namespace with cluster connect's serving certificate "
	     "(generated when missing)",
	     "fed-connect"},
	    {FED_OPT_STRING, "connect-service", 0, &o->connect_service, "NAME",
	     "the Service the APIService names, in the federation namespace (a generated "
	     "certificate is for NAME.NAMESPACE.svc)",
	     "fed-connect"},
	    {FED_OPT_STRING, "connect-sans", 0, &o->connect_sans, "SANS",
	     "more subjectAltNames of a generated cluster connect certificate", ""},
	    {FED_OPT_INT, "connect-max-connections", 0, &o->connect_max_connections, "N",
	     "cluster connect connections in all (more are closed at once)", "1024"},
	    {FED_OPT_INT, "connect-max-streams-per-user", 0, &o->connect_max_streams_per_user, "N",
	     "connections to members one caller may hold open (watches, logs -f, exec); more are "
	     "answered 429",
	     "64"},
	    {FED_OPT_DOUBLE, "connect-max-body-bytes", 0, &o->connect_max_body_bytes, "BYTES",
	     "largest request body passed to a member (413 above; the apiserver's own limit is "
	     "3 MiB)",
	     "3145728"},
	    {FED_OPT_DOUBLE, "connect-idle-timeout", 0, &o->connect_idle_timeout, "SECONDS",
	     "a connection to a member with no byte either way this long is closed", "900"},
	    {FED_OPT_DOUBLE, "connect-head-timeout", 0, &o->connect_head_timeout, "SECONDS",
	     "time for a caller's TLS handshake and request head, and for the member's "
	     "connection",
	     "10"},
	    {FED_OPT_BOOL, "allow-kubeconfig-exec", 0, &o->allow_kubeconfig_exec, NULL,
	     "let members' kubeconfigs in the Secret run exec credential plugins on this machine",
	     "false"},
	    {FED_OPT_BOOL, "allow-kubeconfig-files", 0, &o->allow_kubeconfig_files, NULL,
	     "let members' kubeconfigs in the Secret read local files (tokenFile, "
	     "client-certificate, client-key, certificate-authority)",
	     "false"},
	    {FED_OPT_STRING, "log-level", 0, &o->log_level, "LEVEL",
	     "error, warn, info, debug or trace", "info"},
	    {FED_OPT_BOOL, "log-json", 0, &o->log_json, NULL, "log JSON lines", NULL},
	    {FED_OPT_BOOL, "version", 0, &version, NULL, "print the version and exit", NULL},
	    FED_OPT_TABLE_END,
	};
	const struct fed_opt *const tables[] = {table, NULL};
	struct fed_error err = FED_ERROR_INIT;
	const char *msg;
	char *args[1];
	bool help;
	int nargs;

	if (fed_opt_parse(tables, argc - 1, argv + 1, args, 0, &nargs, &help, &err)) {
		fprintf(stderr, "fed-controller: %s\n", err.msg);
		return 2;
	}
	if (help) {
		printf("Usage: fed-controller [options]\n\nOptions:\n");
		fed_opt_print_help(stdout, tables);
		return 0;
	}
	/* before the checks: an image's smoke test runs it with no cluster */
	if (version) {
		printf("fed-controller v%s\n", FED_VERSION);
		return 0;
	}
	if ((msg = bad_option(o))) {
		fprintf(stderr, "fed-controller: %s\n", msg);
		return 2;
	}
	return -1;
}
