/* From plan to target: capacity estimated from a member's workload status,
 * the gradual step (never fewer available replicas than totalReplicas when
 * there were that many), and the merge patch of placement and
 * /spec/replicas overrides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fed/rsp.h"

static cJSON *json(const char *s)
{
	cJSON *j = cJSON_Parse(s);

	if (!j) {
		fprintf(stderr, "  bad test JSON: %s\n", s);
		abort();
	}
	return j;
}

static cJSON *deploy(int want, int avail)
{
	char buf[200];

	snprintf(buf, sizeof(buf),
	         "{\"spec\":{\"replicas\":%d},\"status\":{\"replicas\":%d,"
	         "\"availableReplicas\":%d}}",
	         want, want, avail);
	return json(buf);
}

static void test_observe(void)
{
	struct fed_rsp_observed st;
	cJSON *d;

	memset(&st, 0, sizeof(st));
	fed_rsp_observe(NULL, 100, 30, &st);
	CHECK_INT(st.current, -1);
	CHECK_INT(st.capacity, -1);

	/* all available: no estimate */
	d = deploy(4, 4);
	fed_rsp_observe(d, 100, 30, &st);
	CHECK_INT(st.current, 4);
	CHECK_INT(st.capacity, -1);
	CHECK(st.recheck_at == 0);
	cJSON_Delete(d);

	/* 2 missing: no estimate before the threshold, a recheck at it */
	d = deploy(4, 2);
	fed_rsp_observe(d, 100, 30, &st);
	CHECK_INT(st.current, 2);
	CHECK_INT(st.capacity, -1);
	CHECK(st.recheck_at == 130);
	fed_rsp_observe(d, 129.9, 30, &st);
	CHECK_INT(st.capacity, -1);
	/* past it: capacity is what is available */
	fed_rsp_observe(d, 130, 30, &st);
	CHECK_INT(st.capacity, 2);
	CHECK(st.recheck_at == 0);
	cJSON_Delete(d);

	/* scaled up: the new pods get their own time */
	d = deploy(6, 2);
	fed_rsp_observe(d, 140, 30, &st);
	CHECK_INT(st.capacity, -1);
	CHECK(st.recheck_at == 170);
	cJSON_Delete(d);
	/* scaled down while short: the clock keeps running */
	d = deploy(5, 2);
	fed_rsp_observe(d, 171, 30, &st);
	CHECK_INT(st.capacity, 2);
	cJSON_Delete(d);

	/* room came back: everything available, estimate gone */
	d = deploy(5, 5);
	fed_rsp_observe(d, 200, 30, &st);
	CHECK_INT(st.capacity, -1);
	CHECK(st.short_since == 0);
	cJSON_Delete(d);

	/* no availableReplicas (a StatefulSet before 1.22): readyReplicas;
	 * no status: nothing available; replicas unset means 1 */
	d = json("{\"spec\":{\"replicas\":3},\"status\":{\"readyReplicas\":3}}");
	fed_rsp_observe(d, 300, 30, &st);
	CHECK_INT(st.current, 3);
	CHECK_INT(st.capacity, -1);
	cJSON_Delete(d);
	d = json("{\"spec\":{}}");
	fed_rsp_observe(d, 300, 0, &st);
	CHECK_INT(st.current, 0);
	CHECK_INT(st.capacity, 0); /* threshold 0: at once */
	cJSON_Delete(d);
	/* garbage in status counts as absent */
	d = json("{\"spec\":{\"replicas\":-3},\"status\":{\"availableReplicas\":\"x\"}}");
	fed_rsp_observe(d, 300, 30, &st);
	CHECK_INT(st.current, 0);
	cJSON_Delete(d);
}

/* step over clusters "target/asked/available[/k]" */
static void step(const char *spec, int64_t total, const char *want)
{
	struct fed_rsp_step_in in[8];
	int64_t out[8];
	char got[128] = "", buf[256], *tok, *save = NULL;
	size_t n = 0, i, g = 0;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, " ", &save); tok && n < 8; tok = strtok_r(NULL, " ", &save)) {
		long t, a, v;
		char k = 0;
		if (sscanf(tok, "%ld/%ld/%ld/%c", &t, &a, &v, &k) < 3)
			abort();
		in[n++] = (struct fed_rsp_step_in){t, a, v, k == 'k'};
	}
	fed_rsp_step(in, n, total, out);
	for (i = 0; i < n; i++)
		g += (size_t)snprintf(got + g, sizeof(got) - g, "%s%lld", i ? " " : "",
		                      (long long)out[i]);
	if (strcmp(got, want))
		fprintf(stderr, "  step \"%s\" total %lld:\n", spec, (long long)total);
	CHECK_STR(got, want);
}

