/* The metrics registry: exact exposition text for counters, gauges and
 * histograms, escaping, ordering, removal and the error cases. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "fed/http_server.h"
#include "fed/metrics.h"

#define V(...) ((const char *[]){__VA_ARGS__})

static void test_counter_gauge(void)
{
	struct fed_metrics *reg = NULL;
	struct fed_metrics_family *req = NULL, *clusters = NULL, *up = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf b = FED_BUF_INIT;
	double v = -1;

	CHECK_INT(fed_metrics_new(&reg, &err), 0);
	/* registered out of order: output is by name */
	CHECK_INT(fed_metrics_gauge(reg, "fed_up", "Whether the controller runs.", NULL, &up, &err),
	          0);
	CHECK_INT(fed_metrics_counter(reg, "fed_requests_total", "Requests sent to members.",
	                              "cluster, code", &req, &err),
	          0);
	CHECK_INT(fed_metrics_gauge(reg, "fed_clusters", "Member clusters by state.", "state",
	                            &clusters, &err),
	          0);
	CHECK(fed_metrics_family(reg, "fed_clusters") == clusters);
	CHECK(fed_metrics_family(reg, "nope") == NULL);

	CHECK_INT(fed_metrics_inc(req, V("west", "200")), 0);
	CHECK_INT(fed_metrics_add(req, V("east", "200"), 41), 0);
	CHECK_INT(fed_metrics_inc(req, V("east", "200")), 0);
	CHECK_INT(fed_metrics_add(req, V("east", "500"), 2.5), 0);
	CHECK_INT(fed_metrics_set(clusters, V("ready"), 3), 0);
	CHECK_INT(fed_metrics_set(clusters, V("offline"), 1), 0);
	CHECK_INT(fed_metrics_add(clusters, V("offline"), -1), 0);
	CHECK_INT(fed_metrics_set(up, NULL, 1), 0);
	CHECK_INT(fed_metrics_get(req, V("east", "200"), &v), 0);
	CHECK(v == 42);
	CHECK_INT(fed_metrics_get(req, V("north", "200"), &v), FED_ENOTFOUND);

	CHECK_INT(fed_metrics_render(reg, &b), 0);
	CHECK_STR(fed_buf_str(&b), "# HELP fed_clusters Member clusters by state.\n"
	                           "# TYPE fed_clusters gauge\n"
	                           "fed_clusters{state=\"offline\"} 0\n"
	                           "fed_clusters{state=\"ready\"} 3\n"
	                           "# HELP fed_requests_total Requests sent to members.\n"
	                           "# TYPE fed_requests_total counter\n"
	                           "fed_requests_total{cluster=\"east\",code=\"200\"} 42\n"
	                           "fed_requests_total{cluster=\"east\",code=\"500\"} 2.5\n"
	                           "fed_requests_total{cluster=\"west\",code=\"200\"} 1\n"
	                           "# HELP fed_up Whether the controller runs.\n"
	                           "# TYPE fed_up gauge\n"
	                           "fed_up 1\n");
	fed_buf_release(&b);
	fed_metrics_free(reg);
}

