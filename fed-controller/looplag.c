/* Event-loop lag: a 100 ms one-shot timer, re-armed each time, records how
 * late it ran (ev_time() - when it was due) in the histogram
 * fed_loop_lag_seconds, and the largest lag since start in
 * fed_loop_lag_max_seconds. Every heartbeat, liveness check and Lease
 * renewal shares this loop, so a late timer here is a late one there: a
 * peer that starves the loop shows up as lag (bench/hostile reads it).
 * The ticks a stall swallowed count too, each as late as it would have
 * been (L - 0.1, L - 0.2, ...), or one 15 s stall among a thousand good
 * ticks would not reach the 99th percentile. Ten observations a second,
 * no allocation after start. */
#include <stdlib.h>

#include "controller.h"
#include "fed/log.h"

#define LOOPLAG_PERIOD   0.1
#define LOOPLAG_BACKFILL 3000 /* missed ticks counted per stall: 5 minutes */

struct looplag {
	ev_timer w;
	double due; /* ev_time() when the timer should run */
	double max;
	struct fed_metrics_series *hist, *gmax;
};

static void arm(struct ev_loop *loop, struct looplag *l)
{
	l->due = ev_time() + LOOPLAG_PERIOD;
	/* timers count from ev_now(), which may be behind ev_time() */
	ev_timer_set(&l->w, l->due - ev_now(loop), 0.);
	ev_timer_start(loop, &l->w);
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct looplag *l = w->data;
	double lag = ev_time() - l->due, missed;
	int n;

	if (lag < 0)
		lag = 0; /* clock granularity */
	fed_metrics_series_observe(l->hist, lag);
	for (missed = lag - LOOPLAG_PERIOD, n = 0; missed > 0 && n < LOOPLAG_BACKFILL;
	     missed -= LOOPLAG_PERIOD, n++)
		fed_metrics_series_observe(l->hist, missed);
	if (lag > l->max) {
		l->max = lag;
		fed_metrics_series_set(l->gmax, lag);
	}
	arm(loop, l);
}

int looplag_start(struct controller *ctl, struct fed_error *err)
{
	/* 1 ms (a busy but healthy loop) to 5 s (heartbeats already missed) */
	static const double buckets[] = {.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5};
	struct fed_metrics_family *hist, *gmax;
	struct looplag *l;
	int ret;

	if ((ret = fed_metrics_histogram(ctl->metrics, "fed_loop_lag_seconds",
	                                 "How late a 100 ms timer on the controller's event loop "
	                                 "ran: every timer (heartbeats, Lease renewals) is as late",
	                                 NULL, buckets, sizeof(buckets) / sizeof(buckets[0]), &hist,
	                                 err)) ||
	    (ret = fed_metrics_gauge(ctl->metrics, "fed_loop_lag_max_seconds",
	                             "Largest fed_loop_lag_seconds observation since start", NULL,
	                             &gmax, err)))
		return ret;
	l = calloc(1, sizeof(*l));
	if (!l)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	if ((ret = fed_metrics_series(hist, NULL, &l->hist)) ||
	    (ret = fed_metrics_series(gmax, NULL, &l->gmax))) {
		free(l);
		return fed_error_set(err, ret, "out of memory");
	}
	ev_init(&l->w, tick);
	l->w.data = l;
	ctl->looplag = l;
	arm(ctl->loop, l);
	return 0;
}

void looplag_stop(struct controller *ctl)
{
	if (!ctl->looplag)
		return;
	ev_timer_stop(ctl->loop, &ctl->looplag->w);
	free(ctl->looplag);
	ctl->looplag = NULL;
}
