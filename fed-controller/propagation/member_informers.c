/* The members' informers of each type: per Ready member, its managed
 * objects of the target type and the metadata of the others, started
 * when the member becomes Ready (its CRD first, for a custom type),
 * stopped when it leaves or goes offline; their events enqueue the
 * federated twin. And what member events mean for propagation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "propagate.h"
#include "propagation.h"

/* A managed copy is ours whether or not its federated twin exists (one
 * without is a stray to remove); another object matters only with a
 * twin. */
static void member_obj_changed(struct minf *mi, const cJSON *obj, bool managed)
{
	struct fed_buf key = FED_BUF_INIT;

	const char *name = fed_obj_name(obj);
	/* the federated twin: same key, except that a Namespace's twin is
	 * the FederatedNamespace "name/name" */
	const char *ns = mi->t->is_namespaces ? name : fed_obj_namespace(obj);

	fed_informer_key(&key, ns, name);
	/* drift is fixed at once */
	if (key.data && (managed || fed_informer_get(mi->t->fed_inf, ns, name)))
		ftype_enqueue(mi->t, key.data);
	fed_buf_release(&key);
}

/* A namespace now exists in a member: objects in it that failed there
 * (namespace not found) are retried at once, not after their backoff. */
static void namespace_arrived(struct controller *ctl, const char *ns)
{
	struct fed_map_iter it, oit;
	struct fed_map_entry *e, *oe;
	size_t n = strlen(ns);

	for (e = fed_map_first(&ctl->prop->types, &it); e;
	     e = fed_map_next(&ctl->prop->types, &it)) {
		struct ftype *t = e->value;
		if (t->is_namespaces || !t->cfg.target.namespaced)
			continue;
		for (oe = fed_map_first(&t->objs, &oit); oe; oe = fed_map_next(&t->objs, &oit)) {
			if (strncmp(oe->key, ns, n) || oe->key[n] != '/' ||
			    fed_queue_backoff(t->q, oe->key) <= 0)
				continue;
			if (fed_queue_reset(t->q, oe->key))
				xoom();
		}
	}
}

/* A per_namespace type's RoleBinding waiting for the namespace in this
 * member is applied now. */
static void namespace_arrived_in(struct minf *mi, const char *ns)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	for (e = fed_map_first(&mi->t->ctl->prop->types, &it); e;
	     e = fed_map_next(&mi->t->ctl->prop->types, &it)) {
		struct ftype *t = e->value;
		if (t->per_namespace)
			msec_namespace_arrived(fed_map_get(&t->minf, mi->cluster), ns);
	}
}

static void m_add(const cJSON *obj, void *ud)
{
	struct minf *mi = ud;

	member_obj_changed(mi, obj, true);
	if (mi->t->is_namespaces && fed_obj_name(obj)) {
		namespace_arrived_in(mi, fed_obj_name(obj));
		namespace_arrived(mi->t->ctl, fed_obj_name(obj));
	}
}

static void m_update(const cJSON *old, const cJSON *obj, void *ud)
{
	member_obj_changed(ud, obj, true);
}

/* Shared by both informers: a deleted copy needs no stray removal. */
static void m_delete(const cJSON *obj, void *ud)
{
	member_obj_changed(ud, obj, false);
}

/* Listed: every federated object syncs, and so does every managed copy
 * without one (a stray from before this controller started). */
static void m_synced(void *ud)
{
	struct minf *mi = ud;
	const struct fed_map *store = mi->inf ? fed_informer_store(mi->inf) : NULL;
	struct fed_map_iter it;
	struct fed_map_entry *e;

	ftype_enqueue_all(mi->t);
	for (e = store ? fed_map_first(store, &it) : NULL; e; e = fed_map_next(store, &it))
		member_obj_changed(mi, e->value, true);
}

/* The unmanaged informer: a label change on an object we leave alone
 * (managed=false removed, say) is seen at once, not at the next look. */
static void u_add(const cJSON *obj, void *ud)
{
	struct minf *mi = ud;

	member_obj_changed(mi, obj, false);
	if (mi->t->is_namespaces && fed_obj_name(obj))
		namespace_arrived_in(mi, fed_obj_name(obj));
}

static void u_update(const cJSON *old, const cJSON *obj, void *ud)
{
	member_obj_changed(ud, obj, false);
}

void minf_free(struct minf *mi)
{
	if (!mi)
		return;
	fed_informer_free(mi->inf);
	fed_informer_free(mi->uinf);
	if (mi->t && mi->t->per_namespace)
		msec_free(mi);
	free(mi->cluster);
	free(mi);
}

