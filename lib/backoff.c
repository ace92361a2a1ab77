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

void fed_backoff_reset(struct fed_backoff *b)
{
	b->cur = 0;
}

double fed_jitter(double d, double lo, double hi)
{
	return d * (lo + (hi - lo) * ((double)rand() / RAND_MAX));
}
