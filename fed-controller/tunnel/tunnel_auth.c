/* Authentication of fed-agents on the host (see tunnel.c for the whole):
 * the tunnel Secret (certificate, HMAC key, hashed bootstrap tokens,
 * credential expiries), single-use bootstrap tokens compared in constant
 * time, and HMAC-signed per-cluster credentials whose name is the
 * cluster's only identity. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "fed/base64.h"
#include "fed/federation.h"
#include "fed/log.h"
#include "tunnel_internal.h"

const struct fed_kube_resource tunnel_r_secret = {"", "v1", "secrets", true};

/* ---- Secret access ---- */

const cJSON *tunnel_secret_obj(struct tunnel *t)
{
	return fed_informer_get(t->secret, t->ctl->o.config_namespace, t->ctl->o.tunnel_secret);
}

/* The decoded value of secret's data[key], malloc'd (NUL-terminated), or
 * NULL. */
static char *secret_value(const cJSON *secret, const char *key, size_t *len)
{
	const char *b64 = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(secret, "data"), key));
	char *out = NULL;
	size_t n = 0;

	if (b64 && !fed_base64_decode(FED_BASE64_STD, b64, strlen(b64), &out, &n) && len)
		*len = n;
	return out;
}

char *tunnel_secret_value(struct tunnel *t, const char *key, size_t *len)
{
	return secret_value(tunnel_secret_obj(t), key, len);
}

void tunnel_wipe_free(char *s, size_t n)
{
	if (s) {
		OPENSSL_cleanse(s, n);
		free(s);
	}
}

static void patch_done(struct fed_kube_response *resp, void *ud)
{
	if (resp->err.code)
		FED_LOG_WARN(NULL, "tunnel: updating secret: %s", resp->err.msg);
}

static char *b64(const void *p, size_t n)
{
	return fed_base64_encode_str(p, n);
}

/* ---- credentials ---- */

