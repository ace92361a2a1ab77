/* fed_base64: RFC 4648 vectors both ways, both alphabets, padding and
 * whitespace rules, and agreement with OpenSSL on random bytes. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "check.h"
#include "fed/base64.h"

static void rfc4648_vectors(void)
{
	static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	static const char *url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	size_t i, len;

	for (i = 0; i < sizeof(plain) / sizeof(*plain); i++) {
		struct fed_buf b = FED_BUF_INIT, u = FED_BUF_INIT;
		char *out = NULL;

		CHECK_INT(fed_base64_encode(FED_BASE64_STD, &b, plain[i], strlen(plain[i])), 0);
		CHECK_STR(b.data ? b.data : "", std[i]);
		CHECK_INT(fed_base64_encode(FED_BASE64_URL, &u, plain[i], strlen(plain[i])), 0);
		CHECK_STR(u.data ? u.data : "", url[i]);
		CHECK_INT(fed_base64_decode(FED_BASE64_STD, std[i], strlen(std[i]), &out, &len), 0);
		CHECK_STR(out, plain[i]);
		CHECK_INT(len, strlen(plain[i]));
		free(out);
		/* padding is optional on decode */
		CHECK_INT(fed_base64_decode(FED_BASE64_STD, url[i], strlen(url[i]), &out, &len), 0);
		CHECK_STR(out, plain[i]);
		free(out);
		CHECK_INT(fed_base64_decode(FED_BASE64_URL, url[i], strlen(url[i]), &out, &len), 0);
		CHECK_STR(out, plain[i]);
		free(out);
		fed_buf_release(&b);
		fed_buf_release(&u);
	}
}

static void rejects(void)
{
	static const char *bad[] = {"Y", "YQ=x", "YQ===", "YWJj=", "Zm9v!", "=YQ", "Y=Q="};
	size_t i;
	char *out = (char *)1;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		CHECK_INT(fed_base64_decode(FED_BASE64_STD, bad[i], strlen(bad[i]), &out, NULL),
		          FED_EINVAL);
		CHECK(out == NULL);
	}
	/* each alphabet refuses the other's two characters */
	CHECK_INT(fed_base64_decode(FED_BASE64_STD, "Y-_Q", 4, &out, NULL), FED_EINVAL);
	CHECK_INT(fed_base64_decode(FED_BASE64_URL, "Y+/Q", 4, &out, NULL), FED_EINVAL);
}

static void whitespace_and_binary(void)
{
	char *out = NULL;
	size_t len = 0;

	/* line-wrapped input, as PEM and kubectl's output */
	CHECK_INT(fed_base64_decode(FED_BASE64_STD, " Zm9v\nYmFy\r\n", 12, &out, &len), 0);
	CHECK_STR(out, "foobar");
	free(out);
	/* NUL bytes survive and are counted */
	CHECK_INT(fed_base64_decode(FED_BASE64_STD, "AGEA", 4, &out, &len), 0);
	CHECK_INT(len, 3);
	CHECK(out[0] == '\0' && out[1] == 'a' && out[2] == '\0' && out[3] == '\0');
	free(out);
	/* only whitespace: empty */
	CHECK_INT(fed_base64_decode(FED_BASE64_STD, " \n", 2, &out, &len), 0);
	CHECK_INT(len, 0);
	free(out);
}

static void agrees_with_openssl(void)
{
	unsigned char raw[200], ref[400];
	int round;

	for (round = 0; round < 200; round++) {
		size_t n = (size_t)round % sizeof(raw), len = 0;
		struct fed_buf b = FED_BUF_INIT;
		char *back = NULL;

		CHECK_INT(RAND_bytes(raw, (int)sizeof(raw)), 1);
		EVP_EncodeBlock(ref, raw, (int)n);
		CHECK_INT(fed_base64_encode(FED_BASE64_STD, &b, raw, n), 0);
		CHECK_STR(b.data, (char *)ref);
		CHECK_INT(fed_base64_decode(FED_BASE64_STD, b.data, b.len, &back, &len), 0);
		CHECK_INT(len, n);
		CHECK(back && !memcmp(back, raw, n));
		free(back);
		fed_buf_release(&b);
	}
}

int main(void)
{
	RUN(rfc4648_vectors);
	RUN(rejects);
	RUN(whitespace_and_binary);
	RUN(agrees_with_openssl);
	return CHECK_EXIT();
}
