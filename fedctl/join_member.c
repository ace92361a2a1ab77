/* join, the member: namespace, ServiceAccount, token Secret and RBAC (full
 * or minimal), and the ServiceAccount's token. */
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
int fedctl_join_apply(struct fedctl_join *j, const char *what, const char *path, cJSON *obj,
                      struct fed_error *err)
{
	cJSON *old = NULL, *now = NULL;
	char *body = NULL, url[512];
	const char *state;
	int ret;

	ret = fedctl_call(j->ctx, j->member, "GET", path, NULL, NULL, 0, &old, err);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "member: get %s", what);
	if (j->dry_run) {
		printf("member: %s %s (dry run)\n", what,
		       old ? "would be applied" : "would be created");
		cJSON_Delete(old);
		return 0;
	}
	body = cJSON_PrintUnformatted(obj);
	snprintf(url, sizeof(url), "%s?fieldManager=fedctl&force=true", path);
	ret = fedctl_call(j->ctx, j->member, "PATCH", url, body, "application/apply-patch+yaml", 0,
	                  &now, err);
	free(body);
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

/* The minimal rules: what the enabled federated types, health checks and
 * cluster metadata need. */
static int minimal_rules(struct fedctl_join *j, struct fed_kube_client *host, cJSON *rules,
                         struct fed_error *err)
{
	static const char rw[] = "get,list,watch,create,update,patch,delete";
	char path[512];
	cJSON *list = NULL, *item, *items;
	int ret, n = 0;

	snprintf(path, sizeof(path), "/apis/%s/%s/namespaces/%s/%s", FED_CORE_GROUP,
	         FED_FTC_VERSION, j->ctx->fed_namespace, FED_FTC_PLURAL);
	ret = fedctl_call(j->ctx, host, "GET", path, NULL, NULL, 0, &list, err);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: list federatedtypeconfigs in %s",
		                      j->ctx->fed_namespace);
	items = list ? cJSON_GetObjectItem(list, "items") : NULL;
	cJSON_ArrayForEach(item, items) {
		struct fed_type_config t;
		struct fed_error e = FED_ERROR_INIT;
		memset(&t, 0, sizeof(t));
		if (fed_type_config_parse(item, &t, &e))
			continue;
		if (t.propagation_enabled) {
			add_rule(rules, t.target.group, t.target.plural, rw);
			n++;
		}
		fed_type_config_release(&t);
	}
	cJSON_Delete(list);
	add_rule(rules, "", "nodes", "get,list");
	add_rule(rules, "apiextensions.k8s.io", "customresourcedefinitions", "get,create");
	add_rule(rules, NULL, "/readyz", "get");
	add_rule(rules, NULL, "/healthz", "get");
	add_rule(rules, NULL, "/version", "get");
	printf("member: minimal rights for %d enabled federated type(s)\n", n);
	return 0;
}

int fedctl_join_setup_rbac(struct fedctl_join *j, struct fed_kube_client *host, const char *mode,
                           struct fed_error *err)
{
	cJSON *cr = fedctl_join_object("rbac.authorization.k8s.io/v1", "ClusterRole", NULL,
	                               FEDCTL_MEMBER_ROLE);
	cJSON *crb, *rules = cJSON_AddArrayToObject(cr, "rules"), *subj, *ref;
	char path[512];
	int ret;

	if (!strcmp(mode, "full")) {
		add_rule(rules, "*", "*", "*");
		add_rule(rules, NULL, "*", "get");
	} else if ((ret = minimal_rules(j, host, rules, err))) {
		cJSON_Delete(cr);
		return ret;
	}
	snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterroles/%s",
	         FEDCTL_MEMBER_ROLE);
	ret = fedctl_join_apply(j, "clusterrole " FEDCTL_MEMBER_ROLE, path, cr, err);
	cJSON_Delete(cr);
	if (ret)
		return ret;
	crb = fedctl_join_object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", NULL,
	                         FEDCTL_MEMBER_ROLE);
	ref = cJSON_AddObjectToObject(crb, "roleRef");
	cJSON_AddStringToObject(ref, "apiGroup", "rbac.authorization.k8s.io");
	cJSON_AddStringToObject(ref, "kind", "ClusterRole");
	cJSON_AddStringToObject(ref, "name", FEDCTL_MEMBER_ROLE);
	subj = cJSON_CreateObject();
	cJSON_AddStringToObject(subj, "kind", "ServiceAccount");
	cJSON_AddStringToObject(subj, "name", FEDCTL_MEMBER_SA);
	cJSON_AddStringToObject(subj, "namespace", j->ns);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(crb, "subjects"), subj);
	snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/%s",
	         FEDCTL_MEMBER_ROLE);
	ret = fedctl_join_apply(j, "clusterrolebinding " FEDCTL_MEMBER_ROLE, path, crb, err);
	cJSON_Delete(crb);
	return ret;
}

