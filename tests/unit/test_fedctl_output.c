/* fedctl's output (fedctl/output.c) and the table/age helpers (lib/table.c):
 * golden files in data/fedctl/. Regenerate after a deliberate change:
 *   FED_REGEN_GOLDEN=1 ctest --test-dir build -R unit.test_fedctl_output */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden.h"
#include "fed/table.h"

#include "../../fedctl/output.c"

static time_t now_ts(void)
{
	time_t t = 0;
	fed_time_parse("2026-11-23T18:00:00Z", &t);
	return t;
}

static cJSON *load(const char *name)
{
	char path[256];
	char *s;
	cJSON *j;

	snprintf(path, sizeof(path), "data/fedctl/%s", name);
	s = slurp(path);
	j = s ? cJSON_Parse(s) : NULL;
	free(s);
	return j;
}

static void test_age(void)
{
	static const struct {
		long long s;
		const char *want;
	} cases[] = {
	    {-5, "<invalid>"}, {-1, "0s"},       {0, "0s"},           {59, "59s"},
	    {119, "119s"},     {120, "2m"},      {200, "3m20s"},      {599, "9m59s"},
	    {600, "10m"},      {10799, "179m"},  {10800, "3h"},       {11100, "3h5m"},
	    {28800, "8h"},     {172799, "47h"},  {172800, "2d"},      {183600, "2d3h"},
	    {691200, "8d"},    {63072000, "2y"}, {63936000, "2y10d"}, {252288000, "8y"},
	};
	char out[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fed_age_format(out, sizeof(out), cases[i].s);
		CHECK_STR(out, cases[i].want);
	}
	fed_age_since(out, sizeof(out), "2026-11-23T17:55:00Z", now_ts());
	CHECK_STR(out, "5m");
	fed_age_since(out, sizeof(out), "2026-11-23T19:55:00+02:00", now_ts());
	CHECK_STR(out, "5m");
	fed_age_since(out, sizeof(out), "2026-11-23T17:59:58.5Z", now_ts());
	CHECK_STR(out, "2s");
	fed_age_since(out, sizeof(out), "yesterday", now_ts());
	CHECK_STR(out, "<unknown>");
	fed_age_since(out, sizeof(out), NULL, now_ts());
	CHECK_STR(out, "<unknown>");
}

static void test_table(void)
{
	static const char *const hdr[] = {"NAME", "VALUE", "NOTE", NULL};
	const char *r1[] = {"a-long-name", "1", ""};
	const char *r2[] = {"b", NULL, "last"};
	struct fed_buf b = FED_BUF_INIT;
	struct fed_table t;

	CHECK_INT(fed_table_init(&t, hdr), 0);
	CHECK_INT(fed_table_add(&t, r1), 0);
	CHECK_INT(fed_table_add(&t, r2), 0);
	CHECK_INT(fed_table_render(&t, &b, "  ", 1), 0);
	fed_table_release(&t);
	CHECK_STR(fed_buf_str(&b), "  NAME          VALUE    NOTE\n"
	                           "  a-long-name   1\n"
	                           "  b             <none>   last\n");
	fed_buf_release(&b);
}

static void test_output_parse(void)
{
	enum fedctl_output o;

	CHECK_INT(fedctl_output_parse(NULL, &o), 0);
	CHECK_INT(o, FEDCTL_OUT_TABLE);
	CHECK_INT(fedctl_output_parse("wide", &o), 0);
	CHECK_INT(o, FEDCTL_OUT_WIDE);
	CHECK_INT(fedctl_output_parse("name", &o), 0);
	CHECK_INT(o, FEDCTL_OUT_NAME);
	CHECK_INT(fedctl_output_parse("jsonpath", &o), -1);
	CHECK_INT(fedctl_output_parse("YAML", &o), -1);
}

