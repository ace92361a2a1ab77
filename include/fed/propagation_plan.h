/* The propagation plan: what to do in each member cluster for one
 * Federated<Kind> object, decided from what the controller knows now. Pure
 * (no I/O, no clock, no globals): the controller gathers the inputs from
 * its informers and the records it keeps, calls fed_prop_plan(), then does
 * the writes, keeps the records and writes the status.
 *
 * The plan decides WHAT to do per cluster; the bytes written come from
 * fed_object_for_cluster() and the hash recorded from fed_desired_hash()
 * (include/fed/propagation.h), as before.
 *
 * kubefed's sync controller (pkg/controller/sync) in short, with fed's
 * differences: placement (spec.placement), gated for namespaced types by
 * the FederatedNamespace of the object's namespace; creation, update or
 * adoption where placed and Ready; deletion (or, with kubefed.io/orphan,
 * dropping the managed label) where no longer placed or when the object is
 * being deleted; objects labelled kubefed.io/managed=false are never
 * touched; a cluster not Ready is reported, and while it holds our copy of
 * an object being deleted, our finalizer stays. */
#ifndef FED_PROPAGATION_PLAN_H
#define FED_PROPAGATION_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "fed/error.h"
#include "fed/propagation.h"

#define FED_PROP_SYNC_FINALIZER    "kubefed.io/sync-controller"
#define FED_PROP_ORPHAN_ANNOTATION "kubefed.io/orphan"
/* seconds to wait for the watch event of our own write before looking again */
#define FED_PROP_AWAIT_EVENT 10.0
/* seconds before looking again at an object we may not touch, while the
 * member's unmanaged informer has not listed (it would tell us of a label
 * change) */
#define FED_PROP_PARKED 30.0

/* ---- inputs ------------------------------------------------------------ */

/* How the controller sees a member now. */
enum fed_prop_member_state {
	FED_PROP_READY,      /* has a client and its managed informer has listed */
	FED_PROP_LISTING,    /* has a client, its managed informer has not listed yet */
	FED_PROP_CONNECTING, /* no client yet: first health probe in progress */
	FED_PROP_NOT_READY,  /* no client: unhealthy, misconfigured, or unknown */
	FED_PROP_LEFT,       /* no longer a member: only our record of it remains */
};

/* The record the controller keeps of what it last did in one cluster
 * (struct crec), as it is before this sync. */
struct fed_prop_record {
	const char *version; /* "gen:N" / "rv:N" after our last write; NULL: no copy of ours */
	const char *hash;    /* desired hash applied ("" or NULL: none) */
	const char *status;  /* per-cluster status recorded (kubefed's string, "" OK), or NULL */
	bool deleting;       /* a delete (or label removal) of ours is in flight */
	double written_at;   /* time of our last write whose watch event is not seen; 0 none */
	double parked_at;    /* time found unmanaged and left alone; 0 none */
	const char *parked_hash; /* the desired hash then */
};

struct fed_prop_member {
	const char *name; /* the KubeFedCluster name */
	enum fed_prop_member_state state;
	const cJSON *labels; /* KubeFedCluster metadata.labels, for clusterSelector; may be NULL */
	/* READY and LISTING only (ignored otherwise): */
	const cJSON *managed;   /* the member's copy labelled managed=true, or NULL */
	const cJSON *unmanaged; /* the object there without our label (metadata), or NULL */
	bool unmanaged_listed;  /* the member's unmanaged informer has listed */
	const struct fed_prop_record *rec; /* NULL: no record */
	/* LISTING only: the member has not the object's namespace (it said
	 * so), so no copy can be there, whatever a record says */
	bool absent;
};

struct fed_prop_type {
	const struct fed_target_type *target; /* for the desired hash; namespaced from here */
	bool is_namespaces;                   /* this is the FederatedNamespace type */
	const char *fed_namespace;            /* the federation's namespace (never propagated) */
	bool adopt; /* --adopt-resources: take over unlabelled objects found in members */
};

struct fed_prop_in {
	/* the federated object (borrowed); NULL: gone from the host */
	const cJSON *fed;
	struct fed_prop_type type;
	/* namespaced types (not FederatedNamespace): the FederatedNamespace
	 * named like fed's namespace, in that namespace, or NULL when there is
	 * none (or the FederatedNamespace type is not enabled) */
	const cJSON *fed_namespace_obj;
	double now;       /* seconds, the clock written_at and parked_at use */
	bool writes_held; /* backing off after a failed write: no writes to members now */
	/* every member, then one entry with state LEFT per record of a cluster
	 * that is no longer a member; names unique */
	const struct fed_prop_member *members;
	size_t n;
};

/* ---- outputs ----------------------------------------------------------- */