/* Whether token authenticates to the member as our ServiceAccount. */
static bool token_is_ours(struct fedctl_join *j, const char *token)
{
	struct fed_rest_config t;
	struct fed_kube_client *c = NULL;
	struct fed_error err = FED_ERROR_INIT;
	cJSON *r = NULL;
	char want[512];
	const char *user;
	bool ok = false;

	fed_rest_config_init(&t);
	t.server = j->mcfg.server;
	t.ca_pem = j->mcfg.ca_pem;
	t.ca_len = j->mcfg.ca_len;
	t.tls_server_name = j->mcfg.tls_server_name;
	t.proxy_url = j->mcfg.proxy_url;
	t.insecure_skip_tls_verify = j->mcfg.insecure_skip_tls_verify;
	t.token = (char *)token;
	if (fed_kube_client_new(&c, j->ctx->loop, &t, "token-check", &err))
		return false;
	if (!fedctl_call(j->ctx, c, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
	                 "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":"
	                 "\"SelfSubjectReview\"}",
	                 NULL, 10000, &r, &err)) {
		snprintf(want, sizeof(want), "system:serviceaccount:%s:%s", j->ns,
		         FEDCTL_MEMBER_SA);
		user = fed_obj_str(r, "status.userInfo.username");
		ok = user && !strcmp(user, want);
	}
	cJSON_Delete(r);
	fed_kube_client_free(c);
	return ok;
}

/* The ServiceAccount's token: from the token Secret (filled by
 * kube-controller-manager), else the one the host already has when it is
 * still good, else a TokenRequest. */
char *fedctl_join_token(struct fedctl_join *j, const char *existing, struct fed_error *err)
{
	char path[512];
	int i, ret;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", j->ns,
	         FEDCTL_MEMBER_TOKEN);
	for (i = 0; i <= 20; i++) {
		cJSON *s = NULL;
		const char *b64;
		ret = fedctl_call(j->ctx, j->member, "GET", path, NULL, NULL, 0, &s, err);
		if (ret) {
			fed_error_wrap(err, "member: get secret %s/%s", j->ns, FEDCTL_MEMBER_TOKEN);
			return NULL;
		}
		b64 = fed_obj_str(s, "data.token");
		if (b64 && *b64) {
			char *tok = fedctl_b64_decode(b64, NULL);
			cJSON_Delete(s);
			if (tok) {
				printf(
				    "member: token of serviceaccount %s/%s read from secret %s\n",
				    j->ns, FEDCTL_MEMBER_SA, FEDCTL_MEMBER_TOKEN);
				return tok;
			}
			fed_error_set(err, FED_EINVAL, "member: secret %s/%s: token is not base64",
			              j->ns, FEDCTL_MEMBER_TOKEN);
			return NULL;
		}
		cJSON_Delete(s);
		if (i == 0 && existing && token_is_ours(j, existing)) {
			printf("member: token of serviceaccount %s/%s unchanged (the host's one is "
			       "still valid)\n",
			       j->ns, FEDCTL_MEMBER_SA);
			return strdup(existing);
		}
		if (i == 0)
			printf("member: waiting up to 10s for the token controller to fill secret "
			       "%s/%s\n",
			       j->ns, FEDCTL_MEMBER_TOKEN);
		if (i < 20)
			fedctl_sleep(j->ctx, 0.5);
	}
	{
		char body[256];
		cJSON *r = NULL;
		const char *tok, *exp;
		char *out;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/serviceaccounts/%s/token",
		         j->ns, FEDCTL_MEMBER_SA);
		snprintf(body, sizeof(body),
		         "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
		         "\"spec\":{\"expirationSeconds\":31536000}}");
		ret = fedctl_call(j->ctx, j->member, "POST", path, body, NULL, 0, &r, err);
		if (ret) {
			fed_error_wrap(err,
			               "member: the token secret stayed empty (no token "
			               "controller?) and create serviceaccounts/token for %s/%s "
			               "failed",
			               j->ns, FEDCTL_MEMBER_SA);
			return NULL;
		}
		tok = fed_obj_str(r, "status.token");
		exp = fed_obj_str(r, "status.expirationTimestamp");
		if (!tok) {
			cJSON_Delete(r);
			fed_error_set(err, FED_ERR, "member: TokenRequest returned no token");
			return NULL;
		}
		printf("member: secret %s/%s stayed empty (no token controller in the member's "
		       "kube-controller-manager?): requested a token through the TokenRequest API "
		       "instead, valid until %s; run join again before then\n",
		       j->ns, FEDCTL_MEMBER_TOKEN, exp ? exp : "unknown");
		out = strdup(tok);
		cJSON_Delete(r);
		return out;
	}
}
