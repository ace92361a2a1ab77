/* The way out through an HTTP(S) CONNECT proxy, on the agent's loop: TCP
 * to the proxy, TLS to it for https://, then CONNECT to the host. Each
 * step has one overall deadline (--proxy-step-timeout), however the proxy
 * paces its bytes: a proxy dripping a byte a second is given up on.
 * Non-blocking, so SIGTERM and the agent's timers run while a slow proxy
 * is waited for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "agent.h"
#include "fed/tunnel_conn.h"
#include "fed/log.h"

enum step { STEP_TCP, STEP_TLS, STEP_CONNECT };

struct agent_proxy_dial {
	struct agent *a;
	agent_proxy_done done;
	struct fed_proxy px;
	char pname[300]; /* HOST:PORT of the proxy, for messages */
	char *target;
	int fd;
	SSL *ssl; /* TLS to an https:// proxy */
	enum step step;
	struct fed_buf req, resp;
	size_t off; /* of req sent */
	ev_io io;
	ev_timer deadline; /* of the current step */
};

static void dial_free(struct agent_proxy_dial *d)
{
	ev_io_stop(d->a->loop, &d->io);
	ev_timer_stop(d->a->loop, &d->deadline);
	SSL_free(d->ssl);
	if (d->fd >= 0)
		close(d->fd);
	if (d->req.data)
		OPENSSL_cleanse(d->req.data, d->req.cap); /* may hold the proxy's password */
	fed_buf_release(&d->req);
	/* a proxy may echo what it was sent, Proxy-Authorization included */
	if (d->resp.data)
		OPENSSL_cleanse(d->resp.data, d->resp.cap);
	fed_buf_release(&d->resp);
	fed_proxy_release(&d->px);
	free(d->target);
	free(d);
}

static void begin(struct agent_proxy_dial *d, enum step step)
{
	d->step = step;
	ev_timer_stop(d->a->loop, &d->deadline);
	ev_timer_set(&d->deadline, d->a->proxy_step_timeout, 0.);
	ev_timer_start(d->a->loop, &d->deadline);
}

static void wait_for(struct agent_proxy_dial *d, int events)
{
	if (ev_is_active(&d->io) && d->io.events == events)
		return;
	ev_io_stop(d->a->loop, &d->io);
	ev_io_set(&d->io, d->fd, events);
	ev_io_start(d->a->loop, &d->io);
}

/* The end, success (fd >= 0) or not: d is freed, done runs once. */
static void finish(struct agent_proxy_dial *d, int rc, struct fed_error *err)
{
	struct agent *a = d->a;
	agent_proxy_done done = d->done;
	int fd = -1;
	SSL *ssl = NULL;

	a->proxy_dial = NULL;
	if (rc == 0) {
		fd = d->fd;
		ssl = d->ssl;
		d->fd = -1;
		d->ssl = NULL;
	}
	dial_free(d);
	done(a, fd, ssl, err);
}

/* Move up to n bytes to (wr) or from the proxy, over its TLS session when
 * there is one. > 0: bytes moved; 0: closed; -1: failed (errno), or
 * EAGAIN with the io watcher set for what it waits on. */
static ssize_t proxy_io(struct agent_proxy_dial *d, bool wr, void *p, size_t n)
{
	for (;;) {
		if (d->ssl) {
			int k;

			ERR_clear_error();
			errno = 0;
			k = wr ? SSL_write(d->ssl, p, (int)n) : SSL_read(d->ssl, p, (int)n);
			if (k > 0)
				return k;
			switch (SSL_get_error(d->ssl, k)) {
			case SSL_ERROR_WANT_READ:
				wait_for(d, EV_READ);
				errno = EAGAIN;
				return -1;
			case SSL_ERROR_WANT_WRITE:
				wait_for(d, EV_WRITE);
				errno = EAGAIN;
				return -1;
			case SSL_ERROR_SYSCALL:
				ERR_clear_error();
				if (errno == EINTR)
					continue;
				return errno ? -1 : 0;
			default: /* close_notify, or an EOF without it */
				ERR_clear_error();
				errno = 0;
				return 0;
			}
		} else {
			ssize_t r = wr ? send(d->fd, p, n, MSG_NOSIGNAL) : recv(d->fd, p, n, 0);

			if (r > 0)
				return r;
			if (r == 0) {
				errno = 0;
				return 0;
			}
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				wait_for(d, wr ? EV_WRITE : EV_READ);
				errno = EAGAIN;
			}
			return -1;
		}
	}
}

