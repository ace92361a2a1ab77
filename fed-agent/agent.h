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
	double proxy_step_timeout; /* each step of a CONNECT through HTTPS_PROXY */
	int tcp_keepidle, tcp_keepintvl, tcp_keepcnt; /* seconds, seconds, probes */
	int tcp_user_timeout;                         /* seconds; 0: the kernel's */
	/* the tunnel connection's caps (fed/tunnel_conn.h): bytes queued to
	 * the host before reading stops, PINGs answered and frames for
	 * unknown streams taken per second */
	double max_queued, ping_rate, refused_rate;
	/* state */
	char *tunnel_host, *tunnel_port; /* of host_address */
	SSL_CTX *tunnel_ctx;
	SSL_CTX *upstream_ctx;
	SSL_CTX *proxy_ctx;            /* TLS to an https:// proxy */
	struct fed_rest_config member; /* this member's apiserver and our credential */
	char *api_host;                /* host part of member.server */
	char *api_port;
	char *api_hostport;           /* Host header */
	struct fed_kube_client *kube; /* for metadata */
	struct fed_tunnel_conn *conn;
	struct agent_proxy_dial *proxy_dial; /* CONNECT in progress (proxy.c) */
	char *dial_secret;                   /* for the tunnel once the proxy let us through */
	int dial_kind;
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
/* Replace path with cred: mkstemp in the same directory, 0600, fsync,
 * rename (a planted <path>.tmp or symlink is never written through). */
int agent_credential_write_file(const char *path, const char *cred, struct fed_error *err);

/* upstream.c */
int agent_upstream_init(struct agent *a, struct fed_error *err);
void agent_on_open(struct fed_tunnel_conn *c, struct fed_tunnel_stream *s, int target, void *ud);
void agent_metadata_start(struct agent *a);
void agent_metadata_push(struct agent *a);

/* net.c */
/* "host:port" or "[v6]:port" */
int agent_split_hostport(const char *s, char **host, char **port);

/* options.c: a zeroed agent with the options' defaults; then the command
 * line into it and the log set up. agent_parse_args returns -1 to go on,
 * else the exit code (0 after --help, 2 for a bad option). */
void agent_set_defaults(struct agent *a);
int agent_parse_args(struct agent *a, int argc, char **argv);
/* TCP_NODELAY, keepalive (--tcp-keepalive-*) and --tcp-user-timeout. */
int agent_tcp_tune(const struct agent *a, int fd);
/* A non-blocking, tuned socket connecting to the first address of host
 * that starts connecting (what: for messages), or a negative code. The
 * lookup blocks. */
int agent_dial(const struct agent *a, const char *host, const char *port, const char *what,
               struct fed_error *err);

/* proxy.c */
/* fd >= 0 connected to the target through the proxy, with outer the
 * proxy's TLS session (NULL for http://), both the callee's; or fd < 0
 * and err says which step failed. */
typedef void (*agent_proxy_done)(struct agent *a, int fd, SSL *outer, struct fed_error *err);
/* Start reaching target through the proxy url on the loop: TCP, TLS for
 * https://, CONNECT, each within a->proxy_step_timeout. done runs once,
 * from the loop, unless agent_proxy_cancel runs first. */
int agent_proxy_dial(struct agent *a, const char *url, const char *target, agent_proxy_done done,
                     struct fed_error *err);
void agent_proxy_cancel(struct agent *a);

#endif
