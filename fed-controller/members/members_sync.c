/* Level-triggered convergence of the Federation ConfigMap and the
 * kubeconfig Secret into members and their KubeFedClusters. Any change to
 * either input (or to a KubeFedCluster we manage) schedules one sync; a
 * sync always starts from the current state of all three, so a restart at
 * any moment converges to the same result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fed/base64.h"
#include "fed/federation.h"
#include "fed/log.h"
#include "members_internal.h"

#define SYNC_DELAY 0.05 /* coalesce a burst of events into one sync */

/* The Secret's kubeconfig-<name>, decoded. The API server always returns
 * data base64-encoded (stringData is folded into data on write). */
static char *secret_kubeconfig(const cJSON *secret, const char *name, bool *bad)
{
	char key[300];
	const char *b64;
	char *out = NULL;
	size_t n = 0;

	*bad = false;
	snprintf(key, sizeof(key), "kubeconfig-%s", name);
	b64 = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(secret, "data"), key));
	if (!b64)
		goto out;
	if (fed_base64_decode(FED_BASE64_STD, b64, strlen(b64), &out, &n) == FED_EINVAL)
		*bad = true;
	if (out && memchr(out, '\0', n)) { /* binary: not a kubeconfig */
		free(out);
		out = NULL;
		*bad = true;
	}
out:
	return out;
}

/* A kubeconfig for url (no credentials: the agent adds its own), malloc'd. */
static char *agent_kubeconfig(const char *url)
{
	struct fed_buf b = FED_BUF_INIT;

	if (fed_buf_printf(&b,
	                   "apiVersion: v1\nkind: Config\n"
	                   "clusters:\n- name: tunnel\n  cluster:\n    server: %s\n"
	                   "users:\n- name: agent\n  user: {}\n"
	                   "contexts:\n- name: tunnel\n  context:\n    cluster: tunnel\n"
	                   "    user: agent\n"
	                   "current-context: tunnel\n",
	                   url) < 0) {
		fed_buf_release(&b);
		return NULL;
	}
	return fed_buf_detach(&b);
}

static void delete_done(struct fed_kube_response *resp, void *ud)
{
	if (resp->err.code && resp->err.code != FED_ENOTFOUND)
		FED_LOG_WARN(NULL, "deleting KubeFedCluster: %s", resp->err.msg);
}

static void delete_kfc(struct controller *ctl, const char *name)
{
	struct fed_kube_ref ref = {&kfc_resource, ctl->o.fed_namespace, name, NULL};
	struct fed_error err = FED_ERROR_INIT;

	FED_LOG_INFO(name, "removed from the federation: deleting its KubeFedCluster");
	if (fed_kube_delete(ctl->host, &ref, NULL, delete_done, NULL, NULL, &err))
		FED_LOG_ERR(name, "deleting KubeFedCluster: %s", err.msg);
}

static void cidrs_of(const struct fed_cluster_spec *c, char *buf, size_t n)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < c->n_addrs && used + 1 < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "",
		                         c->addrs[i].client_cidr ? c->addrs[i].client_cidr : "?");
}