static void hmac_hex(struct tunnel *t, const char *msg, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	HMAC(EVP_sha256(), t->key, (int)t->keylen, (const unsigned char *)msg, len, md, &n);
	for (unsigned int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	OPENSSL_cleanse(md, sizeof(md));
}

unsigned long long tunnel_generation(struct tunnel *t, const char *cluster, bool *revoke)
{
	char key[300], *v;
	unsigned long long g = 0;
	bool r = false;

	snprintf(key, sizeof(key), "generation-%s", cluster);
	v = tunnel_secret_value(t, key, NULL);
	if (v && tunnel_generation_parse(v, &g, &r) < 0) {
		static struct fed_log_limit lim = FED_LOG_LIMIT(1, 60);

		FED_LOG_LIMITED(FED_LOG_WARN, &lim, cluster,
		                "tunnel: secret %s/%s: %s must be \"<number>\" or \"<number> "
		                "revoke\"; taken as 0 (run fedctl rotate %s to fix it)",
		                t->ctl->o.config_namespace, t->ctl->o.tunnel_secret, key, cluster);
	}
	free(v);
	if (revoke)
		*revoke = r;
	return g;
}

char *tunnel_issue_credential(struct tunnel *t, const char *cluster, unsigned long long gen,
                              long long *expiry)
{
	char body[CRED_MAX], mac[65], *cred = NULL;
	long long exp = (long long)time(NULL) + (long long)t->ctl->o.tunnel_cred_lifetime;
	int n = tunnel_cred_body(body, sizeof(body), cluster, gen, exp);

	*expiry = exp;
	if (n < 0)
		return NULL;
	hmac_hex(t, body, (size_t)n, mac);
	cred = malloc((size_t)n + 66);
	if (cred)
		snprintf(cred, (size_t)n + 66, "%s.%s", body, mac);
	OPENSSL_cleanse(mac, sizeof(mac));
	OPENSSL_cleanse(body, sizeof(body));
	return cred;
}

/* The cluster named by a credential we signed, of a generation not
 * revoked, or an error; *reason gets the refusal's metric label. */
static int check_credential(struct tunnel *t, const char *cred, size_t len, char **cluster,
                            const char **reason, struct fed_error *err)
{
	struct tunnel_cred c;
	char mac[65];
	unsigned long long stored;
	int rc = 0;

	*reason = "bad_credential";
	if (tunnel_cred_parse(cred, len, &c) < 0)
		return fed_error_set(err, FED_EUNAUTHORIZED, "malformed cluster credential");
	hmac_hex(t, cred, c.body_len, mac);
	if (CRYPTO_memcmp(mac, c.mac, 64)) {
		rc = fed_error_set(err, FED_EUNAUTHORIZED,
		                   "cluster credential not signed by this federation (or by a "
		                   "replaced credential-key)");
		goto out;
	}
	if (c.expiry < time(NULL)) {
		*reason = "expired_credential";
		rc = fed_error_set(err, FED_EUNAUTHORIZED,
		                   "cluster credential expired: join the cluster again "
		                   "(fedctl join --mode agent) for a new bootstrap token");
		goto out;
	}
	stored = tunnel_generation(t, c.cluster, NULL);
	if (!tunnel_generation_current(c.generation, stored)) {
		*reason = "revoked_credential";
		rc = fed_error_set(err, FED_EUNAUTHORIZED,
		                   "credential of cluster '%s' was revoked (generation %llu, now "
		                   "%llu: fedctl rotate, delete or a re-join); join the cluster "
		                   "again for a new bootstrap token",
		                   c.cluster, c.generation, stored);
		goto out;
	}
	*cluster = strdup(c.cluster);
	rc = *cluster ? 0 : FED_ENOMEM;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	OPENSSL_cleanse(&c, sizeof(c));
	return rc;
}

/* Is name a cluster of the Federation config in agent mode? */
static bool agent_cluster(struct tunnel *t, const char *name)
{
	return tunnel_config_mode_agent(t->ctl, name);
}

/* ---- spending a bootstrap token ----
 *
 * Single use across restarts and failovers: the token's entry is removed
 * from the Secret with a JSON patch (test its value, then remove it: of
 * concurrent uses, on any replica, only one removal succeeds), and only
 * once that removal succeeded does the agent get AUTH_OK with its
 * credential. Transient failures retry with backoff until AUTH_DEADLINE;
 * after that the agent is told to try again (the token was not spent). */

#define AUTH_DEADLINE    6.0  /* seconds, within the 10-s handshake timeout */
#define AUTH_BACKOFF_MIN 0.25 /* seconds before the first retry, doubling */

/* t->used values: a token being spent, or spent */
#define TOKEN_SPENDING ((void *)1)
#define TOKEN_SPENT    ((void *)2)

struct authop {
	struct tunnel *t;
	struct fed_tunnel_conn *conn; /* NULL once the connection is gone */
	char *cluster;
	char hex[65];
	char *val64; /* the entry's stored value, for the test op */
	double deadline;
	struct fed_backoff backoff;
	ev_timer retry;
	struct fed_kube_call *call;
	struct authop *next;
};

static void authop_free(struct authop *op)
{
	struct authop **pp;

	for (pp = &op->t->authops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	ev_timer_stop(op->t->ctl->loop, &op->retry);
	free(op->cluster);
	tunnel_wipe_free(op->val64, op->val64 ? strlen(op->val64) : 0);
	OPENSSL_cleanse(op->hex, sizeof(op->hex));
	free(op);
}

static void authop_send(struct authop *op);

/* Not spent: the agent may try again (and the token stays usable). */
static void authop_unspent(struct authop *op, const char *why)
{
	struct tunnel *t = op->t;

	fed_map_del(&t->used, op->hex);
	tunnel_count_refused(t, "token_not_spent");
	FED_LOG_WARN(op->cluster,
	             "tunnel: could not mark a bootstrap token used in secret %s/%s: %s; the agent "
	             "is told to try again (the token stays valid)",
	             t->ctl->o.config_namespace, t->ctl->o.tunnel_secret, why);
	fed_tunnel_conn_auth_complete(op->conn, FED_EUNAVAILABLE, NULL, NULL,
	                              "bootstrap token not spent yet: try again");
	authop_free(op);
}

static void authop_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	authop_send(w->data);
}

static void authop_done(struct fed_kube_response *resp, void *ud)
{
	struct authop *op = ud;
	struct tunnel *t = op->t;
	char key[300], *gen_s;
	unsigned long long gen = 0;
	bool revoke;
	long long expiry;
	char *cred;
	double now = ev_now(t->ctl->loop), wait;
	int st = resp->status;

	op->call = NULL;
	if (resp->err.code) {
		/* the test or the remove failed (422), a conflict (409), or no
		 * Secret (404): the token is gone or changed, someone else spent
		 * it. Anything else (403 from RBAC or a policy, 5xx, no answer)
		 * says nothing about it: retry, and else it was not spent. */
		if (st == 404 || st == 409 || st == 422) {
			fed_map_put(&t->used, op->hex, TOKEN_SPENT, NULL);
			tunnel_count_refused(t, "replayed_token");
			fed_tunnel_conn_auth_complete(
			    op->conn, FED_EUNAUTHORIZED, NULL, NULL,
			    "bootstrap token already used (tokens are single-use)");
			authop_free(op);
			return;
		}
		wait = fed_backoff_next(&op->backoff);
		if (!op->conn || now + wait >= op->deadline) {
			authop_unspent(op, op->conn ? resp->err.msg : "the agent left");
			return;
		}
		ev_timer_set(&op->retry, wait, 0.);
		ev_timer_start(t->ctl->loop, &op->retry);
		return;
	}
	fed_map_put(&t->used, op->hex, TOKEN_SPENT, NULL);
	if (!op->conn) {
		FED_LOG_WARN(
		    op->cluster,
		    "tunnel: a bootstrap token was spent but its agent left before getting "
		    "a credential: join the cluster again (fedctl join --mode agent)");
		authop_free(op);
		return;
	}
	/* the generation as of the removal (the same write as the token in
	 * a join), else the informer's */
	snprintf(key, sizeof(key), "generation-%s", op->cluster);
	gen_s = secret_value(resp->json, key, NULL);
	if (gen_s)
		tunnel_generation_parse(gen_s, &gen, &revoke);
	free(gen_s);
	if (!gen)
		gen = tunnel_generation(t, op->cluster, NULL);
	cred = tunnel_issue_credential(t, op->cluster, gen, &expiry);
	if (cred)
		tunnel_note_expiry(t, op->cluster, expiry);
	fed_tunnel_conn_auth_complete(op->conn, 0, op->cluster, cred, NULL);
	op->cluster = NULL; /* taken */
	authop_free(op);
}

static void authop_send(struct authop *op)
{
	struct controller *ctl = op->t->ctl;
	struct fed_kube_ref ref = {&tunnel_r_secret, ctl->o.config_namespace, ctl->o.tunnel_secret,
	                           NULL};
	struct fed_error err = FED_ERROR_INIT;
	char *patch = NULL;

	if (!op->conn) {
		authop_unspent(op, "the agent left");
		return;
	}
	if (asprintf(&patch,
	             "[{\"op\":\"test\",\"path\":\"/data/bootstrap-%s\",\"value\":\"%s\"},"
	             "{\"op\":\"remove\",\"path\":\"/data/bootstrap-%s\"}]",
	             op->hex, op->val64, op->hex) < 0) {
		authop_unspent(op, "out of memory");
		return;
	}
	if (fed_kube_patch(ctl->host, &ref, FED_PATCH_JSON, patch, NULL, authop_done, op, &op->call,
	                   &err) < 0) {
		tunnel_wipe_free(patch, strlen(patch));
		authop_unspent(op, err.msg);
		return;
	}
	tunnel_wipe_free(patch, strlen(patch));
}

/* Spend the token (hash hex) for c, then answer c: see above. Called only
 * once every other check passed, so that a refused attempt (e.g. an agent
 * that dialled before the Federation config was read) does not burn it. */
static int consume_bootstrap(struct tunnel *t, struct fed_tunnel_conn *c, const char *hex,
                             const char *cluster, struct fed_error *err)
{
	struct authop *op = calloc(1, sizeof(*op));
	char key[80];
	const char *v64;

	snprintf(key, sizeof(key), "bootstrap-%s", hex);
	v64 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItem(tunnel_secret_obj(t), "data"), key));
	if (!op || !v64 || !(op->cluster = strdup(cluster)) || !(op->val64 = strdup(v64))) {
		if (op)
			free(op->cluster);
		free(op);
		return fed_error_set(err, FED_EUNAVAILABLE, "out of memory");
	}
	op->t = t;
	op->conn = c;
	snprintf(op->hex, sizeof(op->hex), "%s", hex);
	op->deadline = ev_now(t->ctl->loop) + AUTH_DEADLINE;
	/* capped at the deadline: a longer wait ends the spend anyway */
	fed_backoff_init(&op->backoff, AUTH_BACKOFF_MIN, AUTH_DEADLINE);
	ev_init(&op->retry, authop_retry_cb);
	op->retry.data = op;
	op->next = t->authops;
	t->authops = op;
	fed_map_put(&t->used, hex, TOKEN_SPENDING, NULL);
	authop_send(op);
	return FED_TUNNEL_AUTH_PENDING;
}

