/* The members' side of a federated object's sync (split from
 * propagate.c, which decides what each member should hold): server-side
 * applies, adoption of unmanaged objects (with a GET while the member's
 * unmanaged informer has not listed), deletes and orphaning write-offs,
 * the per-cluster records they leave, Events and backoff on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "propagate_internal.h"

#define BACKOFF_MIN 1.0
#define BACKOFF_MAX 60.0
#define PARKED      30.0 /* seconds before looking again at an object we may not touch */

struct write_ctx {
	struct fobj *o;
	struct write_ctx *prev, *next; /* o's writes in flight (o->writes) */
	struct fed_kube_client *client;
	struct fed_kube_call *call;
	char *cluster;
	char hash[65];
	bool is_delete;
	bool is_create; /* apply after a 404: reported as a creation */
	bool orphan;    /* a write-off that only drops the managed label */
	cJSON *desired; /* kept for the adoption GET */
};

/* "gen:N" when the object has a generation (status churn leaves it
 * alone), else "rv:N" (kubefed's rule). */
static void version_of(const cJSON *obj, char *buf, size_t n)
{
	const cJSON *g = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "generation");
	const char *rv = fed_obj_resource_version(obj);

	if (cJSON_IsNumber(g) && g->valuedouble > 0)
		snprintf(buf, n, "gen:%.0f", g->valuedouble);
	else
		snprintf(buf, n, "rv:%s", rv ? rv : "");
}

/* Whether the informer's copy is older than what our last write
 * returned. resourceVersions are opaque to clients in principle; every
 * apiserver backed by etcd hands out increasing integers, and reading
 * them so avoids re-applying an object merely because its watch event has
 * not arrived yet. Anything unparsable counts as "not older". */
static bool older_than(const char *have, const char *recorded)
{
	char *e1, *e2;
	unsigned long long a, b;

	const char *ha = have ? strchr(have, ':') : NULL,
	           *hb = recorded ? strchr(recorded, ':') : NULL;

	/* same kind ("gen:" or "rv:") and a number after the colon */
	if (!ha || !hb || ha - have != hb - recorded ||
	    strncmp(have, recorded, (size_t)(ha - have)))
		return false;
	a = strtoull(ha + 1, &e1, 10);
	b = strtoull(hb + 1, &e2, 10);
	return e1 != ha + 1 && e2 != hb + 1 && !*e1 && !*e2 && a < b;
}

static void fed_event(struct fobj *o, const cJSON *fed, bool warning, const char *reason,
                      const char *fmt, const char *cluster, const char *detail)
{
	struct controller_event_target tg = {o->t->fed_api_version, o->t->cfg.federated.kind,
	                                     fed_obj_namespace(fed) ? fed_obj_namespace(fed)
	                                                            : o->t->ctl->o.fed_namespace,
	                                     fed_obj_name(fed), fed_obj_str(fed, "metadata.uid")};
	char msg[FED_ERROR_MSG_MAX + 256];

	snprintf(msg, sizeof(msg), fmt, cluster, detail ? detail : "");
	controller_event(o->t->ctl, &tg, warning, reason, msg);
}

/* ---- writes ------------------------------------------------------------ */

/* A write in flight is on its object's list, so that a member client freed
 * under it (the cluster left) or the object freed (shutdown) can end it:
 * a freed client drops its calls without calling back. */
static void write_track(struct write_ctx *w, struct fed_kube_client *c)
{
	w->client = c;
	if (w->prev || w->next || w->o->writes == w)
		return;
	w->next = w->o->writes;
	if (w->next)
		w->next->prev = w;
	w->o->writes = w;
}

static void write_ctx_free(struct write_ctx *w)
{
	if (!w)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else if (w->o && w->o->writes == w)
		w->o->writes = w->next;
	if (w->next)
		w->next->prev = w->prev;
	cJSON_Delete(w->desired);
	free(w->cluster);
	free(w);
}

static void round_done(struct fobj *o)
{
	if (--o->inflight > 0)
		return;
	/* report, and catch up with whatever happened meanwhile */
	o->dirty = false;
	ftype_enqueue(o->t, o->key);
}

void propagate_writes_cancel(struct fobj *o)
{
	while (o->writes) {
		fed_kube_call_cancel(o->writes->call);
		write_ctx_free(o->writes);
	}
}

void fobj_client_gone(struct fobj *o, struct fed_kube_client *c)
{
	struct write_ctx *w = o->writes, *next;

	for (; w; w = next) {
		struct crec *r;

		next = w->next;
		if (w->client != c)
			continue;
		fed_kube_call_cancel(w->call);
		if ((r = fed_map_get(&o->recs, w->cluster)))
			r->deleting = false;
		write_ctx_free(w);
		round_done(o);
	}
}

