#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/error.h"
#include "fed/table.h"

int fed_table_init(struct fed_table *t, const char *const *headers)
{
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	while (headers[n])
		n++;
	if (!n || n > FED_TABLE_MAX_COLS)
		return FED_EINVAL;
	t->ncols = n;
	return fed_table_add(t, headers);
}

int fed_table_add(struct fed_table *t, const char *const *cells)
{
	size_t i;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (!c)
			return FED_ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++) {
		char *s = strdup(cells[i] ? cells[i] : "<none>");
		if (!s) {
			while (i--)
				free(t->cells[t->nrows * t->ncols + i]);
			return FED_ENOMEM;
		}
		t->cells[t->nrows * t->ncols + i] = s;
	}
	t->nrows++;
	return 0;
}

int fed_table_render(const struct fed_table *t, struct fed_buf *out, const char *indent,
                     int with_header)
{
	size_t w[FED_TABLE_MAX_COLS] = {0};
	size_t r, c, first = with_header ? 0 : 1;

	for (r = first; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);
			if (l > w[c])
				w[c] = l;
		}
	for (r = first; r < t->nrows; r++) {
		size_t start = out->len, end;
		if (indent && fed_buf_puts(out, indent))
			return FED_ENOMEM;
		for (c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 < t->ncols) {
				if (fed_buf_printf(out, "%-*s   ", (int)w[c], s) < 0)
					return FED_ENOMEM;
			} else if (fed_buf_puts(out, s)) {
				return FED_ENOMEM;
			}
		}
		/* no trailing blanks (empty last cells) */
		end = out->len;
		while (end > start && out->data[end - 1] == ' ')
			end--;
		out->len = end;
		if (fed_buf_puts(out, "\n"))
			return FED_ENOMEM;
	}
	return 0;
}

void fed_table_release(struct fed_table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void fed_age_format(char *out, size_t n, long long s)
{
	long long m = s / 60, h = s / 3600;

	if (s < -1)
		snprintf(out, n, "<invalid>");
	else if (s < 0)
		snprintf(out, n, "0s");
	else if (s < 60 * 2)
		snprintf(out, n, "%llds", s);
	else if (m < 10)
		s % 60 ? snprintf(out, n, "%lldm%llds", m, s % 60) : snprintf(out, n, "%lldm", m);
	else if (m < 60 * 3)
		snprintf(out, n, "%lldm", m);
	else if (h < 8)
		m % 60 ? snprintf(out, n, "%lldh%lldm", h, m % 60) : snprintf(out, n, "%lldh", h);
	else if (h < 48)
		snprintf(out, n, "%lldh", h);
	else if (h < 24 * 8)
		h % 24 ? snprintf(out, n, "%lldd%lldh", h / 24, h % 24)
		       : snprintf(out, n, "%lldd", h / 24);
	else if (h < 24 * 365 * 2)
		snprintf(out, n, "%lldd", h / 24);
	else if (h < 24 * 365 * 8)
		(h / 24) % 365 ? snprintf(out, n, "%lldy%lldd", h / 24 / 365, (h / 24) % 365)
		               : snprintf(out, n, "%lldy", h / 24 / 365);
	else
		snprintf(out, n, "%lldy", h / 24 / 365);
}

int fed_time_parse(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	long off = 0;

	if (!s)
		return -1;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) >= 6 && p[3] == ':') {
		int hh = atoi(p + 1), mm = atoi(p + 4);
		off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*out = timegm(&tm) - off;
	return 0;
}

void fed_age_since(char *out, size_t n, const char *timestamp, time_t now)
{
	time_t t;

	if (fed_time_parse(timestamp, &t))
		snprintf(out, n, "<unknown>");
	else
		fed_age_format(out, n, (long long)(now - t));
}
