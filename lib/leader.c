/* Leader election on a coordination.k8s.io/v1 Lease (client-go's
 * leaderelection.LeaderElector with a LeaseLock), as a state machine on the
 * libev loop. One request at a time is in flight; two ev_timers drive it:
 *
 *   retry_timer     the next attempt (GET, then CREATE or UPDATE), every
 *                   retry_period for the leader, jittered for candidates;
 *   deadline_timer  armed while leading at renewed_at + renew_deadline:
 *                   when it fires, we stop leading, whatever is in flight.
 *
 * Times used for decisions are CLOCK_MONOTONIC (fed_leader_now); only the
 * MicroTimes written into the Lease come from the wall clock, and they are
 * never compared with ours.
 *
 * Unless poll_only, a watch on the Lease also feeds observations: a change
 * is then seen within milliseconds instead of at the next poll, which only
 * makes observed_at more accurate (never earlier than the write, so never
 * less safe) and lets a candidate act as soon as the lease is released. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <ev.h>

#include "fed/buf.h"
#include "fed/leader.h"
#include "fed/log.h"

/* how many requests a release may take (GET and PUT), then give up */
#define RELEASE_TRIES 4

static const struct fed_kube_resource r_lease = {"coordination.k8s.io", "v1", "leases", true};

enum op { OP_NONE, OP_GET, OP_CREATE, OP_UPDATE, OP_RELEASE };

struct fed_leader {
	struct fed_kube_client *client;
	struct ev_loop *loop;
	char *ns, *name, *identity;
	char desc[320]; /* "ns/name" for logs */
	double lease_duration, renew_deadline, retry_period;
	struct fed_leader_callbacks cb;
	void *ud;

	bool started, leading, releasing, released;
	struct fed_kube_call *call;
	enum op op;
	bool fast;          /* the UPDATE in flight is the leader's optimistic renewal */
	double sent_at;     /* when the write in flight was issued */
	cJSON *lease;       /* the Lease as the server last returned it, NULL if absent */
	bool lease_fresh;   /* the last exchange succeeded: lease is the server's state */
	bool write_unknown; /* a write since then may or may not have been applied */
	struct fed_leader_record observed;
	bool have_observed;
	double observed_at;
	double renewed_at;
	char *reported; /* the holder last passed to on_new_leader */
	int release_tries;
	struct fed_error release_err;
	bool use_watch;
	struct fed_kube_watch *watch;
	ev_timer retry_timer, deadline_timer, notify_timer, watch_timer;
	uint64_t rng;
	int busy;
	bool dead;
};

/* ---------------------------------------------------------------- helpers */

/* splitmix64: uniform in [0, 1) */
static double rnd_state(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

static double rnd(struct fed_leader *le)
{
	return rnd_state(&le->rng);
}

static uint64_t seed(void)
{
	uint64_t s = 0;
	struct timespec ts;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		s = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
	}
	return s;
}

static char *default_identity(uint64_t *rng_state)
{
	char host[256];
	unsigned char u[16];
	struct fed_buf b = FED_BUF_INIT;
	int i;

	if (gethostname(host, sizeof(host)) != 0 || !host[0])
		snprintf(host, sizeof(host), "fed");
	host[sizeof(host) - 1] = '\0';
	if (getrandom(u, sizeof(u), GRND_NONBLOCK) != (ssize_t)sizeof(u))
		for (i = 0; i < 16; i++)
			u[i] = (unsigned char)(rnd_state(rng_state) * 256.0);
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* UUID version 4 */
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	if (fed_buf_printf(&b, "%s_", host))
		goto fail;
	for (i = 0; i < 16; i++)
		if (fed_buf_printf(&b, "%s%02x", (i == 4 || i == 6 || i == 8 || i == 10) ? "-" : "",
		                   u[i]))
			goto fail;
	return fed_buf_detach(&b);
fail:
	fed_buf_release(&b);
	return NULL;
}

static const char *cname(const struct fed_leader *le)
{
	return fed_kube_client_name(le->client);
}

