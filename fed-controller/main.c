/* fed-controller: runs on the host cluster, turns the Federation ConfigMap
 * and the kubeconfig Secret into joined, health-checked members. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "members/members.h"
#include "propagation/propagation.h"
#include "rsp/rsp.h"
#include "tunnel/podlabel.h"
#include "tunnel/tunnel.h"
#include "fed/federation.h"
#include "fed/harden.h"
#include "fed/log.h"
#include "fed/opt.h"
#include "fed/tunnel_conn.h"

static void stop_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	FED_LOG_WARN(NULL, "could not release the leader Lease in time; it expires on its own");
	ev_break(loop, EVBREAK_ALL);
}

/* Graceful shutdown ends when the Lease is released and our Pod's tunnel
 * label is back to standby (or the stop timer fires). */
static void shutdown_step(struct controller *ctl)
{
	if (ctl->lease_released && ctl->label_settled)
		ev_break(ctl->loop, EVBREAK_ALL);
}

static void label_settled(void *ud)
{
	struct controller *ctl = ud;

	ctl->label_settled = true;
	shutdown_step(ctl);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct controller *ctl = w->data;
	const char *label = podlabel_wanted(ctl->podlabel);

	FED_LOG_INFO(NULL, "received signal %d, shutting down", w->signum);
	if (!ctl->leader || ev_is_active(&ctl->stop_timer)) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	/* hand the Lease over so the standby leads at once, not after it expires */
	ev_timer_init(&ctl->stop_timer, stop_timeout, 3., 0.);
	ev_timer_start(loop, &ctl->stop_timer);
	/* the Pod may stay (a container restart): stop attracting agents */
	ctl->label_settled = !label || strcmp(label, FED_TUNNEL_LEADER);
	if (!ctl->label_settled)
		podlabel_set(ctl->podlabel, FED_TUNNEL_STANDBY, label_settled, ctl);
	fed_leader_release(ctl->leader);
}

static int start_acting(struct controller *ctl, struct fed_error *err)
{
	int ret;

	ctl->started = true;
	members_update_metrics(ctl);
	if ((ret = members_start(ctl, err)) || (ret = tunnel_start(ctl, err)) ||
	    (ret = types_start(ctl, err)))
		goto out;
	ret = rsp_start(ctl, err);
out:
	return ret;
}

static void started_leading(void *ud)
{
	struct controller *ctl = ud;
	struct fed_error err = FED_ERROR_INIT;

	FED_LOG_INFO(NULL, "leading (Lease %s/%s): acting on the federation", ctl->o.fed_namespace,
	             ctl->o.lease_name);
	if (start_acting(ctl, &err)) {
		FED_LOG_ERR(NULL, "%s", err.msg);
		ctl->exit_code = 1;
		ev_break(ctl->loop, EVBREAK_ALL);
	}
}

/* Exit rather than try to unwind: a fresh process starts from a clean
 * cache, which is what level-triggering wants (client-go does the same). */
static void stopped_leading(void *ud)
{
	struct controller *ctl = ud;

	ctl->started = false;
	if (ev_is_active(&ctl->stop_timer))
		return; /* we are shutting down and gave the Lease up ourselves */
	FED_LOG_ERR(NULL, "lost the leader Lease: exiting so that a fresh start campaigns again");
	ctl->exit_code = 1;
	ev_break(ctl->loop, EVBREAK_ALL);
}

static void new_leader(const char *identity, void *ud)
{
	FED_LOG_INFO(NULL, "leader is now %s", identity && *identity ? identity : "(none)");
}

static void released(const struct fed_error *err, void *ud)
{
	struct controller *ctl = ud;

	if (err)
		FED_LOG_WARN(NULL, "releasing the leader Lease: %s", err->msg);
	ctl->lease_released = true;
	shutdown_step(ctl);
}