static void failed(struct fobj *o, const char *cluster, struct crec *r, const char *status,
                   const struct fed_error *e)
{
	const cJSON *fed = propagate_fed_get(o->t, o->key);

	propagate_crec_set(r, status, e->msg);
	if (fed) {
		char reason[64];
		snprintf(reason, sizeof(reason), "%sInClusterFailed",
		         !strcmp(status, "CreationFailed")   ? "Create"
		         : !strcmp(status, "DeletionFailed") ? "Delete"
		                                             : "Update");
		fed_event(o, fed, true, reason, "cluster %s: %s", cluster, e->msg);
	}
	/* recoverable: try again with backoff, not in a hot loop */
	o->backoff = o->backoff ? o->backoff * 2 : BACKOFF_MIN;
	if (o->backoff > BACKOFF_MAX)
		o->backoff = BACKOFF_MAX;
	ev_timer_stop(o->t->ctl->loop, &o->retry);
	ev_timer_set(&o->retry, o->backoff, 0.);
	ev_timer_start(o->t->ctl->loop, &o->retry);
}

static void apply_done(struct fed_kube_response *resp, void *ud)
{
	struct write_ctx *w = ud;
	struct fobj *o = w->o;
	struct crec *r = propagate_crec_get(o, w->cluster);
	char v[64];

	w->call = NULL; /* answered: freed by the client */

	if (r && !resp->err.code) {
		version_of(resp->json, v, sizeof(v));
		controller_set_str(&r->version, v);
		memcpy(r->hash, w->hash, sizeof(r->hash));
		propagate_crec_set(r, "", NULL);
		r->written_at = ev_now(o->t->ctl->loop);
		o->backoff = 0;
		FED_LOG_DEBUG(w->cluster, "%s %s %s (%s)", w->is_create ? "created" : "updated",
		              o->t->cfg.target.kind, o->key, v);
	} else if (r) {
		failed(o, w->cluster, r, w->is_create ? "CreationFailed" : "UpdateFailed",
		       &resp->err);
		FED_LOG_WARN(w->cluster, "%s %s %s: %s", w->is_create ? "creating" : "updating",
		             o->t->cfg.target.kind, o->key, resp->err.msg);
	}
	write_ctx_free(w);
	round_done(o);
}

static void start_apply(struct write_ctx *w, struct fed_kube_client *c)
{
	struct fed_kube_ref ref = {&w->o->t->target_res, fed_obj_namespace(w->desired),
	                           fed_obj_name(w->desired), NULL};
	struct fed_kube_write_opts wo = {FED_MANAGER, true, false};
	struct fed_error err = FED_ERROR_INIT;
	struct crec *r = propagate_crec_get(w->o, w->cluster);
	char *body;

	/* no resourceVersion: apply is not a compare-and-swap here */
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(w->desired, "metadata"), "resourceVersion");
	body = cJSON_PrintUnformatted(w->desired);
	write_track(w, c);
	if (!body ||
	    fed_kube_patch(c, &ref, FED_PATCH_APPLY, body, &wo, apply_done, w, &w->call, &err)) {
		if (!err.code)
			fed_error_set(&err, FED_ENOMEM, "out of memory");
		if (r)
			failed(w->o, w->cluster, r, "UpdateFailed", &err);
		round_done(w->o);
		write_ctx_free(w);
	}
	free(body);
}

/* The object is not among the member's managed ones: write it when it is
 * absent (found NULL); when an unmanaged one is in the way, adopt it, or
 * leave it alone when it is labelled false or adoption is off. found is
 * the member's object or just its metadata. */
