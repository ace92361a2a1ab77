/* Cluster connect, the member's RBAC: fed's member identity may impersonate
 * the callers the host forwards, and nothing more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cluster_connect.h"

static cJSON *rbac_object(const char *kind, const char *label_name)
{
	cJSON *o = cJSON_CreateObject(), *m, *l;

	cJSON_AddStringToObject(o, "apiVersion", "rbac.authorization.k8s.io/v1");
	cJSON_AddStringToObject(o, "kind", kind);
	m = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(m, "name", FEDCTL_CONNECT_ROLE);
	l = cJSON_AddObjectToObject(m, "labels");
	if (label_name)
		cJSON_AddStringToObject(l, "app.kubernetes.io/name", label_name);
	cJSON_AddStringToObject(l, "app.kubernetes.io/managed-by", "fedctl");
	return o;
}

static void impersonate(cJSON *rules, const char *group, const char *const *resources, int n)
{
	cJSON *r = cJSON_CreateObject();
	const char *verb = "impersonate";

	cJSON_AddItemToObject(r, "apiGroups", cJSON_CreateStringArray(&group, 1));
	cJSON_AddItemToObject(r, "resources", cJSON_CreateStringArray(resources, n));
	cJSON_AddItemToObject(r, "verbs", cJSON_CreateStringArray(&verb, 1));
	cJSON_AddItemToArray(rules, r);
}

cJSON *fedctl_connect_role(const char *label_name)
{
	static const char *const core[] = {"users", "groups"};
	static const char *const any[] = {"*"};
	cJSON *cr = rbac_object("ClusterRole", label_name);
	cJSON *rules = cJSON_AddArrayToObject(cr, "rules");

	/* not serviceaccounts: fed could then act as any ServiceAccount of
	 * the member (kube-system's controllers among them) */
	impersonate(rules, "", core, 2);
	/* an extra is checked as userextras/KEY (callers authenticated by
	 * certificate or token carry authentication.kubernetes.io/
	 * credential-id). RBAC cannot say "userextras of any KEY": the
	 * resource userextras/STAR matches only a key named STAR. Hence every
	 * resource of this group, whose only impersonated ones are userextras
	 * and uids, with impersonate alone. */
	impersonate(rules, "authentication.k8s.io", any, 1);
	return cr;
}

cJSON *fedctl_connect_binding(const char *label_name, const char *sa, const char *sa_ns)
{
	return fedctl_rbac_bind(rbac_object("ClusterRoleBinding", label_name), "ClusterRole",
	                        FEDCTL_CONNECT_ROLE, sa, sa_ns);
}
