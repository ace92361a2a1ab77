/* One connection from the host's aggregator: the TLS handshake and the
 * request head within a deadline; the front proxy's certificate checked
 * before any X-Remote-* header counts; then an answer of ours (discovery,
 * or a Status saying why not) or the member: its connection dialled, the
 * rewritten head and the body (exactly Content-Length bytes) sent, and
 * the two joined until the member closes (one request per connection:
 * fed_connect_rewrite asks the member to close after it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "../members/members.h"
#include "connect_internal.h"
#include "fed/log.h"

enum cstate { C_HANDSHAKE, C_HEAD, C_DIAL, C_SPLICE, C_RESPOND, C_LINGER };

/* After an answer of ours, what the caller still sends (the body we did
 * not want) is read and dropped for a moment before closing: a reset
 * while the aggregator still writes would lose our answer for a 503. */
#define LINGER_S     2.0
#define LINGER_BYTES (16u << 20)

struct cconn {
	struct connect *cs;
	struct cconn *prev, *next;
	int fd;
	SSL *ssl;
	ev_io io;
	ev_timer deadline;
	enum cstate state;
	struct fed_buf in;      /* the head and the first body bytes */
	struct fed_buf out;     /* an answer of ours */
	struct fed_buf up_head; /* the member's head: carries the member credential */
	struct fed_http_request req;
	char *cluster, *user; /* user set while counted against its limit */
	struct cdial *dial;
	struct fed_splice *splice;
	uint64_t body_left; /* body bytes still to pass on after up_head */
	size_t lingered;    /* bytes dropped after our answer */
	bool upgrade;
};

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);

static void count(struct connect *cs, const char *cluster, const char *result)
{
	fed_metrics_inc(cs->m_requests, (const char *[]){cluster ? cluster : "", result});
}

static void uncount_user(struct cconn *c)
{
	int *n;

	if (!c->user)
		return;
	n = fed_map_get(&c->cs->users, c->user);
	if (n && --*n <= 0)
		free(fed_map_del(&c->cs->users, c->user));
	free(c->user);
	c->user = NULL;
	fed_metrics_set(c->cs->m_open, NULL, (double)--c->cs->nstreams);
}

void cconn_free(struct cconn *c)
{
	struct connect *cs;

	if (!c)
		return;
	cs = c->cs;
	ev_io_stop(cs->ctl->loop, &c->io);
	ev_timer_stop(cs->ctl->loop, &c->deadline);
	cdial_cancel(c->dial);
	fed_splice_free(c->splice);
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	uncount_user(c);
	fed_buf_release(&c->in);
	fed_buf_release(&c->out);
	fed_buf_release(&c->up_head);
	free(c->cluster);
	if (c->prev)
		c->prev->next = c->next;
	else
		cs->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	cs->nconns--;
	free(c);
}

static void wait_io(struct cconn *c, int ev)
{
	if (ev_is_active(&c->io) && (c->io.events & (EV_READ | EV_WRITE)) == ev)
		return;
	ev_io_stop(c->cs->ctl->loop, &c->io);
	ev_io_set(&c->io, c->fd, ev);
	ev_io_start(c->cs->ctl->loop, &c->io);
}

/* 1: done; 0: waiting (io set); -1: the connection is gone */
static int ssl_wait(struct cconn *c, int rc)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		wait_io(c, EV_READ);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		wait_io(c, EV_WRITE);
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/* ---- answers of ours ---------------------------------------------------- */

static void linger(struct cconn *c)
{
	char buf[16384];

	for (;;) {
		int rc = SSL_read(c->ssl, buf, sizeof(buf));

		if (rc <= 0) {
			if (ssl_wait(c, rc) < 0)
				cconn_free(c); /* EOF or error: done */
			return;
		}
		c->lingered += (size_t)rc;
		if (c->lingered > LINGER_BYTES) {
			cconn_free(c);
			return;
		}
	}
}

static void write_out(struct cconn *c)
{
	while (c->out.len) {
		int rc = SSL_write(c->ssl, c->out.data, (int)c->out.len);

		if (rc <= 0) {
			if (ssl_wait(c, rc) < 0)
				cconn_free(c);
			return;
		}
		fed_buf_consume(&c->out, (size_t)rc);
	}
	SSL_shutdown(c->ssl); /* close_notify; the peer's is not awaited */
	shutdown(c->fd, SHUT_WR);
	c->state = C_LINGER;
	ev_timer_stop(c->cs->ctl->loop, &c->deadline);
	ev_timer_set(&c->deadline, LINGER_S, 0.);
	ev_timer_start(c->cs->ctl->loop, &c->deadline);
	linger(c);
}

