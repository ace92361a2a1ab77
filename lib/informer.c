#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "fed/backoff.h"
#include "fed/informer.h"
#include "fed/log.h"

#define BACKOFF_MIN 0.2
#define BACKOFF_MAX 30.0

enum state { IDLE, LISTING, WATCHING, BACKOFF };

struct fed_informer {
	struct fed_kube_client *client;
	struct ev_loop *loop;
	struct fed_kube_resource resource;
	struct fed_kube_ref ref;
	char *group, *version, *plural, *ns, *label, *field;
	long page_size;
	int watch_timeout_s;
	bool keep_managed_fields;
	bool metadata_only;
	struct fed_informer_handlers h;
	void *ud;

	enum state state;
	struct fed_map store; /* key -> cJSON * */
	char *rv;
	bool synced;
	struct fed_kube_pager *pager;
	struct fed_kube_watch *watch;
	unsigned long watch_events; /* of the current watch (bookmarks too) */
	ev_timer timer;
	struct fed_backoff backoff;
	bool relist_after_backoff;
	struct fed_error last_err;
	struct fed_informer_stats stats;
	int busy;
	bool dead;
	char label_for_log[160];
};

static void list_start(struct fed_informer *inf);
static void watch_start(struct fed_informer *inf);

static void obj_free(void *p)
{
	cJSON_Delete(p);
}

int fed_informer_key(struct fed_buf *b, const char *ns, const char *name)
{
	fed_buf_reset(b);
	if (ns && *ns)
		return fed_buf_printf(b, "%s/%s", ns, name ? name : "");
	return fed_buf_puts(b, name ? name : "");
}

static void really_free(struct fed_informer *inf)
{
	fed_kube_pager_cancel(inf->pager);
	fed_kube_watch_cancel(inf->watch);
	ev_timer_stop(inf->loop, &inf->timer);
	fed_map_release(&inf->store, obj_free);
	free(inf->group);
	free(inf->version);
	free(inf->plural);
	free(inf->ns);
	free(inf->label);
	free(inf->field);
	free(inf->rv);
	free(inf);
}

void fed_informer_free(struct fed_informer *inf)
{
	if (!inf)
		return;
	if (inf->busy) {
		inf->dead = true;
		return;
	}
	really_free(inf);
}

/* Every entry point from the loop brackets its work with enter/leave so a
 * handler may free the informer. leave() returns true if it is gone. */
static void enter(struct fed_informer *inf)
{
	inf->busy++;
}

static bool leave(struct fed_informer *inf)
{
	if (--inf->busy == 0 && inf->dead) {
		really_free(inf);
		return true;
	}
	return false;
}

static char *dup_opt(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

int fed_informer_new(struct fed_informer **out, struct fed_kube_client *c,
                     const struct fed_informer_opts *o, struct fed_error *err)
{
	struct fed_informer *inf;
	bool fail = false;

	*out = NULL;
	inf = calloc(1, sizeof(*inf));
	if (!inf)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	inf->client = c;
	inf->loop = fed_kube_client_loop(c);
	inf->group = dup_opt(o->resource.group ? o->resource.group : "", &fail);
	inf->version = dup_opt(o->resource.version, &fail);
	inf->plural = dup_opt(o->resource.resource, &fail);
	inf->ns = dup_opt(o->namespace, &fail);
	inf->label = dup_opt(o->label_selector, &fail);
	inf->field = dup_opt(o->field_selector, &fail);
	if (fail || !inf->version || !inf->plural) {
		really_free(inf);
		return fed_error_set(err, fail ? FED_ENOMEM : FED_EINVAL,
		                     "informer: resource version and name are required");
	}
	inf->resource.group = inf->group;
	inf->resource.version = inf->version;
	inf->resource.resource = inf->plural;
	inf->resource.namespaced = o->resource.namespaced;
	inf->ref.resource = &inf->resource;
	inf->ref.namespace = inf->ns;
	inf->page_size = o->page_size > 0 ? o->page_size : 500;
	inf->watch_timeout_s = o->watch_timeout_s > 0 ? o->watch_timeout_s : 300 + rand() % 300;
	inf->keep_managed_fields = o->keep_managed_fields;
	inf->metadata_only = o->metadata_only;
	inf->h = o->handlers;
	inf->ud = o->ud;
	fed_backoff_init(&inf->backoff, BACKOFF_MIN, BACKOFF_MAX);
	fed_map_init(&inf->store);
	ev_timer_init(&inf->timer, NULL, 0., 0.);
	snprintf(inf->label_for_log, sizeof(inf->label_for_log), "%s", fed_kube_client_name(c));
	*out = inf;
	return 0;
}

static void set_rv(struct fed_informer *inf, const char *rv)
{
	char *d;

	if (!rv || (inf->rv && !strcmp(inf->rv, rv)))
		return;
	d = strdup(rv);
	if (!d)
		return; /* keep the older one: a re-watch from it is still correct */
	free(inf->rv);
	inf->rv = d;
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_informer *inf = w->data;

	enter(inf);
	if (inf->relist_after_backoff)
		list_start(inf);
	else
		watch_start(inf);
	leave(inf);
}

void fed_informer_retry_now(struct fed_informer *inf)
{
	if (!inf)
		return;
	if (inf->state == WATCHING && inf->watch && !inf->watch_events) {
		/* begun while the server did not answer, it may still hang in
		 * its connect (a cut link, no RST): a fresh one. One that got an
		 * event is streaming: left alone. */
		fed_kube_watch_cancel(inf->watch);
		inf->watch = NULL;
		fed_backoff_reset(&inf->backoff);
		enter(inf);
		watch_start(inf);
		leave(inf);
		return;
	}
	if (inf->state != BACKOFF)
		return;
	ev_timer_stop(inf->loop, &inf->timer);
	fed_backoff_reset(&inf->backoff);
	timer_cb(inf->loop, &inf->timer, 0);
}

static void retry_later(struct fed_informer *inf, bool relist)
{
	double d = fed_jitter(fed_backoff_next(&inf->backoff), 0.5, 1.0);

	inf->state = BACKOFF;
	inf->relist_after_backoff = relist;
	ev_timer_stop(inf->loop, &inf->timer);
	ev_timer_init(&inf->timer, timer_cb, d, 0.);
	inf->timer.data = inf;
	ev_timer_start(inf->loop, &inf->timer);
}

static void strip(struct fed_informer *inf, cJSON *obj)
{
	if (!inf->keep_managed_fields)
		cJSON_DeleteItemFromObjectCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "managedFields");
}

