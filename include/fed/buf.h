/* Growable byte buffer, always NUL-terminated (git's strbuf habit). */
#ifndef FED_BUF_H
#define FED_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct fed_buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	/* Holds secrets (tokens, credentials): memory is wiped before it is
	 * freed or given back by a grow (copy, wipe, free instead of realloc).
	 * Kept across release/detach/reset, so the buffer stays marked. */
	bool sensitive;
};

/* an initializer, which clang-format 14 would lay out as a block */
/* clang-format off */
#define FED_BUF_INIT {NULL, 0, 0, false}
#define FED_BUF_INIT_SENSITIVE {NULL, 0, 0, true}
/* clang-format on */

void fed_buf_init(struct fed_buf *b);
/* Mark b as holding secrets (see struct fed_buf.sensitive). */
void fed_buf_set_sensitive(struct fed_buf *b);
/* Free the memory (wiped first when sensitive); b is empty again. */
void fed_buf_release(struct fed_buf *b);
void fed_buf_reset(struct fed_buf *b); /* len = 0, keeps memory */
int fed_buf_grow(struct fed_buf *b, size_t extra);
int fed_buf_append(struct fed_buf *b, const void *p, size_t n);
int fed_buf_puts(struct fed_buf *b, const char *s);
int fed_buf_printf(struct fed_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s percent-encoded for a URL query value. */
int fed_buf_urlencode(struct fed_buf *b, const char *s);
/* Give up ownership of the data (never NULL on success: "" for empty). */
char *fed_buf_detach(struct fed_buf *b);
/* Drop the first n bytes. */
void fed_buf_consume(struct fed_buf *b, size_t n);
/* The contents as a C string ("" when empty). */
const char *fed_buf_str(const struct fed_buf *b);

#endif
