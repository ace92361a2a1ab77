/* fedctl delete: parse (cmd_delete.c), plan (delete_plan.c: pure
 * decisions from what the host holds), apply (delete_host.c for the host,
 * delete_member.c for the member, delete_agent.c for an agent member). */
#ifndef FEDCTL_DELETE_H
#define FEDCTL_DELETE_H

#include <stdbool.h>

#include "fed/federation.h"
#include "fed/kube.h"

struct fedctl;

struct fedctl_delete_opts {
	const char *name;           /* the cluster */
	const char *member_context; /* --cluster-context, else name */
	bool force, orphan, dry_run;
	double wait_for; /* --wait, seconds */
};

/* What the host holds of the cluster, and so what delete does. */
struct fedctl_delete_plan {
	bool in_cm;     /* an entry in kubefed.yaml */
	bool in_secret; /* key (kubeconfig-NAME) in the kubeconfig Secret */
	bool agent;     /* an agent member: its entry says so, or only its tokens are left */
	char key[300];
};

/* One run: the options, the plan and what the steps read and connect. */
struct fedctl_delete {
	struct fedctl *ctx;
	struct fedctl_delete_opts o;
	struct fedctl_delete_plan p;
	struct fed_kube_client *host;
	struct fed_kube_client *member; /* NULL: not reached (agent, --force) */
	struct fed_rest_config hcfg, mcfg;
	cJSON *cm;            /* kube-system/kubefed-config, NULL when missing */
	const char *old_yaml; /* its kubefed.yaml (borrowed from cm) */
	struct fed_federation *fed;
	cJSON *secret; /* the kubeconfig Secret, NULL when missing */
	bool self;     /* the member is the host itself */
};

/* delete_plan.c (pure) */
/* in_cm, in_secret and agent (mode agent) of the cluster name from the
 * Federation (may be NULL) and the kubeconfig Secret (may be NULL). */
void fedctl_delete_plan(const struct fed_federation *fed, const cJSON *secret, const char *name,
                        struct fedctl_delete_plan *p);
/* The name of a joined cluster whose address is server, else NULL. */
const char *fedctl_joined_as(const struct fed_federation *fed, const char *server);
/* Add "bootstrap-*": null to data for each bootstrap token of the tunnel
 * Secret (as read) that belongs to name; returns how many. */
int fedctl_bootstrap_tokens(const cJSON *secret, const char *name, cJSON *data);

/* delete_host.c */
int fedctl_delete_load(struct fedctl_delete *d, struct fed_error *err);
int fedctl_delete_remove_entry(struct fedctl_delete *d, struct fed_error *err);
int fedctl_delete_remove_key(struct fedctl_delete *d, struct fed_error *err);
/* 0 once fed-controller let go of the cluster (or --force said go on
 * after --wait), -1 to stop (the message is printed). */
int fedctl_delete_wait_released(struct fedctl_delete *d);
/* The merge patch removing the cluster's unused bootstrap tokens from the
 * tunnel Secret (NULL when there is nothing to do); with revoke also
 * raising its credential generation. */
int fedctl_delete_agent_tokens(struct fedctl_delete *d, bool revoke, char **patch, int *n,
                               struct fed_error *err);
int fedctl_delete_patch_tokens(struct fedctl_delete *d, const char *patch, struct fed_error *err);

/* delete_member.c */
/* d->self from the UIDs of kube-system in host and member. */
void fedctl_delete_check_self(struct fedctl_delete *d);
/* The member's RBAC, token, ServiceAccount and (unless self) namespace. */
int fedctl_delete_member_objects(struct fedctl_delete *d, struct fed_error *err);
/* What a delete that could not clean the member leaves there (stderr). */
void fedctl_delete_leftovers(const struct fedctl_delete *d);

/* delete_agent.c */
int fedctl_delete_agent(struct fedctl_delete *d);

#endif