static void decide(struct write_ctx *w, struct fed_kube_client *c, const cJSON *found)
{
	struct fobj *o = w->o;
	struct crec *r = propagate_crec_get(o, w->cluster);
	struct fed_error e = FED_ERROR_INIT;

	if (!r)
		goto done;
	if (!found) {
		w->is_create = true;
		FED_LOG_DEBUG(w->cluster, "%s %s: writing (absent)", o->t->cfg.target.kind, o->key);
		start_apply(w, c);
		return;
	}
	switch (fed_managed_state(found)) {
	case FED_MANAGED_FALSE:
		r->parked_at = ev_now(o->t->ctl->loop);
		memcpy(r->parked_hash, w->hash, sizeof(w->hash));
		propagate_crec_set(
		    r, "ManagedLabelFalse",
		    "the object in the member is labelled kubefed.io/managed=false: fed "
		    "leaves it alone");
		goto done;
	case FED_MANAGED_NONE:
		if (!o->t->ctl->o.adopt) {
			fed_error_set(&e, FED_EEXISTS,
			              "the object already exists in the member and adoption is off "
			              "(--adopt-resources=false): delete it there or label it "
			              "kubefed.io/managed=true");
			propagate_crec_set(r, "AlreadyExists", e.msg);
			r->parked_at = ev_now(o->t->ctl->loop);
			memcpy(r->parked_hash, w->hash, sizeof(w->hash));
			goto done;
		}
		FED_LOG_INFO(w->cluster, "adopting existing %s %s", o->t->cfg.target.kind, o->key);
		break;
	case FED_MANAGED_YES:
		break;
	}
	FED_LOG_DEBUG(w->cluster, "%s %s: writing (found)", o->t->cfg.target.kind, o->key);
	start_apply(w, c);
	return;
done:
	write_ctx_free(w);
	round_done(o);
}

/* The answer to the GET made when the member's unmanaged informer had not
 * listed yet. */
static void probe_done(struct fed_kube_response *resp, void *ud)
{
	struct write_ctx *w = ud;
	struct fobj *o = w->o;
	struct crec *r = propagate_crec_get(o, w->cluster);
	struct member *m = members_get(o->t->ctl, w->cluster);
	struct fed_kube_client *c = m ? member_client(m) : NULL;

	w->call = NULL; /* answered: freed by the client */

	if (!r || !c) {
		if (r)
			propagate_crec_set(r, "ClusterNotReady", "the cluster stopped being ready");
		goto done;
	}
	if (resp->err.code == FED_ENOTFOUND) {
		decide(w, c, NULL);
		return;
	}
	if (resp->err.code) {
		failed(o, w->cluster, r, "RetrievalFailed", &resp->err);
		goto done;
	}
	decide(w, c, resp->json);
	return;
done:
	write_ctx_free(w);
	round_done(o);
}

static void delete_done(struct fed_kube_response *resp, void *ud)
{
	struct write_ctx *w = ud;
	struct fobj *o = w->o;
	struct crec *r = propagate_crec_get(o, w->cluster);

	w->call = NULL; /* answered: freed by the client */

	if (r && resp->err.code && resp->err.code != FED_ENOTFOUND) {
		r->deleting = false;
		failed(o, w->cluster, r, "DeletionFailed", &resp->err);
	} else {
		if (r) { /* taken off: no copy of ours is left there to wait for */
			r->written_at = 0;
			free(r->version);
			r->version = NULL;
		}
		FED_LOG_DEBUG(w->cluster, "%s %s %s", w->orphan ? "released" : "deleted",
		              o->t->cfg.target.kind, o->key);
	}
	write_ctx_free(w);
	round_done(o);
}

static const char *delete_policy(const cJSON *fed)
{
	const char *opt = propagate_annotation(fed, FED_DELETEOPTION_ANNOTATION);
	static char policy[32];
	cJSON *j;

	if (!opt || !(j = cJSON_Parse(opt)))
		return "Background";
	snprintf(policy, sizeof(policy), "%s",
	         cJSON_GetStringValue(cJSON_GetObjectItem(j, "propagationPolicy"))
	             ? cJSON_GetStringValue(cJSON_GetObjectItem(j, "propagationPolicy"))
	             : "Background");
	cJSON_Delete(j);
	return policy;
}

/* Take our copy out of a cluster: delete it, or with kubefed.io/orphan
 * leave it and only drop the managed label (kubefed's orphaning). */
void propagate_write_off(struct fobj *o, const cJSON *fed, const char *cluster,
                         struct fed_kube_client *c, const cJSON *existing, bool orphan)
{
	struct fed_kube_ref ref = {&o->t->target_res, fed_obj_namespace(existing),
	                           fed_obj_name(existing), NULL};
	struct fed_kube_delete_opts d = FED_KUBE_DELETE_OPTS_INIT;
	struct fed_kube_write_opts wo = {FED_MANAGER, false, false};
	struct fed_error err = FED_ERROR_INIT;
	struct write_ctx *w = xcalloc(1, sizeof(*w));
	struct crec *r = propagate_crec_get(o, cluster);
	int ret;