static bool is_me(const struct fed_leader *le, const char *holder)
{
	return holder && strcmp(holder, le->identity) == 0;
}

static void arm(struct fed_leader *le, ev_timer *t, double delay)
{
	if (le->dead)
		return;
	ev_timer_stop(le->loop, t);
	ev_timer_set(t, delay > 0 ? delay : 0., 0.);
	ev_timer_start(le->loop, t);
}

static void stop_watch(struct fed_leader *le)
{
	fed_kube_watch_cancel(le->watch);
	le->watch = NULL;
	ev_timer_stop(le->loop, &le->watch_timer);
}

static void really_free(struct fed_leader *le)
{
	fed_kube_call_cancel(le->call);
	stop_watch(le);
	ev_timer_stop(le->loop, &le->retry_timer);
	ev_timer_stop(le->loop, &le->deadline_timer);
	ev_timer_stop(le->loop, &le->notify_timer);
	cJSON_Delete(le->lease);
	fed_leader_record_release(&le->observed);
	free(le->reported);
	free(le->ns);
	free(le->name);
	free(le->identity);
	free(le);
}

/* Every entry point from the loop brackets its work with enter/leave, so a
 * callback may free the elector; after a callback, check le->dead. */
static void enter(struct fed_leader *le)
{
	le->busy++;
}

static void leave(struct fed_leader *le)
{
	if (--le->busy == 0 && le->dead)
		really_free(le);
}

/* Next attempt of a candidate: jittered like wait.JitterUntil, but never
 * later than just after the observed lease expires (same expiry rule, only
 * a shorter wait: the takeover does not lose up to another retry period). */
static double candidate_delay(struct fed_leader *le)
{
	double d = fed_leader_jitter(le->retry_period, FED_LEADER_JITTER, rnd(le));
	double rem;

	if (le->have_observed && le->observed.holder[0] && !is_me(le, le->observed.holder)) {
		rem = fed_leader_expiry(&le->observed, le->observed_at, le->lease_duration) -
		      fed_leader_now();
		if (rem > 0 && rem < d)
			d = rem + 0.01 + rnd(le) * 0.05 * le->retry_period;
	}
	return d;
}

static void schedule_next(struct fed_leader *le)
{
	if (le->releasing || le->released)
		return;
	arm(le, &le->retry_timer, le->leading ? le->retry_period : candidate_delay(le));
}

/* Adopt a Lease object from the server (takes json). The expiry clock
 * restarts only when the record changed. */
static int observe(struct fed_leader *le, cJSON *json, double t)
{
	struct fed_leader_record r;
	struct fed_error err = FED_ERROR_INIT;

	if (fed_leader_record_parse(&r, json, &err)) {
		cJSON_Delete(json);
		FED_LOG_WARN(cname(le), "lease %s: %s", le->desc, err.msg);
		return err.code;
	}
	if (!le->have_observed || !fed_leader_record_equal(&r, &le->observed)) {
		fed_leader_record_release(&le->observed);
		le->observed = r;
		le->observed_at = t;
		le->have_observed = true;
	} else {
		fed_leader_record_release(&r);
	}
	cJSON_Delete(le->lease);
	le->lease = json;
	le->lease_fresh = true;
	le->write_unknown = false;
	return 0;
}

/* client-go's maybeReportTransition. */
static void report_transition(struct fed_leader *le)
{
	const char *holder = le->observed.holder ? le->observed.holder : "";
	char *copy;

	if (!le->have_observed || (le->reported && strcmp(le->reported, holder) == 0))
		return;
	copy = strdup(holder);
	if (!copy)
		return; /* reported again next time */
	free(le->reported);
	le->reported = copy;
	FED_LOG_INFO(cname(le), "lease %s: leader is %s", le->desc, *holder ? holder : "(none)");
	if (le->cb.on_new_leader)
		le->cb.on_new_leader(le->reported, le->ud);
}

