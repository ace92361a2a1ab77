/* Base64 codec (see include/fed/base64.h). Written out rather than over
 * EVP_DecodeBlock, which wants full quads, counts padding as output bytes
 * and knows one alphabet: every caller had to patch those up itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fed/base64.h"
#include "fed/error.h"

static const char std_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int value(enum fed_base64_alphabet a, unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (a == FED_BASE64_URL ? '-' : '+'))
		return 62;
	if (c == (a == FED_BASE64_URL ? '_' : '/'))
		return 63;
	return -1;
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int fed_base64_decode(enum fed_base64_alphabet a, const char *in, size_t len, char **out,
                      size_t *outlen)
{
	unsigned char *dec = NULL;
	size_t i, n = 0, pad = 0, o = 0;
	uint32_t acc = 0;
	int ret = FED_EINVAL;

	*out = NULL;
	if (outlen)
		*outlen = 0;
	/* a first pass counts and validates, so the output is sized once */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (is_space(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || value(a, c) < 0)
			goto out;
		n++;
	}
	if (n % 4 == 1 || pad > 2 || (pad && (n + pad) % 4))
		goto out;
	ret = FED_ENOMEM;
	if (!(dec = malloc(n / 4 * 3 + 3)))
		goto out;
	for (i = 0, n = 0; i < len; i++) {
		int v = value(a, (unsigned char)in[i]);
		if (v < 0)
			continue; /* whitespace or padding: validated above */
		acc = acc << 6 | (uint32_t)v;
		if (++n % 4 == 0) {
			dec[o++] = (unsigned char)(acc >> 16);
			dec[o++] = (unsigned char)(acc >> 8);
			dec[o++] = (unsigned char)acc;
			acc = 0;
		}
	}
	if (n % 4 == 2) {
		dec[o++] = (unsigned char)(acc >> 4);
	} else if (n % 4 == 3) {
		dec[o++] = (unsigned char)(acc >> 10);
		dec[o++] = (unsigned char)(acc >> 2);
	}
	dec[o] = '\0';
	*out = (char *)dec;
	if (outlen)
		*outlen = o;
	dec = NULL;
	ret = 0;
out:
	acc = 0;
	OPENSSL_cleanse(&acc, sizeof(acc));
	free(dec);
	return ret;
}

int fed_base64_encode(enum fed_base64_alphabet a, struct fed_buf *b, const void *in, size_t len)
{
	const char *chars = a == FED_BASE64_URL ? url_chars : std_chars;
	const unsigned char *p = in;
	size_t need = (len + 2) / 3 * 4, i;
	char *w;

	if (len > SIZE_MAX / 2 || fed_buf_grow(b, need))
		return FED_ENOMEM;
	w = b->data + b->len;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*w++ = chars[v >> 18];
		*w++ = chars[(v >> 12) & 63];
		*w++ = chars[(v >> 6) & 63];
		*w++ = chars[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*w++ = chars[v >> 18];
		*w++ = chars[(v >> 12) & 63];
		if (a == FED_BASE64_STD) {
			*w++ = '=';
			*w++ = '=';
		}
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*w++ = chars[v >> 18];
		*w++ = chars[(v >> 12) & 63];
		*w++ = chars[(v >> 6) & 63];
		if (a == FED_BASE64_STD)
			*w++ = '=';
	}
	b->len = (size_t)(w - b->data);
	b->data[b->len] = '\0';
	return 0;
}

char *fed_base64_encode_str(const void *in, size_t len)
{
	struct fed_buf b = FED_BUF_INIT;

	if (fed_base64_encode(FED_BASE64_STD, &b, in, len)) {
		fed_buf_release(&b);
		return NULL;
	}
	return fed_buf_detach(&b);
}