static void respond_body(struct cconn *c, int status, const char *ctype, const char *body)
{
	fed_buf_reset(&c->out);
	if (fed_buf_printf(&c->out,
	                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                   "Cache-Control: no-store\r\nConnection: close\r\n\r\n%s",
	                   status, fed_http_status_text(status), ctype, strlen(body), body)) {
		cconn_free(c);
		return;
	}
	c->state = C_RESPOND;
	ev_timer_stop(c->cs->ctl->loop, &c->deadline);
	ev_timer_set(&c->deadline, c->cs->ctl->o.connect_head_timeout, 0.);
	ev_timer_start(c->cs->ctl->loop, &c->deadline);
	write_out(c);
}

static const char *reason_of(int status)
{
	switch (status) {
	case 400:
		return "BadRequest";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "NotFound";
	case 413:
		return "RequestEntityTooLarge";
	case 429:
		return "TooManyRequests";
	case 501:
		return "NotImplemented";
	case 503:
		return "ServiceUnavailable";
	case 504:
		return "Timeout";
	default:
		return status >= 500 ? "InternalError" : "BadRequest";
	}
}

/* A kube Status, which kubectl prints as "Error from server (Reason): message". */
static void respond(struct cconn *c, int status, const char *msg)
{
	cJSON *st = cJSON_CreateObject();
	char *body = NULL;

	count(c->cs, c->cluster, fed_http_status_text(status));
	FED_LOG_DEBUG(c->cluster, "connect: %d for %s: %s", status, c->user ? c->user : "-", msg);
	if (st && cJSON_AddStringToObject(st, "kind", "Status") &&
	    cJSON_AddStringToObject(st, "apiVersion", "v1") &&
	    cJSON_AddObjectToObject(st, "metadata") &&
	    cJSON_AddStringToObject(st, "status", "Failure") &&
	    cJSON_AddStringToObject(st, "message", msg) &&
	    cJSON_AddStringToObject(st, "reason", reason_of(status)) &&
	    cJSON_AddNumberToObject(st, "code", status))
		body = cJSON_PrintUnformatted(st);
	cJSON_Delete(st);
	if (!body) {
		cconn_free(c);
		return;
	}
	respond_body(c, status, "application/json", body);
	free(body);
}

/* ---- the member --------------------------------------------------------- */

static void splice_done(void *ud, const char *why, uint64_t a_to_b, uint64_t b_to_a)
{
	struct cconn *c = ud;

	FED_LOG_DEBUG(c->cluster, "connect: %s's stream ended (%s): %llu bytes up, %llu down",
	              c->user ? c->user : "-", why, (unsigned long long)a_to_b,
	              (unsigned long long)b_to_a);
	c->splice = NULL; /* freed by the splice after this returns */
	cconn_free(c);
}

