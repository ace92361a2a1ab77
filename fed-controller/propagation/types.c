/* The machinery per FederatedTypeConfig: started when an FTC with
 * propagation Enabled appears, rebuilt when it changes, stopped when it
 * goes. Per type: an informer on its Federated<Kind> objects in the host,
 * and one informer per Ready member on the target type, restricted to
 * objects labelled kubefed.io/managed=true, torn down when the member
 * leaves or goes offline and re-listed when it returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "propagate.h"
#include "propagation.h"

static const struct fed_kube_resource r_ftc = {"core.kubefed.io", "v1beta1", "federatedtypeconfigs",
                                               true};

static void ftype_free(struct ftype *t);
static void enqueue_all(struct controller *ctl);

/* ---- queue ------------------------------------------------------------- */

static enum fed_queue_result sync_cb(void *ud, const char *key)
{
	return fobj_sync(ud, key);
}

void ftype_enqueue(struct ftype *t, const char *key)
{
	struct hooks_msg msg = {HOOKS_OBJECT_CHANGED, NULL, NULL, t->cfg.federated.kind, key};

	hooks_publish(t->ctl, &msg); /* its RSP plans from the same inputs */
	if (!key)
		return;
	if (fed_queue_add(t->q, key))
		xoom(); /* a lost key would never be synced */
}

void ftype_enqueue_all(struct ftype *t)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	if (!t->fed_inf)
		return;
	for (e = fed_map_first(fed_informer_store(t->fed_inf), &it); e;
	     e = fed_map_next(fed_informer_store(t->fed_inf), &it))
		ftype_enqueue(t, e->key);
}

void ftype_enqueue_namespace(struct ftype *t, const char *ns)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;
	size_t n = strlen(ns);

	if (!t->fed_inf || !t->cfg.target.namespaced)
		return;
	for (e = fed_map_first(fed_informer_store(t->fed_inf), &it); e;
	     e = fed_map_next(fed_informer_store(t->fed_inf), &it))
		if (!strncmp(e->key, ns, n) && e->key[n] == '/')
			ftype_enqueue(t, e->key);
}

struct ftype *types_namespaces(struct controller *ctl)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	for (e = fed_map_first(&ctl->prop->types, &it); e; e = fed_map_next(&ctl->prop->types, &it))
		if (((struct ftype *)e->value)->is_namespaces)
			return e->value;
	return NULL;
}

/* ---- host informer of federated objects ------------------------------- */

static void key_of(const cJSON *obj, struct fed_buf *b)
{
	fed_informer_key(b, fed_obj_namespace(obj), fed_obj_name(obj));
}

static void fed_changed(struct ftype *t, const cJSON *obj)
{
	struct fed_buf key = FED_BUF_INIT;
	struct fed_map_iter it;
	struct fed_map_entry *e;

	key_of(obj, &key);
	/* its namespace is watched in members from now on */
	if (t->per_namespace && fed_obj_namespace(obj))
		for (e = fed_map_first(&t->minf, &it); e; e = fed_map_next(&t->minf, &it))
			msec_ensure(e->value, fed_obj_namespace(obj));
	ftype_enqueue(t, key.data);
	/* a FederatedNamespace gates every namespaced object in it */
	if (t->is_namespaces)
		for (e = fed_map_first(&t->ctl->prop->types, &it); e;
		     e = fed_map_next(&t->ctl->prop->types, &it))
			if (e->value != t)
				ftype_enqueue_namespace(e->value, fed_obj_name(obj));
	fed_buf_release(&key);
}

static void fed_add(const cJSON *obj, void *ud)
{
	fed_changed(ud, obj);
}

static void fed_update(const cJSON *old, const cJSON *obj, void *ud)
{
	/* our own status writes come back here too; the sync finds nothing
	 * to do for them without writing */
	fed_changed(ud, obj);
}

static void fed_synced(void *ud)
{
	struct ftype *t = ud;

	if (t->is_namespaces) /* the others waited for the namespace gate */
		enqueue_all(t->ctl);
	else
		ftype_enqueue_all(t);
}

/* ---- member informers -------------------------------------------------- */

