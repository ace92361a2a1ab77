/* fed_queue on a real libev loop: de-duplication, batches, debounce,
 * pending/dirty, backoff with jitter, add_after, reset, forget, free.
 * Backoffs are tens of milliseconds; times are read with ev_now (the
 * clock libev arms timers with), lower bounds are exact and upper bounds
 * loose, so a loaded machine only makes the tests slower. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "alloc_fail.h"
#include "check.h"
#include "fed/workqueue.h"

#define MAXLOG 64
#define SLACK  2.0 /* seconds a loaded machine may add to a timer */

struct rec {
	struct ev_loop *loop;
	struct fed_queue *q;
	int n;
	char keys[MAXLOG][16];
	double at[MAXLOG];
	double backoff_seen[MAXLOG]; /* fed_queue_backoff during the sync */
	enum fed_queue_result res;   /* returned by default */
	/* scripted per call (index n before the call); 0 entries use res */
	enum fed_queue_result script[MAXLOG];
	int nscript;
	/* actions from inside the sync */
	const char *add_self_once;  /* add this key on the first call */
	const char *forget_in_sync; /* forget this key when it syncs */
	const char *readd_after_forget;
	bool done_early;      /* fed_queue_done(ok) then PENDING */
	bool done_early_fail; /* fed_queue_done(!ok) then PENDING */
};

static enum fed_queue_result sync_fn(void *ud, const char *key)
{
	struct rec *r = ud;
	enum fed_queue_result res = r->n < r->nscript ? r->script[r->n] : r->res;

	if (r->n < MAXLOG) {
		snprintf(r->keys[r->n], sizeof(r->keys[0]), "%s", key);
		r->at[r->n] = ev_now(r->loop);
		r->backoff_seen[r->n] = fed_queue_backoff(r->q, key);
	}
	r->n++;
	if (r->add_self_once && !strcmp(key, r->add_self_once)) {
		r->add_self_once = NULL;
		fed_queue_add(r->q, key);
	}
	if (r->forget_in_sync && !strcmp(key, r->forget_in_sync)) {
		r->forget_in_sync = NULL;
		fed_queue_forget(r->q, key);
		if (r->readd_after_forget)
			fed_queue_add(r->q, r->readd_after_forget);
	}
	if (r->done_early || r->done_early_fail) {
		fed_queue_done(r->q, key, r->done_early);
		return FED_QUEUE_PENDING;
	}
	return res;
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ONE);
}

/* run the loop until r has n syncs or `seconds` passed */
static void run_until(struct rec *r, int n, double seconds)
{
	ev_timer guard;
	double end;

	ev_now_update(r->loop);
	end = ev_now(r->loop) + seconds;
	ev_timer_init(&guard, stop_cb, seconds, 0.);
	ev_timer_start(r->loop, &guard);
	while (r->n < n && ev_now(r->loop) < end && ev_is_active(&guard))
		ev_run(r->loop, EVRUN_ONCE);
	ev_timer_stop(r->loop, &guard);
}

/* run the loop for `seconds` exactly (to prove that nothing happens) */
static void run_for(struct rec *r, double seconds)
{
	run_until(r, 1 << 30, seconds);
}

static int setup(struct rec *r, const struct fed_queue_opts *o)
{
	struct fed_error err = FED_ERROR_INIT;

	memset(r, 0, sizeof(*r));
	r->loop = ev_loop_new(EVFLAG_AUTO);
	r->res = FED_QUEUE_DONE;
	return fed_queue_new(&r->q, r->loop, o, sync_fn, r, &err);
}

static void teardown(struct rec *r)
{
	fed_queue_free(r->q);
	ev_loop_destroy(r->loop);
}

static void dedup_and_fifo(void)
{
	struct rec r;
	struct fed_queue_stats st;

	CHECK_INT(setup(&r, NULL), 0);
	CHECK_INT(fed_queue_add(r.q, "ns/a"), 0);
	CHECK_INT(fed_queue_add(r.q, "ns/b"), 0);
	CHECK_INT(fed_queue_add(r.q, "ns/a"), 0);
	CHECK_INT(fed_queue_add(r.q, "ns/a"), 0);
	CHECK_INT(fed_queue_len(r.q), 2);
	ev_run(r.loop, EVRUN_ONCE); /* debounce 0: the next iteration runs the batch */
	CHECK_INT(r.n, 2);
	CHECK_STR(r.keys[0], "ns/a");
	CHECK_STR(r.keys[1], "ns/b");
	fed_queue_stats(r.q, &st);
	CHECK_INT(st.adds, 4);
	CHECK_INT(st.syncs, 2);
	CHECK_INT(st.depth, 0);
	CHECK_INT(st.pending, 0);
	CHECK_INT(st.retries, 0);
	/* a sleep proving an absence: nothing else runs */
	run_for(&r, 0.05);
	CHECK_INT(r.n, 2);
	teardown(&r);
}