static void test_histogram(void)
{
	static const double buckets[] = {0.1, 0.5, 1, INFINITY};
	struct fed_metrics *reg = NULL;
	struct fed_metrics_family *h = NULL, *d = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf b = FED_BUF_INIT;
	double v;
	int i;

	CHECK_INT(fed_metrics_new(&reg, &err), 0);
	CHECK_INT(fed_metrics_histogram(reg, "fed_request_seconds", "Request latency.", "verb",
	                                buckets, 4, &h, &err),
	          0);
	CHECK_INT(fed_metrics_histogram(reg, "fed_sync_seconds", "", NULL, NULL, 0, &d, &err), 0);
	CHECK_INT(fed_metrics_observe(h, V("list"), 0.05), 0);
	CHECK_INT(fed_metrics_observe(h, V("list"), 0.1), 0); /* le is inclusive */
	CHECK_INT(fed_metrics_observe(h, V("list"), 0.75), 0);
	CHECK_INT(fed_metrics_observe(h, V("list"), 30), 0);
	CHECK_INT(fed_metrics_observe(h, V("get"), 0.25), 0);
	for (i = 0; i < 4; i++)
		CHECK_INT(fed_metrics_observe(d, NULL, 0.004), 0);
	CHECK_INT(fed_metrics_get(h, V("list"), &v), 0);
	CHECK(v == 4);

	CHECK_INT(fed_metrics_render(reg, &b), 0);
	CHECK_STR(fed_buf_str(&b), "# HELP fed_request_seconds Request latency.\n"
	                           "# TYPE fed_request_seconds histogram\n"
	                           "fed_request_seconds_bucket{verb=\"get\",le=\"0.1\"} 0\n"
	                           "fed_request_seconds_bucket{verb=\"get\",le=\"0.5\"} 1\n"
	                           "fed_request_seconds_bucket{verb=\"get\",le=\"1\"} 1\n"
	                           "fed_request_seconds_bucket{verb=\"get\",le=\"+Inf\"} 1\n"
	                           "fed_request_seconds_sum{verb=\"get\"} 0.25\n"
	                           "fed_request_seconds_count{verb=\"get\"} 1\n"
	                           "fed_request_seconds_bucket{verb=\"list\",le=\"0.1\"} 2\n"
	                           "fed_request_seconds_bucket{verb=\"list\",le=\"0.5\"} 2\n"
	                           "fed_request_seconds_bucket{verb=\"list\",le=\"1\"} 3\n"
	                           "fed_request_seconds_bucket{verb=\"list\",le=\"+Inf\"} 4\n"
	                           "fed_request_seconds_sum{verb=\"list\"} 30.9\n"
	                           "fed_request_seconds_count{verb=\"list\"} 4\n"
	                           "# TYPE fed_sync_seconds histogram\n"
	                           "fed_sync_seconds_bucket{le=\"0.005\"} 4\n"
	                           "fed_sync_seconds_bucket{le=\"0.01\"} 4\n"
	                           "fed_sync_seconds_bucket{le=\"0.025\"} 4\n"
	                           "fed_sync_seconds_bucket{le=\"0.05\"} 4\n"
	                           "fed_sync_seconds_bucket{le=\"0.1\"} 4\n"
	                           "fed_sync_seconds_bucket{le=\"0.25\"} 4\n"
	                           "fed_sync_seconds_bucket{le=\"0.5\"} 4\n"
	                           "fed_sync_seconds_bucket{le=\"1\"} 4\n"
	                           "fed_sync_seconds_bucket{le=\"2.5\"} 4\n"
	                           "fed_sync_seconds_bucket{le=\"5\"} 4\n"
	                           "fed_sync_seconds_bucket{le=\"10\"} 4\n"
	                           "fed_sync_seconds_bucket{le=\"+Inf\"} 4\n"
	                           "fed_sync_seconds_sum 0.016\n"
	                           "fed_sync_seconds_count 4\n");
	fed_buf_release(&b);
	fed_metrics_free(reg);
}

static void test_escaping(void)
{
	struct fed_metrics *reg = NULL;
	struct fed_metrics_family *g = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf b = FED_BUF_INIT;

	CHECK_INT(fed_metrics_new(&reg, &err), 0);
	CHECK_INT(fed_metrics_gauge(reg, "fed_odd", "A \"help\" with C:\\path\nand a newline.",
	                            "name", &g, &err),
	          0);
	CHECK_INT(fed_metrics_set(g, V("a\\b \"quoted\"\nline2"), 1), 0);
	CHECK_INT(fed_metrics_set(g, V(""), 2), 0);
	CHECK_INT(fed_metrics_render(reg, &b), 0);
	CHECK_STR(fed_buf_str(&b), "# HELP fed_odd A \"help\" with C:\\\\path\\nand a newline.\n"
	                           "# TYPE fed_odd gauge\n"
	                           "fed_odd{name=\"\"} 2\n"
	                           "fed_odd{name=\"a\\\\b \\\"quoted\\\"\\nline2\"} 1\n");
	fed_buf_release(&b);
	fed_metrics_free(reg);
}

static void test_values(void)
{
	struct fed_metrics *reg = NULL;
	struct fed_metrics_family *g = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf b = FED_BUF_INIT;

	CHECK_INT(fed_metrics_new(&reg, &err), 0);
	CHECK_INT(fed_metrics_gauge(reg, "v", "", "k", &g, &err), 0);
	CHECK_INT(fed_metrics_set(g, V("a"), 0.1), 0);
	CHECK_INT(fed_metrics_set(g, V("b"), -3), 0);
	CHECK_INT(fed_metrics_set(g, V("c"), 1e20), 0);
	CHECK_INT(fed_metrics_set(g, V("d"), NAN), 0);
	CHECK_INT(fed_metrics_set(g, V("e"), -INFINITY), 0);
	CHECK_INT(fed_metrics_set(g, V("f"), 1.0 / 3), 0);
	CHECK_INT(fed_metrics_set(g, V("g"), 1234567.5), 0);
	CHECK_INT(fed_metrics_render(reg, &b), 0);
	CHECK_STR(fed_buf_str(&b), "# TYPE v gauge\n"
	                           "v{k=\"a\"} 0.1\n"
	                           "v{k=\"b\"} -3\n"
	                           "v{k=\"c\"} 1e+20\n"
	                           "v{k=\"d\"} NaN\n"
	                           "v{k=\"e\"} -Inf\n"
	                           "v{k=\"f\"} 0.33333333333333331\n"
	                           "v{k=\"g\"} 1234567.5\n");
	fed_buf_release(&b);
	fed_metrics_free(reg);
}