/* TLS to an https:// proxy, verified against --proxy-ca-file (or the
 * system store) and the proxy's name or IP. */
static int tls_setup(struct agent_proxy_dial *d, struct fed_error *err)
{
	struct agent *a = d->a;
	X509_VERIFY_PARAM *vp;

	d->ssl = a->proxy_ctx ? SSL_new(a->proxy_ctx) : NULL;
	vp = d->ssl ? SSL_get0_param(d->ssl) : NULL;
	if (!d->ssl || !SSL_set_fd(d->ssl, d->fd) ||
	    (!X509_VERIFY_PARAM_set1_ip_asc(vp, d->px.host) &&
	     (!X509_VERIFY_PARAM_set1_host(vp, d->px.host, 0) ||
	      !SSL_set_tlsext_host_name(d->ssl, d->px.host)))) {
		ERR_clear_error();
		return fed_error_set(err, FED_ETLS, "proxy %s: cannot set up TLS", d->pname);
	}
	SSL_set_connect_state(d->ssl);
	return 0;
}

/* 1: the handshake is done; 0: waiting; < 0: failed */
static int tls_step(struct agent_proxy_dial *d, struct fed_error *err)
{
	struct agent *a = d->a;
	const char *pname = d->pname;
	char eb[160];
	int rc, e;
	long v;

	ERR_clear_error();
	errno = 0;
	rc = SSL_do_handshake(d->ssl);
	if (rc == 1)
		return 1;
	e = SSL_get_error(d->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		wait_for(d, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE);
		return 0;
	}
	v = SSL_get_verify_result(d->ssl);
	if (v != X509_V_OK && a->proxy_ca_file)
		fed_error_set(err, FED_ETLS,
		              "proxy %s: its TLS certificate is not trusted (%s): "
		              "--proxy-ca-file %s must hold the CA that signed it",
		              pname, X509_verify_cert_error_string(v), a->proxy_ca_file);
	else if (v != X509_V_OK)
		fed_error_set(err, FED_ETLS,
		              "proxy %s: its TLS certificate is not trusted by the system "
		              "store (%s): give its CA with --proxy-ca-file FILE",
		              pname, X509_verify_cert_error_string(v));
	else if (e == SSL_ERROR_SYSCALL && errno)
		fed_error_set(err, FED_EUNAVAILABLE, "proxy %s: TLS handshake: %s", pname,
		              strerror(errno));
	else
		fed_error_set(err, FED_ETLS,
		              "proxy %s: TLS handshake failed: %s (an https:// proxy "
		              "must serve TLS on that port; use http:// for a plain one)",
		              pname,
		              e == SSL_ERROR_SYSCALL ? "connection closed"
		                                     : fed_tunnel_tls_error(eb, sizeof(eb)));
	ERR_clear_error();
	return err->code;
}

static int io_failed(struct agent_proxy_dial *d, struct fed_error *err)
{
	/* a TLS proxy given as http:// drops or ignores the plain CONNECT */
	return fed_error_set(
	    err, FED_EUNAVAILABLE, "proxy %s: %s while asking for %s%s", d->pname,
	    errno ? strerror(errno) : "connection closed", d->target,
	    !d->ssl && !d->resp.len ? " (if the proxy serves TLS, use an https:// URL)" : "");
}

/* Send the CONNECT, read the answer up to the end of its head only (the
 * tunnel's TLS starts right after it). 1: done; 0: waiting; < 0: failed. */
static int connect_step(struct agent_proxy_dial *d, struct fed_error *err)
{
	size_t used = 0;
	int rc;

	while (d->off < d->req.len) {
		ssize_t n = proxy_io(d, true, d->req.data + d->off, d->req.len - d->off);

		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return io_failed(d, err);
		d->off += (size_t)n;
	}
	/* the head is at most 16 KiB (fed_proxy_connect_response), and the
	 * step's deadline bounds how long it may take */
	while ((rc = fed_proxy_connect_response(d->resp.data ? d->resp.data : "", d->resp.len,
	                                        &used, err)) == 0) {
		char c;
		ssize_t n = proxy_io(d, false, &c, 1);

		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return io_failed(d, err);
		if (fed_buf_append(&d->resp, &c, 1) < 0)
			return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	if (rc < 0) {
		/* "proxy: CONNECT refused: ..." -> "proxy HOST:PORT: ..." */
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s",
		         strncmp(err->msg, "proxy: ", 7) ? err->msg : err->msg + 7);
		return fed_error_set(err, rc, "proxy %s: %s", d->pname, msg);
	}
	return 1;
}