/* Store obj (taking ownership) and tell the handlers. */
static void upsert(struct fed_informer *inf, const char *key, cJSON *obj)
{
	cJSON *old = fed_map_get(&inf->store, key);
	const char *orv = old ? fed_obj_resource_version(old) : NULL;
	const char *nrv = fed_obj_resource_version(obj);
	void *prev = NULL;

	if (old && orv && nrv && !strcmp(orv, nrv)) {
		cJSON_Delete(obj); /* same version: already known */
		return;
	}
	if (fed_map_put(&inf->store, key, obj, &prev)) {
		FED_LOG_ERR(inf->label_for_log, "informer %s: out of memory storing %s",
		            inf->plural, key);
		cJSON_Delete(obj);
		return;
	}
	inf->stats.events++;
	if (old && inf->h.on_update)
		inf->h.on_update(old, obj, inf->ud);
	else if (!old && inf->h.on_add)
		inf->h.on_add(obj, inf->ud);
	cJSON_Delete(prev);
}

static void remove_key(struct fed_informer *inf, const char *key, const cJSON *final)
{
	cJSON *old = fed_map_del(&inf->store, key);

	if (!old)
		return;
	inf->stats.events++;
	if (inf->h.on_delete)
		inf->h.on_delete(final ? final : old, inf->ud);
	cJSON_Delete(old);
}

static void list_done(cJSON *list, const struct fed_error *err, void *ud)
{
	struct fed_informer *inf = ud;
	struct fed_buf key = FED_BUF_INIT;
	struct fed_map seen = FED_MAP_INIT;
	struct fed_map_iter it;
	struct fed_map_entry *e;
	cJSON *items, *item;

	inf->pager = NULL;
	enter(inf);
	if (!list) {
		inf->last_err = *err;
		inf->stats.errors++;
		FED_LOG_WARN(inf->label_for_log, "list %s failed: %s", inf->plural, err->msg);
		retry_later(inf, true);
		goto out;
	}
	inf->stats.lists++;
	fed_error_clear(&inf->last_err);
	fed_backoff_reset(&inf->backoff);
	set_rv(inf, fed_obj_resource_version(list));
	items = cJSON_GetObjectItemCaseSensitive(list, "items");
	/* apply the list: adds and updates first, then what vanished */
	while (cJSON_IsArray(items) && (item = cJSON_DetachItemFromArray(items, 0)) != NULL) {
		if (inf->dead) {
			cJSON_Delete(item);
			continue;
		}
		if (fed_informer_key(&key, fed_obj_namespace(item), fed_obj_name(item)) ||
		    fed_map_put(&seen, fed_buf_str(&key), (void *)1, NULL)) {
			cJSON_Delete(item);
			continue;
		}
		strip(inf, item);
		upsert(inf, fed_buf_str(&key), item);
	}
	for (e = fed_map_first(&inf->store, &it); e && !inf->dead;
	     e = fed_map_next(&inf->store, &it))
		if (!fed_map_get(&seen, e->key)) {
			char *k = strdup(e->key);
			if (k)
				remove_key(inf, k, NULL);
			free(k);
		}
	if (inf->dead)
		goto out;
	inf->synced = true;
	if (inf->h.on_synced)
		inf->h.on_synced(inf->ud);
	if (!inf->dead)
		watch_start(inf);
out:
	fed_map_release(&seen, NULL);
	fed_buf_release(&key);
	cJSON_Delete(list);
	leave(inf);
}

