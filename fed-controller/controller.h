/* fed-controller internals. One loop, one thread; see docs/architecture.md. */
#ifndef FED_CONTROLLER_H
#define FED_CONTROLLER_H

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "fed/cluster_health.h"
#include "fed/http_server.h"
#include "fed/leader.h"
#include "fed/metrics.h"
#include "fed/informer.h"
#include "fed/map.h"

struct controller_opts {
	const char *kubeconfig;
	const char *context;
	const char *config_namespace;
	const char *config_name;
	const char *secret_name;
	const char *fed_namespace;
	const char *client_ip; /* override of the address used to pick serverAddressByClientCIDRs */
	double probe_period;   /* seconds, default 10 */
	double probe_timeout;  /* seconds, default 3 */
	int failure_threshold;
	int success_threshold;
	const char *log_level;
	bool log_json;
	const char *metrics_address; /* HOST:PORT for /healthz, /readyz, /metrics; "off" */
	double host_qps, member_qps; /* client rate limits (burst: twice the qps) */
	bool leader_elect;
	const char *lease_name;
	double lease_duration, renew_deadline, retry_period;
	double
	    rsp_offline_grace; /* seconds a cluster may be not ready before RSPs move its share */
	double rsp_unschedulable_threshold; /* seconds replicas stay unavailable before capacity is
	                                       capped */
	const char *tunnel_address;         /* agent tunnel listener, "off" (default) */
	const char *tunnel_secret;     /* Secret with the tunnel's certificate, key and tokens */
	const char *tunnel_sans;       /* subjectAltNames of a generated tunnel certificate */
	double tunnel_heartbeat;       /* seconds */
	bool tunnel_label_pod;         /* label our Pod fed.kubefed.io/tunnel=leader|standby */
	double tunnel_cred_lifetime;   /* seconds an issued agent credential is valid */
	int tunnel_max_pending;        /* unauthenticated agent connections, in all */
	int tunnel_max_pending_per_ip; /* ... from one source address */
	int tunnel_max_agents;         /* authenticated connections per cluster */
	/* per agent connection: bytes queued before reading stops, PINGs
	 * answered and frames for unknown streams taken per second */
	double tunnel_max_queued, tunnel_ping_rate, tunnel_refused_rate;
	/* what an apiserver (or an agent) can make us hold: bytes, seconds */
	double max_response_bytes, max_probe_bytes, watch_idle_timeout;
	/* may a member's kubeconfig in the Secret run an exec plugin, or read
	 * files of this machine (tokenFile, client-certificate, ...)? */
	bool allow_kubeconfig_exec, allow_kubeconfig_files;
	/* directory of the per-cluster Unix sockets that reach agents; NULL:
	 * a fresh one under $XDG_RUNTIME_DIR or /tmp */
	const char *tunnel_socket_dir;
	bool adopt; /* adopt pre-existing unlabelled objects in members */
	/* when to renew a direct member's bound token: this fraction of its lifetime */
	double member_token_renew_fraction;
	/* cluster connect (connect/): the listener, "off" (default); its
	 * Secret, Service and extra subjectAltNames; per caller and in all */
	const char *connect_address, *connect_secret, *connect_service, *connect_sans;
	int connect_max_connections, connect_max_streams_per_user;
	double connect_max_body_bytes, connect_idle_timeout, connect_head_timeout;
};

/* The core: options, the loop, the host client, operations (ops.c,
 * looplag.c, events.c) and the hooks between the parts (hooks.c). Each
 * part keeps its state behind its own opaque pointer. */
struct controller {
	struct controller_opts o;
	struct ev_loop *loop;
	struct fed_kube_client *host;
	ev_signal sigint, sigterm;
	/* operations */
	struct fed_http_server *http;
	struct fed_metrics *metrics;
	struct fed_metrics_family *m_clusters, *m_joined, *m_probe_seconds, *m_cluster_ready,
	    *m_leader;
	struct looplag *looplag; /* event-loop lag metric (looplag.c) */
	/* HA */
	struct fed_kube_client *leader_client; /* renewals never queue behind our writes */
	struct fed_leader *leader;
	bool started; /* informers running: we lead (or election is off) */
	int exit_code;
	ev_timer stop_timer; /* bounds a graceful release on shutdown */
	struct podlabel
	    *podlabel; /* our Pod's tunnel label (tunnel/podlabel.c), NULL when not used */
	bool lease_released, label_settled; /* shutdown: both done, then exit */
	/* the parts */
	struct members *members;        /* members/: config, KubeFedClusters, health */
	struct propagation *prop;       /* propagation/: FederatedTypeConfigs and their objects */
	struct rsp_ctl *rsp;            /* rsp/: ReplicaSchedulingPreferences */
	struct tunnel *tunnel;          /* tunnel/: agent tunnel, NULL when off */
	struct tunnel_sockdir *sockdir; /* tunnel/: the agents' Unix sockets, NULL when off */
	struct connect *connect;        /* connect/: cluster connect, NULL when off */
	struct hooks *hooks;            /* hooks.c */
};

/* options.c: the command line into o, with the option table's defaults.
 * Returns -1 to go on, else the exit code (0 after --help, 2 for a bad
 * option, said on stderr). */
int controller_parse_args(struct controller_opts *o, int argc, char **argv);

/* ops.c: /healthz, /readyz, /metrics. */
int controller_ops_start(struct controller *ctl, struct fed_error *err);
void controller_ops_stop(struct controller *ctl);
void controller_observe_probe(struct controller *ctl, double seconds);
/* The response caps and watch timeouts of the flags, counted in
 * fed_kube_response_too_large_total{cluster}: for every client we make. */
void controller_kube_limits(struct controller *ctl, struct fed_kube_client *c);

/* looplag.c: fed_loop_lag_seconds on /metrics (after controller_ops_start). */
int looplag_start(struct controller *ctl, struct fed_error *err);
void looplag_stop(struct controller *ctl);

#define FED_MANAGED_BY_LABEL "fed.io/managed-by"
#define FED_MANAGER          "fed-controller"

/* events.c */
struct controller_event_target {
	const char *api_version, *kind, *namespace, *name, *uid; /* uid may be NULL */
};
void controller_event(struct controller *ctl, const struct controller_event_target *t, bool warning,
                      const char *reason, const char *message);

/* xalloc.c: allocations that abort on out-of-memory (the error policy,
 * docs/architecture.md); xoom() for a library call that said FED_ENOMEM. */
void xoom(void) __attribute__((noreturn));
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);

/* Replace an owned string with a copy of s (NULL allowed). */
static inline void controller_set_str(char **dst, const char *s)
{
	char *copy = s ? xstrdup(s) : NULL;

	free(*dst);
	*dst = copy;
}

#include "hooks.h"

#endif
