#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fed/cluster_health.h"

void fed_health_init(struct fed_health *h, int failure_threshold, int success_threshold)
{
	memset(h, 0, sizeof(*h));
	h->failure_threshold = failure_threshold > 0 ? failure_threshold : 3;
	h->success_threshold = success_threshold > 0 ? success_threshold : 1;
	h->state = FED_HEALTH_CONNECTING;
	snprintf(h->reason, sizeof(h->reason), "ClusterConnecting");
	snprintf(h->message, sizeof(h->message), "waiting for the first health check");
}

static enum fed_health_state state_of(enum fed_probe_result r)
{
	switch (r) {
	case FED_PROBE_OK:
		return FED_HEALTH_READY;
	case FED_PROBE_NOT_READY:
	case FED_PROBE_FORBIDDEN:
		return FED_HEALTH_NOT_READY;
	case FED_PROBE_TLS: /* no verified connection: as unreachable as can be */
		return FED_HEALTH_OFFLINE;
	case FED_PROBE_UNAUTHORIZED:
		return FED_HEALTH_EXPIRED;
	case FED_PROBE_UNREACHABLE:
	default:
		return FED_HEALTH_OFFLINE;
	}
}

static const char *reason_of(enum fed_probe_result r)
{
	switch (r) {
	case FED_PROBE_OK:
		return "ClusterReady";
	case FED_PROBE_NOT_READY:
		return "ClusterNotReady";
	case FED_PROBE_FORBIDDEN:
		return "ClusterForbidden";
	case FED_PROBE_TLS:
		return "ClusterTLSError";
	case FED_PROBE_UNAUTHORIZED:
		return "ClusterCredentialExpired";
	case FED_PROBE_UNREACHABLE:
	default:
		return "ClusterNotReachable";
	}
}

bool fed_health_observe(struct fed_health *h, enum fed_probe_result r, const char *message,
                        time_t now)
{
	bool ready_now = r == FED_PROBE_OK;
	bool ready_pub = h->state == FED_HEALTH_READY;
	enum fed_health_state next = state_of(r);
	char reason[64], msg[512];
	bool changed;

	h->last = r;
	if (ready_now)
		h->last_ok = now;
	snprintf(reason, sizeof(reason), "%s", reason_of(r));
	snprintf(msg, sizeof(msg), "%s", message ? message : "");

	if (h->state != FED_HEALTH_CONNECTING && ready_now == ready_pub) {
		/* same readiness as published: the run of opposite results ends;
		 * details (e.g. offline -> not ready) follow at once */
		h->run = 0;
	} else {
		int threshold = ready_now ? h->success_threshold : h->failure_threshold;
		if (++h->run < threshold)
			return false;
		h->run = 0;
	}
	/* the message alone (curl's "after 1 ms" vs "after 0 ms") is not a
	 * change worth an event or a status write; it is kept for the next one */
	changed = h->state != next || strcmp(h->reason, reason);
	if (h->state != next)
		h->last_transition = now;
	h->state = next;
	memcpy(h->reason, reason, sizeof(reason));
	memcpy(h->message, msg, sizeof(msg));
	return changed;
}

enum fed_probe_result fed_health_classify(int http_status, const struct fed_error *err,
                                          const char *body)
{
	if (http_status == 200)
		return body && !strncasecmp(body, "ok", 2) ? FED_PROBE_OK : FED_PROBE_NOT_READY;
	if (http_status == 401)
		return FED_PROBE_UNAUTHORIZED;
	if (http_status == 403)
		return FED_PROBE_FORBIDDEN;
	if (http_status > 0)
		return FED_PROBE_NOT_READY;
	if (err && err->code == FED_ETLS)
		return FED_PROBE_TLS;
	return FED_PROBE_UNREACHABLE;
}

const char *fed_health_connectivity(enum fed_health_state s)
{
	switch (s) {
	case FED_HEALTH_READY:
	case FED_HEALTH_NOT_READY:
		return "Connected";
	case FED_HEALTH_OFFLINE:
		return "Offline";
	case FED_HEALTH_EXPIRED:
		return "Expired";
	case FED_HEALTH_CONNECTING:
	default:
		return "Connecting";
	}
}

static bool has_prefix(const char *s, const char *p)
{
	return s && !strncmp(s, p, strlen(p));
}

static bool has_label(const char *const *keys, const char *prefix)
{
	for (; keys && *keys; keys++)
		if (has_prefix(*keys, prefix))
			return true;
	return false;
}

const char *fed_cluster_distribution(const char *v, const char *provider_id,
                                     const char *const *keys)
{
	if (v && strstr(v, "-eks-"))
		return "eks";
	if (v && strstr(v, "-gke."))
		return "gke";
	if (v && strstr(v, "+k3s"))
		return "k3s";
	if (v && strstr(v, "+rke2"))
		return "rke2";
	if (has_label(keys, "kubernetes.azure.com/"))
		return "aks";
	if (has_label(keys, "node.openshift.io/") || (v && strstr(v, "+openshift")))
		return "openshift";
	if (has_label(keys, "microk8s.io/"))
		return "microk8s";
	if (has_prefix(provider_id, "kind://"))
		return "kind";
	if (has_prefix(provider_id, "kwok://") || has_label(keys, "kwok.x-k8s.io/"))
		return "kwok";
	return "generic";
}

const char *fed_cluster_infrastructure(const char *p)
{
	static const struct {
		const char *prefix, *name;
	} table[] = {
	    {"aws://", "aws"},
	    {"gce://", "gcp"},
	    {"azure://", "azure"},
	    {"vsphere://", "vsphere"},
	    {"openstack://", "openstack"},
	    {"kind://", "kind"},
	    {"kwok://", "kwok"},
	    {"ibm://", "ibm"},
	    {"alicloud://", "alibaba"},
	    {"digitalocean://", "digitalocean"},
	    {"hcloud://", "hetzner"},
	    {"equinixmetal://", "equinix"},
	};
	size_t i;

	for (i = 0; p && i < sizeof(table) / sizeof(table[0]); i++)
		if (has_prefix(p, table[i].prefix))
			return table[i].name;
	return "generic";
}
