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
#include "connect/connect.h"
#include "tunnel/podlabel.h"
#include "tunnel/tunnel.h"
#include "fed/federation.h"
#include "fed/harden.h"
#include "fed/log.h"
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
	    (ret = connect_start(ctl, err)) || (ret = types_start(ctl, err)))
		goto out;
	/* with the tunnel off, cluster connect's Service still selects the
	 * leader by the label the tunnel sets once it serves */
	if (!strcmp(ctl->o.tunnel_address, "off") && strcmp(ctl->o.connect_address, "off"))
		podlabel_set(ctl->podlabel, FED_TUNNEL_LEADER, NULL, NULL);
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

/* The host client and what serves before we act: the tunnel's socket
 * directory (a bad one is the operator's to fix: say so at start), the
 * hooks, members, /metrics and the loop-lag metric. */
static int connect_host(struct controller *ctl, struct fed_rest_config *cfg, struct fed_error *err)
{
	const struct controller_opts *o = &ctl->o;
	int ret;

	if ((strcmp(o->tunnel_address, "off") && (ret = tunnel_socket_dir_open(ctl, err))) ||
	    (ret = hooks_init(ctl, err)) || (ret = members_new(ctl, err)) ||
	    (ret = fed_rest_config_load(cfg, o->kubeconfig, o->context, err)))
		goto out;
	cfg->qps = o->host_qps;
	cfg->burst = (int)(2 * o->host_qps);
	if ((ret = fed_kube_client_new(&ctl->host, ctl->loop, cfg, "host", err)) ||
	    (ret = controller_ops_start(ctl, err)) || (ret = looplag_start(ctl, err)))
		goto out;
	controller_kube_limits(ctl, ctl->host);
	FED_LOG_INFO(NULL,
	             "fed-controller %s: host %s, %zu client address(es) for clientCIDR matching",
	             FED_VERSION, cfg->server, members_client_ip_count(ctl));
out:
	return ret;
}

/* Campaign for the Lease, or act at once when election is off. */
static int start_ha(struct controller *ctl, const struct fed_rest_config *cfg,
                    struct fed_error *err)
{
	int ret = 0;

	if (!ctl->o.leader_elect) {
		/* one replica: standby until the tunnel serves (writes stay in order) */
		if ((ret = podlabel_new(&ctl->podlabel, ctl, ctl->host))) {
			ret = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
		podlabel_set(ctl->podlabel, FED_TUNNEL_STANDBY, NULL, NULL);
	}
	/* a peer that hung up must end its connection, not the process: TLS
	 * writes to agents (and a final close_notify) go through plain write() */
	signal(SIGPIPE, SIG_IGN);
	ret = ctl->o.leader_elect ? start_election(ctl, cfg, err) : start_acting(ctl, err);
out:
	return ret;
}

static void run_loop(struct controller *ctl)
{
	ev_signal_init(&ctl->sigint, on_signal, SIGINT);
	ev_signal_init(&ctl->sigterm, on_signal, SIGTERM);
	ctl->sigint.data = ctl->sigterm.data = ctl;
	ev_signal_start(ctl->loop, &ctl->sigint);
	ev_signal_start(ctl->loop, &ctl->sigterm);
	ctl->exit_code = 0;
	ev_run(ctl->loop, 0);
}

static void shutdown_all(struct controller *ctl, struct fed_rest_config *cfg)
{
	ev_timer_stop(ctl->loop, &ctl->stop_timer);
	looplag_stop(ctl);
	connect_stop(ctl);
	members_free(ctl);
	rsp_stop(ctl);
	types_stop(ctl);
	tunnel_stop(ctl);
	tunnel_socket_dir_close(ctl);
	podlabel_free(ctl->podlabel);
	fed_leader_free(ctl->leader);
	fed_kube_client_free(ctl->leader_client);
	fed_kube_client_free(ctl->host);
	controller_ops_stop(ctl);
	fed_rest_config_release(cfg);
	hooks_free(ctl);
	if (ctl->loop)
		ev_loop_destroy(ctl->loop);
}

int main(int argc, char **argv)
{
	struct controller ctl;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rest_config cfg;
	int ret;

	(void)fed_process_harden();
	memset(&ctl, 0, sizeof(ctl));
	ctl.exit_code = 1;
	fed_rest_config_init(&cfg);
	if ((ret = controller_parse_args(&ctl.o, argc, argv)) >= 0)
		return ret;
	fed_log_setup(fed_log_level_parse(ctl.o.log_level), ctl.o.log_json);
	ctl.loop = ev_default_loop(0);
	ev_init(&ctl.stop_timer, stop_timeout);
	if (connect_host(&ctl, &cfg, &err) || start_ha(&ctl, &cfg, &err)) {
		FED_LOG_ERR(NULL, "%s", err.msg);
		goto out;
	}
	run_loop(&ctl);
out:
	shutdown_all(&ctl, &cfg);
	return ctl.exit_code;
}
