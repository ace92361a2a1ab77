/* Asynchronous Kubernetes API client: one libcurl multi handle driven by a
 * libev loop (curl's evhiperfifo pattern). Nothing here blocks the loop:
 * an exec credential plugin runs as a child the loop watches, and the
 * client's calls wait for its credential (lib/kube_exec.c).
 *
 * Memory: the client copies its rest config. A response, its body and its
 * parsed JSON belong to the call and are freed when the callback returns;
 * a callback may keep the JSON by setting resp->json to NULL. After
 * fed_kube_call_cancel() or fed_kube_client_free() no callback runs. */
#ifndef FED_KUBE_H
#define FED_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "fed/buf.h"
#include "fed/error.h"
#include "fed/kubeconfig.h"

struct ev_loop;
struct fed_kube_client;
struct fed_kube_call;

/* A resource type as the API addresses it. */
struct fed_kube_resource {
	const char *group; /* "" or NULL for the core group */
	const char *version;
	const char *resource; /* plural, lowercase */
	bool namespaced;
};

/* One object, or a collection when name is NULL. namespace NULL on a
 * namespaced resource means all namespaces. */
struct fed_kube_ref {
	const struct fed_kube_resource *resource;
	const char *namespace;
	const char *name;
	const char *subresource; /* "status", "scale", ... */
};

struct fed_kube_response {
	int status;           /* HTTP status, 0 when no response arrived */
	struct fed_error err; /* code 0 on 2xx */
	const char *body;     /* raw body, NUL-terminated */
	size_t body_len;
	cJSON *json;        /* parsed body, NULL if not JSON */
	double retry_after; /* seconds from Retry-After, 0 if absent */
	/* the name the client was made with (a member's cluster name): what a
	 * callback logs, so that it needs no heap ud, which would leak when
	 * the client is freed before the call ends (no callback runs then) */
	const char *client;
};

typedef void (*fed_kube_cb)(struct fed_kube_response *resp, void *ud);
/* Streaming body: called per chunk as it arrives; return non-zero to abort. */
typedef int (*fed_kube_data_cb)(const char *data, size_t len, void *ud);

/* Accept headers for metadata-only reads; plain JSON is the fallback a
 * server without the meta.k8s.io transformation answers with. */
#define FED_KUBE_ACCEPT_METADATA_LIST                                                              \
	"application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
#define FED_KUBE_ACCEPT_METADATA                                                                   \
	"application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

struct fed_kube_request {
	const char *method; /* GET, POST, PUT, PATCH, DELETE */
	const char *path;   /* absolute, with query: "/api/v1/namespaces?limit=5" */
	const char *body;
	size_t body_len;
	const char *content_type; /* default application/json */
	const char *accept;       /* default application/json */
	int timeout_ms;           /* 0: client default; -1: none (watches) */
	int max_retries;          /* -1: client default */
	fed_kube_data_cb on_data; /* set for streaming (watch) */
	bool exempt;              /* not bounded by max_inflight (health probes) */
	bool probe; /* a small answer is expected (/readyz, /version): the probe cap */
};

struct fed_kube_client_stats {
	unsigned long requests; /* attempts sent, retries included */
	unsigned long retries;
	unsigned long throttled; /* requests that waited for the rate limiter */
	unsigned long inflight;
	unsigned long queued;
	unsigned long http2;     /* responses received over HTTP/2 */
	unsigned long writes;    /* successful POST/PUT/PATCH/DELETE */
	unsigned long too_large; /* responses aborted at their size cap */
};

int fed_kube_client_new(struct fed_kube_client **out, struct ev_loop *loop,
                        const struct fed_rest_config *cfg, const char *name, struct fed_error *err);
void fed_kube_client_free(struct fed_kube_client *c);
const char *fed_kube_client_name(const struct fed_kube_client *c);
const char *fed_kube_client_server(const struct fed_kube_client *c);
struct ev_loop *fed_kube_client_loop(const struct fed_kube_client *c);
void fed_kube_client_stats(const struct fed_kube_client *c, struct fed_kube_client_stats *out);
/* What it takes to open a connection of one's own to the client's server
 * (cluster connect joins a caller's bytes to it): the config's address and
 * TLS material and the credential in use now (a token file re-read, an
 * exec plugin's last credential). Borrowed from the client: valid until
 * the next call into it. FED_EUNAUTHORIZED when no credential is at hand
 * (no exec credential yet, an unreadable token file). */
