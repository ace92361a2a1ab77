/* ReplicaSchedulingPreferences: plan each RSP and write the plan into its
 * target's placement and /spec/replicas overrides (kubefed's scheduling
 * controller). Level-triggered: a sync reads the RSP, the target, the
 * members' readiness and their objects as they are now, and writes only
 * what differs, so a restart converges without writes.
 *
 * Beyond kubefed: a cluster not ready for --rsp-offline-grace loses its
 * share but keeps what it runs (its placement and override stay), and
 * replicas only leave a cluster once as many are available elsewhere
 * (fed_rsp_step), so moving them never costs availability. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "rsp_internal.h"

#define DEBOUNCE 0.05

const struct fed_kube_resource rsp_resource = {"scheduling.kubefed.io", "v1alpha1",
                                               "replicaschedulingpreferences", true};

static void rsp_free(struct rsp *r)
{
	if (!r)
		return;
	fed_kube_call_cancel(r->write);
	fed_kube_call_cancel(r->status_call);
	fed_status_writer_release(&r->status);
	fed_map_release(&r->seen, free);
	free(r->writing_rv);
	free(r->stale_rv);
	free(r->plan_summary);
	free(r->problem);
	free(r->key);
	free(r);
}

void rsp_enqueue(struct rsp_ctl *rc, const char *key)
{
	if (key && fed_queue_add(rc->q, key))
		FED_LOG_ERR(NULL, "ReplicaSchedulingPreference %s: out of memory queueing it", key);
}

static void enqueue_all(struct rsp_ctl *rc)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	for (e = fed_map_first(fed_informer_store(rc->inf), &it); e;
	     e = fed_map_next(fed_informer_store(rc->inf), &it))
		rsp_enqueue(rc, e->key);
}

static struct rsp *rsp_get(struct rsp_ctl *rc, const char *key)
{
	struct rsp *r = fed_map_get(&rc->items, key);

	if (r)
		return r;
	if (!(r = calloc(1, sizeof(*r))) || !(r->key = strdup(key))) {
		free(r);
		return NULL;
	}
	r->rc = rc;
	fed_map_init(&r->seen);
	fed_status_writer_init(&r->status, rsp_status_write, r);
	if (fed_map_put(&rc->items, key, r, NULL)) {
		rsp_free(r);
		return NULL;
	}
	return r;
}

/* Arm the wake-up for the earliest deadline (0: none). */
static void wake_at(struct rsp_ctl *rc, double when)
{
	double now = ev_now(rc->ctl->loop), left = when - now + 0.05;

	if (when <= 0)
		return;
	if (left < 0.05)
		left = 0.05;
	if (ev_is_active(&rc->wake) && ev_timer_remaining(rc->ctl->loop, &rc->wake) <= left)
		return;
	ev_timer_stop(rc->ctl->loop, &rc->wake);
	ev_timer_set(&rc->wake, left, 0.);
	ev_timer_start(rc->ctl->loop, &rc->wake);
}

/* ---- writing the target ------------------------------------------------ */

static void write_done(struct fed_kube_response *resp, void *ud)
{
	struct rsp *r = ud;
	const cJSON *obj = fed_map_get(fed_informer_store(r->rc->inf), r->key);

	bool ok = !resp->err.code || resp->err.code == FED_ECONFLICT;

	r->write = NULL;
	if (!resp->err.code) {
		/* until the informer shows our write, its copy is older: wait */
		controller_set_str(&r->stale_rv, r->writing_rv);
	} else if (resp->err.code != FED_ECONFLICT) {
		char msg[FED_ERROR_MSG_MAX + 64];
		snprintf(msg, sizeof(msg), "writing the plan into the target: %s", resp->err.msg);
		if (obj)
			rsp_problem(r, obj, "UpdateFailed", msg);
	}
	controller_set_str(&r->writing_rv, NULL);
	fed_queue_done(r->rc->q, r->key, ok);
	if (resp->err.code == FED_ECONFLICT) {
		/* someone changed it meanwhile: plan again from the newer copy */
		FED_LOG_DEBUG(NULL, "ReplicaSchedulingPreference %s: target changed meanwhile",
		              r->key);
		if (fed_queue_add_after(r->rc->q, r->key, 0.2))
			FED_LOG_ERR(NULL,
			            "ReplicaSchedulingPreference %s: out of memory queueing it",
			            r->key);
	}
}

