/* Two sockets joined both ways, plain or TLS, bounded (fed/splice.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fed/buf.h"
#include "fed/splice.h"
#include "sock_io.h"

struct side {
	struct fed_splice *s;
	int fd;
	SSL *ssl;
	ev_io io;
	bool eof;  /* nothing more to read from this side */
	bool shut; /* our write side to it is shut */
	bool read_wants_write, write_wants_read;
	struct fed_buf out; /* bytes to write to this side */
	uint64_t *moved;    /* counts bytes read from this side */
};

struct fed_splice {
	struct ev_loop *loop;
	struct side a, b;
	ev_timer idle, resume;
	size_t buf_max;
	double idle_timeout;
	bool a_limited;
	uint64_t a_max;
	uint64_t a_to_b, b_to_a;
	fed_splice_done done;
	void *ud;
	int depth;
	bool ended;
	size_t (*b_filter)(void *ud, const char *p, size_t n, bool *end);
	bool b_done;            /* the exchange's last byte from b is read */
	struct fed_buf a_early; /* a's bytes past its cap, for a taker */
};

#define EARLY_MAX 65536

static struct side *peer(struct side *x)
{
	return x == &x->s->a ? &x->s->b : &x->s->a;
}

static void destroy(struct fed_splice *s)
{
	struct side *sides[2] = {&s->a, &s->b};

	ev_timer_stop(s->loop, &s->idle);
	ev_timer_stop(s->loop, &s->resume);
	for (int i = 0; i < 2; i++) {
		ev_io_stop(s->loop, &sides[i]->io);
		if (sides[i]->ssl)
			SSL_free(sides[i]->ssl);
		if (sides[i]->fd >= 0)
			close(sides[i]->fd);
		/* may hold a request head with a bearer token */
		if (sides[i]->out.data)
			memset(sides[i]->out.data, 0, sides[i]->out.cap);
		fed_buf_release(&sides[i]->out);
	}
	fed_buf_release(&s->a_early);
	free(s);
}

static void end(struct fed_splice *s, const char *why)
{
	if (s->ended)
		return;
	s->ended = true;
	ev_timer_stop(s->loop, &s->idle);
	ev_timer_stop(s->loop, &s->resume);
	ev_io_stop(s->loop, &s->a.io);
	ev_io_stop(s->loop, &s->b.io);
	if (s->done)
		s->done(s->ud, why, s->a_to_b, s->b_to_a);
}

/* 1: bytes; 0: would block; -1: EOF; -2: error */
static int side_read(struct side *x, void *buf, size_t n, size_t *got)
{
	return fed_sock_step(fed_sock_read(x->fd, x->ssl, buf, n, got), NULL,
	                     x->ssl ? &x->read_wants_write : NULL);
}

/* 1: some written; 0: would block; -2: error */
static int side_write(struct side *x, const void *buf, size_t n, size_t *put)
{
	int rc = fed_sock_step(fed_sock_write(x->fd, x->ssl, buf, n, put),
	                       x->ssl ? &x->write_wants_read : NULL, NULL);

	return rc < 0 ? -2 : rc;
}

static void activity(struct fed_splice *s)
{
	if (s->idle_timeout > 0) {
		s->idle.repeat = s->idle_timeout;
		ev_timer_again(s->loop, &s->idle);
	}
}

/* Write what waits for x; once its peer said EOF and nothing waits, shut
 * our write side to x. */
static void flush(struct side *x)
{
	while (x->out.len && !x->s->ended) {
		size_t put;
		int rc = side_write(x, x->out.data, x->out.len, &put);

		if (rc == 0)
			break;
		if (rc < 0) {
			end(x->s, "write failed");
			return;
		}
		fed_buf_consume(&x->out, put);
		activity(x->s);
	}
	if (!x->out.len && peer(x)->eof && !x->shut && !x->s->ended) {
		x->shut = true;
		if (x->ssl)
			SSL_shutdown(x->ssl); /* close_notify; reading goes on */
		shutdown(x->fd, SHUT_WR);
	}
}

