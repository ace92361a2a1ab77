/* ReplicaSchedulingPreference: parsing, validation and the planner.
 * kubefed's documented examples and every vector of its planner_test.go
 * (key "", as there) must come out exactly; then fed's additions. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fed/rsp.h"

#define MAXC 8
#define U    -1 /* unknown current/capacity */

struct run {
	struct fed_rsp_cluster_out out[MAXC];
	int64_t unplaced;
	int ret;
	struct fed_error err;
	char got[256];      /* "A=16 B=17 C=17" */
	char overflow[256]; /* clusters with overflow: "C=7" */
};

static int parse(const char *json, struct fed_rsp_spec *s, struct fed_error *err)
{
	cJSON *j = cJSON_Parse(json);
	int ret;

	if (!j) {
		fprintf(stderr, "  bad test JSON: %s\n", json);
		abort();
	}
	ret = fed_rsp_parse(j, s, err);
	cJSON_Delete(j);
	return ret;
}

static void summarize(struct run *r, size_t n)
{
	size_t i, g = 0, o = 0;

	r->got[0] = r->overflow[0] = '\0';
	for (i = 0; i < n; i++) {
		g += (size_t)snprintf(r->got + g, sizeof(r->got) - g, "%s%s=%lld", i ? " " : "",
		                      r->out[i].name, (long long)r->out[i].replicas);
		if (r->out[i].overflow)
			o += (size_t)snprintf(r->overflow + o, sizeof(r->overflow) - o, "%s%s=%lld",
			                      o ? " " : "", r->out[i].name,
			                      (long long)r->out[i].overflow);
	}
}

/* Plan over clusters named by the letters of `names`, with per-cluster
 * current and capacity (NULL: all unknown). */
static void plan(const struct fed_rsp_spec *s, const char *names, const int64_t *current,
                 const int64_t *capacity, struct run *r)
{
	static char name_buf[MAXC][2];
	struct fed_rsp_cluster_in in[MAXC];
	size_t i, n = strlen(names);

	memset(r, 0, sizeof(*r));
	memset(in, 0, sizeof(in));
	for (i = 0; i < n; i++) {
		name_buf[i][0] = names[i];
		name_buf[i][1] = '\0';
		in[i] = (struct fed_rsp_cluster_in){name_buf[i],
		                                    true,
		                                    false,
		                                    false,
		                                    current ? current[i] : U,
		                                    capacity ? capacity[i] : U,
		                                    false};
	}
	r->ret = fed_rsp_plan(s, in, n, r->out, &r->unplaced, &r->err);
	summarize(r, n);
}

/* Parse `spec` and plan; the common case. */
static void plan_json(const char *spec, const char *names, const int64_t *current,
                      const int64_t *capacity, struct run *r)
{
	struct fed_rsp_spec s;
	struct fed_error err = FED_ERROR_INIT;

	if (parse(spec, &s, &err)) {
		fprintf(stderr, "  parse failed: %s\n", err.msg);
		abort();
	}
	plan(&s, names, current, capacity, r);
	fed_rsp_spec_release(&s);
}

#define SPEC(total, rebalance, clusters)                                                           \
	"{\"spec\":{\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":" #total              \
	",\"rebalance\":" #rebalance ",\"clusters\":" clusters "}}"

static int64_t sum(const struct run *r, size_t n)
{
	int64_t t = 0;
	size_t i;

	for (i = 0; i < n; i++)
		t += r->out[i].replicas;
	return t;
}

/* ---- kubefed's documented examples (userguide + planner_test.go) ---- */

static void test_documented_examples(void)
{
	struct run r;
	const int64_t cur[] = {10, 70};

	plan_json(SPEC(9, false, "{\"*\":{\"weight\":1}}"), "ABC", NULL, NULL, &r);
	CHECK_INT(r.ret, 0);
	CHECK_STR(r.got, "A=3 B=3 C=3");
	CHECK_STR(r.out[0].reason, "weight 1 of 3");
	CHECK_INT(r.unplaced, 0);

	plan_json(SPEC(9, false,
	               "{\"A\":{\"minReplicas\":4,\"maxReplicas\":6,\"weight\":1},"
	               "\"B\":{\"minReplicas\":4,\"maxReplicas\":8,\"weight\":2}}"),
	          "AB", NULL, NULL, &r);
	CHECK_STR(r.got, "A=4 B=5");
	CHECK_STR(r.out[0].reason, "min 4");
	CHECK_STR(r.out[1].reason, "min 4 + 1 by weight 2 of 3");

	/* which cluster gets the odd replica follows kubefed's FNV-1 hash of
	 * name + key; for one-letter names and key "" that is C, B, A */
	plan_json(SPEC(50, false, "{\"*\":{\"weight\":1}}"), "ABC", NULL, NULL, &r);
	CHECK_STR(r.got, "A=16 B=17 C=17");

	/* kubefed's known imbalance (its TODO says 10/40): kept as documented */
	plan_json(SPEC(50, false, "{\"*\":{\"weight\":1}}"), "AB", cur, NULL, &r);
	CHECK_STR(r.got, "A=0 B=50");
	CHECK_STR(r.out[0].reason, "weight 1 of 2, none left");
	CHECK_STR(r.out[1].reason, "kept 50 running (rebalance off)");
	CHECK_INT(r.unplaced, 0);
}