/* Our Pod is labelled standby (or that failed): now campaign. */
static void campaign(void *ud)
{
	struct controller *ctl = ud;
	struct fed_error err = FED_ERROR_INIT;

	if (fed_leader_start(ctl->leader, &err)) {
		FED_LOG_ERR(NULL, "%s", err.msg);
		ctl->exit_code = 1;
		ev_break(ctl->loop, EVBREAK_ALL);
	}
}

static int start_election(struct controller *ctl, const struct fed_rest_config *cfg,
                          struct fed_error *err)
{
	struct fed_leader_opts lo;
	const char *pod = getenv("POD_NAME");
	int ret;

	memset(&lo, 0, sizeof(lo));
	lo.lease_namespace = ctl->o.fed_namespace;
	lo.lease_name = ctl->o.lease_name;
	lo.identity = pod && *pod ? pod : NULL;
	lo.lease_duration = ctl->o.lease_duration;
	lo.renew_deadline = ctl->o.renew_deadline;
	lo.retry_period = ctl->o.retry_period;
	lo.cb.on_started_leading = started_leading;
	lo.cb.on_stopped_leading = stopped_leading;
	lo.cb.on_new_leader = new_leader;
	lo.cb.on_released = released;
	lo.ud = ctl;
	if ((ret = fed_kube_client_new(&ctl->leader_client, ctl->loop, cfg, "lease", err)))
		return ret;
	controller_kube_limits(ctl, ctl->leader_client);
	if ((ret = fed_leader_new(&ctl->leader, ctl->leader_client, &lo, err)))
		return ret;
	/* A restarted ex-leader's Pod still says leader: clear that before
	 * campaigning, so agents go only where the tunnel is served. The label
	 * writes share the election's client: they are rare and belong to it. */
	if ((ret = podlabel_new(&ctl->podlabel, ctl, ctl->leader_client)))
		return fed_error_set(err, ret, "out of memory");
	if (!ctl->podlabel)
		return fed_leader_start(ctl->leader, err);
	podlabel_set(ctl->podlabel, FED_TUNNEL_STANDBY, campaign, ctl);
	return 0;
}

