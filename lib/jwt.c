/* The times and subject of a ServiceAccount JWT, read without verifying
 * the signature (see include/fed/jwt.h). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fed/base64.h"
#include "fed/jwt.h"

static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool fed_jwt_is(const char *token)
{
	const char *p;
	int dots = 0;

	if (!token || !*token)
		return false;
	for (p = token; *p; p++) {
		if (*p == '.')
			dots++;
		else if (!b64url_char(*p))
			return false;
	}
	return dots == 2 && token[0] != '.' && strchr(token, '.')[1] != '.';
}

/* base64url without padding to bytes, NUL-terminated. */
static char *b64url_decode(const char *s, size_t n)
{
	char *out = NULL;

	if (fed_base64_decode(FED_BASE64_URL, s, n, &out, NULL))
		return NULL;
	return out;
}

static long long num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);

	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (long long)v->valuedouble : 0;
}

int fed_jwt_times(const char *token, struct fed_jwt_times *out, struct fed_error *err)
{
	const char *p1, *p2, *sub;
	char *payload = NULL;
	cJSON *claims = NULL;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!fed_jwt_is(token))
		return fed_error_set(err, FED_EINVAL, "the token is not a JWT");
	p1 = strchr(token, '.') + 1;
	p2 = strchr(p1, '.');
	payload = b64url_decode(p1, (size_t)(p2 - p1));
	if (!payload || !(claims = cJSON_Parse(payload)) || !cJSON_IsObject(claims)) {
		ret = fed_error_set(err, FED_EINVAL, "the token's payload is not base64url JSON");
		goto out;
	}
	out->iat = num(claims, "iat");
	out->exp = num(claims, "exp");
	sub = cJSON_GetStringValue(cJSON_GetObjectItem(claims, "sub"));
	if (sub && !strncmp(sub, "system:serviceaccount:", 22)) {
		const char *ns = sub + 22, *c = strchr(ns, ':');
		if (c && (size_t)(c - ns) < sizeof(out->ns) && strlen(c + 1) < sizeof(out->sa) &&
		    c > ns && c[1] && !strchr(c + 1, ':')) {
			memcpy(out->ns, ns, (size_t)(c - ns));
			strcpy(out->sa, c + 1);
		}
	}
out:
	cJSON_Delete(claims);
	if (payload) /* claims are not secret, but the buffer sat next to them */
		memset(payload, 0, strlen(payload));
	free(payload);
	return ret;
}
