/* fed_backoff: doubling from min to max, reset, and jitter within its
 * bounds. */
#include "check.h"
#include "fed/backoff.h"

static void doubles_to_max_and_resets(void)
{
	struct fed_backoff b;
	const double want[] = {0.5, 1, 2, 4, 5, 5};
	size_t i;

	fed_backoff_init(&b, 0.5, 5);
	for (i = 0; i < sizeof(want) / sizeof(*want); i++)
		CHECK(fed_backoff_next(&b) == want[i]);
	fed_backoff_reset(&b);
	CHECK(fed_backoff_next(&b) == 0.5);
	/* max below min: min wins */
	fed_backoff_init(&b, 2, 1);
	CHECK(fed_backoff_next(&b) == 2);
	CHECK(fed_backoff_next(&b) == 2);
}

static void nth_counts_attempts(void)
{
	CHECK(fed_backoff_nth(0.1, 5, 0) == 0.1);
	CHECK(fed_backoff_nth(0.1, 5, 3) == 0.8);
	CHECK(fed_backoff_nth(0.1, 5, 100000) == 5);
	CHECK(fed_backoff_nth(1, 0.5, 2) == 1); /* max below min: min */
}

static void jitter_stays_in_bounds(void)
{
	int i;

	for (i = 0; i < 1000; i++) {
		double d = fed_jitter(10, 0.5, 1.0);
		CHECK(d >= 5 && d <= 10);
	}
	CHECK(fed_jitter(10, 1, 1) == 10);
}

int main(void)
{
	RUN(doubles_to_max_and_resets);
	RUN(nth_counts_attempts);
	RUN(jitter_stays_in_bounds);
	return CHECK_EXIT();
}
