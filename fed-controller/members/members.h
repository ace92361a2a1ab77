/* members/: the Federation config and kubeconfig Secret turned into
 * joined, health-checked member clusters with their KubeFedClusters
 * (members_sync.c), one struct member per cluster (member.c: client and
 * probes; member_status.c: KubeFedCluster status and facts;
 * member_token.c: bound token renewal). What happens to members is
 * published through hooks.h; nothing here includes a feature. */
#ifndef FED_CONTROLLER_MEMBERS_H
#define FED_CONTROLLER_MEMBERS_H

#include "../controller.h"

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

/* members_sync.c: the informers on the config, the Secret and our
 * KubeFedClusters (when acting), and the set of members. */
int members_new(struct controller *ctl, struct fed_error *err);
int members_start(struct controller *ctl, struct fed_error *err);
void members_free(struct controller *ctl);
/* The member named cluster, or NULL. */
struct member *members_get(const struct controller *ctl, const char *cluster);
/* name -> struct member *, to iterate (never NULL). */
const struct fed_map *members_all(const struct controller *ctl);
/* The Federation config was read once: the members are real. */
bool members_known(const struct controller *ctl);
/* Our own addresses, for CIDR matching. */
size_t members_client_ip_count(const struct controller *ctl);
/* Recount kubefedcluster_total and friends after a member changed. */
void members_update_metrics(struct controller *ctl);

int member_new(struct member **out, struct controller *ctl, const char *name);
/* Apply what the config says now; rebuilds the client if the address or
 * the kubeconfig changed, and writes spec and status when they differ. */
void member_apply(struct member *m, const struct member_desired *d);
void member_free(struct member *m);
/* Its KubeFedCluster was deleted by someone: write it again. */
void member_object_lost(struct member *m);
/* "direct" or "agent", as the config says (NULL before the first apply). */
const char *member_mode(const struct member *m);
/* The member's client while it is Ready, else NULL. */
struct fed_kube_client *member_client(const struct member *m);
/* Connected but not probed yet: its state is not known. */
bool member_connecting(const struct member *m);
/* KubeFedCluster labels, for placement selectors (NULL if none). */
const cJSON *member_labels(const struct controller *ctl, const char *name);
/* Why it is not Ready, as its KubeFedCluster says (NULLs when unknown). */
void member_unready(const struct member *m, const char **reason, const char **message);
/* kubefed's kubefedcluster_total states: "ready", "notready" or "offline". */
const char *member_state(const struct member *m);
/* Something shown in its status changed outside a probe (tunnel/: the
 * agent's metadata, connections or credential): write it if it differs. */
void member_status_changed(struct controller *ctl, const char *name);

/* KubeFedCluster resource in the federation namespace. */
extern const struct fed_kube_resource kfc_resource;

#endif
