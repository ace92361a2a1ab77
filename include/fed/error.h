/* Errors: functions return 0 or a negative fed_err code, and fill an
 * explicit struct fed_error with a one-line, human-readable message. There
 * is no global "last error": on one event loop many requests interleave. */
#ifndef FED_ERROR_H
#define FED_ERROR_H

#include <stddef.h>

enum fed_err {
	FED_OK = 0,
	FED_ERR = -1,           /* anything not below */
	FED_ENOMEM = -2,        /* allocation failed */
	FED_EINVAL = -3,        /* bad input from the user: config, flags, files */
	FED_ENOTFOUND = -4,     /* 404 */
	FED_ECONFLICT = -5,     /* 409: resourceVersion/UID precondition failed */
	FED_EEXISTS = -6,       /* 409 AlreadyExists */
	FED_EGONE = -7,         /* 410: resourceVersion too old, re-list */
	FED_EUNAUTHORIZED = -8, /* 401: credentials missing, wrong or expired */
	FED_EFORBIDDEN = -9,    /* 403: RBAC says no */
	FED_EUNAVAILABLE = -10, /* connection failed, 429, 5xx: retry later */
	FED_EINVALID = -11,     /* 400/422: the server rejected the object */
	FED_ETIMEOUT = -12,     /* no answer in time */
	FED_ETLS = -13,         /* TLS handshake or certificate verification failed */
	FED_ECANCELED = -14,    /* the caller cancelled the request */
};

#define FED_ERROR_MSG_MAX 1024

struct fed_error {
	int code;        /* enum fed_err, 0 when clear */
	int http_status; /* HTTP status when the error came from a server, else 0 */
	char reason[64]; /* metav1.Status reason when known (e.g. "AlreadyExists") */
	char msg[FED_ERROR_MSG_MAX];
};

/* an initializer, which clang-format 14 would lay out as a block */
/* clang-format off */
#define FED_ERROR_INIT {0, 0, {0}, {0}}
/* clang-format on */

/* Set err (which may be NULL) and return code, so callers can write
 * `return fed_error_set(err, FED_EINVAL, "...")`. */
int fed_error_set(struct fed_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix context to an existing message ("cluster 'east': list pods: ...").
 * Returns err->code (or FED_ERR if err was clear). */
int fed_error_wrap(struct fed_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void fed_error_clear(struct fed_error *err);

/* s in double quotes with JSON escapes, so that a message stays one line,
 * cut after about FED_QUOTE_MAX bytes with "..." before the closing quote;
 * "(null)" for NULL. n should be FED_QUOTE_BUF. Returns buf. */
#define FED_QUOTE_MAX 160
#define FED_QUOTE_BUF (FED_QUOTE_MAX + 16)
const char *fed_quote(char *buf, size_t n, const char *s);

/* Short stable name of a code ("NotFound", "Unavailable", ...). */
const char *fed_err_name(int code);

#endif
