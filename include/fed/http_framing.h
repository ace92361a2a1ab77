/* Where one HTTP/1.1 response ends in a byte stream a proxy passes on
 * unchanged (cluster connect keeps connections alive on both sides, so
 * it must know when the member's answer is complete). Incremental: feed
 * bytes as they come; it says how many belong to the response and when it
 * is complete. Only the current line is held (to read the status and the
 * framing headers, and chunk sizes); the body is only counted. Pure;
 * fuzzed. RFC 9112 section 6.3: no body for HEAD, 1xx, 204 and 304; 101
 * switches protocols (the rest is the upgraded stream); chunked, else
 * Content-Length, else the body runs to the connection's close. */
#ifndef FED_HTTP_FRAMING_H
#define FED_HTTP_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FED_HTTP_FRAMING_HEAD_MAX 65536 /* status line and headers */
#define FED_HTTP_FRAMING_LINE_MAX 8192  /* one header or chunk-size line */

enum fed_http_framing_result {
	FED_HTTP_FRAMING_ERROR = -1,    /* malformed: close both sides */
	FED_HTTP_FRAMING_NEED_MORE = 0, /* all bytes fed are the response's, not done */
	FED_HTTP_FRAMING_DONE = 1,      /* the response ended after *used bytes */
};

struct fed_http_framing {
	int state;
	bool head_request; /* set before feeding: the request was HEAD */
	/* once the head is read */
	int status;
	bool upgraded;    /* 101: what follows is the upgraded stream (DONE at the head) */
	bool close;       /* the connection ends after it (Connection: close, HTTP/1.0, to close) */
	bool until_close; /* no length: the body runs to EOF (never DONE before it) */
	uint64_t left;    /* of the Content-Length body or the current chunk */
	bool chunked, have_length;
	size_t head_bytes; /* of this head so far */
	size_t line;       /* bytes of the current line in buf */
	char buf[FED_HTTP_FRAMING_LINE_MAX];
	const char *error; /* why, on FED_HTTP_FRAMING_ERROR */
};

/* For a new response (head_request: the request's method was HEAD). */
void fed_http_framing_init(struct fed_http_framing *f, bool head_request);
/* Feed n bytes: *used gets how many of them belong to the response (all
 * but what follows a DONE). */
int fed_http_framing_feed(struct fed_http_framing *f, const char *p, size_t n, size_t *used);

#endif
