/* Work queue and status writer for level-triggered controllers on a libev
 * loop.
 *
 * fed_queue: events name a key ("ns/name"); the queue runs the owner's
 * sync function once per key per batch, never twice at once for one key,
 * and keeps per key an exponential backoff with jitter for syncs that
 * failed. A sync may finish at once (DONE, RETRY, KEEP) or start async
 * work (PENDING) and report its end with fed_queue_done(); an add for a
 * key whose sync runs or is pending marks it dirty, and it runs once more
 * after, so a change made while writes were in flight is never lost.
 *
 * fed_status_writer: writes a status only when it changed, one write in
 * flight at a time (an older one could otherwise land last), the newest
 * submit waiting behind it (last one wins), and a failed write is written
 * again by the next submit.
 *
 * Nothing here blocks or logs; functions that can fail return 0 or a
 * negative enum fed_err and the caller logs. Not thread-safe: one loop. */
#ifndef FED_WORKQUEUE_H
#define FED_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "fed/error.h"

/* ---- fed_queue --------------------------------------------------------- */

struct fed_queue_opts {
	/* seconds from a batch's first add to its run: adds meanwhile join
	 * the batch (0: the next loop iteration) */
	double debounce;
	/* a key's first retry waits backoff_min, each further failure doubles
	 * it up to backoff_max; success (DONE) starts it over */
	double backoff_min, backoff_max;
	/* each wait is the backoff times a random factor in [1-jitter,
	 * 1+jitter] (never above backoff_max), so failing keys spread out */
	double jitter;
};

/* the defaults: next iteration, 1 s doubling to 60 s, ±10 % */
/* clang-format off */
#define FED_QUEUE_OPTS_INIT {0.0, 1.0, 60.0, 0.1}
/* clang-format on */

enum fed_queue_result {
	/* converged: the key's backoff is forgotten (a pending retry is
	 * cancelled; a wait from fed_queue_add_after stays) */
	FED_QUEUE_DONE = 0,
	/* failed: run again after the key's next backoff */
	FED_QUEUE_RETRY,
	/* async work started: the owner calls fed_queue_done() when it ends;
	 * adds meanwhile mark the key dirty and it runs again after */
	FED_QUEUE_PENDING,
	/* nothing was attempted (inputs not ready, or held by the backoff):
	 * backoff and timers stay as they are */
	FED_QUEUE_KEEP,
};

/* Called from the loop for each queued key (key valid during the call).
 * It may call any fed_queue function of its queue (add, add_after,
 * forget of any key, including its own) except fed_queue_free. */
typedef enum fed_queue_result (*fed_queue_sync_fn)(void *ud, const char *key);

struct fed_queue;

struct fed_queue_stats {
	uint64_t adds;    /* fed_queue_add calls, timers' and dirty re-runs included */
	uint64_t syncs;   /* sync function calls */
	uint64_t retries; /* backoffs armed (RETRY, or fed_queue_done not ok) */
	size_t depth;     /* keys waiting to run */
	size_t pending;   /* keys whose sync returned PENDING, not yet done */
	size_t backoff;   /* keys waiting for a retry */
};

/* opts NULL: FED_QUEUE_OPTS_INIT. FED_EINVAL (with a message naming the
 * field) for a negative debounce or jitter, jitter >= 1, backoff_min <= 0
 * or backoff_max < backoff_min; FED_ENOMEM. */
int fed_queue_new(struct fed_queue **out, struct ev_loop *loop, const struct fed_queue_opts *opts,
                  fed_queue_sync_fn fn, void *ud, struct fed_error *err);
/* NULL ok. Stops every timer; never calls back. Not from a sync. */
void fed_queue_free(struct fed_queue *q);

/* Queue key (copied) for the next batch; a key already queued is not
 * queued twice. A key whose sync runs or is pending is marked dirty
 * instead. A backoff does not delay an add: the sync runs now and can
 * ask fed_queue_backoff() whether to hold. 0, FED_EINVAL (NULL key) or
 * FED_ENOMEM. */
