/* The hostile peers of bench-hostile, on a thread with its own loop so
 * that the measurements on the main loop keep their timing.
 *
 *  (a) --clients unauthenticated clients, a quarter sending random bytes
 *      without TLS, the rest TLS then HELLO and AUTH with a wrong token
 *      and then PINGs (half) or random bytes (half), reading and dropping
 *      what the host sends; each reconnects when closed
 *  (b) one agent authenticated with a real bootstrap token (then with the
 *      credential of its AUTH_OK) sending PINGs, FIN and 1-byte DATA for
 *      streams never opened (each answered with RST), WINDOW and RST for
 *      unknown streams, and never reading after AUTH_OK
 *  (c) an HTTPS server answering every request with 200 and a body that
 *      never ends, as fast as the controller reads
 *
 * Every peer talks to 127.0.0.1 only; the thread stops when told. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "fed/buf.h"
#include "fed/tunnel.h"
#include "peers.h"

static void peer_dial(struct peer *p);

static void frame(struct fed_buf *b, uint8_t type, uint32_t stream, const void *pl, size_t n)
{
	fed_tunnel_frame_encode(b, type, stream, pl, n);
}

static void hello_auth(struct peer *p, int kind, const char *secret)
{
	uint8_t h[12] = {0, FED_TUNNEL_VERSION}, auth[512];
	size_t n = strlen(secret);

	if (n >= sizeof(auth))
		n = sizeof(auth) - 1;
	fed_tunnel_put_u32(h + 4, FED_TUNNEL_MAX_FRAME);
	fed_tunnel_put_u32(h + 8, FED_TUNNEL_STREAM_WINDOW);
	frame(&p->pre, FED_TUNNEL_HELLO, 0, h, sizeof(h));
	auth[0] = (uint8_t)kind;
	memcpy(auth + 1, secret, n);
	frame(&p->pre, FED_TUNNEL_AUTH, 0, auth, n + 1);
	OPENSSL_cleanse(auth, sizeof(auth));
}

static void build_buffers(struct attack *a)
{
	struct fed_buf b = FED_BUF_INIT;
	uint8_t ping[8] = {1, 2, 3, 4, 5, 6, 7, 8}, u32[4] = {0, 0, 1, 0};
	uint32_t id = 0x40000001; /* far above anything the host opens */

	RAND_bytes(a->garbage, sizeof(a->garbage));
	memset(a->body, 'x', sizeof(a->body)); /* printable: curl keeps it as is */
	while (b.len + 20 <= CHUNK)
		frame(&b, FED_TUNNEL_PING, 0, ping, sizeof(ping));
	memcpy(a->ping, b.data, b.len);
	a->ping_len = b.len;
	b.len = 0;
	/* 8 PINGs, then FIN, 1-byte DATA, WINDOW and RST for never-opened streams */
	while (b.len + 8 * 20 + 12 + 13 + 16 + 16 <= CHUNK) {
		for (int i = 0; i < 8; i++)
			frame(&b, FED_TUNNEL_PING, 0, ping, sizeof(ping));
		frame(&b, FED_TUNNEL_FIN, id, NULL, 0);
		frame(&b, FED_TUNNEL_DATA, id + 2, "x", 1);
		frame(&b, FED_TUNNEL_WINDOW, id + 4, u32, 4);
		frame(&b, FED_TUNNEL_RST, id + 6, u32, 4);
		id += 8;
	}
	memcpy(a->flood, b.data, b.len);
	a->flood_len = b.len;
	fed_buf_release(&b);
}

/* ---- one peer ----------------------------------------------------------- */

void peer_close(struct peer *p, bool by_host)
{
	struct attack *a = p->a;
	struct linger lg = {1, 0};

	ev_io_stop(a->loop, &p->io);
	if (p->ssl)
		SSL_free(p->ssl);
	p->ssl = NULL;
	if (p->fd >= 0) {
		/* RST, not FIN: no TIME_WAIT piling up over thousands of dials */
		setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(p->fd);
	}
	p->fd = -1;
	p->st = PS_IDLE;
	fed_buf_release(&p->pre);
	fed_buf_release(&p->in);
	p->pre_off = p->loop_off = 0;
	if (by_host)
		a->st.closed_by_host++;
	if (!a->stopping && p->kind != PK_ENDLESS) {
		ev_timer_set(&p->retry, RECONNECT * (p->kind == PK_FLOOD ? 10 : 1), 0.);
		ev_timer_start(a->loop, &p->retry);
	}
}