static void add_from_sync_runs_next_batch(void)
{
	struct rec r;

	CHECK_INT(setup(&r, NULL), 0);
	r.add_self_once = "a";
	fed_queue_add(r.q, "a");
	fed_queue_add(r.q, "b");
	ev_run(r.loop, EVRUN_ONCE);
	/* a's re-add waits for the next batch: not run again in this one */
	CHECK_INT(r.n, 2);
	CHECK_INT(fed_queue_len(r.q), 1);
	run_until(&r, 3, 5);
	CHECK_INT(r.n, 3);
	CHECK_STR(r.keys[2], "a");
	run_for(&r, 0.03);
	CHECK_INT(r.n, 3);
	teardown(&r);
}

static void debounce_batches(void)
{
	struct fed_queue_opts o = FED_QUEUE_OPTS_INIT;
	struct rec r;
	double t0;

	o.debounce = 0.08;
	CHECK_INT(setup(&r, &o), 0);
	ev_now_update(r.loop);
	t0 = ev_now(r.loop);
	fed_queue_add(r.q, "a");
	run_for(&r, 0.02);
	fed_queue_add(r.q, "a");
	fed_queue_add(r.q, "b");
	CHECK_INT(r.n, 0);
	run_until(&r, 2, 5);
	CHECK_INT(r.n, 2);
	CHECK(r.at[0] - t0 >= 0.08 - 1e-6);
	CHECK(r.at[0] - t0 < 0.08 + SLACK);
	CHECK_STR(r.keys[0], "a");
	CHECK_STR(r.keys[1], "b");
	run_for(&r, 0.1);
	CHECK_INT(r.n, 2);
	teardown(&r);
}

static void pending_dirty_runs_once_after(void)
{
	struct rec r;
	struct fed_queue_stats st;

	CHECK_INT(setup(&r, NULL), 0);
	r.res = FED_QUEUE_PENDING;
	fed_queue_add(r.q, "a");
	ev_run(r.loop, EVRUN_ONCE);
	CHECK_INT(r.n, 1);
	/* adds while a's work is in flight: no second sync, a dirty mark */
	fed_queue_add(r.q, "a");
	fed_queue_add(r.q, "a");
	CHECK_INT(fed_queue_len(r.q), 0);
	fed_queue_stats(r.q, &st);
	CHECK_INT(st.pending, 1);
	run_for(&r, 0.03);
	CHECK_INT(r.n, 1);
	r.res = FED_QUEUE_DONE;
	fed_queue_done(r.q, "a", true);
	CHECK_INT(fed_queue_len(r.q), 1);
	run_until(&r, 2, 5);
	CHECK_INT(r.n, 2);
	run_for(&r, 0.03);
	CHECK_INT(r.n, 2);
	fed_queue_stats(r.q, &st);
	CHECK_INT(st.pending, 0);
	/* done without a dirty mark: nothing runs; done of an idle key and of
	 * an unknown key: nothing */
	r.res = FED_QUEUE_PENDING;
	fed_queue_add(r.q, "b");
	run_until(&r, 3, 5);
	fed_queue_done(r.q, "b", true);
	fed_queue_done(r.q, "b", true);
	fed_queue_done(r.q, "nope", false);
	fed_queue_done(r.q, NULL, false);
	run_for(&r, 0.03);
	CHECK_INT(r.n, 3);
	CHECK_INT(fed_queue_backoff(r.q, "b"), 0);
	teardown(&r);
}

