/* join, the member: server-side apply of its objects and RBAC (full or
 * minimal). The token: join_token.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federated_type.h"
#include "join.h"

const char *fedctl_join_rv(const cJSON *o)
{
	const char *s = o ? fed_obj_resource_version(o) : NULL;
	return s ? s : "";
}

/* Server-side apply of one member object; prints its step line. */
int fedctl_join_apply(struct fedctl_join *j, const char *what, const struct fed_kube_ref *ref,
                      cJSON *obj, struct fed_error *err)
{
	cJSON *old = NULL, *now = NULL;
	const char *state;
	int ret;

	ret = fedctl_call_ref(j->ctx, j->member, "GET", ref, NULL, NULL, 0, &old, err);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "member: get %s", what);
	if (j->dry_run) {
		printf("member: %s %s (dry run)\n", what,
		       old ? "would be applied" : "would be created");
		cJSON_Delete(old);
		return 0;
	}
	ret = fedctl_apply_ref(j->ctx, j->member, ref, obj, &now, err);
	if (ret) {
		cJSON_Delete(old);
		if (strstr(err->msg, "being terminated"))
			return fed_error_wrap(err,
			                      "member: apply %s (a previous delete is still "
			                      "removing namespace %s: wait until it is gone, "
			                      "then run join again)",
			                      what, j->ns);
		return fed_error_wrap(err, "member: apply %s", what);
	}
	state = !old                                               ? "created"
	        : strcmp(fedctl_join_rv(old), fedctl_join_rv(now)) ? "configured"
	                                                           : "unchanged";
	printf("member: %s %s\n", what, state);
	cJSON_Delete(old);
	cJSON_Delete(now);
	return 0;
}

cJSON *fedctl_join_object(const char *api_version, const char *kind, const char *ns,
                          const char *name)
{
	cJSON *o = cJSON_CreateObject(), *m;

	cJSON_AddStringToObject(o, "apiVersion", api_version);
	cJSON_AddStringToObject(o, "kind", kind);
	m = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(m, "name", name);
	if (ns)
		cJSON_AddStringToObject(m, "namespace", ns);
	cJSON_AddItemToObject(cJSON_AddObjectToObject(m, "labels"), "app.kubernetes.io/managed-by",
	                      cJSON_CreateString("fedctl"));
	return o;
}

cJSON *fedctl_join_binding(const struct fedctl_join *j, const char *kind, const char *ns,
                           const char *role_kind, const char *role)
{
	return fedctl_rbac_bind(fedctl_join_object("rbac.authorization.k8s.io/v1", kind, ns, role),
	                        role_kind, role, FEDCTL_MEMBER_SA, j->ns);
}

static void add_rule(cJSON *rules, const char *group, const char *resource, const char *verbs)
{
	cJSON *r = cJSON_CreateObject(), *v = cJSON_CreateArray();
	char buf[256], *tok, *save = NULL;

	if (group) {
		cJSON_AddItemToObject(r, "apiGroups", cJSON_CreateStringArray(&group, 1));
		cJSON_AddItemToObject(r, "resources", cJSON_CreateStringArray(&resource, 1));
	} else {
		cJSON_AddItemToObject(r, "nonResourceURLs", cJSON_CreateStringArray(&resource, 1));
	}
	snprintf(buf, sizeof(buf), "%s", verbs);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		cJSON_AddItemToArray(v, cJSON_CreateString(tok));
	cJSON_AddItemToObject(r, "verbs", v);
	cJSON_AddItemToArray(rules, r);
}

int fedctl_member_targets(struct fedctl *ctx, struct fed_kube_client *host,
                          struct fedctl_agent_rule **out, size_t *n, struct fed_error *err)
{
	const struct fed_kube_ref ftcs = {&fed_r_federatedtypeconfigs, ctx->fed_namespace, NULL,
	                                  NULL};
	cJSON *list = NULL, *item;
	int ret;

	*out = NULL;
	*n = 0;
	ret = fedctl_call_ref(ctx, host, "GET", &ftcs, NULL, NULL, 0, &list, err);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: list federatedtypeconfigs in %s",
		                      ctx->fed_namespace);
	fed_error_clear(err);
	*out = calloc((size_t)cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")) + 1,
	              sizeof(**out));
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(list, "items")) {
		struct fed_type_config t;
		struct fed_error e = FED_ERROR_INIT;
		memset(&t, 0, sizeof(t));
		if (fed_type_config_parse(item, &t, &e))
			continue;
		if (t.propagation_enabled && *out) {
			(*out)[*n].group = strdup(t.target.group ? t.target.group : "");
			(*out)[*n].plural = strdup(t.target.plural);
			if ((*out)[*n].group && (*out)[*n].plural)
				(*n)++;
		}
		fed_type_config_release(&t);
	}
	cJSON_Delete(list);
	return *out ? 0 : fed_error_set(err, FED_ENOMEM, "out of memory");
}

