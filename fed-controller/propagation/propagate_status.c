/* The host side of a federated object's sync (split from propagate.c,
 * which does the members' side): its status, with a record per cluster,
 * the aggregate of the members' replicas and the Propagation condition,
 * written through the status subresource only when it changed; and our
 * finalizer, added and removed with a resourceVersion guard. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fed/log.h"
#include "propagate_internal.h"

/* ---- status ------------------------------------------------------------ */

static void status_done(struct fed_kube_response *resp, void *ud)
{
	struct fobj *o = ud;
	struct fed_error err = FED_ERROR_INIT;
	bool ok = !resp->err.code || resp->err.code == FED_ENOTFOUND;

	o->status_call = NULL;
	if (!ok)
		FED_LOG_WARN(NULL, "%s %s: writing status: %s", o->t->cfg.federated.kind, o->key,
		             resp->err.msg);
	/* a newer status waiting behind this one goes out now */
	if (fed_status_writer_done(&o->status, ok, &err))
		FED_LOG_WARN(NULL, "%s %s: writing status: %s", o->t->cfg.federated.kind, o->key,
		             err.msg);
	if (!ok) /* build it again from what holds then */
		ftype_enqueue(o->t, o->key);
}

int propagate_status_write(void *ud, const char *body, struct fed_error *err)
{
	struct fobj *o = ud;
	const char *slash = strchr(o->key, '/');
	char ns[256];
	struct fed_kube_ref ref = {&o->t->fed_res, slash ? ns : NULL, slash ? slash + 1 : o->key,
	                           "status"};
	struct fed_kube_write_opts wo = {FED_MANAGER, false, false};

	snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - o->key) : 0, o->key);
	return fed_kube_patch(o->t->ctl->host, &ref, FED_PATCH_MERGE, body, &wo, status_done, o,
	                      &o->status_call, err);
}

static void add_sum(cJSON *agg, const char *field, const cJSON *st)
{
	const cJSON *v = cJSON_GetObjectItem(st, field);
	cJSON *a = cJSON_GetObjectItem(agg, field);

	if (!cJSON_IsNumber(v))
		return;
	if (a)
		cJSON_SetNumberValue(a, a->valuedouble + v->valuedouble);
	else
		cJSON_AddNumberToObject(agg, field, v->valuedouble);
}

void propagate_write_status(struct fobj *o, const cJSON *fed, const struct fed_prop_plan *p,
                            size_t n)
{
	static const char *const sums[] = {"replicas", "readyReplicas", "availableReplicas",
	                                   "updatedReplicas"};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *st = cJSON_CreateObject(), *clusters, *agg, *cond, *patch = NULL, *conds;
	const cJSON *gen = cJSON_GetObjectItem(cJSON_GetObjectItem(fed, "metadata"), "generation");
	char hash[65], now[32], *body = NULL;
	const char *prev_t = NULL;
	/* CheckClusters comes from the records written below */
	const char *reason = p->cond == FED_PROP_COND_OK || p->cond == FED_PROP_COND_CHECK_CLUSTERS
	                         ? NULL
	                         : fed_prop_cond_name(p->cond);
	const char *message = p->message[0] ? p->message : NULL;
	bool ok = !reason, synced, any_agg = false;
	struct tm tm;
	time_t t = time(NULL);
	size_t i;

	clusters = cJSON_AddArrayToObject(st, "clusters");
	agg = cJSON_CreateObject();
	for (i = 0; i < n; i++) {
		const char *name = p->clusters[i].name;
		struct crec *r = fed_map_get(&o->recs, name);
		const cJSON *existing = minf_get(o->t, name, o->key, &synced);
		cJSON *c;
		if (!p->clusters[i].placed && !(r && r->version))
			continue;
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "name", name);
		cJSON_AddStringToObject(c, "status", r && r->status ? r->status : "");
		if (r && r->message)
			cJSON_AddStringToObject(c, "message", r->message);
		if (r && r->version) {
			cJSON_AddStringToObject(c, "version", r->version);
			cJSON_AddStringToObject(c, "hash", r->hash);
		}
		if (r && r->status && *r->status)
			ok = false;
		if (existing && cJSON_GetObjectItem(existing, "status")) {
			const cJSON *rs = cJSON_GetObjectItem(existing, "status");
			if (o->t->cfg.status_collection)
				cJSON_AddItemToObject(c, "remoteStatus", cJSON_Duplicate(rs, 1));
			for (size_t k = 0; k < sizeof(sums) / sizeof(sums[0]); k++)
				add_sum(agg, sums[k], rs);
			any_agg = any_agg || cJSON_GetObjectItem(rs, "replicas");
		}
		cJSON_AddItemToArray(clusters, c);
	}
	if (any_agg) {
		cJSON_AddNumberToObject(agg, "clusters", (double)cJSON_GetArraySize(clusters));
		cJSON_AddItemToObject(st, "aggregate", agg);
	} else {
		cJSON_Delete(agg);
	}
	if (cJSON_IsNumber(gen))
		cJSON_AddNumberToObject(st, "observedGeneration", gen->valuedouble);
	conds = cJSON_AddArrayToObject(st, "conditions");
	cond = cJSON_CreateObject();
	cJSON_AddStringToObject(cond, "type", "Propagation");
	cJSON_AddStringToObject(cond, "status", ok ? "True" : "False");
	if (reason || !ok)
		cJSON_AddStringToObject(cond, "reason", reason ? reason : "CheckClusters");
	if (message)
		cJSON_AddStringToObject(cond, "message", message);
	cJSON_AddItemToArray(conds, cond);
	/* compare without times: a probe of nothing new writes nothing */
	if (fed_json_hash(st, hash) || !fed_status_writer_wants(&o->status, hash))
		goto out;
	{
		cJSON *cur = cJSON_Duplicate(cJSON_GetObjectItem(fed, "status"), 1);
		char h2[65] = "";
		const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cur, "conditions"), 0);
		const char *cur_status =
		    c0 ? cJSON_GetStringValue(cJSON_GetObjectItem(c0, "status")) : NULL;

		/* the transition time stays while the condition's status does */
		prev_t =
		    c0 ? cJSON_GetStringValue(cJSON_GetObjectItem(c0, "lastTransitionTime")) : NULL;
		prev_t = prev_t && cur_status && !strcmp(cur_status, ok ? "True" : "False")
		             ? strdup(prev_t)
		             : NULL;
		if (c0) {
			cJSON_DeleteItemFromObject((cJSON *)c0, "lastUpdateTime");
			cJSON_DeleteItemFromObject((cJSON *)c0, "lastTransitionTime");
		}
		/* first write since start: the object may already say this (later,
		 * the informer's copy may be older than our last write) */
		if (!o->status_seen && cur && !fed_json_hash(cur, h2) && !strcmp(h2, hash)) {
			o->status_seen = true;
			if (fed_status_writer_assume(&o->status, hash))
				xoom();
			cJSON_Delete(cur);
			free((char *)prev_t);
			goto out;
		}
		o->status_seen = true;
		cJSON_Delete(cur);
	}
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(cond, "lastUpdateTime", now);
	cJSON_AddStringToObject(cond, "lastTransitionTime", prev_t ? prev_t : now);
	free((char *)prev_t);
	patch = cJSON_CreateObject();
	cJSON_AddItemToObject(patch, "status", st);
	st = NULL;
	body = cJSON_PrintUnformatted(patch);
	if (!body || fed_status_writer_submit(&o->status, hash, body, &err))
		FED_LOG_WARN(NULL, "%s %s: writing status: %s", o->t->cfg.federated.kind, o->key,
		             body ? err.msg : "out of memory");
