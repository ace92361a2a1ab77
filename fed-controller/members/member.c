/* One member cluster: its client (built from the Secret's kubeconfig with
 * the address chosen by clientCIDR) and its health probe; what happens to
 * it is published (hooks.h). Its KubeFedCluster and facts are in
 * member_status.c. */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "fed/log.h"
#include "member_token.h"
#include "members_internal.h"

#define FACTS_EVERY 6 /* probes between refreshes of version and nodes */

const struct fed_kube_resource kfc_resource = {"core.kubefed.io", "v1beta1", "kubefedclusters",
                                               true};

const char *member_mode(const struct member *m)
{
	return m->mode;
}

struct fed_kube_client *member_client(const struct member *m)
{
	return !m->err_reason && m->health.state == FED_HEALTH_READY ? m->client : NULL;
}

bool member_connecting(const struct member *m)
{
	return !m->err_reason && m->client && m->health.state == FED_HEALTH_CONNECTING;
}

const cJSON *member_labels(const struct controller *ctl, const char *name)
{
	const cJSON *obj = ctl->members->clusters ? fed_informer_get(ctl->members->clusters,
	                                                             ctl->o.fed_namespace, name)
	                                          : NULL;

	return obj ? cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "labels") : NULL;
}

void member_unready(const struct member *m, const char **reason, const char **message)
{
	if (m->err_reason) {
		*reason = m->err_reason;
		*message = m->err_message;
		return;
	}
	*reason = m->health.reason[0] ? m->health.reason : NULL;
	*message = m->health.message[0] ? m->health.message : NULL;
}

const char *member_state(const struct member *m)
{
	/* as the KubeFedCluster shows it: config problems and expired
	 * credentials are Offline there */
	if (m->err_reason)
		return "offline";
	switch (m->health.state) {
	case FED_HEALTH_READY:
		return "ready";
	case FED_HEALTH_OFFLINE:
	case FED_HEALTH_EXPIRED:
		return "offline";
	default:
		return "notready";
	}
}

static void digest(const char *a, const char *b, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	out[0] = '\0';
	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, a ? a : "", a ? strlen(a) : 0);
	EVP_DigestUpdate(ctx, "\n", 1);
	EVP_DigestUpdate(ctx, b ? b : "", b ? strlen(b) : 0);
	EVP_DigestFinal_ex(ctx, md, &n);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- probing ----------------------------------------------------------- */

/* Tell the features (hooks.h) what happened to this member. */
static void publish(struct member *m, enum hooks_event ev)
{
	struct hooks_msg msg = {ev, m->name, NULL, NULL, NULL};

	if (ev == HOOKS_MEMBER_READY)
		msg.client = member_client(m);
	else if (ev == HOOKS_MEMBER_CLIENT_GONE)
		msg.client = m->client;
	hooks_publish(m->ctl, &msg);
}

static void probe_start(struct member *m);

