/* The connection to a member for one caller's request: the member's
 * address resolved without blocking the loop (getaddrinfo_a for a name),
 * a non-blocking connect to each address in turn, and TLS verified
 * against the member's CA with the member credential's client
 * certificate; or the agent's connect socket. Bounded by a deadline. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/err.h>

#include "connect_internal.h"
#include "fed/tls.h"

#define RESOLVE_POLL_S 0.005

struct cdial {
	struct ev_loop *loop;
	char *host, *port, *name;
	bool tls;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	/* resolution: getaddrinfo_a keeps req until it is done or cancelled */
	struct gaicb req, *reqs[1];
	struct addrinfo hints;
	bool resolving;
	struct addrinfo *res, *next;
	ev_io io;
	ev_timer deadline, poll;
	cdial_done done;
	void *ud;
	bool canceled;
};

static void destroy(struct cdial *d)
{
	ev_io_stop(d->loop, &d->io);
	ev_timer_stop(d->loop, &d->deadline);
	ev_timer_stop(d->loop, &d->poll);
	if (d->ssl)
		SSL_free(d->ssl);
	if (d->fd >= 0)
		close(d->fd);
	SSL_CTX_free(d->ctx);
	if (d->res)
		freeaddrinfo(d->res);
	free(d->host);
	free(d->port);
	free(d->name);
	free(d);
}

/* Ends the dial: the callback once, then freed (later, if a resolution
 * still runs: glibc owns req until it ends). */
static void finish(struct cdial *d, const struct fed_error *err)
{
	cdial_done done = d->done;

	d->done = NULL;
	ev_io_stop(d->loop, &d->io);
	ev_timer_stop(d->loop, &d->deadline);
	if (done) {
		if (err) {
			done(d->ud, -1, NULL, err);
		} else {
			int fd = d->fd;
			SSL *ssl = d->ssl;

			d->fd = -1;
			d->ssl = NULL;
			done(d->ud, fd, ssl, NULL);
		}
	}
	if (d->resolving) {
		d->canceled = true;
		gai_cancel(&d->req);
		return; /* poll_cb frees it once glibc lets go */
	}
	destroy(d);
}

static void fail(struct cdial *d, int code, const char *fmt, const char *a, const char *b)
{
	struct fed_error err = FED_ERROR_INIT;

	fed_error_set(&err, code, fmt, a, b);
	finish(d, &err);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);

static void wait_io(struct cdial *d, int ev)
{
	ev_io_stop(d->loop, &d->io);
	ev_io_set(&d->io, d->fd, ev);
	ev_io_start(d->loop, &d->io);
}

/* The next address, or the end of the list. */
static void try_next(struct cdial *d, int last_errno)
{
	if (d->fd >= 0) {
		close(d->fd);
		d->fd = -1;
	}
	for (; d->next; d->next = d->next->ai_next) {
		struct addrinfo *ai = d->next;

		d->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (d->fd < 0) {
			last_errno = errno;
			continue;
		}
		/* requests go out as written (see cconn_accept) */
		setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
		if (connect(d->fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			d->next = ai->ai_next;
			wait_io(d, EV_WRITE);
			return;
		}
		last_errno = errno;
		close(d->fd);
		d->fd = -1;
	}
	fail(d, FED_EUNAVAILABLE, "cannot connect to %s: %s", d->host,
	     strerror(last_errno ? last_errno : EHOSTUNREACH));
}

static void handshake(struct cdial *d)
{
	int rc = SSL_do_handshake(d->ssl);
	char why[160];

	if (rc == 1) {
		finish(d, NULL);
		return;
	}
	switch (SSL_get_error(d->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		wait_io(d, EV_READ);
		return;
	case SSL_ERROR_WANT_WRITE:
		wait_io(d, EV_WRITE);
		return;
	default:
		if (SSL_get_verify_result(d->ssl) != X509_V_OK)
			snprintf(why, sizeof(why), "certificate not trusted: %s",
			         X509_verify_cert_error_string(SSL_get_verify_result(d->ssl)));
		else
			snprintf(why, sizeof(why), "TLS handshake failed");
		ERR_clear_error();
		fail(d, FED_ETLS, "%s: %s", d->host, why);
	}
}

static void connected(struct cdial *d)
{
	struct fed_error err = FED_ERROR_INIT;

	if (!d->tls) {
		finish(d, NULL);
		return;
	}
	if (fed_tls_client_ssl(d->ctx, d->fd, d->name, &d->ssl, &err)) {
		finish(d, &err);
		return;
	}
	handshake(d);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cdial *d = w->data;
	int e = 0;
	socklen_t len = sizeof(e);

	if (d->ssl) {
		handshake(d);
		return;
	}
	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e) {
		try_next(d, e);
		return;
	}
	ev_io_stop(loop, w);
	connected(d);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cdial *d = w->data;

	fail(d, FED_ETIMEOUT, "%s: %s", d->host, "no connection in time");
}

static void resolved(struct cdial *d, int rc)
{
	d->resolving = false;
	ev_timer_stop(d->loop, &d->poll);
	if (d->canceled) {
		if (d->req.ar_result)
			freeaddrinfo(d->req.ar_result);
		destroy(d);
		return;
	}
	if (rc) {
		fail(d, FED_EUNAVAILABLE, "cannot resolve %s: %s", d->host, gai_strerror(rc));
		return;
	}
	d->res = d->next = d->req.ar_result;
	try_next(d, 0);
}

static void poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cdial *d = w->data;
	int rc;

	if (!d->resolving) { /* an address: the first connect, from the loop */
		ev_timer_stop(loop, w);
		try_next(d, 0);
		return;
	}
	rc = gai_error(&d->req);
	if (rc != EAI_INPROGRESS)
		resolved(d, rc);
}