void peer_want(struct peer *p, int ev)
{
	if (p->io.events == ev && ev_is_active(&p->io))
		return;
	ev_io_stop(p->a->loop, &p->io);
	ev_io_set(&p->io, p->fd, ev);
	ev_io_start(p->a->loop, &p->io);
}

/* Write via TLS or not; returns bytes written, 0 to wait, -1 when gone. */
static ssize_t out(struct peer *p, const void *buf, size_t n)
{
	ssize_t rc;

	if (!p->ssl) {
		rc = send(p->fd, buf, n, MSG_NOSIGNAL);
		if (rc < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return rc < 0 ? -1 : rc;
	}
	ERR_clear_error();
	rc = SSL_write(p->ssl, buf, (int)n);
	if (rc > 0)
		return rc;
	rc = SSL_get_error(p->ssl, (int)rc);
	return rc == SSL_ERROR_WANT_WRITE || rc == SSL_ERROR_WANT_READ ? 0 : -1;
}

/* Send the preamble, then the kind's buffer forever, within a budget. */
static void pump(struct peer *p)
{
	struct attack *a = p->a;
	const uint8_t *buf = p->kind == PK_PING      ? a->ping
	                     : p->kind == PK_FLOOD   ? a->flood
	                     : p->kind == PK_ENDLESS ? a->body
	                                             : a->garbage;
	size_t len = p->kind == PK_PING ? a->ping_len : p->kind == PK_FLOOD ? a->flood_len : CHUNK;
	size_t budget = WRITE_BUDGET;
	ssize_t n;

	while (budget > 0 && !a->stopping) {
		if (p->pre_off >= p->pre.len && p->st != PS_SEND) {
			peer_want(p, EV_READ); /* (b) the flood waits for AUTH_OK */
			return;
		}
		if (p->pre_off < p->pre.len)
			n = out(p, p->pre.data + p->pre_off, p->pre.len - p->pre_off);
		else
			n = out(p, buf + p->loop_off, len - p->loop_off);
		if (n == 0)
			return;
		if (n < 0) {
			peer_close(p, true);
			return;
		}
		if (p->pre_off < p->pre.len)
			p->pre_off += (size_t)n;
		else
			p->loop_off = (p->loop_off + (size_t)n) % len;
		a->st.bytes_sent += (unsigned long long)n;
		budget = budget > (size_t)n ? budget - (size_t)n : 0;
	}
}

/* Read and drop what the host sends; false when it closed. */
static bool drain(struct peer *p)
{
	char buf[16384];
	ssize_t rc;

	for (int i = 0; i < 16; i++) {
		if (!p->ssl) {
			rc = recv(p->fd, buf, sizeof(buf), 0);
			if (rc < 0 && (errno == EAGAIN || errno == EINTR))
				return true;
			if (rc <= 0)
				return false;
			continue;
		}
		ERR_clear_error();
		rc = SSL_read(p->ssl, buf, sizeof(buf));
		if (rc > 0) {
			if (p->st == PS_AUTHWAIT && fed_buf_append(&p->in, buf, (size_t)rc) < 0)
				return false;
			continue;
		}
		rc = SSL_get_error(p->ssl, (int)rc);
		return rc == SSL_ERROR_WANT_READ || rc == SSL_ERROR_WANT_WRITE;
	}
	return true;
}

/* (b): AUTH_OK carries the credential for later dials; GOAWAY is a refusal. */
static void auth_reply(struct peer *p)
{
	struct attack *a = p->a;
	size_t off = 0;

	while (p->in.len - off >= FED_TUNNEL_HDR) {
		const uint8_t *h = (const uint8_t *)p->in.data + off;
		uint32_t n = fed_tunnel_get_u32(h + 8);
		const char *pl = (const char *)h + FED_TUNNEL_HDR, *nul;

		if (p->in.len - off - FED_TUNNEL_HDR < n)
			return;
		if (h[0] == FED_TUNNEL_GOAWAY) {
			snprintf(a->st.error, sizeof(a->st.error),
			         "flooding agent refused by the host (GOAWAY %u)",
			         n >= 4 ? fed_tunnel_get_u32(h + FED_TUNNEL_HDR) : 0);
			a->stopping = true; /* no token left to try */
			peer_close(p, true);
			return;
		}
		if (h[0] == FED_TUNNEL_AUTH_OK) {
			nul = memchr(pl, '\0', n);
			if (nul && (size_t)(nul - pl) + 1 < n) {
				free(a->cred);
				a->cred = strndup(nul + 1, n - (size_t)(nul - pl) - 1);
			}
			a->st.auth_ok++;
			p->st = PS_SEND;
			fed_buf_release(&p->in);
			peer_want(p, EV_WRITE); /* and never read again */
			pump(p);
			return;
		}
		off += FED_TUNNEL_HDR + n;
	}
}

/* A bootstrap token of the right shape that no Secret holds. */
static void wrong_token(struct peer *p)
{
	unsigned char r[32];
	char wrong[65];

	RAND_bytes(r, sizeof(r));
	for (int i = 0; i < 32; i++)
		snprintf(wrong + 2 * i, 3, "%02x", r[i]);
	hello_auth(p, FED_TUNNEL_AUTH_BOOTSTRAP, wrong);
}

static void on_tls(struct peer *p)
{
	struct attack *a = p->a;
	int rc;

	ERR_clear_error();
	rc = SSL_do_handshake(p->ssl);
	if (rc != 1) {
		rc = SSL_get_error(p->ssl, rc);
		if (rc == SSL_ERROR_WANT_READ || rc == SSL_ERROR_WANT_WRITE) {
			peer_want(p, rc == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE);
			return;
		}
		peer_close(p, true);
		return;
	}
	a->st.tls_ok++;
	if (p->kind == PK_ENDLESS) {
		p->st = PS_AUTHWAIT; /* the request head, then the body */
		peer_want(p, EV_READ);
		return;
	}
	if (p->kind == PK_FLOOD) {
		if (a->cred)
			hello_auth(p, FED_TUNNEL_AUTH_CREDENTIAL, a->cred);
		else if (a->token[0]) {
			hello_auth(p, FED_TUNNEL_AUTH_BOOTSTRAP, a->token);
			OPENSSL_cleanse(a->token, sizeof(a->token)); /* single use */
		} else {
			snprintf(a->st.error, sizeof(a->st.error),
			         "flooding agent: no credential to reconnect with");
			a->stopping = true;
			peer_close(p, false);
			return;
		}
		/* the first dial reads AUTH_OK for the credential; later ones
		 * never read at all */
		p->st = a->st.auth_ok ? PS_SEND : PS_AUTHWAIT;
		peer_want(p, p->st == PS_SEND ? EV_WRITE : EV_READ | EV_WRITE);
		pump(p);
		return;
	}
	wrong_token(p);
	p->st = PS_SEND;
	peer_want(p, EV_READ | EV_WRITE);
	pump(p);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct peer *p = w->data;
	int err = 0;
	socklen_t elen = sizeof(err);

	if (p->st == PS_CONNECT) {
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err) {
			peer_close(p, false);
			return;
		}
		p->a->st.connects++;
		if (p->kind == PK_RAW) {
			p->st = PS_SEND;
			peer_want(p, EV_READ | EV_WRITE);
		} else {
			p->ssl = SSL_new(p->a->cctx);
			if (!p->ssl || !SSL_set_fd(p->ssl, p->fd)) {
				peer_close(p, false);
				return;
			}
			SSL_set_connect_state(p->ssl);
			p->st = PS_TLS;
		}
	}
	if (p->st == PS_TLS) {
		on_tls(p);
		return;
	}
	if (p->kind == PK_ENDLESS && p->st == PS_AUTHWAIT) {
		if (!drain(p)) {
			peer_close(p, false);
			return;
		}
		fed_buf_puts(&p->pre, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		                      "Connection: close\r\n\r\n[\"");
		p->st = PS_SEND;
		peer_want(p, EV_READ | EV_WRITE);
	}
	if ((revents & EV_READ) && p->st == PS_AUTHWAIT) { /* (b) */
		bool alive = drain(p);

		auth_reply(p); /* a GOAWAY may come just before the close */
		if (!alive && p->st == PS_AUTHWAIT)
			peer_close(p, true);
		return;
	}
	if ((revents & EV_READ) && p->kind != PK_FLOOD && !drain(p)) {
		peer_close(p, true);
		return;
	}
	if ((revents & EV_WRITE) && (p->st == PS_SEND || p->st == PS_AUTHWAIT))
		pump(p);
}