static void test_removal(void)
{
	struct fed_metrics *reg = NULL;
	struct fed_metrics_family *g = NULL, *c = NULL;
	struct fed_metrics_series *s = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf b = FED_BUF_INIT;
	char name[32];
	int i;

	CHECK_INT(fed_metrics_new(&reg, &err), 0);
	CHECK_INT(fed_metrics_gauge(reg, "fed_cluster_ready", "Ready (1) or not (0).",
	                            "cluster,zone", &g, &err),
	          0);
	CHECK_INT(fed_metrics_counter(reg, "fed_syncs_total", "Syncs.", "cluster", &c, &err), 0);
	CHECK_INT(fed_metrics_set(g, V("east", "a"), 1), 0);
	CHECK_INT(fed_metrics_set(g, V("east", "b"), 1), 0);
	CHECK_INT(fed_metrics_set(g, V("west", "a"), 0), 0);
	CHECK_INT(fed_metrics_inc(c, V("east")), 0);

	/* a deleted cluster's series disappear */
	CHECK_INT(fed_metrics_remove_matching(g, "cluster", "east"), 2);
	CHECK_INT(fed_metrics_remove_matching(g, "nolabel", "east"), 0);
	CHECK_INT(fed_metrics_remove(c, V("east")), 0);
	CHECK_INT(fed_metrics_remove(c, V("east")), FED_ENOTFOUND);
	CHECK_INT(fed_metrics_render(reg, &b), 0);
	CHECK_STR(fed_buf_str(&b), "# HELP fed_cluster_ready Ready (1) or not (0).\n"
	                           "# TYPE fed_cluster_ready gauge\n"
	                           "fed_cluster_ready{cluster=\"west\",zone=\"a\"} 0\n");

	/* a kept series pointer */
	CHECK_INT(fed_metrics_series(c, V("north"), &s), 0);
	fed_metrics_series_add(s, 5);
	fed_metrics_series_add(s, -1);    /* ignored: counters only go up */
	fed_metrics_series_observe(s, 1); /* ignored: not a histogram */
	fed_buf_reset(&b);
	fed_metrics_clear(g);
	CHECK_INT(fed_metrics_render(reg, &b), 0);
	CHECK_STR(fed_buf_str(&b), "# HELP fed_syncs_total Syncs.\n"
	                           "# TYPE fed_syncs_total counter\n"
	                           "fed_syncs_total{cluster=\"north\"} 5\n");

	/* many series, one with a key too long for the stack buffer */
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "c%04d", i);
		CHECK_INT(fed_metrics_set(g, V(name, "z"), i), 0);
	}
	{
		char big[1000];
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		CHECK_INT(fed_metrics_set(g, V(big, "z"), 7), 0);
		CHECK_INT(fed_metrics_set(g, V(big, "z"), 8), 0);
		CHECK_INT(fed_metrics_remove(g, V(big, "z")), 0);
	}
	/* no collision between ("ab","c") and ("a","bc") */
	CHECK_INT(fed_metrics_set(g, V("ab", "c"), 1), 0);
	CHECK_INT(fed_metrics_set(g, V("a", "bc"), 2), 0);
	for (i = 0; i < 2000; i += 2) {
		snprintf(name, sizeof(name), "c%04d", i);
		CHECK_INT(fed_metrics_remove(g, V(name, "z")), 0);
	}
	fed_buf_reset(&b);
	CHECK_INT(fed_metrics_render(reg, &b), 0);
	CHECK_HAS(fed_buf_str(&b), "fed_cluster_ready{cluster=\"a\",zone=\"bc\"} 2\n"
	                           "fed_cluster_ready{cluster=\"ab\",zone=\"c\"} 1\n"
	                           "fed_cluster_ready{cluster=\"c0001\",zone=\"z\"} 1\n"
	                           "fed_cluster_ready{cluster=\"c0003\",zone=\"z\"} 3\n");
	CHECK(strstr(b.data, "c0002") == NULL);
	CHECK_HAS(fed_buf_str(&b), "fed_cluster_ready{cluster=\"c1999\",zone=\"z\"} 1999\n"
	                           "# HELP fed_syncs_total");
	fed_buf_release(&b);
	fed_metrics_free(reg);
}

