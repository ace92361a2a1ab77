/* WATCH: a streaming GET whose body is one JSON event per line. An ERROR
 * event carrying 410 ends the stream with FED_EGONE so the caller re-lists. */
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "kube_internal.h"

#define MAX_EVENT_BYTES (64u << 20) /* one object larger than this is an error */

struct fed_kube_watch {
	struct fed_kube_client *client;
	struct fed_kube_call *call;
	struct fed_buf line;
	fed_kube_event_cb on_event;
	fed_kube_done_cb on_done;
	void *ud;
	struct fed_error err; /* set by the stream itself: 410, bad event */
	bool in_data;
	bool canceled;
	bool finished;
};

static void watch_free(struct fed_kube_watch *w)
{
	fed_buf_release(&w->line);
	free(w);
}

void fed_kube_watch_cancel(struct fed_kube_watch *w)
{
	if (!w || w->canceled || w->finished)
		return;
	w->canceled = true;
	fed_kube_call_cancel(w->call);
	w->call = NULL;
	if (!w->in_data)
		watch_free(w);
}

static enum fed_watch_type event_type(const char *t, bool *ok)
{
	*ok = true;
	if (!strcmp(t, "ADDED"))
		return FED_WATCH_ADDED;
	if (!strcmp(t, "MODIFIED"))
		return FED_WATCH_MODIFIED;
	if (!strcmp(t, "DELETED"))
		return FED_WATCH_DELETED;
	if (!strcmp(t, "BOOKMARK"))
		return FED_WATCH_BOOKMARK;
	*ok = false;
	return FED_WATCH_ADDED;
}

int fed_watch_decode(const char *line, size_t n, enum fed_watch_type *type, cJSON **event,
                     struct fed_error *err)
{
	cJSON *ev = cJSON_ParseWithLength(line, n);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
	bool ok;

	*event = NULL;
	if (!cJSON_IsString(t) || !cJSON_IsObject(obj)) {
		cJSON_Delete(ev);
		return fed_error_set(err, FED_ERR, "malformed watch event");
	}
	if (!strcmp(t->valuestring, "ERROR")) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		const char *msg = fed_obj_str(obj, "message");
		int http = cJSON_IsNumber(code) ? code->valueint : 0;
		fed_error_set(err, http == 410 ? FED_EGONE : FED_EUNAVAILABLE, "watch: %d %s", http,
		              msg ? msg : "");
		err->http_status = http;
		cJSON_Delete(ev);
		return err->code;
	}
	*type = event_type(t->valuestring, &ok);
	if (!ok) {
		cJSON_Delete(ev);
		return 1; /* unknown type: skip, the stream goes on */
	}
	*event = ev;
	return 0;
}

/* Returns non-zero to end the stream. */
static int handle_line(struct fed_kube_watch *w, const char *s, size_t n)
{
	enum fed_watch_type t;
	cJSON *ev = NULL;
	int ret = fed_watch_decode(s, n, &t, &ev, &w->err);

	if (ret == 1)
		return 0;
	if (ret) {
		fed_error_wrap(&w->err, "cluster %s", w->client->name);
		return 1;
	}
	w->on_event(t, cJSON_GetObjectItemCaseSensitive(ev, "object"), w->ud);
	cJSON_Delete(ev);
	return 0;
}

static int watch_data(const char *data, size_t len, void *ud)
{
	struct fed_kube_watch *w = ud;
	size_t start = 0, i;
	int stop = 0;

	if (fed_buf_append(&w->line, data, len))
		return 1;
	w->in_data = true;
	for (i = 0; i < w->line.len && !stop && !w->canceled; i++) {
		if (w->line.data[i] != '\n')
			continue;
		if (i > start)
			stop = handle_line(w, w->line.data + start, i - start);
		start = i + 1;
	}
	w->in_data = false;
	if (w->canceled) {
		watch_free(w);
		return 1;
	}
	fed_buf_consume(&w->line, start);
	if (!stop && w->line.len > MAX_EVENT_BYTES) {
		fed_error_set(&w->err, FED_ERR, "cluster %s: watch event larger than %u bytes",
		              w->client->name, MAX_EVENT_BYTES);
		stop = 1;
	}
	return stop;
}

static void watch_done(struct fed_kube_response *resp, void *ud)
{
	struct fed_kube_watch *w = ud;
	const struct fed_error *err = w->err.code ? &w->err : &resp->err;

	w->call = NULL;
	w->finished = true;
	w->on_done(err, w->ud);
	watch_free(w);
}

int fed_kube_watch(struct fed_kube_client *c, const struct fed_kube_ref *ref,
                   const struct fed_kube_list_opts *o, fed_kube_event_cb on_event,
                   fed_kube_done_cb on_done, void *ud, struct fed_kube_watch **out,
                   struct fed_error *err)
{
	struct fed_kube_watch *w;
	struct fed_buf p = FED_BUF_INIT;
	struct fed_kube_request req;
	struct fed_kube_ref r = *ref;
	int ret;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	w->client = c;
	w->on_event = on_event;
	w->on_done = on_done;
	w->ud = ud;
	r.name = NULL;
	if (fed_kube_path(&p, &r) || fed_kube_list_query(&p, o, true)) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto fail;
	}
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = fed_buf_str(&p);
	/* the server ends the watch at timeoutSeconds: one that does not is
	 * cut a margin later (the idle timeout covers a silent one) */
	req.timeout_ms = -1;
	if (o && o->timeout_seconds > 0)
		req.timeout_ms =
		    (int)((o->timeout_seconds + c->limits.watch_deadline_margin_s) * 1000.0);
	req.max_retries = 0;
	req.on_data = watch_data;
	if (o && o->metadata_only)
		req.accept = FED_KUBE_ACCEPT_METADATA;
	ret = fed_kube_request(c, &req, watch_done, w, &w->call, err);
	if (ret)
		goto fail;
	fed_buf_release(&p);
	*out = w;
	return 0;
fail:
	fed_buf_release(&p);
	watch_free(w);
	return ret;
}
