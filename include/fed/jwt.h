/* The claims of a Kubernetes ServiceAccount token that decide when to
 * renew it. The signature is not checked: the caller holds the token and
 * only wants its times; the apiserver is the one that verifies it. */
#ifndef FED_JWT_H
#define FED_JWT_H

#include <stdbool.h>

#include "fed/error.h"

struct fed_jwt_times {
	long long iat, exp; /* seconds since the epoch; 0 when absent */
	char ns[64];        /* from sub system:serviceaccount:NS:NAME, "" otherwise */
	char sa[254];
};

/* Whether token looks like a JWT (three base64url parts). */
bool fed_jwt_is(const char *token);
/* Decode the payload's iat, exp and sub. A token without exp (a legacy
 * Secret token) is not an error: exp stays 0. Messages never quote the
 * token. */
int fed_jwt_times(const char *token, struct fed_jwt_times *out, struct fed_error *err);

#endif