void tunnel_auth_forget(struct tunnel *t, struct fed_tunnel_conn *c)
{
	for (struct authop *op = t->authops; op; op = op->next)
		if (op->conn == c)
			op->conn = NULL; /* the write in flight still decides the token */
}

void tunnel_auth_stop(struct tunnel *t)
{
	while (t->authops) {
		struct authop *op = t->authops;

		/* the agent is not answered: it dials the next leader, and the
		 * token is spent or not as the write in flight ends */
		fed_kube_call_cancel(op->call);
		op->call = NULL;
		if (op->conn)
			fed_map_del(&t->used, op->hex);
		authop_free(op);
	}
}

/* The cluster of a valid unused token; hex gets the token's hash. */
static int check_bootstrap(struct tunnel *t, const uint8_t *tok, size_t len, char **cluster,
                           char hex[65], struct fed_error *err)
{
	unsigned char md[32];
	char key[80], *val = NULL, *sp, *end;
	const cJSON *data = cJSON_GetObjectItem(tunnel_secret_obj(t), "data"), *e;
	bool found = false;
	long expiry;
	void *used;
	int rc = FED_EUNAUTHORIZED;

	SHA256(tok, len, md);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	/* compare against every stored hash in constant time */
	cJSON_ArrayForEach(e, data) {
		if (e->string && !strncmp(e->string, "bootstrap-", 10) && strlen(e->string) == 74 &&
		    !CRYPTO_memcmp(e->string + 10, hex, 64))
			found = true;
	}
	used = fed_map_get(&t->used, hex);
	if (used == TOKEN_SPENDING) {
		tunnel_count_refused(t, "token_in_use");
		return fed_error_set(err, FED_EUNAVAILABLE,
		                     "bootstrap token being used by another connection");
	}
	if (used) {
		tunnel_count_refused(t, "replayed_token");
		return fed_error_set(err, FED_EUNAUTHORIZED,
		                     "bootstrap token already used (tokens are single-use)");
	}
	if (!found) {
		tunnel_count_refused(t, "bad_token");
		return fed_error_set(err, FED_EUNAUTHORIZED, "unknown bootstrap token");
	}
	snprintf(key, sizeof(key), "bootstrap-%s", hex);
	val = tunnel_secret_value(t, key, NULL);
	sp = val ? strchr(val, ' ') : NULL;
	expiry = sp ? strtol(sp + 1, &end, 10) : 0;
	if (!sp || *end || sp == val) {
		tunnel_count_refused(t, "bad_token");
		fed_error_set(err, FED_EUNAUTHORIZED,
		              "secret key %s: value must be "
		              "\"<cluster> <expiry unix seconds>\"",
		              key);
		goto out;
	}
	*sp = '\0';
	if (expiry < time(NULL)) {
		tunnel_count_refused(t, "expired_token");
		fed_error_set(err, FED_EUNAUTHORIZED, "bootstrap token for cluster '%s' expired",
		              val);
		goto out;
	}
	*cluster = strdup(val);
	rc = *cluster ? 0 : FED_ENOMEM;
out:
	free(val);
	return rc;
}