static void test_yaml_scalars(void)
{
	cJSON *j =
	    cJSON_Parse("{\"a\":\"true\",\"b\":\"1.5\",\"c\":\"v1.36.3\",\"d\":\"x: y\","
	                "\"e\":\"\",\"f\":\"2026-11-23T18:00:00Z\",\"g\":\"line\\nbreak\","
	                "\"h\":[],\"i\":{},\"j\":[[1,2],{\"k\":null}],\"l\":\"https://a:6443\","
	                "\"m\":\"fed.io/managed-by\",\"n\":false,\"o\":3}");
	struct fed_buf b = FED_BUF_INIT;

	CHECK(j);
	CHECK_INT(fedctl_yaml(&b, j), 0);
	CHECK_STR(fed_buf_str(&b),
	          "a: \"true\"\nb: \"1.5\"\nc: v1.36.3\nd: \"x: y\"\ne: \"\"\n"
	          "f: \"2026-11-23T18:00:00Z\"\ng: \"line\\nbreak\"\nh: []\ni: {}\n"
	          "j:\n-\n  - 1\n  - 2\n- k: null\nl: https://a:6443\n"
	          "m: fed.io/managed-by\n\"n\": false\no: 3\n");
	fed_buf_release(&b);
	cJSON_Delete(j);
}

static void list_case(const char *golden_name, enum fedctl_output o)
{
	cJSON *items = load("clusters.json");
	struct fed_buf b = FED_BUF_INIT;
	int ok;

	CHECK(items);
	CHECK_INT(fedctl_format_clusters(&b, items, o, now_ts()), 0);
	ok = golden(golden_name, fed_buf_str(&b));
	fed_buf_release(&b);
	cJSON_Delete(items);
	CHECK(ok);
}

static void test_list_table(void)
{
	list_case("list-table", FEDCTL_OUT_TABLE);
}

static void test_list_wide(void)
{
	list_case("list-wide", FEDCTL_OUT_WIDE);
}

static void test_list_name(void)
{
	list_case("list-name", FEDCTL_OUT_NAME);
}

static void test_list_json(void)
{
	list_case("list-json", FEDCTL_OUT_JSON);
}

static void test_list_yaml(void)
{
	list_case("list-yaml", FEDCTL_OUT_YAML);
}

static void test_list_empty_json(void)
{
	cJSON *items = cJSON_CreateArray();
	struct fed_buf b = FED_BUF_INIT;

	CHECK_INT(fedctl_format_clusters(&b, items, FEDCTL_OUT_JSON, now_ts()), 0);
	cJSON_Delete(items);
	CHECK_STR(fed_buf_str(&b), "{\n    \"apiVersion\": \"v1\",\n    \"items\": [],\n"
	                           "    \"kind\": \"List\",\n    \"metadata\": {\n"
	                           "        \"resourceVersion\": \"\"\n    }\n}\n");
	fed_buf_release(&b);
}

static void test_describe(void)
{
	cJSON *d = load("describe.json"), *items = load("clusters.json");
	struct fed_buf b = FED_BUF_INIT;
	int ok;

	CHECK(d && items);
	cJSON_AddItemToObject(d, "cluster", cJSON_DetachItemFromArray(items, 0));
	cJSON_Delete(items);
	CHECK_INT(fedctl_format_describe(&b, d, now_ts()), 0);
	ok = golden("describe", fed_buf_str(&b));
	fed_buf_release(&b);
	cJSON_Delete(d);
	CHECK(ok);
}

/* joined, not yet written by fed-controller, invalid entry, no events */
static void test_describe_pending(void)
{
	cJSON *d = cJSON_Parse(
	    "{\"name\":\"edge-1\",\"namespace\":\"kube-federation-system\",\"entry\":{\"mode\":"
	    "\"agent\",\"disabled\":true,\"error\":\"configmap kube-system/kubefed-config key "
	    "kubefed.yaml:9:7: spec.clusters[1].mode: must be direct or agent\",\"addresses\":[]},"
	    "\"resources\":[]}");
	struct fed_buf b = FED_BUF_INIT;
	int ok;

	CHECK(d);
	CHECK_INT(fedctl_format_describe(&b, d, now_ts()), 0);
	ok = golden("describe-pending", fed_buf_str(&b));
	fed_buf_release(&b);
	cJSON_Delete(d);
	CHECK(ok);
}