static void pending_failed_backs_off(void)
{
	struct fed_queue_opts o = {0, 0.04, 1.0, 0};
	struct rec r;
	struct fed_queue_stats st;
	double t;

	CHECK_INT(setup(&r, &o), 0);
	r.res = FED_QUEUE_PENDING;
	fed_queue_add(r.q, "a");
	ev_run(r.loop, EVRUN_ONCE);
	ev_now_update(r.loop);
	t = ev_now(r.loop);
	fed_queue_done(r.q, "a", false);
	CHECK(fed_queue_backoff(r.q, "a") == 0.04);
	fed_queue_stats(r.q, &st);
	CHECK_INT(st.retries, 1);
	CHECK_INT(st.backoff, 1);
	r.res = FED_QUEUE_DONE;
	run_until(&r, 2, 5);
	CHECK_INT(r.n, 2);
	CHECK(r.at[1] - t >= 0.04 - 1e-6);
	/* a retried sync is not held */
	CHECK(r.backoff_seen[1] == 0);
	teardown(&r);
}

static void done_from_inside_sync(void)
{
	struct fed_queue_opts o = {0, 0.02, 1.0, 0};
	struct rec r;
	struct fed_queue_stats st;

	CHECK_INT(setup(&r, &o), 0);
	r.done_early = true;
	fed_queue_add(r.q, "a");
	ev_run(r.loop, EVRUN_ONCE);
	CHECK_INT(r.n, 1);
	fed_queue_stats(r.q, &st);
	CHECK_INT(st.pending, 0);
	CHECK(fed_queue_backoff(r.q, "a") == 0);
	/* not stuck pending: a new add runs; a failed early done backs off */
	r.done_early = false;
	r.done_early_fail = true;
	fed_queue_add(r.q, "a");
	run_until(&r, 2, 5);
	CHECK_INT(r.n, 2);
	CHECK(fed_queue_backoff(r.q, "a") == 0.02);
	r.done_early_fail = false;
	run_until(&r, 3, 5);
	CHECK_INT(r.n, 3);
	teardown(&r);
}

/* an add from the sync that then returns PENDING: the key runs again
 * once its work is done, not before */
static void add_from_pending_sync(void)
{
	struct rec r;

	CHECK_INT(setup(&r, NULL), 0);
	r.res = FED_QUEUE_PENDING;
	r.add_self_once = "a";
	fed_queue_add(r.q, "a");
	fed_queue_add(r.q, "q");
	ev_run(r.loop, EVRUN_ONCE);
	CHECK_INT(r.n, 2);
	CHECK_INT(fed_queue_len(r.q), 0);
	run_for(&r, 0.03);
	CHECK_INT(r.n, 2);
	/* done for a key that is queued but not pending: nothing */
	r.res = FED_QUEUE_DONE;
	fed_queue_done(r.q, "q", true);
	fed_queue_add(r.q, "x");
	fed_queue_done(r.q, "x", false);
	CHECK_INT(fed_queue_len(r.q), 1);
	CHECK(fed_queue_backoff(r.q, "x") == 0);
	fed_queue_done(r.q, "a", true);
	run_until(&r, 4, 5);
	CHECK_INT(r.n, 4);
	CHECK_STR(r.keys[2], "x");
	CHECK_STR(r.keys[3], "a");
	run_for(&r, 0.03);
	CHECK_INT(r.n, 4);
	teardown(&r);
}

static void retry_doubles_to_max_with_jitter(void)
{
	struct fed_queue_opts o = {0, 0.01, 0.04, 0.2};
	const double base[] = {0.01, 0.02, 0.04, 0.04, 0.04};
	struct rec r;
	struct fed_queue_stats st;
	int i;

	CHECK_INT(setup(&r, &o), 0);
	r.res = FED_QUEUE_RETRY;
	fed_queue_add(r.q, "a");
	for (i = 0; i < 5; i++) {
		run_until(&r, i + 1, 5);
		CHECK_INT(r.n, i + 1);
		CHECK(fed_queue_backoff(r.q, "a") == base[i]);
	}
	for (i = 1; i < 5; i++) {
		double gap = r.at[i] - r.at[i - 1];
		/* jitter -20 %, and never above the maximum */
		CHECK(gap >= base[i - 1] * 0.8 - 1e-6);
		CHECK(gap < 0.04 + SLACK);
		CHECK(r.backoff_seen[i] == 0);
	}
	fed_queue_stats(r.q, &st);
	CHECK_INT(st.retries, 5);
	CHECK_INT(st.backoff, 1);
	teardown(&r);
}

