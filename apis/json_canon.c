/* Canonical JSON and its SHA-256: object keys sorted by bytes at every
 * level, no whitespace, numbers printed from their double value (integral
 * values below 1e15 as integers, so 1 and 1.0 agree; others with the
 * fewest of 15..17 significant digits that read back exactly), strings
 * with the minimal JSON escapes. Used to tell whether the desired object
 * changed, so it must be stable, not pretty. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fed/buf.h"
#include "fed/propagation.h"
#include "propagation_internal.h"

/* Hashing refuses values deeper than this (patches stop at FED_JSON_MAX_DEPTH). */
#define CANON_MAX_DEPTH (2 * FED_JSON_MAX_DEPTH)

static int put_string(struct fed_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run;
	int ret;

	if (!s)
		s = "";
	ret = fed_buf_append(b, "\"", 1);
	if (ret)
		goto out;
	run = s;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		ret = fed_buf_append(b, run, (size_t)(s - run));
		if (ret)
			goto out;
		run = s + 1;
		esc[0] = '\\';
		n = 2;
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		ret = fed_buf_append(b, esc, n);
		if (ret)
			goto out;
	}
	ret = fed_buf_append(b, run, (size_t)(s - run));
	if (ret)
		goto out;
	ret = fed_buf_append(b, "\"", 1);
out:
	return ret ? FED_ENOMEM : 0;
}

static int put_number(struct fed_buf *b, double d)
{
	char tmp[40];
	int prec;

	if (isnan(d) || isinf(d)) /* not JSON; cJSON prints them as null too */
		return fed_buf_puts(b, "null") ? FED_ENOMEM : 0;
	if (d == floor(d) && fabs(d) < 1e15) {
		/* integral: 1, 1.0 and 1e0 all print as 1; -0 as 0 */
		snprintf(tmp, sizeof(tmp), "%lld", (long long)d);
	} else {
		for (prec = 15; prec <= 17; prec++) {
			snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
			if (strtod(tmp, NULL) == d)
				break;
		}
	}
	return fed_buf_puts(b, tmp) ? FED_ENOMEM : 0;
}

struct member {
	const cJSON *item;
	size_t pos;
};

static int member_cmp(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;
	int c =
	    strcmp(a->item->string ? a->item->string : "", b->item->string ? b->item->string : "");

	if (c)
		return c;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int canon(const cJSON *v, struct fed_buf *b, int depth);

static int canon_object(const cJSON *v, struct fed_buf *b, int depth)
{
	struct member *m = NULL;
	const cJSON *c;
	size_t n = 0, i;
	int ret = 0;

	for (c = v->child; c; c = c->next)
		n++;
	if (n) {
		m = calloc(n, sizeof(*m));
		if (!m) {
			ret = FED_ENOMEM;
			goto out;
		}
	}
	for (i = 0, c = v->child; c; c = c->next, i++) {
		m[i].item = c;
		m[i].pos = i;
	}
	if (n > 1)
		qsort(m, n, sizeof(*m), member_cmp);
	if (fed_buf_append(b, "{", 1)) {
		ret = FED_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (i && fed_buf_append(b, ",", 1)) {
			ret = FED_ENOMEM;
			goto out;
		}
		ret = put_string(b, m[i].item->string);
		if (ret)
			goto out;
		if (fed_buf_append(b, ":", 1)) {
			ret = FED_ENOMEM;
			goto out;
		}
		ret = canon(m[i].item, b, depth + 1);
		if (ret)
			goto out;
	}
	if (fed_buf_append(b, "}", 1))
		ret = FED_ENOMEM;
out:
	free(m);
	return ret;
}

static int canon(const cJSON *v, struct fed_buf *b, int depth)
{
	const cJSON *c;
	int ret = 0;

	if (depth > CANON_MAX_DEPTH) {
		ret = FED_EINVAL;
		goto out;
	}
	if (!v) {
		ret = fed_buf_puts(b, "null") ? FED_ENOMEM : 0;
		goto out;
	}
	switch (v->type & 0xff) {
	case cJSON_False:
		ret = fed_buf_puts(b, "false") ? FED_ENOMEM : 0;
		break;
	case cJSON_True:
		ret = fed_buf_puts(b, "true") ? FED_ENOMEM : 0;
		break;
	case cJSON_Number:
		ret = put_number(b, v->valuedouble);
		break;
	case cJSON_String:
		ret = put_string(b, v->valuestring);
		break;
	case cJSON_Raw: /* already JSON text, taken as is */
		ret = fed_buf_puts(b, v->valuestring ? v->valuestring : "null") ? FED_ENOMEM : 0;
		break;
	case cJSON_Array:
		if (fed_buf_append(b, "[", 1)) {
			ret = FED_ENOMEM;
			goto out;
		}
		for (c = v->child; c; c = c->next) {
			if (c != v->child && fed_buf_append(b, ",", 1)) {
				ret = FED_ENOMEM;
				goto out;
			}
			ret = canon(c, b, depth + 1);
			if (ret)
				goto out;
		}
		ret = fed_buf_append(b, "]", 1) ? FED_ENOMEM : 0;
		break;
	case cJSON_Object:
		ret = canon_object(v, b, depth);
		break;
	case cJSON_NULL:
	default: /* cJSON_Invalid */
		ret = fed_buf_puts(b, "null") ? FED_ENOMEM : 0;
		break;
	}
out:
	return ret;
}

int fed_json_canonical(const cJSON *v, char **out)
{
	struct fed_buf b = FED_BUF_INIT;
	int ret;

	*out = NULL;
	ret = canon(v, &b, 0);
	if (ret)
		goto out;
	*out = fed_buf_detach(&b);
	if (!*out)
		ret = FED_ENOMEM;
out:
	fed_buf_release(&b);
	return ret;
}

int fed_json_hash(const cJSON *v, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	struct fed_buf b = FED_BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	int ret;

	out[0] = '\0';
	ret = canon(v, &b, 0);
	if (ret)
		goto out;
	if (!EVP_Digest(fed_buf_str(&b), b.len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		ret = FED_ERR;
		goto out;
	}
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
out:
	fed_buf_release(&b);
	return ret;
}