/* Stop leading. cancel: also drop the request in flight and schedule the
 * next attempt (else the caller is handling a response and schedules). */
static void step_down(struct fed_leader *le, const char *why, bool cancel)
{
	if (!le->leading)
		return;
	le->leading = false;
	ev_timer_stop(le->loop, &le->deadline_timer);
	if (cancel && le->call) {
		/* a renewal the server may still apply: harmless, we have stopped */
		fed_kube_call_cancel(le->call);
		le->call = NULL;
		le->op = OP_NONE;
		le->lease_fresh = false;
		le->write_unknown = true;
	}
	FED_LOG_INFO(cname(le), "lease %s: %s stopped leading: %s", le->desc, le->identity, why);
	if (le->cb.on_stopped_leading)
		le->cb.on_stopped_leading(le->ud);
	if (!le->dead && cancel)
		schedule_next(le);
}

static void on_response(struct fed_kube_response *resp, void *ud);

/* One request to the Lease; its response comes to on_response. */
static int request(struct fed_leader *le, const char *method, enum op op, const char *body)
{
	struct fed_kube_ref ref = {&r_lease, le->ns, op == OP_CREATE ? NULL : le->name, NULL};
	struct fed_kube_request req;
	struct fed_buf path = FED_BUF_INIT;
	struct fed_error err = FED_ERROR_INIT;
	double timeout = fmax(le->renew_deadline / 2, 1.0);
	int ret;

	if (le->dead)
		return 0;
	/* like resourcelock.NewFromKubeconfig: requests time out at half the
	 * renew deadline, and our own loop does the retrying */
	memset(&req, 0, sizeof(req));
	ret = fed_kube_path(&path, &ref);
	if (ret) {
		fed_error_set(&err, ret, "out of memory");
		goto out;
	}
	req.method = method;
	req.path = fed_buf_str(&path);
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.timeout_ms = (int)(timeout * 1000);
	req.max_retries = 0;
	if (op != OP_GET)
		le->sent_at = fed_leader_now();
	ret = fed_kube_request(le->client, &req, on_response, le, &le->call, &err);
	if (!ret)
		le->op = op;
out:
	if (ret)
		FED_LOG_WARN(cname(le), "lease %s: %s: %s", le->desc, method, err.msg);
	fed_buf_release(&path);
	return ret;
}

static int set_item(cJSON *obj, const char *key, cJSON *v)
{
	if (!v)
		return FED_ENOMEM;
	if (cJSON_HasObjectItem(obj, key))
		return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v) ? 0 : FED_ENOMEM;
	return cJSON_AddItemToObject(obj, key, v) ? 0 : FED_ENOMEM;
}

static int fill_spec(cJSON *spec, const char *holder, long duration_s, const char *acquire,
                     const char *renew, long transitions)
{
	int ret = 0;

	ret |= set_item(spec, "holderIdentity", cJSON_CreateString(holder));
	ret |= set_item(spec, "leaseDurationSeconds", cJSON_CreateNumber((double)duration_s));
	ret |= set_item(spec, "acquireTime", cJSON_CreateString(acquire));
	ret |= set_item(spec, "renewTime", cJSON_CreateString(renew));
	ret |= set_item(spec, "leaseTransitions", cJSON_CreateNumber((double)transitions));
	return ret ? FED_ENOMEM : 0;
}

static void wall_now(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (fed_leader_time_format(buf, len, &ts))
		snprintf(buf, len, "1970-01-01T00:00:00.000000Z");
}

