/* ReplicaSchedulingPreference status and Events: the plan per member
 * with the planner's reasons and one Scheduled condition, written through
 * the status subresource only when it changed; Events once per new plan
 * or distinct problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "rsp_internal.h"

/* ---- Events ------------------------------------------------------------ */

void rsp_event(struct rsp_ctl *rc, const cJSON *obj, bool warning, const char *reason,
               const char *msg)
{
	struct controller_event_target tg = {FED_RSP_API_VERSION, FED_RSP_KIND,
	                                     fed_obj_namespace(obj), fed_obj_name(obj),
	                                     fed_obj_str(obj, "metadata.uid")};

	controller_event(rc->ctl, &tg, warning, reason, msg);
}

void rsp_problem(struct rsp *r, const cJSON *obj, const char *reason, const char *msg)
{
	if (r->problem && !strcmp(r->problem, msg))
		return;
	controller_set_str(&r->problem, msg);
	FED_LOG_WARN(NULL, "ReplicaSchedulingPreference %s: %s", r->key, msg);
	rsp_event(r->rc, obj, true, reason, msg);
}

/* ---- status ------------------------------------------------------------ */

static void status_done(struct fed_kube_response *resp, void *ud)
{
	struct rsp *r = ud;
	struct fed_error err = FED_ERROR_INIT;
	bool ok = !resp->err.code || resp->err.code == FED_ENOTFOUND;

	r->status_call = NULL;
	if (!ok)
		FED_LOG_WARN(NULL, "ReplicaSchedulingPreference %s: writing status: %s", r->key,
		             resp->err.msg);
	if (fed_status_writer_done(&r->status, ok, &err))
		FED_LOG_WARN(NULL, "ReplicaSchedulingPreference %s: writing status: %s", r->key,
		             err.msg);
}

int rsp_status_write(void *ud, const char *body, struct fed_error *err)
{
	struct rsp *r = ud;
	const char *slash = strchr(r->key, '/');
	char ns[256];
	struct fed_kube_ref ref = {&rsp_resource, ns, slash ? slash + 1 : r->key, "status"};
	struct fed_kube_write_opts wo = {FED_MANAGER, false, false};

	snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - r->key) : 0, r->key);
	return fed_kube_patch(r->rc->ctl->host, &ref, FED_PATCH_MERGE, body, &wo, status_done, r,
	                      &r->status_call, err);
}

void rsp_write_status(struct rsp *r, const cJSON *obj, struct result *res)
{
	struct fed_error err = FED_ERROR_INIT;
	const cJSON *gen = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "generation");
	cJSON *patch = cJSON_CreateObject(), *st, *conds, *cond;
	char hash[65], *body = NULL;

	st = cJSON_AddObjectToObject(patch, "status");
	if (cJSON_IsNumber(gen))
		cJSON_AddNumberToObject(st, "observedGeneration", gen->valuedouble);
	if (res->clusters) {
		cJSON_AddItemToObject(st, "clusters", res->clusters);
		res->clusters = NULL;
		cJSON_AddNumberToObject(st, "unplacedReplicas", (double)res->unplaced);
	}
	conds = cJSON_AddArrayToObject(st, "conditions");
	cond = cJSON_CreateObject();
	cJSON_AddStringToObject(cond, "type", "Scheduled");
	cJSON_AddStringToObject(cond, "status", res->reason ? "False" : "True");
	cJSON_AddStringToObject(cond, "reason",
	                        res->reason   ? res->reason
	                        : res->moving ? "Moving"
	                                      : "Scheduled");
	cJSON_AddStringToObject(cond, "message", res->message);
	cJSON_AddItemToArray(conds, cond);
	if (fed_json_hash(st, hash) || !fed_status_writer_wants(&r->status, hash))
		goto out;
	if (!r->status_seen) {
		/* first look since start: the object may already say this */
		cJSON *cur = cJSON_Duplicate(cJSON_GetObjectItem(obj, "status"), 1);
		char h2[65];
		bool same = cur && !fed_json_hash(cur, h2) && !strcmp(h2, hash);

		cJSON_Delete(cur);
		r->status_seen = true;
		if (same) {
			if (fed_status_writer_assume(&r->status, hash))
				FED_LOG_ERR(NULL, "ReplicaSchedulingPreference %s: out of memory",
				            r->key);
			goto out;
		}
	}
	if (!cJSON_GetObjectItem(st, "clusters")) { /* a merge patch removes with null */
		cJSON_AddNullToObject(st, "clusters");
		cJSON_AddNullToObject(st, "unplacedReplicas");
	}
	body = cJSON_PrintUnformatted(patch);
	if (!body || fed_status_writer_submit(&r->status, hash, body, &err))
		FED_LOG_WARN(NULL, "ReplicaSchedulingPreference %s: writing status: %s", r->key,
		             body ? err.msg : "out of memory");
out:
	free(body);
	cJSON_Delete(patch);
}

void rsp_cluster_status(cJSON *arr, const struct fed_rsp_cluster_out *o, int64_t applied,
                        bool offline)
{
	cJSON *c = cJSON_CreateObject();

	cJSON_AddStringToObject(c, "name", o->name);
	cJSON_AddNumberToObject(c, "replicas", (double)o->replicas);
	if (o->overflow)
		cJSON_AddNumberToObject(c, "overflow", (double)o->overflow);
	cJSON_AddNumberToObject(c, "applied", (double)applied);
	if (offline)
		cJSON_AddBoolToObject(c, "offline", true);
	cJSON_AddStringToObject(c, "reason", o->reason);
	cJSON_AddItemToArray(arr, c);
}

/* The plan the RSP's status shows (the Scheduled condition's message up
 * to "; "): announced before a restart, so not announced again. */
char *rsp_announced(const cJSON *obj)
{
	const cJSON *c;

	cJSON_ArrayForEach(c,
	                   cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "status"), "conditions")) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(c, "type"));
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(c, "message"));
		const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(c, "status"));

		if (type && msg && status && !strcmp(type, "Scheduled") && !strcmp(status, "True"))
			return strndup(msg, strcspn(msg, ";"));
	}
	return NULL;
}

/* Plan one RSP against its target; write the target when it differs. */
