/* fed_base64 (lib/base64.c) on arbitrary bytes. Both alphabets: the
 * input encoded and decoded again must give the input back (the output
 * only of the alphabet's characters, '=' padding for STD alone); the
 * input decoded, when accepted, must be NUL-terminated, no longer than
 * 3/4 of the input, and survive encode -> decode unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fed/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const alphabet[] = {
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
};

/* encode in[0..n) with a, decode it again: the bytes must come back */
static void round_trip(enum fed_base64_alphabet a, const void *in, size_t n)
{
	struct fed_buf b = FED_BUF_INIT;
	char *back = NULL;
	size_t blen = 0;

	if (fed_base64_encode(a, &b, in, n))
		goto out; /* out of memory only */
	if (b.len != (a == FED_BASE64_STD ? (n + 2) / 3 * 4 : (n * 4 + 2) / 3) ||
	    strspn(fed_buf_str(&b), alphabet[a]) != b.len)
		abort();
	if (fed_base64_decode(a, b.data, b.len, &back, &blen))
		abort();
	if (blen != n || (n && memcmp(back, in, n)) || back[blen] != '\0')
		abort();
out:
	free(back);
	fed_buf_release(&b);
}

static void decode(enum fed_base64_alphabet a, const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t n = 0;
	int rc = fed_base64_decode(a, (const char *)data, size, &out, &n);

	if (rc) {
		if (out || n || (rc != FED_EINVAL && rc != FED_ENOMEM))
			abort();
		return;
	}
	if (!out || n > size / 4 * 3 + 2 || out[n] != '\0')
		abort();
	round_trip(a, out, n);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode(FED_BASE64_STD, data, size);
	decode(FED_BASE64_URL, data, size);
	round_trip(FED_BASE64_STD, data, size);
	round_trip(FED_BASE64_URL, data, size);
	return 0;
}