/* PUT le->lease with a new spec. holder NULL: release. */
static int send_update(struct fed_leader *le, bool renew, bool release)
{
	char now[FED_LEADER_TIME_LEN];
	cJSON *obj = NULL, *spec;
	char *body = NULL;
	int ret = FED_ENOMEM;

	wall_now(now, sizeof(now));
	obj = cJSON_Duplicate(le->lease, 1);
	if (!obj)
		goto out;
	spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec)) {
		spec = cJSON_CreateObject();
		if (set_item(obj, "spec", spec))
			goto out;
	}
	if (release)
		ret = fill_spec(spec, "", 1, now, now, le->observed.transitions);
	else if (renew)
		ret = fill_spec(spec, le->identity, (long)le->lease_duration,
		                le->observed.acquire_time[0] ? le->observed.acquire_time : now, now,
		                le->observed.transitions);
	else
		ret = fill_spec(spec, le->identity, (long)le->lease_duration, now, now,
		                le->observed.transitions + 1);
	if (ret)
		goto out;
	body = cJSON_PrintUnformatted(obj);
	if (!body) {
		ret = FED_ENOMEM;
		goto out;
	}
	ret = request(le, "PUT", release ? OP_RELEASE : OP_UPDATE, body);
out:
	if (ret == FED_ENOMEM)
		FED_LOG_WARN(cname(le), "lease %s: out of memory", le->desc);
	free(body);
	cJSON_Delete(obj);
	return ret;
}

static int send_create(struct fed_leader *le)
{
	char now[FED_LEADER_TIME_LEN];
	cJSON *obj = NULL, *meta, *spec;
	char *body = NULL;
	int ret = FED_ENOMEM;

	wall_now(now, sizeof(now));
	obj = cJSON_CreateObject();
	if (!obj || !cJSON_AddStringToObject(obj, "apiVersion", "coordination.k8s.io/v1") ||
	    !cJSON_AddStringToObject(obj, "kind", "Lease") ||
	    !(meta = cJSON_AddObjectToObject(obj, "metadata")) ||
	    !cJSON_AddStringToObject(meta, "name", le->name) ||
	    !cJSON_AddStringToObject(meta, "namespace", le->ns) ||
	    !(spec = cJSON_AddObjectToObject(obj, "spec")) ||
	    fill_spec(spec, le->identity, (long)le->lease_duration, now, now, 0))
		goto out;
	body = cJSON_PrintUnformatted(obj);
	if (body)
		ret = request(le, "POST", OP_CREATE, body);
out:
	free(body);
	cJSON_Delete(obj);
	return ret;
}

/* ---------------------------------------------------------------- release */

static void finish_release(struct fed_leader *le, const struct fed_error *err)
{
	le->releasing = false;
	le->released = true;
	ev_timer_stop(le->loop, &le->retry_timer);
	fed_error_clear(&le->release_err);
	if (err && err->code) {
		le->release_err = *err;
		FED_LOG_WARN(cname(le), "lease %s: could not release: %s (it expires on its own)",
		             le->desc, err->msg);
	}
	arm(le, &le->notify_timer, 0.);
}

/* One step of the release: PUT the release while the server's last word is
 * that the lease is ours, GET when a write's outcome is unknown, else done. */
static void release_next(struct fed_leader *le, const struct fed_error *last)
{
	struct fed_error err = FED_ERROR_INIT;
	bool ours = le->lease && is_me(le, le->observed.holder);

	if (le->call)
		return; /* its response comes back here */
	if (!le->started || (le->lease_fresh && !ours) ||
	    (!le->lease_fresh && !ours && !le->write_unknown)) {
		finish_release(le, NULL);
		return;
	}
	if (le->release_tries >= RELEASE_TRIES) {
		if (!last || !last->code) {
			fed_error_set(&err, FED_ERR, "gave up after %d requests", RELEASE_TRIES);
			last = &err;
		}
		finish_release(le, last);
		return;
	}
	le->release_tries++;
	if (le->lease_fresh ? send_update(le, false, true) : request(le, "GET", OP_GET, NULL)) {
		fed_error_set(&err, FED_ERR, "cannot send the request");
		finish_release(le, &err);
	}
}

static void notify_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_leader *le = w->data;

	enter(le);
	if (le->cb.on_released)
		le->cb.on_released(le->release_err.code ? &le->release_err : NULL, le->ud);
	leave(le);
}