int fed_queue_add(struct fed_queue *q, const char *key);
/* Add key in `seconds` (e.g. to look again once the watch event of our
 * own write should have come). An earlier wait of the key wins; a
 * pending retry is not shortened (it runs the key anyway). 0, FED_EINVAL
 * (NULL key, negative seconds) or FED_ENOMEM. */
int fed_queue_add_after(struct fed_queue *q, const char *key, double seconds);
/* Forget the key's backoff (its retry is cancelled) and add it: the cause
 * of its failures went away (e.g. a missing namespace appeared). */
int fed_queue_reset(struct fed_queue *q, const char *key);
/* End of a PENDING sync: ok as DONE, !ok as RETRY; then a dirty key is
 * queued again. Called synchronously from the sync itself, it takes
 * effect once the sync returns PENDING. Unknown or not pending key:
 * nothing. Cancel async work before forgetting its key. */
void fed_queue_done(struct fed_queue *q, const char *key, bool ok);
/* The key is gone: drop all its state (queued run, dirty mark, backoff,
 * timers). From its own sync: the result is ignored. Unknown key:
 * nothing. */
void fed_queue_forget(struct fed_queue *q, const char *key);

/* Seconds of the key's current backoff while its retry waits, else 0:
 * a sync started by an add during a backoff sees > 0 and should keep
 * status current but leave what failed alone ("hold"), returning KEEP. */
double fed_queue_backoff(const struct fed_queue *q, const char *key);
/* Keys waiting to run. */
size_t fed_queue_len(const struct fed_queue *q);
void fed_queue_stats(const struct fed_queue *q, struct fed_queue_stats *out);

/* ---- fed_status_writer ------------------------------------------------- */

/* Start writing body (e.g. a PATCH of /status). Return 0 once started:
 * the owner then calls fed_status_writer_done() when the write ends (or
 * before returning, when it ends at once). Return a negative fed_err
 * (with err set) when it could not start: nothing is in flight then. */
typedef int (*fed_status_write_fn)(void *ud, const char *body, struct fed_error *err);

/* An embedded value: _init, then _release. Fields are private. */
struct fed_status_writer {
	fed_status_write_fn write;
	void *ud;
	char *written;      /* version written or being written, NULL: none */
	char *next_version; /* newest submit waiting for the write in flight */
	char *next_body;
	bool inflight;
	uint64_t writes; /* writes started */
};

void fed_status_writer_init(struct fed_status_writer *w, fed_status_write_fn write, void *ud);
/* Frees what it holds; NULL ok. Cancel the write in flight first: done
 * must not be called after. */
void fed_status_writer_release(struct fed_status_writer *w);

/* Whether a submit of version would write: false when it equals the
 * newest content written, in flight or waiting. version identifies the
 * content without volatile fields such as times (a fed_json_hash of the
 * status, or its canonical text). Lets an owner skip building a body. */
bool fed_status_writer_wants(const struct fed_status_writer *w, const char *version);
/* Write body when version differs from the newest content (see _wants).
 * With a write in flight, it waits (replacing an older waiting one) and
 * is written when that one ends. Returns 0 (written, waiting or
 * unchanged), FED_ENOMEM, or the write function's error: the content
 * then counts as not written, and the next submit tries again. */
int fed_status_writer_submit(struct fed_status_writer *w, const char *version, const char *body,
                             struct fed_error *err);
/* The write in flight ended. !ok: its content counts as not written, so
 * submitting it again writes it. Then the waiting submit, if it differs
 * from what stands written, is written: its start error is returned. */
int fed_status_writer_done(struct fed_status_writer *w, bool ok, struct fed_error *err);
/* The object is known to show version already (e.g. at the first look
 * after a restart): record it as written, so an equal submit writes
 * nothing. Ignored while a write is in flight. 0 or FED_ENOMEM. */
int fed_status_writer_assume(struct fed_status_writer *w, const char *version);

#endif
