/* The request engine: libcurl multi on libev (curl's evhiperfifo pattern),
 * a token-bucket rate limiter and an in-flight bound per client, and the
 * lists a call moves through (queued, active, delayed for a retry).
 * Each attempt's credentials and curl easy handle are set up in
 * kube_easy.c; completion (error mapping, retries with backoff that honour
 * Retry-After) is in kube_call.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "kube_internal.h"

#define DEFAULT_QPS          50.0
#define DEFAULT_BURST        100
#define DEFAULT_TIMEOUT_MS   30000
#define DEFAULT_MAX_RETRIES  5
#define DEFAULT_MAX_INFLIGHT 32
/* LISTs of large clusters run to tens of MiB; a page of 500 objects of
 * the 1.5 MiB etcd maximum is 750 MiB in theory, but paging keeps real
 * pages far below this. */
#define DEFAULT_MAX_RESPONSE (256u << 20)
/* /readyz, /healthz and /version answer in bytes. */
#define DEFAULT_MAX_PROBE (1u << 20)
/* Twice the apiserver's one-minute bookmark interval with room to spare:
 * a healthy watch that asked for bookmarks is never idle this long. */
#define DEFAULT_WATCH_IDLE 120.0
/* The server ends a watch at its timeoutSeconds; past this much more, it
 * is not going to. */
#define DEFAULT_WATCH_MARGIN 30.0

struct sockinfo {
	ev_io io;
	struct fed_kube_client *client;
	struct sockinfo *next;
};

/* Sockets curl asked us to watch; kept in a list so free can stop them. */
static struct sockinfo *sock_list_remove(struct sockinfo **head, struct sockinfo *si)
{
	struct sockinfo **pp;

	for (pp = head; *pp; pp = &(*pp)->next)
		if (*pp == si) {
			*pp = si->next;
			return si;
		}
	return NULL;
}

struct client_priv {
	struct sockinfo *socks;
	int dispatching;
	int in_curl; /* inside curl_multi_socket_action: handles cannot be removed */
	bool free_pending;
	struct fed_kube_call *reap;
};

/* client_priv lives right after the public struct in one allocation. */
struct client_alloc {
	struct fed_kube_client c;
	struct client_priv p;
};

static struct client_priv *priv(struct fed_kube_client *c)
{
	return &((struct client_alloc *)c)->p;
}

static void client_really_free(struct fed_kube_client *c);

static void dispatch_begin(struct fed_kube_client *c)
{
	priv(c)->dispatching++;
}

void fed_kube_dispatch_begin(struct fed_kube_client *c)
{
	dispatch_begin(c);
}

/* Returns true if the client was freed. */
static bool dispatch_end(struct fed_kube_client *c)
{
	struct client_priv *p = priv(c);

	if (--p->dispatching == 0 && p->free_pending) {
		client_really_free(c);
		return true;
	}
	return false;
}

/* Calls canceled from inside curl's callbacks are freed once curl has
 * returned, which also drops any completion message curl queued for them. */
static void socket_action(struct fed_kube_client *c, curl_socket_t fd, int action)
{
	struct client_priv *p = priv(c);
	int running;

	p->in_curl++;
	curl_multi_socket_action(c->multi, fd, action, &running);
	p->in_curl--;
	while (p->reap) {
		struct fed_kube_call *call = p->reap;
		p->reap = call->reap_next;
		fed_kube_call_free(call);
	}
}

static void multi_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_kube_client *c = w->data;

	dispatch_begin(c);
	socket_action(c, CURL_SOCKET_TIMEOUT, 0);
	fed_kube_check_multi_info(c);
	dispatch_end(c);
}

static void sock_event_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sockinfo *si = (struct sockinfo *)w;
	struct fed_kube_client *c = si->client;
	int action = ((revents & EV_READ) ? CURL_CSELECT_IN : 0) |
	             ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0);

	dispatch_begin(c);
	socket_action(c, w->fd, action);
	fed_kube_check_multi_info(c);
	dispatch_end(c);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *sockp)
{
	struct fed_kube_client *c = userp;
	struct sockinfo *si = sockp;
	int kind;

	if (what == CURL_POLL_REMOVE) {
		if (si) {
			ev_io_stop(c->loop, &si->io);
			sock_list_remove(&priv(c)->socks, si);
			free(si);
			curl_multi_assign(c->multi, s, NULL);
		}
		return 0;
	}
	if (!si) {
		si = calloc(1, sizeof(*si));
		if (!si)
			return -1;
		si->client = c;
		si->next = priv(c)->socks;
		priv(c)->socks = si;
		curl_multi_assign(c->multi, s, si);
	} else {
		ev_io_stop(c->loop, &si->io);
	}
	kind = ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	ev_io_init(&si->io, sock_event_cb, s, kind);
	ev_io_start(c->loop, &si->io);
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct fed_kube_client *c = userp;

	ev_timer_stop(c->loop, &c->multi_timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&c->multi_timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(c->loop, &c->multi_timer);
	}
	return 0;
}

