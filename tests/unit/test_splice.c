/* fed_splice (lib/splice.c): two socketpairs joined through a splice, plain
 * and TLS; bytes both ways intact, half-close passed on, the buffer bound
 * holding back a fast writer, the idle timeout. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/ssl.h>

#include "check.h"
#include "fed/splice.h"
#include "fed/tunnel_conn.h"

struct result {
	int done;
	char why[64];
	uint64_t ab, ba;
};

static void on_done(void *ud, const char *why, uint64_t ab, uint64_t ba)
{
	struct result *r = ud;

	r->done++;
	snprintf(r->why, sizeof(r->why), "%s", why);
	r->ab = ab;
	r->ba = ba;
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Two non-blocking socketpairs, a[1] and b[0] joined by a splice: the test
 * plays a[0] and b[1]. */
static int join_pairs(struct ev_loop *loop, int a[2], int b[2], const struct fed_splice_opts *o,
                      struct result *r, struct fed_splice **s)
{
	struct fed_error err = FED_ERROR_INIT;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) || socketpair(AF_UNIX, SOCK_STREAM, 0, b))
		return -1;
	for (int i = 0; i < 2; i++) {
		nonblock(a[i]);
		nonblock(b[i]);
	}
	return fed_splice_new(loop, (struct fed_splice_end){a[1], NULL},
	                      (struct fed_splice_end){b[0], NULL}, o, on_done, r, s, &err);
}

/* Run the loop for up to secs, or until *flag is set. */
static void run(struct ev_loop *loop, double secs, const int *flag)
{
	ev_tstamp t = ev_time() + secs;

	while (ev_time() < t && !(flag && *flag)) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
}

/* Write all of p to fd (non-blocking), running the loop while it blocks. */
static int write_all(struct ev_loop *loop, int fd, SSL *ssl, const char *p, size_t n)
{
	ev_tstamp t = ev_time() + 5;

	while (n && ev_time() < t) {
		ssize_t w = ssl ? SSL_write(ssl, p, (int)n) : send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else {
			run(loop, 0.002, NULL);
		}
	}
	return n ? -1 : 0;
}

/* Read until n bytes or EOF (returned as a short count) or 5 s. */
static size_t read_n(struct ev_loop *loop, int fd, SSL *ssl, char *p, size_t n, int *eof)
{
	size_t got = 0;
	ev_tstamp t = ev_time() + 5;

	*eof = 0;
	while (got < n && ev_time() < t) {
		ssize_t r =
		    ssl ? SSL_read(ssl, p + got, (int)(n - got)) : read(fd, p + got, n - got);

		if (r > 0) {
			got += (size_t)r;
		} else if (r == 0 || (ssl && SSL_get_error(ssl, (int)r) == SSL_ERROR_ZERO_RETURN)) {
			*eof = 1;
			break;
		} else {
			run(loop, 0.002, NULL);
		}
	}
	return got;
}

static void test_plain_both_ways(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	int a[2], b[2], eof;
	struct fed_splice *s = NULL;
	struct result r = {0};
	struct fed_splice_opts o = {.buf_max = 4096};
	size_t big = 1 << 20;
	char *src = malloc(big), *dst = malloc(big);

	for (size_t i = 0; i < big; i++)
		src[i] = (char)(i * 31 + 7);
	CHECK_INT(join_pairs(loop, a, b, &o, &r, &s), 0);
	/* a 1 MiB write on one end arrives whole at the other, through 4 KiB */
	CHECK_INT(write_all(loop, a[0], NULL, "GET / HTTP/1.1\r\n\r\n", 18), 0);
	CHECK_INT(read_n(loop, b[1], NULL, dst, 18, &eof), 18);
	CHECK(!memcmp(dst, "GET / HTTP/1.1\r\n\r\n", 18));
	{
		/* the writer goes on while the reader reads: interleave */
		size_t sent = 0, got = 0;
		ev_tstamp t = ev_time() + 10;

		while (got < big && ev_time() < t) {
			ssize_t w =
			    sent < big ? send(b[1], src + sent, big - sent, MSG_NOSIGNAL) : 0;
			ssize_t rd;

			if (w > 0)
				sent += (size_t)w;
			ev_run(loop, EVRUN_NOWAIT);
			rd = read(a[0], dst + got, big - got);
			if (rd > 0)
				got += (size_t)rd;
		}
		CHECK_INT(got, big);
		CHECK(!memcmp(src, dst, big));
	}
	/* half-close: a's EOF reaches b, b can still answer, then b's EOF */
	shutdown(a[0], SHUT_WR);
	CHECK_INT(read_n(loop, b[1], NULL, dst, 1, &eof), 0);
	CHECK(eof);
	CHECK_INT(write_all(loop, b[1], NULL, "bye", 3), 0);
	CHECK_INT(read_n(loop, a[0], NULL, dst, 3, &eof), 3);
	CHECK(!r.done);
	shutdown(b[1], SHUT_WR);
	run(loop, 2, &r.done);
	CHECK_INT(r.done, 1);
	CHECK_STR(r.why, "finished");
	CHECK_INT(r.ab, 18);
	CHECK_INT(r.ba, big + 3);
	close(a[0]);
	close(b[1]);
	free(src);
	free(dst);
	ev_loop_destroy(loop);
}

