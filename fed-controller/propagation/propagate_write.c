/* The members' side of a federated object's sync: the writes the
 * propagation plan decides (server-side applies, adoption of unmanaged
 * objects, with a GET while the member's unmanaged informer has not
 * listed, deletes and orphaning write-offs), the per-cluster records they
 * leave, Events and backoff on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "propagate_internal.h"

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
	bool ok = !o->failed;

	if (--o->inflight > 0)
		return;
	o->failed = false;
	fed_queue_done(o->t->q, o->key, ok);
	/* report, and catch up with whatever happened meanwhile */
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
	/* recoverable: the queue tries again with backoff, not in a hot loop */
	o->failed = true;
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

/* Leave the object alone (labelled managed=false, or unlabelled with
 * adoption off): look again when its label or the desired state changes. */
static void park(struct fobj *o, struct crec *r, const char *hash)
{
	r->parked_at = ev_now(o->t->ctl->loop);
	snprintf(r->parked_hash, sizeof(r->parked_hash), "%s", hash);
}

/* Start the plan's write (CREATE, UPDATE or ADOPT) of w. */
static void dispatch(struct write_ctx *w, struct fed_kube_client *c, enum fed_prop_action a)
{
	struct fobj *o = w->o;

	if (a == FED_PROP_CREATE) {
		w->is_create = true;
		FED_LOG_DEBUG(w->cluster, "%s %s: writing (absent)", o->t->cfg.target.kind, o->key);
	} else if (a == FED_PROP_ADOPT) {
		FED_LOG_INFO(w->cluster, "adopting existing %s %s", o->t->cfg.target.kind, o->key);
	} else {
		FED_LOG_DEBUG(w->cluster, "%s %s: writing (found)", o->t->cfg.target.kind, o->key);
	}
	start_apply(w, c);
}

/* The answer to the GET made when the member's unmanaged informer had not
 * listed yet: the plan decides from it as from the informer's copy. */
static void probe_done(struct fed_kube_response *resp, void *ud)
{
	struct write_ctx *w = ud;
	struct fobj *o = w->o;
	struct crec *r = propagate_crec_get(o, w->cluster);
	struct member *m = members_get(o->t->ctl, w->cluster);
	struct fed_kube_client *c = m ? member_client(m) : NULL;
	struct fed_prop_cluster pc = {.name = w->cluster};
	struct fed_prop_type type;

	w->call = NULL; /* answered: freed by the client */

	if (!c) {
		propagate_crec_set(r, "ClusterNotReady", "the cluster stopped being ready");
		goto out;
	}
	if (resp->err.code && resp->err.code != FED_ENOTFOUND) {
		failed(o, w->cluster, r, "RetrievalFailed", &resp->err);
		goto out;
	}
	propagate_plan_type(o->t, &type);
	memcpy(pc.hash, w->hash, sizeof(pc.hash));
	fed_prop_plan_found(&type, resp->err.code ? NULL : resp->json, &pc);
	if (pc.record)
		propagate_crec_set(r, fed_prop_reason_name(pc.reason), pc.message);
	if (pc.park)
		park(o, r, pc.hash);
	if (pc.action == FED_PROP_NONE)
		goto out;
	dispatch(w, c, pc.action);
	return;
out:
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
	o->round = true;
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

void propagate_write(struct fobj *o, const cJSON *fed, const struct fed_prop_cluster *pc,
                     struct fed_kube_client *c, const cJSON *existing)
{
	struct crec *r = propagate_crec_get(o, pc->name);
	struct fed_error err = FED_ERROR_INIT;
	struct write_ctx *w = NULL;

	r->written_at = r->parked_at = 0;
	/* a delete of ours answered earlier is done with: the copy written
	 * now is a new one, and taking it off later must not be skipped as
	 * already under way */
	r->deleting = false;
	if (pc->park) {
		park(o, r, pc->hash);
		return;
	}
	FED_LOG_DEBUG(pc->name, "%s %s: %s (%s, hash %.12s was %.12s, version %s)",
	              o->t->cfg.target.kind, o->key, existing ? "writing" : "placing",
	              fed_prop_action_name(pc->action), pc->hash, r->hash,
	              r->version ? r->version : "-");
	w = xcalloc(1, sizeof(*w));
	w->cluster = xstrdup(pc->name);
	w->o = o;
	memcpy(w->hash, pc->hash, sizeof(w->hash));
	if (fed_object_for_cluster(fed, &o->t->tt, pc->name, existing, &w->desired, &err)) {
		propagate_crec_set(r, "ComputeResourceFailed", err.msg);
		write_ctx_free(w);
		return;
	}
	o->inflight++;
	o->round = true;
	if (pc->action != FED_PROP_GET) {
		dispatch(w, c, pc->action);
		return;
	}
	{
		struct fed_kube_ref ref = {&o->t->target_res, fed_obj_namespace(w->desired),
		                           fed_obj_name(w->desired), NULL};
		FED_LOG_DEBUG(pc->name,
		              "%s %s: asking the member (unmanaged objects not listed yet)",
		              o->t->cfg.target.kind, o->key);
		write_track(w, c);
		if (fed_kube_get(c, &ref, probe_done, w, &w->call, &err)) {
			failed(o, pc->name, r, "RetrievalFailed", &err);
			write_ctx_free(w);
			round_done(o);
		}
	}
}
