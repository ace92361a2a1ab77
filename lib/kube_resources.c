/* Typed verbs over fed_kube_request: paths, query strings, CRUD, paging. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_internal.h"

int fed_kube_path(struct fed_buf *b, const struct fed_kube_ref *ref)
{
	const struct fed_kube_resource *r = ref->resource;
	int ret = 0;

	if (!r->group || !*r->group)
		ret |= fed_buf_printf(b, "/api/%s", r->version);
	else
		ret |= fed_buf_printf(b, "/apis/%s/%s", r->group, r->version);
	if (r->namespaced && ref->namespace && *ref->namespace) {
		ret |= fed_buf_puts(b, "/namespaces/");
		ret |= fed_buf_urlencode(b, ref->namespace);
	}
	ret |= fed_buf_printf(b, "/%s", r->resource);
	if (ref->name) {
		ret |= fed_buf_puts(b, "/");
		ret |= fed_buf_urlencode(b, ref->name);
	}
	if (ref->subresource)
		ret |= fed_buf_printf(b, "/%s", ref->subresource);
	return ret ? FED_ENOMEM : 0;
}

static int add_param(struct fed_buf *b, bool *first, const char *key, const char *val)
{
	if (!val || !*val)
		return 0;
	if (fed_buf_puts(b, *first ? "?" : "&") || fed_buf_puts(b, key) || fed_buf_puts(b, "=") ||
	    fed_buf_urlencode(b, val))
		return FED_ENOMEM;
	*first = false;
	return 0;
}

int fed_kube_list_query(struct fed_buf *b, const struct fed_kube_list_opts *o, bool watch)
{
	bool first = true;
	char num[32];
	int ret = 0;

	if (watch)
		ret |= add_param(b, &first, "watch", "true");
	if (!o)
		return ret;
	ret |= add_param(b, &first, "labelSelector", o->label_selector);
	ret |= add_param(b, &first, "fieldSelector", o->field_selector);
	ret |= add_param(b, &first, "resourceVersion", o->resource_version);
	ret |= add_param(b, &first, "resourceVersionMatch", o->resource_version_match);
	ret |= add_param(b, &first, "continue", o->continue_token);
	if (o->limit > 0) {
		snprintf(num, sizeof(num), "%ld", o->limit);
		ret |= add_param(b, &first, "limit", num);
	}
	if (o->timeout_seconds > 0) {
		snprintf(num, sizeof(num), "%d", o->timeout_seconds);
		ret |= add_param(b, &first, "timeoutSeconds", num);
	}
	if (o->allow_bookmarks)
		ret |= add_param(b, &first, "allowWatchBookmarks", "true");
	if (o->send_initial_events)
		ret |= add_param(b, &first, "sendInitialEvents", "true");
	return ret ? FED_ENOMEM : 0;
}

static int write_query(struct fed_buf *b, const struct fed_kube_write_opts *o, bool apply)
{
	bool first = strchr(fed_buf_str(b), '?') == NULL;
	int ret = 0;

	ret |=
	    add_param(b, &first, "fieldManager", o && o->field_manager ? o->field_manager : "fed");
	if (apply && o && o->force)
		ret |= add_param(b, &first, "force", "true");
	if (o && o->dry_run)
		ret |= add_param(b, &first, "dryRun", "All");
	return ret ? FED_ENOMEM : 0;
}

/* Send method on path with an optional body; owns nothing it is given. */
static int send_req_accept(struct fed_kube_client *c, const char *method, struct fed_buf *path,
                           const char *body, const char *ctype, const char *accept, fed_kube_cb cb,
                           void *ud, struct fed_kube_call **out, struct fed_error *err)
{
	struct fed_kube_request req;

	memset(&req, 0, sizeof(req));
	req.accept = accept;
	req.method = method;
	req.path = fed_buf_str(path);
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = ctype;
	req.max_retries = -1;
	return fed_kube_request(c, &req, cb, ud, out, err);
}

static int send_req(struct fed_kube_client *c, const char *method, struct fed_buf *path,
                    const char *body, const char *ctype, fed_kube_cb cb, void *ud,
                    struct fed_kube_call **out, struct fed_error *err)
{
	return send_req_accept(c, method, path, body, ctype, NULL, cb, ud, out, err);
}

