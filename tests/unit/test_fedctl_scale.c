/* fedctl scale, the pure part (fedctl/scale/scale_plan.c, linked): reading and setting
 * the per-cluster /spec/replicas override, the even spread, the kind
 * names and the before -> after table (golden file
 * data/fedctl/scale-table.golden; regenerate with
 * FED_REGEN_GOLDEN=1 ctest --test-dir build -R unit.test_fedctl_scale). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden.h"

#include "fedctl.h"

static const char fd[] =
    "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":{"
    "\"template\":{\"spec\":{\"replicas\":2}},"
    "\"placement\":{\"clusters\":[{\"name\":\"c1\"},{\"name\":\"c2\"}]},"
    "\"overrides\":[{\"clusterName\":\"c2\",\"clusterOverrides\":["
    "{\"path\":\"/spec/template/spec/containers/0/image\",\"value\":\"nginx:2\"},"
    "{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":5}]},"
    "{\"clusterName\":\"c3\",\"clusterOverrides\":[{\"op\":\"remove\",\"path\":\"/spec/"
    "replicas\"}]}]}}";

static void test_replicas_for(void)
{
	cJSON *o = cJSON_Parse(fd), *bare;

	CHECK_INT(fedctl_replicas_for(o, "c1"), 2); /* the template */
	CHECK_INT(fedctl_replicas_for(o, "c2"), 5); /* the override */
	CHECK_INT(fedctl_replicas_for(o, "c3"), 1); /* removed: the default */
	bare = cJSON_Parse("{\"spec\":{\"template\":{}}}");
	CHECK_INT(fedctl_replicas_for(bare, "c1"), 1);
	cJSON_Delete(bare);
	cJSON_Delete(o);
}

static void test_replicas_set(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *o = cJSON_Parse(fd), *ov, *bad;
	char *s;

	/* replace the existing override, keep the image override */
	CHECK_INT(fedctl_replicas_set(o, "c2", 3, &err), 0);
	CHECK_INT(fedctl_replicas_for(o, "c2"), 3);
	s = cJSON_PrintUnformatted(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "overrides"));
	CHECK_STR(s, "[{\"clusterName\":\"c2\",\"clusterOverrides\":["
	             "{\"path\":\"/spec/template/spec/containers/0/image\",\"value\":\"nginx:2\"},"
	             "{\"path\":\"/spec/replicas\",\"value\":3}]},"
	             "{\"clusterName\":\"c3\",\"clusterOverrides\":[{\"op\":\"remove\",\"path\":\"/"
	             "spec/replicas\"}]}]");
	free(s);
	/* a new cluster entry; a remove becomes a value */
	CHECK_INT(fedctl_replicas_set(o, "c1", 0, &err), 0);
	CHECK_INT(fedctl_replicas_set(o, "c3", 4, &err), 0);
	CHECK_INT(fedctl_replicas_for(o, "c1"), 0);
	CHECK_INT(fedctl_replicas_for(o, "c3"), 4);
	ov = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "overrides");
	CHECK_INT(cJSON_GetArraySize(ov), 3);
	s = cJSON_PrintUnformatted(cJSON_GetArrayItem(ov, 2));
	CHECK_STR(s, "{\"clusterName\":\"c1\",\"clusterOverrides\":[{\"path\":\"/spec/"
	             "replicas\",\"value\":0}]}");
	free(s);
	/* no overrides yet, or null; no spec.replicas in the template: an add
	 * (a replace of a missing field would fail in the controller) */
	bad = cJSON_Parse("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"overrides\":null}}");
	CHECK_INT(fedctl_replicas_set(bad, "c1", 2, &err), 0);
	CHECK_INT(fedctl_replicas_for(bad, "c1"), 2);
	s = cJSON_PrintUnformatted(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(bad, "spec"), "overrides"));
	CHECK_STR(s, "[{\"clusterName\":\"c1\",\"clusterOverrides\":[{\"op\":\"add\",\"path\":"
	             "\"/spec/replicas\",\"value\":2}]}]");
	free(s);
	cJSON_Delete(bad);
	/* not a list: refused, unchanged */
	bad = cJSON_Parse("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"overrides\":{}}}");
	CHECK_INT(fedctl_replicas_set(bad, "c1", 2, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "spec.overrides of x is not a list");
	cJSON_Delete(bad);
	bad = cJSON_Parse("{\"metadata\":{\"name\":\"x\"}}");
	CHECK_INT(fedctl_replicas_set(bad, "c1", 2, &err), FED_EINVAL);
	cJSON_Delete(bad);
	cJSON_Delete(o);
}

static void test_spread(void)
{
	long long out[4];

	fedctl_spread(3, 2, out);
	CHECK_INT(out[0], 2);
	CHECK_INT(out[1], 1);
	fedctl_spread(10, 4, out);
	CHECK_INT(out[0], 3);
	CHECK_INT(out[1], 3);
	CHECK_INT(out[2], 2);
	CHECK_INT(out[3], 2);
	fedctl_spread(0, 3, out);
	CHECK_INT(out[0] + out[1] + out[2], 0);
	fedctl_spread(1, 3, out);
	CHECK_INT(out[0], 1);
	CHECK_INT(out[2], 0);
}

static void test_kinds(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"deployment", "FederatedDeployment"},
	    {"deploy", "FederatedDeployment"},
	    {"Deployments", "FederatedDeployment"},
	    {"fdeploy", "FederatedDeployment"},
	    {"FederatedDeployment", "FederatedDeployment"},
	    {"federateddeployments.types.kubefed.io", "FederatedDeployment"},
	    {"rs", "FederatedReplicaSet"},
	    {"federatedreplicaset", "FederatedReplicaSet"},
	    {"sts", "FederatedStatefulSet"},
	    {"statefulsets", "FederatedStatefulSet"},
	    {"fsts", "FederatedStatefulSet"},
	    {"daemonset", NULL},
	    {"federated", NULL},
	    {"f", NULL},
	    {"", NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fedctl_workload_kind *k = fedctl_workload_kind(cases[i].in);
		CHECK_STR(k ? k->kind : "(none)", cases[i].want ? cases[i].want : "(none)");
	}
}

static void test_table(void)
{
	const struct fedctl_scale_row rows[] = {
	    {"shop", "FederatedDeployment", "web", "cluster1", "override", 1, 3},
	    {"shop", "FederatedStatefulSet", "db", "cluster1", "override", 3, 3},
	    {"payments-eu", "FederatedReplicaSet", "worker", "cluster-two", "rsp (planned)", 12, 4},
	};
	struct fed_buf out = FED_BUF_INIT;

	CHECK_INT(fedctl_format_scale(&out, rows, 3), 0);
	CHECK(golden("scale-table", fed_buf_str(&out)));
	fed_buf_release(&out);
}

int main(void)
{
	RUN(test_replicas_for);
	RUN(test_replicas_set);
	RUN(test_spread);
	RUN(test_kinds);
	RUN(test_table);
	return CHECK_EXIT();
}