static void probe_done(struct fed_kube_response *resp, void *ud)
{
	struct member *m = ud;
	enum fed_probe_result r;
	char msg[FED_ERROR_MSG_MAX + 64];
	bool bad_200, changed, was_ready = m->health.state == FED_HEALTH_READY,
	                       was_connecting = m->health.state == FED_HEALTH_CONNECTING;

	m->probe = NULL;
	controller_observe_probe(m->ctl, ev_time() - m->probe_sent);
	if (resp->status == 404 && !m->use_healthz) {
		m->use_healthz = true; /* older servers: fall back to /healthz */
		probe_start(m);
		return;
	}
	/* a 200 that failed all the same (an answer past
	 * --max-probe-response-bytes) is no "ok", whatever it starts with */
	bad_200 = resp->status == 200 && resp->err.code;
	r = bad_200 ? FED_PROBE_NOT_READY
	            : fed_health_classify(resp->status, &resp->err, resp->body);
	switch (r) {
	case FED_PROBE_OK:
		snprintf(msg, sizeof(msg), "%s responded with ok",
		         m->use_healthz ? "/healthz" : "/readyz");
		break;
	case FED_PROBE_NOT_READY:
		if (bad_200) {
			snprintf(msg, sizeof(msg), "%s", resp->err.msg);
			break;
		}
		snprintf(msg, sizeof(msg), "%s responded with %d: %.200s",
		         m->use_healthz ? "/healthz" : "/readyz", resp->status,
		         resp->body ? resp->body : "");
		break;
	default:
		snprintf(msg, sizeof(msg), "%s", resp->err.msg);
		if (r == FED_PROBE_UNAUTHORIZED)
			member_token_unauthorized_hint(m->token, m->name, msg, sizeof(msg));
		break;
	}
	if (r != FED_PROBE_OK)
		FED_LOG_DEBUG(m->name, "probe failed: %s", msg);
	changed = fed_health_observe(&m->health, r, msg, time(NULL));
	if (changed) {
		FED_LOG_INFO(m->name, "%s (%s): %s", fed_health_connectivity(m->health.state),
		             m->health.reason, m->health.message);
		member_event(m, m->health.state != FED_HEALTH_READY, m->health.reason,
		             m->health.message);
	}
	if (m->health.state == FED_HEALTH_READY && (!was_ready || ++m->probes % FACTS_EVERY == 0))
		member_refresh_facts(m);
	if (changed) {
		member_write_status(m);
		members_update_metrics(m->ctl);
	}
	if (was_ready != (m->health.state == FED_HEALTH_READY))
		publish(m, m->health.state == FED_HEALTH_READY ? HOOKS_MEMBER_READY
		                                               : HOOKS_MEMBER_NOT_READY);
	else if (was_connecting && m->health.state != FED_HEALTH_CONNECTING)
		publish(m, HOOKS_MEMBER_SETTLED);
	else if (was_ready && r == FED_PROBE_OK && m->probe_failed)
		/* a blip shorter than the failure threshold: watches that
		 * failed meanwhile wait out their backoff (up to 30 s) unless
		 * told the member is back */
		publish(m, HOOKS_MEMBER_ANSWERS);
	m->probe_failed = r != FED_PROBE_OK;
}

static void probe_start(struct member *m)
{
	struct fed_kube_request req;
	struct fed_error err = FED_ERROR_INIT;

	if (m->probe) {
		struct fed_kube_response stalled;
		double age = ev_time() - m->probe_sent;

		if (age <= 2 * m->ctl->o.probe_timeout + 1)
			return;
		/* its own timeout should have ended it long ago: a transfer stuck
		 * in its connect to an agent's socket was seen not to (CI of
		 * c78efc6, test_agent_keepalive). Counted as a failed probe, so
		 * health checks go on and a recovery is seen. */
		FED_LOG_WARN(m->name, "probe in flight for %.1f s (timeout %.1f s): cancelled", age,
		             m->ctl->o.probe_timeout);
		fed_kube_call_cancel(m->probe);
		memset(&stalled, 0, sizeof(stalled));
		fed_error_set(&stalled.err, FED_ETIMEOUT,
		              "cluster %s: GET /readyz: no answer in time (the call stalled)",
		              m->name);
		probe_done(&stalled, m); /* starts the next one only on a 404 */
		if (m->probe)
			return;
	}
	if (!m->client)
		return;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = m->use_healthz ? "/healthz" : "/readyz";
	req.timeout_ms = (int)(m->ctl->o.probe_timeout * 1000);
	req.max_retries = 0;
	req.exempt = true;
	req.probe = true;
	m->probe_sent = ev_time();
	if (fed_kube_request(m->client, &req, probe_done, m, &m->probe, &err))
		FED_LOG_ERR(m->name, "probe: %s", err.msg);
}

static void probe_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	probe_start(w->data);
}

/* ---- client lifecycle -------------------------------------------------- */

static void drop_client(struct member *m)
{
	if (m->client) /* its watches use the client: stop them first */
		publish(m, HOOKS_MEMBER_NOT_READY);
	ev_timer_stop(m->ctl->loop, &m->probe_timer);
	member_token_stop(m->token);
	fed_kube_call_cancel(m->probe);
	fed_kube_call_cancel(m->version_call);
	fed_kube_call_cancel(m->ssar_call);
	fed_kube_pager_cancel(m->nodes_pager);
	m->probe = m->version_call = m->ssar_call = NULL;
	m->impersonate = -1; /* another credential: ask again */
	m->nodes_pager = NULL;
	if (m->client)
		publish(m, HOOKS_MEMBER_CLIENT_GONE);
	fed_kube_client_free(m->client);
	m->client = NULL;
}