/* many keys failing at once retry spread over [b(1-j), b(1+j)] */
static void jitter_spreads(void)
{
	struct fed_queue_opts o = {0, 0.1, 10, 0.5};
	struct rec r;
	char key[16];
	double t0, lo = 1e9, hi = 0;
	int i;

	CHECK_INT(setup(&r, &o), 0);
	r.res = FED_QUEUE_RETRY;
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		fed_queue_add(r.q, key);
	}
	ev_run(r.loop, EVRUN_ONCE);
	CHECK_INT(r.n, 20);
	t0 = ev_now(r.loop);
	r.res = FED_QUEUE_DONE;
	run_until(&r, 40, 5);
	CHECK_INT(r.n, 40);
	for (i = 20; i < 40; i++) {
		double d = r.at[i] - t0;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	CHECK(lo >= 0.05 - 1e-6);
	CHECK(hi < 0.15 + SLACK);
	CHECK(hi > lo); /* 20 draws from ±50 % are not all one value */
	/* DONE forgot every key */
	CHECK_INT(fed_queue_backoff(r.q, "k0"), 0);
	teardown(&r);
}

static void done_resets_and_hold(void)
{
	struct fed_queue_opts o = {0, 0.02, 1.0, 0};
	struct rec r;

	CHECK_INT(setup(&r, &o), 0);
	r.script[0] = FED_QUEUE_RETRY;
	r.script[1] = FED_QUEUE_RETRY;
	r.script[2] = FED_QUEUE_DONE;
	r.script[3] = FED_QUEUE_RETRY;
	r.nscript = 4;
	r.res = FED_QUEUE_KEEP;
	fed_queue_add(r.q, "a");
	run_until(&r, 1, 5);
	CHECK(fed_queue_backoff(r.q, "a") == 0.02);
	run_until(&r, 2, 5);
	CHECK(fed_queue_backoff(r.q, "a") == 0.04);
	run_until(&r, 3, 5);
	CHECK(fed_queue_backoff(r.q, "a") == 0);
	fed_queue_add(r.q, "a");
	run_until(&r, 4, 5);
	CHECK(fed_queue_backoff(r.q, "a") == 0.02); /* started over */
	/* an add during the backoff runs now, and the sync sees the hold */
	fed_queue_add(r.q, "a");
	ev_run(r.loop, EVRUN_ONCE);
	CHECK_INT(r.n, 5);
	CHECK(r.backoff_seen[4] == 0.02);
	/* KEEP: the retry still comes */
	CHECK(fed_queue_backoff(r.q, "a") == 0.02);
	run_until(&r, 6, 5);
	CHECK_INT(r.n, 6);
	CHECK(r.at[5] - r.at[3] >= 0.02 - 1e-6);
	CHECK(r.backoff_seen[5] == 0);
	/* KEEP after the retry: no timer, but the backoff is remembered for
	 * the next failure (a DONE, not a KEEP, starts it over) */
	r.script[6] = FED_QUEUE_RETRY;
	r.nscript = 7;
	fed_queue_add(r.q, "a");
	run_until(&r, 7, 5);
	CHECK(fed_queue_backoff(r.q, "a") == 0.04);
	teardown(&r);
}

/* a DONE from a sync run by an add during the backoff cancels the retry */
static void done_cancels_retry(void)
{
	struct fed_queue_opts o = {0, 0.03, 1.0, 0};
	struct rec r;
	struct fed_queue_stats st;

	CHECK_INT(setup(&r, &o), 0);
	r.script[0] = FED_QUEUE_RETRY;
	r.nscript = 1;
	fed_queue_add(r.q, "a");
	ev_run(r.loop, EVRUN_ONCE);
	CHECK(fed_queue_backoff(r.q, "a") == 0.03);
	fed_queue_add(r.q, "a");
	ev_run(r.loop, EVRUN_ONCE);
	CHECK_INT(r.n, 2);
	CHECK(r.backoff_seen[1] == 0.03);
	CHECK(fed_queue_backoff(r.q, "a") == 0);
	fed_queue_stats(r.q, &st);
	CHECK_INT(st.backoff, 0);
	/* a sleep proving an absence: the retry would come after 30 ms */
	run_for(&r, 0.12);
	CHECK_INT(r.n, 2);
	teardown(&r);
}