int main(int argc, char **argv)
{
	struct controller ctl;
	struct controller_opts *o = &ctl.o;
	const struct fed_opt table[] = {
	    {FED_OPT_STRING, "kubeconfig", 0, &o->kubeconfig, "FILE",
	     "kubeconfig of the host cluster (default: in-cluster)", NULL},
	    {FED_OPT_STRING, "context", 0, &o->context, "CONTEXT",
	     "kubeconfig context of the host cluster", NULL},
	    {FED_OPT_STRING, "config-namespace", 0, &o->config_namespace, "NS",
	     "namespace of the Federation ConfigMap and Secret (default kube-system)", NULL},
	    {FED_OPT_STRING, "config-name", 0, &o->config_name, "NAME",
	     "Federation ConfigMap (default kubefed-config)", NULL},
	    {FED_OPT_STRING, "secret-name", 0, &o->secret_name, "NAME",
	     "kubeconfig Secret (default kubefed-kubeconfig)", NULL},
	    {FED_OPT_STRING, "federation-namespace", 0, &o->fed_namespace, "NS",
	     "namespace of KubeFedClusters and the leader Lease (default kube-federation-system)",
	     NULL},
	    {FED_OPT_STRING, "client-ip", 0, &o->client_ip, "IP",
	     "address matched against clientCIDRs (default: $POD_IP, else this host's addresses)",
	     NULL},
	    {FED_OPT_DOUBLE, "health-period", 0, &o->probe_period, "SECONDS",
	     "health check period (default 10)", NULL},
	    {FED_OPT_DOUBLE, "health-timeout", 0, &o->probe_timeout, "SECONDS",
	     "health check timeout (default 3)", NULL},
	    {FED_OPT_INT, "failure-threshold", 0, &o->failure_threshold, "N",
	     "consecutive failed checks before a cluster is offline (default 3)", NULL},
	    {FED_OPT_INT, "success-threshold", 0, &o->success_threshold, "N",
	     "consecutive good checks before a cluster is ready (default 1)", NULL},
	    {FED_OPT_STRING, "metrics-address", 0, &o->metrics_address, "HOST:PORT",
	     "serve /healthz, /readyz and /metrics here (default :8080; port 0 picks one; off)",
	     NULL},
	    {FED_OPT_BOOL, "leader-elect", 0, &o->leader_elect, NULL,
	     "elect one acting replica on a Lease (default true; --leader-elect=false for one "
	     "replica)",
	     NULL},
	    {FED_OPT_STRING, "leader-elect-lease-name", 0, &o->lease_name, "NAME",
	     "Lease in the federation namespace (default fed-controller)", NULL},
	    {FED_OPT_DOUBLE, "leader-elect-lease-duration", 0, &o->lease_duration, "SECONDS",
	     "how long a standby waits before taking an unrenewed Lease (default 15)", NULL},
	    {FED_OPT_DOUBLE, "leader-elect-renew-deadline", 0, &o->renew_deadline, "SECONDS",
	     "the leader steps down when it cannot renew for this long (default 10)", NULL},
	    {FED_OPT_DOUBLE, "leader-elect-retry-period", 0, &o->retry_period, "SECONDS",
	     "between Lease attempts (default 2)", NULL},
	    {FED_OPT_DOUBLE, "host-qps", 0, &o->host_qps, "QPS",
	     "request rate to the host apiserver, burst twice that (default 100: status writes for "
	     "every federated object)",
	     NULL},
	    {FED_OPT_DOUBLE, "member-qps", 0, &o->member_qps, "QPS",
	     "request rate to each member apiserver, burst twice that (default 50)", NULL},
	    {FED_OPT_DOUBLE, "max-response-bytes", 0, &o->max_response_bytes, "BYTES",
	     "largest response body read from an apiserver (a LIST page); a larger one fails the "
	     "request (default 268435456 = 256 MiB)",
	     NULL},
	    {FED_OPT_DOUBLE, "max-probe-response-bytes", 0, &o->max_probe_bytes, "BYTES",
	     "largest answer to a health check or /version; a larger one fails the check "
	     "(default 1048576 = 1 MiB)",
	     NULL},
	    {FED_OPT_DOUBLE, "watch-idle-timeout", 0, &o->watch_idle_timeout, "SECONDS",
	     "a watch that receives nothing this long (not even the apiserver's bookmarks, one a "
	     "minute) is ended and started again (default 120)",
	     NULL},
	    {FED_OPT_DOUBLE, "rsp-offline-grace", 0, &o->rsp_offline_grace, "SECONDS",
	     "a cluster not ready this long loses its ReplicaSchedulingPreference share to the "
	     "others and keeps what it runs (default 60)",
	     NULL},
	    {FED_OPT_DOUBLE, "rsp-unschedulable-threshold", 0, &o->rsp_unschedulable_threshold,
	     "SECONDS",
	     "replicas unavailable in a cluster this long cap its capacity at what is available "
	     "(default 30)",
	     NULL},
	    {FED_OPT_BOOL, "adopt-resources", 0, &o->adopt, NULL,
	     "adopt objects that already exist in members without the kubefed.io/managed label "
	     "(default true)",
	     NULL},
	    {FED_OPT_STRING, "tunnel-address", 0, &o->tunnel_address, "[IP]:PORT",
	     "serve fed-agents of mode: agent members here, while leading (default off; e.g. "
	     ":8443)",
	     NULL},
	    {FED_OPT_STRING, "tunnel-secret-name", 0, &o->tunnel_secret, "NAME",
	     "Secret in the config namespace with the tunnel's certificate, key and bootstrap "
	     "tokens (default fed-tunnel)",
	     NULL},
	    {FED_OPT_STRING, "tunnel-sans", 0, &o->tunnel_sans, "SANS",
	     "subjectAltNames of a generated tunnel certificate (default "
	     "DNS:fed-tunnel,DNS:localhost,IP:127.0.0.1)",
	     NULL},
	    {FED_OPT_DOUBLE, "tunnel-heartbeat", 0, &o->tunnel_heartbeat, "SECONDS",
	     "heartbeat interval; an agent is gone after 3 missed (default 10)", NULL},
	    {FED_OPT_BOOL, "tunnel-label-pod", 0, &o->tunnel_label_pod, NULL,
	     "label this Pod (POD_NAME, POD_NAMESPACE) fed.kubefed.io/tunnel=leader while serving "
	     "the tunnel, else standby, for the fed-tunnel Service (default true)",
	     NULL},
	    {FED_OPT_DOUBLE, "tunnel-credential-lifetime", 0, &o->tunnel_cred_lifetime, "SECONDS",
	     "lifetime of the credential issued to each fed-agent; rotated on the live connection "
	     "before half of it (default 2592000 = 30 days)",
	     NULL},
	    {FED_OPT_DOUBLE, "member-token-renew-fraction", 0, &o->member_token_renew_fraction, "F",
	     "renew a direct member's bound token after this fraction of its lifetime "
	     "(default 0.6)",
	     NULL},
	    {FED_OPT_INT, "tunnel-max-pending", 0, &o->tunnel_max_pending, "N",
	     "agent connections not yet authenticated, in all; more are closed at once "
	     "(default 256)",
	     NULL},
	    {FED_OPT_INT, "tunnel-max-pending-per-ip", 0, &o->tunnel_max_pending_per_ip, "N",
	     "agent connections not yet authenticated from one source address; more are closed "
	     "at once (default 16)",
	     NULL},
	    {FED_OPT_INT, "tunnel-max-agents-per-cluster", 0, &o->tunnel_max_agents, "N",
	     "authenticated agent connections per cluster; one more is refused before its "
	     "bootstrap token is spent (default 8)",
	     NULL},
	    {FED_OPT_DOUBLE, "tunnel-max-queued-bytes", 0, &o->tunnel_max_queued, "BYTES",
	     "bytes queued to one agent connection before the controller stops reading from it "
	     "(new DATA waits from half of it) (default 4194304 = 4 MiB)",
	     NULL},
	    {FED_OPT_DOUBLE, "tunnel-ping-rate", 0, &o->tunnel_ping_rate, "PER_SECOND",
	     "PINGs answered per agent connection per second, bursts of twice that; more are "
	     "not answered (default 10)",
	     NULL},
	    {FED_OPT_DOUBLE, "tunnel-refused-rate", 0, &o->tunnel_refused_rate, "PER_SECOND",
	     "frames for streams never opened taken per agent connection per second (bursts of "
	     "twice that), each answered with RST; past it the connection is closed (default 100)",
	     NULL},
	    {FED_OPT_STRING, "tunnel-socket-dir", 0, &o->tunnel_socket_dir, "DIR",
	     "directory (mode 0700, owned by this user; created if missing) of the Unix sockets "
	     "through which the controller reaches each agent's cluster (default a new directory "
	     "under $XDG_RUNTIME_DIR or /tmp, removed at exit)",
	     NULL},
	    {FED_OPT_BOOL, "allow-kubeconfig-exec", 0, &o->allow_kubeconfig_exec, NULL,
	     "let members' kubeconfigs in the Secret run exec credential plugins on this machine "
	     "(default false)",
	     NULL},
	    {FED_OPT_BOOL, "allow-kubeconfig-files", 0, &o->allow_kubeconfig_files, NULL,
	     "let members' kubeconfigs in the Secret read local files (tokenFile, "
	     "client-certificate, client-key, certificate-authority) (default false)",
	     NULL},
	    {FED_OPT_STRING, "log-level", 0, &o->log_level, "LEVEL",
	     "error, warn, info, debug or trace (default info)", NULL},
	    {FED_OPT_BOOL, "log-json", 0, &o->log_json, NULL, "log JSON lines", NULL},
	    FED_OPT_TABLE_END,
	};
	const struct fed_opt *const tables[] = {table, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rest_config cfg;
	char *args[1];
	bool help;
	int nargs, level;

	(void)fed_process_harden();
	memset(&ctl, 0, sizeof(ctl));
	o->config_namespace = "kube-system";
	o->config_name = "kubefed-config";
	o->secret_name = "kubefed-kubeconfig";
	o->fed_namespace = "kube-federation-system";
	o->probe_period = 10;
	o->probe_timeout = 3;
	o->failure_threshold = 3;
	o->success_threshold = 1;
	o->log_level = "info";
	o->metrics_address = ":8080";
	o->leader_elect = true;
	o->lease_name = "fed-controller";
	o->host_qps = 100;
	o->member_qps = 50;
	o->rsp_offline_grace = 60;
	o->max_response_bytes = 256.0 * 1024 * 1024;
	o->max_probe_bytes = 1024 * 1024;
	o->watch_idle_timeout = 120;
	o->rsp_unschedulable_threshold = 30;
	o->tunnel_address = "off";
	o->tunnel_secret = "fed-tunnel";
	o->tunnel_sans = "DNS:fed-tunnel,DNS:localhost,IP:127.0.0.1";
	o->tunnel_heartbeat = 10;
	o->tunnel_label_pod = true;
	o->tunnel_cred_lifetime = 30 * 86400;
	o->member_token_renew_fraction = 0.6;
	o->tunnel_max_pending = 256;
	o->tunnel_max_pending_per_ip = 16;
	o->tunnel_max_agents = 8;
	o->tunnel_max_queued = FED_TUNNEL_DEFAULT_MAX_QUEUED;
	o->tunnel_ping_rate = FED_TUNNEL_DEFAULT_PING_RATE;
	o->tunnel_refused_rate = FED_TUNNEL_DEFAULT_REFUSED_RATE;
	o->adopt = true;
	ctl.exit_code = 1;
	fed_rest_config_init(&cfg);
	if (fed_opt_parse(tables, argc - 1, argv + 1, args, 0, &nargs, &help, &err)) {
		fprintf(stderr, "fed-controller: %s\n", err.msg);
		return 2;
	}
	if (help) {
		printf("Usage: fed-controller [options]\n\nOptions:\n");
		fed_opt_print_help(stdout, tables);
		return 0;
	}
	level = fed_log_level_parse(o->log_level);
	if (!(o->member_token_renew_fraction > 0 && o->member_token_renew_fraction < 1)) {
		fprintf(stderr, "fed-controller: --member-token-renew-fraction takes a number "
		                "between 0 and 1 (exclusive), such as 0.6\n");
		return 2;
	}
	if (level < 0 || o->probe_period <= 0 || o->probe_timeout <= 0 ||
	    o->failure_threshold < 1 || o->success_threshold < 1 || o->host_qps <= 0 ||
	    o->member_qps <= 0 || o->rsp_offline_grace < 0 || o->rsp_unschedulable_threshold < 0 ||
	    o->tunnel_cred_lifetime < 2 || !(o->max_response_bytes >= 65536) ||
	    !(o->max_response_bytes <= 1e12) || !(o->max_probe_bytes >= 4096) ||
	    !(o->max_probe_bytes <= 1e12) || !(o->watch_idle_timeout >= 1) ||
	    o->tunnel_max_pending < 1 || o->tunnel_max_pending_per_ip < 1 ||
	    o->tunnel_max_agents < 1 || !(o->tunnel_max_queued >= 65536) ||
	    !(o->tunnel_max_queued <= 1e10) || !(o->tunnel_ping_rate > 0) ||
	    !(o->tunnel_refused_rate > 0)) {
		fprintf(stderr, "fed-controller: %s\n",
		        level < 0 ? "--log-level: use error, warn, info, debug or trace"
		        : o->tunnel_cred_lifetime < 2
		            ? "--tunnel-credential-lifetime must be at least 2 seconds"
		        : !(o->watch_idle_timeout >= 1)
		            ? "--watch-idle-timeout must be at least 1 second"
		        : !(o->max_response_bytes >= 65536 && o->max_response_bytes <= 1e12 &&
		            o->max_probe_bytes >= 4096 && o->max_probe_bytes <= 1e12)
		            ? "--max-response-bytes must be at least 65536 and "
		              "--max-probe-response-bytes at least 4096"
		        : o->tunnel_max_pending < 1 || o->tunnel_max_pending_per_ip < 1 ||
		                o->tunnel_max_agents < 1
		            ? "--tunnel-max-pending, --tunnel-max-pending-per-ip and "
		              "--tunnel-max-agents-per-cluster must be at least 1"
		        : !(o->tunnel_max_queued >= 65536 && o->tunnel_max_queued <= 1e10)
		            ? "--tunnel-max-queued-bytes must be at least 65536"
		        : !(o->tunnel_ping_rate > 0 && o->tunnel_refused_rate > 0)
		            ? "--tunnel-ping-rate and --tunnel-refused-rate must be > 0"
		            : "--health-period, --health-timeout, --host-qps and --member-qps must "
		              "be > 0, thresholds >= 1, --rsp-* periods >= 0");
		return 2;
	}
	fed_log_setup(level, o->log_json);
	ctl.loop = ev_default_loop(0);
	ev_init(&ctl.stop_timer, stop_timeout);
	/* a bad socket directory is the operator's to fix: say so at start */
	if ((strcmp(o->tunnel_address, "off") && tunnel_socket_dir_open(&ctl, &err)) ||
	    hooks_init(&ctl, &err) || members_new(&ctl, &err) ||
	    fed_rest_config_load(&cfg, o->kubeconfig, o->context, &err))
		goto fail;
	cfg.qps = o->host_qps;
	cfg.burst = (int)(2 * o->host_qps);
	if (fed_kube_client_new(&ctl.host, ctl.loop, &cfg, "host", &err) ||
	    controller_ops_start(&ctl, &err) || looplag_start(&ctl, &err))
		goto fail;
	controller_kube_limits(&ctl, ctl.host);
	FED_LOG_INFO(NULL,
	             "fed-controller %s: host %s, %zu client address(es) for clientCIDR matching",
	             FED_VERSION, cfg.server, members_client_ip_count(&ctl));
	if (!o->leader_elect) {
		/* one replica: standby until the tunnel serves (writes stay in order) */
		if (podlabel_new(&ctl.podlabel, &ctl, ctl.host)) {
			fed_error_set(&err, FED_ENOMEM, "out of memory");
			goto fail;
		}
		podlabel_set(ctl.podlabel, FED_TUNNEL_STANDBY, NULL, NULL);
	}
	/* a peer that hung up must end its connection, not the process: TLS
	 * writes to agents (and a final close_notify) go through plain write() */
	signal(SIGPIPE, SIG_IGN);
	if (o->leader_elect ? start_election(&ctl, &cfg, &err) : start_acting(&ctl, &err))
		goto fail;
	ev_signal_init(&ctl.sigint, on_signal, SIGINT);
	ev_signal_init(&ctl.sigterm, on_signal, SIGTERM);
	ctl.sigint.data = ctl.sigterm.data = &ctl;
	ev_signal_start(ctl.loop, &ctl.sigint);
	ev_signal_start(ctl.loop, &ctl.sigterm);
	ctl.exit_code = 0;
	ev_run(ctl.loop, 0);
	goto out;
fail:
	FED_LOG_ERR(NULL, "%s", err.msg);
out:
	ev_timer_stop(ctl.loop, &ctl.stop_timer);
	looplag_stop(&ctl);
	members_free(&ctl);
	rsp_stop(&ctl);
	types_stop(&ctl);
	tunnel_stop(&ctl);
	tunnel_socket_dir_close(&ctl);
	podlabel_free(ctl.podlabel);
	fed_leader_free(ctl.leader);
	fed_kube_client_free(ctl.leader_client);
	fed_kube_client_free(ctl.host);
	controller_ops_stop(&ctl);
	fed_rest_config_release(&cfg);
	hooks_free(&ctl);
	if (ctl.loop)
		ev_loop_destroy(ctl.loop);
	return ctl.exit_code;
}