/* ---- URL handling ---------------------------------------------------- */

/* base_url is the server with the host replaced by tls_server_name when one
 * is set; CONNECT_TO then routes the connection to the real host, so SNI
 * and certificate verification use the name while TCP goes to the address. */
static int build_base(struct fed_kube_client *c, struct fed_error *err)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *path = NULL, *url = NULL;
	struct fed_buf b = FED_BUF_INIT;
	int ret = FED_EINVAL;

	if (!u)
		return FED_ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, c->cfg.server, 0)) {
		fed_error_set(err, FED_EINVAL, "server %s: not a valid URL", c->cfg.server);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
		fed_error_set(err, FED_EINVAL, "server %s: no host", c->cfg.server);
		goto out;
	}
	if (c->cfg.tls_server_name && *c->cfg.tls_server_name) {
		char *h = NULL;
		if (fed_buf_printf(&b, "::%s:%s", host, port) || !(h = fed_buf_detach(&b)))
			goto oom;
		/* "HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT", host empty = any */
		c->connect_to = curl_slist_append(NULL, h);
		free(h);
		if (!c->connect_to)
			goto oom;
		if (curl_url_set(u, CURLUPART_HOST, c->cfg.tls_server_name, 0)) {
			fed_error_set(err, FED_EINVAL, "tls-server-name %s: not a valid host name",
			              c->cfg.tls_server_name);
			goto out;
		}
	}
	if (curl_url_get(u, CURLUPART_URL, &url, 0))
		goto oom;
	/* drop a trailing '/' so paths can be appended */
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") == 0) {
		size_t n = strlen(url);
		if (n && url[n - 1] == '/')
			url[n - 1] = '\0';
	} else {
		size_t n = strlen(url);
		if (n && url[n - 1] == '/')
			url[n - 1] = '\0';
	}
	c->base_url = strdup(url);
	if (!c->base_url)
		goto oom;
	ret = 0;
	goto out;
oom:
	ret = fed_error_set(err, FED_ENOMEM, "out of memory");
out:
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(url);
	curl_url_cleanup(u);
	fed_buf_release(&b);
	return ret;
}

/* ---- client ------------------------------------------------------------ */

int fed_kube_client_new(struct fed_kube_client **out, struct ev_loop *loop,
                        const struct fed_rest_config *cfg, const char *name, struct fed_error *err)
{
	static bool curl_ready;
	struct client_alloc *a = NULL;
	struct fed_kube_client *c;
	int ret;

	*out = NULL;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return fed_error_set(err, FED_ERR, "libcurl initialisation failed");
		curl_ready = true;
	}
	if (!cfg->server || !*cfg->server)
		return fed_error_set(err, FED_EINVAL, "no server address configured");
	a = calloc(1, sizeof(*a));
	if (!a)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	c = &a->c;
	c->loop = loop;
	fed_rest_config_init(&c->cfg);
	ret = fed_rest_config_copy(&c->cfg, cfg, err);
	if (ret)
		goto fail;
	c->name = strdup(name ? name : (cfg->context ? cfg->context : "cluster"));
	if (!c->name) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto fail;
	}
	if (c->cfg.qps <= 0)
		c->cfg.qps = DEFAULT_QPS;
	if (c->cfg.burst <= 0)
		c->cfg.burst = DEFAULT_BURST;
	if (c->cfg.timeout_ms <= 0)
		c->cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
	c->tokens = c->cfg.burst;
	c->tokens_at = ev_now(loop);
	c->max_inflight = DEFAULT_MAX_INFLIGHT;
	c->limits.max_response_bytes = DEFAULT_MAX_RESPONSE;
	c->limits.max_probe_bytes = DEFAULT_MAX_PROBE;
	c->limits.watch_idle_s = DEFAULT_WATCH_IDLE;
	c->limits.watch_deadline_margin_s = DEFAULT_WATCH_MARGIN;
	ret = build_base(c, err);
	if (ret)
		goto fail;
	c->multi = curl_multi_init();
	if (!c->multi) {
		ret = fed_error_set(err, FED_ENOMEM, "curl_multi_init failed");
		goto fail;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	ev_timer_init(&c->multi_timer, multi_timer_cb, 0., 0.);
	c->multi_timer.data = c;
	*out = c;
	return 0;
fail:
	fed_rest_config_release(&c->cfg);
	free(c->name);
	free(c->base_url);
	curl_slist_free_all(c->connect_to);
	free(a);
	return ret;
}

