/* Allocation failure injection for one test executable: alloc_fail_at(n)
 * makes the n-th malloc/calloc from now (0: the next) return NULL, once.
 * The real allocator (libc's, or ASan's) is reached through
 * dlsym(RTLD_NEXT), so ASan still sees every allocation. Include once,
 * from the test's .c file. Usage, to walk every failure point of op():
 *
 *	for (n = 0;; n++) {
 *		alloc_fail_at(n);
 *		rc = op();
 *		alloc_fail_off();
 *		if (rc == 0) break;
 *		CHECK_INT(rc, FED_ENOMEM);
 *	}
 */
#ifndef FED_ALLOC_FAIL_H
#define FED_ALLOC_FAIL_H

#include <dlfcn.h>
#include <stddef.h>

static long alloc_fail_countdown = -1; /* -1: off */

static void alloc_fail_at(long n)
{
	alloc_fail_countdown = n;
}

static void alloc_fail_off(void)
{
	alloc_fail_countdown = -1;
}

/* whether this allocation fails */
static int alloc_fail_now(void)
{
	if (alloc_fail_countdown < 0)
		return 0;
	return alloc_fail_countdown-- == 0;
}

void *malloc(size_t n)
{
	static void *(*real)(size_t);

	if (!real)
		real = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	return alloc_fail_now() ? NULL : real(n);
}

void *calloc(size_t n, size_t size)
{
	static void *(*real)(size_t, size_t);
	static char boot[256];

	if (!real) {
		/* dlsym may itself ask calloc for a little zeroed memory */
		static int resolving;
		if (resolving)
			return boot;
		resolving = 1;
		real = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
		resolving = 0;
	}
	return alloc_fail_now() ? NULL : real(n, size);
}

#endif
