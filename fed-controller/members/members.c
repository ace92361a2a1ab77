/* The set of members: the informers on the Federation ConfigMap, the
 * kubeconfig Secret and the KubeFedClusters we manage, which schedule the
 * sync of members_sync.c; the label changes of KubeFedClusters, published
 * for placement; the member metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federation.h"
#include "fed/log.h"
#include "members_internal.h"

static void changed_add(const cJSON *obj, void *ud)
{
	members_schedule_sync(ud);
}

static void changed_update(const cJSON *old, const cJSON *obj, void *ud)
{
	members_schedule_sync(ud);
}

static void changed_synced(void *ud)
{
	members_schedule_sync(ud);
}

static void kfc_deleted(const cJSON *obj, void *ud)
{
	struct controller *ctl = ud;
	struct member *m = members_get(ctl, fed_obj_name(obj));

	/* someone deleted the object of a member we still have: restore it */
	if (m)
		member_object_lost(m);
	members_schedule_sync(ctl);
}

/* Placement selects clusters by these labels (kubefed re-places on a
 * change): tell the features, which re-place what they hold. */
static void kfc_updated(const cJSON *old, const cJSON *obj, void *ud)
{
	struct controller *ctl = ud;
	const char *name = fed_obj_name(obj);
	const cJSON *a = cJSON_GetObjectItem(cJSON_GetObjectItem(old, "metadata"), "labels");
	const cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "labels");
	struct hooks_msg msg = {HOOKS_MEMBER_LABELS, name, NULL, NULL, NULL};

	if (!name || (!a && !b) || (a && b && cJSON_Compare(a, b, true)))
		return;
	FED_LOG_INFO(name, "KubeFedCluster labels changed: placing federated objects again");
	hooks_publish(ctl, &msg);
}

static int start_informer(struct controller *ctl, const struct fed_kube_resource *r, const char *ns,
                          const char *field, const char *label, struct fed_informer_handlers h,
                          struct fed_informer **out, struct fed_error *err)
{
	struct fed_informer_opts o;
	int ret;

	memset(&o, 0, sizeof(o));
	o.resource = *r;
	o.namespace = ns;
	o.field_selector = field;
	o.label_selector = label;
	o.handlers = h;
	o.ud = ctl;
	if ((ret = fed_informer_new(out, ctl->host, &o, err)))
		goto out;
	fed_informer_start(*out);
out:
	return ret;
}

/* Our own address for clientCIDR matching: the flag, the pod IP from the
 * downward API, or every interface address. */
static int client_ips(struct controller *ctl, struct fed_error *err)
{
	struct members *ms = ctl->members;
	const char *ip = ctl->o.client_ip ? ctl->o.client_ip : getenv("POD_IP");

	if (ip && *ip) {
		ms->client_ips = calloc(2, sizeof(char *));
		if (!ms->client_ips || !(ms->client_ips[0] = strdup(ip)))
			return fed_error_set(err, FED_ENOMEM, "out of memory");
		ms->n_client_ips = 1;
		return 0;
	}
	return fed_local_addresses(&ms->client_ips, &ms->n_client_ips, err);
}

static bool inputs_synced(struct controller *ctl)
{
	struct members *ms = ctl->members;

	return fed_informer_synced(ms->config) && fed_informer_synced(ms->secret) &&
	       fed_informer_synced(ms->clusters);
}

static const struct hooks_members members_hooks = {members_schedule_sync, inputs_synced};

int members_new(struct controller *ctl, struct fed_error *err)
{
	int ret = 0;

	if (!(ctl->members = calloc(1, sizeof(*ctl->members)))) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	fed_map_init(&ctl->members->map);
	hooks_set_members(ctl, &members_hooks);
	ret = client_ips(ctl, err);
out:
	return ret;
}

int members_start(struct controller *ctl, struct fed_error *err)
{
	static const struct fed_kube_resource r_cm = {"", "v1", "configmaps", true};
	static const struct fed_kube_resource r_secret = {"", "v1", "secrets", true};
	struct fed_informer_handlers h_input = {changed_add, changed_update, changed_add,
	                                        changed_synced};
	struct fed_informer_handlers h_kfc = {NULL, kfc_updated, kfc_deleted, changed_synced};
	const struct controller_opts *o = &ctl->o;
	struct members *ms = ctl->members;
	char field[300];
	int ret;

	snprintf(field, sizeof(field), "metadata.name=%s", o->config_name);
	if ((ret = start_informer(ctl, &r_cm, o->config_namespace, field, NULL, h_input,
	                          &ms->config, err)))
		goto out;
	snprintf(field, sizeof(field), "metadata.name=%s", o->secret_name);
	if ((ret = start_informer(ctl, &r_secret, o->config_namespace, field, NULL, h_input,
	                          &ms->secret, err)))
		goto out;
	ret = start_informer(ctl, &kfc_resource, o->fed_namespace, NULL,
	                     FED_MANAGED_BY_LABEL "=" FED_MANAGER, h_kfc, &ms->clusters, err);
out:
	return ret;
}

void members_free(struct controller *ctl)
{
	struct members *ms = ctl->members;
	struct fed_map_iter it;
	struct fed_map_entry *e;

	if (!ms)
		return;
	ev_timer_stop(ctl->loop, &ms->resync);
	for (e = fed_map_first(&ms->map, &it); e; e = fed_map_next(&ms->map, &it))
		member_free(e->value);
	fed_map_release(&ms->map, NULL);
	fed_informer_free(ms->config);
	fed_informer_free(ms->secret);
	fed_informer_free(ms->clusters);
	fed_local_addresses_free(ms->client_ips); /* NULL-terminated either way */
	free(ms->config_rv);
	free(ms);
	ctl->members = NULL;
}

struct member *members_get(const struct controller *ctl, const char *cluster)
{
	return cluster && ctl->members ? fed_map_get(&ctl->members->map, cluster) : NULL;
}

const struct fed_map *members_all(const struct controller *ctl)
{
	static const struct fed_map none = FED_MAP_INIT; /* after members_free */

	return ctl->members ? &ctl->members->map : &none;
}

bool members_known(const struct controller *ctl)
{
	return ctl->members && ctl->members->known;
}

size_t members_client_ip_count(const struct controller *ctl)
{
	return ctl->members->n_client_ips;
}

void members_update_metrics(struct controller *ctl)
{
	static const char *const states[] = {"ready", "notready", "offline"};
	double count[3] = {0, 0, 0};
	struct fed_map_iter it;
	struct fed_map_entry *e;
	size_t i, n = 0;

	if (!ctl->metrics)
		return;
	for (e = fed_map_first(&ctl->members->map, &it); e;
	     e = fed_map_next(&ctl->members->map, &it)) {
		const char *st = member_state(e->value);
		for (i = 0; i < 3; i++)
			if (!strcmp(st, states[i]))
				count[i]++;
		fed_metrics_set(ctl->m_cluster_ready, (const char *[]){e->key},
		                !strcmp(st, "ready"));
		n++;
	}
	for (i = 0; i < 3; i++)
		fed_metrics_set(ctl->m_clusters, (const char *[]){states[i]}, count[i]);
	fed_metrics_set(ctl->m_joined, NULL, (double)n);
	fed_metrics_set(ctl->m_leader, NULL, ctl->started);
}
