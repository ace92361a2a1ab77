/* Cluster connect's server (docs/cluster-connect.md): our serving
 * certificate from the Secret --connect-secret-name (generated once when
 * missing, for the Service --connect-service), the front proxy's CA and
 * names from kube-system/extension-apiserver-authentication, the
 * APIService's caBundle kept equal to our certificate, and the listener.
 * The leader serves: the Service selects the Pod labelled leader, like
 * fed-tunnel's, since the member credentials and the agents' tunnels live
 * there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "connect_internal.h"
#include "fed/base64.h"
#include "fed/kube_known.h"
#include "fed/listen.h"
#include "fed/log.h"
#include "fed/tunnel_conn.h"

#define REFRESH_S      30.0
#define ACCEPT_PAUSE_S 0.1
#define APISERVICE     "v1alpha1." FED_CONNECT_GROUP
#define FP_NAMESPACE   "kube-system"
#define FP_CONFIGMAP   "extension-apiserver-authentication"
#define FORBIDDEN_HINT(status)                                                                     \
	((status) == 403                                                                           \
	     ? " (the controller's rights for cluster connect are in manifests/connect/)"          \
	     : "")

static const struct fed_kube_resource r_apiservices = {"apiregistration.k8s.io", "v1",
                                                       "apiservices", false};

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* ---- the TLS context ------------------------------------------------------ */

/* Serve with our certificate; ask for the front proxy's and verify it
 * against its CA, but let the handshake finish without one: the request
 * then gets a 401 that says why, not a bare handshake failure. */
static int always_continue(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

static void rebuild_ctx(struct connect *cs)
{
	struct fed_error err = FED_ERROR_INIT;
	SSL_CTX *ctx = NULL;
	BIO *bio = NULL;
	STACK_OF(X509_NAME) *names = NULL;
	X509_STORE *store;
	int n = 0;

	if (!cs->cert_pem || !cs->have_fp)
		return;
	if (fed_tunnel_tls_server_ctx(cs->cert_pem, cs->key_pem, &ctx, &err)) {
		FED_LOG_ERR(NULL, "connect: secret %s/%s: %s", cs->ctl->o.config_namespace,
		            cs->ctl->o.connect_secret, err.msg);
		return;
	}
	store = SSL_CTX_get_cert_store(ctx);
	names = sk_X509_NAME_new_null();
	bio = BIO_new_mem_buf(cs->fp.ca_pem, -1);
	for (X509 *x; bio && names && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)); n++) {
		X509_STORE_add_cert(store, x);
		sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(x)));
		X509_free(x);
	}
	BIO_free(bio);
	if (!n) {
		FED_LOG_ERR(NULL, "connect: no certificate in %s/%s requestheader-client-ca-file",
		            FP_NAMESPACE, FP_CONFIGMAP);
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		SSL_CTX_free(ctx);
		return;
	}
	SSL_CTX_set_client_CA_list(ctx, names); /* takes names */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, always_continue);
	SSL_CTX_free(cs->sctx);
	cs->sctx = ctx;
	FED_LOG_INFO(NULL, "connect: serving with the front proxy's CA (%d certificate%s)", n,
	             n == 1 ? "" : "s");
}

/* ---- the front proxy -------------------------------------------------------- */

static void fp_done(struct fed_kube_response *resp, void *ud)
{
	struct connect *cs = ud;
	struct fed_connect_front_proxy fp;
	struct fed_error err = FED_ERROR_INIT;
	cJSON *obj;

	cs->fp_call = NULL;
	memset(&fp, 0, sizeof(fp));
	if (resp->status != 200) {
		/* said once (a controller installed without manifests/connect/
		 * is refused every REFRESH_S), then at debug level */
		FED_LOG(cs->fp_said ? FED_LOG_DEBUG : FED_LOG_WARN, NULL,
		        "connect: reading %s/%s: %s%s", FP_NAMESPACE, FP_CONFIGMAP, resp->err.msg,
		        FORBIDDEN_HINT(resp->status));
		cs->fp_said = true;
		return;
	}
	cs->fp_said = false;
	obj = cJSON_Parse(resp->body);
	if (fed_connect_front_proxy_parse(obj, &fp, &err)) {
		FED_LOG_WARN(NULL, "connect: %s/%s: %s", FP_NAMESPACE, FP_CONFIGMAP, err.msg);
		fed_connect_front_proxy_release(&fp);
		cJSON_Delete(obj);
		return;
	}
	cJSON_Delete(obj);
	if (cs->have_fp)
		fed_connect_front_proxy_release(&cs->fp);
	cs->fp = fp;
	cs->have_fp = true;
	if (!cs->fp_ca_seen || strcmp(cs->fp_ca_seen, fp.ca_pem)) {
		controller_set_str(&cs->fp_ca_seen, fp.ca_pem);
		rebuild_ctx(cs);
	}
}

