/* Exponential backoff with jitter, the one copy of the doubling rule that
 * the informers, request retries, fed_queue and the tunnel's retries use:
 * the first wait is min, each further one doubles up to max, a success
 * starts over. A value type: embed it and fed_backoff_init() it. */
#ifndef FED_BACKOFF_H
#define FED_BACKOFF_H

struct fed_backoff {
	double min, max; /* seconds */
	double cur;      /* the last wait handed out, 0: none since the reset */
};

void fed_backoff_init(struct fed_backoff *b, double min, double max);
/* The next base wait: min, 2 min, 4 min, ... max. */
double fed_backoff_next(struct fed_backoff *b);
/* The n-th wait (n = 0 for the first) of a fresh backoff: min * 2^n, at
 * most max; for callers that count attempts instead of keeping one. */
double fed_backoff_nth(double min, double max, int n);
/* A success: the next wait is min again. */
void fed_backoff_reset(struct fed_backoff *b);
/* d times a random factor in [lo, hi], so that many waiters spread out. */
double fed_jitter(double d, double lo, double hi);

#endif
