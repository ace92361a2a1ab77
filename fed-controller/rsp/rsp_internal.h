/* Internals shared by rsp.c (the sync) and rsp_status.c (status and
 * Events of ReplicaSchedulingPreferences). */
#ifndef FED_CONTROLLER_RSP_INTERNAL_H
#define FED_CONTROLLER_RSP_INTERNAL_H

#include "fed/rsp.h"
#include "fed/workqueue.h"
#include "../propagation/propagate.h"
#include "rsp.h"

extern const struct fed_kube_resource rsp_resource;

struct rsp_ctl {
	struct controller *ctl;
	struct fed_informer *inf;
	struct fed_map items;      /* key -> struct rsp * */
	struct fed_queue *q;       /* RSP keys to sync: de-dup, debounce, backoff */
	struct fed_map down_since; /* cluster -> double *: not ready since (ev_now) */
	ev_timer wake;             /* the earliest deadline: grace or capacity threshold */
};

/* What is known of one cluster for one RSP between syncs. */
struct seen {
	struct fed_rsp_observed obs;
	int64_t last_current; /* last available seen while it was watched, -1 unknown */
};

struct rsp {
	struct rsp_ctl *rc;
	char *key;
	struct fed_map seen;         /* cluster -> struct seen * */
	struct fed_kube_call *write; /* the target patch in flight */
	struct fed_kube_call *status_call;
	struct fed_status_writer status; /* write on change, one in flight */
	bool status_seen;                /* the object's own status was compared once */
	char *writing_rv;                /* target resourceVersion the write in flight replaces */
	char *stale_rv;                  /* target resourceVersion our last write replaced */
	char *plan_summary;              /* "a=4 b=2" of the last plan announced */
	char *problem;                   /* message of the last warning announced */
};

/* Everything one sync works out, for the status. */
struct result {
	const char *reason; /* NULL: scheduled */
	char message[FED_ERROR_MSG_MAX + 256];
	cJSON *clusters; /* status.clusters */
	int64_t unplaced;
	bool moving; /* some cluster is still on its way to the plan */
};

/* rsp.c */
void rsp_enqueue(struct rsp_ctl *rc, const char *key);

/* rsp_status.c */
/* The status writer's write function (r is ud). */
int rsp_status_write(void *ud, const char *body, struct fed_error *err);
void rsp_event(struct rsp_ctl *rc, const cJSON *obj, bool warning, const char *reason,
               const char *msg);
/* A warning, once per distinct message. */
void rsp_problem(struct rsp *r, const cJSON *obj, const char *reason, const char *msg);
/* Write the status for res (only when it changed); takes res->clusters. */
void rsp_write_status(struct rsp *r, const cJSON *obj, struct result *res);
/* One member's entry of status.clusters. */
void rsp_cluster_status(cJSON *arr, const struct fed_rsp_cluster_out *o, int64_t applied,
                        bool offline);
/* The plan the status shows as announced (NULL: none); free() it. */
char *rsp_announced(const cJSON *obj);

#endif