static void member_obj_changed(struct minf *mi, const cJSON *obj)
{
	struct fed_buf key = FED_BUF_INIT;

	const char *name = fed_obj_name(obj);
	/* the federated twin: same key, except that a Namespace's twin is
	 * the FederatedNamespace "name/name" */
	const char *ns = mi->t->is_namespaces ? name : fed_obj_namespace(obj);

	fed_informer_key(&key, ns, name);
	/* only objects with a federated twin matter; drift is fixed at once */
	if (key.data && fed_informer_get(mi->t->fed_inf, ns, name))
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

	member_obj_changed(mi, obj);
	if (mi->t->is_namespaces && fed_obj_name(obj)) {
		namespace_arrived_in(mi, fed_obj_name(obj));
		namespace_arrived(mi->t->ctl, fed_obj_name(obj));
	}
}

static void m_update(const cJSON *old, const cJSON *obj, void *ud)
{
	member_obj_changed(ud, obj);
}

static void m_delete(const cJSON *obj, void *ud)
{
	member_obj_changed(ud, obj);
}

static void m_synced(void *ud)
{
	ftype_enqueue_all(((struct minf *)ud)->t);
}

/* The unmanaged informer: a label change on an object we leave alone
 * (managed=false removed, say) is seen at once, not at the next look. */
static void u_add(const cJSON *obj, void *ud)
{
	struct minf *mi = ud;

	member_obj_changed(mi, obj);
	if (mi->t->is_namespaces && fed_obj_name(obj))
		namespace_arrived_in(mi, fed_obj_name(obj));
}

static void u_update(const cJSON *old, const cJSON *obj, void *ud)
{
	member_obj_changed(ud, obj);
}

static void minf_free(struct minf *mi)
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
		goto oom;
	mi->t = t;
	mi->client = client;
	fed_map_init(&mi->ns);
	if (t->per_namespace) {
		if (fed_map_put(&t->minf, cluster, mi, NULL))
			goto oom;
		msec_start(mi);
		return;
	}
	if (minf_informers(mi, NULL, &mi->inf, &mi->uinf)) {
		minf_free(mi);
		return;
	}
	if (fed_map_put(&t->minf, cluster, mi, NULL))
		goto oom;
	FED_LOG_DEBUG(cluster, "watching managed %s", t->cfg.name);
	fed_informer_start(mi->inf);
	fed_informer_start(mi->uinf);
	return;
oom:
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

static void ftype_sync_members(struct ftype *t)
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

static void enqueue_all(struct controller *ctl)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	for (e = fed_map_first(&ctl->prop->types, &it); e; e = fed_map_next(&ctl->prop->types, &it))
		ftype_enqueue_all(e->value);
}

/* What happens to members changes what every object should look like:
 * a cluster to watch or not, or (labels) which clusters it is placed on. */
static void on_member(struct controller *ctl, const struct hooks_msg *m, void *ud)
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
	case HOOKS_MEMBER_SETTLED: /* a first verdict that is not Ready */
	case HOOKS_MEMBER_LABELS:  /* placement selects by them */
	case HOOKS_MEMBERS_KNOWN:
		enqueue_all(ctl);
		break;
	default:
		break;
	}
}

/* ---- FTC lifecycle ----------------------------------------------------- */

static void ftype_free(struct ftype *t)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	if (!t)
		return;
	fed_kube_call_cancel(t->crd_call);
	cJSON_Delete(t->crd);
	fed_informer_free(t->fed_inf);
	for (e = fed_map_first(&t->minf, &it); e; e = fed_map_next(&t->minf, &it))
		minf_free(e->value);
	fed_map_release(&t->minf, NULL);
	for (e = fed_map_first(&t->objs, &it); e; e = fed_map_next(&t->objs, &it))
		fobj_free(e->value);
	fed_map_release(&t->objs, NULL);
	fed_queue_free(t->q);
	fed_type_config_release(&t->cfg);
	free(t->target_api_version);
	free(t->fed_api_version);
	free(t);
}

static int ftype_new(struct controller *ctl, const cJSON *ftc, struct ftype **out,
                     struct fed_error *err)
{
	struct fed_informer_opts o;
	struct ftype *t = calloc(1, sizeof(*t));
	int ret;