static void test_kubefed_equal(void)
{
	struct run r;
	const char *star = SPEC(50, false, "{\"*\":{\"weight\":1}}");

	plan_json(star, "AB", NULL, NULL, &r);
	CHECK_STR(r.got, "A=25 B=25");
	plan_json(SPEC(1, false, "{\"*\":{\"weight\":1}}"), "AB", NULL, NULL, &r);
	CHECK_STR(r.got, "A=0 B=1");
	plan_json(SPEC(1, false, "{\"*\":{\"weight\":1}}"), "ABCD", NULL, NULL, &r);
	CHECK_STR(r.got, "A=0 B=0 C=0 D=1");
	plan_json(SPEC(1, false, "{\"*\":{\"weight\":1}}"), "A", NULL, NULL, &r);
	CHECK_STR(r.got, "A=1");
	plan_json(SPEC(1, false, "{\"*\":{\"weight\":1}}"), "", NULL, NULL, &r);
	CHECK_INT(r.ret, 0);
	CHECK_INT(r.unplaced, 1);
	CHECK(r.overflow[0] == '\0');
}

static void test_kubefed_existing(void)
{
	static const struct {
		int64_t total;
		const char *names;
		int64_t cur[3];
		const char *want;
	} v[] = {
	    {50, "ABC", {U, U, 30}, "A=10 B=10 C=30"},
	    {50, "AB", {30, U}, "A=30 B=20"},
	    {15, "AB", {0, 8}, "A=7 B=8"},
	    {15, "AB", {1, 8}, "A=7 B=8"},
	    {15, "AB", {4, 8}, "A=7 B=8"},
	    {15, "AB", {5, 8}, "A=7 B=8"},
	    {15, "AB", {6, 8}, "A=7 B=8"},
	    {15, "AB", {7, 8}, "A=7 B=8"},
	    {500000, "AB", {300000, U}, "A=300000 B=200000"},
	    {50, "AB", {10, U}, "A=25 B=25"},
	    {50, "AB", {10, 70}, "A=0 B=50"},
	    {1, "AB", {30, U}, "A=1 B=0"},
	    {50, "AB", {10, 20}, "A=25 B=25"},
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct fed_rsp_spec s;
		struct fed_error err = FED_ERROR_INIT;
		char json[256];
		struct run r;

		snprintf(json, sizeof(json),
		         "{\"spec\":{\"targetKind\":\"FederatedReplicaSet\",\"totalReplicas\":%lld,"
		         "\"clusters\":{\"*\":{\"weight\":1}}}}",
		         (long long)v[i].total);
		CHECK_INT(parse(json, &s, &err), 0);
		plan(&s, v[i].names, v[i].cur, NULL, &r);
		fed_rsp_spec_release(&s);
		if (strcmp(r.got, v[i].want))
			fprintf(stderr, "  vector %zu\n", i);
		CHECK_STR(r.got, v[i].want);
		CHECK_STR(r.overflow, "");
		CHECK_INT(r.unplaced, 0);
	}
}

static void test_kubefed_capacity(void)
{
	struct run r;
	const int64_t c10[] = {U, U, 10}, b10[] = {U, 10, U}, ab10[] = {10, 10, U},
	              c10_4[] = {U, U, 10, U}, first10[] = {10, U}, second10[] = {U, 10};

	plan_json(SPEC(50, true, "{\"*\":{\"weight\":1}}"), "ABC", NULL, c10, &r);
	CHECK_STR(r.got, "A=20 B=20 C=10");
	CHECK_STR(r.overflow, "C=7");
	CHECK_STR(r.out[2].reason, "capped by capacity 10, 7 more wanted");

	plan_json(SPEC(50, true, "{\"A\":{\"weight\":10000},\"B\":{\"weight\":1}}"), "BC", NULL,
	          first10, &r);
	CHECK_STR(r.got, "B=10 C=0");
	CHECK_STR(r.overflow, "B=40");
	CHECK_INT(r.unplaced, 40); /* kubefed drops these silently */
	CHECK_STR(r.out[1].reason, "no entry");

	plan_json(SPEC(60, true, "{\"A\":{\"weight\":1},\"B\":{\"weight\":2}}"), "ABC", NULL, b10,
	          &r);
	CHECK_STR(r.got, "A=50 B=10 C=0");
	CHECK_STR(r.overflow, "B=30");

	plan_json(
	    SPEC(
	        71, true,
	        "{\"A\":{\"weight\":10000,\"maxReplicas\":10},\"B\":{\"weight\":1},"
	        "\"C\":{\"weight\":1,\"maxReplicas\":21},\"D\":{\"weight\":1,\"maxReplicas\":10}}"),
	    "ABCD", NULL, c10_4, &r);
	CHECK_STR(r.got, "A=10 B=41 C=10 D=10");
	CHECK_STR(r.overflow, "C=11");

	plan_json(SPEC(60, false, "{\"A\":{\"weight\":1},\"B\":{\"weight\":1}}"), "ABC", NULL, ab10,
	          &r);
	CHECK_STR(r.got, "A=10 B=10 C=0");
	CHECK_STR(r.overflow, "A=20 B=20");
	CHECK_INT(r.unplaced, 40);

	plan_json(SPEC(60, false, "{\"A\":{\"weight\":1},\"B\":{\"weight\":5}}"), "ABC", NULL, b10,
	          &r);
	CHECK_STR(r.got, "A=50 B=10 C=0");
	CHECK_STR(r.overflow, ""); /* rebalance off: it all found a home */

	plan_json(SPEC(50, false, "{\"*\":{\"minReplicas\":20,\"weight\":0}}"), "ABC", NULL, b10,
	          &r);
	CHECK_STR(r.got, "A=20 B=10 C=20");
	CHECK_STR(r.overflow, "");
	CHECK_STR(r.out[1].reason, "capped by capacity 10");

	plan_json(SPEC(60, true, "{\"*\":{\"minReplicas\":20,\"weight\":1}}"), "AB", NULL, second10,
	          &r);
	CHECK_STR(r.got, "A=50 B=10");
	CHECK_STR(r.overflow, "B=15");
}