/* The kubeconfig's CA and credentials with the chosen address. For an IP
 * address the kubeconfig's server name still decides certificate
 * verification (tls-server-name), so TLS stays fully verified. */
static int build_client(struct member *m, const char *kubeconfig, struct fed_error *err)
{
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config cfg;
	/* the Secret's kubeconfig was written by whoever can write the Secret:
	 * it runs nothing and reads nothing here unless the operator said so */
	const struct fed_kubeconfig_policy pol = {
	    .deny_exec = !m->ctl->o.allow_kubeconfig_exec,
	    .deny_files = !m->ctl->o.allow_kubeconfig_files,
	    .exec_flag = "--allow-kubeconfig-exec",
	    .files_flag = "--allow-kubeconfig-files",
	};
	char source[300];
	CURLU *u = NULL;
	char *host = NULL;
	int ret;

	fed_rest_config_init(&cfg);
	snprintf(source, sizeof(source), "secret %s/%s key kubeconfig-%s",
	         m->ctl->o.config_namespace, m->ctl->o.secret_name, m->name);
	ret = fed_kubeconfig_parse(&kc, kubeconfig, strlen(kubeconfig), source, err);
	if (ret)
		goto out;
	ret = fed_kubeconfig_rest_config_policy(kc, NULL, &pol, &cfg, err);
	if (ret == FED_EINVAL && !fed_kubeconfig_current_context(kc)) {
		size_t n = 0;
		const char *const *ctxs = fed_kubeconfig_contexts(kc, &n);
		if (n == 1) { /* no current-context but only one choice */
			fed_error_clear(err);
			ret = fed_kubeconfig_rest_config_policy(kc, ctxs[0], &pol, &cfg, err);
		}
	}
	if (ret)
		goto out;
	if (cfg.insecure_skip_tls_verify) {
		/* the host holds credentials for every member: never send them to a
		 * server it cannot verify */
		ret = fed_error_set(
		    err, FED_EINVAL,
		    "%s: insecure-skip-tls-verify is not allowed for members: give the "
		    "member's CA as certificate-authority-data instead",
		    source);
		goto out;
	}
	if (!cfg.tls_server_name && (u = curl_url()) &&
	    !curl_url_set(u, CURLUPART_URL, cfg.server, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0) && host && !strchr(host, ':') &&
	    strspn(host, "0123456789.") != strlen(host))
		cfg.tls_server_name = strdup(host); /* a DNS name: keep verifying it */
	free(cfg.server);
	cfg.server = strdup(m->server_url);
	if (m->mode && !strcmp(m->mode, "agent")) {
		/* through the agent's Unix socket, which only we can reach */
		const char *sock = hooks_agent_socket(m->ctl, m->name);

		if (!sock) {
			ret = fed_error_set(err, FED_EUNAVAILABLE,
			                    "no tunnel socket for the cluster's agent yet");
			goto out;
		}
		if (!(cfg.unix_socket = strdup(sock))) {
			ret = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
	}
	cfg.qps = m->ctl->o.member_qps;
	cfg.burst = (int)(2 * m->ctl->o.member_qps);
	ret = fed_kube_client_new(&m->client, m->ctl->loop, &cfg, m->name, err);
	if (!ret)
		controller_kube_limits(m->ctl, m->client);
out:
	curl_free(host);
	curl_url_cleanup(u);
	fed_rest_config_release(&cfg);
	fed_kubeconfig_free(kc);
	return ret;
}

int member_new(struct member **out, struct controller *ctl, const char *name)
{
	struct member *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m || !(m->name = strdup(name))) {
		free(m);
		return FED_ENOMEM;
	}
	m->ctl = ctl;
	m->nodes = m->cores = -1;
	m->impersonate = -1;
	fed_status_writer_init(&m->status, member_status_write, m);
	fed_health_init(&m->health, ctl->o.failure_threshold, ctl->o.success_threshold);
	ev_timer_init(&m->probe_timer, probe_timer_cb, 0., ctl->o.probe_period);
	m->probe_timer.data = m;
	*out = m;
	return 0;
}

