/* Sync of one Federated<Kind> object: make every member match it, then
 * report. Level-triggered: each sync starts from the current federated
 * object, the members' informers and what the object's status says we
 * last wrote, so a restart at any moment converges without writing what
 * is already right.
 *
 * Writes to members are server-side applies (field manager
 * fed-controller, forced), so fields the member's own controllers set
 * (a Service's clusterIP, an HPA's replicas) stay theirs. Each object has
 * at most one round of writes in flight; events meanwhile mark it dirty
 * and it syncs again when the round ends, which keeps per-object order.
 *
 * The writes to members are in propagate_write.c, the object's status and
 * our finalizer on it in propagate_status.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "propagate_internal.h"

/* The informer's store is keyed like our queue ("ns/name" or "name"). */
const cJSON *propagate_fed_get(struct ftype *t, const char *key)
{
	return fed_map_get(fed_informer_store(t->fed_inf), key);
}

static void crec_free(struct crec *r)
{
	if (!r)
		return;
	free(r->version);
	free(r->status);
	free(r->message);
	free(r);
}

void fobj_free(struct fobj *o)
{
	if (!o)
		return;
	fed_kube_call_cancel(o->status_call);
	fed_status_writer_release(&o->status);
	propagate_writes_cancel(o);
	fed_map_release(&o->recs, (void (*)(void *))crec_free);
	free(o->key);
	free(o);
}

static struct fobj *fobj_get(struct ftype *t, const char *key)
{
	struct fobj *o = fed_map_get(&t->objs, key);

	if (o)
		return o;
	if (!(o = calloc(1, sizeof(*o))) || !(o->key = strdup(key))) {
		free(o);
		return NULL;
	}
	o->t = t;
	fed_map_init(&o->recs);
	fed_status_writer_init(&o->status, propagate_status_write, o);
	if (fed_map_put(&t->objs, key, o, NULL)) {
		fobj_free(o);
		return NULL;
	}
	return o;
}

struct crec *propagate_crec_get(struct fobj *o, const char *cluster)
{
	struct crec *r = fed_map_get(&o->recs, cluster);

	if (r)
		return r;
	r = xcalloc(1, sizeof(*r));
	if (fed_map_put(&o->recs, cluster, r, NULL))
		xoom();
	return r;
}

void propagate_crec_set(struct crec *r, const char *status, const char *message)
{
	controller_set_str(&r->status, status);
	controller_set_str(&r->message, message && *message ? message : NULL);
}

static void load_recs(struct fobj *o, const cJSON *fed)
{
	const cJSON *c;

	o->loaded = true;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(cJSON_GetObjectItem(fed, "status"), "clusters")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "name"));
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(c, "version"));
		const char *h = cJSON_GetStringValue(cJSON_GetObjectItem(c, "hash"));
		struct crec *r;
		if (!name || !v || !(r = propagate_crec_get(o, name)))
			continue;
		controller_set_str(&r->version, v);
		snprintf(r->hash, sizeof(r->hash), "%s", h ? h : "");
		propagate_crec_set(r, cJSON_GetStringValue(cJSON_GetObjectItem(c, "status")), NULL);
	}
}

/* Annotation keys have dots, so no dotted-path lookup. */
const char *propagate_annotation(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "annotations"), key));
}

/* ---- the sync ---------------------------------------------------------- */

static void stray_done(struct fed_kube_response *resp, void *ud)
{
	if (resp->err.code && resp->err.code != FED_ENOTFOUND)
		FED_LOG_WARN(resp->client, "removing a copy of a deleted object: %s",
		             resp->err.msg);
}

/* The federated object is gone but a copy we wrote was not taken off (it
 * was deleted before our finalizer landed, or the finalizer was removed
 * by hand): remove it by name (we hold no other handle). */
static void delete_by_name(struct fobj *o, const char *cluster, struct fed_kube_client *c)
{
	struct fed_kube_delete_opts d = FED_KUBE_DELETE_OPTS_INIT;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_ref ref = {&o->t->target_res, NULL, o->key, NULL};
	const char *slash = strchr(o->key, '/');
	char *ns = NULL;

	if (slash && (ns = strndup(o->key, (size_t)(slash - o->key)))) {
		ref.name = slash + 1;
		if (o->t->cfg.target.namespaced)
			ref.namespace = ns;
	}
	FED_LOG_INFO(cluster, "%s %s is gone without our finalizer's help: removing our copy",
	             o->t->cfg.federated.kind, o->key);
	if (fed_kube_delete(c, &ref, &d, stray_done, NULL, NULL, &err))
		FED_LOG_WARN(cluster, "removing a copy of a deleted object: %s", err.msg);
	free(ns);
}

void propagate_plan_type(const struct ftype *t, struct fed_prop_type *out)
{
	*out = (struct fed_prop_type){&t->tt, t->is_namespaces, t->ctl->o.fed_namespace,
	                              t->ctl->o.adopt};
}

