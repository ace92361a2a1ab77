/* The Prometheus text exposition format 0.0.4 for a registry: families by
 * name, series by label values (sorted here, at render time, which is rare
 * next to updates), values in their shortest exact form. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/http_server.h"
#include "metrics_internal.h"

/* Text that reads back as the same double: integers as such, else 15
 * significant digits when they suffice (0.1, not 0.10000000000000001),
 * else 17. */
static void format_value(char *buf, size_t n, double v)
{
	if (isnan(v)) {
		snprintf(buf, n, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, n, "%s", v > 0 ? "+Inf" : "-Inf");
	} else if (fabs(v) < 1e15 && v == (double)(long long)v) {
		snprintf(buf, n, "%lld", (long long)v);
	} else {
		snprintf(buf, n, "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, n, "%.17g", v);
	}
}

/* Append s with the exposition format's escapes: backslash and newline
 * always, double quote inside label values. */
static int append_escaped(struct fed_buf *out, const char *s, int quote)
{
	const char *run = s;
	int ret = 0;

	for (; *s && !ret; s++) {
		const char *esc = NULL;
		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (quote && *s == '"')
			esc = "\\\"";
		if (!esc)
			continue;
		ret = fed_buf_append(out, run, (size_t)(s - run));
		if (!ret)
			ret = fed_buf_puts(out, esc);
		run = s + 1;
	}
	if (!ret)
		ret = fed_buf_append(out, run, (size_t)(s - run));
	return ret;
}

/* name{a="x",b="y"[,le="..."]} value */
static int render_line(struct fed_buf *out, const struct fed_metrics_series *s, const char *suffix,
                       const char *le, double v)
{
	const struct fed_metrics_family *f = s->fam;
	char num[64];
	size_t i;
	int ret;

	ret = fed_buf_printf(out, "%s%s", f->name, suffix);
	if (!ret && (f->nlabels || le))
		ret = fed_buf_puts(out, "{");
	for (i = 0; !ret && i < f->nlabels; i++) {
		ret = fed_buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
		if (!ret)
			ret = append_escaped(out, s->values[i], 1);
		if (!ret)
			ret = fed_buf_puts(out, "\"");
	}
	if (!ret && le)
		ret = fed_buf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
	if (!ret && (f->nlabels || le))
		ret = fed_buf_puts(out, "}");
	format_value(num, sizeof(num), v);
	if (!ret)
		ret = fed_buf_printf(out, " %s\n", num);
	return ret;
}

static int render_series(struct fed_buf *out, const struct fed_metrics_series *s)
{
	const struct fed_metrics_family *f = s->fam;
	uint64_t cum = 0;
	char le[64];
	size_t i;
	int ret = 0;

	if (f->type != FED_METRICS_HISTOGRAM)
		return render_line(out, s, "", NULL, s->value);
	for (i = 0; !ret && i <= f->nbounds; i++) {
		cum += s->buckets[i];
		if (i < f->nbounds)
			format_value(le, sizeof(le), f->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		ret = render_line(out, s, "_bucket", le, (double)cum);
	}
	if (!ret)
		ret = render_line(out, s, "_sum", NULL, s->sum);
	if (!ret)
		ret = render_line(out, s, "_count", NULL, (double)s->count);
	return ret;
}

static int cmp_series(const void *a, const void *b)
{
	const struct fed_metrics_series *x = *(const struct fed_metrics_series *const *)a;
	const struct fed_metrics_series *y = *(const struct fed_metrics_series *const *)b;
	size_t i;

	for (i = 0; i < x->fam->nlabels; i++) {
		int c = strcmp(x->values[i], y->values[i]);
		if (c)
			return c;
	}
	return 0;
}

static int render_family(struct fed_buf *out, const struct fed_metrics_family *f)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	struct fed_metrics_series **all = NULL;
	struct fed_map_iter it;
	struct fed_map_entry *e;
	size_t n = fed_map_count(&f->series), i = 0;
	int ret = 0;

	if (n == 0)
		goto out;
	all = malloc(n * sizeof(*all));
	if (!all) {
		ret = FED_ENOMEM;
		goto out;
	}
	for (e = fed_map_first(&f->series, &it); e && i < n; e = fed_map_next(&f->series, &it))
		all[i++] = e->value;
	qsort(all, i, sizeof(*all), cmp_series);
	if (f->help[0]) {
		ret = fed_buf_printf(out, "# HELP %s ", f->name);
		if (!ret)
			ret = append_escaped(out, f->help, 0);
		if (!ret)
			ret = fed_buf_puts(out, "\n");
	}
	if (!ret)
		ret = fed_buf_printf(out, "# TYPE %s %s\n", f->name, types[f->type]);
	for (n = i, i = 0; !ret && i < n; i++)
		ret = render_series(out, all[i]);
out:
	free(all);
	return ret;
}

int fed_metrics_render(const struct fed_metrics *reg, struct fed_buf *out)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < reg->nfams; i++)
		ret = render_family(out, reg->fams[i]);
	return ret;
}

int fed_metrics_http_handler(const struct fed_http_request *req, struct fed_http_response *resp,
                             void *ud)
{
	resp->content_type = FED_METRICS_CONTENT_TYPE;
	return fed_metrics_render(ud, &resp->body);
}
