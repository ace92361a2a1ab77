/* How the parts of fed-controller talk without including each other:
 * members/ publishes what happens to member clusters and propagation/
 * what happens to federated objects; the features (and ops) subscribe.
 * The few questions members/ asks of the tunnel, and the resync the
 * tunnel asks of members/, go through functions main.c wires here. So
 * includes run one way: features -> members/ -> core. */
#ifndef FED_CONTROLLER_HOOKS_H
#define FED_CONTROLLER_HOOKS_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "fed/error.h"

struct controller;
struct fed_kube_client;

enum hooks_event {
	HOOKS_MEMBER_READY,       /* cluster became Ready: client is usable */
	HOOKS_MEMBER_NOT_READY,   /* cluster stopped being Ready, or is leaving: stop using it */
	HOOKS_MEMBER_SETTLED,     /* cluster's first verdict after connecting is not Ready */
	HOOKS_MEMBER_CLIENT_GONE, /* client of cluster is about to be freed */
	HOOKS_MEMBER_ANSWERS,     /* a Ready cluster answered a probe again after failed ones */
	HOOKS_MEMBER_LABELS,      /* cluster's KubeFedCluster labels changed */
	HOOKS_MEMBERS_APPLIED,    /* the Federation config was applied (members added/removed) */
	HOOKS_MEMBERS_KNOWN,      /* the Federation config was read once: members are real */
	HOOKS_CONFIG_MISSING,     /* no Federation ConfigMap: no member is known yet */
	HOOKS_OBJECT_CHANGED,     /* federated object key of kind changed (host or member) */
};

struct hooks_msg {
	enum hooks_event ev;
	const char *cluster;            /* HOOKS_MEMBER_* */
	struct fed_kube_client *client; /* READY, CLIENT_GONE */
	const char *kind, *key;         /* HOOKS_OBJECT_CHANGED: "FederatedDeployment", "ns/name" */
};

typedef void (*hooks_fn)(struct controller *ctl, const struct hooks_msg *m, void *ud);

/* What members/ asks of the agent tunnel; main.c sets it when the tunnel
 * is built in (answers are NULL/0 when it is off). */
struct hooks_agents {
	/* the loopback URL / Unix socket that reaches cluster's apiserver
	 * through its agent, NULL until an agent authenticated once */
	const char *(*url)(struct controller *ctl, const char *cluster);
	const char *(*socket)(struct controller *ctl, const char *cluster);
	long long (*credential_expiry)(struct controller *ctl, const char *cluster);
	int (*connected)(struct controller *ctl, const char *cluster);
	cJSON *(*status)(struct controller *ctl, const char *cluster); /* status.agent */
	/* the Unix socket whose connections reach cluster's apiserver as the
	 * caller a request head names (cluster connect: the agent keeps its
	 * Impersonate-* and lets exec/attach/port-forward upgrades through;
	 * one request per connection), NULL unless a connected agent of the
	 * cluster serves such streams */
	const char *(*connect_socket)(struct controller *ctl, const char *cluster);
};

/* What the core and the features ask of members/; main.c sets it. */
struct hooks_members {
	void (*resync)(struct controller *ctl);        /* re-read the config (debounced) */
	bool (*inputs_synced)(struct controller *ctl); /* config, Secret, KubeFedClusters listed */
};

int hooks_init(struct controller *ctl, struct fed_error *err);
void hooks_free(struct controller *ctl);
/* fn(ctl, msg, ud) for every published message, in subscription order. */
int hooks_subscribe(struct controller *ctl, hooks_fn fn, void *ud);
void hooks_unsubscribe(struct controller *ctl, hooks_fn fn, void *ud);
void hooks_publish(struct controller *ctl, const struct hooks_msg *m);
void hooks_set_agents(struct controller *ctl, const struct hooks_agents *a);
void hooks_set_members(struct controller *ctl, const struct hooks_members *m);

const char *hooks_agent_url(struct controller *ctl, const char *cluster);
const char *hooks_agent_socket(struct controller *ctl, const char *cluster);
/* NULL when the tunnel is off, no agent of cluster authenticated yet, or
 * none connected serves cluster connect streams. */
const char *hooks_agent_connect_socket(struct controller *ctl, const char *cluster);
long long hooks_agent_credential_expiry(struct controller *ctl, const char *cluster);
int hooks_agents_connected(struct controller *ctl, const char *cluster);
cJSON *hooks_agent_status(struct controller *ctl, const char *cluster);
void hooks_resync(struct controller *ctl);
bool hooks_inputs_synced(struct controller *ctl);

#endif