void fed_kube_call_unlink(struct fed_kube_call *call)
{
	struct fed_kube_client *c = call->client;

	if (call->queued) {
		if (call->prev)
			call->prev->next = call->next;
		else
			c->queue_head = call->next;
		if (call->next)
			call->next->prev = call->prev;
		else
			c->queue_tail = call->prev;
		call->queued = false;
		c->stats.queued--;
	} else if (call->active) {
		curl_multi_remove_handle(c->multi, call->easy);
		if (call->prev)
			call->prev->next = call->next;
		else
			c->active = call->next;
		if (call->next)
			call->next->prev = call->prev;
		call->active = false;
		if (!call->exempt)
			c->inflight--;
		c->stats.inflight--;
	} else if (call->delayed) {
		if (call->prev)
			call->prev->next = call->next;
		else
			c->delayed = call->next;
		if (call->next)
			call->next->prev = call->prev;
		call->delayed = false;
	}
	call->next = call->prev = NULL;
	ev_timer_stop(c->loop, &call->retry_timer);
}

void fed_kube_call_free(struct fed_kube_call *call)
{
	if (!call)
		return;
	fed_kube_call_unlink(call);
	if (call->easy)
		curl_easy_cleanup(call->easy);
	curl_slist_free_all(call->headers);
	free(call->method);
	free(call->url);
	free(call->body);
	free(call->content_type);
	free(call->accept);
	fed_buf_release(&call->resp);
	free(call);
}

bool fed_kube_dispatch_end(struct fed_kube_client *c)
{
	return dispatch_end(c);
}

static void client_really_free(struct fed_kube_client *c)
{
	struct sockinfo *si;

	priv(c)->reap = NULL; /* those are on the active list too */
	while (c->delayed)
		fed_kube_call_free(c->delayed);
	while (c->queue_head)
		fed_kube_call_free(c->queue_head);
	while (c->active)
		fed_kube_call_free(c->active);
	ev_timer_stop(c->loop, &c->multi_timer);
	ev_timer_stop(c->loop, &c->queue_timer);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	while ((si = priv(c)->socks) != NULL) {
		priv(c)->socks = si->next;
		ev_io_stop(c->loop, &si->io);
		free(si);
	}
	curl_slist_free_all(c->connect_to);
	fed_kube_exec_stop(c);
	fed_rest_config_release(&c->cfg);
	fed_exec_credential_release(&c->exec_cred);
	if (c->file_token) {
		memset(c->file_token, 0, strlen(c->file_token));
		free(c->file_token);
	}
	free(c->base_url);
	free(c->name);
	free((struct client_alloc *)c);
}

bool fed_kube_client_closing(struct fed_kube_client *c)
{
	return priv(c)->free_pending;
}

void fed_kube_client_free(struct fed_kube_client *c)
{
	if (!c)
		return;
	if (priv(c)->dispatching) {
		/* inside one of our own callbacks: finish unwinding first */
		priv(c)->free_pending = true;
		return;
	}
	client_really_free(c);
}

const char *fed_kube_client_name(const struct fed_kube_client *c)
{
	return c->name;
}

const char *fed_kube_client_server(const struct fed_kube_client *c)
{
	return c->cfg.server;
}

struct ev_loop *fed_kube_client_loop(const struct fed_kube_client *c)
{
	return c->loop;
}

void fed_kube_client_stats(const struct fed_kube_client *c, struct fed_kube_client_stats *out)
{
	*out = c->stats;
}

void fed_kube_client_set_max_inflight(struct fed_kube_client *c, int n)
{
	c->max_inflight = n > 0 ? n : 1;
	/* the pump may run callbacks, which may free the client */
	dispatch_begin(c);
	fed_kube_pump(c);
	dispatch_end(c);
}

