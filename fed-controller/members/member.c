/* One member cluster: its client (built from the Secret's kubeconfig with
 * the address chosen by clientCIDR), its health probe, the facts shown for
 * it, and its KubeFedCluster, written only when something changed. */
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

struct member {
	struct controller *ctl;
	char *name;
	/* what the config says */
	char *server_url, *matched_cidr, *mode, *err_reason, *err_message;
	char config_digest[65]; /* of kubeconfig + address: rebuild the client when it changes */
	struct fed_kube_client *client;
	struct member_token *token; /* renewal of a bound token (member_token.c) */
	/* health */
	struct fed_health health;
	ev_timer probe_timer;
	struct fed_kube_call *probe;
	bool use_healthz;  /* /readyz is missing on very old servers */
	double probe_sent; /* ev_time() of the probe in flight */
	int probes;
	/* facts */
	char *version;
	long nodes, cores;
	char distribution[32], infrastructure[32];
	struct fed_kube_call *version_call;
	struct fed_kube_pager *nodes_pager;
	/* KubeFedCluster */
	char *written_spec, *written_status;
	struct fed_kube_call *spec_call, *status_call;
	bool spec_ok; /* the object exists with our spec */
	bool status_pending;
};

static void write_status(struct member *m);

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

static void iso8601(time_t t, char *buf, size_t n)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
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

static void member_event(struct member *m, bool warning, const char *reason, const char *message)
{
	const cJSON *obj =
	    m->ctl->members->clusters
	        ? fed_informer_get(m->ctl->members->clusters, m->ctl->o.fed_namespace, m->name)
	        : NULL;
	struct controller_event_target t = {"core.kubefed.io/v1beta1", "KubeFedCluster",
	                                    m->ctl->o.fed_namespace, m->name,
	                                    fed_obj_str(obj, "metadata.uid")};

	controller_event(m->ctl, &t, warning, reason, message);
}

/* ---- KubeFedCluster status -------------------------------------------- */

static cJSON *condition(const char *type, bool status, const char *reason, const char *message,
                        const char *transition)
{
	cJSON *c = cJSON_CreateObject();

	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", status ? "True" : "False");
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", message);
	if (transition)
		cJSON_AddStringToObject(c, "lastTransitionTime", transition);
	return c;
}

/* The status as it should be, without lastProbeTime (which would make
 * every probe look like a change). */
static cJSON *desired_status(struct member *m)
{
	cJSON *st = cJSON_CreateObject(), *conds = cJSON_AddArrayToObject(st, "conditions");
	char ts[32] = "", last_ok[32] = "";
	const struct fed_health *h = &m->health;
	bool ready = false, offline;
	const char *reason, *message, *conn;

	if (h->last_transition)
		iso8601(h->last_transition, ts, sizeof(ts));
	if (h->last_ok)
		iso8601(h->last_ok, last_ok, sizeof(last_ok));
	if (m->err_reason) {
		reason = m->err_reason;
		message = m->err_message ? m->err_message : "";
		offline = true;
		/* Arc's state for an agent whose credential lapsed */
		conn = strcmp(reason, "CredentialExpired") ? "Offline" : "Expired";
	} else {
		ready = h->state == FED_HEALTH_READY;
		reason = h->reason;
		message = h->message;
		offline = h->state == FED_HEALTH_OFFLINE;
		conn = fed_health_connectivity(h->state);
	}
	cJSON_AddItemToArray(conds, condition("Ready", ready, reason, message, ts[0] ? ts : NULL));
	cJSON_AddItemToArray(
	    conds, condition("Offline", offline, offline ? reason : "ClusterReachable",
	                     offline ? message : "cluster is reachable", ts[0] ? ts : NULL));
	cJSON_AddStringToObject(st, "connectivityStatus", conn);
	if (m->version)
		cJSON_AddStringToObject(st, "kubernetesVersion", m->version);
	if (m->nodes >= 0)
		cJSON_AddNumberToObject(st, "totalNodeCount", (double)m->nodes);
	if (m->cores >= 0)
		cJSON_AddNumberToObject(st, "totalCoreCount", (double)m->cores);
	if (m->distribution[0])
		cJSON_AddStringToObject(st, "distribution", m->distribution);
	if (m->infrastructure[0])
		cJSON_AddStringToObject(st, "infrastructure", m->infrastructure);
	if (last_ok[0])
		cJSON_AddStringToObject(st, "lastConnectivityTime", last_ok);
	if (m->server_url)
		cJSON_AddStringToObject(st, "serverAddress", m->server_url);
	if (m->matched_cidr)
		cJSON_AddStringToObject(st, "matchedClientCIDR", m->matched_cidr);
	if (m->mode && !strcmp(m->mode, "agent")) {
		cJSON *agent = hooks_agent_status(m->ctl, m->name);

		if (agent)
			cJSON_AddItemToObject(st, "agent", agent);
	}
	return st;
}

static void status_done(struct fed_kube_response *resp, void *ud)
{
	struct member *m = ud;

	m->status_call = NULL;
	if (resp->err.code) {
		FED_LOG_WARN(m->name, "writing KubeFedCluster status: %s", resp->err.msg);
		free(m->written_status); /* try again next time */
		m->written_status = NULL;
	}
	if (m->status_pending) {
		m->status_pending = false;
		write_status(m);
	}
}