static void dial_done(void *ud, int fd, SSL *ssl, const struct fed_error *err)
{
	struct cconn *c = ud;
	struct fed_error e2 = FED_ERROR_INIT;
	struct fed_splice_opts o;
	char msg[FED_ERROR_MSG_MAX + 64];

	c->dial = NULL;
	if (fd < 0) {
		snprintf(msg, sizeof(msg), "cluster %s: %s", c->cluster, err->msg);
		respond(c, err->code == FED_ETIMEOUT ? 504 : 503, msg);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.idle_timeout = c->cs->ctl->o.connect_idle_timeout;
	o.to_b = c->up_head.data;
	o.to_b_len = c->up_head.len;
	o.a_limited = !c->upgrade;
	o.a_max = c->body_left;
	ev_io_stop(c->cs->ctl->loop, &c->io);
	ev_timer_stop(c->cs->ctl->loop, &c->deadline);
	c->state = C_SPLICE;
	if (fed_splice_new(c->cs->ctl->loop, (struct fed_splice_end){c->fd, c->ssl},
	                   (struct fed_splice_end){fd, ssl}, &o, splice_done, c, &c->splice, &e2)) {
		c->fd = -1, c->ssl = NULL; /* the splice closed them */
		cconn_free(c);
		return;
	}
	c->fd = -1, c->ssl = NULL;
	fed_buf_release(&c->up_head); /* wiped: the splice holds its copy */
	count(c->cs, c->cluster, "proxied");
}

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

static void to_member(struct cconn *c, const struct fed_connect_caller *caller, const char *target)
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
	int *n, ret;

	if (!m) {
		snprintf(msg, sizeof(msg), "cluster %s is not a member of the federation",
		         c->cluster);
		respond(c, 404, msg);
		return;
	}
	if (!client) {
		not_ready_msg(m, c->cluster, msg, sizeof(msg));
		respond(c, 503, msg);
		return;
	}
	mode = member_mode(m);
	if (mode && !strcmp(mode, "agent")) {
		sock = hooks_agent_connect_socket(ctl, c->cluster);
		if (!sock) {
			snprintf(
			    msg, sizeof(msg),
			    "cluster %s: no connected fed-agent serves cluster connect (an agent "
			    "older than fed 0.2, or none connected now)",
			    c->cluster);
			respond(c, 503, msg);
			return;
		}
	}
	if ((ret = fed_kube_client_dial(client, &dl, &err))) {
		snprintf(msg, sizeof(msg), "cluster %s: %s", c->cluster, err.msg);
		respond(c, 503, msg);
		return;
	}
	if (dl.proxy_url && !sock) {
		snprintf(msg, sizeof(msg),
		         "cluster %s: cluster connect through the kubeconfig's proxy-url is not "
		         "supported yet",
		         c->cluster);
		respond(c, 501, msg);
		return;
	}
	n = fed_map_get(&cs->users, caller->user);
	if (n && *n >= ctl->o.connect_max_streams_per_user) {
		snprintf(msg, sizeof(msg),
		         "%s has %d connections to members open (--connect-max-streams-per-user): "
		         "close some or retry later",
		         caller->user, *n);
		respond(c, 429, msg);
		return;
	}
	if (upstream_parts(dl.server, target, &host, &path)) {
		respond(c, 500, "cannot build the member's request");
		goto out;
	}
	up.host = host;
	up.bearer = sock ? NULL : dl.token; /* the agent adds its own */
	c->up_head = (struct fed_buf)FED_BUF_INIT_SENSITIVE;
	if (fed_connect_rewrite(&c->req, path, caller, &cs->fp.names, &up, &c->upgrade, &c->up_head,
	                        &err)) {
		respond(c, 500, err.msg);
		goto out;
	}
	/* the body's first bytes, not one byte past it (what follows would be
	 * another request, which must not reach the member unrewritten) */
	if (!c->upgrade && extra > c->req.content_length)
		extra = c->req.content_length;
	if (extra && fed_buf_append(&c->up_head, c->in.data + c->req.header_len, extra) < 0) {
		cconn_free(c);
		goto out;
	}
	c->body_left = c->upgrade ? 0 : c->req.content_length - extra;
	/* counted from now: the member's connection is being made for them */
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n || fed_map_put(&cs->users, caller->user, n, NULL))
			xoom();
	}
	(*n)++;
	c->user = xstrdup(caller->user);
	fed_metrics_set(cs->m_open, NULL, (double)++cs->nstreams);
	FED_LOG_DEBUG(c->cluster, "connect: %s %.*s %.*s", caller->user, (int)c->req.method_len,
	              c->req.method, (int)c->req.path_len, c->req.path);
	c->state = C_DIAL;
	ev_io_stop(ctl->loop, &c->io);
	ev_timer_stop(ctl->loop, &c->deadline); /* the dial has its own, and answers 504 */
	ret = sock ? cdial_unix(ctl->loop, sock, dial_done, c, &c->dial, &err)
	           : cdial_start(ctl->loop, &dl, ctl->o.connect_head_timeout, dial_done, c,
	                         &c->dial, &err);
	if (ret) {
		snprintf(msg, sizeof(msg), "cluster %s: %s", c->cluster, err.msg);
		respond(c, 503, msg);
	}
out:
	free(host);
	free(path);
}

/* ---- the request -------------------------------------------------------- */

/* The front proxy's certificate: trusted (the handshake verified it
 * against the requestheader CA) and of an allowed name. */
static bool front_proxy_ok(struct cconn *c)
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	char cn[256] = "";
	bool ok = false;

	if (x && SSL_get_verify_result(c->ssl) == X509_V_OK &&
	    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) >=
	        0)
		ok = fed_connect_front_proxy_allowed(&c->cs->fp, cn);
	X509_free(x);
	return ok;
}

