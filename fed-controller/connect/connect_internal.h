/* What connect.c, connect_conn.c and connect_dial.c share. */
#ifndef FED_CONTROLLER_CONNECT_INTERNAL_H
#define FED_CONTROLLER_CONNECT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "../controller.h"
#include "connect.h"
#include "fed/buf.h"
#include "fed/connect.h"
#include "fed/kube.h"
#include "fed/splice.h"

#define CONNECT_HEAD_MAX 16384 /* request line and headers */

struct cconn;

struct connect {
	struct controller *ctl;
	int lfd;
	ev_io lio;
	ev_timer accept_retry;
	/* serving: our certificate, and the front proxy's CA to verify
	 * callers against; rebuilt when either changes */
	SSL_CTX *sctx;
	char *cert_pem, *key_pem;
	struct fed_connect_front_proxy fp;
	bool have_fp;
	char *fp_ca_seen; /* the CA the context was built with */
	/* the Secret, the front proxy's ConfigMap and the APIService: read at
	 * start and every REFRESH_S */
	ev_timer refresh;
	struct fed_kube_call *secret_call, *fp_call, *api_call;
	bool secret_writing, api_missing_said;
	struct cconn *conns; /* doubly linked */
	int nconns;
	struct fed_map users; /* user -> int *: connections to members now */
	int nstreams;         /* their sum */
	struct fed_metrics_family *m_requests, *m_open;
};

/* connect_conn.c */
void cconn_accept(struct connect *cs, int fd);
void cconn_free(struct cconn *c);

/* connect_dial.c: a connection to the member's apiserver (direct: TCP and
 * TLS with the member's CA and client certificate; through an agent: its
 * connect socket), then done(ud, fd, ssl, err) once, from the loop: fd >= 0
 * with ssl (NULL for plain) handed over, or fd -1 and err. */
struct cdial;
typedef void (*cdial_done)(void *ud, int fd, SSL *ssl, const struct fed_error *err);
int cdial_start(struct ev_loop *loop, const struct fed_kube_dial *d, double timeout,
                cdial_done done, void *ud, struct cdial **out, struct fed_error *err);
int cdial_unix(struct ev_loop *loop, const char *path, cdial_done done, void *ud,
               struct cdial **out, struct fed_error *err);
void cdial_cancel(struct cdial *d);

#endif