/* The plan's inputs, and the arrays they point into. */
struct sync_in {
	struct fed_prop_in in;
	struct fed_prop_member *members;
	struct fed_prop_record *recs;
	size_t n_members; /* members[0..n_members) are members, the rest LEFT */
};

static void sync_in_release(struct sync_in *si)
{
	free(si->members);
	free(si->recs);
}

static enum fed_prop_member_state plan_state(const struct member *m, bool synced)
{
	if (member_client(m))
		return synced ? FED_PROP_READY : FED_PROP_LISTING;
	return member_connecting(m) ? FED_PROP_CONNECTING : FED_PROP_NOT_READY;
}

static void fill_member(struct ftype *t, struct fobj *o, const char *key, const char *name,
                        struct sync_in *si)
{
	struct fed_prop_member *pm = &si->members[si->in.n];
	struct fed_prop_record *pr = &si->recs[si->in.n];
	const struct member *m = members_get(t->ctl, name);
	struct crec *r = o ? fed_map_get(&o->recs, name) : NULL;
	bool synced = false;

	pm->name = name;
	pm->state = FED_PROP_LEFT;
	if (m) {
		pm->labels = member_labels(t->ctl, name);
		pm->managed = minf_get(t, name, key, &synced);
		pm->unmanaged = minf_get_unmanaged(t, name, key, &pm->unmanaged_listed);
		pm->state = plan_state(m, synced);
		pm->absent = !synced && minf_absent(t, name, key);
	}
	if (r) {
		*pr = (struct fed_prop_record){r->version,    r->hash,       r->status,
		                               r->deleting,   r->written_at, r->parked_at,
		                               r->parked_hash};
		pm->rec = pr;
	}
	si->in.n++;
}

/* Everything the plan needs: members (then clusters that left but still
 * have a record), their informers' copies and our records. */
static int gather(struct ftype *t, struct fobj *o, const char *key, const cJSON *fed,
                  struct sync_in *si)
{
	const struct fed_map *all = members_all(t->ctl);
	struct ftype *nst = types_namespaces(t->ctl);
	const char *ns = fed ? fed_obj_namespace(fed) : NULL;
	size_t cap = fed_map_count(all) + (o ? fed_map_count(&o->recs) : 0);
	struct fed_map_iter it;
	struct fed_map_entry *e;

	si->members = calloc(cap ? cap : 1, sizeof(*si->members));
	si->recs = calloc(cap ? cap : 1, sizeof(*si->recs));
	if (!si->members || !si->recs)
		return FED_ENOMEM;
	si->in.fed = fed;
	propagate_plan_type(t, &si->in.type);
	si->in.fed_namespace_obj = nst && ns ? fed_informer_get(nst->fed_inf, ns, ns) : NULL;
	si->in.now = ev_now(t->ctl->loop);
	/* after a failed write, members are touched again when the backoff
	 * ends; status is still kept current */
	si->in.writes_held = fed_queue_backoff(t->q, key) > 0;
	si->in.members = si->members;
	for (e = fed_map_first(all, &it); e && si->in.n < cap; e = fed_map_next(all, &it))
		fill_member(t, o, key, e->key, si);
	si->n_members = si->in.n;
	for (e = o ? fed_map_first(&o->recs, &it) : NULL; e && si->in.n < cap;
	     e = fed_map_next(&o->recs, &it))
		if (!members_get(t->ctl, e->key))
			fill_member(t, o, key, e->key, si);
	return 0;
}

/* Do what the plan says for one cluster. */
static void carry_out(struct fobj *o, const cJSON *fed, const struct fed_prop_member *m,
                      const struct fed_prop_cluster *pc, bool gone)
{
	struct member *mb = members_get(o->t->ctl, pc->name);
	struct fed_kube_client *c = mb ? member_client(mb) : NULL;
	struct crec *r = NULL;

	if (pc->record || pc->event_seen)
		r = propagate_crec_get(o, pc->name);
	if (pc->record)
		propagate_crec_set(r, fed_prop_reason_name(pc->reason), pc->message);
	if (pc->event_seen)
		r->written_at = 0;
	switch (pc->action) {
	case FED_PROP_CREATE:
	case FED_PROP_UPDATE:
	case FED_PROP_ADOPT:
	case FED_PROP_GET:
		propagate_write(o, fed, pc, c, m->managed);
		break;
	case FED_PROP_DELETE:
	case FED_PROP_ORPHAN:
		if (gone)
			delete_by_name(o, pc->name, c);
		else
			propagate_write_off(o, fed, pc->name, c, m->managed,
			                    pc->action == FED_PROP_ORPHAN);
		break;
	case FED_PROP_FORGET:
		crec_free(fed_map_del(&o->recs, pc->name));
		break;
	default: /* NONE (perhaps a park), WAIT (armed once for all) */
		if (pc->park)
			propagate_write(o, fed, pc, c, m->managed);
		break;
	}
}

