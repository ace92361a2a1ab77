/* Base64 (RFC 4648): the standard alphabet for Secret data and kubeconfig
 * *-data fields, and the URL-safe one for JWTs and tunnel credentials.
 * The one codec of the tree: lib, the controller, fedctl and the agent all
 * use it.
 *
 * Decoding accepts input with or without '=' padding and skips whitespace
 * (line-wrapped PEM-style input); anything else not of the alphabet, '='
 * before the end, or an impossible length is FED_EINVAL. The output is
 * NUL-terminated (not counted in *outlen) and malloc'd; the working copy
 * of the input is wiped before it is freed, since what is decoded here is
 * often a credential. */
#ifndef FED_BASE64_H
#define FED_BASE64_H

#include <stddef.h>

#include "fed/buf.h"
#include "fed/error.h"

enum fed_base64_alphabet {
	FED_BASE64_STD = 0, /* A-Z a-z 0-9 + / */
	FED_BASE64_URL,     /* A-Z a-z 0-9 - _ */
};

/* Decode len bytes of in. Empty input (or only whitespace) gives an empty
 * string. Returns 0, FED_EINVAL or FED_ENOMEM; *out is NULL on error. */
int fed_base64_decode(enum fed_base64_alphabet a, const char *in, size_t len, char **out,
                      size_t *outlen);
/* Append the encoding of len bytes to b (NUL-terminated). STD pads with
 * '=', URL does not (as JWTs). Returns 0 or FED_ENOMEM. */
int fed_base64_encode(enum fed_base64_alphabet a, struct fed_buf *b, const void *in, size_t len);
/* The standard encoding as a malloc'd string, NULL when out of memory. */
char *fed_base64_encode_str(const void *in, size_t len);

#endif
