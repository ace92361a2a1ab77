/* The agent's command line: the option table with its defaults, and the
 * checks on the values given. */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "fed/log.h"
#include "fed/opt.h"

/* What is wrong with the options, or NULL. The kernel caps keepalive
 * idle and interval at 32767 s and the count at 127. */
static const char *bad_option(const struct agent *a)
{
	if (!a->host_address)
		return "--host-address is required";
	if (!a->host_ca_file)
		return "--host-ca-file is required (the host CA is pinned)";
	if (!a->token_file && !a->credential_file && !a->credential_secret)
		return "--bootstrap-token-file, --credential-file or --credential-secret is "
		       "required";
	if (a->heartbeat <= 0)
		return "--heartbeat must be > 0";
	if (a->max_backoff < 1)
		return "--max-backoff must be >= 1";
	if (!(a->proxy_step_timeout > 0 && a->proxy_step_timeout <= 3600))
		return "--proxy-step-timeout must be > 0 and <= 3600";
	if (a->tcp_keepidle < 1 || a->tcp_keepidle > 32767)
		return "--tcp-keepalive-idle must be 1..32767";
	if (a->tcp_keepintvl < 1 || a->tcp_keepintvl > 32767)
		return "--tcp-keepalive-interval must be 1..32767";
	if (a->tcp_keepcnt < 1 || a->tcp_keepcnt > 127)
		return "--tcp-keepalive-count must be 1..127";
	if (a->tcp_user_timeout < 0 || a->tcp_user_timeout > 86400)
		return "--tcp-user-timeout must be 0..86400";
	return fed_tunnel_conn_check_limits(a->max_queued, a->ping_rate, a->refused_rate);
}

void agent_set_defaults(struct agent *a)
{
	memset(a, 0, sizeof(*a));
	a->heartbeat = 10;
	a->max_backoff = 60;
	a->proxy_step_timeout = 10;
	a->tcp_keepidle = 30;
	a->tcp_keepintvl = 10;
	a->tcp_keepcnt = 3;
	a->tcp_user_timeout = 60;
	a->max_queued = FED_TUNNEL_DEFAULT_MAX_QUEUED;
	a->ping_rate = FED_TUNNEL_DEFAULT_PING_RATE;
	a->refused_rate = FED_TUNNEL_DEFAULT_REFUSED_RATE;
	a->meta_nodes = a->meta_cores = -1;
	fed_rest_config_init(&a->member);
}

/* The command line into a, and the log set up. Returns -1 to go on, else
 * the exit code (0 after --help or --version, 2 for a bad option). */
