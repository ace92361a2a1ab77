/* fedctl enable / disable, the plan (fedctl/enable/enable_plan.c): the
 * objects enable writes, fed's own types refused, and the names disable
 * removes with and without a FederatedTypeConfig to read them from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "enable/enable.h"

static struct fedctl_type widget = {"example.com", "v1", "Widget", "widgets", true, NULL};
static struct fedctl_type configmap = {"", "v1", "ConfigMap", "configmaps", true, NULL};

static void enable_renders_crd_and_ftc(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_type_config t;
	cJSON *crd = NULL, *ftc = NULL;

	memset(&t, 0, sizeof(t));
	CHECK_INT(fedctl_enable_render(&widget, "fed-ns", &t, &crd, &ftc, &err), 0);
	CHECK_STR(fed_obj_name(crd), "federatedwidgets.types.kubefed.io");
	CHECK_STR(fed_obj_name(ftc), "widgets.example.com");
	CHECK_STR(fed_obj_namespace(ftc), "fed-ns");
	CHECK_STR(t.federated.kind, "FederatedWidget");
	cJSON_Delete(crd);
	cJSON_Delete(ftc);
	fed_type_config_release(&t);

	memset(&t, 0, sizeof(t));
	CHECK_INT(fedctl_enable_render(&configmap, "fed-ns", &t, &crd, &ftc, &err), 0);
	CHECK_STR(fed_obj_name(ftc), "configmaps");
	cJSON_Delete(crd);
	cJSON_Delete(ftc);
	fed_type_config_release(&t);
}

static void enable_refuses_feds_own_types(void)
{
	struct fedctl_type own[] = {
	    {"core.kubefed.io", "v1beta1", "KubeFedCluster", "kubefedclusters", true, NULL},
	    {"types.kubefed.io", "v1beta1", "FederatedConfigMap", "federatedconfigmaps", true,
	     NULL},
	    {"scheduling.kubefed.io", "v1alpha1", "ReplicaSchedulingPreference",
	     "replicaschedulingpreferences", true, NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		struct fed_error err = FED_ERROR_INIT;
		struct fed_type_config t;
		cJSON *crd = NULL, *ftc = NULL;
		memset(&t, 0, sizeof(t));
		CHECK_INT(fedctl_enable_render(&own[i], "ns", &t, &crd, &ftc, &err), FED_EINVAL);
		CHECK(strstr(err.msg, "is one of fed's own types") != NULL);
		CHECK(!crd && !ftc);
	}
}

static void disable_names(void)
{
	struct fedctl_disable_plan p;
	struct fed_type_config t;

	/* served: from discovery */
	fedctl_disable_name(&widget, "widget", &p);
	CHECK_STR(p.name, "widgets.example.com");
	CHECK_STR(p.plural, "widgets");
	CHECK_STR(p.group, "example.com");
	/* no FTC: kubefed's default naming */
	fedctl_disable_plan(NULL, &p);
	CHECK_STR(p.crd_name, "federatedwidgets.types.kubefed.io");
	CHECK_STR(p.fed_plural, "federatedwidgets");
	CHECK_STR(p.fed_group, "types.kubefed.io");
	CHECK_STR(p.fed_version, "v1beta1");

	/* no longer served: TYPE as written; a core type has no group */
	fedctl_disable_name(NULL, "configmaps", &p);
	CHECK_STR(p.name, "configmaps");
	CHECK_STR(p.plural, "configmaps");
	CHECK_STR(p.group, "");

	/* the FTC names the federated type */
	memset(&t, 0, sizeof(t));
	t.federated.group = "fed.example.org";
	t.federated.version = "v2";
	t.federated.plural = "fwidgets";
	fedctl_disable_name(NULL, "widgets.example.com", &p);
	fedctl_disable_plan(&t, &p);
	CHECK_STR(p.crd_name, "fwidgets.fed.example.org");
	CHECK_STR(p.fed_plural, "fwidgets");
	CHECK_STR(p.fed_group, "fed.example.org");
	CHECK_STR(p.fed_version, "v2");
}

int main(void)
{
	RUN(enable_renders_crd_and_ftc);
	RUN(enable_refuses_feds_own_types);
	RUN(disable_names);
	return CHECK_EXIT();
}
