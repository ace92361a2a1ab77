/* fed_status_writer: no write when unchanged, one write in flight, the
 * newest submit wins, a failed write is written again, start errors. */
#include <stdlib.h>
#include <string.h>

#include "alloc_fail.h"
#include "check.h"
#include "fed/workqueue.h"

struct fake {
	struct fed_status_writer *w;
	int n;           /* writes started */
	char last[64];   /* body of the last write started */
	int fail_start;  /* next start fails with this code (once) */
	int done_inline; /* 1: done(ok) from inside the write, 2: done(!ok) */
};

static int write_fn(void *ud, const char *body, struct fed_error *err)
{
	struct fake *f = ud;

	if (f->fail_start) {
		int rc = f->fail_start;
		f->fail_start = 0;
		return fed_error_set(err, rc, "server unavailable");
	}
	f->n++;
	snprintf(f->last, sizeof(f->last), "%s", body);
	if (f->done_inline)
		fed_status_writer_done(f->w, f->done_inline == 1, err);
	return 0;
}

static void setup(struct fake *f, struct fed_status_writer *w)
{
	memset(f, 0, sizeof(*f));
	f->w = w;
	fed_status_writer_init(w, write_fn, f);
}

static void unchanged_writes_nothing(void)
{
	struct fed_status_writer w;
	struct fake f;
	struct fed_error err = FED_ERROR_INIT;

	setup(&f, &w);
	CHECK(fed_status_writer_wants(&w, "v1"));
	CHECK_INT(fed_status_writer_submit(&w, "v1", "body1", &err), 0);
	CHECK_INT(f.n, 1);
	CHECK_STR(f.last, "body1");
	CHECK_INT(fed_status_writer_done(&w, true, &err), 0);
	/* same version, other body (a new time): no write */
	CHECK(!fed_status_writer_wants(&w, "v1"));
	CHECK_INT(fed_status_writer_submit(&w, "v1", "body1 later", &err), 0);
	CHECK_INT(f.n, 1);
	CHECK_INT(fed_status_writer_submit(&w, "v2", "body2", &err), 0);
	CHECK_INT(f.n, 2);
	CHECK_STR(f.last, "body2");
	CHECK_INT(w.writes, 2);
	/* a stray done: nothing */
	CHECK_INT(fed_status_writer_done(&w, true, &err), 0);
	CHECK_INT(fed_status_writer_done(&w, true, &err), 0);
	CHECK_INT(f.n, 2);
	fed_status_writer_release(&w);
}

static void one_in_flight_last_wins(void)
{
	struct fed_status_writer w;
	struct fake f;
	struct fed_error err = FED_ERROR_INIT;

	setup(&f, &w);
	CHECK_INT(fed_status_writer_submit(&w, "v1", "body1", &err), 0);
	CHECK_INT(fed_status_writer_submit(&w, "v2", "body2", &err), 0);
	CHECK_INT(fed_status_writer_submit(&w, "v3", "body3", &err), 0);
	CHECK_INT(f.n, 1);
	CHECK(!fed_status_writer_wants(&w, "v3"));
	CHECK(fed_status_writer_wants(&w, "v2"));
	CHECK_INT(fed_status_writer_done(&w, true, &err), 0);
	CHECK_INT(f.n, 2);
	CHECK_STR(f.last, "body3");
	CHECK_INT(fed_status_writer_done(&w, true, &err), 0);
	CHECK_INT(f.n, 2);
	CHECK(!fed_status_writer_wants(&w, "v3"));
	CHECK_INT(fed_status_writer_assume(&w, NULL), 0);
	CHECK(!fed_status_writer_wants(&w, "v3"));
	fed_status_writer_release(&w);
}

static void back_to_in_flight_drops_waiting(void)
{
	struct fed_status_writer w;
	struct fake f;
	struct fed_error err = FED_ERROR_INIT;

	setup(&f, &w);
	CHECK_INT(fed_status_writer_submit(&w, "v1", "body1", &err), 0);
	CHECK_INT(fed_status_writer_submit(&w, "v2", "body2", &err), 0);
	/* the newest is again what is in flight: nothing waits */
	CHECK_INT(fed_status_writer_submit(&w, "v1", "body1b", &err), 0);
	CHECK(!fed_status_writer_wants(&w, "v1"));
	CHECK_INT(fed_status_writer_done(&w, true, &err), 0);
	CHECK_INT(f.n, 1);
	fed_status_writer_release(&w);
}

