/* Minimal test framework: one executable per module, one function per
 * case. A failed CHECK prints file:line and the expression, marks the case
 * failed and returns from it; main() exits non-zero if any case failed. */
#ifndef FED_CHECK_H
#define FED_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_case_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
			check_case_failed = 1;                                                     \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
		if (check_a_ != check_b_) {                                                        \
			fprintf(stderr, "  FAIL %s:%d: %s == %s (%lld != %lld)\n", __FILE__,       \
			        __LINE__, #a, #b, check_a_, check_b_);                             \
			check_case_failed = 1;                                                     \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *check_a_ = (a), *check_b_ = (b);                                       \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_)) {                        \
			fprintf(stderr, "  FAIL %s:%d: %s == %s (\"%s\" != \"%s\")\n", __FILE__,   \
			        __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",                  \
			        check_b_ ? check_b_ : "(null)");                                   \
			check_case_failed = 1;                                                     \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* substring */
#define CHECK_HAS(hay, needle)                                                                     \
	do {                                                                                       \
		const char *check_h_ = (hay);                                                      \
		if (!check_h_ || !strstr(check_h_, (needle))) {                                    \
			fprintf(stderr, "  FAIL %s:%d: \"%s\" contains \"%s\"\n", __FILE__,        \
			        __LINE__, check_h_ ? check_h_ : "(null)", (needle));               \
			check_case_failed = 1;                                                     \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		check_case_failed = 0;                                                             \
		fn();                                                                              \
		fprintf(stderr, "%s %s\n", check_case_failed ? "not ok" : "ok", #fn);              \
		check_failures += check_case_failed;                                               \
	} while (0)

#define CHECK_EXIT() (check_failures ? 1 : 0)

#endif