static void test_step(void)
{
	/* nothing to do */
	step("4/4/4 2/2/2 2/2/2", 8, "4 2 2");
	/* first rollout from the template's 1 each: up at once */
	step("4/1/0 2/1/0 2/1/0", 8, "4 2 2");
	/* more total, less total: both at once when all is available */
	step("2/4/4 1/2/2 1/2/2", 4, "2 1 1");
	/* weights change 2:1:1 -> 1:1:2: c goes up, a waits for c's pods */
	step("2/4/4 2/2/2 4/2/2", 8, "4 2 4");
	step("2/4/4 2/2/2 4/4/3", 8, "3 2 4");
	step("2/4/4 2/2/2 4/4/4", 8, "2 2 4");
	/* unavailable replicas go at once: a has 2 Pending */
	step("2/4/2 3/2/2 3/2/2", 8, "2 3 3");
	/* a member back from offline, not listed yet (available unknown):
	 * the others keep what they run */
	step("4/4/-1 2/4/4 2/4/4", 8, "4 4 4");
	step("4/4/4 2/4/4 2/4/4", 8, "4 2 2");
	step("4/4/3 2/4/4 2/4/4", 8, "4 2 3");
	/* a kept (offline) cluster: untouched, its replicas not counted */
	step("0/4/4/k 4/2/2 4/2/2", 8, "4 4 4");
	/* ... not even when it is known to run them: it may be gone for good */
	step("0/4/4/k 2/4/4 2/4/4", 8, "4 4 4");
	step("0/4/4/k 2/4/2 2/4/4", 8, "4 2 4");
	/* below total already (nothing available): no scale-down below available */
	step("0/3/0 4/4/0", 4, "0 4");
	step("0/3/2 4/4/0", 4, "2 4");
	/* negative inputs are 0 */
	step("3/-1/-5", 3, "3");
	step("", 0, "");
}

static char *patch_of(const char *fed, const struct fed_rsp_assign *a, size_t n, int *ret)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *obj = json(fed), *p = NULL;
	char *s;

	*ret = fed_rsp_target_patch(obj, a, n, &p, &err);
	if (*ret)
		s = strdup(err.msg);
	else
		s = p ? cJSON_PrintUnformatted(p) : strdup("none");
	cJSON_Delete(p);
	cJSON_Delete(obj);
	return s;
}

#define PATCH(fed, want, ...)                                                                      \
	do {                                                                                       \
		const struct fed_rsp_assign a_[] = {__VA_ARGS__};                                  \
		int r_;                                                                            \
		char *s_ = patch_of(fed, a_, sizeof(a_) / sizeof(a_[0]), &r_);                     \
		CHECK_INT(r_, 0);                                                                  \
		CHECK_STR(s_, want);                                                               \
		free(s_);                                                                          \
	} while (0)

