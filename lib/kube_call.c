/* Completion of a call (split from kube_client.c, which keeps the queues
 * and curl's multi handle): Kubernetes and curl errors mapped to fed_error
 * codes with messages that name the cluster, the retry decision with
 * backoff that honours Retry-After, and the callback. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "fed/backoff.h"
#include "kube_internal.h"

static const char *status_message(const cJSON *json)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "message");

	return cJSON_IsString(m) ? m->valuestring : NULL;
}

static void map_http_error(struct fed_kube_call *call, long status, const cJSON *json,
                           struct fed_error *err)
{
	const char *msg = status_message(json);
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(json, "reason");
	const char *r = cJSON_IsString(reason) ? reason->valuestring : "";
	const char *cl = call->client->name;
	int code;

	if (status == 404)
		code = FED_ENOTFOUND;
	else if (status == 409)
		code = strcmp(r, "AlreadyExists") == 0 ? FED_EEXISTS : FED_ECONFLICT;
	else if (status == 410)
		code = FED_EGONE;
	else if (status == 401)
		code = FED_EUNAUTHORIZED;
	else if (status == 403)
		code = FED_EFORBIDDEN;
	else if (status == 400 || status == 422)
		code = FED_EINVALID;
	else if (status == 429 || status >= 500)
		code = FED_EUNAVAILABLE;
	else
		code = FED_ERR;

	if (status == 401)
		fed_error_set(
		    err, code,
		    "cluster %s: %s %s: Unauthorized: the credentials of user %s were rejected "
		    "(check its token or client certificate in %s)",
		    cl, call->method, call->url + strlen(call->client->base_url),
		    call->client->cfg.user ? call->client->cfg.user : "(none)",
		    call->client->cfg.source ? call->client->cfg.source : "the kubeconfig");
	else
		fed_error_set(err, code, "cluster %s: %s %s: %ld %s%s%s", cl, call->method,
		              call->url + strlen(call->client->base_url), status,
		              *r ? r : fed_err_name(code), msg ? ": " : "", msg ? msg : "");
	err->http_status = (int)status;
	snprintf(err->reason, sizeof(err->reason), "%s", *r ? r : fed_err_name(code));
}

static void map_curl_error(struct fed_kube_call *call, CURLcode rc, struct fed_error *err)
{
	struct fed_kube_client *c = call->client;
	const char *detail = call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		fed_error_set(err, FED_ETLS,
		              "cluster %s: cannot verify the server certificate of %s: %s (check "
		              "certificate-authority-data and tls-server-name of cluster %s in %s)",
		              c->name, c->cfg.server, detail,
		              c->cfg.cluster ? c->cfg.cluster : c->name,
		              c->cfg.source ? c->cfg.source : "the kubeconfig");
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
		fed_error_set(err, FED_ETLS, "cluster %s: TLS handshake with %s failed: %s",
		              c->name, c->cfg.server, detail);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		fed_error_set(err, FED_ETIMEOUT, "cluster %s: %s %s: no answer from %s in time: %s",
		              c->name, call->method, call->url + strlen(c->base_url), c->cfg.server,
		              detail);
		break;
	default:
		fed_error_set(err, FED_EUNAVAILABLE, "cluster %s: %s %s: cannot reach %s: %s",
		              c->name, call->method, call->url + strlen(c->base_url), c->cfg.server,
		              detail);
		break;
	}
}

static bool is_read(const struct fed_kube_call *call)
{
	return strcmp(call->method, "GET") == 0;
}

/* 0.1 s doubling up to 5 s, between half and the full delay */
static double backoff(int attempt)
{
	return fed_jitter(fed_backoff_nth(0.1, 5.0, attempt), 0.5, 1.0);
}

void fed_kube_call_finish(struct fed_kube_call *call, struct fed_kube_response *resp)
{
	struct fed_kube_client *c = call->client;

	fed_kube_call_unlink(call);
	if (!call->canceled && !fed_kube_client_closing(c) && call->cb) {
		call->canceled = true; /* a cancel from inside the callback is a no-op */
		resp->client = fed_kube_client_name(c);
		call->cb(resp, call->ud);
	}
	cJSON_Delete(resp->json);
	fed_kube_call_free(call);
}