/* ---- our serving material ------------------------------------------------- */

static void api_done(struct fed_kube_response *resp, void *ud);

/* The APIService's caBundle is our certificate; written when it differs. */
static void check_apiservice(struct connect *cs)
{
	struct fed_kube_ref ref = {&r_apiservices, NULL, APISERVICE, NULL};
	struct fed_error err = FED_ERROR_INIT;

	if (!cs->api_call && fed_kube_get(cs->ctl->host, &ref, api_done, cs, &cs->api_call, &err))
		FED_LOG_WARN(NULL, "connect: apiservice %s: %s", APISERVICE, err.msg);
}

static void patch_done(struct fed_kube_response *resp, void *ud)
{
	struct connect *cs = ud;

	cs->api_call = NULL;
	if (resp->err.code)
		FED_LOG_WARN(NULL, "connect: writing apiservice %s caBundle: %s", APISERVICE,
		             resp->err.msg);
	else
		FED_LOG_INFO(NULL, "connect: apiservice %s: caBundle set to our certificate",
		             APISERVICE);
}

static void api_done(struct fed_kube_response *resp, void *ud)
{
	struct connect *cs = ud;
	struct fed_kube_ref ref = {&r_apiservices, NULL, APISERVICE, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_write_opts wo = {FED_MANAGER "-connect", false, false};
	char *want = NULL, *patch = NULL;
	const char *have;
	cJSON *obj = NULL;

	cs->api_call = NULL;
	if (resp->status == 404) {
		if (!cs->api_missing_said)
			FED_LOG_WARN(
			    NULL,
			    "connect: no apiservice %s: register it (kubectl apply -f "
			    "manifests/connect/, or helm --set clusterConnect.enabled=true) "
			    "so that the host's apiserver sends cluster connect requests here",
			    APISERVICE);
		cs->api_missing_said = true;
		return;
	}
	if (resp->status != 200 || !cs->cert_pem) {
		if (resp->status != 200)
			FED_LOG(cs->api_missing_said ? FED_LOG_DEBUG : FED_LOG_WARN, NULL,
			        "connect: reading apiservice %s: %s%s", APISERVICE, resp->err.msg,
			        FORBIDDEN_HINT(resp->status));
		cs->api_missing_said = resp->status != 200;
		return;
	}
	cs->api_missing_said = false;
	obj = cJSON_Parse(resp->body);
	have =
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "caBundle"));
	want = fed_base64_encode_str(cs->cert_pem, strlen(cs->cert_pem));
	if (!want)
		xoom();
	if (!have || strcmp(have, want)) {
		size_t n = strlen(want) + 64;
		patch = xcalloc(1, n);
		snprintf(patch, n, "{\"spec\":{\"caBundle\":\"%s\"}}", want);
		if (fed_kube_patch(cs->ctl->host, &ref, FED_PATCH_MERGE, patch, &wo, patch_done, cs,
		                   &cs->api_call, &err))
			FED_LOG_WARN(NULL, "connect: apiservice %s: %s", APISERVICE, err.msg);
	}
	free(want);
	free(patch);
	cJSON_Delete(obj);
}

static char *secret_value(const cJSON *secret, const char *key)
{
	const char *v =
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(secret, "data"), key));
	char *out = NULL;
	size_t n;

	if (!v || fed_base64_decode(FED_BASE64_STD, v, strlen(v), &out, &n))
		return NULL;
	return out;
}

static void secret_done(struct fed_kube_response *resp, void *ud);

static void create_done(struct fed_kube_response *resp, void *ud)
{
	struct connect *cs = ud;

	cs->secret_call = NULL;
	cs->secret_writing = false;
	if (resp->err.code && resp->status != 409)
		FED_LOG_WARN(NULL, "connect: writing secret %s/%s: %s", cs->ctl->o.config_namespace,
		             cs->ctl->o.connect_secret, resp->err.msg);
	/* read what is there now, ours or another replica's */
	ev_feed_event(cs->ctl->loop, &cs->refresh, EV_TIMER);
}

/* A self-signed certificate for the Service's DNS name (the Service is
 * where our Pod is: the federation namespace), kept in the
 * Secret: every replica and every restart serve the same one, so the
 * APIService's caBundle stays right. */