/* FED_QUEUE_PENDING once the write is on its way, FED_QUEUE_RETRY when it
 * could not start. */
static enum fed_queue_result write_target(struct rsp *r, struct ftype *t, const cJSON *fed,
                                          const cJSON *patch)
{
	struct fed_kube_ref ref = {&t->fed_res, fed_obj_namespace(fed), fed_obj_name(fed), NULL};
	struct fed_kube_write_opts wo = {FED_MANAGER, false, false};
	struct fed_error err = FED_ERROR_INIT;
	const char *rv = fed_obj_resource_version(fed);
	char *body = cJSON_PrintUnformatted(patch);
	enum fed_queue_result qr = FED_QUEUE_RETRY;

	controller_set_str(&r->writing_rv, rv ? rv : "");
	if (!body || !r->writing_rv) {
		fed_error_set(&err, FED_ENOMEM, "out of memory");
		goto out;
	}
	FED_LOG_DEBUG(NULL, "ReplicaSchedulingPreference %s: patching %s: %s", r->key,
	              t->cfg.federated.kind, body);
	if (fed_kube_patch(r->rc->ctl->host, &ref, FED_PATCH_MERGE, body, &wo, write_done, r,
	                   &r->write, &err))
		goto out;
	qr = FED_QUEUE_PENDING;
out:
	if (qr == FED_QUEUE_RETRY)
		FED_LOG_WARN(NULL, "ReplicaSchedulingPreference %s: %s", r->key, err.msg);
	free(body);
	return qr;
}

/* ---- the sync ---------------------------------------------------------- */

static struct ftype *target_type(struct controller *ctl, enum fed_rsp_target_kind k)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;
	const char *kind = fed_rsp_target_kind_name(k);

	if (!ctl->prop)
		return NULL;
	for (e = fed_map_first(&ctl->prop->types, &it); e;
	     e = fed_map_next(&ctl->prop->types, &it)) {
		struct ftype *t = e->value;
		if (!strcmp(t->cfg.federated.kind, kind))
			return t;
	}
	return NULL;
}

static struct seen *seen_get(struct rsp *r, const char *cluster)
{
	struct seen *s = fed_map_get(&r->seen, cluster);

	if (s)
		return s;
	if (!(s = calloc(1, sizeof(*s))))
		return NULL;
	s->obs.current = s->obs.capacity = s->last_current = -1;
	if (fed_map_put(&r->seen, cluster, s, NULL)) {
		free(s);
		return NULL;
	}
	return s;
}

/* Not ready for longer than the grace period: offline. Tracks since when. */
static bool cluster_offline(struct rsp_ctl *rc, struct member *m, const char *name)
{
	double now = ev_now(rc->ctl->loop), *since = fed_map_get(&rc->down_since, name);

	if (member_client(m) || member_connecting(m)) {
		free(fed_map_del(&rc->down_since, name));
		return false;
	}
	if (!since) {
		if (!(since = malloc(sizeof(*since))) ||
		    fed_map_put(&rc->down_since, name, since, NULL)) {
			free(since);
			return false;
		}
		*since = now;
	}
	if (now - *since >= rc->ctl->o.rsp_offline_grace)
		return true;
	wake_at(rc, *since + rc->ctl->o.rsp_offline_grace);
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Placement as it is now, the selector-only one intersect uses, and
 * where the target's namespace goes (a namespaced target runs only where
 * its FederatedNamespace places the namespace: elsewhere it is barred). */