/* The expiry recorded in the Secret for cluster, 0 if none. */
long long tunnel_stored_expiry(struct tunnel *t, const char *cluster)
{
	char key[300], *v, *end;
	long long e = 0;

	snprintf(key, sizeof(key), "credential-expiry-%s", cluster);
	v = tunnel_secret_value(t, key, NULL);
	if (v) {
		e = strtoll(v, &end, 10);
		if (*end || e < 0)
			e = 0;
	}
	free(v);
	return e;
}

/* A credential expiring at expiry was issued to cluster's agent: remember
 * the newest, in memory and in the Secret (a restart keeps it). */
void tunnel_note_expiry(struct tunnel *t, const char *cluster, long long expiry)
{
	struct controller *ctl = t->ctl;
	struct tcluster *tc = tunnel_cluster_get(t, cluster, true);
	struct fed_kube_ref ref = {&tunnel_r_secret, ctl->o.config_namespace, ctl->o.tunnel_secret,
	                           NULL};
	struct fed_error err = FED_ERROR_INIT;
	char val[32], *v64, patch[400];

	if (tc && tc->cred_expiry < expiry)
		tc->cred_expiry = expiry;
	snprintf(val, sizeof(val), "%lld", expiry);
	v64 = b64(val, strlen(val));
	if (!v64)
		return;
	snprintf(patch, sizeof(patch), "{\"data\":{\"credential-expiry-%s\":\"%s\"}}", cluster,
	         v64);
	free(v64);
	if (fed_kube_patch(ctl->host, &ref, FED_PATCH_MERGE, patch, NULL, patch_done, t, NULL,
	                   &err) < 0)
		FED_LOG_WARN(cluster, "tunnel: recording the credential expiry: %s", err.msg);
}

