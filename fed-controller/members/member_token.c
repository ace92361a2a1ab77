/* Renewal of direct members' bound tokens. fedctl join writes a token from
 * the member's TokenRequest API (with an expiry) into the kubeconfig
 * Secret, and a Role that lets the ServiceAccount request tokens for
 * itself. Here, at a fraction of the token's lifetime (from its own iat and
 * exp: level-triggered, nothing to remember across restarts), the member is
 * asked for a new token with the current one, and the Secret's
 * kubeconfig-<cluster> key is merge-patched. The Secret informer then
 * rebuilds the member's client (member.c), which calls member_token_track
 * again with the new token. Token text never reaches a log, an event, a
 * status or a metric; buffers that held it are wiped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "members.h"
#include "fed/backoff.h"
#include "fed/base64.h"
#include "fed/jwt.h"
#include "fed/kube_known.h"
#include "fed/log.h"
#include "member_token.h"

#define RETRY_MIN     10.0  /* seconds before retrying a failed renewal, doubling */
#define RETRY_MAX     300.0 /* ... up to this */
#define AFTER_WRITTEN 60.0  /* renew again if the Secret's new token never came back */

struct member_token {
	struct controller *ctl;
	struct fed_kube_client *client; /* the member's, borrowed */
	char *cluster;
	char *kubeconfig; /* the Secret's text, holds the token: wiped */
	struct fed_jwt_times t;
	ev_timer timer;
	struct fed_kube_call *call; /* TokenRequest (member) or Secret patch (host) */
	struct fed_backoff retry;   /* of a failed renewal */
	long long wrote_iat;        /* iat of the token patched into the Secret, 0 if none */
	bool expired_logged;
};