static void write_status(struct member *m)
{
	struct fed_kube_ref ref = {&kfc_resource, m->ctl->o.fed_namespace, m->name, "status"};
	struct fed_kube_write_opts wo = {FED_MANAGER, true, false};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *st = NULL, *obj = NULL, *meta;
	char *cmp = NULL, *body = NULL, now[32];

	if (!m->spec_ok || m->spec_call)
		return; /* the object first; status follows when the spec is written */
	if (m->status_call) {
		m->status_pending = true;
		return;
	}
	st = desired_status(m);
	cmp = cJSON_PrintUnformatted(st);
	if (!cmp || (m->written_status && !strcmp(cmp, m->written_status)))
		goto out; /* nothing changed: no write */
	iso8601(time(NULL), now, sizeof(now));
	for (cJSON *c = cJSON_GetObjectItem(st, "conditions")->child; c; c = c->next)
		cJSON_AddStringToObject(c, "lastProbeTime", now);
	obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "apiVersion", "core.kubefed.io/v1beta1");
	cJSON_AddStringToObject(obj, "kind", "KubeFedCluster");
	meta = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(meta, "name", m->name);
	cJSON_AddStringToObject(meta, "namespace", m->ctl->o.fed_namespace);
	cJSON_AddItemToObject(obj, "status", st);
	st = NULL;
	body = cJSON_PrintUnformatted(obj);
	if (!body || fed_kube_patch(m->ctl->host, &ref, FED_PATCH_APPLY, body, &wo, status_done, m,
	                            &m->status_call, &err)) {
		FED_LOG_ERR(m->name, "writing KubeFedCluster status: %s", err.msg);
		goto out;
	}
	FED_LOG_DEBUG(m->name, "status: %s", cmp);
	free(m->written_status);
	m->written_status = cmp;
	cmp = NULL;
out:
	cJSON_Delete(st);
	cJSON_Delete(obj);
	free(cmp);
	free(body);
}

static void spec_done(struct fed_kube_response *resp, void *ud)
{
	struct member *m = ud;

	m->spec_call = NULL;
	if (resp->err.code) {
		FED_LOG_WARN(m->name, "writing KubeFedCluster: %s", resp->err.msg);
		free(m->written_spec);
		m->written_spec = NULL;
		return;
	}
	m->spec_ok = true;
	write_status(m);
}

static void write_spec(struct member *m, char *spec)
{
	struct fed_kube_ref ref = {&kfc_resource, m->ctl->o.fed_namespace, m->name, NULL};
	struct fed_kube_write_opts wo = {FED_MANAGER, true, false};
	struct fed_error err = FED_ERROR_INIT;

	if (m->written_spec && !strcmp(m->written_spec, spec)) {
		free(spec);
		return;
	}
	fed_kube_call_cancel(m->spec_call);
	m->spec_call = NULL;
	m->spec_ok = false;
	free(m->written_spec);
	m->written_spec = NULL;
	if (fed_kube_patch(m->ctl->host, &ref, FED_PATCH_APPLY, spec, &wo, spec_done, m,
	                   &m->spec_call, &err)) {
		FED_LOG_ERR(m->name, "writing KubeFedCluster: %s", err.msg);
		free(spec);
		return;
	}
	m->written_spec = spec;
}

static char *render_spec(struct member *m)
{
	cJSON *obj = cJSON_CreateObject(), *meta, *labels, *spec;
	char *s;

	cJSON_AddStringToObject(obj, "apiVersion", "core.kubefed.io/v1beta1");
	cJSON_AddStringToObject(obj, "kind", "KubeFedCluster");
	meta = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(meta, "name", m->name);
	cJSON_AddStringToObject(meta, "namespace", m->ctl->o.fed_namespace);
	labels = cJSON_AddObjectToObject(meta, "labels");
	cJSON_AddStringToObject(labels, FED_MANAGED_BY_LABEL, FED_MANAGER);
	spec = cJSON_AddObjectToObject(obj, "spec");
	if (m->server_url)
		cJSON_AddStringToObject(spec, "apiEndpoint", m->server_url);
	cJSON_AddStringToObject(spec, "mode", m->mode ? m->mode : "direct");
	s = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	return s;
}

/* ---- facts -------------------------------------------------------------- */

static long cpu_cores(const char *q)
{
	char *end;
	double v;

	if (!q)
		return 0;
	v = strtod(q, &end);
	if (*end == 'm')
		v /= 1000.0;
	return (long)floor(v);
}