int tunnel_on_auth(struct fed_tunnel_conn *c, int kind, const uint8_t *secret, size_t len,
                   char **cluster, char **credential, void *ud, struct fed_error *err)
{
	struct tunnel *t = ud;
	struct tcluster *tc;
	long long expiry;
	const char *reason = NULL;
	char hex[65] = "";
	int rc;

	*cluster = *credential = NULL;
	if (kind == FED_TUNNEL_AUTH_BOOTSTRAP) {
		rc = check_bootstrap(t, secret, len, cluster, hex, err);
	} else if (kind == FED_TUNNEL_AUTH_CREDENTIAL) {
		rc = check_credential(t, (const char *)secret, len, cluster, &reason, err);
		if (rc < 0)
			tunnel_count_refused(t, reason);
	} else {
		tunnel_count_refused(t, "bad_auth_kind");
		return fed_error_set(err, FED_EUNAUTHORIZED, "unknown AUTH kind %d", kind);
	}
	if (rc < 0)
		goto out;
	if (!agent_cluster(t, *cluster)) {
		tunnel_count_refused(t, "not_agent_cluster");
		rc =
		    fed_error_set(err, FED_EUNAUTHORIZED,
		                  "cluster '%s' is not in the Federation config with mode: agent%s",
		                  *cluster, hex[0] ? " (the bootstrap token stays valid)" : "");
		goto out;
	}
	/* before a token is spent: a refused agent keeps it for later */
	tc = tunnel_cluster_get(t, *cluster, false);
	if (tc && tc->nconns >= t->ctl->o.tunnel_max_agents) {
		tunnel_count_refused(t, "too_many_agents");
		rc = fed_error_set(err, FED_EUNAVAILABLE,
		                   "cluster '%s' already has %d agents connected "
		                   "(--tunnel-max-agents-per-cluster)%s",
		                   *cluster, tc->nconns,
		                   hex[0] ? " (the bootstrap token stays valid)" : "");
		goto out;
	}
	if (kind == FED_TUNNEL_AUTH_BOOTSTRAP) {
		/* AUTH_OK once the token's removal is durable */
		rc = consume_bootstrap(t, c, hex, *cluster, err);
		goto out;
	}
	/* a fresh credential at every connection, and again while it lives */
	*credential =
	    tunnel_issue_credential(t, *cluster, tunnel_generation(t, *cluster, NULL), &expiry);
	if (*credential)
		tunnel_note_expiry(t, *cluster, expiry);
	return 0;
out:
	OPENSSL_cleanse(hex, sizeof(hex));
	free(*cluster);
	*cluster = NULL;
	return rc;
}