void fed_leader_release(struct fed_leader *le)
{
	if (!le || le->dead || le->releasing || le->released)
		return;
	enter(le);
	le->releasing = true;
	ev_timer_stop(le->loop, &le->retry_timer);
	stop_watch(le);
	step_down(le, "releasing the lease", false);
	if (!le->dead)
		release_next(le, NULL);
	leave(le);
}

/* ---------------------------------------------------------------- the loop */

/* The attempt failed (or the lease is someone else's): try again later. The
 * leader keeps leading until its deadline timer says otherwise. */
static void attempt_failed(struct fed_leader *le, const char *what, const struct fed_error *err)
{
	le->lease_fresh = false;
	if (err && err->code) {
		if (le->leading)
			FED_LOG_WARN(cname(le), "lease %s: %s failed: %s", le->desc, what,
			             err->msg);
		else
			FED_LOG_DEBUG(cname(le), "lease %s: %s failed: %s", le->desc, what,
			              err->msg);
	}
	schedule_next(le);
}

static void handle_get(struct fed_leader *le, struct fed_kube_response *resp, double t)
{
	enum fed_leader_verdict v;
	cJSON *json;

	if (resp->err.code == FED_ENOTFOUND) {
		cJSON_Delete(le->lease);
		le->lease = NULL;
		le->lease_fresh = true;
		if (le->releasing)
			release_next(le, NULL);
		else if (send_create(le))
			attempt_failed(le, "create", NULL);
		return;
	}
	if (resp->err.code) {
		le->lease_fresh = false;
		if (le->releasing)
			release_next(le, &resp->err);
		else
			attempt_failed(le, "get", &resp->err);
		return;
	}
	json = resp->json;
	resp->json = NULL;
	if (observe(le, json, t)) {
		if (le->releasing)
			release_next(le, NULL);
		else
			attempt_failed(le, "get", NULL);
		return;
	}
	report_transition(le);
	if (le->dead)
		return;
	if (le->releasing) {
		release_next(le, NULL);
		return;
	}
	v = fed_leader_decide(&le->observed, le->observed_at, t, le->identity, le->lease_duration);
	if (v == FED_LEADER_WAIT) {
		double until =
		    fed_leader_expiry(&le->observed, le->observed_at, le->lease_duration);

		FED_LOG_DEBUG(cname(le), "lease %s: held by %s, expires in %.1fs", le->desc,
		              le->observed.holder, until - t);
		if (le->leading)
			step_down(le, "the lease has another holder", true);
		else
			schedule_next(le);
		return;
	}
	if (send_update(le, v == FED_LEADER_RENEW, false))
		attempt_failed(le, "update", NULL);
}

static void handle_write(struct fed_leader *le, struct fed_kube_response *resp, double t,
                         enum op op, bool fast)
{
	bool was = le->leading;
	cJSON *json;

	if (resp->err.code) {
		le->lease_fresh = false;
		if (!resp->status)
			le->write_unknown = true;
		if (le->releasing) {
			release_next(le, &resp->err);
		} else if (fast) {
			/* client-go: the optimistic renewal failed, fall back to GET */
			FED_LOG_DEBUG(cname(le), "lease %s: renew: %s; reading it again", le->desc,
			              resp->err.msg);
			if (request(le, "GET", OP_GET, NULL))
				attempt_failed(le, "get", NULL);
		} else {
			attempt_failed(le, op == OP_CREATE ? "create" : "update", &resp->err);
		}
		return;
	}
	json = resp->json;
	resp->json = NULL;
	if (observe(le, json, t)) {
		if (le->releasing)
			release_next(le, NULL);
		else
			attempt_failed(le, "update", NULL);
		return;
	}
	if (le->releasing) {
		report_transition(le);
		if (!le->dead)
			release_next(le, NULL);
		return;
	}
	if (t >= le->sent_at + le->renew_deadline) {
		/* the others may already count from the write: too late to act */
		if (le->leading)
			step_down(le, "the renewal came back after the renew deadline", true);
		else
			attempt_failed(le, "acquire", NULL);
		return;
	}
	le->renewed_at = le->sent_at;
	le->leading = true;
	arm(le, &le->deadline_timer, le->renewed_at + le->renew_deadline - t);
	if (!was)
		FED_LOG_INFO(cname(le), "lease %s: %s acquired the lease (transitions %ld)",
		             le->desc, le->identity, le->observed.transitions);
	else
		FED_LOG_TRACE(cname(le), "lease %s: renewed", le->desc);
	report_transition(le);
	if (le->dead)
		return;
	if (!was && le->leading && le->cb.on_started_leading) {
		le->cb.on_started_leading(le->ud);
		if (le->dead)
			return;
	}
	schedule_next(le);
}

