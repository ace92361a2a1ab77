/* join, the member ServiceAccount's token: a bound token with an expiry
 * from the TokenRequest API (kept when the host's one is still ours and
 * fresh), the Role that lets fed-controller renew it with the token itself,
 * and the removal of the legacy token Secret earlier versions created. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fed/jwt.h"
#include "join.h"

/* Whether token authenticates to the member as our ServiceAccount. */
static bool token_is_ours(struct fedctl_join *j, const char *token)
{
	const struct fed_kube_ref review = {&fed_r_selfsubjectreviews, NULL, NULL, NULL};
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
	if (!fedctl_call_ref(j->ctx, c, "POST", &review,
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

/* The host's token is kept (join stays idempotent) while it is a bound
 * token of at most the asked lifetime with more than a tenth of it left. */
static bool fresh_enough(const char *token, double lifetime)
{
	struct fed_jwt_times t;
	struct fed_error err = FED_ERROR_INIT;
	long long now = (long long)time(NULL), life;

	if (!token || fed_jwt_times(token, &t, &err) || !t.exp || !t.iat || t.exp <= t.iat)
		return false;
	life = t.exp - t.iat;
	/* the apiserver may cap the lifetime (--service-account-max-token-
	 * expiration): a shorter one than asked is what it gives */
	if (life > (long long)lifetime + 60)
		return false;
	return now < t.exp - (life / 10 > 60 ? life / 10 : 60);
}

/* Role fed-controller:member-token: the ServiceAccount may request tokens
 * for itself only, which is how fed-controller renews it. */
static int setup_renew_role(struct fedctl_join *j, struct fed_error *err)
{
	cJSON *role = fedctl_join_object("rbac.authorization.k8s.io/v1", "Role", j->ns,
	                                 FEDCTL_MEMBER_TOKEN_ROLE);
	cJSON *rule = cJSON_CreateObject(), *rb;
	const char *core = "", *res = "serviceaccounts/token", *name = FEDCTL_MEMBER_SA;
	const char *verb = "create";
	const struct fed_kube_ref role_ref = {&fed_r_roles, j->ns, FEDCTL_MEMBER_TOKEN_ROLE, NULL};
	const struct fed_kube_ref rb_ref = {&fed_r_rolebindings, j->ns, FEDCTL_MEMBER_TOKEN_ROLE,
	                                    NULL};
	int ret;

	cJSON_AddItemToObject(rule, "apiGroups", cJSON_CreateStringArray(&core, 1));
	cJSON_AddItemToObject(rule, "resources", cJSON_CreateStringArray(&res, 1));
	cJSON_AddItemToObject(rule, "resourceNames", cJSON_CreateStringArray(&name, 1));
	cJSON_AddItemToObject(rule, "verbs", cJSON_CreateStringArray(&verb, 1));
	cJSON_AddItemToArray(cJSON_AddArrayToObject(role, "rules"), rule);
	ret = fedctl_join_apply(j, "role " FEDCTL_MEMBER_TOKEN_ROLE, &role_ref, role, err);
	cJSON_Delete(role);
	if (ret)
		return ret;
	rb = fedctl_join_binding(j, "RoleBinding", j->ns, "Role", FEDCTL_MEMBER_TOKEN_ROLE);
	ret = fedctl_join_apply(j, "rolebinding " FEDCTL_MEMBER_TOKEN_ROLE, &rb_ref, rb, err);
	cJSON_Delete(rb);
	return ret;
}

/* Earlier joins created a kubernetes.io/service-account-token Secret,
 * whose token never expires: delete it (only ours: labelled by fedctl). */
static int remove_legacy_secret(struct fedctl_join *j, struct fed_error *err)
{
	const struct fed_kube_ref ref = {&fed_r_secrets, j->ns, FEDCTL_MEMBER_TOKEN, NULL};
	cJSON *s = NULL;
	const char *type, *by;
	int ret;

	ret = fedctl_call_ref(j->ctx, j->member, "GET", &ref, NULL, NULL, 0, &s, err);
	if (ret == FED_ENOTFOUND) {
		fed_error_clear(err);
		return 0;
	}
	if (ret)
		return fed_error_wrap(err, "member: get secret %s/%s", j->ns, FEDCTL_MEMBER_TOKEN);
	type = fed_obj_str(s, "type");
	by = cJSON_GetStringValue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "metadata"), "labels"),
	                        "app.kubernetes.io/managed-by"));
	if (!type || strcmp(type, "kubernetes.io/service-account-token") || !by ||
	    strcmp(by, "fedctl")) {
		cJSON_Delete(s);
		return 0;
	}
	cJSON_Delete(s);
	if (j->dry_run) {
		printf("member: legacy token secret %s would be deleted (dry run)\n",
		       FEDCTL_MEMBER_TOKEN);
		return 0;
	}
	ret = fedctl_call_ref(j->ctx, j->member, "DELETE", &ref, NULL, NULL, 0, NULL, err);
	if (ret == FED_ENOTFOUND) {
		fed_error_clear(err);
		ret = 0;
	}
	if (ret)
		return fed_error_wrap(err, "member: delete legacy token secret %s/%s", j->ns,
		                      FEDCTL_MEMBER_TOKEN);
	printf("member: legacy token secret %s deleted (its token never expired; fed now uses "
	       "bound tokens that fed-controller renews)\n",
	       FEDCTL_MEMBER_TOKEN);
	return 0;
}

int fedctl_join_token_setup(struct fedctl_join *j, struct fed_error *err)
{
	int ret = setup_renew_role(j, err);

	return ret ? ret : remove_legacy_secret(j, err);
}

/* The ServiceAccount's token: the one the host already has while it is
 * ours and fresh, else a new bound token from TokenRequest. */
char *fedctl_join_token(struct fedctl_join *j, const char *existing, struct fed_error *err)
{
	const struct fed_kube_ref ref = {&fed_r_serviceaccounts, j->ns, FEDCTL_MEMBER_SA, "token"};
	char body[256];
	cJSON *r = NULL;
	const char *tok, *exp;
	char *out;

	if (existing && fresh_enough(existing, j->token_lifetime) && token_is_ours(j, existing)) {
		printf("member: token of serviceaccount %s/%s unchanged (the host's one is "
		       "still valid)\n",
		       j->ns, FEDCTL_MEMBER_SA);
		return strdup(existing);
	}
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
	         "\"spec\":{\"expirationSeconds\":%lld}}",
	         (long long)j->token_lifetime);
	if (fedctl_call_ref(j->ctx, j->member, "POST", &ref, body, NULL, 0, &r, err)) {
		fed_error_wrap(err, "member: create serviceaccounts/token for %s/%s", j->ns,
		               FEDCTL_MEMBER_SA);
		return NULL;
	}
	tok = fed_obj_str(r, "status.token");
	exp = fed_obj_str(r, "status.expirationTimestamp");
	if (!tok || !*tok) {
		cJSON_Delete(r);
		fed_error_set(err, FED_ERR, "member: TokenRequest returned no token");
		return NULL;
	}
	printf("member: bound token of serviceaccount %s/%s requested, valid until %s; "
	       "fed-controller renews it before then\n",
	       j->ns, FEDCTL_MEMBER_SA, exp ? exp : "unknown");
	out = strdup(tok);
	cJSON_Delete(r);
	return out;
}