static int placements(const cJSON *fed, const char **names, size_t n, struct controller *ctl,
                      bool *placed, bool *selected, bool *barred, struct fed_error *err)
{
	const cJSON *pl = cJSON_GetObjectItem(cJSON_GetObjectItem(fed, "spec"), "placement");
	struct ftype *nst = types_namespaces(ctl);
	const char *ns = fed_obj_namespace(fed);
	const cJSON *fns = nst && ns ? fed_informer_get(nst->fed_inf, ns, ns) : NULL;
	struct fed_error nerr = FED_ERROR_INIT;
	struct fed_member_info *mi = calloc(n + 1, sizeof(*mi));
	cJSON *sel_only = cJSON_CreateObject();
	const cJSON *cs = cJSON_GetObjectItem(pl, "clusterSelector");
	size_t i;
	int ret;

	if (!mi || !sel_only) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		mi[i] = (struct fed_member_info){names[i], member_labels(ctl, names[i])};
	if (cs)
		cJSON_AddItemToObject(sel_only, "clusterSelector", cJSON_Duplicate(cs, 1));
	if ((ret = fed_placement_select(pl, mi, n, placed, err)) ||
	    (ret = fed_placement_select(sel_only, mi, n, selected, err)))
		goto out;
	for (i = 0; i < n; i++)
		barred[i] = false;
	if (ns && nst) {
		/* no FederatedNamespace, or one with a bad placement: the
		 * namespace goes nowhere (its own sync says why) */
		if (!fns || fed_placement_select(
		                cJSON_GetObjectItem(cJSON_GetObjectItem(fns, "spec"), "placement"),
		                mi, n, barred, &nerr))
			memset(barred, 0, n * sizeof(*barred));
		for (i = 0; i < n; i++)
			barred[i] = !barred[i];
	}
out:
	cJSON_Delete(sel_only);
	free(mi);
	return ret;
}

/* What the queue should do next: PENDING (the target is being written),
 * KEEP (a write is held by the backoff), RETRY or DONE. */
static enum fed_queue_result plan(struct rsp *r, const cJSON *obj, const struct fed_rsp_spec *spec,
                                  struct ftype *t, const cJSON *fed, struct result *res)
{
	enum fed_queue_result qr = FED_QUEUE_DONE;
	struct rsp_ctl *rc = r->rc;
	struct controller *ctl = rc->ctl;
	size_t n = fed_map_count(members_all(ctl)), i = 0;
	const char **names = calloc(n + 1, sizeof(*names));
	bool *placed = calloc(n + 1, sizeof(*placed)), *selected = calloc(n + 1, sizeof(*selected)),
	     *barred = calloc(n + 1, sizeof(*barred));
	struct fed_rsp_cluster_in *in = calloc(n + 1, sizeof(*in));
	struct fed_rsp_cluster_out *out = calloc(n + 1, sizeof(*out));
	struct fed_rsp_step_in *step = calloc(n + 1, sizeof(*step));
	struct fed_rsp_assign *as = calloc(n + 1, sizeof(*as));
	int64_t *now_ask = calloc(n + 1, sizeof(*now_ask));
	struct fed_error err = FED_ERROR_INIT;
	struct fed_map_iter it;
	struct fed_map_entry *e;
	struct fed_buf summary = FED_BUF_INIT;
	cJSON *patch = NULL;
	double now = ev_now(ctl->loop);
	bool synced;