static void test_patch(void)
{
	const char *fresh = "{\"metadata\":{\"resourceVersion\":\"7\"},\"spec\":{\"template\":{},"
	                    "\"placement\":{\"clusterSelector\":{}}}}";
	const char *done =
	    "{\"metadata\":{\"resourceVersion\":\"9\"},\"spec\":{\"placement\":{\"clusters\":"
	    "[{\"name\":\"b\"},{\"name\":\"a\"}],\"clusterSelector\":{}},\"overrides\":["
	    "{\"clusterName\":\"a\",\"clusterOverrides\":[{\"path\":\"/spec/template/x\","
	    "\"value\":1},{\"path\":\"/spec/replicas\",\"value\":4}]},"
	    "{\"clusterName\":\"b\",\"clusterOverrides\":[{\"op\":\"replace\",\"path\":"
	    "\"/spec/replicas\",\"value\":2}]},"
	    "{\"clusterName\":\"c\",\"clusterOverrides\":[{\"path\":\"/metadata/labels/x\","
	    "\"value\":\"y\"}]}]}}";
	int ret;
	char *s;

	/* first plan: placement and one override per cluster, guarded by rv */
	PATCH(fresh,
	      "{\"spec\":{\"placement\":{\"clusters\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
	      "\"overrides\":[{\"clusterName\":\"a\",\"clusterOverrides\":[{\"path\":\"/spec/"
	      "replicas\",\"value\":4}]},{\"clusterName\":\"b\",\"clusterOverrides\":[{\"path\":"
	      "\"/spec/replicas\",\"value\":2}]}]},\"metadata\":{\"resourceVersion\":\"7\"}}",
	      {"a", 4, false, true}, {"b", 2, false, true}, {"c", 0, false, true});
	/* already so (placement order and other overrides do not matter): nothing */
	PATCH(done, "none", {"a", 4, false, true}, {"b", 2, false, true}, {"c", 0, false, false});
	/* a value changes: only that value, other ops and op names stay */
	PATCH(
	    done,
	    "{\"spec\":{\"overrides\":[{\"clusterName\":\"a\",\"clusterOverrides\":[{\"path\":"
	    "\"/spec/template/x\",\"value\":1},{\"path\":\"/spec/replicas\",\"value\":3}]},"
	    "{\"clusterName\":\"b\",\"clusterOverrides\":[{\"op\":\"replace\",\"path\":\"/spec/"
	    "replicas\",\"value\":3}]},{\"clusterName\":\"c\",\"clusterOverrides\":[{\"path\":"
	    "\"/metadata/labels/x\",\"value\":\"y\"}]}]},\"metadata\":{\"resourceVersion\":\"9\"}}",
	    {"a", 3, false, true}, {"b", 3, false, true}, {"c", 0, false, false});
	/* b drops out: out of placement, its entry (only replicas) goes; c
	 * joins: its existing entry gets the replicas op */
	PATCH(done,
	      "{\"spec\":{\"placement\":{\"clusters\":[{\"name\":\"a\"},{\"name\":\"c\"}]},"
	      "\"overrides\":[{\"clusterName\":\"a\",\"clusterOverrides\":[{\"path\":\"/spec/"
	      "template/x\",\"value\":1},{\"path\":\"/spec/replicas\",\"value\":4}]},"
	      "{\"clusterName\":\"c\",\"clusterOverrides\":[{\"path\":\"/metadata/labels/x\","
	      "\"value\":\"y\"},{\"path\":\"/spec/replicas\",\"value\":4}]}]},"
	      "\"metadata\":{\"resourceVersion\":\"9\"}}",
	      {"a", 4, false, true}, {"b", 0, false, true}, {"c", 4, false, false});
	/* a kept (offline) cluster: its entry and placement stay whatever the
	 * plan says; b and c share */
	PATCH(done,
	      "{\"spec\":{\"placement\":{\"clusters\":[{\"name\":\"a\"},{\"name\":\"b\"},"
	      "{\"name\":\"c\"}]},\"overrides\":[{\"clusterName\":\"a\",\"clusterOverrides\":"
	      "[{\"path\":\"/spec/template/x\",\"value\":1},{\"path\":\"/spec/replicas\","
	      "\"value\":4}]},{\"clusterName\":\"b\",\"clusterOverrides\":[{\"op\":\"replace\","
	      "\"path\":\"/spec/replicas\",\"value\":4}]},{\"clusterName\":\"c\","
	      "\"clusterOverrides\":[{\"path\":\"/metadata/labels/x\",\"value\":\"y\"},{\"path\":"
	      "\"/spec/replicas\",\"value\":4}]}]},\"metadata\":{\"resourceVersion\":\"9\"}}",
	      {"a", 0, true, true}, {"b", 4, false, true}, {"c", 4, false, false});
	/* kept and not placed: stays out */
	PATCH(fresh,
	      "{\"spec\":{\"placement\":{\"clusters\":[{\"name\":\"b\"}]},\"overrides\":["
	      "{\"clusterName\":\"b\",\"clusterOverrides\":[{\"path\":\"/spec/replicas\","
	      "\"value\":8}]}]},\"metadata\":{\"resourceVersion\":\"7\"}}",
	      {"a", 0, true, false}, {"b", 8, false, true});
	/* total 0: no clusters, our overrides removed (overrides: null) */
	PATCH("{\"spec\":{\"placement\":{\"clusters\":[{\"name\":\"a\"}]},\"overrides\":["
	      "{\"clusterName\":\"a\",\"clusterOverrides\":[{\"path\":\"/spec/replicas\","
	      "\"value\":1}]}]}}",
	      "{\"spec\":{\"placement\":{\"clusters\":[]},\"overrides\":null}}",
	      {"a", 0, false, true});
	/* stale replicas override of a cluster not in the plan: removed */
	PATCH("{\"spec\":{\"placement\":{\"clusters\":[{\"name\":\"a\"}]},\"overrides\":["
	      "{\"clusterName\":\"a\",\"clusterOverrides\":[{\"path\":\"/spec/replicas\","
	      "\"value\":1}]},{\"clusterName\":\"gone\",\"clusterOverrides\":[{\"path\":"
	      "\"/spec/replicas\",\"value\":1}]}]}}",
	      "{\"spec\":{\"overrides\":[{\"clusterName\":\"a\",\"clusterOverrides\":[{\"path\":"
	      "\"/spec/replicas\",\"value\":1}]}]}}",
	      {"a", 1, false, true});

	/* errors: a broken overrides list is not rewritten */
	{
		const struct fed_rsp_assign a[] = {{"a", 1, false, true}};
		s = patch_of("{\"spec\":{\"overrides\":{\"clusterName\":\"a\"}}}", a, 1, &ret);
		CHECK_INT(ret, FED_EINVAL);
		CHECK_HAS(s, "spec.overrides");
		CHECK_HAS(s, "fix it before replicas can be scheduled");
		free(s);
	}
	{
		const struct fed_rsp_assign a[] = {{"a", 1, false, true}, {"a", 2, false, true}};
		s = patch_of(fresh, a, 2, &ret);
		CHECK_INT(ret, FED_EINVAL);
		CHECK_HAS(s, "given twice");
		free(s);
	}
}