static void on_response(struct fed_kube_response *resp, void *ud)
{
	struct fed_leader *le = ud;
	enum op op = le->op;
	bool fast = le->fast;
	double t = fed_leader_now();

	enter(le);
	le->call = NULL;
	le->op = OP_NONE;
	le->fast = false;
	if (le->leading && t >= le->renewed_at + le->renew_deadline &&
	    !((op == OP_UPDATE || op == OP_CREATE) && !resp->err.code &&
	      t < le->sent_at + le->renew_deadline)) {
		/* the deadline timer is due in this same loop iteration (unless
		 * this is a renewal that extends the lease in time) */
		step_down(le, "no renewal within the renew deadline", false);
		if (le->dead)
			goto out;
	}
	switch (op) {
	case OP_GET:
		handle_get(le, resp, t);
		break;
	case OP_CREATE:
	case OP_UPDATE:
		handle_write(le, resp, t, op, fast);
		break;
	case OP_RELEASE:
		if (!resp->err.code) {
			cJSON *json = resp->json;
			resp->json = NULL;
			observe(le, json, t);
			FED_LOG_INFO(cname(le), "lease %s: %s released the lease", le->desc,
			             le->identity);
			report_transition(le);
			if (!le->dead)
				finish_release(le, NULL);
		} else {
			le->lease_fresh = false;
			if (!resp->status)
				le->write_unknown = true;
			release_next(le, &resp->err);
		}
		break;
	case OP_NONE:
		break;
	}
out:
	leave(le);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_leader *le = w->data;
	int ret;

	enter(le);
	if (le->call || le->releasing || le->released)
		goto out;
	if (le->leading && le->lease && is_me(le, le->observed.holder)) {
		/* fast path: renew optimistically on the Lease we wrote last */
		ret = send_update(le, true, false);
		le->fast = !ret;
	} else {
		ret = request(le, "GET", OP_GET, NULL);
	}
	if (ret)
		attempt_failed(le, "request", NULL);
out:
	leave(le);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_leader *le = w->data;

	enter(le);
	step_down(le, "no renewal within the renew deadline", true);
	leave(le);
}

/* ---------------------------------------------------------------- the watch */

static void start_watch(struct fed_leader *le);

static unsigned long long rv_num(const char *rv, bool *ok)
{
	char *end = NULL;
	unsigned long long n;

	*ok = false;
	if (!rv || !*rv)
		return 0;
	n = strtoull(rv, &end, 10);
	*ok = end && !*end;
	return n;
}

/* A watch event older than the object we hold (a GET or PUT answered after
 * the event was queued) would only restart the expiry clock for nothing and
 * make the next optimistic renewal conflict. resourceVersions are opaque;
 * when both are integers (etcd revisions, every API server today) an older
 * one is skipped, otherwise the event is taken (later observation: safe). */
static bool stale_event(const struct fed_leader *le, const cJSON *obj)
{
	bool ok1, ok2;
	unsigned long long have, got;

	if (!le->lease)
		return false;
	have = rv_num(fed_obj_resource_version(le->lease), &ok1);
	got = rv_num(fed_obj_resource_version(obj), &ok2);
	return ok1 && ok2 && got <= have;
}