struct fed_kube_dial {
	const char *server;          /* "https://host:port[/prefix]" */
	const char *tls_server_name; /* NULL: the server's host */
	const char *unix_socket;     /* connect here instead (agents' clusters) */
	const char *proxy_url;
	const char *ca_pem; /* NULL: the system's trust store */
	size_t ca_len;
	const char *cert_pem, *key_pem; /* client certificate, NULL for none */
	size_t cert_len, key_len;
	const char *token; /* bearer token, NULL for none */
};
int fed_kube_client_dial(struct fed_kube_client *c, struct fed_kube_dial *out,
                         struct fed_error *err);
/* Maximum concurrent non-streaming requests (default 32); more wait in order. */
void fed_kube_client_set_max_inflight(struct fed_kube_client *c, int n);

/* What a server (or whatever answers in its place) can make the client
 * hold. A zero field keeps the default. A body past its cap aborts the call
 * with an error naming the cap and its *_flag (how the user raises it) and
 * is not retried; on_too_large, if set, is told (for a metric). A watch
 * that receives no byte for watch_idle_s ends with FED_ETIMEOUT, and one
 * asked for timeoutSeconds ends at the latest that long plus
 * watch_deadline_margin_s after it started: either way its caller watches
 * again, so a frozen or half-open server cannot leave it hanging. */
struct fed_kube_limits {
	size_t max_response_bytes;      /* non-streaming bodies, default 256 MiB */
	const char *max_response_flag;  /* e.g. "--max-response-bytes" */
	size_t max_probe_bytes;         /* requests marked probe, default 1 MiB */
	const char *max_probe_flag;     /* e.g. "--max-probe-response-bytes" */
	double watch_idle_s;            /* default 120 */
	double watch_deadline_margin_s; /* default 30 */
	void (*on_too_large)(const char *client, void *ud);
	void *ud;
};
void fed_kube_client_set_limits(struct fed_kube_client *c, const struct fed_kube_limits *l);

int fed_kube_request(struct fed_kube_client *c, const struct fed_kube_request *req, fed_kube_cb cb,
                     void *ud, struct fed_kube_call **out, struct fed_error *err);
void fed_kube_call_cancel(struct fed_kube_call *call);

/* Paths. */
int fed_kube_path(struct fed_buf *b, const struct fed_kube_ref *ref);

struct fed_kube_list_opts {
	const char *label_selector;
	const char *field_selector;
	const char *resource_version;
	const char *resource_version_match; /* "NotOlderThan", "Exact" */
	const char *continue_token;
	long limit;
	int timeout_seconds; /* watches: server-side timeout */
	bool allow_bookmarks;
	bool send_initial_events;
	/* Ask for PartialObjectMetadata(List): objects carry apiVersion, kind
	 * and metadata only (meta.k8s.io/v1), which is all a caller that only
	 * needs names and labels should pay for. */
	bool metadata_only;
};
int fed_kube_list_query(struct fed_buf *b, const struct fed_kube_list_opts *o, bool watch);

enum fed_patch_type {
	FED_PATCH_MERGE,     /* application/merge-patch+json */
	FED_PATCH_JSON,      /* application/json-patch+json */
	FED_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in types only) */
	FED_PATCH_APPLY,     /* server-side apply: application/apply-patch+yaml */
};

struct fed_kube_write_opts {
	const char *field_manager; /* default "fed" */
	bool force;                /* apply: take ownership of conflicting fields */
	bool dry_run;
};

struct fed_kube_delete_opts {
	const char *precondition_uid;
	const char *precondition_resource_version;
	const char *propagation_policy; /* Foreground, Background, Orphan */
	long grace_period_seconds;      /* -1: server default */
	bool dry_run;
};
/* an initializer, which clang-format 14 would lay out as a block */
/* clang-format off */
#define FED_KUBE_DELETE_OPTS_INIT {NULL, NULL, NULL, -1, false}
/* clang-format on */