static void create_secret(struct connect *cs)
{
	struct controller *ctl = cs->ctl;
	struct fed_kube_ref ref = {&fed_r_secrets, ctl->o.config_namespace, ctl->o.connect_secret,
	                           NULL};
	struct fed_kube_write_opts wo = {FED_MANAGER "-connect", false, false};
	struct fed_error err = FED_ERROR_INIT;
	char sans[512], *crt = NULL, *key = NULL, *crt64 = NULL, *key64 = NULL, *body = NULL;
	cJSON *obj = cJSON_CreateObject(), *md, *data;

	snprintf(sans, sizeof(sans), "DNS:%s.%s.svc,DNS:%s.%s.svc.cluster.local%s%s",
	         ctl->o.connect_service, ctl->o.fed_namespace, ctl->o.connect_service,
	         ctl->o.fed_namespace, *ctl->o.connect_sans ? "," : "", ctl->o.connect_sans);
	if (fed_tunnel_tls_selfsigned("fed-connect", sans, 3650, &crt, &key, &err)) {
		FED_LOG_ERR(NULL, "connect: %s", err.msg);
		goto out;
	}
	crt64 = fed_base64_encode_str(crt, strlen(crt));
	key64 = fed_base64_encode_str(key, strlen(key));
	if (!obj || !crt64 || !key64)
		xoom();
	cJSON_AddStringToObject(obj, "apiVersion", "v1");
	cJSON_AddStringToObject(obj, "kind", "Secret");
	cJSON_AddStringToObject(obj, "type", "kubernetes.io/tls");
	md = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(md, "name", ctl->o.connect_secret);
	cJSON_AddStringToObject(md, "namespace", ctl->o.config_namespace);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "labels"), FED_MANAGED_BY_LABEL,
	                        FED_MANAGER);
	data = cJSON_AddObjectToObject(obj, "data");
	cJSON_AddStringToObject(data, "tls.crt", crt64);
	cJSON_AddStringToObject(data, "tls.key", key64);
	FED_LOG_INFO(NULL, "connect: writing a generated serving certificate (%s) to secret %s/%s",
	             sans, ctl->o.config_namespace, ctl->o.connect_secret);
	/* server-side apply, a PATCH to the name: RBAC can name it (a POST
	 * has no name when it is authorised) */
	body = cJSON_PrintUnformatted(obj);
	if (!body)
		xoom();
	if (fed_kube_patch(ctl->host, &ref, FED_PATCH_APPLY, body, &wo, create_done, cs,
	                   &cs->secret_call, &err))
		FED_LOG_WARN(NULL, "connect: secret %s/%s: %s", ctl->o.config_namespace,
		             ctl->o.connect_secret, err.msg);
	else
		cs->secret_writing = true;
out : {
	/* the key is in the object too */
	cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(obj, "data"))
		if (it->valuestring)
			OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
}
	cJSON_Delete(obj);
	wipe_free(body);
	wipe_free(crt);
	wipe_free(key);
	wipe_free(crt64);
	wipe_free(key64);
}

static void secret_done(struct fed_kube_response *resp, void *ud)
{
	struct connect *cs = ud;
	cJSON *obj;
	char *crt, *key;

	cs->secret_call = NULL;
	if (resp->status == 404) {
		create_secret(cs);
		return;
	}
	if (resp->status != 200) {
		FED_LOG(cs->secret_said ? FED_LOG_DEBUG : FED_LOG_WARN, NULL,
		        "connect: reading secret %s/%s: %s%s", cs->ctl->o.config_namespace,
		        cs->ctl->o.connect_secret, resp->err.msg, FORBIDDEN_HINT(resp->status));
		cs->secret_said = true;
		return;
	}
	cs->secret_said = false;
	obj = cJSON_Parse(resp->body);
	crt = secret_value(obj, "tls.crt");
	key = secret_value(obj, "tls.key");
	cJSON_Delete(obj);
	if (!crt || !key) {
		FED_LOG_ERR(NULL,
		            "connect: secret %s/%s has no tls.crt and tls.key: delete it to "
		            "have a new certificate generated",
		            cs->ctl->o.config_namespace, cs->ctl->o.connect_secret);
		wipe_free(crt);
		wipe_free(key);
		return;
	}
	if (cs->cert_pem && !strcmp(cs->cert_pem, crt) && !strcmp(cs->key_pem, key)) {
		wipe_free(crt);
		wipe_free(key);
	} else {
		wipe_free(cs->cert_pem);
		wipe_free(cs->key_pem);
		cs->cert_pem = crt;
		cs->key_pem = key;
		rebuild_ctx(cs);
	}
	check_apiservice(cs);
}