	*out = NULL;
	if (!t)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	t->ctl = ctl;
	fed_map_init(&t->minf);
	fed_map_init(&t->objs);
	if ((ret = fed_queue_new(&t->q, ctl->loop, NULL, sync_cb, t, err)) ||
	    (ret = fed_type_config_parse(ftc, &t->cfg, err)))
		goto out;
	t->target_api_version = fed_api_resource_api_version(&t->cfg.target);
	t->fed_api_version = fed_api_resource_api_version(&t->cfg.federated);
	if (!t->target_api_version || !t->fed_api_version) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	t->target_res = (struct fed_kube_resource){t->cfg.target.group, t->cfg.target.version,
	                                           t->cfg.target.plural, t->cfg.target.namespaced};
	t->fed_res =
	    (struct fed_kube_resource){t->cfg.federated.group, t->cfg.federated.version,
	                               t->cfg.federated.plural, t->cfg.federated.namespaced};
	t->tt = (struct fed_target_type){t->target_api_version, t->cfg.target.kind,
	                                 t->cfg.target.namespaced};
	t->is_namespaces = !*t->cfg.target.group && !strcmp(t->cfg.target.plural, "namespaces");
	t->per_namespace = !*t->cfg.target.group && !strcmp(t->cfg.target.plural, "secrets") &&
	                   t->cfg.target.namespaced;
	memset(&o, 0, sizeof(o));
	o.resource = t->fed_res;
	o.handlers = (struct fed_informer_handlers){fed_add, fed_update, fed_add, fed_synced};
	o.ud = t;
	if ((ret = fed_informer_new(&t->fed_inf, ctl->host, &o, err)))
		goto out;
	*out = t;
	t = NULL;
out:
	ftype_free(t);
	return ret;
}

/* What goes to members of the host's CRD: its spec, name and labels. */
static cJSON *member_crd(const cJSON *host_crd)
{
	cJSON *crd = cJSON_CreateObject(), *meta;
	const cJSON *labels =
	    cJSON_GetObjectItem(cJSON_GetObjectItem(host_crd, "metadata"), "labels");

	cJSON_AddStringToObject(crd, "apiVersion", "apiextensions.k8s.io/v1");
	cJSON_AddStringToObject(crd, "kind", "CustomResourceDefinition");
	meta = cJSON_AddObjectToObject(crd, "metadata");
	cJSON_AddStringToObject(meta, "name", fed_obj_name(host_crd));
	if (labels)
		cJSON_AddItemToObject(meta, "labels", cJSON_Duplicate(labels, 1));
	cJSON_AddItemToObject(crd, "spec",
	                      cJSON_Duplicate(cJSON_GetObjectItem(host_crd, "spec"), 1));
	return crd;
}

static void crd_fetched(struct fed_kube_response *resp, void *ud)
{
	struct ftype *t = ud;

	t->crd_call = NULL;
	if (resp->err.code == FED_ENOTFOUND) {
		t->crd_state = CRD_NONE; /* a built-in (or aggregated) type */
	} else if (resp->err.code) {
		FED_LOG_WARN(NULL, "type %s: reading its CRD on the host: %s (members get none)",
		             t->cfg.name, resp->err.msg);
		t->crd_state = CRD_NONE;
	} else {
		t->crd = member_crd(resp->json);
		t->crd_state = CRD_FOUND;
		FED_LOG_INFO(NULL, "type %s: a custom resource; its CRD goes to members first",
		             t->cfg.name);
	}
	ftype_sync_members(t);
}

/* Core and well-known groups have no CRD; anything else may. */
static void learn_crd(struct ftype *t)
{
	static const struct fed_kube_resource r_crd = {"apiextensions.k8s.io", "v1",
	                                               "customresourcedefinitions", false};
	struct fed_kube_ref ref = {&r_crd, NULL, t->cfg.name, NULL};
	struct fed_error err = FED_ERROR_INIT;
	const char *g = t->cfg.target.group;

	if (!*g || !strchr(g, '.') || !strcmp(g, "networking.k8s.io") ||
	    !strcmp(g, "rbac.authorization.k8s.io") || !strcmp(g, "storage.k8s.io") ||
	    !strcmp(g, "apiextensions.k8s.io") || !strcmp(g, "admissionregistration.k8s.io") ||
	    !strcmp(g, "scheduling.k8s.io") || !strcmp(g, "coordination.k8s.io") ||
	    !strcmp(g, "discovery.k8s.io") || !strcmp(g, "node.k8s.io") ||
	    !strcmp(g, "certificates.k8s.io") || !strcmp(g, "events.k8s.io") ||
	    !strcmp(g, "flowcontrol.apiserver.k8s.io")) {
		t->crd_state = CRD_NONE;
		return;
	}
	if (fed_kube_get(t->ctl->host, &ref, crd_fetched, t, &t->crd_call, &err)) {
		FED_LOG_WARN(NULL, "type %s: %s", t->cfg.name, err.msg);
		t->crd_state = CRD_NONE;
	}
}

