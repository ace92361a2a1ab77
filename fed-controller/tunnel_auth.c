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

#include "fed/federation.h"
#include "fed/log.h"
#include "tunnel_internal.h"

const struct fed_kube_resource tunnel_r_secret = {"", "v1", "secrets", true};

/* ---- Secret access ---- */

const cJSON *tunnel_secret_obj(struct tunnel *t)
{
	return fed_informer_get(t->secret, t->ctl->o.config_namespace, t->ctl->o.tunnel_secret);
}

/* The decoded value of data[key], malloc'd (NUL-terminated), or NULL. */
char *tunnel_secret_value(struct tunnel *t, const char *key, size_t *len)
{
	const char *b64 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItem(tunnel_secret_obj(t), "data"), key));
	size_t n = b64 ? strlen(b64) : 0;
	unsigned char *out;
	int m;

	if (!b64 || n % 4)
		return NULL;
	out = malloc(n / 4 * 3 + 4);
	if (!out)
		return NULL;
	m = n ? EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n) : 0;
	if (m < 0) {
		free(out);
		return NULL;
	}
	if (n && b64[n - 1] == '=')
		m--;
	if (n > 1 && b64[n - 2] == '=')
		m--;
	out[m] = '\0';
	if (len)
		*len = (size_t)m;
	return (char *)out;
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

#define MATERIAL_BACKOFF_MIN 1.0  /* seconds before the first retry */
#define MATERIAL_BACKOFF_MAX 60.0 /* doubling up to this */

/* The generated material could not be written: ask again later (the
 * timer calls tunnel_secret_changed, which sees what is still missing). */
static void material_failed(struct tunnel *t, const char *why)
{
	double d;

	t->requested = false;
	t->material_backoff = t->material_backoff ? t->material_backoff * 2 : MATERIAL_BACKOFF_MIN;
	if (t->material_backoff > MATERIAL_BACKOFF_MAX)
		t->material_backoff = MATERIAL_BACKOFF_MAX;
	/* jitter: between 3/4 and the full delay, so replicas do not align */
	d = t->material_backoff * (0.75 + 0.25 * ((double)rand() / RAND_MAX));
	FED_LOG_WARN(NULL,
	             "tunnel: writing generated material to secret %s/%s: %s; retrying in "
	             "%.1f s",
	             t->ctl->o.config_namespace, t->ctl->o.tunnel_secret, why, d);
	ev_timer_stop(t->ctl->loop, &t->material_retry);
	ev_timer_set(&t->material_retry, d, 0.);
	ev_timer_start(t->ctl->loop, &t->material_retry);
}

void tunnel_material_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	tunnel_secret_changed(w->data);
}

static void material_done(struct fed_kube_response *resp, void *ud)
{
	struct tunnel *t = ud;

	t->material_call = NULL;
	if (resp->err.code) {
		material_failed(t, resp->err.msg);
		return;
	}
	/* the informer brings the material back; the next failure starts over */
	t->material_backoff = 0;
}

