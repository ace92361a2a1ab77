/* The end of an HTTP/1.1 response in a passed-on byte stream
 * (fed/http_framing.h). */
#include <string.h>
#include <strings.h>

#include "fed/http_framing.h"

enum {
	S_STATUS,
	S_HEADER,
	S_BODY,
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_END,
	S_TRAILER,
	S_DONE,
	S_CLOSE
};

#define MAX_LENGTH 0x3fffffffffffffffULL

void fed_http_framing_init(struct fed_http_framing *f, bool head_request)
{
	memset(f, 0, sizeof(*f) - sizeof(f->buf));
	f->head_request = head_request;
	f->state = S_STATUS;
}

static int fail(struct fed_http_framing *f, const char *why)
{
	f->error = why;
	return FED_HTTP_FRAMING_ERROR;
}

static bool token_in(const char *v, size_t n, const char *tok)
{
	size_t k = strlen(tok);

	for (size_t i = 0; i < n;) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == k && !strncasecmp(v + s, tok, k))
			return true;
	}
	return false;
}

/* the last coding of Transfer-Encoding is chunked */
static bool last_is_chunked(const char *v, size_t n)
{
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	size_t s = n;
	while (s && v[s - 1] != ',')
		s--;
	while (s < n && (v[s] == ' ' || v[s] == '\t'))
		s++;
	return n - s == 7 && !strncasecmp(v + s, "chunked", 7);
}