static void failure_is_written_again(void)
{
	struct fed_status_writer w;
	struct fake f;
	struct fed_error err = FED_ERROR_INIT;

	setup(&f, &w);
	CHECK_INT(fed_status_writer_submit(&w, "v1", "body1", &err), 0);
	CHECK_INT(fed_status_writer_done(&w, false, &err), 0);
	CHECK(fed_status_writer_wants(&w, "v1"));
	CHECK_INT(fed_status_writer_submit(&w, "v1", "body1", &err), 0);
	CHECK_INT(f.n, 2);
	CHECK_INT(fed_status_writer_done(&w, true, &err), 0);
	CHECK(!fed_status_writer_wants(&w, "v1"));
	/* failed with a newer one waiting: the newer one goes out */
	CHECK_INT(fed_status_writer_submit(&w, "v2", "body2", &err), 0);
	CHECK_INT(fed_status_writer_submit(&w, "v3", "body3", &err), 0);
	CHECK_INT(fed_status_writer_done(&w, false, &err), 0);
	CHECK_INT(f.n, 4);
	CHECK_STR(f.last, "body3");
	/* the newest went back to what was in flight, which failed: it stands
	 * as not written, nothing else goes out */
	CHECK_INT(fed_status_writer_done(&w, true, &err), 0);
	CHECK_INT(fed_status_writer_submit(&w, "v4", "body4", &err), 0);
	CHECK_INT(fed_status_writer_submit(&w, "v5", "body5", &err), 0);
	CHECK_INT(fed_status_writer_submit(&w, "v4", "body4", &err), 0); /* back to v4 */
	CHECK_INT(fed_status_writer_done(&w, false, &err), 0);
	CHECK_INT(f.n, 5); /* nothing waited */
	CHECK(fed_status_writer_wants(&w, "v4"));
	fed_status_writer_release(&w);
}

static void start_errors(void)
{
	struct fed_status_writer w;
	struct fake f;
	struct fed_error err = FED_ERROR_INIT;

	setup(&f, &w);
	CHECK_INT(fed_status_writer_submit(&w, "v1", "body1", &err), 0);
	CHECK_INT(fed_status_writer_done(&w, true, &err), 0);
	/* a write that cannot start: what stood written still stands */
	f.fail_start = FED_EUNAVAILABLE;
	CHECK_INT(fed_status_writer_submit(&w, "v2", "body2", &err), FED_EUNAVAILABLE);
	CHECK_HAS(err.msg, "unavailable");
	CHECK(!fed_status_writer_wants(&w, "v1"));
	CHECK(fed_status_writer_wants(&w, "v2"));
	CHECK_INT(fed_status_writer_submit(&w, "v2", "body2", &err), 0);
	CHECK_INT(f.n, 2);
	/* the waiting one cannot start when the write ends: done says so */
	CHECK_INT(fed_status_writer_submit(&w, "v3", "body3", &err), 0);
	f.fail_start = FED_ENOMEM;
	fed_error_clear(&err);
	CHECK_INT(fed_status_writer_done(&w, true, &err), FED_ENOMEM);
	CHECK(!fed_status_writer_wants(&w, "v2"));
	CHECK(fed_status_writer_wants(&w, "v3"));
	CHECK_INT(fed_status_writer_submit(&w, "v3", "body3", &err), 0);
	CHECK_INT(f.n, 3);
	CHECK_INT(fed_status_writer_submit(&w, NULL, "x", &err), FED_EINVAL);
	CHECK_INT(fed_status_writer_submit(&w, "v9", NULL, &err), FED_EINVAL);
	CHECK(fed_status_writer_wants(&w, NULL));
	fed_status_writer_release(&w);
}

