/* Internal to the metrics registry: metrics.c keeps families and series,
 * metrics_render.c writes them out. */
#ifndef FED_METRICS_INTERNAL_H
#define FED_METRICS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fed/map.h"
#include "fed/metrics.h"

struct fed_metrics_series {
	struct fed_metrics_family *fam;
	char **values; /* fam->nlabels strings */
	double value;  /* counter, gauge */
	double sum;    /* histogram */
	uint64_t count;
	uint64_t buckets[]; /* histogram: per bucket, not cumulative; the last is +Inf */
};

struct fed_metrics_family {
	enum fed_metrics_type type;
	char *name;
	char *help;
	char **labels;
	size_t nlabels;
	double *bounds; /* histogram upper bounds, +Inf not included */
	size_t nbounds;
	struct fed_map series; /* key -> struct fed_metrics_series */
};

struct fed_metrics {
	struct fed_metrics_family **fams; /* sorted by name */
	size_t nfams;
};

#endif
