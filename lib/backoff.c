/* Exponential backoff with jitter (see include/fed/backoff.h). */
#include <stdlib.h>

#include "fed/backoff.h"

void fed_backoff_init(struct fed_backoff *b, double min, double max)
{
	b->min = min;
	b->max = max < min ? min : max;
	b->cur = 0;
}

double fed_backoff_next(struct fed_backoff *b)
{
	b->cur = b->cur > 0 ? b->cur * 2 : b->min;
	if (b->cur > b->max)
		b->cur = b->max;
	return b->cur;
}

double fed_backoff_nth(double min, double max, int n)
{
	struct fed_backoff b;
	int i;

	fed_backoff_init(&b, min, max);
	for (i = 0; i <= n && b.cur < b.max; i++)
		fed_backoff_next(&b);
	return b.cur;
}

void fed_backoff_reset(struct fed_backoff *b)
{
	b->cur = 0;
}

double fed_jitter(double d, double lo, double hi)
{
	return d * (lo + (hi - lo) * ((double)rand() / RAND_MAX));
}