static void refresh_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct connect *cs = w->data;
	struct controller *ctl = cs->ctl;
	struct fed_kube_ref sref = {&fed_r_secrets, ctl->o.config_namespace, ctl->o.connect_secret,
	                            NULL};
	struct fed_kube_ref fref = {&fed_r_configmaps, FP_NAMESPACE, FP_CONFIGMAP, NULL};
	struct fed_error err = FED_ERROR_INIT;

	if (!cs->fp_call && fed_kube_get(ctl->host, &fref, fp_done, cs, &cs->fp_call, &err))
		FED_LOG_WARN(NULL, "connect: %s", err.msg);
	fed_error_clear(&err);
	if (!cs->secret_call && !cs->secret_writing &&
	    fed_kube_get(ctl->host, &sref, secret_done, cs, &cs->secret_call, &err))
		FED_LOG_WARN(NULL, "connect: %s", err.msg);
}

/* ---- the listener ----------------------------------------------------------- */

static void accept_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct connect *cs = w->data;

	ev_io_start(loop, &cs->lio);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct connect *cs = w->data;

	for (int i = 0; i < 64; i++) {
		int fd = accept4(cs->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS) {
				/* out of descriptors: rest, or the loop spins on this */
				ev_io_stop(loop, w);
				ev_timer_set(&cs->accept_retry, ACCEPT_PAUSE_S, 0.);
				ev_timer_start(loop, &cs->accept_retry);
			}
			return;
		}
		if (!cs->sctx) { /* not ready to serve: refuse at once */
			close(fd);
			continue;
		}
		cconn_accept(cs, fd);
	}
}

int connect_start(struct controller *ctl, struct fed_error *err)
{
	struct connect *cs;
	int ret, port = 0;

	if (!strcmp(ctl->o.connect_address, "off"))
		return 0;
	cs = xcalloc(1, sizeof(*cs));
	cs->ctl = ctl;
	cs->lfd = -1;
	fed_map_init(&cs->users);
	ctl->connect = cs;
	if ((ret = fed_metrics_counter(ctl->metrics, "fed_connect_requests_total",
	                               "cluster connect requests by member and outcome (proxied, "
	                               "discovery, or the status fed answered with)",
	                               "cluster,result", &cs->m_requests, err)) ||
	    (ret = fed_metrics_counter(ctl->metrics, "fed_connect_connections_total",
	                               "connections cluster connect accepted from callers "
	                               "(side=caller) and opened to members (side=member); "
	                               "fewer than requests: connections kept alive",
	                               "side", &cs->m_conns, err)) ||
	    (ret = fed_metrics_gauge(ctl->metrics, "fed_connect_streams",
	                             "connections to members open for cluster connect callers",
	                             NULL, &cs->m_open, err)))
		return ret;
	fed_metrics_set(cs->m_open, NULL, 0);
	if ((ret =
	         fed_listen_tcp(ctl->o.connect_address, "--connect-address", &cs->lfd, &port, err)))
		return ret;
	ev_io_init(&cs->lio, accept_cb, cs->lfd, EV_READ);
	cs->lio.data = cs;
	ev_io_start(ctl->loop, &cs->lio);
	ev_init(&cs->accept_retry, accept_retry_cb);
	cs->accept_retry.data = cs;
	ev_timer_init(&cs->refresh, refresh_cb, 0., REFRESH_S);
	cs->refresh.data = cs;
	ev_timer_start(ctl->loop, &cs->refresh);
	FED_LOG_INFO(NULL, "connect: serving cluster connect (%s) on %s (port %d)", APISERVICE,
	             ctl->o.connect_address, port);
	return 0;
}

void connect_stop(struct controller *ctl)
{
	struct connect *cs = ctl->connect;

	if (!cs)
		return;
	while (cs->conns)
		cconn_free(cs->conns);
	cpool_free(cs);
	ev_io_stop(ctl->loop, &cs->lio);
	ev_timer_stop(ctl->loop, &cs->accept_retry);
	ev_timer_stop(ctl->loop, &cs->refresh);
	if (cs->lfd >= 0)
		close(cs->lfd);
	fed_kube_call_cancel(cs->secret_call);
	fed_kube_call_cancel(cs->fp_call);
	fed_kube_call_cancel(cs->api_call);
	SSL_CTX_free(cs->sctx);
	wipe_free(cs->cert_pem);
	wipe_free(cs->key_pem);
	free(cs->fp_ca_seen);
	if (cs->have_fp)
		fed_connect_front_proxy_release(&cs->fp);
	fed_map_release(&cs->users, free);
	free(cs);
	ctl->connect = NULL;
}
