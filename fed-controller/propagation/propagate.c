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

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fobj *o = w->data;

	ftype_enqueue(o->t, o->key);
}

void fobj_free(struct fobj *o)
{
	if (!o)
		return;
	ev_timer_stop(o->t->ctl->loop, &o->retry);
	fed_kube_call_cancel(o->status_call);
	propagate_writes_cancel(o);
	fed_map_release(&o->recs, (void (*)(void *))crec_free);
	free(o->status_hash);
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
	ev_timer_init(&o->retry, retry_cb, 0., 0.);
	o->retry.data = o;
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

/* ---- placement --------------------------------------------------------- */

/* Which members the object goes to; for namespaced types only where its
 * FederatedNamespace goes (kubefed's gating). */
static int placed(struct fobj *o, const cJSON *fed, const char **names, size_t n, bool *sel,
                  const char **why, struct fed_error *err)
{
	struct fed_member_info *mi = calloc(n ? n : 1, sizeof(*mi));
	bool *nsel = NULL;
	const cJSON *fns;
	struct ftype *nst;
	const char *ns = fed_obj_namespace(fed);
	size_t i;
	int ret = 0;

	*why = NULL;
	if (!mi)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		mi[i] = (struct fed_member_info){names[i], member_labels(o->t->ctl, names[i])};
	if ((ret = fed_placement_select(
	         cJSON_GetObjectItem(cJSON_GetObjectItem(fed, "spec"), "placement"), mi, n, sel,
	         err)))
		goto out;
	if (!o->t->cfg.target.namespaced || o->t->is_namespaces)
		goto out;
	nst = types_namespaces(o->t->ctl);
	fns = nst && ns ? fed_informer_get(nst->fed_inf, ns, ns) : NULL;
	if (!fns) {
		*why = "NamespaceNotFederated";
		memset(sel, 0, n * sizeof(*sel));
		goto out;
	}
	if (!(nsel = calloc(n ? n : 1, sizeof(*nsel)))) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	if (fed_placement_select(cJSON_GetObjectItem(cJSON_GetObjectItem(fns, "spec"), "placement"),
	                         mi, n, nsel, err)) {
		fed_error_clear(err);
		memset(nsel, 0, n * sizeof(*nsel));
	}
	for (i = 0; i < n; i++)
		sel[i] = sel[i] && nsel[i];
out:
	free(nsel);
	free(mi);
	return ret;
}

/* ---- the sync ---------------------------------------------------------- */

static void stray_done(struct fed_kube_response *resp, void *ud)
{
	if (resp->err.code && resp->err.code != FED_ENOTFOUND)
		FED_LOG_WARN(resp->client, "removing a copy of a deleted object: %s",
		             resp->err.msg);
}

/* The federated object is gone but copies we wrote were not taken off
 * (it was deleted before our finalizer landed, or the finalizer was
 * removed by hand): remove them by name (we hold no other handle). */
static void remove_leftover_copies(struct fobj *o)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;
	const char *slash = strchr(o->key, '/');

	for (e = fed_map_first(&o->recs, &it); e; e = fed_map_next(&o->recs, &it)) {
		struct crec *r = e->value;
		struct member *m = members_get(o->t->ctl, e->key);
		struct fed_kube_client *c = m ? member_client(m) : NULL;
		struct fed_kube_delete_opts d = FED_KUBE_DELETE_OPTS_INIT;
		struct fed_error err = FED_ERROR_INIT;
		struct fed_kube_ref ref = {&o->t->target_res, NULL, o->key, NULL};
		const char *cluster = e->key;
		char *ns = NULL;

		if (!r->version || !c)
			continue;
		if (slash && (ns = strndup(o->key, (size_t)(slash - o->key)))) {
			ref.name = slash + 1;
			if (o->t->cfg.target.namespaced)
				ref.namespace = ns;
		}
		FED_LOG_INFO(cluster,
		             "%s %s is gone without our finalizer's help: removing our copy",
		             o->t->cfg.federated.kind, o->key);
		if (fed_kube_delete(c, &ref, &d, stray_done, NULL, NULL, &err))
			FED_LOG_WARN(cluster, "removing a copy of a deleted object: %s", err.msg);
		free(ns);
	}
}

