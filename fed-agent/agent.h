/* fed-agent: runs in a member cluster that accepts no inbound
 * connections, dials the host's tunnel and serves the host's streams by
 * forwarding their HTTP requests to this member's kube-apiserver only. */
#ifndef FED_AGENT_H
#define FED_AGENT_H

#include <stdbool.h>
#include <ev.h>
#include <openssl/ssl.h>

#include "fed/kube.h"
#include "fed/kubeconfig.h"
#include "fed/tunnel_conn.h"
#include "fed/tunnel_proxy.h"

struct agent {
	struct ev_loop *loop;
	/* options */
	const char *host_address; /* host:port of the tunnel */
	const char *host_ca_file;
	const char *server_name; /* name or IP in the host's certificate */
	const char *token_file;  /* one-time bootstrap token */
	const char *credential_file;
	const char *credential_secret; /* member Secret holding the credential */
	const char *namespace_opt;     /* its namespace outside a pod */
	const char *kubeconfig;
	const char *proxy_ca_file; /* CA bundle for an https:// proxy */
	double heartbeat;
	double max_backoff;
	/* state */
	SSL_CTX *tunnel_ctx;
	SSL_CTX *upstream_ctx;
	SSL_CTX *proxy_ctx;            /* TLS to an https:// proxy */
	struct fed_rest_config member; /* this member's apiserver and our credential */
	char *api_host;                /* host part of member.server */
	char *api_port;
	char *api_hostport;           /* Host header */
	struct fed_kube_client *kube; /* for metadata */
	struct fed_tunnel_conn *conn;
	ev_timer retry;
	ev_timer meta_timer;
	int attempt;
	double connected_at;
	double failover_until; /* backoff capped until then (lost an established connection) */
	unsigned long streams_served, streams_refused;
	char *meta_version;
	int meta_nodes, meta_cores;
	/* credential (credential.c) */
	char *cred;      /* the current per-cluster credential, NULL until we have one */
	char *secret_ns; /* namespace of credential_secret */
	bool secret_loaded;
	struct fed_kube_call *store_call;
	bool store_again, store_create, store_creating;
	ev_timer store_retry;
	bool stopping;
	int auth_kind;  /* of the last attempt */
	bool try_token; /* the credential was refused: try the token next */
};

/* credential.c */
/* Resolve the Secret's namespace (POD_NAMESPACE, the ServiceAccount's,
 * --namespace). */
int agent_credential_init(struct agent *a, struct fed_error *err);
/* Read the stored credential from the Secret into a->cred, once; blocks
 * the loop (at most 10 s), so only call it while no tunnel is up. A
 * missing Secret is not an error. */
int agent_credential_load(struct agent *a, struct fed_error *err);
/* A new credential from the host: keep it, write it to the file and the
 * Secret (asynchronously). */
void agent_credential_save(struct agent *a, const char *cred);
void agent_credential_release(struct agent *a);

/* upstream.c */
int agent_upstream_init(struct agent *a, struct fed_error *err);
void agent_on_open(struct fed_tunnel_conn *c, struct fed_tunnel_stream *s, int target, void *ud);
void agent_metadata_start(struct agent *a);
void agent_metadata_push(struct agent *a);
/* Wait up to 10 s for fd to become ready for events (poll). */
int agent_wait_fd(int fd, short events);
/* On fd, connected to the proxy px (pname: its HOST:PORT, for messages):
 * TLS to the proxy when it is https://, then CONNECT target. *outer is
 * the proxy's TLS session (NULL for http://), for the tunnel's TLS to run
 * inside. Synchronous, bounded by 10 s per step. fd stays the caller's. */
int agent_proxy_connect(struct agent *a, int fd, const struct fed_proxy *px, const char *pname,
                        const char *target, SSL **outer, struct fed_error *err);

#endif