static void watch_event(enum fed_watch_type type, cJSON *obj, void *ud)
{
	struct fed_leader *le = ud;
	enum fed_leader_verdict v;
	double t = fed_leader_now();
	cJSON *copy;

	enter(le);
	if (le->releasing || le->released || le->dead || type == FED_WATCH_BOOKMARK)
		goto out;
	if (type == FED_WATCH_DELETED) {
		/* someone deleted the Lease: look again now (GET 404, CREATE) */
		le->lease_fresh = false;
		if (!le->call)
			arm(le, &le->retry_timer, 0.);
		goto out;
	}
	if (stale_event(le, obj))
		goto out;
	copy = cJSON_Duplicate(obj, 1);
	if (!copy || observe(le, copy, t))
		goto out;
	report_transition(le);
	if (le->dead || le->releasing)
		goto out;
	if (le->leading && !is_me(le, le->observed.holder)) {
		step_down(le, "the lease has another holder", true);
		goto out;
	}
	v = fed_leader_decide(&le->observed, le->observed_at, t, le->identity, le->lease_duration);
	if (!le->leading && !le->call && v == FED_LEADER_ACQUIRE)
		/* released: try now, spread a little so candidates do not all
		 * hit the server at the same instant */
		arm(le, &le->retry_timer, rnd(le) * 0.1 * le->retry_period);
out:
	leave(le);
}

static void watch_done(const struct fed_error *err, void *ud)
{
	struct fed_leader *le = ud;
	double delay = 0.05;

	enter(le);
	le->watch = NULL;
	if (!le->releasing && !le->released && !le->dead) {
		/* the server closed it (its timeout): again at once; else after
		 * a retry period, polling goes on meanwhile */
		if (err && err->code) {
			FED_LOG_DEBUG(cname(le), "lease %s: watch ended: %s", le->desc, err->msg);
			delay = fed_leader_jitter(le->retry_period, FED_LEADER_JITTER, rnd(le));
		}
		arm(le, &le->watch_timer, delay);
	}
	leave(le);
}

static void start_watch(struct fed_leader *le)
{
	struct fed_kube_ref ref = {&r_lease, le->ns, NULL, NULL};
	struct fed_kube_list_opts o;
	struct fed_error err = FED_ERROR_INIT;
	char sel[300];

	if (!le->use_watch || le->watch || le->dead || le->releasing || le->released)
		return;
	snprintf(sel, sizeof(sel), "metadata.name=%s", le->name);
	memset(&o, 0, sizeof(o));
	o.field_selector = sel;
	/* no resourceVersion: the server starts with the current object (an
	 * ADDED event), so there is never a 410 to handle */
	o.timeout_seconds = 300 + (int)(rnd(le) * 300);
	if (fed_kube_watch(le->client, &ref, &o, watch_event, watch_done, le, &le->watch, &err)) {
		FED_LOG_DEBUG(cname(le), "lease %s: watch: %s", le->desc, err.msg);
		arm(le, &le->watch_timer, le->retry_period);
	}
}

static void watch_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_leader *le = w->data;

	enter(le);
	start_watch(le);
	leave(le);
}

/* ---------------------------------------------------------------- public */