static void test_errors(void)
{
	static const double bad_buckets[] = {1, 0.5};
	struct fed_metrics *reg = NULL;
	struct fed_metrics_family *c = NULL, *h = NULL, *g = NULL;
	struct fed_error err = FED_ERROR_INIT;

	CHECK_INT(fed_metrics_new(&reg, &err), 0);
	CHECK_INT(fed_metrics_counter(reg, "9lives", "", NULL, NULL, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "invalid metric name '9lives'");
	CHECK_INT(fed_metrics_counter(reg, "a-b", "", NULL, NULL, &err), FED_EINVAL);
	CHECK_INT(fed_metrics_counter(reg, "", "", NULL, NULL, &err), FED_EINVAL);
	CHECK_INT(fed_metrics_counter(reg, "ok", "", "cluster,__name", NULL, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "invalid label name '__name'");
	CHECK_INT(fed_metrics_counter(reg, "ok", "", "a,a", NULL, &err), FED_EINVAL);
	CHECK_INT(fed_metrics_counter(reg, "ok", "", "a:b", NULL, &err), FED_EINVAL);
	CHECK_INT(fed_metrics_histogram(reg, "h", "", "le", NULL, 0, NULL, &err), FED_EINVAL);
	CHECK_INT(fed_metrics_histogram(reg, "h", "", NULL, bad_buckets, 2, NULL, &err),
	          FED_EINVAL);
	CHECK_HAS(err.msg, "increasing");
	CHECK(fed_metrics_family(reg, "ok") == NULL);

	CHECK_INT(fed_metrics_counter(reg, "ns:ok_total", "", "a", &c, &err), 0);
	CHECK_INT(fed_metrics_counter(reg, "ns:ok_total", "", NULL, NULL, &err), FED_EEXISTS);
	CHECK_INT(fed_metrics_gauge(reg, "g", "", "a", &g, &err), 0);
	CHECK_INT(fed_metrics_histogram(reg, "h", "", NULL, NULL, 0, &h, &err), 0);
	CHECK_INT(fed_metrics_add(c, V("x"), -1), FED_EINVAL);
	CHECK_INT(fed_metrics_add(c, V("x"), NAN), FED_EINVAL);
	CHECK_INT(fed_metrics_inc(c, NULL), FED_EINVAL);
	CHECK_INT(fed_metrics_inc(c, V(NULL)), FED_EINVAL);
	CHECK_INT(fed_metrics_observe(c, V("x"), 1), FED_EINVAL);
	CHECK_INT(fed_metrics_set(h, NULL, 1), FED_EINVAL);
	CHECK_INT(fed_metrics_add(h, NULL, 1), FED_EINVAL);
	CHECK_INT(fed_metrics_remove(g, NULL), FED_EINVAL);
	CHECK_INT(fed_metrics_set(c, V("x"), 10), 0); /* a mirrored count */
	fed_metrics_free(reg);
	fed_metrics_free(NULL);
}

static void test_http_handler(void)
{
	struct fed_metrics *reg = NULL;
	struct fed_metrics_family *c = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_http_response resp = {200, NULL, FED_BUF_INIT};
	struct fed_http_request req;

	memset(&req, 0, sizeof(req));
	CHECK_INT(fed_metrics_new(&reg, &err), 0);
	CHECK_INT(fed_metrics_counter(reg, "x_total", "X.", NULL, &c, &err), 0);
	CHECK_INT(fed_metrics_http_handler(&req, &resp, reg), 0);
	CHECK_STR(resp.content_type, "text/plain; version=0.0.4; charset=utf-8");
	CHECK_STR(fed_buf_str(&resp.body),
	          "# HELP x_total X.\n# TYPE x_total counter\nx_total 0\n");
	fed_buf_release(&resp.body);
	fed_metrics_free(reg);
}

int main(void)
{
	RUN(test_counter_gauge);
	RUN(test_histogram);
	RUN(test_escaping);
	RUN(test_values);
	RUN(test_removal);
	RUN(test_errors);
	RUN(test_http_handler);
	return CHECK_EXIT();
}