static void done_inside_write(void)
{
	struct fed_status_writer w;
	struct fake f;
	struct fed_error err = FED_ERROR_INIT;

	setup(&f, &w);
	f.done_inline = 1;
	CHECK_INT(fed_status_writer_submit(&w, "v1", "body1", &err), 0);
	CHECK(!w.inflight);
	CHECK(!fed_status_writer_wants(&w, "v1"));
	f.done_inline = 2;
	CHECK_INT(fed_status_writer_submit(&w, "v2", "body2", &err), 0);
	CHECK(!w.inflight);
	CHECK(fed_status_writer_wants(&w, "v2"));
	f.done_inline = 0;
	CHECK_INT(fed_status_writer_submit(&w, "v2", "body2", &err), 0);
	CHECK_INT(f.n, 3);
	fed_status_writer_release(&w);
}

static void assume_known_content(void)
{
	struct fed_status_writer w;
	struct fake f;
	struct fed_error err = FED_ERROR_INIT;

	setup(&f, &w);
	/* after a restart the object already shows v1 */
	CHECK_INT(fed_status_writer_assume(&w, "v1"), 0);
	CHECK_INT(fed_status_writer_submit(&w, "v1", "body1", &err), 0);
	CHECK_INT(f.n, 0);
	CHECK_INT(fed_status_writer_submit(&w, "v2", "body2", &err), 0);
	CHECK_INT(f.n, 1);
	/* ignored while a write is in flight */
	CHECK_INT(fed_status_writer_assume(&w, "v7"), 0);
	CHECK(fed_status_writer_wants(&w, "v7"));
	CHECK_INT(fed_status_writer_assume(&w, NULL), 0);
	/* release with a write in flight and one waiting (ASan: no leak) */
	CHECK_INT(fed_status_writer_submit(&w, "v3", "body3", &err), 0);
	fed_status_writer_release(&w);
	fed_status_writer_release(&w);
	fed_status_writer_release(NULL);
}

/* every allocation failure is FED_ENOMEM and changes nothing */
static void out_of_memory(void)
{
	struct fed_status_writer w;
	struct fake f;
	struct fed_error err = FED_ERROR_INIT;
	long n;
	int rc;

	setup(&f, &w);
	for (n = 0;; n++) {
		alloc_fail_at(n);
		rc = fed_status_writer_submit(&w, "v1", "body1", &err);
		alloc_fail_off();
		if (!rc)
			break;
		CHECK_INT(rc, FED_ENOMEM);
		CHECK_INT(f.n, 0);
		CHECK(fed_status_writer_wants(&w, "v1"));
	}
	/* waiting behind the write in flight */
	for (n = 0;; n++) {
		alloc_fail_at(n);
		rc = fed_status_writer_submit(&w, "v2", "body2", &err);
		alloc_fail_off();
		if (!rc)
			break;
		CHECK_INT(rc, FED_ENOMEM);
		CHECK(fed_status_writer_wants(&w, "v2"));
	}
	CHECK(!fed_status_writer_wants(&w, "v2"));
	CHECK_INT(fed_status_writer_done(&w, true, &err), 0);
	CHECK_INT(f.n, 2);
	CHECK_STR(f.last, "body2");
	CHECK_INT(fed_status_writer_done(&w, true, &err), 0);
	for (n = 0;; n++) {
		alloc_fail_at(n);
		rc = fed_status_writer_assume(&w, "v3");
		alloc_fail_off();
		if (!rc)
			break;
		CHECK_INT(rc, FED_ENOMEM);
		CHECK(fed_status_writer_wants(&w, "v3"));
	}
	CHECK(!fed_status_writer_wants(&w, "v3"));
	CHECK_INT(fed_status_writer_assume(&w, NULL), 0);
	CHECK(!fed_status_writer_wants(&w, "v3"));
	fed_status_writer_release(&w);
}

int main(void)
{
	RUN(unchanged_writes_nothing);
	RUN(one_in_flight_last_wins);
	RUN(back_to_in_flight_drops_waiting);
	RUN(failure_is_written_again);
	RUN(start_errors);
	RUN(done_inside_write);
	RUN(assume_known_content);
	RUN(out_of_memory);
	return CHECK_EXIT();
}
