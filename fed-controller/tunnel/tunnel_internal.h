/* What tunnel.c (agent connections, rotation, status), tunnel_listen.c
 * (the agent listener, pending handshakes, per-cluster Unix sockets) and
 * tunnel_auth.c (the tunnel Secret, bootstrap tokens, credentials) share.
 * Not for the rest of fed-controller: that uses tunnel.h. */
#ifndef FED_CONTROLLER_TUNNEL_INTERNAL_H
#define FED_CONTROLLER_TUNNEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../members/members.h"
#include "fed/backoff.h"
#include "fed/tunnel_conn.h"
#include "tunnel.h"
#include "tunnel_cred.h"

#define ROTATE_AT      0.4 /* of the lifetime: well before half */
#define STATUS_REFRESH 60  /* seconds between status writes for heartbeat, CPU, memory */
#define ACCEPT_PAUSE   0.1 /* seconds a listener rests after EMFILE/ENOMEM */
#define REFUSE_LOG_GAP 10  /* seconds between logs of refused connections */

/* The directory of the agents' Unix sockets (tunnel_listen.c): open from
 * start to exit, removed at exit if we made it. */
struct tunnel_sockdir {
	char *path;
	int fd;
	bool made;
};

/* tunnel.c and tunnel_status.c: what members/ asks of the tunnel (hooks.h). */
extern const struct hooks_agents agents_hooks;
const char *tunnel_member_url(struct controller *ctl, const char *cluster);
const char *tunnel_member_socket(struct controller *ctl, const char *cluster);
const char *tunnel_member_connect_socket(struct controller *ctl, const char *cluster);
long long tunnel_credential_expiry(struct controller *ctl, const char *cluster);
int tunnel_agents_connected(struct controller *ctl, const char *cluster);
cJSON *tunnel_agent_status(struct controller *ctl, const char *cluster);
bool tunnel_config_mode_agent(struct controller *ctl, const char *cluster);

/* a failed write of generated material: seconds before the first retry,
 * doubling up to the max */
#define TUNNEL_MATERIAL_BACKOFF_MIN 1.0
#define TUNNEL_MATERIAL_BACKOFF_MAX 60.0

/* One of a cluster's Unix sockets (tunnel_listen.c): each connection
 * accepted there becomes a stream of `target` to one of its agents. */
struct tlisten {
	struct tcluster *tc;
	int target; /* FED_TUNNEL_TARGET_* */
	int fd;
	ev_io io;
	ev_timer retry; /* restarts io after an accept failure */
	double warned_at;
	char path[108]; /* sizeof(sun_path); empty when not listening */
};

struct tcluster {
	struct tunnel *t;
	char *name;
	/* <dir>/<cluster>.sock: the member's client, acting as the agent */
	struct tlisten api;
	/* <dir>/<cluster>_connect.sock: cluster connect, one caller's request
	 * per connection, acting as that caller (impersonation kept); on
	 * agents that announced FED_TUNNEL_FEATURE_CONNECT only */
	struct tlisten connect;
	/* --tunnel-max-agents-per-cluster entries each */
	struct fed_tunnel_conn **conns;
	double *issued; /* when conns[i]'s credential was issued */
	int nconns;
	char url[64];   /* what the member's client asks for (Host, paths) */
	char *metadata; /* last METADATA JSON */
	double last_heartbeat;
	long long cred_expiry; /* newest credential issued, unix seconds; 0: none */
	/* the Secret's generation-<cluster> the live connections' credentials
	 * are of: a higher one re-issues (rotate) or closes them (revoke) */
	unsigned long long gen_seen;
	/* what status.agent shows: refreshed on an identity change, else at
	 * most every STATUS_REFRESH seconds */
	struct fed_agent_metadata meta, shown;
	bool have_meta, have_shown;
	double shown_heartbeat, shown_at;
};

struct pending {
	struct fed_tunnel_conn *conn;
	char addr[48]; /* the peer's IP, for --tunnel-max-pending-per-ip */
	struct pending *next;
};