	if (!names || !placed || !selected || !barred || !in || !out || !step || !as || !now_ask) {
		res->reason = "InternalError";
		snprintf(res->message, sizeof(res->message), "out of memory");
		goto out;
	}
	for (e = fed_map_first(members_all(ctl), &it); e && i < n;
	     e = fed_map_next(members_all(ctl), &it))
		names[i++] = e->key;
	n = i;
	qsort(names, n, sizeof(*names), cmp_str); /* a deterministic step */
	if (placements(fed, names, n, ctl, placed, selected, barred, &err)) {
		res->reason = "TargetInvalid";
		snprintf(res->message, sizeof(res->message), "the target's placement: %s", err.msg);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct member *m = members_get(ctl, names[i]);
		struct seen *s = seen_get(r, names[i]);
		const cJSON *mo = member_client(m) ? minf_get(t, names[i], r->key, &synced) : NULL;

		if (!s) {
			res->reason = "InternalError";
			snprintf(res->message, sizeof(res->message), "out of memory");
			goto out;
		}
		if (member_client(m) && synced) {
			fed_rsp_observe(mo, now, ctl->o.rsp_unschedulable_threshold, &s->obs);
			s->last_current = s->obs.current;
			wake_at(rc, s->obs.recheck_at);
		}
		in[i].name = names[i];
		in[i].selected = selected[i];
		in[i].barred = barred[i];
		in[i].offline = cluster_offline(rc, m, names[i]);
		in[i].keep_offline = true;
		/* unwatched (not ready, or still listing): what we saw last */
		in[i].current = s->last_current;
		in[i].capacity = member_client(m) && synced ? s->obs.capacity : -1;
		step[i].asked = fed_rsp_asked(fed, names[i], placed[i]);
		step[i].available = member_client(m) && synced ? s->obs.current : -1;
	}
	if (fed_rsp_plan(spec, in, n, out, &res->unplaced, &err)) {
		res->reason = "InvalidSpec";
		snprintf(res->message, sizeof(res->message), "%s", err.msg);
		goto out;
	}
	for (i = 0; i < n; i++) {
		step[i].target = out[i].replicas + out[i].overflow;
		step[i].keep = out[i].keep;
	}
	fed_rsp_step(step, n, spec->total_replicas, now_ask);
	res->clusters = cJSON_CreateArray();
	for (i = 0; i < n; i++) {
		as[i] = (struct fed_rsp_assign){names[i], now_ask[i], out[i].keep, placed[i]};
		if (now_ask[i] != step[i].target && !out[i].keep)
			res->moving = true;
		rsp_cluster_status(res->clusters, &out[i], now_ask[i], in[i].offline);
		fed_buf_printf(&summary, "%s%s=%lld%s", i ? " " : "", names[i],
		               (long long)(out[i].keep ? now_ask[i] : step[i].target),
		               out[i].keep ? " (offline, kept)" : "");
	}
	if (res->unplaced)
		fed_buf_printf(&summary, ", %lld unplaced", (long long)res->unplaced);
	snprintf(res->message, sizeof(res->message), "%s%s", summary.data ? summary.data : "",
	         res->moving ? "; moving replicas as they become available" : "");
	if (!r->plan_summary)
		r->plan_summary = rsp_announced(obj);
	if (!r->plan_summary || strcmp(r->plan_summary, summary.data ? summary.data : "")) {
		FED_LOG_INFO(NULL, "ReplicaSchedulingPreference %s: %s", r->key,
		             summary.data ? summary.data : "");
		rsp_event(rc, obj, false, "Scheduled", res->message);
		controller_set_str(&r->plan_summary, summary.data ? summary.data : "");
	}
	if (fed_rsp_target_patch(fed, as, n, &patch, &err)) {
		res->reason = "TargetInvalid";
		snprintf(res->message, sizeof(res->message), "%s", err.msg);
		goto out;
	}
	if (patch && fed_queue_backoff(rc->q, r->key) > 0)
		qr = FED_QUEUE_KEEP; /* the last write failed: wait for its retry */
	else if (patch)
		qr = write_target(r, t, fed, patch);
out:
	cJSON_Delete(patch);
	fed_buf_release(&summary);
	free(names);
	free(placed);
	free(selected);
	free(barred);
	free(in);
	free(out);
	free(step);
	free(as);
	free(now_ask);
	return qr;
}

/* The RSP's status and its problem (or none) from res. */
static void report(struct rsp *r, const cJSON *obj, struct result *res)
{
	if (res->reason)
		rsp_problem(r, obj, res->reason, res->message);
	else if (r->problem)
		controller_set_str(&r->problem, NULL);
	rsp_write_status(r, obj, res);
}