/* After the writes: the retry for a WAIT, our finalizer, the status. */
static void conclude(struct fobj *o, const cJSON *fed, const struct sync_in *si,
                     const struct fed_prop_plan *p)
{
	if (p->retry_in > 0 && fed_queue_add_after(o->t->q, o->key, p->retry_in))
		xoom(); /* the look again would be lost */
	if (p->finalizer == FED_PROP_FIN_REMOVE && !o->inflight) {
		FED_LOG_INFO(NULL, "%s %s deleted%s", o->t->cfg.federated.kind, o->key,
		             p->orphan ? " (member copies orphaned)" : " from every member");
		propagate_set_finalizer(o, fed, false);
	}
	/* a Ready member still listing would show as ClusterNotReady for a
	 * moment: the plan says no status then (its sync enqueues us again) */
	if (p->write_status && !o->inflight)
		propagate_write_status(o, fed, p, si->n_members);
}

/* Whether the informers the plan reads have listed: before the Federation
 * config is read, no member is known and every cluster would look like
 * one that left; a namespaced object is gated by its FederatedNamespace,
 * so decide only once every FTC is known and that type has listed, or a
 * restart would take namespaces for unfederated and delete member copies. */
static bool inputs_listed(struct ftype *t)
{
	struct ftype *nst = types_namespaces(t->ctl);

	if (!members_known(t->ctl) || !fed_informer_synced(t->fed_inf))
		return false;
	if (!t->cfg.target.namespaced || t->is_namespaces)
		return true;
	return fed_informer_synced(t->ctl->prop->ftcs) &&
	       (!nst || fed_informer_synced(nst->fed_inf));
}

/* Whether a listed member holds a managed copy of key. */
static bool managed_somewhere(struct ftype *t, const char *key)
{
	const struct fed_map *all = members_all(t->ctl);
	struct fed_map_iter it;
	struct fed_map_entry *e;
	bool synced;

	for (e = fed_map_first(all, &it); e; e = fed_map_next(all, &it))
		if (minf_get(t, e->key, key, &synced) && synced)
			return true;
	return false;
}

/* PENDING while writes of this round are in flight (round_done ends it),
 * KEEP while the backoff holds writes or the inputs have not listed. */
enum fed_queue_result fobj_sync(struct ftype *t, const char *key)
{
	const cJSON *fed = propagate_fed_get(t, key);
	struct fobj *o = fed_map_get(&t->objs, key);
	enum fed_queue_result qr = FED_QUEUE_KEEP;
	struct sync_in si = {0};
	struct fed_prop_plan p = {0};
	struct fed_error err = FED_ERROR_INIT;
	size_t i;

	if (!fed && !o) {
		/* a managed copy with no federated object is a stray only once
		 * the host's objects have listed: look again later */
		if (!inputs_listed(t)) {
			qr = FED_QUEUE_RETRY;
			goto out;
		}
		if (!managed_somewhere(t, key) || !(o = fobj_get(t, key)))
			goto out; /* gone, and nothing of ours is left */
	}
	if (fed && (!inputs_listed(t) || !(o = fobj_get(t, key))))
		goto out;
	if (fed && !o->loaded)
		load_recs(o, fed);
	o->round = false;
	if (gather(t, o, key, fed, &si) || fed_prop_plan(&si.in, &p, &err)) {
		FED_LOG_ERR(NULL, "%s %s: planning: %s", t->cfg.federated.kind, key,
		            err.code ? err.msg : "out of memory");
		qr = FED_QUEUE_RETRY;
		goto out;
	}
	if (p.finalizer == FED_PROP_FIN_ADD)
		propagate_set_finalizer(o, fed, true);
	for (i = 0; i < p.n; i++)
		carry_out(o, fed, &si.members[i], &p.clusters[i], p.gone);
	if (!p.gone)
		conclude(o, fed, &si, &p);
	qr = o->round ? FED_QUEUE_PENDING : si.in.writes_held ? FED_QUEUE_KEEP : FED_QUEUE_DONE;
	if (p.gone) /* look again after the deletes: one may have failed */
		qr = p.remaining ? FED_QUEUE_RETRY : FED_QUEUE_DONE;
out:
	if (!fed) { /* its deletes (if any) are on their way: forget it */
		FED_LOG_DEBUG(NULL, "%s %s: gone from the host", t->cfg.federated.kind, key);
		fobj_free(fed_map_del(&t->objs, key));
		if (qr != FED_QUEUE_RETRY)
			fed_queue_forget(t->q, key);
	}
	fed_prop_plan_release(&p);
	sync_in_release(&si);
	return qr;
}