/* a has given all it may (fed_splice_opts.a_max) */
static bool capped(const struct side *x)
{
	return x == &x->s->a && x->s->a_limited && x->s->a_to_b >= x->s->a_max;
}

/* Read from x into its peer's buffer while there is room. Returns true
 * when it stopped only to let the loop run (a resume is due). */
static bool pump(struct side *x)
{
	struct side *y = peer(x);
	uint8_t buf[16384];
	int rounds = 64;

	while (!x->eof && !x->s->ended && y->out.len < x->s->buf_max && !capped(x) &&
	       !(x == &x->s->b && x->s->b_done)) {
		size_t room = x->s->buf_max - y->out.len, got;
		int rc;

		if (x == &x->s->a && x->s->a_limited && x->s->a_max - x->s->a_to_b < room)
			room = (size_t)(x->s->a_max - x->s->a_to_b);
		if (rounds-- == 0)
			return true;
		rc = side_read(x, buf, room < sizeof(buf) ? room : sizeof(buf), &got);
		if (rc == 0)
			break;
		if (rc == -2) {
			end(x->s, "read failed");
			break;
		}
		if (rc == -1) {
			x->eof = true;
			break;
		}
		if (x == &x->s->b && x->s->b_filter) {
			bool fin = false;
			size_t keep = x->s->b_filter(x->s->ud, (const char *)buf, got, &fin);

			if (fin || keep < got) {
				got = keep;
				x->s->b_done = true;
			}
		}
		if (fed_buf_append(&y->out, buf, got) < 0) {
			end(x->s, "out of memory");
			break;
		}
		*x->moved += got;
		activity(x->s);
	}
	return false;
}

/* a past its cap: what it sends now is no part of the request (a
 * pipelined one is dropped: it must not reach b unrewritten), but its
 * close must be seen, or a watch it gave up would run on at b until the
 * idle timeout. */
static void drain(struct side *x)
{
	uint8_t buf[4096];
	int rounds = 16;

	while (!x->eof && !x->s->ended && rounds--) {
		size_t got;
		int rc = side_read(x, buf, sizeof(buf), &got);

		if (rc == 0)
			return;
		if (rc < 0) {
			x->eof = true;
			end(x->s, "caller closed");
			return;
		}
		/* kept-alive: the next request, early; else dropped */
		if (x->s->b_filter && (x->s->a_early.len + got > EARLY_MAX ||
		                       fed_buf_append(&x->s->a_early, buf, got) < 0)) {
			end(x->s, "caller sent too much early");
			return;
		}
	}
}

static void watch(struct side *x)
{
	struct side *y = peer(x);
	int ev = 0;

	bool done_b = x == &x->s->b && x->s->b_done;

	if ((!x->eof && !done_b && (capped(x) || y->out.len < x->s->buf_max)) ||
	    x->write_wants_read)
		ev |= EV_READ;
	if ((x->out.len && !x->write_wants_read) || x->read_wants_write)
		ev |= EV_WRITE;
	if (ev_is_active(&x->io) && (x->io.events & (EV_READ | EV_WRITE)) == ev)
		return;
	ev_io_stop(x->s->loop, &x->io);
	if (ev) {
		ev_io_set(&x->io, x->fd, ev);
		ev_io_start(x->s->loop, &x->io);
	}
}

static void service(struct fed_splice *s)
{
	bool again = false;

	s->depth++;
	/* flush first: room made there lets the other side be read (TLS may
	 * hold decrypted bytes its socket no longer signals) */
	flush(&s->a);
	flush(&s->b);
	again |= pump(&s->a);
	again |= pump(&s->b);
	if (capped(&s->a))
		drain(&s->a);
	flush(&s->a);
	flush(&s->b);
	if (!s->ended && (s->a.eof || capped(&s->a)) && s->b.eof && !s->a.out.len && !s->b.out.len)
		end(s, "finished");
	if (!s->ended && s->b_done && !s->a.out.len && !s->a.write_wants_read)
		end(s, FED_SPLICE_DETACHED);
	if (!s->ended) {
		watch(&s->a);
		watch(&s->b);
		if (again)
			ev_timer_start(s->loop, &s->resume);
	}
	if (--s->depth == 0 && s->ended)
		destroy(s);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	service(((struct side *)w->data)->s);
}

