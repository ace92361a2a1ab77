/* fedctl delete, the plan (fedctl/delete/delete_plan.c): what the host
 * holds of a cluster decides between the direct and the agent path, which
 * context is joined as which cluster, and which bootstrap tokens belong to
 * the leaving cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fed/base64.h"
#include "delete/delete.h"

static const char federation[] = "apiVersion: federation/v1beta1\n"
                                 "kind: Federation\n"
                                 "metadata:\n"
                                 "  name: federation\n"
                                 "spec:\n"
                                 "  clusters:\n"
                                 "  - clusterName: c1\n"
                                 "    serverAddressByClientCIDRs:\n"
                                 "    - clientCIDR: 0.0.0.0/0\n"
                                 "      serverAddress: https://10.0.1.1:6443\n"
                                 "  - clusterName: edge\n"
                                 "    mode: agent\n";

static struct fed_federation *load(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;

	if (fed_federation_parse(&f, federation, strlen(federation), "test", &err))
		fprintf(stderr, "test federation: %s\n", err.msg);
	return f;
}

static void plan_from_host_state(void)
{
	struct fed_federation *f = load();
	struct fedctl_delete_plan p;

	CHECK(f);
	cJSON *secret = cJSON_Parse("{\"data\":{\"kubeconfig-c1\":\"eA==\","
	                            "\"kubeconfig-gone\":\"eA==\"}}");

	/* joined: entry and key */
	fedctl_delete_plan(f, secret, "c1", &p);
	CHECK(p.in_cm && p.in_secret && !p.agent);
	CHECK_STR(p.key, "kubeconfig-c1");
	/* an agent member: by its entry's mode, it has no key */
	fedctl_delete_plan(f, secret, "edge", &p);
	CHECK(p.in_cm && !p.in_secret && p.agent);
	/* an earlier delete stopped after the entry: the key is left */
	fedctl_delete_plan(f, secret, "gone", &p);
	CHECK(!p.in_cm && p.in_secret && !p.agent);
	/* nothing on the host; no ConfigMap or Secret at all */
	fedctl_delete_plan(f, secret, "other", &p);
	CHECK(!p.in_cm && !p.in_secret && !p.agent);
	fedctl_delete_plan(NULL, NULL, "c1", &p);
	CHECK(!p.in_cm && !p.in_secret && !p.agent);
	cJSON_Delete(secret);
	fed_federation_free(f);
}

static void joined_as_by_address(void)
{
	struct fed_federation *f = load();

	CHECK_STR(fedctl_joined_as(f, "https://10.0.1.1:6443"), "c1");
	CHECK(fedctl_joined_as(f, "https://10.0.9.9:6443") == NULL);
	CHECK(fedctl_joined_as(f, NULL) == NULL);
	CHECK(fedctl_joined_as(NULL, "https://10.0.1.1:6443") == NULL);
	fed_federation_free(f);
}

static void bootstrap_tokens_of_the_cluster_only(void)
{
	char *a = fed_base64_encode_str("edge abc", 8), *b = fed_base64_encode_str("edge2 def", 9),
	     *c = fed_base64_encode_str("edge", 4);
	cJSON *secret = cJSON_CreateObject(), *data = cJSON_AddObjectToObject(secret, "data");
	cJSON *patch = cJSON_CreateObject();

	cJSON_AddStringToObject(data, "bootstrap-1", a);
	cJSON_AddStringToObject(data, "bootstrap-2", b); /* another cluster, same prefix */
	cJSON_AddStringToObject(data, "bootstrap-3", c); /* no token part */
	cJSON_AddStringToObject(data, "bootstrap-4", "not base64!");
	cJSON_AddStringToObject(data, "generation-edge", a);
	CHECK_INT(fedctl_bootstrap_tokens(secret, "edge", patch), 1);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(patch, "bootstrap-1")));
	CHECK_INT(cJSON_GetArraySize(patch), 1);
	CHECK_INT(fedctl_bootstrap_tokens(NULL, "edge", patch), 0);
	cJSON_Delete(secret);
	cJSON_Delete(patch);
	free(a);
	free(b);
	free(c);
}

int main(void)
{
	RUN(plan_from_host_state);
	RUN(joined_as_by_address);
	RUN(bootstrap_tokens_of_the_cluster_only);
	return CHECK_EXIT();
}