int fed_kube_get(struct fed_kube_client *c, const struct fed_kube_ref *ref, fed_kube_cb cb,
                 void *ud, struct fed_kube_call **out, struct fed_error *err)
{
	struct fed_buf p = FED_BUF_INIT;
	int ret;

	ret = fed_kube_path(&p, ref);
	if (!ret)
		ret = send_req(c, "GET", &p, NULL, NULL, cb, ud, out, err);
	else
		fed_error_set(err, ret, "out of memory");
	fed_buf_release(&p);
	return ret;
}

int fed_kube_list(struct fed_kube_client *c, const struct fed_kube_ref *ref,
                  const struct fed_kube_list_opts *o, fed_kube_cb cb, void *ud,
                  struct fed_kube_call **out, struct fed_error *err)
{
	struct fed_buf p = FED_BUF_INIT;
	int ret;

	ret = fed_kube_path(&p, ref);
	if (!ret)
		ret = fed_kube_list_query(&p, o, false);
	if (!ret)
		ret = send_req_accept(c, "GET", &p, NULL, NULL,
		                      o && o->metadata_only ? FED_KUBE_ACCEPT_METADATA_LIST : NULL,
		                      cb, ud, out, err);
	else
		fed_error_set(err, ret, "out of memory");
	fed_buf_release(&p);
	return ret;
}

static int write_obj(struct fed_kube_client *c, const char *method, const struct fed_kube_ref *ref,
                     const cJSON *obj, const struct fed_kube_write_opts *o, fed_kube_cb cb,
                     void *ud, struct fed_kube_call **out, struct fed_error *err)
{
	struct fed_buf p = FED_BUF_INIT;
	struct fed_kube_ref r = *ref;
	char *body = NULL;
	int ret;

	if (strcmp(method, "PUT") == 0 && !r.name)
		r.name = fed_obj_name(obj);
	if (strcmp(method, "PUT") == 0 && !r.name) {
		ret = fed_error_set(err, FED_EINVAL, "update: object has no metadata.name");
		goto out;
	}
	if (strcmp(method, "POST") == 0 && !r.namespace && r.resource->namespaced)
		r.namespace = fed_obj_namespace(obj);
	body = cJSON_PrintUnformatted(obj);
	if (!body || fed_kube_path(&p, &r) || write_query(&p, o, false)) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	ret = send_req(c, method, &p, body, NULL, cb, ud, out, err);
out:
	free(body);
	fed_buf_release(&p);
	return ret;
}

int fed_kube_create(struct fed_kube_client *c, const struct fed_kube_ref *ref, const cJSON *obj,
                    const struct fed_kube_write_opts *o, fed_kube_cb cb, void *ud,
                    struct fed_kube_call **out, struct fed_error *err)
{
	struct fed_kube_ref r = *ref;

	r.name = NULL;
	return write_obj(c, "POST", &r, obj, o, cb, ud, out, err);
}

int fed_kube_update(struct fed_kube_client *c, const struct fed_kube_ref *ref, const cJSON *obj,
                    const struct fed_kube_write_opts *o, fed_kube_cb cb, void *ud,
                    struct fed_kube_call **out, struct fed_error *err)
{
	return write_obj(c, "PUT", ref, obj, o, cb, ud, out, err);
}