static void wipe_free(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static struct fed_metrics_family *family(struct controller *ctl, const char *name, bool gauge,
                                         const char *help)
{
	struct fed_metrics_family *f;
	struct fed_error err = FED_ERROR_INIT;

	if (!ctl->metrics)
		return NULL;
	f = fed_metrics_family(ctl->metrics, name);
	if (!f && (gauge ? fed_metrics_gauge : fed_metrics_counter)(ctl->metrics, name, help,
	                                                            "cluster", &f, &err))
		return NULL;
	return f;
}

static void count(struct member_token *t, const char *name, const char *help)
{
	struct fed_metrics_family *f = family(t->ctl, name, false, help);

	if (f)
		fed_metrics_inc(f, (const char *[]){t->cluster});
}

static void set_expiry(struct controller *ctl, const char *cluster, double exp)
{
	struct fed_metrics_family *f =
	    family(ctl, "fed_member_token_expiry_timestamp_seconds", true,
	           "When the member's bound ServiceAccount token expires (Unix time); absent "
	           "for members whose kubeconfig carries no such token");

	if (!f)
		return;
	if (exp > 0)
		fed_metrics_set(f, (const char *[]){cluster}, exp);
	else
		fed_metrics_remove(f, (const char *[]){cluster});
}

static void schedule(struct member_token *t, double delay)
{
	ev_timer_stop(t->ctl->loop, &t->timer);
	ev_timer_set(&t->timer, delay > 0 ? delay : 0., 0.);
	ev_timer_start(t->ctl->loop, &t->timer);
}

static void failed(struct member_token *t, const struct fed_error *e)
{
	double left = (double)t->t.exp - (double)time(NULL);
	double wait = fed_backoff_next(&t->retry);

	count(t, "fed_member_token_renewal_failures_total",
	      "Failed renewals of a member's bound ServiceAccount token");
	if (e->code == FED_EUNAUTHORIZED)
		FED_LOG_WARN(t->cluster,
		             "cannot renew the member's token: the member refused it (expired or "
		             "revoked); run fedctl join %s to issue a new one",
		             t->cluster);
	else if (e->code == FED_EFORBIDDEN)
		FED_LOG_WARN(t->cluster,
		             "cannot renew the member's token: %s. Run fedctl join %s again: it "
		             "grants the ServiceAccount create on its own serviceaccounts/token "
		             "(the member token expires in %.0f s)",
		             e->msg, t->cluster, left);
	else
		FED_LOG_WARN(t->cluster,
		             "cannot renew the member's token: %s (retrying in %.0f s; it "
		             "expires in %.0f s)",
		             e->msg, wait, left);
	schedule(t, wait);
}

static void written(struct fed_kube_response *resp, void *ud)
{
	struct member_token *t = ud;

	t->call = NULL;
	if (resp->err.code) {
		struct fed_error e = resp->err;
		fed_error_wrap(&e, "patch secret %s/%s key kubeconfig-%s",
		               t->ctl->o.config_namespace, t->ctl->o.secret_name, t->cluster);
		failed(t, &e);
		return;
	}
	fed_backoff_reset(&t->retry);
	/* the Secret informer brings the new token back (member_token_track);
	 * should it not, try again */
	schedule(t, AFTER_WRITTEN);
}

/* The Secret's kubeconfig with token in place of the old one. */
static int render(struct member_token *t, const char *token, char **out, struct fed_error *err)
{
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config cfg;
	int ret;

	*out = NULL;
	fed_rest_config_init(&cfg);
	ret = fed_kubeconfig_parse(&kc, t->kubeconfig, strlen(t->kubeconfig), "<secret>", err);
	if (!ret)
		ret = fed_kubeconfig_rest_config(kc, NULL, &cfg, err);
	if (ret == FED_EINVAL && !fed_kubeconfig_current_context(kc)) {
		size_t n = 0;
		const char *const *ctxs = fed_kubeconfig_contexts(kc, &n);
		if (n == 1) {
			fed_error_clear(err);
			ret = fed_kubeconfig_rest_config(kc, ctxs[0], &cfg, err);
		}
	}
	if (!ret) {
		wipe_free(cfg.token);
		cfg.token = strdup(token);
		ret = cfg.token ? fed_kubeconfig_render(&cfg, cfg.context, out, err) : FED_ENOMEM;
	}
	fed_rest_config_release(&cfg);
	fed_kubeconfig_free(kc);
	return ret;
}

static void issued(struct fed_kube_response *resp, void *ud)
{
	struct member_token *t = ud;
	struct fed_kube_ref ref = {&fed_r_secrets, t->ctl->o.config_namespace,
	                           t->ctl->o.secret_name, NULL};
	struct fed_kube_write_opts wo = {FED_MANAGER, false, false};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_jwt_times nt;
	const char *tok = NULL;
	char *kc = NULL, *b64 = NULL, *patch = NULL;
	size_t n, plen;

	t->call = NULL;
	if (resp->err.code) {
		err = resp->err;
		fed_error_wrap(&err, "create serviceaccounts/token for %s/%s", t->t.ns, t->t.sa);
		failed(t, &err);
		return;
	}
	tok = cJSON_GetStringValue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(resp->json, "status"), "token"));
	if (!tok || fed_jwt_times(tok, &nt, &err) || !nt.exp) {
		fed_error_set(&err, FED_ERR,
		              "the member's TokenRequest answer holds no bound token");
		failed(t, &err);
		goto out;
	}
	if (render(t, tok, &kc, &err)) {
		failed(t, &err);
		goto out;
	}
	n = strlen(kc);
	b64 = fed_base64_encode_str(kc, n);
	plen = 4 * ((n + 2) / 3) + strlen(t->cluster) + 64;
	patch = malloc(plen);
	if (!b64 || !patch) {
		fed_error_set(&err, FED_ENOMEM, "out of memory");
		failed(t, &err);
		goto out;
	}
	snprintf(patch, plen, "{\"data\":{\"kubeconfig-%s\":\"%s\"}}", t->cluster, b64);
	if (fed_kube_patch(t->ctl->host, &ref, FED_PATCH_MERGE, patch, &wo, written, t, &t->call,
	                   &err) < 0) {
		failed(t, &err);
		goto out;
	}
	t->wrote_iat = nt.iat;
	FED_LOG_INFO(t->cluster, "renewed the member's token (valid until %lld, was %lld)", nt.exp,
	             t->t.exp);
out:
	/* the answer's buffers held the new token too */
	if (tok)
		OPENSSL_cleanse((char *)tok, strlen(tok));
	if (resp->body)
		OPENSSL_cleanse((char *)resp->body, resp->body_len);
	wipe_free(kc);
	wipe_free(b64);
	wipe_free(patch);
}

static void renew(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct member_token *t = w->data;
	struct fed_kube_ref ref = {&fed_r_serviceaccounts, t->t.ns, t->t.sa, "token"};
	struct fed_kube_request req;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf path = FED_BUF_INIT;
	char body[200];

	if (t->call)
		goto out;
	if (t->t.exp <= (long long)time(NULL) && !t->expired_logged) {
		t->expired_logged = true;
		FED_LOG_WARN(t->cluster,
		             "the member's token expired (fed-controller was not running or "
		             "could not renew it in time); trying anyway, else run fedctl join "
		             "%s to issue a new one",
		             t->cluster);
	}
	if (fed_kube_path(&path, &ref))
		xoom();
	/* the same lifetime as before: what join asked (or what the
	 * apiserver granted of it) */
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
	         "\"spec\":{\"expirationSeconds\":%lld}}",
	         t->t.exp - t->t.iat < 600 ? 600LL : t->t.exp - t->t.iat);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = path.data;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = 15000;
	req.max_retries = -1;
	if (fed_kube_request(t->client, &req, issued, t, &t->call, &err))
		failed(t, &err);