static void test_asked(void)
{
	cJSON *f = json("{\"spec\":{\"template\":{\"spec\":{\"replicas\":3}},\"overrides\":["
	                "{\"clusterName\":\"a\",\"clusterOverrides\":[{\"path\":\"/spec/replicas\","
	                "\"value\":5}]},{\"clusterName\":\"b\",\"clusterOverrides\":[{\"op\":"
	                "\"remove\",\"path\":\"/spec/replicas\"}]}]}}");
	cJSON *g = json("{\"spec\":{\"template\":{}}}");

	CHECK_INT(fed_rsp_asked(f, "a", true), 5);
	CHECK_INT(fed_rsp_asked(f, "b", true), 3);
	CHECK_INT(fed_rsp_asked(f, "c", true), 3);
	CHECK_INT(fed_rsp_asked(f, "a", false), 0);
	CHECK_INT(fed_rsp_asked(g, "a", true), 1); /* Deployment default */
	CHECK_INT(fed_rsp_asked(NULL, "a", true), 1);
	cJSON_Delete(f);
	cJSON_Delete(g);
}

/* The whole loop of scenario (b) on paper: capacity capped, replicas move
 * with kubefed's overflow kept as Pending placeholders, and come back. */
static void test_capacity_loop(void)
{
	struct fed_rsp_spec s;
	struct fed_error err = FED_ERROR_INIT;
	cJSON *j =
	    json("{\"spec\":{\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":8,"
	         "\"rebalance\":true,\"clusters\":{\"a\":{\"weight\":2},\"b\":{\"weight\":1},"
	         "\"c\":{\"weight\":1}}},\"metadata\":{\"namespace\":\"n\",\"name\":\"w\"}}");
	struct fed_rsp_cluster_in in[3] = {{"a", true, false, true, 2, 2, false},
	                                   {"b", true, false, true, 2, -1, false},
	                                   {"c", true, false, true, 2, -1, false}};
	struct fed_rsp_cluster_out out[3];
	struct fed_rsp_step_in st[3];
	int64_t unplaced, ask[3];
	size_t i;

	CHECK_INT(fed_rsp_parse(j, &s, &err), 0);
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), 0);
	CHECK_INT(out[0].replicas, 2);
	CHECK_INT(out[0].overflow, 2);
	CHECK_INT(out[1].replicas + out[2].replicas, 6);
	for (i = 0; i < 3; i++)
		st[i] = (struct fed_rsp_step_in){out[i].replicas + out[i].overflow, i ? 2 : 4, 2,
		                                 false};
	fed_rsp_step(st, 3, 8, ask);
	/* a keeps asking 4 (2 Pending wait for room), b and c take 3 each */
	CHECK_INT(ask[0], 4);
	CHECK_INT(ask[1], 3);
	CHECK_INT(ask[2], 3);
	/* room is back: no estimate; 4/2/2 once a's 4 are available */
	in[0].capacity = -1;
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), 0);
	for (i = 0; i < 3; i++)
		st[i] = (struct fed_rsp_step_in){out[i].replicas + out[i].overflow, i ? 3 : 4,
		                                 i ? 3 : 4, false};
	fed_rsp_step(st, 3, 8, ask);
	CHECK_INT(ask[0], 4);
	CHECK_INT(ask[1], 2);
	CHECK_INT(ask[2], 2);
	fed_rsp_spec_release(&s);
	cJSON_Delete(j);
}

int main(void)
{
	RUN(test_observe);
	RUN(test_step);
	RUN(test_patch);
	RUN(test_asked);
	RUN(test_capacity_loop);
	return CHECK_EXIT();
}