static void complete(struct fed_kube_call *call, CURLcode rc)
{
	struct fed_kube_client *c = call->client;
	struct fed_kube_response resp;
	long status = 0, httpver = 0;
	bool retry = false;

	memset(&resp, 0, sizeof(resp));
	if (call->canceled) {
		if (!call->reaping)
			fed_kube_call_free(call);
		return;
	}
	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(call->easy, CURLINFO_HTTP_VERSION, &httpver);
	if (httpver == CURL_HTTP_VERSION_2_0)
		c->stats.http2++;
	fed_kube_call_unlink(call);

	if (call->too_large) {
		size_t cap = fed_kube_call_max_body(call);
		const char *flag =
		    call->probe ? c->limits.max_probe_flag : c->limits.max_response_flag;
		/* not retried: the next answer would be as large */
		fed_error_set(
		    &resp.err, FED_ERR,
		    "cluster %s: %s %s: response body larger than %zu bytes%s%s%s: aborted",
		    c->name, call->method, call->url + strlen(c->base_url), cap, flag ? " (" : "",
		    flag ? flag : "", flag ? ")" : "");
		snprintf(resp.err.reason, sizeof(resp.err.reason), "ResponseTooLarge");
		c->stats.too_large++;
		if (c->limits.on_too_large)
			c->limits.on_too_large(c->name, c->limits.ud);
	} else if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && call->on_data && status < 300)) {
		map_curl_error(call, rc, &resp.err);
		/* connection-level failures: safe to repeat reads only */
		retry = !call->streaming && is_read(call) && resp.err.code != FED_ETLS;
	} else if (status < 200 || status >= 300) {
		resp.json = cJSON_ParseWithLength(fed_buf_str(&call->resp), call->resp.len);
		map_http_error(call, status, resp.json, &resp.err);
		if (status == 429 ||
		    (status >= 500 && status != 501 && (is_read(call) || call->retry_after > 0)))
			retry = !call->streaming;
		if (status == 401 && c->cfg.exec && !call->auth_retried) {
			/* the plugin's credential may have been revoked early */
			call->auth_retried = true;
			/* only the credential it was sent with: many calls refused
			 * at once make one plugin run, not one each */
			if (call->exec_gen == c->exec_gen && c->have_exec_cred) {
				fed_exec_credential_release(&c->exec_cred);
				c->have_exec_cred = false;
			}
			retry = true;
			call->attempt--;
		}
	} else {
		if (strcmp(call->method, "GET") != 0)
			c->stats.writes++;
		if (!call->on_data && call->resp.len)
			resp.json = cJSON_ParseWithLength(fed_buf_str(&call->resp), call->resp.len);
	}

	if (retry && call->attempt < call->max_retries) {
		double delay =
		    call->retry_after > 0 ? fmin(call->retry_after, 30.0) : backoff(call->attempt);
		call->attempt++;
		c->stats.retries++;
		FED_LOG_DEBUG(c->name, "retrying %s %s in %.2fs: %s", call->method,
		              call->url + strlen(c->base_url), delay, resp.err.msg);
		cJSON_Delete(resp.json);
		fed_kube_call_delay(call, delay);
		return;
	}
	resp.status = (int)status;
	resp.body = fed_buf_str(&call->resp);
	resp.body_len = call->resp.len;
	resp.retry_after = call->retry_after;
	fed_kube_call_finish(call, &resp);
}

void fed_kube_check_multi_info(struct fed_kube_client *c)
{
	CURLMsg *msg;
	int left;

	while (!fed_kube_client_closing(c) && (msg = curl_multi_info_read(c->multi, &left))) {
		struct fed_kube_call *call = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
		if (call)
			complete(call, msg->data.result);
	}
	fed_kube_pump(c);
}
