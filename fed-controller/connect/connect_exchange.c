/* One request of a caller to a member and the member's answer back: the
 * member's connection (an idle one kept from before, or a new one), the
 * rewritten head and exactly the request's body sent, the answer passed
 * back unchanged while fed_http_framing finds its end; then both
 * connections are kept for the next request when both sides allow it.
 * An upgrade (exec, attach, port-forward) joins the two for good. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>

#include "../members/members.h"
#include "connect_internal.h"
#include "fed/log.h"

static void exchange(struct cconn *c, int fd, SSL *ssl);

/* Why a member cannot be reached now, for the 503. */
static void not_ready_msg(struct member *m, const char *cluster, char *msg, size_t n)
{
	const char *reason = NULL, *message = NULL;

	member_unready(m, &reason, &message);
	snprintf(msg, n, "cluster %s is not ready (%s): %s", cluster, reason ? reason : "Unknown",
	         message ? message : "no verdict yet");
}

/* The member's Host and the target under the server's path prefix. */
static int upstream_parts(const char *server, const char *target, char **host, char **path)
{
	CURLU *u = curl_url();
	char *h = NULL, *p = NULL;
	struct fed_buf b = FED_BUF_INIT;
	int ret = -1;

	*host = *path = NULL;
	if (!u || curl_url_set(u, CURLUPART_URL, server, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) || curl_url_get(u, CURLUPART_PATH, &p, 0))
		goto out;
	{
		char *port = NULL;
		if (!curl_url_get(u, CURLUPART_PORT, &port, 0) && port)
			fed_buf_printf(&b, "%s:%s", h, port);
		else
			fed_buf_puts(&b, h);
		curl_free(port);
	}
	*host = fed_buf_detach(&b);
	fed_buf_printf(&b, "%.*s%s", (int)(strlen(p) - (p[strlen(p) - 1] == '/')), p, target);
	*path = fed_buf_detach(&b);
	ret = *host && *path ? 0 : -1;
out:
	fed_buf_release(&b);
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return ret;
}

/* What the member sends: passed on up to the end of its answer. */
static size_t frame(void *ud, const char *p, size_t n, bool *end)
{
	struct cconn *c = ud;
	size_t used = 0;
	int r = fed_http_framing_feed(c->framing, p, n, &used);

	if (r == FED_HTTP_FRAMING_ERROR) {
		FED_LOG_DEBUG(c->cluster, "connect: the member's answer: %s", c->framing->error);
		c->frame_error = true;
		*end = true;
		return 0;
	}
	*end = r == FED_HTTP_FRAMING_DONE;
	return used;
}

static void dialled(void *ud, int fd, SSL *ssl, const struct fed_error *err)
{
	struct cconn *c = ud;
	char msg[FED_ERROR_MSG_MAX + 64];

	c->dial = NULL;
	if (fd < 0) {
		snprintf(msg, sizeof(msg), "cluster %s: %s", c->cluster, err->msg);
		cconn_respond(c, err->code == FED_ETIMEOUT ? 504 : 503, msg);
		return;
	}
	exchange(c, fd, ssl);
}

/* A new connection to the member: its address from the member's client
 * now (the kubeconfig may have changed since the request was routed). */
static void dial(struct cconn *c, const char *sock)
{
	struct controller *ctl = c->cs->ctl;
	struct member *m = members_get(ctl, c->cluster);
	struct fed_kube_client *client = m ? member_client(m) : NULL;
	struct fed_kube_dial dl;
	struct fed_error err = FED_ERROR_INIT;
	char msg[FED_ERROR_MSG_MAX + 64];
	int ret;

	c->state = C_DIAL;
	fed_metrics_inc(c->cs->m_conns, (const char *[]){"member"});
	if (sock)
		ret = cdial_unix(ctl->loop, sock, dialled, c, &c->dial, &err);
	else if (!client)
		ret = fed_error_set(&err, FED_EUNAVAILABLE, "not ready");
	else if (!(ret = fed_kube_client_dial(client, &dl, &err)))
		ret = cdial_start(ctl->loop, &dl, ctl->o.connect_head_timeout, dialled, c, &c->dial,
		                  &err);
	if (ret) {
		snprintf(msg, sizeof(msg), "cluster %s: %s", c->cluster, err.msg);
		cconn_respond(c, 503, msg);
	}
}