int fed_kube_patch(struct fed_kube_client *c, const struct fed_kube_ref *ref,
                   enum fed_patch_type type, const char *patch, const struct fed_kube_write_opts *o,
                   fed_kube_cb cb, void *ud, struct fed_kube_call **out, struct fed_error *err)
{
	static const char *ctypes[] = {
	    "application/merge-patch+json", "application/json-patch+json",
	    "application/strategic-merge-patch+json", "application/apply-patch+yaml"};
	struct fed_buf p = FED_BUF_INIT;
	int ret;

	if (!ref->name)
		return fed_error_set(err, FED_EINVAL, "patch: no object name");
	if (fed_kube_path(&p, ref) || write_query(&p, o, type == FED_PATCH_APPLY)) {
		fed_buf_release(&p);
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	ret = send_req(c, "PATCH", &p, patch, ctypes[type], cb, ud, out, err);
	fed_buf_release(&p);
	return ret;
}

int fed_kube_delete(struct fed_kube_client *c, const struct fed_kube_ref *ref,
                    const struct fed_kube_delete_opts *o, fed_kube_cb cb, void *ud,
                    struct fed_kube_call **out, struct fed_error *err)
{
	struct fed_buf p = FED_BUF_INIT;
	cJSON *opts = NULL, *pre;
	char *body = NULL;
	int ret = FED_ENOMEM;

	if (!ref->name)
		return fed_error_set(err, FED_EINVAL, "delete: no object name");
	opts = cJSON_CreateObject();
	if (!opts || fed_kube_path(&p, ref))
		goto oom;
	cJSON_AddStringToObject(opts, "apiVersion", "v1");
	cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
	if (o && (o->precondition_uid || o->precondition_resource_version)) {
		pre = cJSON_AddObjectToObject(opts, "preconditions");
		if (!pre)
			goto oom;
		if (o->precondition_uid)
			cJSON_AddStringToObject(pre, "uid", o->precondition_uid);
		if (o->precondition_resource_version)
			cJSON_AddStringToObject(pre, "resourceVersion",
			                        o->precondition_resource_version);
	}
	if (o && o->propagation_policy)
		cJSON_AddStringToObject(opts, "propagationPolicy", o->propagation_policy);
	if (o && o->grace_period_seconds >= 0)
		cJSON_AddNumberToObject(opts, "gracePeriodSeconds",
		                        (double)o->grace_period_seconds);
	if (o && o->dry_run) {
		cJSON *a = cJSON_AddArrayToObject(opts, "dryRun");
		if (!a)
			goto oom;
		cJSON_AddItemToArray(a, cJSON_CreateString("All"));
	}
	body = cJSON_PrintUnformatted(opts);
	if (!body)
		goto oom;
	ret = send_req(c, "DELETE", &p, body, NULL, cb, ud, out, err);
	goto out;
oom:
	ret = fed_error_set(err, FED_ENOMEM, "out of memory");
out:
	cJSON_Delete(opts);
	free(body);
	fed_buf_release(&p);
	return ret;
}

/* ---- pager ------------------------------------------------------------- */

struct fed_kube_pager {
	struct fed_kube_client *client;
	struct fed_kube_resource resource;
	struct fed_kube_ref ref;
	struct fed_kube_list_opts opts;
	char *ns, *label, *field, *rv, *cont;
	cJSON *items;
	struct fed_kube_call *call;
	fed_kube_list_cb cb;
	void *ud;
};

static void pager_free(struct fed_kube_pager *p)
{
	if (!p)
		return;
	fed_kube_call_cancel(p->call);
	cJSON_Delete(p->items);
	free(p->ns);
	free(p->label);
	free(p->field);
	free(p->rv);
	free(p->cont);
	free(p);
}

void fed_kube_pager_cancel(struct fed_kube_pager *p)
{
	pager_free(p);
}

static int pager_next(struct fed_kube_pager *p, struct fed_error *err);

static void pager_done(struct fed_kube_pager *p, cJSON *list, const struct fed_error *err)
{
	fed_kube_list_cb cb = p->cb;
	void *ud = p->ud;

	p->call = NULL;
	pager_free(p);
	cb(list, err, ud);
}

static void pager_cb(struct fed_kube_response *resp, void *ud)
{
	struct fed_kube_pager *p = ud;
	struct fed_error err = FED_ERROR_INIT;
	cJSON *items, *item, *meta, *list;
	const char *cont;

	p->call = NULL;
	if (resp->err.code == FED_EGONE && p->cont) {
		/* the continue token expired: start over with one unpaged list */
		free(p->cont);
		p->cont = NULL;
		p->opts.limit = 0;
		cJSON_Delete(p->items);
		p->items = cJSON_CreateArray();
		if (!p->items || pager_next(p, &err))
			pager_done(p, NULL, &err);
		return;
	}
	if (resp->err.code) {
		pager_done(p, NULL, &resp->err);
		return;
	}
	items = cJSON_GetObjectItemCaseSensitive(resp->json, "items");
	meta = cJSON_GetObjectItemCaseSensitive(resp->json, "metadata");
	if (!cJSON_IsObject(resp->json) ||
	    (items && !cJSON_IsArray(items) && !cJSON_IsNull(items))) {
		fed_error_set(&err, FED_ERR, "cluster %s: list answer is not a list",
		              p->client->name);
		pager_done(p, NULL, &err);
		return;
	}
	/* move items over without copying */
	while (cJSON_IsArray(items) && (item = cJSON_DetachItemFromArray(items, 0)) != NULL)
		cJSON_AddItemToArray(p->items, item);
	cont = fed_obj_str(resp->json, "metadata.continue");
	if (cont && *cont) {
		free(p->cont);
		p->cont = strdup(cont);
		if (!p->cont || pager_next(p, &err))
			pager_done(p, NULL, &err);
		return;
	}
	/* done: the last page's metadata carries the list's resourceVersion */
	list = cJSON_CreateObject();
	if (!list) {
		fed_error_set(&err, FED_ENOMEM, "out of memory");
		pager_done(p, NULL, &err);
		return;
	}
	if (meta)
		cJSON_AddItemToObject(list, "metadata",
		                      cJSON_DetachItemViaPointer(resp->json, meta));
	cJSON_AddItemToObject(list, "items", p->items);
	p->items = NULL;
	pager_done(p, list, NULL);
}

static int pager_next(struct fed_kube_pager *p, struct fed_error *err)
{
	p->opts.continue_token = p->cont;
	/* a continued page must not carry resourceVersion */
	p->opts.resource_version = p->cont ? NULL : p->rv;
	return fed_kube_list(p->client, &p->ref, &p->opts, pager_cb, p, &p->call, err);
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

int fed_kube_list_all(struct fed_kube_client *c, const struct fed_kube_ref *ref,
                      const struct fed_kube_list_opts *o, fed_kube_list_cb cb, void *ud,
                      struct fed_kube_pager **out, struct fed_error *err)
{
	struct fed_kube_pager *p;
	bool fail = false;
	int ret;

	if (out)
		*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	p->client = c;
	p->resource = *ref->resource;
	p->ref.resource = &p->resource;
	p->ns = dup_or_null(ref->namespace, &fail);
	p->ref.namespace = p->ns;
	if (o)
		p->opts = *o;
	p->label = dup_or_null(p->opts.label_selector, &fail);
	p->field = dup_or_null(p->opts.field_selector, &fail);
	p->rv = dup_or_null(p->opts.resource_version, &fail);
	p->opts.label_selector = p->label;
	p->opts.field_selector = p->field;
	p->opts.resource_version_match = NULL;
	if (p->opts.limit <= 0)
		p->opts.limit = 500;
	p->items = cJSON_CreateArray();
	p->cb = cb;
	p->ud = ud;
	/* the resource strings must outlive the caller's struct */
	if (fail || !p->items) {
		pager_free(p);
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	ret = pager_next(p, err);
	if (ret) {
		pager_free(p);
		return ret;
	}
	if (out)
		*out = p;
	return 0;
}

/* ---- object helpers ---------------------------------------------------- */

const char *fed_obj_str(const cJSON *obj, const char *dotted)
{
	char key[128];
	const char *s = dotted;

	while (obj && *s) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, s, n);
		key[n] = '\0';
		obj = cJSON_GetObjectItemCaseSensitive(obj, key);
		s += n + (dot ? 1 : 0);
	}
	return cJSON_IsString(obj) ? obj->valuestring : NULL;
}

const char *fed_obj_name(const cJSON *obj)
{
	return fed_obj_str(obj, "metadata.name");
}

const char *fed_obj_namespace(const cJSON *obj)
{
	return fed_obj_str(obj, "metadata.namespace");
}

const char *fed_obj_resource_version(const cJSON *obj)
{
	return fed_obj_str(obj, "metadata.resourceVersion");
}
