/* One connection from the host's aggregator: the TLS handshake and the
 * request head within a deadline; the front proxy's certificate checked
 * before any X-Remote-* header counts; then an answer of ours (discovery,
 * or a Status saying why not, after which the connection closes) or the
 * member (connect_exchange.c), after which the connection may wait for
 * the caller's next request, each head checked and rewritten again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "../members/members.h"
#include "connect_internal.h"
#include "fed/log.h"

/* After an answer of ours, what the caller still sends (the body we did
 * not want) is read and dropped for a moment before closing: a reset
 * while the aggregator still writes would lose our answer for a 503. */
#define LINGER_S     2.0
#define LINGER_BYTES (16u << 20)
/* a kept-alive connection waits this long for its next request */
#define KEEPALIVE_S 120.0

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);

void cconn_count(struct connect *cs, const char *cluster, const char *result)
{
	fed_metrics_inc(cs->m_requests, (const char *[]){cluster ? cluster : "", result});
}

void cconn_uncount_user(struct cconn *c)
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
	cconn_uncount_user(c);
	fed_buf_release(&c->in);
	fed_buf_release(&c->out);
	fed_buf_release(&c->up_head);
	free(c->framing);
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
void cconn_respond(struct cconn *c, int status, const char *msg)
{
	cJSON *st = cJSON_CreateObject();
	char *body = NULL;

	cconn_count(c->cs, c->cluster, fed_http_status_text(status));
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
		cconn_respond(c, 503,
		              "the host's front-proxy configuration "
		              "(kube-system/extension-apiserver-authentication) is not read yet");
		return;
	}
	if (!front_proxy_ok(c)) {
		cconn_respond(
		    c, 401,
		    "fed serves cluster connect to the host's aggregator only: the client "
		    "certificate is missing, not signed by the requestheader CA, or of a name "
		    "not in requestheader-allowed-names");
		return;
	}
	if ((c->req.method_len == 3 && !memcmp(c->req.method, "GET", 3)) &&
	    fed_connect_discovery(c->req.path, c->req.path_len, &body) == 1) {
		cconn_count(cs, NULL, "discovery");
		respond_body(c, 200, "application/json", fed_buf_str(&body));
		goto out;
	}
	ret = fed_connect_target(&c->req, &c->cluster, &target, &err);
	if (ret) {
		cconn_respond(c, ret == FED_ENOTFOUND ? 404 : 400, err.msg);
		goto out;
	}
	ret = fed_connect_caller_parse(&c->req, &cs->fp.names, &caller, &err);
	if (ret) {
		cconn_respond(c,
		              ret == FED_EUNAUTHORIZED ? 401
		              : ret == FED_EFORBIDDEN  ? 403
		                                       : 400,
		              err.msg);
		goto out;
	}
	cexchange_start(c, &caller, target);
out:
	fed_connect_caller_release(&caller);
	fed_buf_release(&body);
	free(target);
}

/* The head in c->in so far: 1 when routed or answered (c may be gone),
 * 0 when more is needed. */
static int parse_head(struct cconn *c)
{
	int r = fed_http_parse_head(c->in.data, c->in.len,
	                            (size_t)c->cs->ctl->o.connect_max_body_bytes, &c->req);

	if (r == FED_HTTP_PARSE_ERROR) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%s%s", c->req.error,
		         c->req.status == 413 ? " (--connect-max-body-bytes)" : "");
		cconn_respond(c, c->req.status, msg);
		return 1;
	}
	if (r == FED_HTTP_PARSE_COMPLETE) {
		ev_io_stop(c->cs->ctl->loop, &c->io);
		/* the head's time bound is met: the member's side has its own */
		ev_timer_stop(c->cs->ctl->loop, &c->deadline);
		route(c);
		return 1;
	}
	return 0;
}

static void read_head(struct cconn *c)
{
	char buf[4096];

	if (c->in.len && parse_head(c))
		return;
	for (;;) {
		size_t room = CONNECT_HEAD_MAX + sizeof(buf) - c->in.len;
		int rc;

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
		if (parse_head(c))
			return;
	}
}

void cconn_next_request(struct cconn *c, const struct fed_buf *early)
{
	struct ev_loop *loop = c->cs->ctl->loop;

	cconn_uncount_user(c);
	free(c->cluster);
	c->cluster = NULL;
	fed_buf_release(&c->up_head);
	fed_buf_reset(&c->in);
	memset(&c->req, 0, sizeof(c->req));
	c->body_left = 0;
	c->upgrade = c->frame_error = c->from_pool = c->retried = false;
	c->pool_key[0] = '\0';
	c->requests++;
	if (early && early->len && fed_buf_append(&c->in, early->data, early->len) < 0) {
		cconn_free(c);
		return;
	}
	c->state = C_HEAD;
	ev_io_init(&c->io, io_cb, c->fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	ev_timer_stop(loop, &c->deadline);
	ev_timer_set(&c->deadline, KEEPALIVE_S, 0.);
	ev_timer_start(loop, &c->deadline);
	/* TLS may hold the next request's bytes already: no readiness for them */
	read_head(c);
}

static void handshake(struct cconn *c)
{
	int rc = SSL_do_handshake(c->ssl);

	if (rc != 1) {
		if (ssl_wait(c, rc) < 0) {
			cconn_count(c->cs, NULL, "tls-failed");
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

	if (c->state != C_LINGER && !(c->state == C_HEAD && c->requests && !c->in.len))
		cconn_count(c->cs, c->cluster, "timeout");
	cconn_free(c);
}

void cconn_accept(struct connect *cs, int fd)
{
	struct cconn *c;

	if (cs->nconns >= cs->ctl->o.connect_max_connections) {
		cconn_count(cs, NULL, "over-connection-limit");
		close(fd);
		return;
	}
	/* answers go out as written: with Nagle, the tail of a large one waits
	 * for the peer's delayed ACK (40 ms a LIST, measured) */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	fed_metrics_inc(cs->m_conns, (const char *[]){"caller"});
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
