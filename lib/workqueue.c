/* fed_queue: keys wait in FIFO order on a ready list; a zero-delay (or
 * debounce) timer moves the ready list to a batch and runs it, so keys
 * added during a batch run in the next one. Per key, one timer serves
 * both the backoff retry and fed_queue_add_after. A key's state is freed
 * as soon as it holds nothing (not queued, running, pending, dirty,
 * backing off or waiting), so the map only holds keys with work. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fed/backoff.h"
#include "fed/map.h"
#include "fed/workqueue.h"

enum wait_kind { WAIT_NONE = 0, WAIT_RETRY, WAIT_AFTER };

struct qlist {
	struct qkey *head, *tail;
	size_t len;
};

struct qkey {
	struct fed_queue *q;
	char *key;
	struct qkey *prev, *next;
	struct qlist *on; /* the list it waits on, NULL: not queued */
	ev_timer timer;
	enum wait_kind wait;
	struct fed_backoff backoff; /* its base wait (cur 0: none) */
	bool running;               /* its sync is being called */
	bool pending;               /* its sync returned PENDING */
	bool dirty;                 /* added while running or pending */
	bool forgotten;             /* forgotten from its own sync: out of the map */
	int early_done;             /* fed_queue_done from its own sync: 1 ok, 2 failed */
};

struct fed_queue {
	struct ev_loop *loop;
	struct fed_queue_opts o;
	fed_queue_sync_fn fn;
	void *ud;
	struct fed_map keys; /* key -> struct qkey */
	struct qlist ready, batch;
	ev_timer kick;
	uint64_t rng;
	struct fed_queue_stats st;
};

static void list_push(struct qlist *l, struct qkey *k)
{
	k->prev = l->tail;
	k->next = NULL;
	if (l->tail)
		l->tail->next = k;
	else
		l->head = k;
	l->tail = k;
	l->len++;
	k->on = l;
}

static void list_unlink(struct qkey *k)
{
	struct qlist *l = k->on;

	if (!l)
		return;
	if (k->prev)
		k->prev->next = k->next;
	else
		l->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		l->tail = k->prev;
	l->len--;
	k->prev = k->next = NULL;
	k->on = NULL;
}

static void wait_stop(struct qkey *k)
{
	ev_timer_stop(k->q->loop, &k->timer);
	k->wait = WAIT_NONE;
}

static void key_free(struct qkey *k)
{
	list_unlink(k);
	wait_stop(k);
	free(k->key);
	free(k);
}

static void key_drop(struct qkey *k)
{
	key_free(fed_map_del(&k->q->keys, k->key));
}

static void enqueue(struct qkey *k)
{
	struct fed_queue *q = k->q;

	q->st.adds++;
	if (k->running || k->pending) {
		k->dirty = true;
		return;
	}
	if (k->on)
		return;
	list_push(&q->ready, k);
	if (!ev_is_active(&q->kick)) {
		ev_timer_set(&q->kick, q->o.debounce, 0.);
		ev_timer_start(q->loop, &q->kick);
	}
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct qkey *k = w->data;

	(void)loop;
	(void)revents;
	k->wait = WAIT_NONE;
	enqueue(k);
}

static struct qkey *key_get(struct fed_queue *q, const char *key)
{
	struct qkey *k = fed_map_get(&q->keys, key);

	if (k)
		return k;
	if (!(k = calloc(1, sizeof(*k))) || !(k->key = strdup(key))) {
		free(k);
		return NULL;
	}
	k->q = q;
	fed_backoff_init(&k->backoff, q->o.backoff_min, q->o.backoff_max);
	ev_timer_init(&k->timer, timer_cb, 0., 0.);
	k->timer.data = k;
	if (fed_map_put(&q->keys, key, k, NULL)) {
		key_free(k);
		return NULL;
	}
	return k;
}