static void test_kubefed_min_max(void)
{
	struct run r;

	plan_json(SPEC(50, false, "{\"*\":{\"minReplicas\":2,\"weight\":0}}"), "ABC", NULL, NULL,
	          &r);
	CHECK_STR(r.got, "A=2 B=2 C=2");
	CHECK_INT(r.unplaced, 44);
	CHECK_STR(r.out[0].reason, "min 2");

	plan_json(SPEC(50, false, "{\"*\":{\"minReplicas\":20,\"weight\":0}}"), "ABC", NULL, NULL,
	          &r);
	CHECK_STR(r.got, "A=10 B=20 C=20");
	CHECK_STR(r.out[0].reason, "min 20, only 10 left");

	plan_json(SPEC(50, false,
	               "{\"*\":{\"minReplicas\":20,\"weight\":0},\"A\":{\"minReplicas\":100,"
	               "\"weight\":1}}"),
	          "ABC", NULL, NULL, &r);
	CHECK_STR(r.got, "A=50 B=0 C=0");
	CHECK_STR(r.out[1].reason, "min 20, none left");

	plan_json(SPEC(50, false, "{\"*\":{\"minReplicas\":10,\"weight\":1,\"maxReplicas\":12}}"),
	          "ABC", NULL, NULL, &r);
	CHECK_STR(r.got, "A=12 B=12 C=12");
	CHECK_INT(r.unplaced, 14);

	plan_json(SPEC(50, false, "{\"*\":{\"weight\":1,\"maxReplicas\":2}}"), "ABC", NULL, NULL,
	          &r);
	CHECK_STR(r.got, "A=2 B=2 C=2");
	CHECK_STR(r.out[0].reason, "capped by max 2");
	CHECK_INT(r.unplaced, 44);

	plan_json(SPEC(50, false, "{\"*\":{\"weight\":0,\"maxReplicas\":2}}"), "ABC", NULL, NULL,
	          &r);
	CHECK_STR(r.got, "A=0 B=0 C=0");
	CHECK_STR(r.out[0].reason, "weight 0");
	CHECK_INT(r.unplaced, 50);
}

static void test_kubefed_weight(void)
{
	struct run r;

	plan_json(SPEC(60, false, "{\"A\":{\"weight\":1},\"B\":{\"weight\":2}}"), "ABC", NULL, NULL,
	          &r);
	CHECK_STR(r.got, "A=20 B=40 C=0");
	CHECK_STR(r.out[1].reason, "weight 2 of 3");
	plan_json(SPEC(50, false, "{\"A\":{\"weight\":10000},\"B\":{\"weight\":1}}"), "ABC", NULL,
	          NULL, &r);
	CHECK_STR(r.got, "A=50 B=0 C=0");
	plan_json(SPEC(50, false, "{\"A\":{\"weight\":10000},\"B\":{\"weight\":1}}"), "BC", NULL,
	          NULL, &r);
	CHECK_STR(r.got, "B=50 C=0");
	plan_json(SPEC(50, false,
	               "{\"A\":{\"weight\":10000,\"maxReplicas\":10},\"B\":{\"weight\":1},"
	               "\"C\":{\"weight\":1}}"),
	          "ABC", NULL, NULL, &r);
	CHECK_STR(r.got, "A=10 B=20 C=20");
	plan_json(SPEC(50, false,
	               "{\"A\":{\"weight\":10000,\"maxReplicas\":10},\"B\":{\"weight\":1},"
	               "\"C\":{\"weight\":1,\"maxReplicas\":10}}"),
	          "ABC", NULL, NULL, &r);
	CHECK_STR(r.got, "A=10 B=30 C=10");
	plan_json(
	    SPEC(
	        71, false,
	        "{\"A\":{\"weight\":10000,\"maxReplicas\":10},\"B\":{\"weight\":1},"
	        "\"C\":{\"weight\":1,\"maxReplicas\":21},\"D\":{\"weight\":1,\"maxReplicas\":10}}"),
	    "ABCD", NULL, NULL, &r);
	CHECK_STR(r.got, "A=10 B=30 C=21 D=10");
	plan_json(
	    SPEC(91, false,
	         "{\"A\":{\"weight\":10000,\"maxReplicas\":10},\"B\":{\"weight\":1},"
	         "\"C\":{\"weight\":1,\"maxReplicas\":21},\"D\":{\"weight\":1,\"maxReplicas\":10},"
	         "\"E\":{\"weight\":1}}"),
	    "ABCDE", NULL, NULL, &r);
	CHECK_STR(r.got, "A=10 B=25 C=21 D=10 E=25");
}