/* A kept connection the member closed meanwhile fails before any byte of
 * an answer: the request goes again on a new one, once, when all of it is
 * still at hand (no body streamed from the caller yet) and it is a GET or
 * HEAD. */
static bool retry_fresh(struct cconn *c, struct fed_splice *s, const char *why, uint64_t b_to_a)
{
	struct fed_splice_end a, b;

	/* only a request that may run twice: the member may have done it
	 * before the connection died */
	bool idempotent = (c->req.method_len == 3 && !memcmp(c->req.method, "GET", 3)) ||
	                  (c->req.method_len == 4 && !memcmp(c->req.method, "HEAD", 4));

	if (!idempotent || !c->from_pool || c->retried || b_to_a || c->body_left || c->upgrade ||
	    !strcmp(why, "idle timeout") || !strcmp(why, "caller closed") ||
	    fed_splice_take(s, &a, &b, NULL))
		return false;
	if (b.ssl)
		SSL_free(b.ssl);
	close(b.fd);
	c->fd = a.fd;
	c->ssl = a.ssl;
	c->retried = true;
	c->from_pool = false;
	FED_LOG_DEBUG(c->cluster, "connect: a kept connection failed (%s): a new one", why);
	dial(c, NULL);
	return true;
}

static void exchanged(void *ud, const char *why, uint64_t a_to_b, uint64_t b_to_a)
{
	struct cconn *c = ud;
	struct fed_splice *s = c->splice;
	struct fed_splice_end a, b;
	struct fed_buf early = FED_BUF_INIT;
	bool whole, keep;

	c->splice = NULL; /* freed by the splice after this returns */
	if (strcmp(why, FED_SPLICE_DETACHED)) {
		FED_LOG_DEBUG(c->cluster,
		              "connect: %s's stream ended (%s): %llu bytes up, %llu down",
		              c->user ? c->user : "-", why, (unsigned long long)a_to_b,
		              (unsigned long long)b_to_a);
		if (!retry_fresh(c, s, why, b_to_a))
			cconn_free(c);
		return;
	}
	if (fed_splice_take(s, &a, &b, &early)) {
		fed_buf_release(&early);
		cconn_free(c);
		return;
	}
	c->fd = a.fd;
	c->ssl = a.ssl;
	/* the answer ended where its framing says, after the whole request */
	whole = !c->frame_error && a_to_b == c->body_left;
	keep = whole && !c->framing->close;
	if (keep && c->pool_key[0])
		cpool_put(c->cs, c->pool_key, b.fd, b.ssl);
	else {
		if (b.ssl)
			SSL_free(b.ssl);
		close(b.fd);
	}
	if (keep && c->req.keep_alive)
		cconn_next_request(c, &early);
	else
		cconn_free(c);
	fed_buf_release(&early);
}

static void exchange(struct cconn *c, int fd, SSL *ssl)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_splice_opts o;

	memset(&o, 0, sizeof(o));
	o.idle_timeout = c->cs->ctl->o.connect_idle_timeout;
	o.to_b = c->up_head.data;
	o.to_b_len = c->up_head.len;
	if (!c->upgrade) {
		/* the body and nothing past it; the answer up to its end */
		o.a_limited = true;
		o.a_max = c->body_left;
		o.b_filter = frame;
		if (!c->framing)
			c->framing = xcalloc(1, sizeof(*c->framing));
		fed_http_framing_init(c->framing,
		                      c->req.method_len == 4 && !memcmp(c->req.method, "HEAD", 4));
	}
	c->state = C_SPLICE;
	ev_io_stop(c->cs->ctl->loop, &c->io);
	ev_timer_stop(c->cs->ctl->loop, &c->deadline);
	if (fed_splice_new(c->cs->ctl->loop, (struct fed_splice_end){c->fd, c->ssl},
	                   (struct fed_splice_end){fd, ssl}, &o, exchanged, c, &c->splice, &err)) {
		c->fd = -1, c->ssl = NULL; /* the splice closed them */
		cconn_free(c);
		return;
	}
	c->fd = -1, c->ssl = NULL;
	/* a retry on a new connection needs the head again: kept until then */
	if (!c->from_pool || c->body_left || c->upgrade)
		fed_buf_release(&c->up_head); /* wiped: the splice holds its copy */
	cconn_count(c->cs, c->cluster, "proxied");
}