static void apply_cluster(struct controller *ctl, const struct fed_cluster_spec *c,
                          const cJSON *secret, struct fed_map *seen)
{
	struct member_desired d;
	struct member *m;
	char msg[1024], cidrs[512], ips[512];
	char *kubeconfig = NULL;
	const char *url = NULL, *cidr = NULL;
	bool bad = false;
	size_t i, used = 0;

	memset(&d, 0, sizeof(d));
	d.mode = c->mode == FED_CLUSTER_AGENT ? "agent" : "direct";
	if (c->err.code) {
		d.error_reason = "InvalidConfig";
		d.error_message = c->err.msg;
	} else if (c->disabled) {
		d.error_reason = "ClusterDisabled";
		d.error_message = "disabled: true in the Federation config";
	} else if (c->mode == FED_CLUSTER_AGENT) {
		long long expiry = hooks_agent_credential_expiry(ctl, c->name);

		/* through the tunnel's loopback listener once an agent connected */
		url = hooks_agent_url(ctl, c->name);
		if (expiry && expiry <= (long long)time(NULL) &&
		    !hooks_agents_connected(ctl, c->name)) {
			char when[32];
			time_t tt = (time_t)expiry;
			struct tm tm;

			gmtime_r(&tt, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			url = NULL;
			d.error_reason = "CredentialExpired";
			snprintf(
			    msg, sizeof(msg),
			    "the agent's cluster credential expired at %s and no agent is "
			    "connected "
			    "to renew it: re-join with `fedctl join %s --mode agent` for a new "
			    "bootstrap token",
			    when, c->name);
			d.error_message = msg;
		} else if (!url || !(kubeconfig = agent_kubeconfig(url))) {
			url = NULL;
			d.error_reason = "AgentNotConnected";
			d.error_message = "waiting for the cluster's fed-agent to connect";
		}
	} else if (!(kubeconfig = secret_kubeconfig(secret, c->name, &bad))) {
		d.error_reason = "MissingKubeconfig";
		snprintf(
		    msg, sizeof(msg),
		    bad ? "secret %s/%s key kubeconfig-%s is not a kubeconfig: if you wrote the "
		          "kubeconfig as plain YAML under data:, put it under stringData: instead "
		          "(data: values must be base64)"
		        : "secret %s/%s has no key kubeconfig-%s: add the member's kubeconfig "
		          "under stringData: (plain YAML) or data: (base64)",
		    ctl->o.config_namespace, ctl->o.secret_name, c->name);
		d.error_message = msg;
	} else if (fed_federation_pick_address(c, (const char *const *)ctl->members->client_ips,
	                                       ctl->members->n_client_ips, &url, &cidr)) {
		cidrs_of(c, cidrs, sizeof(cidrs));
		ips[0] = '\0';
		for (i = 0; i < ctl->members->n_client_ips && used + 1 < sizeof(ips); i++)
			used += (size_t)snprintf(ips + used, sizeof(ips) - used, "%s%s",
			                         i ? ", " : "", ctl->members->client_ips[i]);
		d.error_reason = "NoMatchingClientCIDR";
		/* too many CIDRs or addresses to list: the message still names the fix */
		if (snprintf(msg, sizeof(msg),
		             "no clientCIDR of serverAddressByClientCIDRs (%s) contains this "
		             "controller's address (%s): add an entry for it, e.g. clientCIDR "
		             "0.0.0.0/0",
		             cidrs, ips[0] ? ips : "none found") >= (int)sizeof(msg))
			snprintf(
			    msg, sizeof(msg),
			    "no clientCIDR of serverAddressByClientCIDRs contains this "
			    "controller's address: add an entry for it, e.g. clientCIDR 0.0.0.0/0");
		d.error_message = msg;
	}
	d.server_url = url;
	d.matched_cidr = cidr;
	d.kubeconfig = kubeconfig;

	m = fed_map_get(&ctl->members->map, c->name);
	if (!m) {
		if (member_new(&m, ctl, c->name) ||
		    fed_map_put(&ctl->members->map, c->name, m, NULL)) {
			FED_LOG_ERR(c->name, "out of memory");
			member_free(m);
			goto out;
		}
		FED_LOG_INFO(c->name, "joined the federation");
	}
	fed_map_put(seen, c->name, (void *)1, NULL);
	member_apply(m, &d);
out:
	if (kubeconfig) {
		memset(kubeconfig, 0, strlen(kubeconfig));
		free(kubeconfig);
	}
}

static void config_event(struct controller *ctl, const cJSON *cm, bool warning, const char *reason,
                         const char *message)
{
	struct controller_event_target t = {"v1", "ConfigMap", ctl->o.config_namespace,
	                                    ctl->o.config_name, fed_obj_str(cm, "metadata.uid")};

	controller_event(ctl, &t, warning, reason, message);
}

/* Report a ConfigMap's problems once per version of it, not per sync. */
static bool new_config_version(struct controller *ctl, const cJSON *cm)
{
	const char *rv = fed_obj_str(cm, "metadata.resourceVersion");

	if (!rv || (ctl->members->config_rv && !strcmp(ctl->members->config_rv, rv)))
		return false;
	free(ctl->members->config_rv);
	ctl->members->config_rv = strdup(rv);
	return true;
}

static void sync_now(struct controller *ctl)
{
	const cJSON *cm, *secret;
	const char *yaml;
	struct fed_federation *fed = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_map seen = FED_MAP_INIT;
	struct fed_map_iter it;
	struct fed_map_entry *e;
	char source[300], msg[128];
	size_t i, bad = 0;
	bool report;

	if (!fed_informer_synced(ctl->members->config) ||
	    !fed_informer_synced(ctl->members->secret) ||
	    !fed_informer_synced(ctl->members->clusters))
		return; /* act only on a complete picture */
	cm = fed_informer_get(ctl->members->config, ctl->o.config_namespace, ctl->o.config_name);
	secret =
	    fed_informer_get(ctl->members->secret, ctl->o.config_namespace, ctl->o.secret_name);
	if (!cm) {
		/* keep what runs: a missing ConfigMap is more often a mistake than
		 * a wish to drop every member */
		snprintf(
		    ctl->members->config_error, sizeof(ctl->members->config_error),
		    "ConfigMap %s/%s not found: create it with your Federation (key kubefed.yaml)",
		    ctl->o.config_namespace, ctl->o.config_name);
		FED_LOG_WARN(NULL, "%s", ctl->members->config_error);
		/* no agent cluster either: the tunnel may listen (and refuse
		 * agents, keeping their tokens) so that a first fedctl join
		 * --mode agent finds it serving */
		hooks_publish(ctl, &(struct hooks_msg){.ev = HOOKS_CONFIG_MISSING});
		return;
	}
	report = new_config_version(ctl, cm);
	yaml = cJSON_GetStringValue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "data"), "kubefed.yaml"));
	snprintf(source, sizeof(source), "configmap %s/%s key kubefed.yaml",
	         ctl->o.config_namespace, ctl->o.config_name);
	if (!yaml) {
		snprintf(ctl->members->config_error, sizeof(ctl->members->config_error),
		         "%s: missing: put the Federation document under data.kubefed.yaml",
		         source);
		FED_LOG_ERR(NULL, "%s", ctl->members->config_error);
		if (report)
			config_event(ctl, cm, true, "InvalidConfig", ctl->members->config_error);
		return;
	}
	if (fed_federation_parse(&fed, yaml, strlen(yaml), source, &err)) {
		/* keep the last good federation running */
		snprintf(ctl->members->config_error, sizeof(ctl->members->config_error),
		         "%s (the previous configuration stays in effect until this is fixed)",
		         err.msg);
		FED_LOG_ERR(NULL, "%s", ctl->members->config_error);
		if (report)
			config_event(ctl, cm, true, "InvalidConfig", ctl->members->config_error);
		return;
	}
	ctl->members->config_error[0] = '\0';
	for (i = 0; i < fed->n; i++) {
		const struct fed_cluster_spec *c = &fed->clusters[i];
		if (c->err.code) {
			bad++;
			if (report) {
				FED_LOG_ERR(NULL, "%s", c->err.msg);
				config_event(ctl, cm, true, "InvalidClusterEntry", c->err.msg);
			}
		}
		/* the parser leaves name NULL when no KubeFedCluster could carry it;
		 * a later duplicate is already marked invalid there */
		if (!c->name || fed_map_get(&seen, c->name))
			continue;
		apply_cluster(ctl, c, secret, &seen);
	}
	/* members no longer in the config */
	for (e = fed_map_first(&ctl->members->map, &it); e;
	     e = fed_map_next(&ctl->members->map, &it)) {
		if (fed_map_get(&seen, e->key))
			continue;
		delete_kfc(ctl, e->key);
		if (ctl->metrics)
			fed_metrics_remove_matching(ctl->m_cluster_ready, "cluster", e->key);
		member_free(fed_map_del(&ctl->members->map, e->key));
	}
	hooks_publish(ctl, &(struct hooks_msg){.ev = HOOKS_MEMBERS_APPLIED});
	/* KubeFedClusters we wrote before a restart that the config dropped */
	for (e = fed_map_first(fed_informer_store(ctl->members->clusters), &it); e;
	     e = fed_map_next(fed_informer_store(ctl->members->clusters), &it)) {
		const char *name = fed_obj_name(e->value);
		if (name && !fed_map_get(&seen, name) && !fed_map_get(&ctl->members->map, name))
			delete_kfc(ctl, name);
	}
	if (report) {
		snprintf(msg, sizeof(msg), "federation config applied: %zu cluster(s), %zu invalid",
		         fed->n, bad);
		FED_LOG_INFO(NULL, "%s", msg);
		config_event(ctl, cm, false, "ConfigApplied", msg);
	}
	fed_map_release(&seen, NULL);
	fed_federation_free(fed);
	members_update_metrics(ctl);
	if (!ctl->members->known) {
		ctl->members->known = true;
		hooks_publish(ctl, &(struct hooks_msg){.ev = HOOKS_MEMBERS_KNOWN});
	}
}

static void sync_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	sync_now(w->data);
}

void members_schedule_sync(struct controller *ctl)
{
	if (ev_is_active(&ctl->members->resync))
		return;
	ev_timer_init(&ctl->members->resync, sync_cb, SYNC_DELAY, 0.);
	ctl->members->resync.data = ctl;
	ev_timer_start(ctl->loop, &ctl->members->resync);
}