/* ---- parsing ---- */

static void test_parse_defaults(void)
{
	struct fed_rsp_spec s;
	struct fed_error err = FED_ERROR_INIT;
	const struct fed_rsp_cluster_pref *p;

	CHECK_INT(parse("{\"spec\":{\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":3}}",
	                &s, &err),
	          0);
	CHECK_INT(s.target_kind, FED_RSP_FEDERATED_DEPLOYMENT);
	CHECK_INT(s.total_replicas, 3);
	CHECK(!s.rebalance && !s.intersect_with_cluster_selector);
	/* no clusters: kubefed's {"*": {weight: 1}} */
	CHECK_INT(s.n_clusters, 1);
	CHECK_STR(s.clusters[0].name, "*");
	CHECK_INT(s.clusters[0].pref.weight, 1);
	CHECK_INT(s.clusters[0].pref.min, 0);
	CHECK_INT(s.clusters[0].pref.max, -1);
	CHECK_STR(s.key, "");
	fed_rsp_spec_release(&s);
	CHECK(s.clusters == NULL && s.key == NULL);
	fed_rsp_spec_release(&s); /* twice is fine */
	fed_rsp_spec_release(NULL);

	CHECK_INT(
	    parse("{\"apiVersion\":\"scheduling.kubefed.io/v1alpha1\","
	          "\"kind\":\"ReplicaSchedulingPreference\","
	          "\"metadata\":{\"namespace\":\"ns\",\"name\":\"web\"},"
	          "\"spec\":{\"targetKind\":\"FederatedStatefulSet\",\"totalReplicas\":0,"
	          "\"rebalance\":true,\"intersectWithClusterSelector\":true,\"clusters\":{}}}",
	          &s, &err),
	    0);
	CHECK_INT(s.target_kind, FED_RSP_FEDERATED_STATEFULSET);
	CHECK_STR(fed_rsp_target_kind_name(s.target_kind), "FederatedStatefulSet");
	CHECK(s.rebalance && s.intersect_with_cluster_selector);
	CHECK_INT(s.n_clusters, 1);
	CHECK_STR(s.key, "ns/web");
	fed_rsp_spec_release(&s);

	CHECK_INT(parse("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"targetKind\":"
	                "\"FederatedReplicaSet\",\"totalReplicas\":7,\"clusters\":{"
	                "\"*\":{\"weight\":1},\"d\":{\"minReplicas\":1},"
	                "\"c\":{\"minReplicas\":1,\"maxReplicas\":5,\"weight\":2}}}}",
	                &s, &err),
	          0);
	CHECK_STR(s.key, "web");
	CHECK_INT(s.n_clusters, 3);
	CHECK_STR(s.clusters[0].name, "*"); /* sorted */
	CHECK_STR(s.clusters[1].name, "c");
	p = fed_rsp_pref_for(&s, "c");
	CHECK(p && p->min == 1 && p->max == 5 && p->weight == 2);
	/* an explicit entry replaces "*": d has weight 0, not 1 */
	p = fed_rsp_pref_for(&s, "d");
	CHECK(p && p->min == 1 && p->max == -1 && p->weight == 0);
	p = fed_rsp_pref_for(&s, "other");
	CHECK(p && p->weight == 1);
	CHECK(fed_rsp_pref_for(NULL, "x") == NULL);
	fed_rsp_spec_release(&s);
}

static void expect_error(const char *json, const char *msg)
{
	struct fed_rsp_spec s;
	struct fed_error err = FED_ERROR_INIT;

	memset(&s, 0xff, sizeof(s)); /* parse must clear it */
	CHECK_INT(parse(json, &s, &err), FED_EINVAL);
	CHECK_INT(err.code, FED_EINVAL);
	CHECK(strchr(err.msg, '\n') == NULL);
	CHECK(s.clusters == NULL && s.key == NULL && s.n_clusters == 0);
	if (!strstr(err.msg, msg))
		fprintf(stderr, "  message: %s\n", err.msg);
	CHECK_HAS(err.msg, msg);
}

#define BAD(clusters) SPEC(9, false, clusters)

