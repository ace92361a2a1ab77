/* Golden-file helpers for the unit tests that print tables. */
#ifndef FED_TEST_GOLDEN_H
#define FED_TEST_GOLDEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file, NUL-terminated, or NULL. */
static inline char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	if (s)
		s[n] = '\0';
	fclose(f);
	return s;
}

/* Compare with data/fedctl/NAME.golden (or write it with FED_REGEN_GOLDEN). */
static inline int golden(const char *name, const char *got)
{
	char path[256];
	char *want;
	int same;

	snprintf(path, sizeof(path), "data/fedctl/%s.golden", name);
	if (getenv("FED_REGEN_GOLDEN")) {
		FILE *f = fopen(path, "wb");
		if (!f)
			return 0;
		fputs(got, f);
		fclose(f);
		return 1;
	}
	want = slurp(path);
	same = want && !strcmp(want, got);
	if (!same)
		fprintf(stderr, "  %s differs; got:\n%s\n  want:\n%s\n", path, got,
		        want ? want : "(missing)");
	free(want);
	return same;
}

#endif