static void reset_runs_now(void)
{
	struct fed_queue_opts o = {0, 5.0, 10.0, 0};
	struct rec r;

	CHECK_INT(setup(&r, &o), 0);
	r.script[0] = FED_QUEUE_RETRY;
	r.nscript = 1;
	fed_queue_add(r.q, "a");
	ev_run(r.loop, EVRUN_ONCE);
	CHECK(fed_queue_backoff(r.q, "a") == 5.0);
	CHECK_INT(fed_queue_reset(r.q, "a"), 0);
	CHECK(fed_queue_backoff(r.q, "a") == 0);
	run_until(&r, 2, 2);
	CHECK_INT(r.n, 2);
	CHECK(r.backoff_seen[1] == 0);
	CHECK_INT(fed_queue_reset(r.q, NULL), FED_EINVAL);
	teardown(&r);
}

static void add_after_waits(void)
{
	struct rec r;
	double t0;

	CHECK_INT(setup(&r, NULL), 0);
	ev_now_update(r.loop);
	t0 = ev_now(r.loop);
	CHECK_INT(fed_queue_add_after(r.q, "a", 0.05), 0);
	CHECK_INT(fed_queue_len(r.q), 0);
	CHECK(fed_queue_backoff(r.q, "a") == 0); /* a wait is no backoff */
	run_until(&r, 1, 5);
	CHECK_INT(r.n, 1);
	CHECK(r.at[0] - t0 >= 0.05 - 1e-6);
	CHECK(r.backoff_seen[0] == 0);
	/* the earlier wait wins, both ways round */
	ev_now_update(r.loop);
	t0 = ev_now(r.loop);
	fed_queue_add_after(r.q, "b", 30);
	fed_queue_add_after(r.q, "b", 0.03);
	fed_queue_add_after(r.q, "c", 0.03);
	fed_queue_add_after(r.q, "c", 30);
	run_until(&r, 3, 5);
	CHECK_INT(r.n, 3);
	CHECK(r.at[2] - t0 < SLACK);
	CHECK_INT(fed_queue_add_after(r.q, NULL, 1), FED_EINVAL);
	CHECK_INT(fed_queue_add_after(r.q, "d", -1), FED_EINVAL);
	teardown(&r);
}

static void add_after_keeps_retry(void)
{
	struct fed_queue_opts o = {0, 0.06, 1.0, 0};
	struct rec r;
	double t0;

	CHECK_INT(setup(&r, &o), 0);
	r.script[0] = FED_QUEUE_RETRY;
	r.nscript = 1;
	fed_queue_add(r.q, "a");
	ev_run(r.loop, EVRUN_ONCE);
	t0 = r.at[0];
	/* a pending retry is not shortened (and still counts as a hold) */
	fed_queue_add_after(r.q, "a", 0.001);
	CHECK(fed_queue_backoff(r.q, "a") == 0.06);
	run_until(&r, 2, 5);
	CHECK_INT(r.n, 2);
	CHECK(r.at[1] - t0 >= 0.06 - 1e-6);
	/* a DONE keeps a wait the sync asked for */
	r.script[2] = FED_QUEUE_DONE;
	r.nscript = 3;
	fed_queue_add_after(r.q, "a", 0.04);
	fed_queue_add(r.q, "a");
	run_until(&r, 3, 5);
	CHECK_INT(r.n, 3);
	run_until(&r, 4, 5);
	CHECK_INT(r.n, 4);
	CHECK(r.at[3] - r.at[2] >= 0.03);
	/* a RETRY replaces a wait */
	r.script[4] = FED_QUEUE_RETRY;
	r.nscript = 5;
	fed_queue_add_after(r.q, "a", 30);
	fed_queue_add(r.q, "a");
	run_until(&r, 5, 5);
	CHECK(fed_queue_backoff(r.q, "a") == 0.06);
	run_until(&r, 6, 5);
	CHECK_INT(r.n, 6);
	teardown(&r);
}