static void list_start(struct fed_informer *inf)
{
	struct fed_kube_list_opts o;
	struct fed_error err = FED_ERROR_INIT;

	memset(&o, 0, sizeof(o));
	o.label_selector = inf->label;
	o.field_selector = inf->field;
	o.metadata_only = inf->metadata_only;
	o.limit = inf->page_size;
	inf->state = LISTING;
	if (fed_kube_list_all(inf->client, &inf->ref, &o, list_done, inf, &inf->pager, &err)) {
		inf->last_err = err;
		retry_later(inf, true);
	}
}

static void on_event(enum fed_watch_type type, cJSON *obj, void *ud)
{
	struct fed_informer *inf = ud;
	struct fed_buf key = FED_BUF_INIT;
	cJSON *copy;

	if (inf->dead)
		return;
	enter(inf);
	inf->watch_events++;
	set_rv(inf, fed_obj_resource_version(obj));
	if (type == FED_WATCH_BOOKMARK)
		goto out;
	if (fed_informer_key(&key, fed_obj_namespace(obj), fed_obj_name(obj)))
		goto out;
	if (type == FED_WATCH_DELETED) {
		strip(inf, obj);
		remove_key(inf, fed_buf_str(&key), obj);
		goto out;
	}
	copy = cJSON_Duplicate(obj, 1);
	if (!copy)
		goto out;
	strip(inf, copy);
	upsert(inf, fed_buf_str(&key), copy);
out:
	fed_buf_release(&key);
	leave(inf);
}

static void on_done(const struct fed_error *err, void *ud)
{
	struct fed_informer *inf = ud;

	inf->watch = NULL;
	if (inf->dead)
		return;
	enter(inf);
	if (!err->code) {
		/* the server's timeout: carry on from where we are */
		fed_backoff_reset(&inf->backoff);
		watch_start(inf);
	} else if (err->code == FED_ETIMEOUT) {
		/* the client's idle timeout or deadline (a frozen or half-open
		 * server, or an old one that sends no bookmarks): watch again at
		 * once, from where we are; a server that is really gone fails the
		 * next connect, which backs off */
		FED_LOG_INFO(inf->label_for_log, "watch %s: %s; watching again", inf->plural,
		             err->msg);
		inf->stats.timeouts++;
		watch_start(inf);
	} else if (err->code == FED_EGONE) {
		inf->stats.gone++;
		FED_LOG_INFO(inf->label_for_log, "watch %s: resourceVersion %s expired, re-listing",
		             inf->plural, inf->rv ? inf->rv : "");
		list_start(inf);
	} else {
		inf->last_err = *err;
		inf->stats.errors++;
		FED_LOG_WARN(inf->label_for_log, "watch %s ended: %s", inf->plural, err->msg);
		retry_later(inf, false);
	}
	leave(inf);
}

static void watch_start(struct fed_informer *inf)
{
	struct fed_kube_list_opts o;
	struct fed_error err = FED_ERROR_INIT;

	memset(&o, 0, sizeof(o));
	o.label_selector = inf->label;
	o.field_selector = inf->field;
	o.resource_version = inf->rv;
	o.metadata_only = inf->metadata_only;
	o.allow_bookmarks = true;
	o.timeout_seconds = inf->watch_timeout_s;
	inf->state = WATCHING;
	inf->watch_events = 0;
	inf->stats.watches++;
	if (fed_kube_watch(inf->client, &inf->ref, &o, on_event, on_done, inf, &inf->watch, &err)) {
		inf->last_err = err;
		retry_later(inf, false);
	}
}

void fed_informer_start(struct fed_informer *inf)
{
	if (inf->state != IDLE)
		return;
	list_start(inf);
}

bool fed_informer_synced(const struct fed_informer *inf)
{
	return inf->synced;
}

const cJSON *fed_informer_get(const struct fed_informer *inf, const char *ns, const char *name)
{
	struct fed_buf key = FED_BUF_INIT;
	const cJSON *obj = NULL;

	if (!fed_informer_key(&key, inf->resource.namespaced ? ns : NULL, name))
		obj = fed_map_get(&inf->store, fed_buf_str(&key));
	fed_buf_release(&key);
	return obj;
}

size_t fed_informer_count(const struct fed_informer *inf)
{
	return fed_map_count(&inf->store);
}

const struct fed_map *fed_informer_store(const struct fed_informer *inf)
{
	return &inf->store;
}

const char *fed_informer_resource_version(const struct fed_informer *inf)
{
	return inf->rv;
}

void fed_informer_get_stats(const struct fed_informer *inf, struct fed_informer_stats *out)
{
	*out = inf->stats;
}

const struct fed_error *fed_informer_last_error(const struct fed_informer *inf)
{
	return &inf->last_err;
}
