/* join, the member ServiceAccount's token: read from the token Secret,
 * kept when the host's one is still good, or requested (TokenRequest). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"

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