static char *b64(const void *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* Missing certificate or key: generate them and apply them to the Secret
 * (creating it); the informer then brings them back and we start. A
 * failure retries with backoff. */
void tunnel_request_material(struct tunnel *t)
{
	struct controller *ctl = t->ctl;
	struct fed_kube_ref ref = {&tunnel_r_secret, ctl->o.config_namespace, ctl->o.tunnel_secret,
	                           NULL};
	struct fed_kube_write_opts wo = {FED_MANAGER "-tunnel", false, false};
	struct fed_error err = FED_ERROR_INIT;
	char *crt = NULL, *key = NULL, *crt64 = NULL, *key64 = NULL, *hk64 = NULL;
	unsigned char hk[32];
	cJSON *obj = NULL, *data;
	char *body = NULL, *have_crt = tunnel_secret_value(t, "tls.crt", NULL);
	char *have_key = tunnel_secret_value(t, "credential-key", NULL);

	t->requested = true;
	obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "apiVersion", "v1");
	cJSON_AddStringToObject(obj, "kind", "Secret");
	data = cJSON_AddObjectToObject(cJSON_AddObjectToObject(obj, "metadata"), "labels");
	cJSON_AddStringToObject(data, FED_MANAGED_BY_LABEL, FED_MANAGER);
	cJSON_AddStringToObject(cJSON_GetObjectItem(obj, "metadata"), "name", ctl->o.tunnel_secret);
	cJSON_AddStringToObject(cJSON_GetObjectItem(obj, "metadata"), "namespace",
	                        ctl->o.config_namespace);
	data = cJSON_AddObjectToObject(obj, "data");
	if (!have_crt) {
		if (fed_tunnel_tls_selfsigned("fed-tunnel", ctl->o.tunnel_sans, 3650, &crt, &key,
		                              &err) < 0) {
			material_failed(t, err.msg);
			goto out;
		}
		crt64 = b64(crt, strlen(crt));
		key64 = b64(key, strlen(key));
		cJSON_AddStringToObject(data, "tls.crt", crt64);
		cJSON_AddStringToObject(data, "tls.key", key64);
	}
	if (!have_key) {
		RAND_bytes(hk, sizeof(hk));
		hk64 = b64(hk, sizeof(hk));
		OPENSSL_cleanse(hk, sizeof(hk));
		cJSON_AddStringToObject(data, "credential-key", hk64);
	}
	body = cJSON_PrintUnformatted(obj);
	FED_LOG_INFO(NULL, "tunnel: writing generated%s%s to secret %s/%s",
	             have_crt ? "" : " certificate", have_key ? "" : " credential key",
	             ctl->o.config_namespace, ctl->o.tunnel_secret);
	if (!body)
		material_failed(t, "out of memory");
	else if (fed_kube_patch(ctl->host, &ref, FED_PATCH_APPLY, body, &wo, material_done, t,
	                        &t->material_call, &err) < 0)
		material_failed(t, err.msg);
out:
	if (body)
		OPENSSL_cleanse(body, strlen(body));
	free(body);
	cJSON_Delete(obj);
	tunnel_wipe_free(crt, crt ? strlen(crt) : 0);
	tunnel_wipe_free(key, key ? strlen(key) : 0);
	tunnel_wipe_free(crt64, crt64 ? strlen(crt64) : 0);
	tunnel_wipe_free(key64, key64 ? strlen(key64) : 0);
	tunnel_wipe_free(hk64, hk64 ? strlen(hk64) : 0);
	free(have_crt);
	tunnel_wipe_free(have_key, have_key ? strlen(have_key) : 0);
}

/* ---- credentials ---- */

