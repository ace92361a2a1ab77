/* Two connected sockets joined on the libev loop, each plain or TLS: bytes
 * read from one are written to the other, both ways, with at most buf_max
 * bytes held per direction (a side is not read while its bytes wait), EOF
 * passed on as a half-close once the bytes before it are written, and an
 * idle timeout. For cluster connect: the aggregator's connection joined to
 * the member's once the request head is sent. */
#ifndef FED_SPLICE_H
#define FED_SPLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include <openssl/ssl.h>

#include "fed/buf.h"
#include "fed/error.h"

struct fed_splice;

/* One side: a connected non-blocking socket, and its TLS session when it
 * has one (handshake done). The splice owns both from fed_splice_new on,
 * also when it fails. */
struct fed_splice_end {
	int fd;
	SSL *ssl;
};

struct fed_splice_opts {
	size_t buf_max;      /* per direction; 0: 64 KiB */
	double idle_timeout; /* seconds without a byte either way; 0: none */
	/* bytes written to b, then to a, before any read from the other side
	 * (a request head sent on, a response head read ahead); copied, and
	 * wiped when the splice ends (a head may carry a credential) */
	const void *to_b, *to_a;
	size_t to_b_len, to_a_len;
	/* read at most a_max bytes from a (a request body of known length),
	 * then leave a unread: what follows is not passed on, and the splice
	 * ends once b's side is done */
	bool a_limited;
	uint64_t a_max;
	/* An exchange on kept-alive connections: b's bytes are shown to
	 * b_filter before they go to a; it returns how many of them belong to
	 * the exchange and sets *end when the exchange ended with them (a
	 * response complete). Once a has them all, done runs with why
	 * FED_SPLICE_DETACHED and both ends still open: take them there with
	 * fed_splice_take. What a sent past a_max meanwhile (up to 64 KiB; a
	 * pipelined request) is kept for the taker. */
	size_t (*b_filter)(void *ud, const char *p, size_t n, bool *end);
};

#define FED_SPLICE_DETACHED "detached"

/* Called once, when both directions ended (why "finished"), an exchange
 * ended (FED_SPLICE_DETACHED), or on the first error or the idle timeout
 * (why says which; no secrets). The splice is freed after it returns
 * (closing the ends unless taken); the callback must not free it. */
typedef void (*fed_splice_done)(void *ud, const char *why, uint64_t a_to_b, uint64_t b_to_a);

int fed_splice_new(struct ev_loop *loop, struct fed_splice_end a, struct fed_splice_end b,
                   const struct fed_splice_opts *o, fed_splice_done done, void *ud,
                   struct fed_splice **out, struct fed_error *err);
/* From done with why FED_SPLICE_DETACHED: the two ends (the caller owns
 * them from now on) and what a sent past its cap (appended to a_early). */
int fed_splice_take(struct fed_splice *s, struct fed_splice_end *a, struct fed_splice_end *b,
                    struct fed_buf *a_early);
/* Stop now without calling done (NULL is fine). */
void fed_splice_free(struct fed_splice *s);

#endif