void fed_kube_client_set_limits(struct fed_kube_client *c, const struct fed_kube_limits *l)
{
	struct fed_kube_limits *m = &c->limits;

	if (l->max_response_bytes)
		m->max_response_bytes = l->max_response_bytes;
	if (l->max_probe_bytes)
		m->max_probe_bytes = l->max_probe_bytes;
	if (l->watch_idle_s > 0)
		m->watch_idle_s = l->watch_idle_s;
	if (l->watch_deadline_margin_s > 0)
		m->watch_deadline_margin_s = l->watch_deadline_margin_s;
	if (l->max_response_flag) {
		snprintf(c->max_response_flag, sizeof(c->max_response_flag), "%s",
		         l->max_response_flag);
		m->max_response_flag = c->max_response_flag;
	}
	if (l->max_probe_flag) {
		snprintf(c->max_probe_flag, sizeof(c->max_probe_flag), "%s", l->max_probe_flag);
		m->max_probe_flag = c->max_probe_flag;
	}
	m->on_too_large = l->on_too_large;
	m->ud = l->ud;
}

size_t fed_kube_call_max_body(const struct fed_kube_call *call)
{
	const struct fed_kube_limits *l = &call->client->limits;

	return call->probe ? l->max_probe_bytes : l->max_response_bytes;
}

/* ---- starting a call --------------------------------------------------- */

/* Start a call now: hand it to curl. On a local failure (credential plugin,
 * memory) the call completes with that error, its callback run: returns
 * true then. */
static bool start(struct fed_kube_call *call)
{
	struct fed_kube_client *c = call->client;
	struct fed_kube_response resp;

	memset(&resp, 0, sizeof(resp));
	fed_buf_reset(&call->resp);
	call->retry_after = 0;
	call->too_large = false;
	call->errbuf[0] = '\0';
	if (fed_kube_call_setup(call, &resp.err)) {
		fed_kube_call_finish(call, &resp);
		return true;
	}
	if (curl_multi_add_handle(c->multi, call->easy) != CURLM_OK) {
		fed_error_set(&resp.err, FED_ERR, "curl_multi_add_handle failed");
		fed_kube_call_finish(call, &resp);
		return true;
	}
	call->active = true;
	call->prev = NULL;
	call->next = c->active;
	if (c->active)
		c->active->prev = call;
	c->active = call;
	if (!call->exempt)
		c->inflight++;
	c->stats.inflight++;
	c->stats.requests++;
	return false;
}

static void queue_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_kube_client *c = w->data;

	dispatch_begin(c);
	fed_kube_pump(c);
	dispatch_end(c);
}

/* Start queued calls while the token bucket and the in-flight bound allow.
 * Exempt calls (watches, health probes) do not count against the in-flight
 * bound: a member busy with writes must still answer its health probe. */
void fed_kube_pump(struct fed_kube_client *c)
{
	struct fed_kube_call *call, *next;
	ev_tstamp now;

	if (priv(c)->free_pending)
		return;
	now = ev_now(c->loop);
	c->tokens += (now - c->tokens_at) * c->cfg.qps;
	if (c->tokens > c->cfg.burst)
		c->tokens = c->cfg.burst;
	c->tokens_at = now;
	/* an exec credential is on its way: the calls wait for it */
	if (c->queue_head && !fed_kube_exec_ready(c))
		return;
	for (call = c->queue_head; call; call = next) {
		next = call->next;
		if (!call->exempt && c->inflight >= c->max_inflight)
			continue;
		if (c->tokens < 1.0) {
			double wait = (1.0 - c->tokens) / c->cfg.qps;
			if (!ev_is_active(&c->queue_timer)) {
				ev_timer_init(&c->queue_timer, queue_timer_cb, wait, 0.);
				c->queue_timer.data = c;
				ev_timer_start(c->loop, &c->queue_timer);
				c->stats.throttled++;
				FED_LOG_DEBUG(c->name, "throttled: next call in %.2f s", wait);
			}
			return;
		}
		c->tokens -= 1.0;
		fed_kube_call_unlink(call);
		if (start(call)) {
			/* its callback ran and may have canceled any queued call,
			 * next included, or started a pump of its own: walk again
			 * from the head (started calls have left the queue) */
			if (priv(c)->free_pending)
				return;
			next = c->queue_head;
		}
	}
}