out:
	free(body);
	cJSON_Delete(patch);
	cJSON_Delete(st);
}

/* ---- finalizer --------------------------------------------------------- */

bool propagate_has_finalizer(const cJSON *fed)
{
	const cJSON *f;

	cJSON_ArrayForEach(f,
	                   cJSON_GetObjectItem(cJSON_GetObjectItem(fed, "metadata"), "finalizers"))
		if (cJSON_IsString(f) && !strcmp(f->valuestring, FED_SYNC_FINALIZER))
			return true;
	return false;
}

static void fin_done(struct fed_kube_response *resp, void *ud)
{
	/* the server's message names the object; no heap ud, which would
	 * leak if the host client went first (at shutdown) */
	if (resp->err.code && resp->err.code != FED_ENOTFOUND && resp->err.code != FED_ECONFLICT)
		FED_LOG_WARN(NULL, "%s our finalizer: %s", (const char *)ud, resp->err.msg);
}

/* add (or remove) our finalizer, guarded by resourceVersion so that
 * someone else's finalizers are never lost */
void propagate_set_finalizer(struct fobj *o, const cJSON *fed, bool add)
{
	struct fed_kube_ref ref = {&o->t->fed_res, fed_obj_namespace(fed), fed_obj_name(fed), NULL};
	struct fed_kube_write_opts wo = {FED_MANAGER, false, false};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *patch = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(patch, "metadata"),
	      *list = cJSON_AddArrayToObject(meta, "finalizers");
	const cJSON *f;
	char *body;

	cJSON_AddStringToObject(meta, "resourceVersion", fed_obj_resource_version(fed));
	cJSON_ArrayForEach(f,
	                   cJSON_GetObjectItem(cJSON_GetObjectItem(fed, "metadata"), "finalizers"))
		if (cJSON_IsString(f) && strcmp(f->valuestring, FED_SYNC_FINALIZER))
			cJSON_AddItemToArray(list, cJSON_CreateString(f->valuestring));
	if (add)
		cJSON_AddItemToArray(list, cJSON_CreateString(FED_SYNC_FINALIZER));
	body = cJSON_PrintUnformatted(patch);
	/* ud: a string literal for the log, nothing to free */
	if (!body || fed_kube_patch(o->t->ctl->host, &ref, FED_PATCH_MERGE, body, &wo, fin_done,
	                            (void *)(add ? "adding" : "removing"), NULL, &err))
		FED_LOG_WARN(NULL, "%s: %s", o->key, body ? err.msg : "out of memory");
	free(body);
	cJSON_Delete(patch);
}
