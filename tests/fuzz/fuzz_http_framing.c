/* The framing of a member's response: arbitrary bytes fed at once and in
 * pieces must end (or fail) at the same place, and never report more
 * bytes used than fed. The first byte picks HEAD and the split size. */
#include <stdint.h>
#include <stdlib.h>

#include "fed/http_framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fed_http_framing a, b;

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1;
	size_t n, used, total = 0, step;
	int ra, rb = FED_HTTP_FRAMING_NEED_MORE;

	if (size < 1)
		return 0;
	n = size - 1;
	step = (size_t)(data[0] >> 1) % 7 + 1;
	fed_http_framing_init(&a, data[0] & 1);
	fed_http_framing_init(&b, data[0] & 1);
	ra = fed_http_framing_feed(&a, p, n, &used);
	check(used <= n);
	for (size_t i = 0; i < n && rb == FED_HTTP_FRAMING_NEED_MORE; i += step) {
		size_t k = n - i < step ? n - i : step, u;

		rb = fed_http_framing_feed(&b, p + i, k, &u);
		check(u <= k);
		total = i + u;
	}
	check(ra == rb || (ra == FED_HTTP_FRAMING_NEED_MORE && n == 0));
	if (ra == FED_HTTP_FRAMING_DONE)
		check(used == total && a.upgraded == b.upgraded && a.close == b.close);
	return 0;
}