static void peer_dial(struct peer *p)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int one = 1;

	sa.sin_port = htons((uint16_t)p->a->o.tunnel_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		peer_close(p, false);
		return;
	}
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		peer_close(p, false);
		return;
	}
	p->st = PS_CONNECT;
	p->a->st.dials++;
	peer_want(p, EV_WRITE);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer *p = w->data;

	if (!p->a->stopping)
		peer_dial(p);
}

struct peer *peer_add(struct attack *a, enum peer_kind kind, int fd)
{
	struct peer *p;

	if (a->npeers >= MAX_PEERS)
		return NULL;
	p = &a->peers[a->npeers++];
	p->a = a;
	p->kind = kind;
	p->fd = fd;
	ev_init(&p->io, on_io);
	p->io.data = p;
	ev_init(&p->retry, on_retry);
	p->retry.data = p;
	return p;
}

/* ---- the thread ------------------------------------------------------------- */

static void on_stop(struct ev_loop *loop, ev_async *w, int revents)
{
	struct attack *a = w->data;

	a->stopping = true;
	for (int i = 0; i < a->npeers; i++) {
		ev_timer_stop(loop, &a->peers[i].retry);
		if (a->peers[i].st != PS_IDLE)
			peer_close(&a->peers[i], false);
	}
	if (a->lfd >= 0)
		ev_io_stop(loop, &a->accept_w);
	ev_break(loop, EVBREAK_ALL);
}

