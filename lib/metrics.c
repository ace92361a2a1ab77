/* Prometheus registry: families, series and their updates (see
 * fed/metrics.h); the text format is in metrics_render.c.
 *
 * Families live in an array kept sorted by name; each family maps a key
 * made of its series' label values to the series. The key is length-
 * prefixed ("4:east5:ready"), so no label value can forge another's key,
 * and is built on the stack for the lookup. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_internal.h"

static const double default_buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

/* ---- registry --------------------------------------------------------- */

static void series_free(void *p)
{
	struct fed_metrics_series *s = p;
	size_t i;

	if (!s)
		return;
	for (i = 0; s->values && i < s->fam->nlabels; i++)
		free(s->values[i]);
	free(s->values);
	free(s);
}

static void family_free(struct fed_metrics_family *f)
{
	size_t i;

	if (!f)
		return;
	fed_map_release(&f->series, series_free);
	for (i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->labels);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

int fed_metrics_new(struct fed_metrics **out, struct fed_error *err)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	return 0;
}

void fed_metrics_free(struct fed_metrics *reg)
{
	size_t i;

	if (!reg)
		return;
	for (i = 0; i < reg->nfams; i++)
		family_free(reg->fams[i]);
	free(reg->fams);
	free(reg);
}

static int valid_name(const char *s, int colon)
{
	const char *p;

	if (!s || !*s)
		return 0;
	for (p = s; *p; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		         (colon && c == ':') || (p > s && c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	return 1;
}

/* Index where name is or would go. */
static size_t family_pos(const struct fed_metrics *reg, const char *name, int *found)
{
	size_t lo = 0, hi = reg->nfams;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(reg->fams[mid]->name, name);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct fed_metrics_family *fed_metrics_family(const struct fed_metrics *reg, const char *name)
{
	int found;
	size_t i = family_pos(reg, name, &found);

	return found ? reg->fams[i] : NULL;
}

/* Split "a, b" into f->labels and check each name. */
static int parse_labels(struct fed_metrics_family *f, const char *labels, struct fed_error *err)
{
	const char *p = labels;
	char *name = NULL;
	size_t i;
	int ret = 0;

	while (p && *p) {
		const char *start, *end;
		char **grown;

		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && *p != ',')
			p++;
		for (end = p; end > start && end[-1] == ' '; end--)
			;
		name = strndup(start, (size_t)(end - start));
		if (!name) {
			ret = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
		if (!valid_name(name, 0) || !strncmp(name, "__", 2) ||
		    (f->type == FED_METRICS_HISTOGRAM && !strcmp(name, "le"))) {
			ret = fed_error_set(err, FED_EINVAL, "metric %s: invalid label name '%s'",
			                    f->name, name);
			goto out;
		}
		for (i = 0; i < f->nlabels; i++) {
			if (!strcmp(f->labels[i], name)) {
				ret = fed_error_set(err, FED_EINVAL,
				                    "metric %s: label '%s' given twice", f->name,
				                    name);
				goto out;
			}
		}
		grown = realloc(f->labels, (f->nlabels + 1) * sizeof(*grown));
		if (!grown) {
			ret = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
		f->labels = grown;
		f->labels[f->nlabels++] = name;
		name = NULL;
	}
out:
	free(name);
	return ret;
}

static int set_buckets(struct fed_metrics_family *f, const double *b, size_t n,
                       struct fed_error *err)
{
	size_t i;

	if (!b || n == 0) {
		b = default_buckets;
		n = sizeof(default_buckets) / sizeof(default_buckets[0]);
	}
	if (isinf(b[n - 1]) && b[n - 1] > 0)
		n--; /* +Inf is always there */
	for (i = 0; i < n; i++) {
		if (!isfinite(b[i]) || (i > 0 && b[i] <= b[i - 1]))
			return fed_error_set(err, FED_EINVAL,
			                     "metric %s: buckets must be finite and increasing",
			                     f->name);
	}
	f->bounds = malloc((n ? n : 1) * sizeof(double));
	if (!f->bounds)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	if (n)
		memcpy(f->bounds, b, n * sizeof(double));
	f->nbounds = n;
	return 0;
}

static int series_lookup(struct fed_metrics_family *f, const char *const *values, int create,
                         struct fed_metrics_series **out);

static int family_add(struct fed_metrics *reg, enum fed_metrics_type type, const char *name,
                      const char *help, const char *labels, const double *buckets, size_t nbuckets,
                      struct fed_metrics_family **out, struct fed_error *err)
{
	struct fed_metrics_family *f = NULL, **grown;
	struct fed_metrics_series *s;
	size_t pos;
	int found, ret;

	if (out)
		*out = NULL;
	if (!valid_name(name, 1)) {
		ret = fed_error_set(err, FED_EINVAL, "invalid metric name '%s'",
		                    name ? name : "(null)");
		goto out;
	}
	pos = family_pos(reg, name, &found);
	if (found) {
		ret = fed_error_set(err, FED_EEXISTS, "metric %s registered twice", name);
		goto out;
	}
	f = calloc(1, sizeof(*f));
	if (!f || !(f->name = strdup(name)) || !(f->help = strdup(help ? help : ""))) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	f->type = type;
	fed_map_init(&f->series);
	ret = parse_labels(f, labels, err);
	if (!ret && type == FED_METRICS_HISTOGRAM)
		ret = set_buckets(f, buckets, nbuckets, err);
	if (ret)
		goto out;
	/* without labels there is exactly one series: show it from the start */
	if (f->nlabels == 0 && series_lookup(f, NULL, 1, &s)) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	grown = realloc(reg->fams, (reg->nfams + 1) * sizeof(*grown));
	if (!grown) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	reg->fams = grown;
	memmove(&reg->fams[pos + 1], &reg->fams[pos], (reg->nfams - pos) * sizeof(*grown));
	reg->fams[pos] = f;
	reg->nfams++;
	if (out)
		*out = f;
	f = NULL;
	ret = 0;
out:
	family_free(f);
	return ret;
}

int fed_metrics_counter(struct fed_metrics *reg, const char *name, const char *help,
                        const char *labels, struct fed_metrics_family **out, struct fed_error *err)
{
	return family_add(reg, FED_METRICS_COUNTER, name, help, labels, NULL, 0, out, err);
}

int fed_metrics_gauge(struct fed_metrics *reg, const char *name, const char *help,
                      const char *labels, struct fed_metrics_family **out, struct fed_error *err)
{
	return family_add(reg, FED_METRICS_GAUGE, name, help, labels, NULL, 0, out, err);
}

int fed_metrics_histogram(struct fed_metrics *reg, const char *name, const char *help,
                          const char *labels, const double *buckets, size_t nbuckets,
                          struct fed_metrics_family **out, struct fed_error *err)
{
	return family_add(reg, FED_METRICS_HISTOGRAM, name, help, labels, buckets, nbuckets, out,
	                  err);
}

/* ---- series ----------------------------------------------------------- */

/* The map key for values: "<len>:<value>" per label. Returns stack when it
 * fits, else a malloc'd string in *heap; NULL when out of memory. */
static char *make_key(const struct fed_metrics_family *f, const char *const *values, char *stack,
                      size_t stack_len, char **heap)
{
	size_t i, need = 1, off = 0;
	char *key = stack;

	*heap = NULL;
	for (i = 0; i < f->nlabels; i++)
		need += strlen(values[i]) + 21;
	if (need > stack_len) {
		key = *heap = malloc(need);
		if (!key)
			return NULL;
	}
	key[0] = '\0';
	for (i = 0; i < f->nlabels; i++) {
		size_t n = strlen(values[i]);
		int w = snprintf(key + off, need - off, "%zu:", n);
		off += (size_t)w;
		memcpy(key + off, values[i], n);
		off += n;
		key[off] = '\0';
	}
	return key;
}

static struct fed_metrics_series *series_new(struct fed_metrics_family *f,
                                             const char *const *values)
{
	size_t nb = f->type == FED_METRICS_HISTOGRAM ? f->nbounds + 1 : 0, i;
	struct fed_metrics_series *s = calloc(1, sizeof(*s) + nb * sizeof(uint64_t));

	if (!s)
		return NULL;
	s->fam = f;
	if (f->nlabels) {
		s->values = calloc(f->nlabels, sizeof(char *));
		if (!s->values)
			goto fail;
		for (i = 0; i < f->nlabels; i++)
			if (!(s->values[i] = strdup(values[i])))
				goto fail;
	}
	return s;
fail:
	series_free(s);
	return NULL;
}

static int series_lookup(struct fed_metrics_family *f, const char *const *values, int create,
                         struct fed_metrics_series **out)
{
	struct fed_metrics_series *s = NULL;
	char stack[256], *heap = NULL, *key;
	void *old;
	size_t i;
	int ret;

	*out = NULL;
	if (f->nlabels && !values)
		return FED_EINVAL;
	for (i = 0; i < f->nlabels; i++)
		if (!values[i])
			return FED_EINVAL;
	key = make_key(f, values, stack, sizeof(stack), &heap);
	if (!key)
		return FED_ENOMEM;
	s = fed_map_get(&f->series, key);
	if (!s && create) {
		s = series_new(f, values);
		if (!s || fed_map_put(&f->series, key, s, &old)) {
			series_free(s);
			ret = FED_ENOMEM;
			goto out;
		}
	}
	*out = s;
	ret = s ? 0 : FED_ENOTFOUND;
out:
	free(heap);
	return ret;
}

int fed_metrics_series(struct fed_metrics_family *f, const char *const *values,
                       struct fed_metrics_series **out)
{
	return series_lookup(f, values, 1, out);
}

void fed_metrics_series_add(struct fed_metrics_series *s, double delta)
{
	if (s->fam->type == FED_METRICS_GAUGE ||
	    (s->fam->type == FED_METRICS_COUNTER && delta >= 0))
		s->value += delta;
}

void fed_metrics_series_set(struct fed_metrics_series *s, double v)
{
	if (s->fam->type != FED_METRICS_HISTOGRAM)
		s->value = v;
}

void fed_metrics_series_observe(struct fed_metrics_series *s, double v)
{
	const struct fed_metrics_family *f = s->fam;
	size_t i = 0;

	if (f->type != FED_METRICS_HISTOGRAM)
		return;
	while (i < f->nbounds && !(v <= f->bounds[i]))
		i++; /* NaN lands in +Inf */
	s->buckets[i]++;
	s->count++;
	s->sum += v;
}

int fed_metrics_add(struct fed_metrics_family *f, const char *const *values, double delta)
{
	struct fed_metrics_series *s;
	int ret;

	if (f->type == FED_METRICS_HISTOGRAM || (f->type == FED_METRICS_COUNTER && !(delta >= 0)))
		return FED_EINVAL;
	ret = series_lookup(f, values, 1, &s);
	if (ret)
		return ret;
	fed_metrics_series_add(s, delta);
	return 0;
}

int fed_metrics_inc(struct fed_metrics_family *f, const char *const *values)
{
	return fed_metrics_add(f, values, 1);
}

int fed_metrics_set(struct fed_metrics_family *f, const char *const *values, double v)
{
	struct fed_metrics_series *s;
	int ret;

	if (f->type == FED_METRICS_HISTOGRAM)
		return FED_EINVAL;
	ret = series_lookup(f, values, 1, &s);
	if (ret)
		return ret;
	fed_metrics_series_set(s, v);
	return 0;
}

int fed_metrics_observe(struct fed_metrics_family *f, const char *const *values, double v)
{
	struct fed_metrics_series *s;
	int ret;

	if (f->type != FED_METRICS_HISTOGRAM)
		return FED_EINVAL;
	ret = series_lookup(f, values, 1, &s);
	if (ret)
		return ret;
	fed_metrics_series_observe(s, v);
	return 0;
}

int fed_metrics_get(const struct fed_metrics_family *f, const char *const *values, double *out)
{
	struct fed_metrics_series *s;
	int ret;

	ret = series_lookup((struct fed_metrics_family *)f, values, 0, &s);
	if (ret)
		return ret;
	*out = f->type == FED_METRICS_HISTOGRAM ? (double)s->count : s->value;
	return 0;
}

int fed_metrics_remove(struct fed_metrics_family *f, const char *const *values)
{
	struct fed_metrics_series *s;
	char stack[256], *heap = NULL, *key;
	size_t i;

	if (f->nlabels && !values)
		return FED_EINVAL;
	for (i = 0; i < f->nlabels; i++)
		if (!values[i])
			return FED_EINVAL;
	key = make_key(f, values, stack, sizeof(stack), &heap);
	if (!key)
		return FED_ENOMEM;
	s = fed_map_del(&f->series, key);
	free(heap);
	if (!s)
		return FED_ENOTFOUND;
	series_free(s);
	return 0;
}

size_t fed_metrics_remove_matching(struct fed_metrics_family *f, const char *label,
                                   const char *value)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;
	size_t idx, n = 0;

	for (idx = 0; idx < f->nlabels; idx++)
		if (!strcmp(f->labels[idx], label))
			break;
	if (idx == f->nlabels)
		return 0;
	for (e = fed_map_first(&f->series, &it); e; e = fed_map_next(&f->series, &it)) {
		struct fed_metrics_series *s = e->value;
		if (strcmp(s->values[idx], value))
			continue;
		fed_map_del(&f->series, e->key);
		series_free(s);
		n++;
	}
	return n;
}

void fed_metrics_clear(struct fed_metrics_family *f)
{
	fed_map_release(&f->series, series_free);
	fed_map_init(&f->series);
}