static void test_parse_errors(void)
{
	struct fed_rsp_spec s;
	struct fed_error err = FED_ERROR_INIT;

	expect_error(BAD("{\"A\":{\"minReplicas\":4,\"maxReplicas\":3}}"),
	             "spec.clusters[\"A\"].maxReplicas: 3 is below minReplicas 4; raise "
	             "maxReplicas to at least 4 or lower minReplicas");
	expect_error(BAD("{\"*\":{\"weight\":-1}}"),
	             "spec.clusters[\"*\"].weight: -1 is negative; use 0 or more");
	expect_error(BAD("{\"A\":{\"minReplicas\":-2}}"), "spec.clusters[\"A\"].minReplicas: -2 is "
	                                                  "negative");
	expect_error(BAD("{\"A\":{\"maxReplicas\":-1}}"),
	             "spec.clusters[\"A\"].maxReplicas: -1 is "
	             "negative; use 0 or more, or leave it out");
	expect_error(BAD("{\"A\":{\"weight\":1e10}}"), "weight: 10000000000 is too large; weights "
	                                               "are relative");
	expect_error(BAD("{\"A\":{\"weight\":1.5}}"), "weight: 1.5 is not an integer");
	expect_error(BAD("{\"A\":{\"weight\":\"2\"}}"), "spec.clusters[\"A\"].weight: expected an "
	                                                "integer, got a string");
	expect_error(BAD("{\"A\":{\"maxreplicas\":3}}"), "spec.clusters[\"A\"]: unknown field "
	                                                 "\"maxreplicas\"; did you mean "
	                                                 "\"maxReplicas\"?");
	expect_error(BAD("{\"A\":{\"cpu\":3}}"), "unknown field \"cpu\"; the fields are "
	                                         "minReplicas, maxReplicas, weight");
	expect_error(BAD("{\"A\":{},\"A\":{\"weight\":2}}"), "spec.clusters[\"A\"]: given twice");
	expect_error(BAD("{\"\":{}}"), "spec.clusters: a key is empty");
	expect_error(BAD("{\"A\":3}"), "spec.clusters[\"A\"]: expected an object");
	expect_error(BAD("[]"), "spec.clusters: expected a map");
	/* a hostile name stays on one line */
	expect_error(BAD("{\"a\\nb\":{\"minReplicas\":2,\"maxReplicas\":1}}"),
	             "spec.clusters[\"a\\nb\"].maxReplicas");

	expect_error("{\"spec\":{\"targetKind\":\"Deployment\",\"totalReplicas\":1}}",
	             "spec.targetKind: \"Deployment\" is not supported; use FederatedDeployment");
	expect_error("{\"spec\":{\"totalReplicas\":1}}", "spec.targetKind is required");
	expect_error("{\"spec\":{\"targetKind\":3,\"totalReplicas\":1}}",
	             "spec.targetKind: expected a string, got a number");
	expect_error("{\"spec\":{\"targetKind\":\"FederatedDeployment\"}}",
	             "spec.totalReplicas is required");
	expect_error("{\"spec\":{\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":-1}}",
	             "spec.totalReplicas: -1 is negative");
	expect_error("{\"spec\":{\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":3e9}}",
	             "spec.totalReplicas: 3000000000 is too large; it is an int32: at most "
	             "2147483647");
	expect_error("{\"spec\":{\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":1e300}}",
	             "is out of range");
	expect_error("{\"spec\":{\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":1,"
	             "\"rebalance\":\"yes\"}}",
	             "spec.rebalance: expected true or false, got a string");
	expect_error("{\"spec\":{\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":1,"
	             "\"totalreplicas\":2}}",
	             "spec: unknown field \"totalreplicas\"; did you mean \"totalReplicas\"?");
	expect_error("{\"spec\":{\"targetKind\":\"FederatedDeployment\",\"replicas\":2}}",
	             "spec: unknown field \"replicas\"; the fields are targetKind, totalReplicas");
	expect_error("{\"kind\":\"Deployment\",\"spec\":{}}",
	             "kind: \"Deployment\" is not ReplicaSchedulingPreference");
	expect_error("{\"metadata\":[],\"spec\":{\"targetKind\":\"FederatedDeployment\","
	             "\"totalReplicas\":1}}",
	             "metadata: expected an object, got a list");
	expect_error("{}", "spec: missing");
	expect_error("[1]", "expected a JSON object, got a list");

	CHECK_INT(fed_rsp_parse(NULL, &s, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "got nothing");
	CHECK_INT(fed_rsp_parse(NULL, NULL, &err), FED_EINVAL);
}

