/* Idle connections to direct members, kept for the next caller's request
 * (a TLS handshake per request would cost more than the member's answer).
 * Keyed by a digest of the member's address and TLS material, so a new
 * kubeconfig never reuses the old one's connections; the bearer token goes
 * with each request, not the connection. A member that closes an idle
 * connection (or sends anything on it) drops it; so does POOL_IDLE_S. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "connect_internal.h"

#define POOL_IDLE_S  60.0
#define POOL_PER_KEY 8
#define POOL_MAX     256

struct mconn {
	struct connect *cs;
	struct mconn *prev, *next;
	char key[65];
	int fd;
	SSL *ssl;
	ev_io io;
	ev_timer idle;
};

/* Out of the pool, its watchers stopped; the connection still open. */
static void unlink_idle(struct mconn *m)
{
	struct connect *cs = m->cs;

	ev_io_stop(cs->ctl->loop, &m->io);
	ev_timer_stop(cs->ctl->loop, &m->idle);
	if (m->prev)
		m->prev->next = m->next;
	else
		cs->pool = m->next;
	if (m->next)
		m->next->prev = m->prev;
	cs->npool--;
}

static void drop(struct mconn *m)
{
	unlink_idle(m);
	SSL_free(m->ssl);
	close(m->fd);
	free(m);
}

static void gone_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	drop(w->data); /* readable while idle: closed, or talking out of turn */
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	drop(w->data);
}

void cpool_key(const struct fed_kube_dial *d, const char *cluster, char out[65])
{
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int n = 0;
	const char *parts[] = {cluster, d->server, d->tls_server_name, d->ca_pem, d->cert_pem};

	if (x)
		EVP_DigestInit_ex(x, EVP_sha256(), NULL);
	for (size_t i = 0; x && i < sizeof(parts) / sizeof(parts[0]); i++)
		EVP_DigestUpdate(x, parts[i] ? parts[i] : "", parts[i] ? strlen(parts[i]) + 1 : 1);
	if (!x || !EVP_DigestFinal_ex(x, md, &n))
		memset(md, 0, sizeof(md));
	EVP_MD_CTX_free(x);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int cpool_get(struct connect *cs, const char *key, SSL **ssl)
{
	for (struct mconn *m = cs->pool; m; m = m->next) {
		int fd;

		if (strcmp(m->key, key))
			continue;
		fd = m->fd;
		*ssl = m->ssl;
		unlink_idle(m);
		free(m);
		return fd;
	}
	return -1;
}

void cpool_put(struct connect *cs, const char *key, int fd, SSL *ssl)
{
	struct mconn *m;
	int same = 0;

	for (m = cs->pool; m; m = m->next)
		same += !strcmp(m->key, key);
	if (same >= POOL_PER_KEY || cs->npool >= POOL_MAX) {
		SSL_free(ssl);
		close(fd);
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->cs = cs;
	memcpy(m->key, key, sizeof(m->key));
	m->fd = fd;
	m->ssl = ssl;
	ev_io_init(&m->io, gone_cb, fd, EV_READ);
	m->io.data = m;
	ev_io_start(cs->ctl->loop, &m->io);
	ev_timer_init(&m->idle, idle_cb, POOL_IDLE_S, 0.);
	m->idle.data = m;
	ev_timer_start(cs->ctl->loop, &m->idle);
	m->next = cs->pool;
	if (m->next)
		m->next->prev = m;
	cs->pool = m;
	cs->npool++;
}

void cpool_free(struct connect *cs)
{
	while (cs->pool)
		drop(cs->pool);
}
