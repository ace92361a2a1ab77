/* fedctl federate, the pure part (fedctl/federate_obj.c, linked): reading objects
 * from YAML/JSON streams, stripping server-set fields, and the
 * Federated<Kind> wrapper. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fedctl.h"

static cJSON *parse_ok(const char *s)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *o = NULL;

	if (fedctl_objects_parse(s, strlen(s), "t.yaml", &o, &err)) {
		fprintf(stderr, "  parse failed: %s\n", err.msg);
		check_failures++;
	}
	return o;
}

static void parse_bad(const char *s, const char *want)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *o = NULL;

	CHECK_INT(fedctl_objects_parse(s, strlen(s), "t.yaml", &o, &err), FED_EINVAL);
	CHECK(o == NULL);
	CHECK_HAS(err.msg, want);
	CHECK(!strchr(err.msg, '\n'));
}

static void test_parse(void)
{
	cJSON *o;
	char *s;

	o = parse_ok("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
	             "data: {a: \"1\", b: yes, c: 2, d: true, e: null, f: '3'}\n---\n---\n"
	             "{\"kind\": \"List\", \"items\": [{\"kind\": \"Secret\", \"metadata\": "
	             "{\"name\": \"s\"}}]}\n");
	CHECK_INT(cJSON_GetArraySize(o), 2);
	s = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetArrayItem(o, 0), "data"));
	CHECK_STR(s, "{\"a\":\"1\",\"b\":\"yes\",\"c\":2,\"d\":true,\"e\":null,\"f\":\"3\"}");
	free(s);
	CHECK_STR(fed_obj_name(cJSON_GetArrayItem(o, 1)), "s");
	cJSON_Delete(o);

	parse_bad("kind: ConfigMap\n", "document 1 (kind \"ConfigMap\") has no metadata.name");
	parse_bad("- a\n", "document 1 is not a Kubernetes object");
	parse_bad("kind: X\nmetadata: {name: a}\n---\nkind: [",
	          "t.yaml (document 2):2:1: flow sequence");
	parse_bad("%\xcd", "invalid UTF-8"); /* libfyaml alone loops on it */
	/* a kind with a newline: the message stays one line */
	parse_bad("kind: Ca-\n\n ---\n", "(kind \"Ca-\\n---\")");
	parse_bad("a: &x [1]\nb: *x\n", "YAML aliases");
	parse_bad("", "holds no object");
	parse_bad("---\n", "holds no object");
}

static void test_wrap(void)
{
	cJSON *o = cJSON_Parse(
	    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
	    "\"namespace\":\"shop\",\"uid\":\"u\",\"resourceVersion\":\"9\",\"generation\":2,"
	    "\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"managedFields\":[],\"labels\":"
	    "{\"app\":\"web\"},\"annotations\":{\"kubectl.kubernetes.io/last-applied-"
	    "configuration\":\"{}\",\"deployment.kubernetes.io/revision\":\"1\"}},\"spec\":"
	    "{\"replicas\":2},\"status\":{\"replicas\":2}}");
	cJSON *f =
	    fedctl_federated_object(o, "types.kubefed.io/v1beta1", "FederatedDeployment", true);
	char *s = cJSON_PrintUnformatted(f);

	CHECK_STR(s,
	          "{\"apiVersion\":\"types.kubefed.io/v1beta1\",\"kind\":\"FederatedDeployment\","
	          "\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":{\"template\":"
	          "{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"replicas\":2}},"
	          "\"placement\":{\"clusters\":[]}}}");
	free(s);
	cJSON_Delete(f);
	cJSON_Delete(o);

	/* a Namespace: its FederatedNamespace lives in it; the server's label
	 * and finalizers go */
	o = cJSON_Parse(
	    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"web\","
	    "\"labels\":{\"kubernetes.io/metadata.name\":\"web\"}},\"spec\":"
	    "{\"finalizers\":[\"kubernetes\"]},\"status\":{\"phase\":\"Active\"}}");
	f = fedctl_federated_object(o, "types.kubefed.io/v1beta1", "FederatedNamespace", true);
	s = cJSON_PrintUnformatted(f);
	CHECK_STR(s, "{\"apiVersion\":\"types.kubefed.io/v1beta1\",\"kind\":\"FederatedNamespace\","
	             "\"metadata\":{\"name\":\"web\",\"namespace\":\"web\"},\"spec\":{\"template\":"
	             "{},\"placement\":{\"clusters\":[]}}}");
	free(s);
	cJSON_Delete(f);
	cJSON_Delete(o);

	/* a Service's allocated IPs; a cluster-scoped kind gets no namespace */
	o = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\","
	                "\"namespace\":\"n\"},\"spec\":{\"clusterIP\":\"10.0.0.1\",\"clusterIPs\":"
	                "[\"10.0.0.1\"],\"ports\":[{\"port\":80}]}}");
	f = fedctl_federated_object(o, "types.kubefed.io/v1beta1", "FederatedService", false);
	s = cJSON_PrintUnformatted(f);
	CHECK_STR(s, "{\"apiVersion\":\"types.kubefed.io/v1beta1\",\"kind\":\"FederatedService\","
	             "\"metadata\":{\"name\":\"s\"},\"spec\":{\"template\":{\"spec\":{\"ports\":"
	             "[{\"port\":80}]}},\"placement\":{\"clusters\":[]}}}");
	free(s);
	cJSON_Delete(f);
	cJSON_Delete(o);
}

int main(void)
{
	RUN(test_parse);
	RUN(test_wrap);
	return CHECK_EXIT();
}
