/* Credential text and generations: see tunnel_cred.h. Pure, unit-tested
 * (tests/unit/test_tunnel_cred.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel_cred.h"

int tunnel_cred_body(char *out, size_t n, const char *cluster, unsigned long long gen,
                     long long expiry)
{
	int m = snprintf(out, n, CRED_PREFIX ".%s.%llu.%lld", cluster, gen, expiry);

	return m < 0 || (size_t)m >= n ? -1 : m;
}

/* digits only, no sign or space: what strtoull would take more loosely */
static bool number(const char *p, size_t n, unsigned long long *v)
{
	char buf[24];

	if (n == 0 || n >= sizeof(buf))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)p[i]))
			return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	*v = strtoull(buf, NULL, 10);
	return true;
}

/* the last '.' in p[0..n) */
static const char *last_dot(const char *p, size_t n)
{
	while (n--)
		if (p[n] == '.')
			return p + n;
	return NULL;
}

int tunnel_cred_parse(const char *cred, size_t len, struct tunnel_cred *out)
{
	const char *mac, *exp, *gen = NULL, *name = cred + 6;
	unsigned long long e, g = 0;
	bool v2;

	memset(out, 0, sizeof(*out));
	if (len >= CRED_MAX || len < 6 + 1 + 1 + 1 + 64 || memchr(cred, '\0', len))
		return -1;
	v2 = !strncmp(cred, CRED_PREFIX ".", 6);
	if (!v2 && strncmp(cred, CRED_PREFIX_V1 ".", 6))
		return -1;
	mac = last_dot(cred, len);
	if (!mac || cred + len - (mac + 1) != 64)
		return -1;
	exp = last_dot(cred, (size_t)(mac - cred));
	if (!exp || exp < name || !number(exp + 1, (size_t)(mac - exp - 1), &e))
		return -1;
	if (v2) {
		gen = last_dot(cred, (size_t)(exp - cred));
		if (!gen || gen < name || !number(gen + 1, (size_t)(exp - gen - 1), &g))
			return -1;
	}
	if ((v2 ? gen : exp) <= name || (size_t)((v2 ? gen : exp) - name) >= sizeof(out->cluster))
		return -1;
	memcpy(out->cluster, name, (size_t)((v2 ? gen : exp) - name));
	out->generation = g;
	out->expiry =
	    e > (unsigned long long)0x7fffffffffffffffLL ? 0x7fffffffffffffffLL : (long long)e;
	out->body_len = (size_t)(mac - cred);
	out->mac = mac + 1;
	return 0;
}

int tunnel_generation_parse(const char *v, unsigned long long *gen, bool *revoke)
{
	const char *sp = v ? strchr(v, ' ') : NULL;
	size_t n = v ? (sp ? (size_t)(sp - v) : strlen(v)) : 0;

	*gen = 0;
	*revoke = false;
	if (!v)
		return 0;
	if (!number(v, n, gen) || (sp && strcmp(sp, " revoke"))) {
		*gen = 0;
		return -1;
	}
	*revoke = sp != NULL;
	return 0;
}

bool tunnel_generation_current(unsigned long long gen, unsigned long long stored)
{
	return gen >= stored;
}
