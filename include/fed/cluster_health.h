/* Member cluster health: probe outcomes folded into a published state with
 * true consecutive thresholds (kubefed flips after one failure once a
 * cluster has been ready for a while; fed counts consecutive results), and
 * the facts shown for a cluster (distribution, infrastructure). Pure
 * logic: the controller does the I/O. */
#ifndef FED_CLUSTER_HEALTH_H
#define FED_CLUSTER_HEALTH_H

#include <stdbool.h>
#include <time.h>

#include "fed/error.h"

enum fed_probe_result {
	FED_PROBE_OK,           /* /readyz (or /healthz) answered 200 ok */
	FED_PROBE_NOT_READY,    /* reachable, but not ready */
	FED_PROBE_UNREACHABLE,  /* connection failed or timed out */
	FED_PROBE_UNAUTHORIZED, /* 401: the credential expired or was revoked */
	FED_PROBE_FORBIDDEN,    /* 403: the credential lacks get on /readyz */
	FED_PROBE_TLS,          /* the server certificate did not verify */
};

enum fed_health_state {
	FED_HEALTH_CONNECTING, /* no verdict yet */
	FED_HEALTH_READY,
	FED_HEALTH_NOT_READY, /* reachable, not ready or not allowed */
	FED_HEALTH_OFFLINE,
	FED_HEALTH_EXPIRED,
};

struct fed_health {
	int failure_threshold; /* consecutive failures to leave ready (default 3) */
	int success_threshold; /* consecutive successes to become ready (default 1) */
	enum fed_health_state state;
	enum fed_probe_result last;
	int run;                /* consecutive results of the other readiness */
	time_t last_transition; /* when state last changed */
	time_t last_ok;         /* last successful probe */
	char reason[64]; /* kubefed's reasons: ClusterReady, ClusterNotReady, ClusterNotReachable,
	                    ... */
	char message[512];
};

void fed_health_init(struct fed_health *h, int failure_threshold, int success_threshold);
/* Fold one probe result in. Returns true if the published state, reason or
 * message changed (the status must be written). */
bool fed_health_observe(struct fed_health *h, enum fed_probe_result r, const char *message,
                        time_t now);
/* Classify a probe's outcome from the client's error. */
enum fed_probe_result fed_health_classify(int http_status, const struct fed_error *err,
                                          const char *body);

const char *fed_health_connectivity(enum fed_health_state s); /* Connecting, Connected, ... */

/* Distribution from the server's gitVersion and a node's labels/providerID:
 * eks, gke, aks, openshift, k3s, rke2, microk8s, kind, kwok, or "generic". */
const char *fed_cluster_distribution(const char *git_version, const char *provider_id,
                                     const char *const *node_label_keys);
/* Infrastructure from a node's providerID scheme: aws, gcp, azure, vsphere,
 * openstack, kwok, kind, ... or "generic". */
const char *fed_cluster_infrastructure(const char *provider_id);

#endif