static enum fed_queue_result rsp_sync(void *ud, const char *key)
{
	struct rsp_ctl *rc = ud;
	struct controller *ctl = rc->ctl;
	enum fed_queue_result qr = FED_QUEUE_KEEP;
	const cJSON *obj = fed_map_get(fed_informer_store(rc->inf), key), *fed = NULL;
	struct fed_rsp_spec spec;
	struct fed_error err = FED_ERROR_INIT;
	struct result res;
	struct ftype *t = NULL;
	struct fed_map_iter it;
	struct fed_map_entry *e;
	struct rsp *r;

	memset(&spec, 0, sizeof(spec));
	memset(&res, 0, sizeof(res));
	if (!obj) {
		rsp_free(fed_map_del(&rc->items, key));
		fed_queue_forget(rc->q, key);
		goto out;
	}
	if (!(r = rsp_get(rc, key))) {
		FED_LOG_ERR(NULL, "ReplicaSchedulingPreference %s: out of memory", key);
		qr = FED_QUEUE_RETRY;
		goto out;
	}
	/* an exit that waits for inputs keeps the backoff (KEEP); a verdict
	 * reported is converged (DONE) */
	qr = FED_QUEUE_KEEP;
	if (fed_rsp_parse(obj, &spec, &err)) {
		res.reason = "InvalidSpec";
		snprintf(res.message, sizeof(res.message), "%s", err.msg);
		report(r, obj, &res);
		qr = FED_QUEUE_DONE;
		goto out;
	}
	/* decide only on a full picture: the Federation config read, the
	 * FTCs listed, every member probed once */
	if (!members_known(ctl) || !ctl->prop || !ctl->prop->ftcs ||
	    !fed_informer_synced(ctl->prop->ftcs))
		goto out;
	for (e = fed_map_first(members_all(ctl), &it); e; e = fed_map_next(members_all(ctl), &it))
		if (member_connecting(e->value))
			goto out; /* its verdict pokes us */
	if (!(t = target_type(ctl, spec.target_kind))) {
		res.reason = "TargetTypeNotEnabled";
		snprintf(res.message, sizeof(res.message),
		         "no enabled FederatedTypeConfig propagates %s; enable its type "
		         "(fedctl enable)",
		         fed_rsp_target_kind_name(spec.target_kind));
		report(r, obj, &res);
		qr = FED_QUEUE_DONE;
		goto out;
	}
	if (!fed_informer_synced(t->fed_inf))
		goto out;
	for (e = fed_map_first(members_all(ctl), &it); e; e = fed_map_next(members_all(ctl), &it)) {
		bool synced;
		if (member_client(e->value) && (minf_get(t, e->key, key, &synced), !synced)) {
			wake_at(rc, ev_now(ctl->loop) + 1.0); /* a Ready member still listing */
			goto out;
		}
	}
	fed = fed_informer_get(t->fed_inf, fed_obj_namespace(obj), fed_obj_name(obj));
	if (!fed) {
		res.reason = "TargetNotFound";
		snprintf(res.message, sizeof(res.message),
		         "no %s %s: create it, or fix the RSP's name",
		         fed_rsp_target_kind_name(spec.target_kind), key);
		report(r, obj, &res);
		qr = FED_QUEUE_DONE;
		goto out;
	}
	if (fed_obj_str(fed, "metadata.deletionTimestamp"))
		goto out;
	if (r->stale_rv && fed_obj_resource_version(fed) &&
	    !strcmp(r->stale_rv, fed_obj_resource_version(fed)))
		goto out; /* our last write's event is on its way */
	controller_set_str(&r->stale_rv, NULL);
	qr = plan(r, obj, &spec, t, fed, &res);
	report(r, obj, &res);
out:
	cJSON_Delete(res.clusters);
	fed_rsp_spec_release(&spec);
	return qr;
}