static int status_line(struct fed_http_framing *f, const char *l, size_t n)
{
	int st = 0;

	if (n < 12 || strncmp(l, "HTTP/1.", 7) || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
		return fail(f, "bad status line");
	for (int i = 9; i < 12; i++) {
		if (l[i] < '0' || l[i] > '9')
			return fail(f, "bad status code");
		st = st * 10 + (l[i] - '0');
	}
	if (n > 12 && l[12] != ' ')
		return fail(f, "bad status line");
	if (st < 100)
		return fail(f, "bad status code");
	f->status = st;
	f->close = l[7] == '0'; /* HTTP/1.0: unless keep-alive */
	f->chunked = f->have_length = false;
	f->left = 0;
	f->state = S_HEADER;
	return 0;
}

static int header_line(struct fed_http_framing *f, const char *l, size_t n)
{
	const char *colon = memchr(l, ':', n), *v;
	size_t nl, vn;

	if (!colon || colon == l)
		return fail(f, "bad header line");
	nl = (size_t)(colon - l);
	if (memchr(l, ' ', nl) || memchr(l, '\t', nl))
		return fail(f, "bad header name");
	v = colon + 1;
	vn = n - nl - 1;
	while (vn && (*v == ' ' || *v == '\t'))
		v++, vn--;
	while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	if (nl == 14 && !strncasecmp(l, "content-length", 14)) {
		uint64_t x = 0;

		if (!vn)
			return fail(f, "bad Content-Length");
		for (size_t i = 0; i < vn; i++) {
			if (v[i] < '0' || v[i] > '9' || x > MAX_LENGTH / 10)
				return fail(f, "bad Content-Length");
			x = x * 10 + (uint64_t)(v[i] - '0');
		}
		if (f->have_length && x != f->left)
			return fail(f, "conflicting Content-Length");
		f->have_length = true;
		f->left = x;
	} else if (nl == 17 && !strncasecmp(l, "transfer-encoding", 17)) {
		f->chunked = last_is_chunked(v, vn);
		if (!f->chunked)
			f->until_close =
			    true; /* another coding: the body ends with the connection */
	} else if (nl == 10 && !strncasecmp(l, "connection", 10)) {
		if (token_in(v, vn, "close"))
			f->close = true;
		else if (token_in(v, vn, "keep-alive"))
			f->close = false;
	}
	return 0;
}

/* The head is complete: what follows it. */
static int head_done(struct fed_http_framing *f)
{
	if (f->status == 101) {
		f->upgraded = true;
		f->state = S_DONE;
	} else if (f->status < 200) {
		f->state = S_STATUS; /* an interim answer: the real one follows */
		f->close = f->until_close = false;
	} else if (f->head_request || f->status == 204 || f->status == 304) {
		f->until_close = false;
		f->state = S_DONE;
	} else if (f->chunked && !f->until_close) {
		f->state = S_CHUNK_SIZE; /* chunked wins over Content-Length */
	} else if (f->until_close || !f->have_length) {
		f->until_close = f->close = true;
		f->state = S_CLOSE;
	} else {
		f->state = f->left ? S_BODY : S_DONE;
	}
	f->head_bytes = 0;
	return 0;
}

static int chunk_size(struct fed_http_framing *f, const char *l, size_t n)
{
	uint64_t x = 0;
	size_t i = 0;

	for (; i < n; i++) {
		int d = (l[i] >= '0' && l[i] <= '9')   ? l[i] - '0'
		        : (l[i] >= 'a' && l[i] <= 'f') ? l[i] - 'a' + 10
		        : (l[i] >= 'A' && l[i] <= 'F') ? l[i] - 'A' + 10
		                                       : -1;
		if (d < 0)
			break;
		if (x > MAX_LENGTH >> 4)
			return fail(f, "chunk too large");
		x = x * 16 + (uint64_t)d;
	}
	if (i == 0 || (i < n && l[i] != ';' && l[i] != ' ' && l[i] != '\t'))
		return fail(f, "bad chunk size");
	f->left = x;
	f->state = x ? S_CHUNK_DATA : S_TRAILER;
	return 0;
}

/* One complete line (without its CRLF or LF). */
static int on_line(struct fed_http_framing *f, const char *l, size_t n)
{
	switch (f->state) {
	case S_STATUS:
		if (n == 0 && f->status) /* a stray CRLF after an interim answer */
			return 0;
		return status_line(f, l, n);
	case S_HEADER:
		return n ? header_line(f, l, n) : head_done(f);
	case S_CHUNK_SIZE:
		return chunk_size(f, l, n);
	case S_CHUNK_END:
		if (n)
			return fail(f, "no CRLF after a chunk");
		f->state = S_CHUNK_SIZE;
		return 0;
	case S_TRAILER:
		if (!n)
			f->state = S_DONE;
		return 0;
	default:
		return fail(f, "internal state");
	}
}

int fed_http_framing_feed(struct fed_http_framing *f, const char *p, size_t n, size_t *used)
{
	size_t i = 0;

	*used = 0;
	while (i < n) {
		switch (f->state) {
		case S_DONE:
			*used = i;
			return FED_HTTP_FRAMING_DONE;
		case S_CLOSE:
			*used = n; /* to EOF: the caller ends it */
			return FED_HTTP_FRAMING_NEED_MORE;
		case S_BODY:
		case S_CHUNK_DATA: {
			size_t k = n - i < f->left ? n - i : (size_t)f->left;

			i += k;
			f->left -= k;
			if (!f->left)
				f->state = f->state == S_BODY ? S_DONE : S_CHUNK_END;
			break;
		}
		default: {
			char c = p[i++];

			if ((f->state == S_STATUS || f->state == S_HEADER) &&
			    ++f->head_bytes > FED_HTTP_FRAMING_HEAD_MAX)
				return fail(f, "response head too large");
			if (c == '\n') {
				size_t len = f->line;

				if (len && f->buf[len - 1] == '\r')
					len--;
				f->line = 0;
				if (on_line(f, f->buf, len) < 0)
					return FED_HTTP_FRAMING_ERROR;
			} else {
				if (f->line == sizeof(f->buf))
					return fail(f, "line too long");
				f->buf[f->line++] = c;
			}
		}
		}
	}
	*used = n;
	return f->state == S_DONE ? FED_HTTP_FRAMING_DONE : FED_HTTP_FRAMING_NEED_MORE;
}