void fedctl_member_targets_free(struct fedctl_agent_rule *rules, size_t n)
{
	size_t i;

	for (i = 0; rules && i < n; i++) {
		free((char *)rules[i].group);
		free((char *)rules[i].plural);
	}
	free(rules);
}

int fedctl_secrets_doc_ref(const cJSON *o, struct fed_kube_ref *ref)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind"));

	memset(ref, 0, sizeof(*ref));
	ref->resource = !kind                          ? NULL
	                : !strcmp(kind, "ClusterRole") ? &fed_r_clusterroles
	                : !strcmp(kind, "ValidatingAdmissionPolicy")
	                    ? &fed_r_validatingadmissionpolicies
	                : !strcmp(kind, "ValidatingAdmissionPolicyBinding")
	                    ? &fed_r_validatingadmissionpolicybindings
	                    : NULL;
	ref->name = fed_obj_name(o);
	return ref->resource && ref->name ? 0 : -1;
}

/* Secrets enabled: the per-namespace Secrets role and the policy holding
 * the member SA's RoleBindings to it. */
static int apply_secrets_docs(struct fedctl_join *j, struct fed_error *err)
{
	cJSON *docs = fedctl_member_secrets_docs(j->ns, FEDCTL_MEMBER_SA), *o;
	struct fed_kube_ref ref;
	char what[256];
	int ret = 0;

	cJSON_ArrayForEach(o, docs) {
		if (fedctl_secrets_doc_ref(o, &ref))
			continue;
		snprintf(what, sizeof(what), "%s %s",
		         cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind")), fed_obj_name(o));
		for (char *c = what; *c && *c != ' '; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
		if ((ret = fedctl_join_apply(j, what, &ref, o, err)))
			break;
	}
	cJSON_Delete(docs);
	return ret;
}

int fedctl_join_setup_rbac(struct fedctl_join *j, struct fed_kube_client *host, const char *mode,
                           struct fed_error *err)
{
	struct fedctl_agent_rule *targets = NULL;
	size_t n = 0;
	const struct fed_kube_ref cr_ref = {&fed_r_clusterroles, NULL, FEDCTL_MEMBER_ROLE, NULL};
	const struct fed_kube_ref crb_ref = {&fed_r_clusterrolebindings, NULL, FEDCTL_MEMBER_ROLE,
	                                     NULL};
	cJSON *cr = NULL, *crb, *rules;
	bool secrets = false;
	int ret;

	if (!strcmp(mode, "full")) {
		/* the explicit broad choice: everything */
		cr = fedctl_join_object("rbac.authorization.k8s.io/v1", "ClusterRole", NULL,
		                        FEDCTL_MEMBER_ROLE);
		rules = cJSON_AddArrayToObject(cr, "rules");
		add_rule(rules, "*", "*", "*");
		add_rule(rules, NULL, "*", "get");
	} else {
		if ((ret = fedctl_member_targets(j->ctx, host, &targets, &n, err)))
			return ret;
		cr = fedctl_member_role(FEDCTL_MEMBER_ROLE, FEDCTL_MEMBER_SA, targets, n);
		secrets = fedctl_rules_have_secrets(targets, n);
		fedctl_member_targets_free(targets, n);
		printf("rights in the member: least-privilege rights for %zu enabled federated "
		       "type(s) (--rbac full for everything)\n",
		       n);
	}
	if (secrets && (ret = apply_secrets_docs(j, err))) {
		cJSON_Delete(cr);
		return ret;
	}
	ret = fedctl_join_apply(j, "clusterrole " FEDCTL_MEMBER_ROLE, &cr_ref, cr, err);
	cJSON_Delete(cr);
	if (ret)
		return ret;
	crb = fedctl_join_binding(j, "ClusterRoleBinding", NULL, "ClusterRole", FEDCTL_MEMBER_ROLE);
	ret = fedctl_join_apply(j, "clusterrolebinding " FEDCTL_MEMBER_ROLE, &crb_ref, crb, err);
	cJSON_Delete(crb);
	return ret;
}