int agent_parse_args(struct agent *a, int argc, char **argv)
{
	const char *log_level = "info", *msg;
	bool log_json = false, help = false, version = false;
	const struct fed_opt table[] = {
	    {FED_OPT_STRING, "host-address", 0, &a->host_address, "HOST:PORT",
	     "the host's tunnel address (required)", NULL},
	    {FED_OPT_STRING, "host-ca-file", 0, &a->host_ca_file, "FILE",
	     "the host's CA certificate to pin (required; there is no insecure mode)", NULL},
	    {FED_OPT_STRING, "host-server-name", 0, &a->server_name, "NAME",
	     "name or IP the host's certificate must carry (default: HOST of --host-address)",
	     NULL},
	    {FED_OPT_STRING, "bootstrap-token-file", 0, &a->token_file, "FILE",
	     "file holding the one-time bootstrap token", NULL},
	    {FED_OPT_STRING, "credential-file", 0, &a->credential_file, "FILE",
	     "where the per-cluster credential the host issues is kept (used instead of the token "
	     "once present)",
	     NULL},
	    {FED_OPT_STRING, "credential-secret", 0, &a->credential_secret, "NAME",
	     "keep the per-cluster credential in this Secret (key credential) of the agent's "
	     "namespace in the member; used instead of the token once present",
	     NULL},
	    {FED_OPT_STRING, "namespace", 0, &a->namespace_opt, "NS",
	     "namespace of --credential-secret when neither POD_NAMESPACE nor the ServiceAccount's "
	     "namespace file is there",
	     NULL},
	    {FED_OPT_STRING, "proxy-ca-file", 0, &a->proxy_ca_file, "FILE",
	     "CA bundle (PEM) to verify an https:// HTTPS_PROXY with (default: the system trust "
	     "store)",
	     NULL},
	    {FED_OPT_STRING, "kubeconfig", 0, &a->kubeconfig, "FILE",
	     "this member's apiserver and the agent's credential (default: in-cluster "
	     "ServiceAccount)",
	     NULL},
	    {FED_OPT_DOUBLE, "heartbeat", 0, &a->heartbeat, "SECONDS",
	     "heartbeat interval; the tunnel is dead after 3 missed (default 10)", NULL},
	    {FED_OPT_DOUBLE, "max-backoff", 0, &a->max_backoff, "SECONDS",
	     "longest wait between reconnects (default 60)", NULL},
	    {FED_OPT_DOUBLE, "proxy-step-timeout", 0, &a->proxy_step_timeout, "SECONDS",
	     "through HTTPS_PROXY, give up an attempt when one step takes longer: the TCP "
	     "connection, TLS to an https:// proxy, the CONNECT request and answer (default 10)",
	     NULL},
	    {FED_OPT_INT, "tcp-keepalive-idle", 0, &a->tcp_keepidle, "SECONDS",
	     "TCP keepalive on the sockets to the host, the proxy and the member's apiserver: "
	     "first probe after this much silence (default 30)",
	     NULL},
	    {FED_OPT_INT, "tcp-keepalive-interval", 0, &a->tcp_keepintvl, "SECONDS",
	     "TCP keepalive: between probes (default 10)", NULL},
	    {FED_OPT_INT, "tcp-keepalive-count", 0, &a->tcp_keepcnt, "N",
	     "TCP keepalive: unanswered probes that end the connection (default 3)", NULL},
	    {FED_OPT_INT, "tcp-user-timeout", 0, &a->tcp_user_timeout, "SECONDS",
	     "end a connection whose sent data stays unacknowledged this long (TCP_USER_TIMEOUT; "
	     "0: the kernel's default, about 15 min; default 60)",
	     NULL},
	    {FED_OPT_DOUBLE, "tunnel-max-queued-bytes", 0, &a->max_queued, "BYTES",
	     "bytes queued to the host before the agent stops reading from it (new DATA waits "
	     "from half of it) (default 4194304 = 4 MiB)",
	     NULL},
	    {FED_OPT_DOUBLE, "tunnel-ping-rate", 0, &a->ping_rate, "PER_SECOND",
	     "PINGs from the host answered per second, bursts of twice that (default 10)", NULL},
	    {FED_OPT_DOUBLE, "tunnel-refused-rate", 0, &a->refused_rate, "PER_SECOND",
	     "frames for streams never opened taken per second (bursts of twice that) before "
	     "the connection is closed (default 100)",
	     NULL},
	    {FED_OPT_STRING, "log-level", 0, &log_level, "LEVEL",
	     "error, warn, info, debug or trace (default info)", NULL},
	    {FED_OPT_BOOL, "log-json", 0, &log_json, NULL, "log JSON lines", NULL},
	    {FED_OPT_BOOL, "version", 0, &version, NULL, "print the version and exit", NULL},
	    FED_OPT_TABLE_END,
	};
	const struct fed_opt *const tables[] = {table, NULL};
	struct fed_error err = FED_ERROR_INIT;
	char *args[1];
	int nargs, level;

	if (fed_opt_parse(tables, argc - 1, argv + 1, args, 0, &nargs, &help, &err)) {
		fprintf(stderr, "fed-agent: %s\n", err.msg);
		return 2;
	}
	if (help) {
		printf("Usage: fed-agent --host-address HOST:PORT --host-ca-file FILE [options]\n\n"
		       "Options:\n");
		fed_opt_print_help(stdout, tables);
		return 0;
	}
	/* before the checks: --host-address and the rest are not needed */
	if (version) {
		printf("fed-agent v%s\n", FED_VERSION);
		return 0;
	}
	level = fed_log_level_parse(log_level);
	if (level < 0 || (msg = bad_option(a))) {
		fprintf(stderr, "fed-agent: %s\n",
		        level < 0 ? "--log-level: use error, warn, info, debug or trace" : msg);
		return 2;
	}
	fed_log_setup(level, log_json);
	return -1;
}