/* uniform in [0, 1): xorshift64*, enough to spread retries */
static double rand01(struct fed_queue *q)
{
	q->rng ^= q->rng >> 12;
	q->rng ^= q->rng << 25;
	q->rng ^= q->rng >> 27;
	return (double)((q->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static void retry(struct qkey *k)
{
	struct fed_queue *q = k->q;
	double delay;

	delay = fed_backoff_next(&k->backoff) * (1. + q->o.jitter * (2. * rand01(q) - 1.));
	if (delay > q->o.backoff_max)
		delay = q->o.backoff_max;
	wait_stop(k);
	ev_timer_set(&k->timer, delay, 0.);
	ev_timer_start(q->loop, &k->timer);
	k->wait = WAIT_RETRY;
	q->st.retries++;
}

static void succeeded(struct qkey *k)
{
	fed_backoff_reset(&k->backoff);
	if (k->wait == WAIT_RETRY)
		wait_stop(k);
}

/* After a result (its sync has returned): run a dirty key again, free
 * one that holds nothing (a pending key keeps its dirty mark). */
static void settle(struct qkey *k)
{
	if (k->dirty && !k->pending) {
		k->dirty = false;
		enqueue(k);
	}
	if (!k->on && !k->pending && !k->backoff.cur && k->wait == WAIT_NONE)
		key_drop(k);
}

static void run(struct qkey *k)
{
	struct fed_queue *q = k->q;
	enum fed_queue_result res;

	k->running = true;
	k->early_done = 0;
	q->st.syncs++;
	res = q->fn(q->ud, k->key);
	k->running = false;
	if (k->forgotten) {
		key_free(k);
		return;
	}
	if (res == FED_QUEUE_PENDING && k->early_done)
		res = k->early_done == 1 ? FED_QUEUE_DONE : FED_QUEUE_RETRY;
	switch (res) {
	case FED_QUEUE_DONE:
		succeeded(k);
		break;
	case FED_QUEUE_RETRY:
		retry(k);
		break;
	case FED_QUEUE_PENDING:
		k->pending = true;
		q->st.pending++;
		break;
	case FED_QUEUE_KEEP:
		break;
	}
	settle(k);
}

static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_queue *q = w->data;
	struct qkey *k;

	(void)loop;
	(void)revents;
	/* take the batch: keys added by its syncs wait for the next one */
	q->batch = q->ready;
	for (k = q->batch.head; k; k = k->next)
		k->on = &q->batch;
	memset(&q->ready, 0, sizeof(q->ready));
	while ((k = q->batch.head)) {
		list_unlink(k);
		run(k);
	}
}

static int check_opts(const struct fed_queue_opts *o, struct fed_error *err)
{
	if (!(o->debounce >= 0))
		return fed_error_set(
		    err, FED_EINVAL,
		    "fed_queue: debounce must be >= 0 seconds (0: next iteration)");
	if (!(o->backoff_min > 0))
		return fed_error_set(err, FED_EINVAL,
		                     "fed_queue: backoff_min must be > 0 seconds (default 1)");
	if (!(o->backoff_max >= o->backoff_min))
		return fed_error_set(err, FED_EINVAL,
		                     "fed_queue: backoff_max must be >= backoff_min (default 60)");
	if (!(o->jitter >= 0 && o->jitter < 1))
		return fed_error_set(err, FED_EINVAL,
		                     "fed_queue: jitter must be in [0, 1) (default 0.1 for 10 %%)");
	return 0;
}

int fed_queue_new(struct fed_queue **out, struct ev_loop *loop, const struct fed_queue_opts *opts,
                  fed_queue_sync_fn fn, void *ud, struct fed_error *err)
{
	static const struct fed_queue_opts defaults = FED_QUEUE_OPTS_INIT;
	struct fed_queue *q = NULL;
	int rc;

	*out = NULL;
	if (!loop || !fn) {
		rc = fed_error_set(err, FED_EINVAL,
		                   "fed_queue: a loop and a sync function are needed");
		goto out;
	}
	if ((rc = check_opts(opts ? opts : &defaults, err)))
		goto out;
	if (!(q = calloc(1, sizeof(*q)))) {
		rc = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	q->loop = loop;
	q->o = opts ? *opts : defaults;
	q->fn = fn;
	q->ud = ud;
	fed_map_init(&q->keys);
	ev_timer_init(&q->kick, kick_cb, 0., 0.);
	q->kick.data = q;
	q->rng = ((uint64_t)(uintptr_t)q ^ (uint64_t)time(NULL) << 20) | 1;
	*out = q;
	q = NULL;
out:
	free(q);
	return rc;
}

void fed_queue_free(struct fed_queue *q)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	if (!q)
		return;
	ev_timer_stop(q->loop, &q->kick);
	for (e = fed_map_first(&q->keys, &it); e; e = fed_map_next(&q->keys, &it))
		key_free(e->value);
	fed_map_release(&q->keys, NULL);
	free(q);
}

int fed_queue_add(struct fed_queue *q, const char *key)
{
	struct qkey *k;

	if (!key)
		return FED_EINVAL;
	if (!(k = key_get(q, key)))
		return FED_ENOMEM;
	enqueue(k);
	return 0;
}

int fed_queue_add_after(struct fed_queue *q, const char *key, double seconds)
{
	struct qkey *k;

	if (!key || !(seconds >= 0))
		return FED_EINVAL;
	if (!(k = key_get(q, key)))
		return FED_ENOMEM;
	if (k->wait == WAIT_RETRY ||
	    (k->wait == WAIT_AFTER && ev_timer_remaining(q->loop, &k->timer) <= seconds))
		return 0;
	wait_stop(k);
	ev_timer_set(&k->timer, seconds, 0.);
	ev_timer_start(q->loop, &k->timer);
	k->wait = WAIT_AFTER;
	return 0;
}

int fed_queue_reset(struct fed_queue *q, const char *key)
{
	struct qkey *k;

	if (!key)
		return FED_EINVAL;
	if (!(k = key_get(q, key)))
		return FED_ENOMEM;
	succeeded(k);
	enqueue(k);
	return 0;
}

void fed_queue_done(struct fed_queue *q, const char *key, bool ok)
{
	struct qkey *k = key ? fed_map_get(&q->keys, key) : NULL;

	if (!k)
		return;
	if (k->running) {
		k->early_done = ok ? 1 : 2;
		return;
	}
	if (!k->pending)
		return;
	k->pending = false;
	q->st.pending--;
	if (ok)
		succeeded(k);
	else
		retry(k);
	settle(k);
}

void fed_queue_forget(struct fed_queue *q, const char *key)
{
	struct qkey *k = key ? fed_map_get(&q->keys, key) : NULL;

	if (!k)
		return;
	if (k->running) {
		/* out of the map now, so adds from the rest of the sync start
		 * afresh; run() frees it */
		fed_map_del(&q->keys, key);
		k->forgotten = true;
		wait_stop(k);
		return;
	}
	if (k->pending)
		q->st.pending--;
	key_drop(k);
}

double fed_queue_backoff(const struct fed_queue *q, const char *key)
{
	const struct qkey *k = key ? fed_map_get(&q->keys, key) : NULL;

	return k && k->wait == WAIT_RETRY ? k->backoff.cur : 0.;
}

size_t fed_queue_len(const struct fed_queue *q)
{
	return q->ready.len + q->batch.len;
}

void fed_queue_stats(const struct fed_queue *q, struct fed_queue_stats *out)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	*out = q->st;
	out->depth = fed_queue_len(q);
	out->backoff = 0;
	for (e = fed_map_first(&q->keys, &it); e; e = fed_map_next(&q->keys, &it))
		out->backoff += ((struct qkey *)e->value)->wait == WAIT_RETRY;
}