static const cJSON *store_get(struct ftype *t, const struct fed_informer *inf, const char *key,
                              bool *synced)
{
	const char *slash = strchr(key, '/');

	*synced = inf && fed_informer_synced(inf);
	if (!*synced)
		return NULL;
	/* the stores share our keys, except that a FederatedNamespace "ns/ns"
	 * is the cluster-scoped Namespace "ns" */
	return fed_map_get(fed_informer_store(inf),
	                   !t->cfg.target.namespaced && slash ? slash + 1 : key);
}

/* A per_namespace type's informers are those of the key's namespace:
 * none yet (not bound, not listed) reads as not synced. */
static struct fed_informer *inf_of(struct ftype *t, struct minf *mi, const char *key,
                                   bool unmanaged)
{
	if (!mi)
		return NULL;
	if (t->per_namespace)
		return msec_informer(mi, key, unmanaged);
	return unmanaged ? mi->uinf : mi->inf;
}

const cJSON *minf_get(struct ftype *t, const char *cluster, const char *key, bool *synced)
{
	return store_get(t, inf_of(t, fed_map_get(&t->minf, cluster), key, false), key, synced);
}

bool minf_absent(struct ftype *t, const char *cluster, const char *key)
{
	return t->per_namespace && msec_absent(fed_map_get(&t->minf, cluster), key);
}

const cJSON *minf_get_unmanaged(struct ftype *t, const char *cluster, const char *key, bool *synced)
{
	return store_get(t, inf_of(t, fed_map_get(&t->minf, cluster), key, true), key, synced);
}

static void crd_applied(struct fed_kube_response *resp, void *ud)
{
	if (resp->err.code)
		FED_LOG_WARN(resp->client, "creating CustomResourceDefinition: %s", resp->err.msg);
}

/* The type's CRD goes to the member first; the member informer lists
 * only once the member serves the type, and nothing is written before
 * that informer has listed, so no custom resource precedes its CRD. */
static void crd_to_member(struct ftype *t, const char *cluster, struct fed_kube_client *client)
{
	static const struct fed_kube_resource r_crd = {"apiextensions.k8s.io", "v1",
	                                               "customresourcedefinitions", false};
	struct fed_kube_ref ref = {&r_crd, NULL, fed_obj_name(t->crd), NULL};
	struct fed_kube_write_opts wo = {FED_MANAGER, true, false};
	struct fed_error err = FED_ERROR_INIT;
	char *body = cJSON_PrintUnformatted(t->crd);

	if (!body ||
	    fed_kube_patch(client, &ref, FED_PATCH_APPLY, body, &wo, crd_applied, NULL, NULL, &err))
		FED_LOG_WARN(cluster, "creating CustomResourceDefinition: %s",
		             body ? err.msg : "out of memory");
	free(body);
}

int minf_informers(struct minf *mi, const char *ns, struct fed_informer **inf,
                   struct fed_informer **uinf)
{
	struct fed_informer_opts o;
	struct fed_error err = FED_ERROR_INIT;
	int ret;

	memset(&o, 0, sizeof(o));
	o.resource = mi->t->target_res;
	o.namespace = ns;
	o.label_selector = FED_MANAGED_LABEL "=true";
	o.handlers = (struct fed_informer_handlers){m_add, m_update, m_delete, m_synced};
	o.ud = mi;
	if ((ret = fed_informer_new(inf, mi->client, &o, &err))) {
		FED_LOG_ERR(mi->cluster, "watching %s: %s", mi->t->cfg.name, err.msg);
		return ret;
	}
	/* Everything else of the type, names and labels only: a create need
	 * not ask the member first whether an unmanaged object is in the way
	 * (one request per new object instead of two), and objects left
	 * alone are seen when their labels change. */
	o.label_selector = FED_MANAGED_LABEL "!=true";
	o.metadata_only = true;
	o.handlers = (struct fed_informer_handlers){u_add, u_update, m_delete, NULL};
	if ((ret = fed_informer_new(uinf, mi->client, &o, &err))) {
		FED_LOG_ERR(mi->cluster, "watching unmanaged %s: %s", mi->t->cfg.name, err.msg);
		fed_informer_free(*inf);
		*inf = NULL;
	}
	return ret;
}