/* more than 10 events: the 10 most recent, oldest first */
static void test_describe_events_last10(void)
{
	cJSON *d = cJSON_Parse("{\"name\":\"c\",\"entry\":{},\"events\":[]}");
	cJSON *evs = cJSON_GetObjectItem(d, "events");
	struct fed_buf b = FED_BUF_INIT;
	const char *ev;
	int i;

	for (i = 14; i >= 0; i--) {
		char ts[32], msg[16];
		cJSON *e = cJSON_CreateObject();
		snprintf(ts, sizeof(ts), "2026-11-23T17:%02d:00Z", 30 + i);
		snprintf(msg, sizeof(msg), "m%02d", i);
		cJSON_AddStringToObject(e, "type", "Normal");
		cJSON_AddStringToObject(e, "reason", "R");
		cJSON_AddStringToObject(e, "message", msg);
		cJSON_AddStringToObject(e, "lastTimestamp", ts);
		cJSON_AddItemToArray(evs, e);
	}
	CHECK_INT(fedctl_format_describe(&b, d, now_ts()), 0);
	cJSON_Delete(d);
	ev = strstr(fed_buf_str(&b), "Events:\n");
	CHECK(ev);
	CHECK(!strstr(ev, "m04"));
	CHECK_HAS(ev, "  AGE   TYPE     REASON   MESSAGE\n  25m   Normal   R        m05\n");
	CHECK_HAS(ev, "  16m   Normal   R        m14\n");
	CHECK(strstr(ev, "m05") < strstr(ev, "m14"));
	fed_buf_release(&b);
}

/* an agent cluster whose credential lapsed: Expired, and what its agent
 * reported (status.agent) */
static void test_describe_agent_expired(void)
{
	const char *kfc =
	    "{\"metadata\":{\"name\":\"edge-1\",\"creationTimestamp\":\"2026-11-23T17:00:00Z\"},"
	    "\"spec\":{\"mode\":\"agent\"},\"status\":{\"conditions\":[{\"type\":\"Ready\","
	    "\"status\":\"False\",\"reason\":\"CredentialExpired\",\"message\":\"the agent's "
	    "cluster credential expired at 2026-11-23T17:58:00Z and no agent is connected to "
	    "renew it: re-join with `fedctl join edge-1 --mode agent` for a new bootstrap "
	    "token\",\"lastTransitionTime\":\"2026-11-23T17:58:01Z\"}],"
	    "\"connectivityStatus\":\"Expired\",\"agent\":{\"connectedAgents\":0,"
	    "\"credentialExpiry\":\"2026-11-23T17:58:00Z\",\"agentVersion\":\"0.1.0\","
	    "\"kubernetesVersion\":\"v1.31.2\",\"nodeCount\":3,\"coreCount\":12,"
	    "\"cpuSeconds\":1.5,\"memoryBytes\":7340032,"
	    "\"lastHeartbeatTime\":\"2026-11-23T17:57:50Z\"}}}";
	cJSON *d = cJSON_Parse("{\"name\":\"edge-1\",\"namespace\":\"kube-federation-system\","
	                       "\"entry\":{\"mode\":\"agent\",\"disabled\":false,\"addresses\":[]},"
	                       "\"resources\":[]}");
	cJSON *items = cJSON_CreateArray();
	struct fed_buf b = FED_BUF_INIT;
	int ok;

	CHECK(d && items);
	cJSON_AddItemToObject(d, "cluster", cJSON_Parse(kfc));
	CHECK_INT(fedctl_format_describe(&b, d, now_ts()), 0);
	ok = golden("describe-agent", fed_buf_str(&b));
	CHECK(ok);
	fed_buf_release(&b);
	/* fedctl list shows Expired */
	cJSON_AddItemToArray(items, cJSON_Parse(kfc));
	CHECK_INT(fedctl_format_clusters(&b, items, FEDCTL_OUT_TABLE, now_ts()), 0);
	CHECK_HAS(fed_buf_str(&b), "edge-1   agent   Expired ");
	fed_buf_release(&b);
	/* a credential still valid reads "in ..." */
	cJSON_ReplaceItemInObject(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "cluster"), "status"),
	                        "agent"),
	    "credentialExpiry", cJSON_CreateString("2026-12-23T18:00:00Z"));
	CHECK_INT(fedctl_format_describe(&b, d, now_ts()), 0);
	CHECK_HAS(fed_buf_str(&b), "2026-12-23T18:00:00Z (in 30d)");
	fed_buf_release(&b);
	cJSON_Delete(items);
	cJSON_Delete(d);
}

int main(void)
{
	RUN(test_age);
	RUN(test_table);
	RUN(test_output_parse);
	RUN(test_yaml_scalars);
	RUN(test_list_table);
	RUN(test_list_wide);
	RUN(test_list_name);
	RUN(test_list_json);
	RUN(test_list_yaml);
	RUN(test_list_empty_json);
	RUN(test_describe);
	RUN(test_describe_pending);
	RUN(test_describe_events_last10);
	RUN(test_describe_agent_expired);
	return CHECK_EXIT();
}