enum fed_prop_action {
	FED_PROP_NONE,   /* nothing to write */
	FED_PROP_CREATE, /* absent there: apply fed_object_for_cluster(existing NULL) */
	FED_PROP_UPDATE, /* our copy (or one labelled managed=true) differs: apply */
	FED_PROP_ADOPT,  /* an unlabelled object is there and adoption is on: apply */
	/* the member's unmanaged informer has not listed: GET the object, then
	 * call fed_prop_plan_found() with the answer (NULL on 404) */
	FED_PROP_GET,
	FED_PROP_DELETE, /* remove our copy there (or, fed gone, delete it by name) */
	FED_PROP_ORPHAN, /* keep the copy, drop its managed label (kubefed.io/orphan) */
	FED_PROP_WAIT,   /* our own write's event (or a label change) is awaited: retry_in */
	FED_PROP_FORGET, /* drop the record of this cluster */
	FED_PROP_ACTION_COUNT
};

/* Per-cluster status (status.clusters[].status, kubefed's strings). The
 * first group the plan produces; the second are the outcomes of the
 * controller's writes, named here so that every string has one home. */
enum fed_prop_reason {
	FED_PROP_R_OK,                     /* "" */
	FED_PROP_R_CLUSTER_NOT_READY,      /* "ClusterNotReady" */
	FED_PROP_R_WAITING_FOR_REMOVAL,    /* "WaitingForRemoval" */
	FED_PROP_R_ALREADY_EXISTS,         /* "AlreadyExists": unlabelled there, adoption off */
	FED_PROP_R_MANAGED_LABEL_FALSE,    /* "ManagedLabelFalse" */
	FED_PROP_R_APPLY_OVERRIDES_FAILED, /* "ApplyOverridesFailed": desired hash failed */
	FED_PROP_R_PLANNED_COUNT,          /* the values above are produced by the plan */
	FED_PROP_R_COMPUTE_RESOURCE_FAILED = FED_PROP_R_PLANNED_COUNT,
	FED_PROP_R_CREATION_FAILED,
	FED_PROP_R_UPDATE_FAILED,
	FED_PROP_R_DELETION_FAILED,
	FED_PROP_R_LABEL_REMOVAL_FAILED,
	FED_PROP_R_RETRIEVAL_FAILED,
	FED_PROP_R_COUNT
};

/* The Propagation condition's reason (status True only with OK). */
enum fed_prop_cond {
	FED_PROP_COND_OK,                      /* no reason */
	FED_PROP_COND_CHECK_CLUSTERS,          /* a cluster's status is not OK */
	FED_PROP_COND_NAMESPACE_NOT_FEDERATED, /* reserved namespace, or no FederatedNamespace */
	FED_PROP_COND_INVALID_NAME,            /* FederatedNamespace not named like its namespace */
	FED_PROP_COND_APPLY_OVERRIDES_FAILED,  /* spec.overrides invalid */
	FED_PROP_COND_COMPUTE_PLACEMENT_FAILED, /* spec.placement invalid */
	FED_PROP_COND_COUNT
};

enum fed_prop_finalizer {
	FED_PROP_FIN_KEEP,   /* leave our finalizer as it is */
	FED_PROP_FIN_ADD,    /* add it (with this round's writes, not before them) */
	FED_PROP_FIN_REMOVE, /* deleting and nothing of ours remains: remove it */
	FED_PROP_FIN_COUNT
};

/* The plan for members[i]. */
struct fed_prop_cluster {
	const char *name; /* members[i].name (borrowed) */
	enum fed_prop_action action;
	bool placed; /* selected by placement (after namespace gating) */
	/* set the record's status and message to reason and message, creating
	 * the record when missing; false: leave the record's status alone */
	bool record;
	enum fed_prop_reason reason;
	char message[FED_ERROR_MSG_MAX]; /* "" none */
	/* the managed copy's watch event has arrived: written_at = 0 */
	bool event_seen;
	/* CREATE, UPDATE, ADOPT, GET and park first clear written_at and
	 * parked_at; park then sets parked_at = now, parked_hash = hash */
	bool park;
	char hash[65];   /* desired hash: CREATE, UPDATE, ADOPT, GET, park */
	double retry_in; /* WAIT: sync again after this many seconds */
};

struct fed_prop_plan {
	struct fed_prop_cluster *clusters; /* n entries, clusters[i] for members[i]; owned */
	size_t n;
	enum fed_prop_cond cond;
	char message[FED_ERROR_MSG_MAX]; /* the condition's message, "" none */
	enum fed_prop_finalizer finalizer;
	/* status may be written after this round: not deleting and no member
	 * listing or connecting. The controller writes it only once none of
	 * the object's writes is in flight (they sync it again when done). */
	bool write_status;
	bool gone;       /* fed is NULL: after the deletes, drop the object's state */
	bool deleting;   /* metadata.deletionTimestamp set and our finalizer on it */
	bool orphan;     /* deleting with kubefed.io/orphan: "true" */
	bool remaining;  /* a copy of ours (or one on its way) is still in some member */
	bool listing;    /* a member is listing or connecting: no verdict yet */
	double retry_in; /* earliest clusters[].retry_in of a WAIT, 0 none */
};