out:
	fed_buf_release(&path);
}

void member_token_stop(struct member_token *t)
{
	if (!t)
		return;
	ev_timer_stop(t->ctl->loop, &t->timer);
	fed_kube_call_cancel(t->call);
	t->call = NULL;
	t->client = NULL;
}

void member_token_free(struct member_token *t)
{
	if (!t)
		return;
	member_token_stop(t);
	wipe_free(t->kubeconfig);
	free(t->cluster);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

/* The token of the kubeconfig's user, NULL when it has none (or files or
 * a plugin provide it: those are not ours to renew). */
static char *kubeconfig_token(const char *kubeconfig)
{
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config cfg;
	struct fed_error err = FED_ERROR_INIT;
	char *tok = NULL;
	int ret;

	fed_rest_config_init(&cfg);
	ret = fed_kubeconfig_parse(&kc, kubeconfig, strlen(kubeconfig), "<secret>", &err);
	if (!ret)
		ret = fed_kubeconfig_rest_config(kc, NULL, &cfg, &err);
	if (ret == FED_EINVAL && kc && !fed_kubeconfig_current_context(kc)) {
		size_t n = 0;
		const char *const *ctxs = fed_kubeconfig_contexts(kc, &n);
		if (n == 1)
			ret = fed_kubeconfig_rest_config(kc, ctxs[0], &cfg, &err);
	}
	if (!ret && cfg.token && !cfg.token_file && !cfg.exec)
		tok = strdup(cfg.token);
	fed_rest_config_release(&cfg);
	fed_kubeconfig_free(kc);
	return tok;
}

void member_token_track(struct member_token **pt, struct controller *ctl, const char *cluster,
                        const char *mode, const char *kubeconfig, struct fed_kube_client *client)
{
	struct member_token *t = NULL;
	struct fed_error err = FED_ERROR_INIT;
	char *tok = NULL;
	long long now = (long long)time(NULL), life;
	long long wrote_iat = *pt ? (*pt)->wrote_iat : 0;
	double at;

	member_token_free(*pt);
	*pt = NULL;
	if (!mode || strcmp(mode, "direct") || !kubeconfig || !client ||
	    !(tok = kubeconfig_token(kubeconfig)) || !fed_jwt_is(tok))
		goto out;
	t = calloc(1, sizeof(*t));
	if (!t || fed_jwt_times(tok, &t->t, &err) || !t->t.exp || !t->t.iat ||
	    t->t.exp <= t->t.iat || !t->t.ns[0] || !t->t.sa[0])
		goto out; /* a legacy or foreign token: not renewable */
	if (!(t->cluster = strdup(cluster)) || !(t->kubeconfig = strdup(kubeconfig)))
		goto out;
	t->ctl = ctl;
	t->client = client;
	fed_backoff_init(&t->retry, RETRY_MIN, RETRY_MAX);
	ev_timer_init(&t->timer, renew, 0., 0.);
	t->timer.data = t;
	/* counted when the new token is back from the Secret: the patch's
	 * answer may come after the watch event that ends this state */
	if (wrote_iat && t->t.iat == wrote_iat)
		count(t, "fed_member_token_renewals_total",
		      "Renewals of a member's bound ServiceAccount token, counted when the "
		      "new token is in use");
	life = t->t.exp - t->t.iat;
	at = (double)t->t.iat + ctl->o.member_token_renew_fraction * (double)life;
	set_expiry(ctl, cluster, (double)t->t.exp);
	FED_LOG_DEBUG(cluster, "member token valid until %lld, renewal in %.0f s", t->t.exp,
	              at - (double)now);
	schedule(t, at - (double)now);
	*pt = t;
	t = NULL;
out:
	if (t) { /* not renewable */
		free(t->cluster);
		wipe_free(t->kubeconfig);
		free(t);
	}
	wipe_free(tok);
	if (!*pt)
		set_expiry(ctl, cluster, 0);
}

void member_token_unauthorized_hint(const struct member_token *t, const char *cluster, char *msg,
                                    size_t n)
{
	size_t len = strlen(msg);

	if (len + 1 >= n)
		return;
	if (t && t->t.exp <= (long long)time(NULL))
		snprintf(msg + len, n - len,
		         " (the member's token expired: run fedctl join %s to issue a new one)",
		         cluster);
	else
		snprintf(msg + len, n - len,
		         " (the member refused the token: run fedctl join %s to issue a new one)",
		         cluster);
}