static void minf_start(struct ftype *t, const char *cluster, struct fed_kube_client *client)
{
	struct minf *mi;

	if (fed_map_get(&t->minf, cluster) || t->crd_state == CRD_UNKNOWN)
		return; /* started, or waiting to learn whether a CRD must go first */
	if (t->crd)
		crd_to_member(t, cluster, client);
	if (!(mi = calloc(1, sizeof(*mi))) || !(mi->cluster = strdup(cluster)))
		goto out;
	mi->t = t;
	mi->client = client;
	fed_map_init(&mi->ns);
	if (t->per_namespace) {
		if (fed_map_put(&t->minf, cluster, mi, NULL))
			goto out;
		msec_start(mi);
		return;
	}
	if (minf_informers(mi, NULL, &mi->inf, &mi->uinf)) {
		minf_free(mi);
		return;
	}
	if (fed_map_put(&t->minf, cluster, mi, NULL))
		goto out;
	FED_LOG_DEBUG(cluster, "watching managed %s", t->cfg.name);
	fed_informer_start(mi->inf);
	fed_informer_start(mi->uinf);
	return;
out:
	FED_LOG_ERR(cluster, "out of memory");
	minf_free(mi);
}

static void minf_stop(struct ftype *t, const char *cluster)
{
	struct minf *mi = fed_map_del(&t->minf, cluster);

	if (!mi)
		return;
	FED_LOG_DEBUG(cluster, "stopped watching %s", t->cfg.name);
	minf_free(mi);
	ftype_enqueue_all(t); /* its objects now report ClusterNotReady */
}

void ftype_sync_members(struct ftype *t)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	for (e = fed_map_first(members_all(t->ctl), &it); e;
	     e = fed_map_next(members_all(t->ctl), &it)) {
		struct fed_kube_client *c = member_client(e->value);
		if (c)
			minf_start(t, e->key, c);
		else
			minf_stop(t, e->key);
	}
	for (e = fed_map_first(&t->minf, &it); e; e = fed_map_next(&t->minf, &it))
		if (!members_get(t->ctl, e->key))
			minf_stop(t, e->key);
}

/* A member became Ready (watch it, re-listing from scratch), or stopped
 * being Ready or lost its client (stop watching before the client goes). */
static void member_changed(struct controller *ctl, const char *cluster, struct fed_kube_client *c)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	for (e = fed_map_first(&ctl->prop->types, &it); e;
	     e = fed_map_next(&ctl->prop->types, &it)) {
		struct ftype *t = e->value;
		minf_stop(t, cluster);
		if (c)
			minf_start(t, cluster, c);
		ftype_enqueue_all(t);
	}
}

static void client_gone(struct controller *ctl, struct fed_kube_client *c)
{
	struct fed_map_iter it, oit;
	struct fed_map_entry *e, *oe;

	for (e = fed_map_first(&ctl->prop->types, &it); e;
	     e = fed_map_next(&ctl->prop->types, &it)) {
		struct ftype *t = e->value;

		for (oe = fed_map_first(&t->objs, &oit); oe; oe = fed_map_next(&t->objs, &oit))
			fobj_client_gone(oe->value, c);
	}
}

/* A Ready member answers again after failed probes (a blip under the
 * failure threshold): its watches and the writes that failed meanwhile
 * are retried now, not after their backoff. */
static void member_answers(struct controller *ctl, const char *cluster)
{
	struct fed_map_iter it, oit;
	struct fed_map_entry *e, *oe;

	FED_LOG_INFO(cluster, "answers again: watches and writes that failed meanwhile retry now");
	for (e = fed_map_first(&ctl->prop->types, &it); e;
	     e = fed_map_next(&ctl->prop->types, &it)) {
		struct ftype *t = e->value;
		struct minf *mi = fed_map_get(&t->minf, cluster);

		if (mi) {
			fed_informer_retry_now(mi->inf);
			fed_informer_retry_now(mi->uinf);
			if (t->per_namespace)
				msec_retry_now(mi);
		}
		for (oe = fed_map_first(&t->objs, &oit); oe; oe = fed_map_next(&t->objs, &oit))
			if (fed_queue_backoff(t->q, oe->key) > 0 && fed_queue_reset(t->q, oe->key))
				xoom();
	}
}

/* What happens to members changes what every object should look like:
 * a cluster to watch or not, or (labels) which clusters it is placed on. */
void types_on_member(struct controller *ctl, const struct hooks_msg *m, void *ud)
{
	switch (m->ev) {
	case HOOKS_MEMBER_READY:
		member_changed(ctl, m->cluster, m->client);
		break;
	case HOOKS_MEMBER_NOT_READY:
		member_changed(ctl, m->cluster, NULL);
		break;
	case HOOKS_MEMBER_CLIENT_GONE:
		client_gone(ctl, m->client);
		break;
	case HOOKS_MEMBER_ANSWERS:
		member_answers(ctl, m->cluster);
		break;
	case HOOKS_MEMBER_SETTLED: /* a first verdict that is not Ready */
	case HOOKS_MEMBER_LABELS:  /* placement selects by them */
	case HOOKS_MEMBERS_KNOWN:
		types_enqueue_all(ctl);
		break;
	default:
		break;
	}
}
