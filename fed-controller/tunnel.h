/* fed-controller's side of the agent tunnel (tunnel.c). */
#ifndef FED_CONTROLLER_TUNNEL_H
#define FED_CONTROLLER_TUNNEL_H

#include <cjson/cJSON.h>

#include "fed/error.h"

struct controller;

/* Start when acting (leading): watch the tunnel Secret, then listen on
 * --tunnel-address. No-op when the address is "off". */
int tunnel_start(struct controller *ctl, struct fed_error *err);
void tunnel_stop(struct controller *ctl);
/* sync.c, after each config change: close the agent connections of
 * clusters no longer in the config with mode: agent (a reconnect is then
 * refused). */
void tunnel_prune(struct controller *ctl);
/* sync.c: the Federation config was read once; the listener waits for it. */
void tunnel_members_known(struct controller *ctl);
/* The loopback URL that reaches cluster's apiserver through its agent,
 * NULL until an agent of that cluster authenticated once. */
const char *tunnel_member_url(struct controller *ctl, const char *cluster);
/* The agent's last METADATA JSON, NULL if none. */
const char *tunnel_member_metadata(struct controller *ctl, const char *cluster);
/* Expiry (unix seconds) of the newest credential issued to cluster's
 * agents, remembered across restarts in the tunnel Secret; 0 if none. */
long long tunnel_credential_expiry(struct controller *ctl, const char *cluster);
/* Authenticated agent connections of cluster now. */
int tunnel_agents_connected(struct controller *ctl, const char *cluster);
/* status.agent of cluster's KubeFedCluster (metadata, heartbeat,
 * connections, credential expiry), NULL when nothing is known. */
cJSON *tunnel_agent_status(struct controller *ctl, const char *cluster);
/* sync.c: is cluster in the Federation config with mode: agent? */
bool tunnel_config_mode_agent(struct controller *ctl, const char *cluster);
/* A kubeconfig for url (no credentials: the agent adds its own), malloc'd. */
char *tunnel_kubeconfig(const char *url);

#endif