static void ftc_apply(struct controller *ctl, const cJSON *ftc)
{
	struct fed_error err = FED_ERROR_INIT;
	struct ftype *t = NULL, *old;
	const char *name = fed_obj_name(ftc);
	const char *prop = fed_obj_str(ftc, "spec.propagation");

	if (!name)
		return;
	old = fed_map_get(&ctl->prop->types, name);
	if (prop && strcmp(prop, "Enabled")) {
		if (old) {
			FED_LOG_INFO(NULL, "type %s: propagation disabled, stopping", name);
			ftype_free(fed_map_del(&ctl->prop->types, name));
		}
		return;
	}
	if (ftype_new(ctl, ftc, &t, &err)) {
		FED_LOG_ERR(NULL, "FederatedTypeConfig %s: %s", name, err.msg);
		return;
	}
	if (old) {
		/* same type, same federated type: keep the running machinery */
		if (!strcmp(old->fed_api_version, t->fed_api_version) &&
		    !strcmp(old->target_api_version, t->target_api_version) &&
		    !strcmp(old->cfg.federated.plural, t->cfg.federated.plural) &&
		    old->cfg.status_collection == t->cfg.status_collection) {
			ftype_free(t);
			return;
		}
		ftype_free(fed_map_del(&ctl->prop->types, name));
	}
	if (fed_map_put(&ctl->prop->types, name, t, NULL)) {
		ftype_free(t);
		return;
	}
	FED_LOG_INFO(NULL, "type %s: propagating %s (%s) to members", name, t->cfg.federated.kind,
	             t->fed_api_version);
	fed_informer_start(t->fed_inf);
	learn_crd(t);
	ftype_sync_members(t);
}

static void ftc_add(const cJSON *obj, void *ud)
{
	ftc_apply(ud, obj);
}

static void ftc_update(const cJSON *old, const cJSON *obj, void *ud)
{
	ftc_apply(ud, obj);
}

static void ftc_delete(const cJSON *obj, void *ud)
{
	struct controller *ctl = ud;
	const char *name = fed_obj_name(obj);

	if (name && fed_map_get(&ctl->prop->types, name)) {
		FED_LOG_INFO(NULL, "type %s: FederatedTypeConfig deleted, stopping", name);
		ftype_free(fed_map_del(&ctl->prop->types, name));
	}
}

static void ftcs_synced(void *ud)
{
	enqueue_all(ud);
}

int types_start(struct controller *ctl, struct fed_error *err)
{
	struct fed_informer_opts o;
	int ret;

	if (!(ctl->prop = calloc(1, sizeof(*ctl->prop)))) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	fed_map_init(&ctl->prop->types);
	if ((ret = hooks_subscribe(ctl, on_member, ctl->prop)))
		goto out;
	memset(&o, 0, sizeof(o));
	o.resource = r_ftc;
	o.namespace = ctl->o.fed_namespace;
	o.handlers = (struct fed_informer_handlers){ftc_add, ftc_update, ftc_delete, ftcs_synced};
	o.ud = ctl;
	if ((ret = fed_informer_new(&ctl->prop->ftcs, ctl->host, &o, err)))
		goto out;
	fed_informer_start(ctl->prop->ftcs);
out:
	return ret;
}

void types_stop(struct controller *ctl)
{
	struct propagation *p = ctl->prop;
	struct fed_map_iter it;
	struct fed_map_entry *e;

	if (!p)
		return;
	hooks_unsubscribe(ctl, on_member, p);
	fed_informer_free(p->ftcs);
	p->ftcs = NULL;
	for (e = fed_map_first(&p->types, &it); e; e = fed_map_next(&p->types, &it))
		ftype_free(e->value);
	fed_map_release(&p->types, NULL);
	free(p);
	ctl->prop = NULL;
}
