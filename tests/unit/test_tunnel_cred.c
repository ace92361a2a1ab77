/* Credential text and generations (fed-controller/tunnel_cred.c). */
#include <stdlib.h>

#include "check.h"
/* not in the library: compile it in */
#include "../../fed-controller/tunnel/tunnel_cred.c"

static const char *MAC = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void test_roundtrip(void)
{
	char body[CRED_MAX], cred[CRED_MAX + 80];
	struct tunnel_cred c;
	int n = tunnel_cred_body(body, sizeof(body), "east.example", 7, 1800000000);

	CHECK(n > 0);
	CHECK_STR(body, "fedc2.east.example.7.1800000000");
	snprintf(cred, sizeof(cred), "%s.%s", body, MAC);
	CHECK_INT(tunnel_cred_parse(cred, strlen(cred), &c), 0);
	CHECK_STR(c.cluster, "east.example");
	CHECK_INT(c.generation, 7);
	CHECK_INT(c.expiry, 1800000000);
	CHECK_INT(c.body_len, (size_t)n);
	CHECK(!strncmp(c.mac, MAC, 64));
}

static void test_v1_is_generation_zero(void)
{
	char cred[CRED_MAX];
	struct tunnel_cred c;

	snprintf(cred, sizeof(cred), "fedc1.west.1800000000.%s", MAC);
	CHECK_INT(tunnel_cred_parse(cred, strlen(cred), &c), 0);
	CHECK_STR(c.cluster, "west");
	CHECK_INT(c.generation, 0);
	CHECK_INT(c.expiry, 1800000000);
	CHECK(tunnel_generation_current(c.generation, 0));
	CHECK(!tunnel_generation_current(c.generation, 1));
}

static void test_malformed(void)
{
	const char *bad[] = {
	    "fedc2.east.1800000000.%s",      /* no generation */
	    "fedc2..1.1800000000.%s",        /* no cluster */
	    "fedc2.east.-1.1800000000.%s",   /* signed generation */
	    "fedc2.east.1.18x0000000.%s",    /* expiry not a number */
	    "fedc2.east. 1.1800000000.%s",   /* space */
	    "fedc3.east.1.1800000000.%s",    /* unknown format */
	    "fedc2.east.1.1800000000.%.63s", /* short MAC */
	};
	struct tunnel_cred c;
	char cred[CRED_MAX + 100];

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(cred, sizeof(cred), bad[i], MAC);
		CHECK_INT(tunnel_cred_parse(cred, strlen(cred), &c), -1);
	}
	memset(cred, 'a', sizeof(cred));
	memcpy(cred, "fedc2.", 6);
	CHECK_INT(tunnel_cred_parse(cred, CRED_MAX, &c), -1); /* too long */
	snprintf(cred, sizeof(cred), "fedc2.east.1.1800000000.%s", MAC);
	cred[8] = '\0';
	CHECK_INT(tunnel_cred_parse(cred, strlen(cred + 9) + 9, &c), -1); /* NUL inside */
}

static void test_generation(void)
{
	unsigned long long g;
	bool revoke;

	CHECK_INT(tunnel_generation_parse(NULL, &g, &revoke), 0);
	CHECK_INT(g, 0);
	CHECK_INT(tunnel_generation_parse("12", &g, &revoke), 0);
	CHECK_INT(g, 12);
	CHECK(!revoke);
	CHECK_INT(tunnel_generation_parse("13 revoke", &g, &revoke), 0);
	CHECK_INT(g, 13);
	CHECK(revoke);
	CHECK_INT(tunnel_generation_parse("13 rev", &g, &revoke), -1);
	CHECK_INT(tunnel_generation_parse("-1", &g, &revoke), -1);
	CHECK_INT(tunnel_generation_parse("", &g, &revoke), -1);
	CHECK_INT(g, 0);
	CHECK(tunnel_generation_current(5, 5));
	CHECK(tunnel_generation_current(6, 5));
	CHECK(!tunnel_generation_current(4, 5));
}

int main(void)
{
	RUN(test_roundtrip);
	RUN(test_v1_is_generation_zero);
	RUN(test_malformed);
	RUN(test_generation);
	return CHECK_EXIT();
}
