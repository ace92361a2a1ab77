/* Propagation of Federated<Kind> objects: one struct ftype per enabled
 * FederatedTypeConfig, holding the host informer of its federated objects,
 * one informer per Ready member on the target type (managed objects only),
 * and a queue of object keys to sync. See docs/architecture.md. */
#ifndef FED_CONTROLLER_PROPAGATE_H
#define FED_CONTROLLER_PROPAGATE_H

#include "../members/members.h"
#include "fed/federated_type.h"
#include "fed/propagation.h"
#include "fed/workqueue.h"

#define FED_SYNC_FINALIZER          "kubefed.io/sync-controller"
#define FED_ORPHAN_ANNOTATION       "kubefed.io/orphan"
#define FED_DELETEOPTION_ANNOTATION "kubefed.io/deleteoption"

/* ctl->prop: what types.c keeps. */
struct propagation {
	struct fed_informer *ftcs; /* FederatedTypeConfigs */
	struct fed_map types;      /* FTC name -> struct ftype * */
};

struct ftype {
	struct controller *ctl;
	struct fed_type_config cfg;
	char *target_api_version;                     /* "apps/v1" */
	char *fed_api_version;                        /* "types.kubefed.io/v1beta1" */
	struct fed_kube_resource target_res, fed_res; /* strings borrowed from cfg */
	struct fed_target_type tt;
	struct fed_informer *fed_inf; /* Federated<Kind> on the host */
	struct fed_map minf;          /* member name -> struct minf * */
	struct fed_map objs;          /* key -> struct fobj * (state kept between syncs) */
	struct fed_queue *q;          /* keys to sync (fobj_sync), with per-key backoff */
	bool is_namespaces;           /* the FederatedNamespace type: gates the others */
	/* core Secrets: members are watched per namespace holding one of
	 * its federated objects, after binding fed-member-secrets there
	 * (member_secrets.c), never cluster-wide */
	bool per_namespace;
	/* a custom resource type: its CRD, copied to each member before any of
	 * its objects (NULL for built-in types) */
	enum { CRD_UNKNOWN, CRD_NONE, CRD_FOUND } crd_state;
	cJSON *crd;
	struct fed_kube_call *crd_call;
};

/* A member's informers on the target type: the managed objects (label
 * kubefed.io/managed=true), and the metadata of all the others. */
struct minf {
	struct ftype *t;
	char *cluster;
	struct fed_informer *inf;       /* NULL for a per_namespace type */
	struct fed_informer *uinf;      /* likewise */
	struct fed_kube_client *client; /* borrowed: a minf stops before it goes */
	/* per_namespace types (member_secrets.c) */
	struct fed_map ns;            /* namespace -> its informers */
	struct fed_kube_call *whoami; /* the SelfSubjectReview */
	bool whoami_done;
	char *sa_ns, *sa_name; /* the member's identity, NULL when not a ServiceAccount */
};

/* What we last did in one cluster for one object: persisted in the
 * federated object's status.clusters[] (version, hash), so a restarted
 * controller knows what it wrote without writing again. */
struct crec {
	char hash[65];     /* desired-state hash applied */
	char *version;     /* "gen:N" or "rv:N" of the member object after our write */
	char *status;      /* kubefed's per-cluster status ("" = OK) */
	char *message;     /* the member's message on failure */
	bool deleting;     /* a delete is in flight or awaited */
	double written_at; /* ev_now() of our last successful write, until its event shows */
	double parked_at;  /* found unmanaged (managed=false, or adoption off): look again later */
	char parked_hash[65];
};

struct fobj {
	struct ftype *t;
	char *key; /* "ns/name" or "name" */
	/* writes to members not yet answered: the queue's sync of key is
	 * PENDING until they are */
	int inflight;
	bool failed;         /* a write of this round failed: retry with backoff */
	bool round;          /* the sync running started a round of writes */
	bool loaded;         /* crecs read from the object's status */
	struct fed_map recs; /* cluster -> struct crec * */
	struct fed_status_writer status;
	struct fed_kube_call *status_call;
	bool status_seen;         /* the object's status compared once since start */
	struct write_ctx *writes; /* member writes in flight */
};

/* types.c */
void ftype_enqueue(struct ftype *t, const char *key);
void ftype_enqueue_all(struct ftype *t);
void ftype_enqueue_namespace(struct ftype *t, const char *ns);
struct ftype *types_namespaces(struct controller *ctl); /* the FederatedNamespace type, or NULL */
const cJSON *minf_get(struct ftype *t, const char *cluster, const char *key, bool *synced);
/* a per-namespace type whose member said key's namespace is not there */
bool minf_absent(struct ftype *t, const char *cluster, const char *key);
/* The metadata of an unmanaged object (no managed label, or false). */
const cJSON *minf_get_unmanaged(struct ftype *t, const char *cluster, const char *key,
                                bool *synced);

/* Every object of every type. */
void types_enqueue_all(struct controller *ctl);

/* member_informers.c */
void minf_free(struct minf *mi);
/* Watch every Ready member, stop watching the others. */
void ftype_sync_members(struct ftype *t);
/* The hooks subscriber for member events (ud: ctl->prop). */
void types_on_member(struct controller *ctl, const struct hooks_msg *m, void *ud);
/* The pair of informers of mi's type in namespace ns (NULL: all), with
 * the member handlers; not started. */
int minf_informers(struct minf *mi, const char *ns, struct fed_informer **inf,
                   struct fed_informer **uinf);

/* member_secrets.c: per_namespace types */
void msec_start(struct minf *mi);                             /* learns the SA, then binds */
void msec_ensure(struct minf *mi, const char *ns);            /* bind and watch ns */
void msec_namespace_arrived(struct minf *mi, const char *ns); /* retry a waiting bind */
void msec_free(struct minf *mi);                              /* the per-namespace parts */
void msec_retry_now(struct minf *mi); /* the member answers again: informers in backoff */
/* The informer (or unmanaged one) of the key's namespace, NULL when none. */
struct fed_informer *msec_informer(struct minf *mi, const char *key, bool unmanaged);
/* the member said key's namespace is not there */
bool msec_absent(struct minf *mi, const char *key);

/* propagate.c */
enum fed_queue_result fobj_sync(struct ftype *t, const char *key);
void fobj_free(struct fobj *o);

/* propagate_write.c */
/* A member's client is about to be freed: end o's writes through it, as
 * failures to retry (a freed client drops its calls without calling back). */
void fobj_client_gone(struct fobj *o, struct fed_kube_client *c);

#endif