static void resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	service(w->data);
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_splice *s = w->data;

	(void)loop;
	(void)revents;
	s->depth++;
	end(s, "idle timeout");
	if (--s->depth == 0)
		destroy(s);
}

int fed_splice_new(struct ev_loop *loop, struct fed_splice_end a, struct fed_splice_end b,
                   const struct fed_splice_opts *o, fed_splice_done done, void *ud,
                   struct fed_splice **out, struct fed_error *err)
{
	struct fed_splice *s = calloc(1, sizeof(*s));
	struct side *sides[2];

	*out = NULL;
	if (!s) {
		if (a.ssl)
			SSL_free(a.ssl);
		if (b.ssl)
			SSL_free(b.ssl);
		close(a.fd);
		close(b.fd);
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	s->loop = loop;
	s->buf_max = o && o->buf_max ? o->buf_max : 64 * 1024;
	s->idle_timeout = o ? o->idle_timeout : 0;
	s->done = done;
	s->ud = ud;
	if (o) {
		s->a_limited = o->a_limited;
		s->a_max = o->a_max;
		s->b_filter = o->b_filter;
	}
	s->a.fd = a.fd;
	s->a.ssl = a.ssl;
	/* the member's side gets a request head with a credential: its
	 * buffer is wiped when it grows and when it is freed */
	fed_buf_set_sensitive(&s->a.out);
	fed_buf_set_sensitive(&s->b.out);
	s->a.moved = &s->a_to_b;
	s->b.fd = b.fd;
	s->b.ssl = b.ssl;
	s->b.moved = &s->b_to_a;
	sides[0] = &s->a;
	sides[1] = &s->b;
	for (int i = 0; i < 2; i++) {
		sides[i]->s = s;
		ev_io_init(&sides[i]->io, io_cb, sides[i]->fd, 0);
		sides[i]->io.data = sides[i];
	}
	ev_init(&s->idle, idle_cb);
	s->idle.data = s;
	ev_timer_init(&s->resume, resume_cb, 0, 0);
	s->resume.data = s;
	if (o && ((o->to_b_len && fed_buf_append(&s->b.out, o->to_b, o->to_b_len) < 0) ||
	          (o->to_a_len && fed_buf_append(&s->a.out, o->to_a, o->to_a_len) < 0))) {
		destroy(s); /* closes both, as promised */
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	activity(s);
	*out = s;
	/* the first service from the loop (bytes already buffered in a TLS
	 * session move then): done never runs inside fed_splice_new */
	ev_timer_start(loop, &s->resume);
	return 0;
}

int fed_splice_take(struct fed_splice *s, struct fed_splice_end *a, struct fed_splice_end *b,
                    struct fed_buf *a_early)
{
	if (!s || !s->ended || s->a.fd < 0)
		return FED_EINVAL;
	ev_io_stop(s->loop, &s->a.io);
	ev_io_stop(s->loop, &s->b.io);
	*a = (struct fed_splice_end){s->a.fd, s->a.ssl};
	*b = (struct fed_splice_end){s->b.fd, s->b.ssl};
	s->a.fd = s->b.fd = -1;
	s->a.ssl = s->b.ssl = NULL;
	if (a_early && s->a_early.len &&
	    fed_buf_append(a_early, s->a_early.data, s->a_early.len) < 0)
		return FED_ENOMEM;
	return 0;
}

void fed_splice_free(struct fed_splice *s)
{
	if (!s)
		return;
	s->done = NULL;
	if (s->depth) {
		end(s, "freed");
		return; /* service() destroys it on the way out */
	}
	s->ended = true;
	destroy(s);
}
