/* The tunnel's own material in its Secret: a missing certificate or
 * credential key is generated here and applied, and a failed write is
 * retried with backoff. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "fed/base64.h"
#include "fed/log.h"
#include "tunnel_internal.h"

/* The generated material could not be written: ask again later (the
 * timer calls tunnel_secret_changed, which sees what is still missing). */
static void material_failed(struct tunnel *t, const char *why)
{
	double d;

	t->requested = false;
	/* jitter: between 3/4 and the full delay, so replicas do not align */
	d = fed_jitter(fed_backoff_next(&t->material_backoff), 0.75, 1.0);
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
	fed_backoff_reset(&t->material_backoff);
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
		crt64 = fed_base64_encode_str(crt, strlen(crt));
		key64 = fed_base64_encode_str(key, strlen(key));
		cJSON_AddStringToObject(data, "tls.crt", crt64);
		cJSON_AddStringToObject(data, "tls.key", key64);
	}
	if (!have_key) {
		RAND_bytes(hk, sizeof(hk));
		hk64 = fed_base64_encode_str(hk, sizeof(hk));
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
