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
#include "fed/http_framing.h"
#include "fed/kube.h"
#include "fed/splice.h"

#define CONNECT_HEAD_MAX 16384 /* request line and headers */

struct cconn;
struct mconn;

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
	bool secret_writing, api_missing_said, fp_said, secret_said; /* said once */
	struct cconn *conns;                                         /* doubly linked */
	int nconns;
	struct fed_map users; /* user -> int *: connections to members now */
	int nstreams;         /* their sum */
	struct mconn *pool;   /* idle connections to direct members (connect_pool.c) */
	int npool;
	struct fed_metrics_family *m_requests, *m_open, *m_conns;
};

enum cstate { C_HANDSHAKE, C_HEAD, C_DIAL, C_SPLICE, C_RESPOND, C_LINGER };

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
	/* the exchange with a member (connect_exchange.c) */
	struct fed_http_framing *framing; /* where its answer ends */
	bool frame_error, from_pool, retried;
	char pool_key[65]; /* "" when the connection may not be kept */
	int requests;      /* served on this connection */
};

/* connect_conn.c: the caller's connection */
void cconn_accept(struct connect *cs, int fd);
void cconn_free(struct cconn *c);
/* An answer of ours (a kube Status), then the connection closes. */
void cconn_respond(struct cconn *c, int status, const char *msg);
/* Count a request's outcome in fed_connect_requests_total. */
void cconn_count(struct connect *cs, const char *cluster, const char *result);
/* The caller's next request on a kept-alive connection (early: bytes of
 * it read already). */
void cconn_next_request(struct cconn *c, const struct fed_buf *early);
void cconn_uncount_user(struct cconn *c);

/* connect_exchange.c: the request to the member and its answer back */
void cexchange_start(struct cconn *c, const struct fed_connect_caller *caller, const char *target);

/* connect_pool.c: idle member connections, by cpool_key (cluster,
 * address, TLS material); get hands one over (fd, -1 for none). */
void cpool_key(const struct fed_kube_dial *d, const char *cluster, char out[65]);
int cpool_get(struct connect *cs, const char *key, SSL **ssl);
void cpool_put(struct connect *cs, const char *key, int fd, SSL *ssl);
void cpool_free(struct connect *cs);

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