static void test_validate_by_hand(void)
{
	struct fed_rsp_cluster_entry e[2] = {{"b", {0, -1, 1}}, {"a", {0, -1, 1}}};
	struct fed_rsp_spec s = {FED_RSP_FEDERATED_DEPLOYMENT, 4, false, false, e, 2, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct run r;

	CHECK_INT(fed_rsp_validate(&s, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "spec.clusters[\"a\"]: entries are not sorted by name");
	/* the planner refuses it too rather than misreading the lookup */
	plan(&s, "ab", NULL, NULL, &r);
	CHECK_INT(r.ret, FED_EINVAL);
	e[0].name = "a";
	e[1].name = "b";
	CHECK_INT(fed_rsp_validate(&s, &err), 0);
	plan(&s, "ab", NULL, NULL, &r);
	CHECK_INT(r.ret, 0);
	CHECK_STR(r.got, "a=2 b=2");
	s.target_kind = (enum fed_rsp_target_kind)7;
	CHECK_INT(fed_rsp_validate(&s, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "spec.targetKind");
	CHECK_STR(fed_rsp_target_kind_name(s.target_kind), "unknown");
	CHECK_INT(fed_rsp_validate(NULL, &err), FED_EINVAL);
}

/* ---- fed's additions and edge cases ---- */

static void test_zero_total(void)
{
	struct run r;

	plan_json(SPEC(0, false, "{\"*\":{\"weight\":1}}"), "ABC", NULL, NULL, &r);
	CHECK_INT(r.ret, 0);
	CHECK_STR(r.got, "A=0 B=0 C=0");
	CHECK_INT(r.unplaced, 0);
	CHECK_STR(r.out[0].reason, "weight 1 of 3, none left");
	plan_json(SPEC(0, false, "{\"*\":{\"minReplicas\":2,\"weight\":1}}"), "AB", NULL, NULL, &r);
	CHECK_STR(r.got, "A=0 B=0");
	CHECK_STR(r.out[0].reason, "min 2, none left");
}

static void test_all_capped(void)
{
	struct run r;
	const int64_t cap[] = {1, 2, 3};

	/* every cluster at capacity: the rest is reported, not lost */
	plan_json(SPEC(10, true, "{\"*\":{\"weight\":1}}"), "ABC", NULL, cap, &r);
	CHECK_STR(r.got, "A=1 B=2 C=3");
	CHECK_INT(r.unplaced, 4);
	CHECK_INT(sum(&r, 3) + r.unplaced, 10);
	CHECK_STR(r.overflow, "A=3 B=2 C=1");
	CHECK_STR(r.out[1].reason, "capped by capacity 2, 2 more wanted");
	/* rebalance off: overflow is only what found no home (4 here) */
	plan_json(SPEC(10, false, "{\"*\":{\"weight\":1}}"), "ABC", NULL, cap, &r);
	CHECK_STR(r.got, "A=1 B=2 C=3");
	CHECK_STR(r.overflow, "A=3 B=2 C=1");
	CHECK_INT(r.unplaced, 4);

	/* capacity below minReplicas */
	{
		const int64_t cap_a[] = {2, U};
		plan_json(SPEC(12, true, "{\"*\":{\"minReplicas\":4,\"weight\":1}}"), "AB", NULL,
		          cap_a, &r);
	}
	CHECK_STR(r.got, "A=2 B=10");
	CHECK_STR(r.overflow, "A=3");
	CHECK_STR(r.out[0].reason, "capped by capacity 2, 3 more wanted");
	CHECK_STR(r.out[1].reason, "min 4 + 6 by weight 1 of 2");
	CHECK_INT(r.unplaced, 0);
}

static void test_weights_zero(void)
{
	struct run r;

	plan_json(SPEC(5, false, "{\"*\":{\"weight\":0}}"), "ABC", NULL, NULL, &r);
	CHECK_STR(r.got, "A=0 B=0 C=0");
	CHECK_INT(r.unplaced, 5);
	CHECK_STR(r.out[2].reason, "weight 0");
	/* no candidates at all */
	plan_json(SPEC(5, false, "{\"X\":{\"weight\":1}}"), "AB", NULL, NULL, &r);
	CHECK_STR(r.got, "A=0 B=0");
	CHECK_INT(r.unplaced, 5);
	CHECK_STR(r.out[0].reason, "no entry");
}

static void test_star_and_explicit(void)
{
	struct run r;

	/* C: own entry, capped; D: own entry with weight 0 (not "*"'s 1) */
	plan_json(SPEC(20, false,
	               "{\"*\":{\"weight\":1},\"C\":{\"weight\":2,\"maxReplicas\":5},"
	               "\"D\":{\"minReplicas\":1}}"),
	          "ABCD", NULL, NULL, &r);
	CHECK_STR(r.got, "A=7 B=7 C=5 D=1");
	CHECK_STR(r.out[0].reason, "weight 1 of 4");
	CHECK_STR(r.out[2].reason, "capped by max 5");
	CHECK_STR(r.out[3].reason, "min 1");
	CHECK_INT(r.unplaced, 0);
}

static void test_ties(void)
{
	struct run r, again;
	const char *one = "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"%s\"},\"spec\":{"
	                  "\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":%d}}";
	char json[256];
	size_t i;

	/* input order does not matter */
	plan_json(SPEC(1, false, "{\"*\":{\"weight\":1}}"), "ABCD", NULL, NULL, &r);
	plan_json(SPEC(1, false, "{\"*\":{\"weight\":1}}"), "DBCA", NULL, NULL, &again);
	CHECK_STR(r.got, "A=0 B=0 C=0 D=1");
	CHECK_STR(again.got, "D=1 B=0 C=0 A=0");
	for (i = 0; i < 4; i++)
		CHECK_STR(r.out[i].reason, i == 3 ? "weight 1 of 4" : "weight 1 of 4, none left");

	/* the key spreads odd replicas of different workloads (kubefed's hash) */
	snprintf(json, sizeof(json), one, "web", 1);
	plan_json(json, "ABCD", NULL, NULL, &r);
	CHECK_STR(r.got, "A=0 B=0 C=0 D=1");
	snprintf(json, sizeof(json), one, "cache", 1);
	plan_json(json, "ABCD", NULL, NULL, &r);
	CHECK_STR(r.got, "A=0 B=0 C=1 D=0");
	snprintf(json, sizeof(json), one, "db", 2);
	plan_json(json, "ABCD", NULL, NULL, &r);
	CHECK_STR(r.got, "A=1 B=0 C=0 D=1");
	/* kubefed rounds each share up, so 10 over 3 is 2/4/4, not 3/3/4 */
	plan_json(SPEC(10, false, "{}"), "ABC", NULL, NULL, &r);
	CHECK_STR(r.got, "A=2 B=4 C=4");
}

static void test_rebalance(void)
{
	struct run r;
	const int64_t cur[] = {30, 0};

	plan_json(SPEC(40, true, "{\"*\":{\"weight\":1}}"), "AB", cur, NULL, &r);
	CHECK_STR(r.got, "A=20 B=20");
	plan_json(SPEC(40, false, "{\"*\":{\"weight\":1}}"), "AB", cur, NULL, &r);
	CHECK_STR(r.got, "A=30 B=10");
	CHECK_STR(r.out[0].reason, "kept 30 running (rebalance off)");
	CHECK_STR(r.out[1].reason, "weight 1 of 2");
	{
		const int64_t cur_a[] = {5, U};
		plan_json(SPEC(10, false, "{\"*\":{\"minReplicas\":2,\"weight\":1}}"), "AB", cur_a,
		          NULL, &r);
	}
	CHECK_STR(r.got, "A=5 B=5");
	CHECK_STR(r.out[0].reason, "min 2 + kept 3 running (rebalance off)");
	CHECK_STR(r.out[1].reason, "min 2 + 3 by weight 1 of 2");
}

/* kubefed#763: after capacity returns, rebalance moves replicas back. */
static void test_capacity_returns(void)
{
	struct run r;
	const int64_t cap[] = {U, U, 10}, now[] = {20, 20, 10};

	plan_json(SPEC(50, true, "{\"*\":{\"weight\":1}}"), "ABC", NULL, cap, &r);
	CHECK_STR(r.got, "A=20 B=20 C=10");
	/* capacity unknown again (no unschedulable pods): the preferred split */
	plan_json(SPEC(50, true, "{\"*\":{\"weight\":1}}"), "ABC", now, NULL, &r);
	CHECK_STR(r.got, "A=16 B=17 C=17");
	/* rebalance off keeps running replicas where they are, by design */
	plan_json(SPEC(50, false, "{\"*\":{\"weight\":1}}"), "ABC", now, NULL, &r);
	CHECK_STR(r.got, "A=20 B=20 C=10");
}

static void test_offline(void)
{
	struct fed_rsp_spec s;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rsp_cluster_in in[3] = {
	    {"A", true, false, false, 2, U, false},
	    {"B", true, false, false, 2, U, false},
	    {"C", true, true, false, 5, U, false},
	};
	struct fed_rsp_cluster_out out[3];
	int64_t unplaced = -1;

	CHECK_INT(parse(SPEC(9, false, "{\"*\":{\"weight\":1}}"), &s, &err), 0);
	/* past grace, not kept: C's share goes to A and B, C is planned 0 */
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), 0);
	CHECK_INT(out[0].replicas, 4);
	CHECK_INT(out[1].replicas, 5);
	CHECK_INT(out[2].replicas, 0);
	CHECK(!out[2].keep);
	CHECK_INT(out[2].retained, 0);
	CHECK_STR(out[2].reason, "offline: share moved");
	CHECK_INT(unplaced, 0);

	/* past grace, kept: same shares, C is left alone with its 5 */
	in[2].keep_offline = true;
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), 0);
	CHECK_INT(out[0].replicas + out[1].replicas, 9);
	CHECK_INT(out[2].replicas, 0);
	CHECK(out[2].keep);
	CHECK_INT(out[2].retained, 5);
	CHECK_STR(out[2].reason, "offline: share moved, 5 kept");
	in[2].current = U;
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), 0);
	CHECK_INT(out[2].retained, -1);
	CHECK_STR(out[2].reason, "offline: share moved, kept as is");

	/* every cluster offline */
	in[0].offline = in[1].offline = true;
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), 0);
	CHECK_INT(unplaced, 9);
	fed_rsp_spec_release(&s);

	/* an offline cluster that had no share anyway says so */
	CHECK_INT(parse(SPEC(4, false, "{\"A\":{\"weight\":1}}"), &s, &err), 0);
	in[0] = (struct fed_rsp_cluster_in){"A", true, false, false, U, U, false};
	in[1] = (struct fed_rsp_cluster_in){"B", true, true, true, 2, U, false};
	CHECK_INT(fed_rsp_plan(&s, in, 2, out, &unplaced, &err), 0);
	CHECK_INT(out[0].replicas, 4);
	CHECK_STR(out[1].reason, "offline: no entry, 2 kept");
	fed_rsp_spec_release(&s);
}

