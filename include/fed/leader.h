/* Leader election on a coordination.k8s.io/v1 Lease, with client-go's
 * leaderelection semantics, driven by the client's libev loop (nothing
 * blocks). See docs/leader-election.md.
 *
 *   - A candidate GETs the Lease every retry_period (jittered by a factor of
 *     1.2, like wait.JitterUntil); it CREATEs it when absent, and UPDATEs it
 *     (resourceVersion precondition) when it is free or expired. A lease
 *     held by another identity is expired when lease_duration (the record's
 *     leaseDurationSeconds) has passed on OUR monotonic clock since we last
 *     saw the record change; the holder's renewTime is never compared with
 *     our clock.
 *   - The leader renews every retry_period. If no renewal succeeds within
 *     renew_deadline of the last successful one (measured from when that
 *     request was sent), it stops leading at once, before any other
 *     candidate can consider the lease expired.
 *   - Beyond client-go (unless poll_only): a watch on the Lease records each
 *     change when it happens rather than at the next poll, and a candidate
 *     attempts as soon as the lease is released or expires, so a crashed
 *     leader is replaced lease_duration after its last renewal, not up to
 *     2 x 2.2 retry periods later. Decisions stay the same as client-go's.
 *
 * Callbacks run on the loop, never inside fed_leader_new/start, with one
 * exception: fed_leader_release() calls on_stopped_leading before it
 * returns, so that the caller has stopped acting before the lease is given
 * up. Any callback may call fed_leader_free() on its own elector.
 *
 * Use a client of its own for the elector (fed_kube_client_new with the
 * same rest config): renewals must not queue behind the controller's
 * requests in a shared client's rate limiter. */
#ifndef FED_LEADER_H
#define FED_LEADER_H

#include <stdbool.h>
#include <time.h>

#include "fed/error.h"
#include "fed/kube.h"

struct fed_leader;

#define FED_LEADER_LEASE_DURATION 15.0
#define FED_LEADER_RENEW_DEADLINE 10.0
#define FED_LEADER_RETRY_PERIOD   2.0
#define FED_LEADER_JITTER         1.2

struct fed_leader_callbacks {
	/* we acquired the lease: start acting */
	void (*on_started_leading)(void *ud);
	/* we lost it, could not renew it in time, or released it: stop acting
	 * now (cancel writes in flight: the server may still apply them) */
	void (*on_stopped_leading)(void *ud);
	/* the observed holder changed (ours included; "" when released) */
	void (*on_new_leader)(const char *identity, void *ud);
	/* fed_leader_release() finished: err NULL when the lease was given up
	 * or was not ours, else why not (it then expires on its own) */
	void (*on_released)(const struct fed_error *err, void *ud);
};

struct fed_leader_opts {
	const char *lease_namespace; /* required */
	const char *lease_name;      /* required */
	const char *identity;        /* NULL: hostname + "_" + random UUID */
	double lease_duration;       /* seconds, whole; 0: 15 */
	double renew_deadline;       /* seconds; 0: 10; < lease_duration */
	double retry_period;         /* seconds; 0: 2; 1.2 * retry_period < renew_deadline */
	bool poll_only;              /* no watch on the Lease: exactly client-go's polling */
	struct fed_leader_callbacks cb;
	void *ud;
};

struct fed_leader_status {
	bool leading;
	bool started;
	bool released;
	const char *identity; /* ours; borrowed */
	const char *holder;   /* last observed holderIdentity, "" if none; borrowed */
	long transitions;     /* last observed leaseTransitions */
	double observed_at;   /* fed_leader_now() when the record last changed, 0 never */
	double renewed_at;    /* fed_leader_now() when the last successful acquire or
	                         renewal was SENT, 0 never */
	double deadline;      /* renewed_at + renew_deadline while leading, else 0 */
	bool watching;        /* the watch on the Lease is open */
};

/* The elector keeps a pointer to the client, which must outlive it. */
int fed_leader_new(struct fed_leader **out, struct fed_kube_client *c,
                   const struct fed_leader_opts *o, struct fed_error *err);
/* Start campaigning (from the loop: the first GET goes out on its next
 * iteration). Once only. */
int fed_leader_start(struct fed_leader *le, struct fed_error *err);
/* True while leading. Also false once the renew deadline has passed, even
 * if the loop has not yet run the timer that calls on_stopped_leading. */
bool fed_leader_is_leader(const struct fed_leader *le);
void fed_leader_status(const struct fed_leader *le, struct fed_leader_status *out);
/* Graceful shutdown (client-go's ReleaseOnCancel): stop leading (calls
 * on_stopped_leading before returning), stop campaigning, and if the lease
 * is ours set holderIdentity "" and leaseDurationSeconds 1 so a standby
 * takes over at its next retry. on_released runs when that is done; keep
 * the loop running until then. The elector then stays idle until freed. */
void fed_leader_release(struct fed_leader *le);
/* Stops everything without touching the lease and without callbacks (a
 * crash, as far as the other candidates can tell: they take over when the
 * lease expires). Safe from inside the elector's callbacks; NULL is fine. */
void fed_leader_free(struct fed_leader *le);

/* CLOCK_MONOTONIC in seconds: the clock behind every expiry decision. */
double fed_leader_now(void);

/* ---- pure logic, exposed for tests ---- */

/* The election record of a Lease's spec. Strings are owned ("" if absent). */
struct fed_leader_record {
	char *holder;
	long duration_s; /* leaseDurationSeconds, 0 if absent */
	char *acquire_time;
	char *renew_time;
	long transitions;
};

int fed_leader_record_parse(struct fed_leader_record *r, const cJSON *lease, struct fed_error *err);
void fed_leader_record_release(struct fed_leader_record *r);
/* Same holder, duration, times and transitions (client-go compares the raw
 * record: any change restarts the expiry clock). */
bool fed_leader_record_equal(const struct fed_leader_record *a, const struct fed_leader_record *b);

enum fed_leader_verdict {
	FED_LEADER_WAIT,    /* held by another identity and not expired */
	FED_LEADER_RENEW,   /* held by us */
	FED_LEADER_ACQUIRE, /* no holder, or expired */
};

/* When the observed record expires: observed_at + its leaseDurationSeconds
 * (fallback_s when the record has none: waiting longer is the safe side). */
double fed_leader_expiry(const struct fed_leader_record *r, double observed_at, double fallback_s);
enum fed_leader_verdict fed_leader_decide(const struct fed_leader_record *r, double observed_at,
                                          double now, const char *identity, double fallback_s);
/* wait.Jitter: period + u * factor * period, u in [0, 1). */
double fed_leader_jitter(double period, double factor, double u);

/* metav1.MicroTime: RFC 3339, UTC, microseconds: 2024-05-01T12:34:56.123456Z */
#define FED_LEADER_TIME_LEN 32
int fed_leader_time_format(char *buf, size_t len, const struct timespec *ts);
/* RFC 3339 with an optional fraction (up to 9 digits) and Z or +hh:mm. */
int fed_leader_time_parse(const char *s, struct timespec *ts);

#endif