/* Run the steps as far as the proxy lets us. 1: connected; 0: waiting;
 * < 0: failed. */
static int advance(struct agent_proxy_dial *d, struct fed_error *err)
{
	int rc, e = 0;
	socklen_t len = sizeof(e);

	for (;;) {
		switch (d->step) {
		case STEP_TCP:
			if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
				e = errno;
			if (e)
				return fed_error_set(err, FED_EUNAVAILABLE,
				                     "cannot connect to the proxy %s: %s", d->pname,
				                     strerror(e));
			if (d->px.tls) {
				if (tls_setup(d, err) < 0)
					return err->code;
				begin(d, STEP_TLS);
				break;
			}
			/* fall through */
		case STEP_TLS:
			if (d->step == STEP_TLS && (rc = tls_step(d, err)) <= 0)
				return rc;
			if (fed_proxy_connect_request(&d->req, d->target, &d->px) < 0)
				return fed_error_set(err, FED_ENOMEM, "out of memory");
			begin(d, STEP_CONNECT);
			break;
		case STEP_CONNECT:
			return connect_step(d, err);
		}
	}
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct agent_proxy_dial *d = w->data;
	struct fed_error err = FED_ERROR_INIT;
	int rc = advance(d, &err);

	if (rc == 0)
		return;
	if (rc > 0) {
		if (d->ssl)
			FED_LOG_DEBUG(NULL,
			              "connected to %s through the proxy %s (%s to the proxy)",
			              d->target, d->pname, SSL_get_version(d->ssl));
		else
			FED_LOG_DEBUG(NULL, "connected to %s through the proxy %s", d->target,
			              d->pname);
	}
	finish(d, rc > 0 ? 0 : rc, &err);
}

static void late_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent_proxy_dial *d = w->data;
	struct fed_error err = FED_ERROR_INIT;
	double t = d->a->proxy_step_timeout;

	if (d->step == STEP_TCP)
		fed_error_set(&err, FED_ETIMEOUT, "proxy %s: no TCP connection within %g s",
		              d->pname, t);
	else if (d->step == STEP_TLS)
		fed_error_set(&err, FED_ETIMEOUT,
		              "proxy %s: no TLS handshake within %g s (an https:// proxy must "
		              "serve TLS on that port; use http:// for a plain one)",
		              d->pname, t);
	else
		fed_error_set(&err, FED_ETIMEOUT,
		              "proxy %s: no complete CONNECT response within %g s (asking for %s, "
		              "%zu bytes of it received)",
		              d->pname, t, d->target, d->resp.len);
	finish(d, err.code, &err);
}

int agent_proxy_dial(struct agent *a, const char *url, const char *target, agent_proxy_done done,
                     struct fed_error *err)
{
	struct agent_proxy_dial *d = calloc(1, sizeof(*d));
	char what[320];
	int rc = FED_ENOMEM;

	if (!d)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	d->a = a;
	d->done = done;
	d->fd = -1;
	ev_io_init(&d->io, io_cb, -1, EV_WRITE);
	ev_timer_init(&d->deadline, late_cb, 0., 0.);
	d->io.data = d->deadline.data = d;
	if (fed_proxy_parse_url(url, &d->px, err) < 0) {
		rc = fed_error_wrap(err, "HTTPS_PROXY");
		goto fail;
	}
	snprintf(d->pname, sizeof(d->pname), strchr(d->px.host, ':') ? "[%s]:%s" : "%s:%s",
	         d->px.host, d->px.port);
	d->target = strdup(target);
	if (!d->target) {
		rc = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(what, sizeof(what), "the proxy %s", d->pname);
	d->fd = agent_dial(a, d->px.host, d->px.port, what, err);
	if (d->fd < 0) {
		rc = d->fd;
		goto fail;
	}
	begin(d, STEP_TCP);
	wait_for(d, EV_WRITE);
	a->proxy_dial = d;
	return 0;
fail:
	dial_free(d);
	return rc;
}

void agent_proxy_cancel(struct agent *a)
{
	if (a->proxy_dial)
		dial_free(a->proxy_dial);
	a->proxy_dial = NULL;
}
