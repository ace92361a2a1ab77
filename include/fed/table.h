/* Text output shared by the command-line tools: kubectl-style tables
 * (left aligned, upper-case header, 3 spaces between columns, no trailing
 * blanks), kubectl's human ages ("5s", "3m20s", "2h", "4d") and RFC 3339
 * timestamps. Everything here is pure: no clock, no I/O. */
#ifndef FED_TABLE_H
#define FED_TABLE_H

#include <stddef.h>
#include <time.h>

#include "fed/buf.h"

#define FED_TABLE_MAX_COLS 16

struct fed_table {
	size_t ncols;
	size_t nrows; /* the header is row 0 */
	size_t cap;
	char **cells; /* nrows * ncols, malloc'd copies */
};

/* A table with these column headers (NULL-terminated, at most
 * FED_TABLE_MAX_COLS). 0 or FED_ENOMEM / FED_EINVAL. */
int fed_table_init(struct fed_table *t, const char *const *headers);
/* Append a row of t->ncols cells; NULL cells print as "<none>". */
int fed_table_add(struct fed_table *t, const char *const *cells);
/* Render every line prefixed by indent (may be NULL); with_header false
 * leaves out row 0. */
int fed_table_render(const struct fed_table *t, struct fed_buf *out, const char *indent,
                     int with_header);
void fed_table_release(struct fed_table *t);

/* kubectl's HumanDuration of a number of seconds: "0s" .. "119s", "2m",
 * "3m20s", "10m", "3h", "3h5m", "8h", "2d", "2d3h", "8d", "2y", "2y10d",
 * "8y"; "<invalid>" when more than a second negative. */
void fed_age_format(char *out, size_t n, long long seconds);
/* Age of an RFC 3339 timestamp at now, or "<unknown>" for NULL or a
 * timestamp that does not parse. */
void fed_age_since(char *out, size_t n, const char *timestamp, time_t now);
/* Parse "2026-11-23T17:40:10Z" (fraction and offsets accepted) to UTC
 * seconds. 0 on success, -1 otherwise. */
int fed_time_parse(const char *s, time_t *out);

#endif
