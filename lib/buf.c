#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fed/buf.h"
#include "fed/error.h"

void fed_buf_init(struct fed_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->sensitive = false;
}

void fed_buf_set_sensitive(struct fed_buf *b)
{
	b->sensitive = true;
}

void fed_buf_release(struct fed_buf *b)
{
	bool sensitive;

	if (!b)
		return;
	sensitive = b->sensitive;
	if (sensitive && b->data)
		OPENSSL_cleanse(b->data, b->cap);
	free(b->data);
	fed_buf_init(b);
	b->sensitive = sensitive;
}

void fed_buf_reset(struct fed_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int fed_buf_grow(struct fed_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return FED_ENOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->sensitive) {
		/* realloc could leave the old bytes behind in freed memory */
		p = malloc(cap);
		if (!p)
			return FED_ENOMEM;
		if (b->data) {
			memcpy(p, b->data, b->len + 1);
			OPENSSL_cleanse(b->data, b->cap);
			free(b->data);
		}
	} else {
		p = realloc(b->data, cap);
		if (!p)
			return FED_ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int fed_buf_append(struct fed_buf *b, const void *p, size_t n)
{
	if (fed_buf_grow(b, n))
		return FED_ENOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int fed_buf_puts(struct fed_buf *b, const char *s)
{
	return fed_buf_append(b, s, strlen(s));
}

int fed_buf_printf(struct fed_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return FED_ERR;
	if (fed_buf_grow(b, (size_t)n))
		return FED_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int fed_buf_urlencode(struct fed_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		char enc[3];
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			if (fed_buf_append(b, p, 1))
				return FED_ENOMEM;
			continue;
		}
		enc[0] = '%';
		enc[1] = hex[*p >> 4];
		enc[2] = hex[*p & 15];
		if (fed_buf_append(b, enc, 3))
			return FED_ENOMEM;
	}
	return 0;
}

char *fed_buf_detach(struct fed_buf *b)
{
	char *p = b->data;
	bool sensitive = b->sensitive;

	if (!p)
		p = strdup("");
	fed_buf_init(b);
	b->sensitive = sensitive; /* the caller owns (and wipes) the bytes */
	return p;
}

void fed_buf_consume(struct fed_buf *b, size_t n)
{
	if (n >= b->len) {
		fed_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

const char *fed_buf_str(const struct fed_buf *b)
{
	return b->data ? b->data : "";
}