/* CRUD. obj is not consumed. For update, the name is taken from obj's
 * metadata.name when ref->name is NULL. */
int fed_kube_get(struct fed_kube_client *c, const struct fed_kube_ref *ref, fed_kube_cb cb,
                 void *ud, struct fed_kube_call **out, struct fed_error *err);
int fed_kube_list(struct fed_kube_client *c, const struct fed_kube_ref *ref,
                  const struct fed_kube_list_opts *o, fed_kube_cb cb, void *ud,
                  struct fed_kube_call **out, struct fed_error *err);
int fed_kube_create(struct fed_kube_client *c, const struct fed_kube_ref *ref, const cJSON *obj,
                    const struct fed_kube_write_opts *o, fed_kube_cb cb, void *ud,
                    struct fed_kube_call **out, struct fed_error *err);
int fed_kube_update(struct fed_kube_client *c, const struct fed_kube_ref *ref, const cJSON *obj,
                    const struct fed_kube_write_opts *o, fed_kube_cb cb, void *ud,
                    struct fed_kube_call **out, struct fed_error *err);
int fed_kube_patch(struct fed_kube_client *c, const struct fed_kube_ref *ref,
                   enum fed_patch_type type, const char *patch, const struct fed_kube_write_opts *o,
                   fed_kube_cb cb, void *ud, struct fed_kube_call **out, struct fed_error *err);
int fed_kube_delete(struct fed_kube_client *c, const struct fed_kube_ref *ref,
                    const struct fed_kube_delete_opts *o, fed_kube_cb cb, void *ud,
                    struct fed_kube_call **out, struct fed_error *err);

/* LIST every page (limit/continue) into one list object. If the continue
 * token expires (410) the list restarts without paging, as client-go does.
 * cb gets the list ({"metadata":{"resourceVersion"},"items":[...]}) and owns
 * it, or NULL with err set. */
struct fed_kube_pager;
typedef void (*fed_kube_list_cb)(cJSON *list, const struct fed_error *err, void *ud);
int fed_kube_list_all(struct fed_kube_client *c, const struct fed_kube_ref *ref,
                      const struct fed_kube_list_opts *o, fed_kube_list_cb cb, void *ud,
                      struct fed_kube_pager **out, struct fed_error *err);
void fed_kube_pager_cancel(struct fed_kube_pager *p);

/* WATCH. Events arrive one JSON line at a time; object is borrowed. The
 * stream ends with done(err): err->code 0 when the server closed it (its
 * timeout), FED_EGONE when the resourceVersion is too old (re-list),
 * FED_ETIMEOUT when the client's idle timeout or deadline cut it (see
 * struct fed_kube_limits; watch again), other codes for transport or HTTP
 * errors. */
enum fed_watch_type {
	FED_WATCH_ADDED,
	FED_WATCH_MODIFIED,
	FED_WATCH_DELETED,
	FED_WATCH_BOOKMARK,
};
typedef void (*fed_kube_event_cb)(enum fed_watch_type type, cJSON *object, void *ud);
typedef void (*fed_kube_done_cb)(const struct fed_error *err, void *ud);
struct fed_kube_watch;
int fed_kube_watch(struct fed_kube_client *c, const struct fed_kube_ref *ref,
                   const struct fed_kube_list_opts *o, fed_kube_event_cb on_event,
                   fed_kube_done_cb on_done, void *ud, struct fed_kube_watch **out,
                   struct fed_error *err);
void fed_kube_watch_cancel(struct fed_kube_watch *w);

/* Run the loop until *flag becomes true or timeout_s passes (for CLIs and
 * tests that do one thing at a time). Returns 0, or FED_ETIMEOUT. */
int fed_kube_wait(struct ev_loop *loop, const bool *flag, double timeout_s);

/* Small helpers over cJSON objects. */
const char *fed_obj_str(const cJSON *obj, const char *dotted_path);
const char *fed_obj_name(const cJSON *obj);
const char *fed_obj_namespace(const cJSON *obj);
const char *fed_obj_resource_version(const cJSON *obj);

#endif