static void enqueue(struct fed_kube_call *call)
{
	struct fed_kube_client *c = call->client;

	call->queued = true;
	call->seq = ++c->seq;
	call->next = NULL;
	call->prev = c->queue_tail;
	if (c->queue_tail)
		c->queue_tail->next = call;
	else
		c->queue_head = call;
	c->queue_tail = call;
	c->stats.queued++;
}

int fed_kube_request(struct fed_kube_client *c, const struct fed_kube_request *req, fed_kube_cb cb,
                     void *ud, struct fed_kube_call **out, struct fed_error *err)
{
	struct fed_kube_call *call;
	struct fed_buf url = FED_BUF_INIT;

	if (out)
		*out = NULL;
	call = calloc(1, sizeof(*call));
	if (!call)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	call->client = c;
	if (fed_buf_printf(&url, "%s%s", c->base_url, req->path))
		goto oom;
	call->url = fed_buf_detach(&url);
	call->method = strdup(req->method ? req->method : "GET");
	if (!call->url || !call->method)
		goto oom;
	if (req->body) {
		call->body = malloc(req->body_len + 1);
		if (!call->body)
			goto oom;
		memcpy(call->body, req->body, req->body_len);
		call->body[req->body_len] = '\0';
		call->body_len = req->body_len;
	}
	if (req->content_type && !(call->content_type = strdup(req->content_type)))
		goto oom;
	if (req->accept && !(call->accept = strdup(req->accept)))
		goto oom;
	call->streaming = req->on_data != NULL;
	call->probe = req->probe;
	call->exempt = call->streaming || req->exempt;
	call->timeout_ms =
	    req->timeout_ms < 0 ? 0 : (req->timeout_ms ? req->timeout_ms : c->cfg.timeout_ms);
	if (call->streaming && req->timeout_ms == 0)
		call->timeout_ms = 0;
	call->max_retries = req->max_retries < 0 ? DEFAULT_MAX_RETRIES : req->max_retries;
	call->cb = cb;
	call->on_data = req->on_data;
	call->ud = ud;
	ev_timer_init(&call->retry_timer, NULL, 0., 0.);
	enqueue(call);
	if (out)
		*out = call;
	/* start from the loop, never here: a callback must not run before the
	 * caller has the handle */
	if (!ev_is_active(&c->queue_timer)) {
		ev_timer_init(&c->queue_timer, queue_timer_cb, 0., 0.);
		c->queue_timer.data = c;
		ev_timer_start(c->loop, &c->queue_timer);
	}
	return 0;
oom:
	fed_buf_release(&url);
	fed_kube_call_free(call);
	return fed_error_set(err, FED_ENOMEM, "out of memory");
}

void fed_kube_call_cancel(struct fed_kube_call *call)
{
	if (!call)
		return;
	if (call->canceled)
		return;
	call->canceled = true;
	if (priv(call->client)->in_curl && call->active) {
		if (!call->reaping) {
			call->reaping = true;
			call->reap_next = priv(call->client)->reap;
			priv(call->client)->reap = call;
		}
		return;
	}
	fed_kube_call_free(call);
}

static void retry_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fed_kube_call *call = w->data;
	struct fed_kube_client *c = call->client;

	dispatch_begin(c);
	fed_kube_call_unlink(call);
	enqueue(call);
	fed_kube_pump(c);
	dispatch_end(c);
}

/* A call to retry waits on the delayed list, then queues again. */
void fed_kube_call_delay(struct fed_kube_call *call, double delay)
{
	struct fed_kube_client *c = call->client;

	ev_timer_init(&call->retry_timer, retry_timer_cb, delay, 0.);
	call->retry_timer.data = call;
	ev_timer_start(c->loop, &call->retry_timer);
	call->delayed = true;
	call->prev = NULL;
	call->next = c->delayed;
	if (c->delayed)
		c->delayed->prev = call;
	c->delayed = call;
}

static void wait_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	*(bool *)w->data = true;
}

int fed_kube_wait(struct ev_loop *loop, const bool *flag, double timeout_s)
{
	bool expired = false;
	ev_timer t;

	ev_timer_init(&t, wait_timer_cb, timeout_s, 0.);
	t.data = &expired;
	ev_timer_start(loop, &t);
	while (!*flag && !expired)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
	return *flag ? 0 : FED_ETIMEOUT;
}