	w->cluster = xstrdup(cluster);
	w->o = o;
	w->is_delete = true;
	w->orphan = orphan;
	r->deleting = true;
	propagate_crec_set(r, "WaitingForRemoval", NULL);
	o->inflight++;
	write_track(w, c);
	if (orphan) {
		ret = fed_kube_patch(c, &ref, FED_PATCH_MERGE,
		                     "{\"metadata\":{\"labels\":{\"" FED_MANAGED_LABEL "\":null}}}",
		                     &wo, delete_done, w, &w->call, &err);
	} else {
		d.precondition_uid = fed_obj_str(existing, "metadata.uid");
		d.propagation_policy = delete_policy(fed);
		ret = fed_kube_delete(c, &ref, &d, delete_done, w, &w->call, &err);
	}
	if (ret) {
		r->deleting = false;
		failed(o, cluster, r, orphan ? "LabelRemovalFailed" : "DeletionFailed", &err);
		write_ctx_free(w);
		round_done(o);
	}
}

/* Create or update the object in one Ready cluster. */
void propagate_ensure(struct fobj *o, const cJSON *fed, const char *cluster,
                      struct fed_kube_client *c, const cJSON *existing)
{
	struct crec *r = propagate_crec_get(o, cluster);
	struct fed_error err = FED_ERROR_INIT;
	struct write_ctx *w = NULL;
	const cJSON *um = NULL;
	bool usynced = false;
	char hash[65], v[64];

	if (fed_desired_hash(fed, &o->t->tt, cluster, hash, &err)) {
		propagate_crec_set(r, "ApplyOverridesFailed", err.msg);
		return;
	}
	if (existing) {
		r->written_at = 0; /* its event arrived */
		version_of(existing, v, sizeof(v));
		if (!strcmp(hash, r->hash) && r->version &&
		    (!strcmp(v, r->version) || older_than(v, r->version))) {
			if (!r->status || strcmp(r->status, "") != 0)
				propagate_crec_set(r, "", NULL);
			return; /* as we left it (or our write's event is on its way) */
		}
	} else if ((um = minf_get_unmanaged(o->t, cluster, o->key, &usynced)) && usynced &&
	           fed_managed_state(um) == FED_MANAGED_FALSE && r->parked_at &&
	           !strcmp(hash, r->parked_hash)) {
		return; /* still labelled false: its next label change wakes us */
	} else if (!usynced && r->parked_at && ev_now(o->t->ctl->loop) - r->parked_at < PARKED &&
	           !strcmp(hash, r->parked_hash)) {
		/* not ours to touch, and the unmanaged informer has not
		 * listed yet to tell us when its label changes: look again later */
		if (!ev_is_active(&o->retry)) {
			ev_timer_set(&o->retry, PARKED, 0.);
			ev_timer_start(o->t->ctl->loop, &o->retry);
		}
		return;
	} else if (r->written_at && ev_now(o->t->ctl->loop) - r->written_at < AWAIT_EVENT &&
	           !strcmp(hash, r->hash)) {
		/* just written: its watch event has not arrived yet; look again
		 * later in case it never does (created and deleted at once) */
		if (!ev_is_active(&o->retry)) {
			ev_timer_set(&o->retry, AWAIT_EVENT, 0.);
			ev_timer_start(o->t->ctl->loop, &o->retry);
		}
		return;
	}
	r->written_at = r->parked_at = 0;
	FED_LOG_DEBUG(cluster, "%s %s: %s (hash %.12s was %.12s, version %s was %s)",
	              o->t->cfg.target.kind, o->key, existing ? "writing" : "placing", hash,
	              r->hash, existing ? v : "-", r->version ? r->version : "-");
	w = xcalloc(1, sizeof(*w));
	w->cluster = xstrdup(cluster);
	w->o = o;
	memcpy(w->hash, hash, sizeof(hash));
	if (fed_object_for_cluster(fed, &o->t->tt, cluster, existing, &w->desired, &err)) {
		propagate_crec_set(r, "ComputeResourceFailed", err.msg);
		write_ctx_free(w);
		return;
	}
	o->inflight++;
	if (existing) {
		start_apply(w, c);
		return;
	}
	if (usynced) {
		/* An object created in the member a moment ago may not be in
		 * the store yet; then the apply adopts it, as a GET an instant
		 * earlier would have missed it too. */
		decide(w, c, um);
		return;
	}
	{
		struct fed_kube_ref ref = {&o->t->target_res, fed_obj_namespace(w->desired),
		                           fed_obj_name(w->desired), NULL};
		FED_LOG_DEBUG(cluster,
		              "%s %s: asking the member (unmanaged objects not listed yet)",
		              o->t->cfg.target.kind, o->key);
		write_track(w, c);
		if (fed_kube_get(c, &ref, probe_done, w, &w->call, &err)) {
			failed(o, cluster, r, "RetrievalFailed", &err);
			write_ctx_free(w);
			round_done(o);
		}
	}
}