/* Plan in into *out (zeroed first; release with fed_prop_plan_release).
 * FED_EINVAL for a member without a name or a name given twice, FED_ENOMEM.
 * A bad spec is not an error of the plan: it is out->cond with a message. */
int fed_prop_plan(const struct fed_prop_in *in, struct fed_prop_plan *out, struct fed_error *err);

/* After a GET (action FED_PROP_GET): decide c's write from what the member
 * answered (found: the object, NULL on 404), as fed_prop_plan would have
 * with the unmanaged informer listed. c->hash is kept. */
void fed_prop_plan_found(const struct fed_prop_type *t, const cJSON *found,
                         struct fed_prop_cluster *c);

/* Free what the plan owns and zero it; NULL is fine. */
void fed_prop_plan_release(struct fed_prop_plan *p);

/* kubefed's strings: "" for FED_PROP_R_OK and FED_PROP_COND_OK,
 * "ClusterNotReady", "CheckClusters", ...; actions and finalizer changes
 * by their enum name ("Create", "Remove"); "?" out of range. */
const char *fed_prop_action_name(enum fed_prop_action a);
const char *fed_prop_reason_name(enum fed_prop_reason r);
const char *fed_prop_cond_name(enum fed_prop_cond c);
const char *fed_prop_finalizer_name(enum fed_prop_finalizer f);
/* The reason named s (a record's status string), FED_PROP_R_COUNT when none. */
enum fed_prop_reason fed_prop_reason_parse(const char *s);

/* ---- From fobj_sync (for the controller) --------------------------------
 *
 * What stays in the controller, before the plan: fobj_get, the in-flight
 * check (a sync while writes are in flight marks the object dirty), the
 * wait for members_known, the federated informer, the FTC informer and
 * the FederatedNamespace informer to list, and load_recs.
 *
 * Filling the inputs:
 *   fed               propagate_fed_get(t, key) (NULL: gone)
 *   type.target       &t->tt; is_namespaces t->is_namespaces;
 *   type.fed_namespace ctl->o.fed_namespace; type.adopt ctl->adopt
 *   fed_namespace_obj nst && ns ? fed_informer_get(nst->fed_inf, ns, ns) : NULL
 *   now               ev_now(loop); writes_held  ev_is_active(&o->retry) && o->backoff > 0
 *   members[]         each of ctl->members, then each o->recs key not in it (LEFT):
 *     state           member_client(m) ? (synced ? READY : LISTING)
 *                     : member_connecting(m) ? CONNECTING : NOT_READY
 *     labels          member_labels(ctl, name)
 *     managed         minf_get(t, name, key, &synced)
 *     unmanaged       minf_get_unmanaged(t, name, key, &unmanaged_listed)
 *     rec             from fed_map_get(&o->recs, name), NULL when none
 *
 * Doing the plan, per cluster (r: the record, created when needed):
 *   record            propagate_crec_set(r, fed_prop_reason_name(reason), message)
 *   event_seen        r->written_at = 0
 *   CREATE/UPDATE/ADOPT  r->written_at = r->parked_at = 0; fed_object_for_cluster
 *                     (failure: record ComputeResourceFailed) and apply, then
 *                     apply_done records version and hash as today
 *   GET               as CREATE, then the GET; its answer through
 *                     fed_prop_plan_found() and the same dispatch
 *   park              r->written_at = 0; r->parked_at = now; parked_hash = hash
 *   DELETE / ORPHAN   propagate_write_off(orphan = action == ORPHAN), which
 *                     sets r->deleting; with gone, remove_leftover_copies'
 *                     delete by name
 *   WAIT              arm o->retry for retry_in unless it is armed
 *   FORGET            crec_free(fed_map_del(&o->recs, name))
 * Then: finalizer ADD/REMOVE -> propagate_set_finalizer(o, fed, add);
 * write_status (and no write in flight) -> propagate_write_status with
 * names/placed of the members that are not LEFT, fed_prop_cond_name(cond)
 * (NULL for OK and CHECK_CLUSTERS: the writer derives CheckClusters from
 * the records it writes) and message (NULL for ""); gone -> fobj_free.
 * Logging stays there too: "deleted (member copies orphaned)" from
 * deleting/orphan with FIN_REMOVE, "adopting" from ADOPT. */

#endif
