/* Informer: LIST (paged) then WATCH from the list's resourceVersion into an
 * in-memory store keyed "namespace/name" (or "name" for cluster-scoped
 * objects), with add/update/delete handlers. A 410 re-lists and the
 * difference against the store is delivered as events, so no change is
 * missed or reported twice across watch expiry or a server restart. */
#ifndef FED_INFORMER_H
#define FED_INFORMER_H

#include "fed/kube.h"
#include "fed/map.h"

struct fed_informer;

/* Objects passed to handlers are owned by the informer; do not keep them
 * past the handler (copy with cJSON_Duplicate). Handlers may call
 * fed_informer_free on their own informer. */
struct fed_informer_handlers {
	void (*on_add)(const cJSON *obj, void *ud);
	void (*on_update)(const cJSON *old, const cJSON *obj, void *ud);
	void (*on_delete)(const cJSON *obj, void *ud); /* last known state */
	void (*on_synced)(void *ud);                   /* after every full list is applied */
};

struct fed_informer_opts {
	struct fed_kube_resource resource; /* strings copied */
	const char *namespace;             /* NULL: all namespaces */
	const char *label_selector;
	const char *field_selector;
	long page_size;           /* default 500 */
	int watch_timeout_s;      /* default: random in [300, 600), as client-go */
	bool keep_managed_fields; /* default: dropped from the store to save memory */
	bool metadata_only;       /* store PartialObjectMetadata: names, labels, versions */
	struct fed_informer_handlers handlers;
	void *ud;
};

struct fed_informer_stats {
	unsigned long lists;    /* full lists done */
	unsigned long watches;  /* watch streams opened */
	unsigned long gone;     /* 410s seen */
	unsigned long errors;   /* failed lists or watches */
	unsigned long timeouts; /* watches ended by the client's idle timeout or deadline */
	unsigned long events;   /* handler calls */
};

int fed_informer_new(struct fed_informer **out, struct fed_kube_client *c,
                     const struct fed_informer_opts *o, struct fed_error *err);
void fed_informer_start(struct fed_informer *inf);
/* The server answers again (a health probe passed after failures): a
 * list or watch waiting out its backoff (up to 30 s) starts now, with
 * the backoff reset; a watch that has had no event yet (begun during the
 * outage, it may hang in its connect) is begun again. */
void fed_informer_retry_now(struct fed_informer *inf);
void fed_informer_free(struct fed_informer *inf);

bool fed_informer_synced(const struct fed_informer *inf);
const cJSON *fed_informer_get(const struct fed_informer *inf, const char *ns, const char *name);
size_t fed_informer_count(const struct fed_informer *inf);
/* The store: keys "ns/name", values const cJSON *. Read-only. */
const struct fed_map *fed_informer_store(const struct fed_informer *inf);
const char *fed_informer_resource_version(const struct fed_informer *inf);
void fed_informer_get_stats(const struct fed_informer *inf, struct fed_informer_stats *out);
/* Last list/watch error (code 0 if the last attempt worked). */
const struct fed_error *fed_informer_last_error(const struct fed_informer *inf);

/* The store key of an object. */
int fed_informer_key(struct fed_buf *b, const char *ns, const char *name);

#endif