static void test_intersect(void)
{
	struct fed_rsp_spec s;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rsp_cluster_in in[3] = {
	    {"A", true, false, false, U, U, false},
	    {"B", true, false, false, U, U, false},
	    {"C", false, false, false, U, U, false},
	};
	struct fed_rsp_cluster_out out[3];
	int64_t unplaced;

	CHECK_INT(parse("{\"spec\":{\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":10,"
	                "\"intersectWithClusterSelector\":true}}",
	                &s, &err),
	          0);
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), 0);
	CHECK_INT(out[0].replicas, 5);
	CHECK_INT(out[1].replicas, 5);
	CHECK_INT(out[2].replicas, 0);
	CHECK_STR(out[2].reason, "not selected by placement");
	/* without the flag, selection is not consulted (kubefed) */
	s.intersect_with_cluster_selector = false;
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), 0);
	CHECK_INT(out[2].replicas, 4);
	fed_rsp_spec_release(&s);
}

/* A cluster the target's namespace does not reach is never a candidate,
 * with or without intersectWithClusterSelector: a share there would never
 * run (found by the chaos run: the RSP kept "Moving" forever). */
static void test_barred(void)
{
	struct fed_rsp_spec s;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rsp_cluster_in in[3] = {
	    {"A", true, false, false, U, U, false},
	    {"B", true, false, false, U, U, true},
	    {"C", true, false, false, U, U, false},
	};
	struct fed_rsp_cluster_out out[3];
	int64_t unplaced;

	CHECK_INT(parse("{\"spec\":{\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":10}}",
	                &s, &err),
	          0);
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), 0);
	CHECK_INT(out[0].replicas, 5);
	CHECK_INT(out[1].replicas, 0);
	CHECK_INT(out[2].replicas, 5);
	CHECK_INT(unplaced, 0);
	CHECK_STR(out[1].reason, "the target's namespace is not placed there");
	/* every cluster barred: all unplaced */
	in[0].barred = in[2].barred = true;
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), 0);
	CHECK_INT(unplaced, 10);
	fed_rsp_spec_release(&s);
}

