/* The machinery per FederatedTypeConfig: started when an FTC with
 * propagation Enabled appears, rebuilt when it changes, stopped when it
 * goes. Per type: an informer on its Federated<Kind> objects in the host
 * and the queue of their keys to sync; the members' informers of the type
 * are in member_informers.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "propagate.h"
#include "propagation.h"

static const struct fed_kube_resource r_ftc = {"core.kubefed.io", "v1beta1", "federatedtypeconfigs",
                                               true};

static void ftype_free(struct ftype *t);

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
		types_enqueue_all(t->ctl);
	else
		ftype_enqueue_all(t);
}

void types_enqueue_all(struct controller *ctl)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	for (e = fed_map_first(&ctl->prop->types, &it); e; e = fed_map_next(&ctl->prop->types, &it))
		ftype_enqueue_all(e->value);
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
	types_enqueue_all(ud);
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
	if ((ret = hooks_subscribe(ctl, types_on_member, ctl->prop)))
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
	hooks_unsubscribe(ctl, types_on_member, p);
	fed_informer_free(p->ftcs);
	p->ftcs = NULL;
	for (e = fed_map_first(&p->types, &it); e; e = fed_map_next(&p->types, &it))
		ftype_free(e->value);
	fed_map_release(&p->types, NULL);
	free(p);
	ctl->prop = NULL;
}