/* ---- plumbing ---------------------------------------------------------- */

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	enqueue_all(w->data);
}

static void on_add(const cJSON *obj, void *ud)
{
	struct fed_buf key = FED_BUF_INIT;

	fed_informer_key(&key, fed_obj_namespace(obj), fed_obj_name(obj));
	rsp_enqueue(ud, key.data);
	fed_buf_release(&key);
}

static void on_update(const cJSON *old, const cJSON *obj, void *ud)
{
	on_add(obj, ud);
}

static void on_synced(void *ud)
{
	enqueue_all(ud);
}

/* Something about the federated object key of kind fed_kind
 * ("FederatedDeployment") changed, in the host or in a member: re-plan the
 * RSP of the same key, if there is one. Cheap when there is none. */
static void poke(struct controller *ctl, const char *fed_kind, const char *key)
{
	struct rsp_ctl *rc = ctl->rsp;
	const cJSON *obj;
	size_t i;

	if (!rc || !rc->inf || !key || !(obj = fed_map_get(fed_informer_store(rc->inf), key)))
		return;
	/* only the kinds an RSP can target, and only its own kind */
	for (i = 0; i <= FED_RSP_FEDERATED_STATEFULSET; i++)
		if (!strcmp(fed_kind, fed_rsp_target_kind_name(i)))
			break;
	if (i > FED_RSP_FEDERATED_STATEFULSET)
		return;
	{
		const char *want = fed_obj_str(obj, "spec.targetKind");
		if (want && strcmp(want, fed_kind))
			return;
	}
	rsp_enqueue(rc, key);
}

/* Propagation's objects feed the plans; cluster labels choose the
 * candidates (the target's clusterSelector). */
static void on_event(struct controller *ctl, const struct hooks_msg *m, void *ud)
{
	if (m->ev == HOOKS_OBJECT_CHANGED)
		poke(ctl, m->kind, m->key);
	else if (m->ev == HOOKS_MEMBER_LABELS && ((struct rsp_ctl *)ud)->inf)
		enqueue_all(ud);
}

int rsp_start(struct controller *ctl, struct fed_error *err)
{
	struct fed_queue_opts qo = FED_QUEUE_OPTS_INIT;
	struct fed_informer_opts o;
	struct rsp_ctl *rc = calloc(1, sizeof(*rc));
	int ret;

	if (!rc)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	rc->ctl = ctl;
	fed_map_init(&rc->items);
	fed_map_init(&rc->down_since);
	ev_timer_init(&rc->wake, wake_cb, 0., 0.);
	rc->wake.data = rc;
	ctl->rsp = rc;
	qo.debounce = DEBOUNCE;
	if ((ret = fed_queue_new(&rc->q, ctl->loop, &qo, rsp_sync, rc, err)) ||
	    (ret = hooks_subscribe(ctl, on_event, rc)))
		goto out;
	memset(&o, 0, sizeof(o));
	o.resource = rsp_resource;
	o.handlers = (struct fed_informer_handlers){on_add, on_update, on_add, on_synced};
	o.ud = rc;
	if ((ret = fed_informer_new(&rc->inf, ctl->host, &o, err)))
		goto out;
	fed_informer_start(rc->inf);
out:
	return ret;
}

void rsp_stop(struct controller *ctl)
{
	struct rsp_ctl *rc = ctl->rsp;
	struct fed_map_iter it;
	struct fed_map_entry *e;

	if (!rc)
		return;
	hooks_unsubscribe(ctl, on_event, rc);
	ctl->rsp = NULL;
	ev_timer_stop(ctl->loop, &rc->wake);
	fed_queue_free(rc->q);
	fed_informer_free(rc->inf);
	for (e = fed_map_first(&rc->items, &it); e; e = fed_map_next(&rc->items, &it))
		rsp_free(e->value);
	fed_map_release(&rc->items, NULL);
	fed_map_release(&rc->down_since, free);
	free(rc);
}
