/* fed_jwt_times: the times and subject of ServiceAccount tokens, and no
 * token text in its messages. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "check.h"
#include "fed/jwt.h"

/* header.payload.signature with payload as base64url without padding */
static char *make(const char *payload)
{
	unsigned char enc[1024];
	int n = EVP_EncodeBlock(enc, (const unsigned char *)payload, (int)strlen(payload)), i;
	char *out = malloc((size_t)n + 64);

	while (n > 0 && enc[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++)
		enc[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i];
	enc[n] = '\0';
	snprintf(out, (size_t)n + 64, "eyJhbGciOiJSUzI1NiJ9.%s.c2ln", enc);
	return out;
}

static void bound_token(void)
{
	struct fed_jwt_times t;
	struct fed_error err = FED_ERROR_INIT;
	char *tok = make("{\"aud\":[\"https://kubernetes.default.svc\"],\"exp\":1765000600,"
	                 "\"iat\":1765000000,\"sub\":\"system:serviceaccount:kube-federation-"
	                 "system:fed-member\"}");

	CHECK(fed_jwt_is(tok));
	CHECK_INT(fed_jwt_times(tok, &t, &err), 0);
	CHECK_INT(t.iat, 1765000000);
	CHECK_INT(t.exp, 1765000600);
	CHECK_STR(t.ns, "kube-federation-system");
	CHECK_STR(t.sa, "fed-member");
	free(tok);
}

static void legacy_token_has_no_exp(void)
{
	struct fed_jwt_times t;
	struct fed_error err = FED_ERROR_INIT;
	/* payload lengths 1, 2 and 3 mod 3 exercise the padding */
	char *tok = make("{\"iss\":\"kubernetes/serviceaccount\",\"sub\":\"system:serviceaccount:"
	                 "ns:sa\"}");

	CHECK_INT(fed_jwt_times(tok, &t, &err), 0);
	CHECK_INT(t.exp, 0);
	CHECK_INT(t.iat, 0);
	CHECK_STR(t.sa, "sa");
	free(tok);
	tok = make("{\"exp\":5}");
	CHECK_INT(fed_jwt_times(tok, &t, &err), 0);
	CHECK_INT(t.exp, 5);
	CHECK_STR(t.ns, "");
	free(tok);
	tok = make("{\"exp\":55}");
	CHECK_INT(fed_jwt_times(tok, &t, &err), 0);
	CHECK_INT(t.exp, 55);
	free(tok);
}

static void not_a_jwt(void)
{
	struct fed_jwt_times t;
	struct fed_error err = FED_ERROR_INIT;
	const char *bad[] = {"",     "abc",     "a.b",   "a..c",
	                     ".b.c", "a b.c.d", "x.e30", "s3cr3t-static-token-value"};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fed_error_clear(&err);
		CHECK(fed_jwt_times(bad[i], &t, &err) == FED_EINVAL);
		CHECK(!*bad[i] || !strstr(err.msg, bad[i]));
	}
	/* three parts, payload not JSON */
	fed_error_clear(&err);
	CHECK_INT(fed_jwt_times("aGVsbG8.aGVsbG8.aGVsbG8", &t, &err), FED_EINVAL);
	CHECK(!strstr(err.msg, "aGVsbG8"));
}

int main(void)
{
	RUN(bound_token);
	RUN(legacy_token_has_no_exp);
	RUN(not_a_jwt);
	return CHECK_EXIT();
}