static void hmac_hex(struct tunnel *t, const char *msg, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	HMAC(EVP_sha256(), t->key, (int)t->keylen, (const unsigned char *)msg, strlen(msg), md, &n);
	for (unsigned int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	OPENSSL_cleanse(md, sizeof(md));
}

char *tunnel_issue_credential(struct tunnel *t, const char *cluster, long long *expiry)
{
	char body[400], mac[65], *cred;
	long exp = (long)time(NULL) + (long)t->ctl->o.tunnel_cred_lifetime;

	*expiry = exp;
	snprintf(body, sizeof(body), CRED_PREFIX ".%s.%ld", cluster, exp);
	hmac_hex(t, body, mac);
	cred = malloc(strlen(body) + 66);
	if (cred)
		sprintf(cred, "%s.%s", body, mac);
	OPENSSL_cleanse(mac, sizeof(mac));
	return cred;
}

/* The cluster named by a credential we signed, or an error. */
static int check_credential(struct tunnel *t, const char *cred, size_t len, char **cluster,
                            bool *expired, struct fed_error *err)
{
	char buf[400], mac[65];
	const char *dot, *name, *exp;
	char *end;
	long expiry;

	if (len >= sizeof(buf) || len < 70)
		return fed_error_set(err, FED_EUNAUTHORIZED, "malformed cluster credential");
	memcpy(buf, cred, len);
	buf[len] = '\0';
	dot = strrchr(buf, '.');
	if (!dot || strlen(dot + 1) != 64 || strncmp(buf, CRED_PREFIX ".", 6))
		return fed_error_set(err, FED_EUNAUTHORIZED, "malformed cluster credential");
	buf[dot - buf] = '\0';
	hmac_hex(t, buf, mac);
	if (CRYPTO_memcmp(mac, dot + 1, 64)) {
		OPENSSL_cleanse(buf, sizeof(buf));
		return fed_error_set(err, FED_EUNAUTHORIZED,
		                     "cluster credential not signed by this federation");
	}
	name = buf + 6;
	exp = strrchr(name, '.');
	expiry = exp ? strtol(exp + 1, &end, 10) : 0;
	*expired = exp && !*end && expiry < time(NULL);
	if (!exp || *end || expiry < time(NULL))
		return fed_error_set(err, FED_EUNAUTHORIZED,
		                     "cluster credential expired: join the cluster again "
		                     "(fedctl join --mode agent) for a new bootstrap token");
	*cluster = strndup(name, (size_t)(exp - name));
	return *cluster ? 0 : FED_ENOMEM;
}

/* Is name a cluster of the Federation config in agent mode? */
static bool agent_cluster(struct tunnel *t, const char *name)
{
	return tunnel_config_mode_agent(t->ctl, name);
}

/* Single use: remembered at once, and removed from the Secret. Called only
 * once every other check passed, so that a refused attempt (e.g. an agent
 * that dialled before the Federation config was read) does not burn it. */
static void consume_bootstrap(struct tunnel *t, const char *hex)
{
	struct controller *ctl = t->ctl;
	struct fed_kube_ref ref = {&tunnel_r_secret, ctl->o.config_namespace, ctl->o.tunnel_secret,
	                           NULL};
	struct fed_error err = FED_ERROR_INIT;
	char patch[200];

	fed_map_put(&t->used, hex, (void *)1, NULL);
	snprintf(patch, sizeof(patch), "{\"data\":{\"bootstrap-%s\":null}}", hex);
	if (fed_kube_patch(ctl->host, &ref, FED_PATCH_MERGE, patch, NULL, patch_done, t, NULL,
	                   &err) < 0)
		FED_LOG_WARN(NULL, "tunnel: removing a used token: %s", err.msg);
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
	if (fed_map_get(&t->used, hex)) {
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
	bool expired = false;
	char hex[65] = "";
	int rc;

	*cluster = *credential = NULL;
	if (kind == FED_TUNNEL_AUTH_BOOTSTRAP) {
		rc = check_bootstrap(t, secret, len, cluster, hex, err);
	} else if (kind == FED_TUNNEL_AUTH_CREDENTIAL) {
		rc = check_credential(t, (const char *)secret, len, cluster, &expired, err);
		if (rc < 0)
			tunnel_count_refused(t, expired ? "expired_credential" : "bad_credential");
	} else {
		tunnel_count_refused(t, "bad_auth_kind");
		return fed_error_set(err, FED_EUNAUTHORIZED, "unknown AUTH kind %d", kind);
	}
	if (rc < 0)
		goto fail;
	if (!agent_cluster(t, *cluster)) {
		tunnel_count_refused(t, "not_agent_cluster");
		rc =
		    fed_error_set(err, FED_EUNAUTHORIZED,
		                  "cluster '%s' is not in the Federation config with mode: agent%s",
		                  *cluster, hex[0] ? " (the bootstrap token stays valid)" : "");
		goto fail;
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
		goto fail;
	}
	if (kind == FED_TUNNEL_AUTH_BOOTSTRAP)
		consume_bootstrap(t, hex);
	/* a fresh credential at every connection, and again while it lives */
	*credential = tunnel_issue_credential(t, *cluster, &expiry);
	if (*credential)
		tunnel_note_expiry(t, *cluster, expiry);
	return 0;
fail:
	free(*cluster);
	*cluster = NULL;
	return rc;
}