static void route(struct cconn *c)
{
	struct connect *cs = c->cs;
	struct fed_connect_caller caller;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf body = FED_BUF_INIT;
	char *target = NULL;
	int ret;

	memset(&caller, 0, sizeof(caller));
	if (!cs->have_fp) {
		respond(c, 503,
		        "the host's front-proxy configuration "
		        "(kube-system/extension-apiserver-authentication) is not read yet");
		return;
	}
	if (!front_proxy_ok(c)) {
		respond(c, 401,
		        "fed serves cluster connect to the host's aggregator only: the client "
		        "certificate is missing, not signed by the requestheader CA, or of a name "
		        "not in requestheader-allowed-names");
		return;
	}
	if ((c->req.method_len == 3 && !memcmp(c->req.method, "GET", 3)) &&
	    fed_connect_discovery(c->req.path, c->req.path_len, &body) == 1) {
		count(cs, NULL, "discovery");
		respond_body(c, 200, "application/json", fed_buf_str(&body));
		goto out;
	}
	ret = fed_connect_target(&c->req, &c->cluster, &target, &err);
	if (ret) {
		respond(c, ret == FED_ENOTFOUND ? 404 : 400, err.msg);
		goto out;
	}
	ret = fed_connect_caller_parse(&c->req, &cs->fp.names, &caller, &err);
	if (ret) {
		respond(c,
		        ret == FED_EUNAUTHORIZED ? 401
		        : ret == FED_EFORBIDDEN  ? 403
		                                 : 400,
		        err.msg);
		goto out;
	}
	to_member(c, &caller, target);
out:
	fed_connect_caller_release(&caller);
	fed_buf_release(&body);
	free(target);
}

static void read_head(struct cconn *c)
{
	char buf[4096];

	for (;;) {
		size_t room = CONNECT_HEAD_MAX + sizeof(buf) - c->in.len;
		int rc, r;

		if (room > sizeof(buf))
			room = sizeof(buf);
		rc = SSL_read(c->ssl, buf, (int)room);
		if (rc <= 0) {
			if (ssl_wait(c, rc) < 0)
				cconn_free(c);
			return;
		}
		if (fed_buf_append(&c->in, buf, (size_t)rc) < 0) {
			cconn_free(c);
			return;
		}
		r = fed_http_parse_head(c->in.data, c->in.len,
		                        (size_t)c->cs->ctl->o.connect_max_body_bytes, &c->req);
		if (r == FED_HTTP_PARSE_ERROR) {
			char msg[128];
			snprintf(msg, sizeof(msg), "%s%s", c->req.error,
			         c->req.status == 413 ? " (--connect-max-body-bytes)" : "");
			respond(c, c->req.status, msg);
			return;
		}
		if (r == FED_HTTP_PARSE_COMPLETE) {
			ev_io_stop(c->cs->ctl->loop, &c->io);
			route(c);
			return;
		}
	}
}

static void handshake(struct cconn *c)
{
	int rc = SSL_do_handshake(c->ssl);

	if (rc != 1) {
		if (ssl_wait(c, rc) < 0) {
			count(c->cs, NULL, "tls-failed");
			cconn_free(c);
		}
		return;
	}
	c->state = C_HEAD;
	read_head(c);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cconn *c = w->data;

	switch (c->state) {
	case C_HANDSHAKE:
		handshake(c);
		break;
	case C_HEAD:
		read_head(c);
		break;
	case C_RESPOND:
		write_out(c);
		break;
	case C_LINGER:
		linger(c);
		break;
	default:
		ev_io_stop(loop, w);
	}
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cconn *c = w->data;

	if (c->state != C_LINGER)
		count(c->cs, c->cluster, "timeout");
	cconn_free(c);
}

void cconn_accept(struct connect *cs, int fd)
{
	struct cconn *c;

	if (cs->nconns >= cs->ctl->o.connect_max_connections) {
		count(cs, NULL, "over-connection-limit");
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->cs = cs;
	c->fd = fd;
	c->ssl = SSL_new(cs->sctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, fd))
		xoom();
	SSL_set_accept_state(c->ssl);
	c->next = cs->conns;
	if (c->next)
		c->next->prev = c;
	cs->conns = c;
	cs->nconns++;
	ev_io_init(&c->io, io_cb, fd, EV_READ);
	c->io.data = c;
	ev_io_start(cs->ctl->loop, &c->io);
	/* handshake and head together: a trickling peer cannot hold us */
	ev_timer_init(&c->deadline, deadline_cb, cs->ctl->o.connect_head_timeout, 0.);
	c->deadline.data = c;
	ev_timer_start(cs->ctl->loop, &c->deadline);
}