/* With nobody reading b, a writer to a is held back: the splice holds at
 * most its bound, the sockets' buffers the rest. */
static void test_bound(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	int a[2], b[2], sz = 16384;
	struct fed_splice *s = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct result r = {0};
	struct fed_splice_opts o = {.buf_max = 8192};
	char chunk[4096];
	size_t sent = 0;

	memset(chunk, 'x', sizeof(chunk));
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, a) && !socketpair(AF_UNIX, SOCK_STREAM, 0, b));
	for (int i = 0; i < 2; i++) {
		setsockopt(a[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(b[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		nonblock(a[i]);
		nonblock(b[i]);
	}
	CHECK_INT(fed_splice_new(loop, (struct fed_splice_end){a[1], NULL},
	                         (struct fed_splice_end){b[0], NULL}, &o, on_done, &r, &s, &err),
	          0);
	for (int i = 0; i < 2000; i++) {
		ssize_t w = send(a[0], chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (w > 0)
			sent += (size_t)w;
		ev_run(loop, EVRUN_NOWAIT);
	}
	/* 8 MB offered; what got in is the buffers along the way, not more */
	CHECK(sent < 1024 * 1024);
	CHECK(!r.done);
	fed_splice_free(s);
	CHECK(!r.done); /* freed: no callback */
	close(a[0]);
	close(b[1]);
	ev_loop_destroy(loop);
}

/* A proxied request: the head goes to b first, then exactly a_max body
 * bytes from a; what a sends after (a pipelined request) is not passed on;
 * b's answer, after the response head given as to_a, reaches a, and the
 * splice ends when b closes. */
static void test_heads_and_limit(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	int a[2], b[2], eof;
	struct fed_splice *s = NULL;
	struct result r = {0};
	struct fed_splice_opts o = {.to_b = "HEAD\n",
	                            .to_b_len = 5,
	                            .to_a = "RESP\n",
	                            .to_a_len = 5,
	                            .a_limited = true,
	                            .a_max = 4};
	char buf[64];
	size_t n;

	CHECK_INT(join_pairs(loop, a, b, &o, &r, &s), 0);
	CHECK_INT(write(a[0], "bodyGET /next", 13), 13);
	n = read_n(loop, b[1], NULL, buf, 9, &eof);
	CHECK_INT((int)n, 9);
	CHECK(!memcmp(buf, "HEAD\nbody", 9));
	run(loop, 0.1, NULL);
	CHECK(recv(b[1], buf, sizeof(buf), MSG_DONTWAIT) < 0); /* "GET /next" held back */
	CHECK_INT(write(b[1], "answer", 6), 6);
	shutdown(b[1], SHUT_WR);
	n = read_n(loop, a[0], NULL, buf, sizeof(buf), &eof);
	CHECK_INT((int)n, 11);
	CHECK(!memcmp(buf, "RESP\nanswer", 11));
	CHECK(eof);
	run(loop, 1, &r.done);
	CHECK_INT(r.done, 1);
	CHECK_STR(r.why, "finished");
	CHECK_INT((int)r.ab, 4);
	close(a[0]);
	close(b[1]);
	ev_loop_destroy(loop);
}

/* A caller that closes after its request (a watch it gave up) ends the
 * splice at once, though its bytes are no longer passed on. */
static void test_capped_caller_closes(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	int a[2], b[2], eof;
	struct fed_splice *s = NULL;
	struct result r = {0};
	struct fed_splice_opts o = {.to_b = "GET\n", .to_b_len = 4, .a_limited = true};
	char buf[16];

	CHECK_INT(join_pairs(loop, a, b, &o, &r, &s), 0);
	CHECK_INT((int)read_n(loop, b[1], NULL, buf, 4, &eof), 4);
	CHECK_INT(write(b[1], "event1", 6), 6); /* the watch streams */
	CHECK_INT((int)read_n(loop, a[0], NULL, buf, 6, &eof), 6);
	close(a[0]);
	run(loop, 1, &r.done);
	CHECK_INT(r.done, 1);
	CHECK_STR(r.why, "caller closed");
	CHECK_INT(read(b[1], buf, sizeof(buf)), 0); /* the member's side closed too */
	close(b[1]);
	ev_loop_destroy(loop);
}

/* An exchange on kept-alive connections: the filter ends it at "END";
 * done says detached, the ends are taken open, and what a sent early (the
 * next request) comes back with them. */
static size_t upto_end(void *ud, const char *p, size_t n, bool *end)
{
	const char *e = memmem(p, n, "END", 3);

	(void)ud;
	if (!e)
		return n;
	*end = true;
	return (size_t)(e - p) + 3;
}

static struct fed_splice_end taken_a, taken_b;
static struct fed_buf early = FED_BUF_INIT;
static struct fed_splice *live;

static void take_on_done(void *ud, const char *why, uint64_t ab, uint64_t ba)
{
	on_done(ud, why, ab, ba);
	if (!strcmp(why, FED_SPLICE_DETACHED))
		CHECK_INT(fed_splice_take(live, &taken_a, &taken_b, &early), 0);
}

static void test_detach(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	int a[2], b[2], eof;
	struct result r = {0};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_splice_opts o = {
	    .to_b = "REQ", .to_b_len = 3, .a_limited = true, .b_filter = upto_end};
	char buf[32];

	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, a) && !socketpair(AF_UNIX, SOCK_STREAM, 0, b));
	for (int i = 0; i < 2; i++) {
		nonblock(a[i]);
		nonblock(b[i]);
	}
	CHECK_INT(fed_splice_new(loop, (struct fed_splice_end){a[1], NULL},
	                         (struct fed_splice_end){b[0], NULL}, &o, take_on_done, &r, &live,
	                         &err),
	          0);
	CHECK_INT((int)read_n(loop, b[1], NULL, buf, 3, &eof), 3);
	CHECK_INT(write(a[0], "NEXT", 4), 4); /* the next request, early */
	run(loop, 0.05, NULL);
	CHECK_INT(write(b[1], "respENDjunk", 11), 11);
	run(loop, 1, &r.done);
	CHECK_INT(r.done, 1);
	CHECK_STR(r.why, FED_SPLICE_DETACHED);
	CHECK_INT((int)read_n(loop, a[0], NULL, buf, 7, &eof), 7);
	CHECK(!memcmp(buf, "respEND", 7));
	CHECK_INT((int)early.len, 4);
	CHECK(!memcmp(early.data, "NEXT", 4));
	/* the ends are open and ours */
	CHECK_INT(taken_a.fd, a[1]);
	CHECK_INT(taken_b.fd, b[0]);
	CHECK_INT(write(taken_a.fd, "x", 1), 1);
	CHECK_INT(read(a[0], buf, 1), 1);
	close(taken_a.fd);
	close(taken_b.fd);
	close(a[0]);
	close(b[1]);
	fed_buf_release(&early);
	ev_loop_destroy(loop);
}

static void test_idle(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	int a[2], b[2];
	struct fed_splice *s = NULL;
	struct result r = {0};
	struct fed_splice_opts o = {.idle_timeout = 0.2};
	char buf[8];
	ev_tstamp t0;

	CHECK_INT(join_pairs(loop, a, b, &o, &r, &s), 0);
	t0 = ev_time();
	run(loop, 0.15, NULL);
	CHECK_INT(write(a[0], "x", 1), 1); /* activity: the timer starts over */
	run(loop, 0.1, NULL);
	CHECK(!r.done);
	run(loop, 2, &r.done);
	CHECK_INT(r.done, 1);
	CHECK_STR(r.why, "idle timeout");
	CHECK(ev_time() - t0 >= 0.29);
	/* the splice closed both sockets: the ends see EOF */
	CHECK_INT(read(a[0], buf, sizeof(buf)), 0);
	CHECK_INT(read(b[1], buf, sizeof(buf)), 1);
	CHECK_INT(read(b[1], buf, sizeof(buf)), 0);
	close(a[0]);
	close(b[1]);
	ev_loop_destroy(loop);
}

/* One side TLS (the aggregator's connection), the other plain. */
static void test_tls(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct fed_error err = FED_ERROR_INIT;
	char *cert = NULL, *key = NULL;
	SSL_CTX *sctx = NULL, *cctx = NULL;
	SSL *srv = NULL, *cli = NULL;
	int a[2], b[2], eof, hs;
	struct fed_splice *s = NULL;
	struct result r = {0};
	char buf[64];

	CHECK_INT(fed_tunnel_tls_selfsigned("t", "DNS:t", 1, &cert, &key, &err), 0);
	CHECK_INT(fed_tunnel_tls_server_ctx(cert, key, &sctx, &err), 0);
	CHECK_INT(fed_tunnel_tls_client_ctx(cert, &cctx, &err), 0);
	free(cert);
	free(key);
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, a) && !socketpair(AF_UNIX, SOCK_STREAM, 0, b));
	for (int i = 0; i < 2; i++) {
		nonblock(a[i]);
		nonblock(b[i]);
	}
	srv = SSL_new(sctx);
	cli = SSL_new(cctx);
	SSL_set_fd(srv, a[1]);
	SSL_set_fd(cli, a[0]);
	SSL_set_tlsext_host_name(cli, "t");
	SSL_set1_host(cli, "t");
	for (int i = 0, done = 0; i < 1000 && done != 3; i++) {
		if (!(done & 1) && (hs = SSL_accept(srv)) == 1)
			done |= 1;
		if (!(done & 2) && (hs = SSL_connect(cli)) == 1)
			done |= 2;
		usleep(100);
	}
	CHECK(SSL_is_init_finished(srv) && SSL_is_init_finished(cli));
	CHECK_INT(fed_splice_new(loop, (struct fed_splice_end){a[1], srv},
	                         (struct fed_splice_end){b[0], NULL}, NULL, on_done, &r, &s, &err),
	          0);
	CHECK_INT(write_all(loop, a[0], cli, "through TLS", 11), 0);
	CHECK_INT(read_n(loop, b[1], NULL, buf, 11, &eof), 11);
	CHECK(!memcmp(buf, "through TLS", 11));
	CHECK_INT(write_all(loop, b[1], NULL, "and back", 8), 0);
	CHECK_INT(read_n(loop, a[0], cli, buf, 8, &eof), 8);
	CHECK(!memcmp(buf, "and back", 8));
	/* the plain side ends: close_notify reaches the TLS client */
	shutdown(b[1], SHUT_WR);
	CHECK_INT(read_n(loop, a[0], cli, buf, 1, &eof), 0);
	CHECK(eof);
	SSL_shutdown(cli);
	shutdown(a[0], SHUT_WR);
	run(loop, 2, &r.done);
	CHECK_INT(r.done, 1);
	CHECK_STR(r.why, "finished");
	SSL_free(cli);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	close(a[0]);
	close(b[1]);
	ev_loop_destroy(loop);
}

int main(void)
{
	RUN(test_plain_both_ways);
	RUN(test_bound);
	RUN(test_heads_and_limit);
	RUN(test_capped_caller_closes);
	RUN(test_detach);
	RUN(test_idle);
	RUN(test_tls);
	return CHECK_EXIT();
}