void cexchange_start(struct cconn *c, const struct fed_connect_caller *caller, const char *target)
{
	struct connect *cs = c->cs;
	struct controller *ctl = cs->ctl;
	struct member *m = members_get(ctl, c->cluster);
	struct fed_kube_client *client = m ? member_client(m) : NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_dial dl;
	struct fed_connect_upstream up;
	char msg[FED_ERROR_MSG_MAX + 128], *host = NULL, *path = NULL;
	const char *sock = NULL, *mode;
	size_t extra = c->in.len - c->req.header_len;
	SSL *ssl = NULL;
	int *n, fd;

	if (!m) {
		snprintf(msg, sizeof(msg), "cluster %s is not a member of the federation",
		         c->cluster);
		cconn_respond(c, 404, msg);
		return;
	}
	if (!client) {
		not_ready_msg(m, c->cluster, msg, sizeof(msg));
		cconn_respond(c, 503, msg);
		return;
	}
	mode = member_mode(m);
	if (mode && !strcmp(mode, "agent")) {
		sock = hooks_agent_connect_socket(ctl, c->cluster);
		if (!sock) {
			snprintf(
			    msg, sizeof(msg),
			    "cluster %s: no connected fed-agent serves cluster connect (an agent "
			    "older than this fed-controller, or none connected now)",
			    c->cluster);
			cconn_respond(c, 503, msg);
			return;
		}
	}
	if (fed_kube_client_dial(client, &dl, &err)) {
		snprintf(msg, sizeof(msg), "cluster %s: %s", c->cluster, err.msg);
		cconn_respond(c, 503, msg);
		return;
	}
	if (dl.proxy_url && !sock) {
		snprintf(msg, sizeof(msg),
		         "cluster %s: cluster connect through the kubeconfig's proxy-url is not "
		         "supported yet",
		         c->cluster);
		cconn_respond(c, 501, msg);
		return;
	}
	n = fed_map_get(&cs->users, caller->user);
	if (n && *n >= ctl->o.connect_max_streams_per_user) {
		snprintf(msg, sizeof(msg),
		         "%s has %d connections to members open (--connect-max-streams-per-user): "
		         "close some or retry later",
		         caller->user, *n);
		cconn_respond(c, 429, msg);
		return;
	}
	if (upstream_parts(dl.server, target, &host, &path)) {
		cconn_respond(c, 500, "cannot build the member's request");
		goto out;
	}
	up.host = host;
	up.bearer = sock ? NULL : dl.token; /* the agent adds its own */
	c->up_head = (struct fed_buf)FED_BUF_INIT_SENSITIVE;
	if (fed_connect_rewrite(&c->req, path, caller, &cs->fp.names, &up, &c->upgrade, &c->up_head,
	                        &err)) {
		cconn_respond(c, 500, err.msg);
		goto out;
	}
	/* the body's first bytes, not one byte past it (what follows is the
	 * next request: its head must be rewritten too) */
	if (!c->upgrade && extra > c->req.content_length)
		extra = c->req.content_length;
	if (extra && fed_buf_append(&c->up_head, c->in.data + c->req.header_len, extra) < 0) {
		cconn_free(c);
		goto out;
	}
	c->body_left = c->upgrade ? 0 : c->req.content_length - extra;
	/* counted from now: the member's connection is being used for them */
	if (!n) {
		n = xcalloc(1, sizeof(*n));
		if (fed_map_put(&cs->users, caller->user, n, NULL))
			xoom();
	}
	(*n)++;
	c->user = xstrdup(caller->user);
	fed_metrics_set(cs->m_open, NULL, (double)++cs->nstreams);
	FED_LOG_DEBUG(c->cluster, "connect: %s %.*s %.*s", caller->user, (int)c->req.method_len,
	              c->req.method, (int)c->req.path_len, c->req.path);
	ev_io_stop(ctl->loop, &c->io);
	ev_timer_stop(ctl->loop, &c->deadline); /* the dial has its own, and answers 504 */
	/* direct members' connections are kept (an agent's stream carries one
	 * request); upgraded ones never */
	if (!sock && !c->upgrade) {
		cpool_key(&dl, c->cluster, c->pool_key);
		fd = cpool_get(cs, c->pool_key, &ssl);
		if (fd >= 0) {
			c->from_pool = true;
			exchange(c, fd, ssl);
			goto out;
		}
	}
	dial(c, sock);
out:
	free(host);
	free(path);
}
