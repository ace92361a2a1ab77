/* The KubeFedCluster of one member (its status, conditions and facts,
 * its spec) and its Events: written only when something changed, one
 * write at a time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fed/log.h"
#include "members_internal.h"

static void iso8601(time_t t, char *buf, size_t n)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void member_event(struct member *m, bool warning, const char *reason, const char *message)
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
/* status.clusterConnect: whether kubectl reaches the member through the
 * host: the controller serves it (--connect-address), the member lets our
 * identity impersonate (fedctl join --cluster-connect), and an agent
 * member's agent carries connect streams. NULL while not known. */
static const char *cluster_connect(struct member *m)
{
	if (!m->ctl->connect)
		return "Disabled";
	if (m->impersonate < 0)
		return NULL;
	if (!m->impersonate)
		return "NotGranted";
	if (m->mode && !strcmp(m->mode, "agent") && !hooks_agent_connect_socket(m->ctl, m->name))
		return "AgentUnsupported";
	return "Available";
}

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
	if ((conn = cluster_connect(m)))
		cJSON_AddStringToObject(st, "clusterConnect", conn);
	return st;
}

static void status_done(struct fed_kube_response *resp, void *ud)
{
	struct member *m = ud;
	struct fed_error err = FED_ERROR_INIT;

	m->status_call = NULL;
	if (resp->err.code)
		FED_LOG_WARN(m->name, "writing KubeFedCluster status: %s", resp->err.msg);
	/* a failed write is written again by the next change; a newer status
	 * waiting behind this one goes now */
	if (fed_status_writer_done(&m->status, !resp->err.code, &err))
		FED_LOG_ERR(m->name, "writing KubeFedCluster status: %s", err.msg);
}

int member_status_write(void *ud, const char *body, struct fed_error *err)
{
	struct member *m = ud;
	struct fed_kube_ref ref = {&kfc_resource, m->ctl->o.fed_namespace, m->name, "status"};
	struct fed_kube_write_opts wo = {FED_MANAGER, true, false};

	return fed_kube_patch(m->ctl->host, &ref, FED_PATCH_APPLY, body, &wo, status_done, m,
	                      &m->status_call, err);
}

void member_write_status(struct member *m)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *st = NULL, *obj = NULL, *meta;
	char *cmp = NULL, *body = NULL, now[32];

	if (!m->spec_ok || m->spec_call)
		return; /* the object first; status follows when the spec is written */
	st = desired_status(m);
	if (!(cmp = cJSON_PrintUnformatted(st))) {
		FED_LOG_ERR(m->name, "writing KubeFedCluster status: out of memory");
		goto out;
	}
	if (!fed_status_writer_wants(&m->status, cmp))
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
	if (!body || fed_status_writer_submit(&m->status, cmp, body, &err)) {
		FED_LOG_ERR(m->name, "writing KubeFedCluster status: %s",
		            body ? err.msg : "out of memory");
		goto out;
	}
	FED_LOG_DEBUG(m->name, "status: %s", cmp);
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
	member_write_status(m);
}

void member_write_spec(struct member *m, char *spec)
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

char *member_render_spec(struct member *m)
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
	member_write_status(m);
}

static void ssar_done(struct fed_kube_response *resp, void *ud)
{
	struct member *m = ud;
	const cJSON *allowed;

	m->ssar_call = NULL;
	allowed = cJSON_GetObjectItem(cJSON_GetObjectItem(resp->json, "status"), "allowed");
	if (resp->err.code || !cJSON_IsBool(allowed)) {
		FED_LOG_DEBUG(m->name, "may we impersonate: %s", resp->err.msg);
		return;
	}
	if (m->impersonate != cJSON_IsTrue(allowed)) {
		m->impersonate = cJSON_IsTrue(allowed);
		FED_LOG_INFO(m->name, "cluster connect: the member %s us impersonate users",
		             m->impersonate ? "lets" : "does not let");
		member_write_status(m);
	}
}

/* Cluster connect's question to the member, with the facts: may we
 * impersonate users (what fedctl join --cluster-connect grants)? */
static void check_impersonate(struct member *m)
{
	static const struct fed_kube_resource r_ssar = {"authorization.k8s.io", "v1",
	                                                "selfsubjectaccessreviews", false};
	static const char body[] = "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":"
	                           "\"SelfSubjectAccessReview\",\"spec\":{\"resourceAttributes\":"
	                           "{\"verb\":\"impersonate\",\"resource\":\"users\"}}}";
	struct fed_kube_ref ref = {&r_ssar, NULL, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *obj;

	if (!m->ctl->connect || m->ssar_call)
		return;
	obj = cJSON_Parse(body);
	if (fed_kube_create(m->client, &ref, obj, NULL, ssar_done, m, &m->ssar_call, &err))
		FED_LOG_DEBUG(m->name, "may we impersonate: %s", err.msg);
	cJSON_Delete(obj);
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
	check_impersonate(m);
	memset(&o, 0, sizeof(o));
	o.limit = 500;
	if (!m->nodes_pager &&
	    fed_kube_list_all(m->client, &ref, &o, nodes_done, m, &m->nodes_pager, &err))
		FED_LOG_DEBUG(m->name, "listing nodes: %s", err.msg);
}

void member_refresh_facts(struct member *m)
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
