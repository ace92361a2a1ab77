/* Internals of the peers (peers.c) shared with the endless server
 * (endless.c): one attack thread, its loop and its peers. */
#ifndef BENCH_HOSTILE_PEERS_H
#define BENCH_HOSTILE_PEERS_H

#include <pthread.h>
#include <stdbool.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "fed/buf.h"
#include "hostile.h"

enum peer_kind { PK_RAW, PK_PING, PK_GARBAGE, PK_FLOOD, PK_ENDLESS };
enum peer_state { PS_IDLE, PS_CONNECT, PS_TLS, PS_AUTHWAIT, PS_SEND };

#define MAX_PEERS    1024
#define CHUNK        (64 * 1024)
#define WRITE_BUDGET (256 * 1024) /* per callback, so that peers share the thread */
#define RECONNECT    0.01         /* seconds before a closed peer dials again */

struct peer {
	struct attack *a;
	enum peer_kind kind;
	enum peer_state st;
	int fd;
	SSL *ssl;
	ev_io io;
	ev_timer retry;
	struct fed_buf pre; /* sent first: HELLO and AUTH, or the HTTP head */
	size_t pre_off, loop_off;
	struct fed_buf in; /* (b) until AUTH_OK */
};

struct attack {
	struct attack_opts o;
	struct ev_loop *loop;
	ev_async stop_w;
	pthread_t th;
	bool stopping;
	SSL_CTX *cctx, *sctx;
	/* what each kind sends over and over, whole frames */
	uint8_t ping[CHUNK], garbage[CHUNK], flood[CHUNK], body[CHUNK];
	size_t ping_len, flood_len;
	struct peer peers[MAX_PEERS];
	int npeers;
	int lfd;
	ev_io accept_w;
	char token[256];
	char *cred; /* (b) from AUTH_OK: kept in memory only */
	struct attack_stats st;
};

/* peers.c */
struct peer *peer_add(struct attack *a, enum peer_kind kind, int fd);
/* by_host: the other end closed it; a dialling peer dials again */
void peer_close(struct peer *p, bool by_host);
/* wait for these events (EV_READ, EV_WRITE) on the peer's socket */
void peer_want(struct peer *p, int ev);
/* endless.c: listen on 127.0.0.1:o.endless_port and serve every request
 * 200 with a body that never ends */
int endless_listen(struct attack *a, char *err, size_t errlen);

#endif
