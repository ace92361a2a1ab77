/* Prometheus metrics: a registry of counter, gauge and histogram families,
 * rendered in the text exposition format 0.0.4 for /metrics.
 *
 * A family is registered once, at start-up, with its name, HELP text and
 * label names; its series (one per set of label values) are created on
 * first use and can be removed again, so that a deleted cluster's series
 * disappear from the output. Updating a series costs one hash lookup on a
 * key built on the stack; the hottest paths can keep a series pointer
 * (fed_metrics_series()) and update it with no lookup at all.
 *
 * Output is sorted by family name, then by label values (compared in the
 * order the label names were registered), so it can be compared as text.
 * Labels appear in registration order. A family with no series renders
 * nothing; a family without labels gets its series (at 0) when it is
 * registered.
 *
 * NEVER PUT SECRETS IN LABELS. Label values are served to anyone who can
 * reach /metrics and kept by every Prometheus that scrapes it: use names
 * (cluster, namespace, kind, state), never tokens, kubeconfig contents,
 * certificate data, URLs with credentials or Secret data.
 *
 * Single-threaded, like everything on the loop. */
#ifndef FED_METRICS_H
#define FED_METRICS_H

#include <stddef.h>

#include "fed/buf.h"
#include "fed/error.h"

struct fed_metrics;        /* the registry */
struct fed_metrics_family; /* one metric name: HELP, TYPE, label names */
struct fed_metrics_series; /* one set of label values of a family */
struct fed_http_request;
struct fed_http_response;

enum fed_metrics_type {
	FED_METRICS_COUNTER,
	FED_METRICS_GAUGE,
	FED_METRICS_HISTOGRAM,
};

#define FED_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

int fed_metrics_new(struct fed_metrics **out, struct fed_error *err);
/* Frees every family and series. NULL is fine. */
void fed_metrics_free(struct fed_metrics *reg);

/* Register a family. name matches [a-zA-Z_:][a-zA-Z0-9_:]*; labels is a
 * comma-separated list of label names ("cluster,state"; NULL or "" for
 * none), each [a-zA-Z_][a-zA-Z0-9_]* not starting with "__" (and not "le"
 * for histograms). help is free text. The family belongs to the registry;
 * *out (may be NULL) stays valid until fed_metrics_free(). Errors:
 * FED_EINVAL for a bad name or label, FED_EEXISTS for a name already
 * registered, FED_ENOMEM. */
int fed_metrics_counter(struct fed_metrics *reg, const char *name, const char *help,
                        const char *labels, struct fed_metrics_family **out, struct fed_error *err);
int fed_metrics_gauge(struct fed_metrics *reg, const char *name, const char *help,
                      const char *labels, struct fed_metrics_family **out, struct fed_error *err);
/* buckets: finite upper bounds, strictly increasing; +Inf is implied (and
 * dropped if given). NULL/0 gives Prometheus's default buckets
 * (.005 .01 .025 .05 .1 .25 .5 1 2.5 5 10), suited to seconds. */
int fed_metrics_histogram(struct fed_metrics *reg, const char *name, const char *help,
                          const char *labels, const double *buckets, size_t nbuckets,
                          struct fed_metrics_family **out, struct fed_error *err);

/* Look a family up by name (NULL if not registered). */
struct fed_metrics_family *fed_metrics_family(const struct fed_metrics *reg, const char *name);

/* Updates by label values: values has one string per label name, in order
 * (NULL for a family without labels), e.g.
 *   fed_metrics_add(clusters_total, (const char *[]){"east", "ready"}, 1);
 * The series is created on first use. They return 0, FED_EINVAL (wrong
 * family type, a negative counter increment, NULL values where labels are
 * needed) or FED_ENOMEM. */
int fed_metrics_add(struct fed_metrics_family *f, const char *const *values,
                    double delta); /* counter, gauge */
int fed_metrics_inc(struct fed_metrics_family *f, const char *const *values);
/* gauge, or a counter that mirrors a count kept elsewhere (never set a
 * counter lower) */
int fed_metrics_set(struct fed_metrics_family *f, const char *const *values, double v);
int fed_metrics_observe(struct fed_metrics_family *f, const char *const *values,
                        double v); /* histogram */

/* The current value (counter, gauge) or count of observations
 * (histogram); FED_ENOTFOUND when the series does not exist. */
int fed_metrics_get(const struct fed_metrics_family *f, const char *const *values, double *out);

/* Remove one series: 0, or FED_ENOTFOUND. */
int fed_metrics_remove(struct fed_metrics_family *f, const char *const *values);
/* Remove every series whose label `label` has value `value` (all of a
 * deleted cluster's series); returns how many went. */
size_t fed_metrics_remove_matching(struct fed_metrics_family *f, const char *label,
                                   const char *value);
/* Remove every series of the family (e.g. before re-populating gauges). */
void fed_metrics_clear(struct fed_metrics_family *f);

/* A series for repeated updates without lookups, created if needed. The
 * pointer is valid until the series is removed (fed_metrics_remove,
 * _remove_matching, _clear) or the registry freed. */
int fed_metrics_series(struct fed_metrics_family *f, const char *const *values,
                       struct fed_metrics_series **out);
/* The same rules as above; an update the type does not allow is ignored. */
void fed_metrics_series_add(struct fed_metrics_series *s, double delta);
void fed_metrics_series_set(struct fed_metrics_series *s, double v);
void fed_metrics_series_observe(struct fed_metrics_series *s, double v);

/* Append the whole registry in text format 0.0.4. */
int fed_metrics_render(const struct fed_metrics *reg, struct fed_buf *out);

/* An fed_http_handler serving fed_metrics_render(ud) with
 * FED_METRICS_CONTENT_TYPE: fed_http_server_route(srv, "GET", "/metrics",
 * fed_metrics_http_handler, reg). */
int fed_metrics_http_handler(const struct fed_http_request *req, struct fed_http_response *resp,
                             void *ud);

#endif
