/* What the files of members/ share; the rest of fed-controller uses
 * members.h. */
#ifndef FED_CONTROLLER_MEMBERS_INTERNAL_H
#define FED_CONTROLLER_MEMBERS_INTERNAL_H

#include "fed/cluster_health.h"
#include "fed/workqueue.h"
#include "members.h"

struct members {
	struct fed_informer *config;   /* the Federation ConfigMap */
	struct fed_informer *secret;   /* the kubeconfig Secret */
	struct fed_informer *clusters; /* KubeFedClusters we manage */
	struct fed_map map;            /* name -> struct member * */
	char **client_ips;             /* our own addresses, for CIDR matching */
	size_t n_client_ips;
	ev_timer resync; /* debounces config changes */
	char config_error[FED_ERROR_MSG_MAX + 128];
	char *config_rv; /* ConfigMap resourceVersion whose problems were reported */
	bool known;      /* the Federation config was read once: members are real */
};

/* One member cluster (member.c: config, client, probes; member_status.c:
 * its KubeFedCluster and facts). */
struct member {
	struct controller *ctl;
	char *name;
	/* what the config says */
	char *server_url, *matched_cidr, *mode, *err_reason, *err_message;
	char config_digest[65]; /* of kubeconfig + address: rebuild the client when it changes */
	struct fed_kube_client *client;
	struct member_token *token; /* renewal of a bound token (member_token.c) */
	/* health */
	struct fed_health health;
	ev_timer probe_timer;
	struct fed_kube_call *probe;
	bool use_healthz;  /* /readyz is missing on very old servers */
	bool probe_failed; /* the last probe failed (a Ready member may still be Ready) */
	double probe_sent; /* ev_time() of the probe in flight */
	int probes;
	/* facts */
	char *version;
	long nodes, cores;
	char distribution[32], infrastructure[32];
	struct fed_kube_call *version_call;
	struct fed_kube_pager *nodes_pager;
	/* may our member identity impersonate (cluster connect)? -1 unknown */
	int impersonate;
	struct fed_kube_call *ssar_call;
	/* KubeFedCluster */
	char *written_spec;
	struct fed_kube_call *spec_call, *status_call;
	struct fed_status_writer status; /* write on change, one in flight */
	bool spec_ok;                    /* the object exists with our spec */
};

/* member_status.c */
void member_event(struct member *m, bool warning, const char *reason, const char *message);
/* Write the KubeFedCluster's status when it differs from the last one. */
void member_write_status(struct member *m);
/* The status writer's write function (m is ud). */
int member_status_write(void *ud, const char *body, struct fed_error *err);
/* The spec we want for the KubeFedCluster (malloc'd), and its write
 * (takes spec). */
char *member_render_spec(struct member *m);
void member_write_spec(struct member *m, char *spec);
/* Version and nodes, shown in the status. */
void member_refresh_facts(struct member *m);

/* members_sync.c: re-read config and Secret and converge members (debounced). */
void members_schedule_sync(struct controller *ctl);

#endif