static void forget_drops_state(void)
{
	struct fed_queue_opts o = {0, 0.02, 1.0, 0};
	struct rec r;
	struct fed_queue_stats st;

	CHECK_INT(setup(&r, &o), 0);
	/* queued, then forgotten (first, middle, last): never runs */
	fed_queue_add(r.q, "a");
	fed_queue_add(r.q, "m");
	fed_queue_add(r.q, "b");
	fed_queue_add(r.q, "z");
	fed_queue_forget(r.q, "a");
	fed_queue_forget(r.q, "m");
	fed_queue_forget(r.q, "z");
	fed_queue_forget(r.q, "nope");
	fed_queue_forget(r.q, NULL);
	CHECK_INT(fed_queue_len(r.q), 1);
	run_until(&r, 1, 5);
	CHECK_STR(r.keys[0], "b");
	run_for(&r, 0.02);
	CHECK_INT(r.n, 1);
	/* backing off, then forgotten: no retry */
	r.script[1] = FED_QUEUE_RETRY;
	r.nscript = 2;
	fed_queue_add(r.q, "c");
	run_until(&r, 2, 5);
	CHECK(fed_queue_backoff(r.q, "c") == 0.02);
	fed_queue_forget(r.q, "c");
	CHECK(fed_queue_backoff(r.q, "c") == 0);
	fed_queue_stats(r.q, &st);
	CHECK_INT(st.backoff, 0);
	/* a sleep proving an absence: the retry would come within 20 ms */
	run_for(&r, 0.1);
	CHECK_INT(r.n, 2);
	/* pending, then forgotten: its done is ignored, dirty mark gone */
	r.script[2] = FED_QUEUE_PENDING;
	r.nscript = 3;
	fed_queue_add(r.q, "d");
	run_until(&r, 3, 5);
	fed_queue_add(r.q, "d");
	fed_queue_forget(r.q, "d");
	fed_queue_stats(r.q, &st);
	CHECK_INT(st.pending, 0);
	fed_queue_done(r.q, "d", false);
	run_for(&r, 0.05);
	CHECK_INT(r.n, 3);
	CHECK(fed_queue_backoff(r.q, "d") == 0);
	teardown(&r);
}

static void forget_from_own_sync(void)
{
	struct fed_queue_opts o = {0, 0.02, 1.0, 0};
	struct rec r;

	CHECK_INT(setup(&r, &o), 0);
	/* forgotten in its own sync: its RETRY is ignored */
	r.res = FED_QUEUE_RETRY;
	r.forget_in_sync = "a";
	fed_queue_add(r.q, "a");
	ev_run(r.loop, EVRUN_ONCE);
	CHECK_INT(r.n, 1);
	CHECK(fed_queue_backoff(r.q, "a") == 0);
	/* a sleep proving an absence: a retry would come within 20 ms */
	run_for(&r, 0.1);
	CHECK_INT(r.n, 1);
	/* forgotten, then added again in the same sync: starts afresh */
	r.res = FED_QUEUE_DONE;
	r.forget_in_sync = "b";
	r.readd_after_forget = "b";
	fed_queue_add(r.q, "b");
	run_until(&r, 3, 5);
	CHECK_INT(r.n, 3);
	CHECK_STR(r.keys[2], "b");
	teardown(&r);
}

static enum fed_queue_result forget_next_fn(void *ud, const char *key)
{
	struct rec *r = ud;

	snprintf(r->keys[r->n++], sizeof(r->keys[0]), "%s", key);
	if (!strcmp(key, "x"))
		fed_queue_forget(r->q, "y");
	return FED_QUEUE_DONE;
}

static void forget_later_key_of_batch(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct rec r;

	memset(&r, 0, sizeof(r));
	r.loop = ev_loop_new(EVFLAG_AUTO);
	CHECK_INT(fed_queue_new(&r.q, r.loop, NULL, forget_next_fn, &r, &err), 0);
	fed_queue_add(r.q, "x");
	fed_queue_add(r.q, "y");
	fed_queue_add(r.q, "z");
	ev_run(r.loop, EVRUN_ONCE);
	CHECK_INT(r.n, 2);
	CHECK_STR(r.keys[0], "x");
	CHECK_STR(r.keys[1], "z");
	teardown(&r);
}

static void free_with_timers_armed(void)
{
	struct fed_queue_opts o = {0, 0.01, 1.0, 0};
	struct rec r;
	ev_timer guard;

	CHECK_INT(setup(&r, &o), 0);
	r.script[0] = FED_QUEUE_RETRY;
	r.script[1] = FED_QUEUE_PENDING;
	r.nscript = 2;
	fed_queue_add(r.q, "retrying");
	fed_queue_add(r.q, "pending");
	ev_run(r.loop, EVRUN_ONCE);
	CHECK_INT(r.n, 2);
	fed_queue_add(r.q, "pending"); /* dirty */
	fed_queue_add_after(r.q, "waiting", 0.01);
	fed_queue_add(r.q, "queued");
	fed_queue_free(r.q);
	r.q = NULL;
	/* a sleep proving an absence: every timer above would have fired */
	ev_timer_init(&guard, stop_cb, 0.1, 0.);
	ev_timer_start(r.loop, &guard);
	ev_run(r.loop, 0);
	CHECK_INT(r.n, 2);
	fed_queue_free(NULL);
	ev_loop_destroy(r.loop);
}

