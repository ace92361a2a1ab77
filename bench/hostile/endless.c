/* (c) of bench-hostile: a member "apiserver" on 127.0.0.1 answering every
 * request with 200 and a body that never ends, as fast as the controller
 * reads it. Its peers are PK_ENDLESS slots of the attack's table, driven
 * by peers.c like the others (TLS, then the head, then the body). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peers.h"

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct attack *a = w->data;
	struct peer *p = NULL;
	int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* reuse a finished slot before taking a new one */
	for (int i = 0; i < a->npeers && !p; i++)
		if (a->peers[i].st == PS_IDLE)
			p = &a->peers[i];
	if (!p && !(p = peer_add(a, PK_ENDLESS, fd))) {
		close(fd);
		return;
	}
	p->fd = fd;
	p->ssl = SSL_new(a->sctx);
	if (!p->ssl || !SSL_set_fd(p->ssl, fd)) {
		peer_close(p, false);
		return;
	}
	SSL_set_accept_state(p->ssl);
	p->st = PS_TLS;
	a->st.endless_conns++;
	peer_want(p, EV_READ);
}

int endless_listen(struct attack *a, char *err, size_t errlen)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int one = 1;

	a->sctx = SSL_CTX_new(TLS_server_method());
	if (a->sctx)
		SSL_CTX_set_mode(a->sctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
		                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!a->sctx || SSL_CTX_use_certificate_chain_file(a->sctx, a->o.endless_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(a->sctx, a->o.endless_key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "endless server: cannot load %s / %s", a->o.endless_cert,
		         a->o.endless_key);
		return -1;
	}
	sa.sin_port = htons((uint16_t)a->o.endless_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->lfd < 0 || setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(a->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(a->lfd, 64)) {
		snprintf(err, errlen, "endless server: 127.0.0.1:%d: %s", a->o.endless_port,
		         strerror(errno));
		return -1;
	}
	ev_io_init(&a->accept_w, on_accept, a->lfd, EV_READ);
	a->accept_w.data = a;
	ev_io_start(a->loop, &a->accept_w);
	return 0;
}