void fobj_sync(struct ftype *t, const char *key)
{
	struct controller *ctl = t->ctl;
	const cJSON *fed = propagate_fed_get(t, key);
	struct fobj *o;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_map_iter it;
	struct fed_map_entry *e;
	const char **names = NULL, *why = NULL;
	char msg[FED_ERROR_MSG_MAX];
	bool *sel = NULL, deleting, orphan, remaining = false, synced, hold, listing = false;
	size_t n = 0, i;

	if (!fed) { /* gone from the host: our finalizer saw to the members */
		o = fed_map_get(&t->objs, key);
		FED_LOG_DEBUG(NULL, "%s %s: gone from the host%s", t->cfg.federated.kind, key,
		              o && o->inflight ? " (writes in flight)" : "");
		/* Records of copies not taken off mean the object went without
		 * our finalizer's help (deleted before it landed, or someone
		 * removed it): remove those copies, never leave them behind. */
		if (o) {
			if (o->inflight)
				return; /* round_done syncs us again */
			remove_leftover_copies(o);
		}
		fobj_free(fed_map_del(&t->objs, key));
		return;
	}
	/* before the Federation config is read, no member is known, and every
	 * cluster would look like one that left */
	if (!members_known(ctl) || !fed_informer_synced(t->fed_inf))
		return;
	/* a namespaced object is gated by its FederatedNamespace: decide only
	 * once every FTC is known and that type has listed, or a restart would
	 * take namespaces for unfederated and delete member copies */
	if (t->cfg.target.namespaced && !t->is_namespaces) {
		struct ftype *nst = types_namespaces(ctl);
		if (!fed_informer_synced(ctl->prop->ftcs) ||
		    (nst && !fed_informer_synced(nst->fed_inf)))
			return;
	}
	if (!(o = fobj_get(t, key)))
		return;
	if (o->inflight) {
		o->dirty = true;
		return;
	}
	if (!o->loaded)
		load_recs(o, fed);
	/* after a failed write, members are touched again when the backoff
	 * ends; status is still kept current */
	hold = ev_is_active(&o->retry) && o->backoff > 0;
	msg[0] = '\0';
	deleting = fed_obj_str(fed, "metadata.deletionTimestamp") != NULL;
	orphan = deleting && propagate_annotation(fed, FED_ORPHAN_ANNOTATION) &&
	         !strcmp(propagate_annotation(fed, FED_ORPHAN_ANNOTATION), "true");
	if (deleting && !propagate_has_finalizer(fed))
		return; /* someone else's finalizer holds it; nothing of ours to do */
	/* The finalizer and the first writes to members go out together:
	 * waiting for the finalizer's round trip first would double the
	 * latency of every new object. */
	if (!deleting && !propagate_has_finalizer(fed))
		propagate_set_finalizer(o, fed, true);
	n = fed_map_count(members_all(ctl));
	names = calloc(n ? n : 1, sizeof(*names));
	sel = calloc(n ? n : 1, sizeof(*sel));
	if (!names || !sel)
		goto out;
	i = 0;
	for (e = fed_map_first(members_all(ctl), &it); e && i < n;
	     e = fed_map_next(members_all(ctl), &it))
		names[i++] = e->key;
	n = i;
	if (deleting) {
		why = orphan ? NULL : "WaitingForRemoval";
	} else if (t->cfg.target.namespaced && !t->is_namespaces &&
	           fed_namespace_reserved(fed_obj_namespace(fed), ctl->o.fed_namespace)) {
		why = "NamespaceNotFederated";
		snprintf(msg, sizeof(msg), "namespace %s is never propagated",
		         fed_obj_namespace(fed));
	} else if (t->is_namespaces &&
	           fed_namespace_reserved(fed_obj_name(fed), ctl->o.fed_namespace)) {
		why = "NamespaceNotFederated";
		snprintf(msg, sizeof(msg), "namespace %s is never propagated", fed_obj_name(fed));
	} else if (t->is_namespaces &&
	           strcmp(fed_obj_name(fed),
	                  fed_obj_namespace(fed) ? fed_obj_namespace(fed) : "")) {
		why = "InvalidName";
		snprintf(msg, sizeof(msg),
		         "a FederatedNamespace must be named after its namespace: %s/%s should be "
		         "%s/%s",
		         fed_obj_namespace(fed), fed_obj_name(fed), fed_obj_namespace(fed),
		         fed_obj_namespace(fed));
	} else if (fed_overrides_validate(
	               cJSON_GetObjectItem(cJSON_GetObjectItem(fed, "spec"), "overrides"), &err)) {
		why = "ApplyOverridesFailed";
		snprintf(msg, sizeof(msg), "%s", err.msg);
	} else if (placed(o, fed, names, n, sel, &why, &err)) {
		why = "ComputePlacementFailed";
		snprintf(msg, sizeof(msg), "%s", err.msg);
	}
	if (why && strcmp(why, "WaitingForRemoval") && strcmp(why, "NamespaceNotFederated"))
		memset(sel, 0, n * sizeof(*sel)); /* a broken object changes nothing in members */
	for (i = 0; i < n; i++) {
		struct member *m = members_get(ctl, names[i]);
		struct fed_kube_client *c = member_client(m);
		const cJSON *existing = minf_get(t, names[i], key, &synced);
		struct crec *r = fed_map_get(&o->recs, names[i]);

		if (why && strcmp(why, "WaitingForRemoval") &&
		    strcmp(why, "NamespaceNotFederated") && !deleting)
			continue; /* invalid spec: leave members as they are */
		if ((c && !synced) || (m && member_connecting(m)))
			listing = true; /* not known yet: no verdict, no status */
		if (sel[i] && !deleting) {
			if (!c || !synced) {
				if ((r = propagate_crec_get(o, names[i])))
					propagate_crec_set(r, "ClusterNotReady",
					                   "the cluster is not ready");
				continue;
			}
			if (!hold)
				propagate_ensure(o, fed, names[i], c, existing);
			continue;
		}
		/* not placed here (or being deleted): remove our copy */
		if (c && synced) {
			if (existing) {
				remaining = true;
				if ((!r || !r->deleting) && !hold)
					propagate_write_off(o, fed, names[i], c, existing, orphan);
			} else if (r && r->written_at &&
			           ev_now(ctl->loop) - r->written_at < AWAIT_EVENT) {
				/* we just created it and its watch event is on its
				 * way: not gone yet, wait for it */
				remaining = true;
				if (!ev_is_active(&o->retry)) {
					ev_timer_set(&o->retry, AWAIT_EVENT, 0.);
					ev_timer_start(ctl->loop, &o->retry);
				}
			} else if (r) {
				crec_free(fed_map_del(&o->recs, names[i]));
			}
		} else if (r && r->version && !orphan) {
			/* unreachable and it holds our copy: removal waits for it */
			remaining = true;
			propagate_crec_set(r, "ClusterNotReady",
			                   "waiting for the cluster to remove its copy");
		} else if (r) {
			/* holds no copy: never blocks anything */
			crec_free(fed_map_del(&o->recs, names[i]));
		}
	}
	/* records of clusters that left the federation */
	for (e = fed_map_first(&o->recs, &it); e; e = fed_map_next(&o->recs, &it))
		if (!members_get(ctl, e->key))
			crec_free(fed_map_del(&o->recs, e->key));
	if (deleting) {
		if (!remaining && !o->inflight) {
			FED_LOG_INFO(NULL, "%s %s deleted%s", t->cfg.federated.kind, key,
			             orphan ? " (member copies orphaned)" : " from every member");
			propagate_set_finalizer(o, fed, false);
		}
		goto out;
	}
	/* a Ready member still listing would show as ClusterNotReady for a
	 * moment: report once it has listed (its sync enqueues us again) */
	if (!o->inflight && !listing)
		propagate_write_status(o, fed, names, n, sel, why, msg[0] ? msg : NULL);
out:
	free(names);
	free(sel);
}