static void bad_arguments(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fed_queue *q = (struct fed_queue *)&err;
	struct fed_queue_opts o;
	const struct {
		struct fed_queue_opts o;
		const char *field;
	} bad[] = {
	    {{-1, 1, 60, 0.1}, "debounce"},    {{0, 0, 60, 0.1}, "backoff_min"},
	    {{0, -1, 60, 0.1}, "backoff_min"}, {{0, 2, 1, 0.1}, "backoff_max"},
	    {{0, 1, 60, -0.1}, "jitter"},      {{0, 1, 60, 1}, "jitter"},
	    {{0, 1, 60, NAN}, "jitter"},
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fed_error_clear(&err);
		o = bad[i].o;
		CHECK_INT(fed_queue_new(&q, loop, &o, sync_fn, NULL, &err), FED_EINVAL);
		CHECK(q == NULL);
		CHECK_HAS(err.msg, bad[i].field);
	}
	CHECK_INT(fed_queue_new(&q, NULL, NULL, sync_fn, NULL, &err), FED_EINVAL);
	CHECK_INT(fed_queue_new(&q, loop, NULL, NULL, NULL, &err), FED_EINVAL);
	CHECK_INT(fed_queue_new(&q, loop, NULL, sync_fn, NULL, &err), 0);
	CHECK_INT(fed_queue_add(q, NULL), FED_EINVAL);
	CHECK_INT(fed_queue_len(q), 0);
	CHECK(fed_queue_backoff(q, NULL) == 0);
	fed_queue_free(q);
	ev_loop_destroy(loop);
}

/* every allocation failure is FED_ENOMEM, leaves nothing behind (ASan)
 * and the queue still works after */
static void out_of_memory(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct rec r;
	long n;
	int rc;

	memset(&r, 0, sizeof(r));
	r.loop = ev_loop_new(EVFLAG_AUTO);
	r.res = FED_QUEUE_DONE;
	for (n = 0;; n++) {
		alloc_fail_at(n);
		rc = fed_queue_new(&r.q, r.loop, NULL, sync_fn, &r, &err);
		alloc_fail_off();
		if (!rc)
			break;
		CHECK_INT(rc, FED_ENOMEM);
		CHECK(r.q == NULL);
	}
	for (n = 0;; n++) {
		alloc_fail_at(n);
		rc = fed_queue_add(r.q, "ns/a");
		alloc_fail_off();
		if (!rc)
			break;
		CHECK_INT(rc, FED_ENOMEM);
		CHECK_INT(fed_queue_len(r.q), 0);
	}
	CHECK(n > 0);
	for (n = 0;; n++) {
		alloc_fail_at(n);
		rc = fed_queue_add_after(r.q, "ns/b", 0.01);
		alloc_fail_off();
		if (!rc)
			break;
		CHECK_INT(rc, FED_ENOMEM);
	}
	for (n = 0;; n++) {
		alloc_fail_at(n);
		rc = fed_queue_reset(r.q, "ns/c");
		alloc_fail_off();
		if (!rc)
			break;
		CHECK_INT(rc, FED_ENOMEM);
	}
	run_until(&r, 3, 5);
	CHECK_INT(r.n, 3);
	CHECK_STR(r.keys[0], "ns/a");
	CHECK_STR(r.keys[1], "ns/c");
	CHECK_STR(r.keys[2], "ns/b");
	teardown(&r);
}

int main(void)
{
	RUN(dedup_and_fifo);
	RUN(add_from_sync_runs_next_batch);
	RUN(debounce_batches);
	RUN(pending_dirty_runs_once_after);
	RUN(pending_failed_backs_off);
	RUN(done_from_inside_sync);
	RUN(add_from_pending_sync);
	RUN(retry_doubles_to_max_with_jitter);
	RUN(jitter_spreads);
	RUN(done_resets_and_hold);
	RUN(done_cancels_retry);
	RUN(reset_runs_now);
	RUN(add_after_waits);
	RUN(add_after_keeps_retry);
	RUN(forget_drops_state);
	RUN(forget_from_own_sync);
	RUN(forget_later_key_of_batch);
	RUN(free_with_timers_armed);
	RUN(bad_arguments);
	RUN(out_of_memory);
	return CHECK_EXIT();
}