void member_apply(struct member *m, const struct member_desired *d)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_health kept;
	char dg[65];
	char *spec;
	bool renewed;

	controller_set_str(&m->mode, d->mode);
	controller_set_str(&m->matched_cidr, d->matched_cidr);
	if (d->error_reason) {
		if (!m->err_reason || strcmp(m->err_reason, d->error_reason) ||
		    strcmp(m->err_message ? m->err_message : "",
		           d->error_message ? d->error_message : "")) {
			FED_LOG_WARN(m->name, "%s: %s", d->error_reason, d->error_message);
			member_event(m, true, d->error_reason,
			             d->error_message ? d->error_message : "");
		}
		controller_set_str(&m->err_reason, d->error_reason);
		controller_set_str(&m->err_message, d->error_message);
		controller_set_str(&m->server_url, d->server_url);
		m->config_digest[0] = '\0';
		drop_client(m);
		goto out;
	}
	digest(d->kubeconfig, d->server_url, dg);
	if (m->client && !strcmp(dg, m->config_digest))
		goto out; /* nothing that matters changed */
	/* a renewed token: the member stays Ready, the next probe checks it */
	renewed = m->token && m->health.state == FED_HEALTH_READY && m->server_url &&
	          d->server_url && !strcmp(m->server_url, d->server_url);
	kept = m->health;
	drop_client(m);
	controller_set_str(&m->server_url, d->server_url);
	controller_set_str(&m->err_reason, NULL);
	controller_set_str(&m->err_message, NULL);
	if (build_client(m, d->kubeconfig, &err)) {
		char msg[FED_ERROR_MSG_MAX + 128];
		/* refused by policy: the message already says what to do */
		const char *reason =
		    err.code == FED_EFORBIDDEN ? "KubeconfigNotAllowed" : "InvalidKubeconfig";

		/* the usual cause: a kubeconfig pasted as plain YAML under data: */
		snprintf(msg, sizeof(msg), "%s%s", err.msg,
		         err.code == FED_EFORBIDDEN
		             ? ""
		             : " (write the kubeconfig as plain YAML under stringData:, or "
		               "base64-encoded under data:)");
		FED_LOG_WARN(m->name, "%s: %s", reason, msg);
		member_event(m, true, reason, msg);
		controller_set_str(&m->err_reason, reason);
		controller_set_str(&m->err_message, msg);
		goto out;
	}
	memcpy(m->config_digest, dg, sizeof(dg));
	member_token_track(&m->token, m->ctl, m->name, d->mode, d->kubeconfig, m->client);
	if (m->mode && !strcmp(m->mode, "agent"))
		FED_LOG_INFO(m->name, "connecting to %s through the agent's socket %s",
		             m->server_url, hooks_agent_socket(m->ctl, m->name));
	else
		FED_LOG_INFO(m->name, "connecting to %s (clientCIDR %s)", m->server_url,
		             m->matched_cidr ? m->matched_cidr : "-");
	/* a new connection starts from Connecting again */
	fed_health_init(&m->health, m->ctl->o.failure_threshold, m->ctl->o.success_threshold);
	if (renewed) {
		m->health = kept;
		publish(m, HOOKS_MEMBER_READY);
	}
	m->use_healthz = false;
	ev_timer_set(&m->probe_timer, 0., m->ctl->o.probe_period);
	ev_timer_start(m->ctl->loop, &m->probe_timer);
out:
	spec = member_render_spec(m);
	if (spec)
		member_write_spec(m, spec);
	member_write_status(m);
}

void member_free(struct member *m)
{
	if (!m)
		return;
	drop_client(m);
	member_token_free(m->token);
	fed_kube_call_cancel(m->spec_call);
	fed_kube_call_cancel(m->status_call);
	fed_status_writer_release(&m->status);
	free(m->name);
	free(m->server_url);
	free(m->matched_cidr);
	free(m->mode);
	free(m->err_reason);
	free(m->err_message);
	free(m->version);
	free(m->written_spec);
	free(m);
}

void member_status_changed(struct controller *ctl, const char *name)
{
	struct member *m = members_get(ctl, name);

	if (m)
		member_write_status(m);
}

void member_object_lost(struct member *m)
{
	char *spec;

	fed_kube_call_cancel(m->spec_call);
	fed_kube_call_cancel(m->status_call);
	m->spec_call = m->status_call = NULL;
	m->spec_ok = false;
	free(m->written_spec);
	m->written_spec = NULL;
	/* the object is new: nothing of its status stands written */
	fed_status_writer_release(&m->status);
	fed_status_writer_init(&m->status, member_status_write, m);
	spec = member_render_spec(m);
	if (spec)
		member_write_spec(m, spec);
}