struct tunnel {
	struct controller *ctl;
	struct fed_informer *secret;
	int lfd;
	ev_io lio;
	ev_timer accept_retry; /* restarts lio after an accept failure */
	double accept_warned_at;
	SSL_CTX *ctx;
	bool requested; /* generated material sent to the Secret */
	/* a failed write of generated material is retried from this timer */
	ev_timer material_retry;
	struct fed_backoff material_backoff; /* TUNNEL_MATERIAL_BACKOFF_MIN..MAX */
	struct fed_kube_call *material_call;
	bool config_seen; /* the Federation config was read (or found absent) */
	unsigned char key[64];
	size_t keylen;
	unsigned char tls_md[32]; /* SHA-256 of the served tls.crt and tls.key */
	struct authop *authops;   /* bootstrap tokens being spent (tunnel_auth.c) */
	struct fed_map clusters;  /* name -> struct tcluster */
	struct fed_map used;      /* token hashes used since start */
	struct pending *pending;  /* connections not yet authenticated */
	int npending;
	double refuse_logged_at;     /* last "too many pending" log */
	unsigned long refused_quiet; /* refused since that log */
	struct fed_metrics_family *m_refused, *m_agents, *m_streams, *m_connect_streams;
	ev_timer tick;    /* rotation, expiry and status refresh */
	double last_tick; /* unix seconds */
};

extern const struct fed_kube_resource tunnel_r_secret;

/* tunnel.c */
void tunnel_count_refused(struct tunnel *t, const char *reason);
extern const struct fed_tunnel_conn_cb tunnel_conn_cb;

/* tunnel_listen.c */
/* Listen on --tunnel-address and accept agents (under the pending caps). */
int tunnel_listen_start(struct tunnel *t, struct fed_error *err);
void tunnel_listen_stop(struct tunnel *t);
/* c authenticated or closed: it no longer counts as pending. */
void tunnel_pending_drop(struct tunnel *t, struct fed_tunnel_conn *c);
/* The cluster's state, created (with its Unix socket listener) when create. */
struct tcluster *tunnel_cluster_get(struct tunnel *t, const char *name, bool create);
/* tunnel.c: the cluster's authenticated connections that are ready. */
int tunnel_ready_conns(const struct tcluster *tc);
/* The least loaded ready connection of tc that serves target, or NULL. */
struct fed_tunnel_conn *tunnel_pick_conn(const struct tcluster *tc, int target);
void tunnel_cluster_free(void *tc);

/* tunnel_auth.c */
const cJSON *tunnel_secret_obj(struct tunnel *t);
/* The decoded value of data[key], malloc'd (NUL-terminated), or NULL. */
char *tunnel_secret_value(struct tunnel *t, const char *key, size_t *len);
/* free() after wiping n bytes; accepts NULL. */
void tunnel_wipe_free(char *s, size_t n);
/* Missing certificate or key: generate them and apply them to the Secret;
 * a failure retries with backoff (secret_changed runs again). */
void tunnel_request_material(struct tunnel *t);
/* The timer of a failed write (t->material_retry). */
void tunnel_material_retry_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* tunnel.c: the Secret changed (or a failed write is retried): serve, or
 * ask for what is missing. */
void tunnel_secret_changed(struct tunnel *t);
/* A fresh credential for cluster of generation gen (malloc'd); *expiry
 * gets its expiry. */
char *tunnel_issue_credential(struct tunnel *t, const char *cluster, unsigned long long gen,
                              long long *expiry);
/* The Secret's generation-<cluster> (0 when absent or malformed). */
unsigned long long tunnel_generation(struct tunnel *t, const char *cluster, bool *revoke);
/* c is gone: a token being spent for it no longer answers it. */
void tunnel_auth_forget(struct tunnel *t, struct fed_tunnel_conn *c);
/* tunnel_stop: cancel the token writes in flight. */
void tunnel_auth_stop(struct tunnel *t);
/* Remember the newest credential expiry, in memory and in the Secret. */
void tunnel_note_expiry(struct tunnel *t, const char *cluster, long long expiry);
/* The expiry recorded in the Secret for cluster, 0 if none. */
long long tunnel_stored_expiry(struct tunnel *t, const char *cluster);
/* fed_tunnel_conn's auth callback: a bootstrap token or a credential in,
 * the cluster it names and a fresh credential out. */
int tunnel_on_auth(struct fed_tunnel_conn *c, int kind, const uint8_t *secret, size_t len,
                   char **cluster, char **credential, void *ud, struct fed_error *err);

#endif