int fed_leader_new(struct fed_leader **out, struct fed_kube_client *c,
                   const struct fed_leader_opts *o, struct fed_error *err)
{
	struct fed_leader *le = NULL;
	int ret = 0;

	*out = NULL;
	if (!c || !o || !o->lease_namespace || !*o->lease_namespace || !o->lease_name ||
	    !*o->lease_name) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "leader election: lease namespace and name are required");
		goto out;
	}
	if (o->identity && !*o->identity) {
		ret = fed_error_set(err, FED_EINVAL, "leader election: empty identity");
		goto out;
	}
	le = calloc(1, sizeof(*le));
	if (!le) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	le->client = c;
	le->loop = fed_kube_client_loop(c);
	le->lease_duration = o->lease_duration > 0 ? o->lease_duration : FED_LEADER_LEASE_DURATION;
	le->renew_deadline = o->renew_deadline > 0 ? o->renew_deadline : FED_LEADER_RENEW_DEADLINE;
	le->retry_period = o->retry_period > 0 ? o->retry_period : FED_LEADER_RETRY_PERIOD;
	/* the Lease stores whole seconds; the others judge expiry by it */
	if (le->lease_duration < 1 || le->lease_duration != floor(le->lease_duration)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "leader election: lease duration must be whole seconds "
		                    "(got %g)",
		                    le->lease_duration);
		goto out;
	}
	if (le->renew_deadline >= le->lease_duration) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "leader election: renew deadline (%gs) must be less than "
		                    "the lease duration (%gs)",
		                    le->renew_deadline, le->lease_duration);
		goto out;
	}
	if (FED_LEADER_JITTER * le->retry_period >= le->renew_deadline) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "leader election: renew deadline (%gs) must be more than "
		                    "%g x the retry period (%gs)",
		                    le->renew_deadline, FED_LEADER_JITTER, le->retry_period);
		goto out;
	}
	le->cb = o->cb;
	le->ud = o->ud;
	le->use_watch = !o->poll_only;
	le->rng = seed();
	le->ns = strdup(o->lease_namespace);
	le->name = strdup(o->lease_name);
	le->identity = o->identity ? strdup(o->identity) : default_identity(&le->rng);
	if (!le->ns || !le->name || !le->identity) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(le->desc, sizeof(le->desc), "%s/%s", le->ns, le->name);
	ev_timer_init(&le->retry_timer, retry_cb, 0., 0.);
	ev_timer_init(&le->deadline_timer, deadline_cb, 0., 0.);
	ev_timer_init(&le->notify_timer, notify_cb, 0., 0.);
	ev_timer_init(&le->watch_timer, watch_timer_cb, 0., 0.);
	le->watch_timer.data = le;
	le->retry_timer.data = le;
	le->deadline_timer.data = le;
	le->notify_timer.data = le;
	*out = le;
	le = NULL;
out:
	if (le)
		really_free(le);
	return ret;
}

int fed_leader_start(struct fed_leader *le, struct fed_error *err)
{
	if (le->started || le->releasing || le->released)
		return fed_error_set(err, FED_EINVAL, "leader election on %s: already started",
		                     le->desc);
	le->started = true;
	FED_LOG_INFO(
	    cname(le), "lease %s: %s is campaigning (lease %gs, renew deadline %gs, retry %gs)",
	    le->desc, le->identity, le->lease_duration, le->renew_deadline, le->retry_period);
	arm(le, &le->retry_timer, 0.);
	arm(le, &le->watch_timer, 0.);
	return 0;
}

bool fed_leader_is_leader(const struct fed_leader *le)
{
	return le && le->leading && !le->dead &&
	       fed_leader_now() < le->renewed_at + le->renew_deadline;
}

void fed_leader_status(const struct fed_leader *le, struct fed_leader_status *out)
{
	memset(out, 0, sizeof(*out));
	out->leading = fed_leader_is_leader(le);
	out->started = le->started;
	out->released = le->released;
	out->identity = le->identity;
	out->holder = le->have_observed && le->observed.holder ? le->observed.holder : "";
	out->transitions = le->observed.transitions;
	out->observed_at = le->have_observed ? le->observed_at : 0;
	out->renewed_at = le->renewed_at;
	out->deadline = le->leading ? le->renewed_at + le->renew_deadline : 0;
	out->watching = le->watch != NULL;
}

void fed_leader_free(struct fed_leader *le)
{
	if (!le)
		return;
	fed_kube_call_cancel(le->call);
	le->call = NULL;
	stop_watch(le);
	ev_timer_stop(le->loop, &le->retry_timer);
	ev_timer_stop(le->loop, &le->deadline_timer);
	ev_timer_stop(le->loop, &le->notify_timer);
	if (le->busy) {
		le->dead = true;
		return;
	}
	really_free(le);
}
