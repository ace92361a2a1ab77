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
	/* when to renew a direct member's bound token: this fraction of its lifetime */
	double member_token_renew_fraction;
};

struct controller {
	struct controller_opts o;
	struct ev_loop *loop;
	struct fed_kube_client *host;
	struct fed_informer *config;   /* the Federation ConfigMap */
	struct fed_informer *secret;   /* the kubeconfig Secret */
	struct fed_informer *clusters; /* KubeFedClusters we manage */
	struct fed_map members;        /* name -> struct member * */
	char **client_ips;             /* our own addresses, for CIDR matching */
	size_t n_client_ips;
	ev_timer resync; /* debounces config changes */
	ev_signal sigint, sigterm;
	char config_error[FED_ERROR_MSG_MAX + 128];
	/* operations */
	struct fed_http_server *http;
	struct fed_metrics *metrics;
	struct fed_metrics_family *m_clusters, *m_joined, *m_probe_seconds, *m_cluster_ready,
	    *m_leader;
	/* HA */
	struct fed_kube_client *leader_client; /* renewals never queue behind our writes */
	struct fed_leader *leader;
	bool started; /* informers running: we lead (or election is off) */
	int exit_code;
	ev_timer stop_timer;       /* bounds a graceful release on shutdown */
	struct podlabel *podlabel; /* our Pod's tunnel label (podlabel.c), NULL when not used */
	bool lease_released, label_settled; /* shutdown: both done, then exit */
	char *config_rv; /* ConfigMap resourceVersion whose problems were reported */
	/* propagation */
	struct fed_informer *ftcs; /* FederatedTypeConfigs */
	struct fed_map types;      /* FTC name -> struct ftype * */
	bool adopt;                /* adopt pre-existing unlabelled objects in members */
	bool members_known;        /* the Federation config was read once: members are real */
	struct rsp_ctl *rsp;       /* ReplicaSchedulingPreferences (rsp.c) */
	struct tunnel *tunnel;     /* agent tunnel (tunnel.c), NULL when off */
	struct looplag *looplag;   /* event-loop lag metric (looplag.c) */
	/* the directory of the agents' Unix sockets (tunnel_listen.c): open
	 * (sockdir_fd >= 0) from start to exit, removed at exit if we made it */
	char *sockdir;
	int sockdir_fd;
	bool sockdir_made;
};

/* What the Federation config and Secret say about one member. */
struct member_desired {
	const char *server_url; /* chosen by clientCIDR; NULL when not connectable */
	const char *matched_cidr;
	const char *mode;         /* "direct" or "agent" */
	const char *kubeconfig;   /* the Secret's kubeconfig-<name> text, NULL if missing */
	const char *error_reason; /* non-NULL: the entry cannot be used (InvalidConfig, ...) */
	const char *error_message;
};

struct member;

int member_new(struct member **out, struct controller *ctl, const char *name);
/* Apply what the config says now; rebuilds the client if the address or
 * the kubeconfig changed, and writes spec and status when they differ. */
void member_apply(struct member *m, const struct member_desired *d);
void member_free(struct member *m);
/* Its KubeFedCluster was deleted by someone: write it again. */
void member_object_lost(struct member *m);
const char *member_name(const struct member *m);
/* "direct" or "agent", as the config says (NULL before the first apply). */
const char *member_mode(const struct member *m);
/* The member's client while it is Ready, else NULL. */
struct fed_kube_client *member_client(const struct member *m);
/* Connected but not probed yet: its state is not known. */
bool member_connecting(const struct member *m);
/* KubeFedCluster labels, for placement selectors (NULL if none). */
const cJSON *member_labels(const struct controller *ctl, const char *name);

/* types.c */
int types_start(struct controller *ctl, struct fed_error *err);
void types_stop(struct controller *ctl);
void types_member_changed(struct controller *ctl, const char *cluster, bool ready);
/* member.c, before freeing a member's client: end the writes through it. */
void types_client_gone(struct controller *ctl, struct fed_kube_client *c);
void types_enqueue_all(struct controller *ctl);

/* kubefed's kubefedcluster_total states: "ready", "notready" or "offline". */
const char *member_state(const struct member *m);
/* Something shown in its status changed outside a probe (tunnel.c: the
 * agent's metadata, connections or credential): write it if it differs. */
void member_status_changed(struct controller *ctl, const char *name);
/* The response caps and watch timeouts of the flags, counted in
 * fed_kube_response_too_large_total{cluster}: for every client we make. */
void controller_kube_limits(struct controller *ctl, struct fed_kube_client *c);

/* ops.c: /healthz, /readyz, /metrics. */
int controller_ops_start(struct controller *ctl, struct fed_error *err);
void controller_ops_stop(struct controller *ctl);
/* Recount kubefedcluster_total and friends after a member changed. */
void controller_update_metrics(struct controller *ctl);
void controller_observe_probe(struct controller *ctl, double seconds);
/* tunnel_listen.c: open (or make) the directory of the agents' Unix
 * sockets: mode 0700, ours, no symlink; stale sockets in it are removed.
 * Refused with a message naming --tunnel-socket-dir otherwise. */
int tunnel_socket_dir_open(struct controller *ctl, struct fed_error *err);
/* At exit, after tunnel_stop: close it, and remove it if we made it. */
void tunnel_socket_dir_close(struct controller *ctl);
/* The Unix socket that reaches cluster's apiserver through its agent, NULL
 * until an agent of that cluster authenticated once. */
const char *tunnel_member_socket(struct controller *ctl, const char *cluster);

/* looplag.c: fed_loop_lag_seconds on /metrics (after controller_ops_start). */
int looplag_start(struct controller *ctl, struct fed_error *err);
void looplag_stop(struct controller *ctl);

/* KubeFedCluster resource in the federation namespace. */
extern const struct fed_kube_resource kfc_resource;
#define FED_MANAGED_BY_LABEL "fed.io/managed-by"
#define FED_MANAGER          "fed-controller"

/* events.c */
struct controller_event_target {
	const char *api_version, *kind, *namespace, *name, *uid; /* uid may be NULL */
};
void controller_event(struct controller *ctl, const struct controller_event_target *t, bool warning,
                      const char *reason, const char *message);

/* Replace an owned string with a copy of s (NULL allowed). */
static inline void controller_set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s ? strdup(s) : NULL;
}

/* Re-read config and Secret and converge members (debounced). */
void controller_schedule_sync(struct controller *ctl);

#endif
