/* fed_http_framing (lib/http_framing.c): where a response ends, fed at
 * once and byte by byte, for each framing RFC 9112 knows. */
#include <string.h>

#include "check.h"
#include "fed/http_framing.h"

static struct fed_http_framing f;

/* Feed s at once; DONE's position (or -1 when not done, -2 on error). */
static long whole(const char *s, bool head)
{
	size_t used;
	int r;

	fed_http_framing_init(&f, head);
	r = fed_http_framing_feed(&f, s, strlen(s), &used);
	return r == FED_HTTP_FRAMING_DONE ? (long)used : r == FED_HTTP_FRAMING_ERROR ? -2 : -1;
}

/* The same, a byte at a time: must agree with whole(). */
static long bytewise(const char *s, bool head)
{
	size_t used, n = strlen(s);

	fed_http_framing_init(&f, head);
	for (size_t i = 0; i < n; i++) {
		int r = fed_http_framing_feed(&f, s + i, 1, &used);

		if (r == FED_HTTP_FRAMING_ERROR)
			return -2;
		if (r == FED_HTTP_FRAMING_DONE)
			return used ? (long)i + 1 : (long)i;
	}
	return -1;
}

static void check(const char *s, bool head, long want)
{
	CHECK_INT(whole(s, head), want);
	CHECK_INT(bytewise(s, head), want);
}

static void test_lengths(void)
{
	static const char cl[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT";
	static const char ch[] =
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\nNEXT";

	check(cl, false, (long)strlen(cl) - 4);
	CHECK(!f.close && !f.upgraded);
	check(ch, false, (long)strlen(ch) - 4);
	/* chunked wins over Content-Length (RFC 9112 6.3) */
	check(
	    "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    false, 72);
	check("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, 38);
	/* bare LF line ends */
	check("HTTP/1.1 200 OK\nContent-Length: 1\n\nxNEXT", false, 36);
}

static void test_no_body(void)
{
	static const char h[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";

	check(h, true, (long)strlen(h)); /* HEAD */
	check("HTTP/1.1 204 No Content\r\n\r\nNEXT", false, 27);
	check("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, 48);
	/* an interim 100 then the answer */
	check("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokNEXT",
	      false, 65);
}

static void test_upgrade_and_close(void)
{
	static const char up[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\n"
	                         "Connection: Upgrade\r\n\r\n\x80\x03\x01\x02";

	check(up, false, (long)strlen(up) - 4);
	CHECK(f.upgraded);
	/* no length: to the close, never done */
	check("HTTP/1.1 200 OK\r\n\r\nbody", false, -1);
	CHECK(f.until_close && f.close);
	check("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nbody", false, -1);
	CHECK(f.until_close);
	check("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", false, 58);
	check("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, 57);
	CHECK(f.close);
	check("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, 38);
	CHECK(f.close);
	check("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false, 62);
	CHECK(!f.close);
}

static void test_errors(void)
{
	static char big[FED_HTTP_FRAMING_HEAD_MAX + 100];

	check("HTTP/2 200 OK\r\n\r\n", false, -2);
	check("HTTP/1.1 2x0 OK\r\n\r\n", false, -2);
	check("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, -2);
	check("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, -2);
	check("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", false, -2);
	check("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, -2);
	check("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", false, -2);
	check("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false, -2);
	memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
	for (size_t i = 17; i + 1 < sizeof(big); i += 10)
		memcpy(big + i, "X-A: bbb\r\n", i + 10 < sizeof(big) ? 10 : sizeof(big) - 1 - i);
	CHECK_INT(whole(big, false), -2); /* head past its cap */
}

int main(void)
{
	RUN(test_lengths);
	RUN(test_no_body);
	RUN(test_upgrade_and_close);
	RUN(test_errors);
	return CHECK_EXIT();
}