static void *run(void *ud)
{
	struct attack *a = ud;

	ev_run(a->loop, 0);
	return NULL;
}

static int read_token(struct attack *a, char *err, size_t errlen)
{
	FILE *f = fopen(a->o.token_file, "r");
	size_t n;

	if (!f) {
		snprintf(err, errlen, "%s: %s", a->o.token_file, strerror(errno));
		return -1;
	}
	n = fread(a->token, 1, sizeof(a->token) - 1, f);
	fclose(f);
	while (n && (a->token[n - 1] == '\n' || a->token[n - 1] == ' '))
		n--;
	a->token[n] = '\0';
	if (!n) {
		snprintf(err, errlen, "%s: empty", a->o.token_file);
		return -1;
	}
	return 0;
}

int attack_start(struct attack **out, const struct attack_opts *o, char *err, size_t errlen)
{
	struct attack *a = calloc(1, sizeof(*a));
	int i, nraw;

	*out = NULL;
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->o = *o;
	a->lfd = -1;
	a->loop = ev_loop_new(EVFLAG_AUTO);
	a->cctx = SSL_CTX_new(TLS_client_method());
	if (!a->loop || !a->cctx) {
		snprintf(err, errlen, "cannot make a loop or a TLS context");
		goto fail;
	}
	/* an attacker does not care who the host is */
	SSL_CTX_set_verify(a->cctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(a->cctx,
	                 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	build_buffers(a);
	ev_async_init(&a->stop_w, on_stop);
	a->stop_w.data = a;
	ev_async_start(a->loop, &a->stop_w);
	switch (o->kind) {
	case SC_GARBAGE:
		nraw = o->clients / 4;
		for (i = 0; i < o->clients && i < MAX_PEERS; i++)
			peer_dial(peer_add(a,
			                   i < nraw              ? PK_RAW
			                   : (i - nraw) % 2 == 0 ? PK_PING
			                                         : PK_GARBAGE,
			                   -1));
		break;
	case SC_FLOOD:
		if (read_token(a, err, errlen))
			goto fail;
		peer_dial(peer_add(a, PK_FLOOD, -1));
		break;
	case SC_ENDLESS:
		if (endless_listen(a, err, errlen))
			goto fail;
		break;
	case SC_IDLE:
		break;
	}
	if (pthread_create(&a->th, NULL, run, a)) {
		snprintf(err, errlen, "cannot start the attack thread");
		goto fail;
	}
	*out = a;
	return 0;
fail:
	OPENSSL_cleanse(a->token, sizeof(a->token));
	if (a->lfd >= 0)
		close(a->lfd);
	for (i = 0; i < a->npeers; i++)
		if (a->peers[i].fd >= 0)
			close(a->peers[i].fd);
	SSL_CTX_free(a->cctx);
	SSL_CTX_free(a->sctx);
	if (a->loop)
		ev_loop_destroy(a->loop);
	free(a);
	return -1;
}

void attack_stop(struct attack *a, struct attack_stats *st)
{
	if (!a)
		return;
	ev_async_send(a->loop, &a->stop_w);
	pthread_join(a->th, NULL);
	*st = a->st;
	if (a->lfd >= 0)
		close(a->lfd);
	if (a->cred)
		OPENSSL_cleanse(a->cred, strlen(a->cred));
	free(a->cred);
	OPENSSL_cleanse(a->token, sizeof(a->token));
	SSL_CTX_free(a->cctx);
	SSL_CTX_free(a->sctx);
	ev_loop_destroy(a->loop);
	free(a);
}