/* host and port of an http(s) URL; tls for https */
static int split_url(struct cdial *d, const char *server, struct fed_error *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int ret = 0;

	if (!u || curl_url_set(u, CURLUPART_URL, server, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
		ret = fed_error_set(err, FED_EINVAL, "server %s: not a valid URL", server);
		goto out;
	}
	d->tls = !strcmp(scheme, "https");
	/* [::1] -> ::1 for getaddrinfo and for the certificate's IP check */
	if (host[0] == '[') {
		size_t n = strlen(host);
		memmove(host, host + 1, n - 1);
		host[n - 2] = '\0';
	}
	if (!(d->host = strdup(host)) || !(d->port = strdup(port)))
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ret;
}

static struct cdial *cdial_alloc(struct ev_loop *loop, cdial_done done, void *ud)
{
	struct cdial *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->loop = loop;
	d->fd = -1;
	d->done = done;
	d->ud = ud;
	ev_init(&d->io, io_cb);
	d->io.data = d;
	ev_init(&d->deadline, deadline_cb);
	d->deadline.data = d;
	ev_init(&d->poll, poll_cb);
	d->poll.data = d;
	return d;
}

int cdial_start(struct ev_loop *loop, const struct fed_kube_dial *dl, double timeout,
                cdial_done done, void *ud, struct cdial **out, struct fed_error *err)
{
	struct cdial *d = cdial_alloc(loop, done, ud);
	struct addrinfo *res = NULL;
	int ret = 0, rc;

	*out = NULL;
	if (!d)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	if ((ret = split_url(d, dl->server, err)))
		goto out;
	if (!(d->name = strdup(dl->tls_server_name ? dl->tls_server_name : d->host))) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	if (d->tls && (ret = fed_tls_client_ctx(dl->ca_pem, dl->ca_len, dl->cert_pem, dl->cert_len,
	                                        dl->key_pem, dl->key_len, d->host, &d->ctx, err)))
		goto out;
	d->hints.ai_socktype = SOCK_STREAM;
	ev_timer_set(&d->deadline, timeout, 0.);
	ev_timer_start(loop, &d->deadline);
	/* an address: at once; a name: in glibc's resolver thread */
	d->hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(d->host, d->port, &d->hints, &res) == 0) {
		d->res = d->next = res;
		ev_timer_set(&d->poll, 0., 0.); /* done never runs before we return */
		ev_timer_start(loop, &d->poll);
		*out = d;
		return 0;
	}
	d->hints.ai_flags = 0;
	d->req.ar_name = d->host;
	d->req.ar_service = d->port;
	d->req.ar_request = &d->hints;
	d->reqs[0] = &d->req;
	if ((rc = getaddrinfo_a(GAI_NOWAIT, d->reqs, 1, NULL))) {
		ret = fed_error_set(err, FED_EUNAVAILABLE, "cannot resolve %s: %s", d->host,
		                    gai_strerror(rc));
		goto out;
	}
	d->resolving = true;
	ev_timer_set(&d->poll, RESOLVE_POLL_S, RESOLVE_POLL_S);
	ev_timer_start(loop, &d->poll);
	*out = d;
	d = NULL;
out:
	if (d && !*out)
		destroy(d);
	return ret;
}

int cdial_unix(struct ev_loop *loop, const char *path, cdial_done done, void *ud,
               struct cdial **out, struct fed_error *err)
{
	struct cdial *d = cdial_alloc(loop, done, ud);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	*out = NULL;
	if (!d)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	if (strlen(path) >= sizeof(sa.sun_path) || !(d->host = strdup("the agent's socket"))) {
		destroy(d);
		return fed_error_set(err, FED_EINVAL, "socket path too long");
	}
	memcpy(sa.sun_path, path, strlen(path));
	d->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd < 0 || (connect(d->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	                  errno != EINPROGRESS && errno != EAGAIN)) {
		int e = errno;

		destroy(d);
		return fed_error_set(err, FED_EUNAVAILABLE, "cannot reach the agent: %s",
		                     strerror(e));
	}
	ev_timer_set(&d->deadline, 10., 0.);
	ev_timer_start(loop, &d->deadline);
	*out = d;
	wait_io(d, EV_WRITE);
	return 0;
}

void cdial_cancel(struct cdial *d)
{
	if (!d)
		return;
	d->done = NULL;
	finish(d, NULL);
}