static void test_bad_input(void)
{
	struct fed_rsp_spec s;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rsp_cluster_in in[3] = {
	    {"A", true, false, false, U, U, false},
	    {"B", true, false, false, U, U, false},
	    {"A", true, false, false, U, U, false},
	};
	struct fed_rsp_cluster_out out[3];
	int64_t unplaced;

	CHECK_INT(parse(SPEC(3, false, "{}"), &s, &err), 0);
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), FED_EINVAL);
	CHECK_STR(err.msg, "clusters[0] and clusters[2]: \"A\" is given twice; pass each cluster "
	                   "once");
	in[2].name = NULL;
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "clusters[2]: no name");
	in[2].name = "";
	CHECK_INT(fed_rsp_plan(&s, in, 3, out, &unplaced, &err), FED_EINVAL);
	CHECK_INT(fed_rsp_plan(&s, in, 2, NULL, &unplaced, &err), FED_EINVAL);
	CHECK_INT(fed_rsp_plan(NULL, in, 2, out, &unplaced, &err), FED_EINVAL);
	/* no clusters: nothing placed, said so */
	CHECK_INT(fed_rsp_plan(&s, NULL, 0, NULL, &unplaced, &err), 0);
	CHECK_INT(unplaced, 3);
	CHECK_INT(fed_rsp_plan(&s, in, 2, out, NULL, NULL), 0);
	fed_rsp_spec_release(&s);
}

static void test_large_numbers(void)
{
	struct run r;

	/* the largest totals and weights: exact, no overflow (UBSan build) */
	plan_json(SPEC(2147483647, true, "{\"*\":{\"weight\":2147483647}}"), "ABC", NULL, NULL, &r);
	CHECK_STR(r.got, "A=715827881 B=715827883 C=715827883");
	plan_json(SPEC(2147483647, true,
	               "{\"A\":{\"weight\":2147483647},\"B\":{\"weight\":1,\"minReplicas\":"
	               "9007199254740991}}"),
	          "AB", NULL, NULL, &r);
	CHECK_STR(r.got, "A=0 B=2147483647");
	CHECK_STR(r.out[1].reason, "min 9007199254740991, only 2147483647 left");
}

int main(void)
{
	RUN(test_documented_examples);
	RUN(test_kubefed_equal);
	RUN(test_kubefed_existing);
	RUN(test_kubefed_capacity);
	RUN(test_kubefed_min_max);
	RUN(test_kubefed_weight);
	RUN(test_parse_defaults);
	RUN(test_parse_errors);
	RUN(test_validate_by_hand);
	RUN(test_zero_total);
	RUN(test_all_capped);
	RUN(test_weights_zero);
	RUN(test_star_and_explicit);
	RUN(test_ties);
	RUN(test_rebalance);
	RUN(test_capacity_returns);
	RUN(test_offline);
	RUN(test_intersect);
	RUN(test_barred);
	RUN(test_bad_input);
	RUN(test_large_numbers);
	return CHECK_EXIT();
}