static void nodes_done(cJSON *list, const struct fed_error *err, void *ud)
{
	struct member *m = ud;
	const cJSON *items, *n;
	const char *keys[64];
	long count = 0, cores = 0;

	m->nodes_pager = NULL;
	if (!list) {
		FED_LOG_DEBUG(m->name, "listing nodes: %s", err->msg);
		return;
	}
	items = cJSON_GetObjectItem(list, "items");
	cJSON_ArrayForEach(n, items) {
		count++;
		cores += cpu_cores(fed_obj_str(n, "status.capacity.cpu"));
	}
	n = cJSON_GetArrayItem(items, 0);
	if (n) {
		const cJSON *l;
		size_t k = 0;
		cJSON_ArrayForEach(
		    l, cJSON_GetObjectItem(cJSON_GetObjectItem(n, "metadata"), "labels")) {
			if (k < sizeof(keys) / sizeof(keys[0]) - 1)
				keys[k++] = l->string;
		}
		keys[k] = NULL;
		snprintf(
		    m->distribution, sizeof(m->distribution), "%s",
		    fed_cluster_distribution(m->version, fed_obj_str(n, "spec.providerID"), keys));
		snprintf(m->infrastructure, sizeof(m->infrastructure), "%s",
		         fed_cluster_infrastructure(fed_obj_str(n, "spec.providerID")));
	} else {
		snprintf(m->distribution, sizeof(m->distribution), "%s",
		         fed_cluster_distribution(m->version, NULL, NULL));
		snprintf(m->infrastructure, sizeof(m->infrastructure), "generic");
	}
	m->nodes = count;
	m->cores = cores;
	cJSON_Delete(list);
	write_status(m);
}

static void version_done(struct fed_kube_response *resp, void *ud)
{
	struct member *m = ud;
	static const struct fed_kube_resource r_nodes = {"", "v1", "nodes", false};
	struct fed_kube_ref ref = {&r_nodes, NULL, NULL, NULL};
	struct fed_kube_list_opts o;
	struct fed_error err = FED_ERROR_INIT;

	m->version_call = NULL;
	if (!resp->err.code)
		controller_set_str(&m->version, fed_obj_str(resp->json, "gitVersion"));
	memset(&o, 0, sizeof(o));
	o.limit = 500;
	if (!m->nodes_pager &&
	    fed_kube_list_all(m->client, &ref, &o, nodes_done, m, &m->nodes_pager, &err))
		FED_LOG_DEBUG(m->name, "listing nodes: %s", err.msg);
}

static void refresh_facts(struct member *m)
{
	struct fed_kube_request req;
	struct fed_error err = FED_ERROR_INIT;

	if (m->version_call || m->nodes_pager)
		return;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = "/version";
	req.timeout_ms = (int)(m->ctl->o.probe_timeout * 1000);
	req.exempt = true;
	req.probe = true;
	if (fed_kube_request(m->client, &req, version_done, m, &m->version_call, &err))
		FED_LOG_DEBUG(m->name, "version: %s", err.msg);
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
	changed = fed_health_observe(&m->health, r, msg, time(NULL));
	if (changed) {
		FED_LOG_INFO(m->name, "%s (%s): %s", fed_health_connectivity(m->health.state),
		             m->health.reason, m->health.message);
		member_event(m, m->health.state != FED_HEALTH_READY, m->health.reason,
		             m->health.message);
	}
	if (m->health.state == FED_HEALTH_READY && (!was_ready || ++m->probes % FACTS_EVERY == 0))
		refresh_facts(m);
	if (changed) {
		write_status(m);
		members_update_metrics(m->ctl);
	}
	if (was_ready != (m->health.state == FED_HEALTH_READY))
		publish(m, m->health.state == FED_HEALTH_READY ? HOOKS_MEMBER_READY
		                                               : HOOKS_MEMBER_NOT_READY);
	else if (was_connecting && m->health.state != FED_HEALTH_CONNECTING)
		publish(m, HOOKS_MEMBER_SETTLED);
}

static void probe_start(struct member *m)
{
	struct fed_kube_request req;
	struct fed_error err = FED_ERROR_INIT;

	if (m->probe || !m->client)
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
	fed_kube_pager_cancel(m->nodes_pager);
	m->probe = m->version_call = NULL;
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
		goto write;
	}
	digest(d->kubeconfig, d->server_url, dg);
	if (m->client && !strcmp(dg, m->config_digest))
		goto write; /* nothing that matters changed */
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
		goto write;
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
write:
	spec = render_spec(m);
	if (spec)
		write_spec(m, spec);
	write_status(m);
}

void member_free(struct member *m)
{
	if (!m)
		return;
	drop_client(m);
	member_token_free(m->token);
	fed_kube_call_cancel(m->spec_call);
	fed_kube_call_cancel(m->status_call);
	free(m->name);
	free(m->server_url);
	free(m->matched_cidr);
	free(m->mode);
	free(m->err_reason);
	free(m->err_message);
	free(m->version);
	free(m->written_spec);
	free(m->written_status);
	free(m);
}

void member_status_changed(struct controller *ctl, const char *name)
{
	struct member *m = members_get(ctl, name);

	if (m)
		write_status(m);
}

void member_object_lost(struct member *m)
{
	char *spec;

	fed_kube_call_cancel(m->spec_call);
	fed_kube_call_cancel(m->status_call);
	m->spec_call = m->status_call = NULL;
	m->spec_ok = false;
	free(m->written_spec);
	free(m->written_status);
	m->written_spec = m->written_status = NULL;
	spec = render_spec(m);
	if (spec)
		write_spec(m, spec);
}
