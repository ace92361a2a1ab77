/* fed-agent: dials the host's tunnel (TLS, pinned host CA), authenticates
 * with a one-time bootstrap token or the per-cluster credential it was
 * given, and serves the host's streams. Reconnects forever with
 * exponential backoff and full jitter; never exits on a network error. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "agent.h"
#include "fed/backoff.h"
#include "fed/harden.h"
#include "fed/log.h"
#include "fed/tunnel_proxy.h"

static char *read_file(const char *path, size_t max, struct fed_error *err)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n;

	if (!f) {
		fed_error_set(err, FED_EINVAL, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(max + 1);
	n = buf ? fread(buf, 1, max, f) : 0;
	fclose(f);
	if (!buf) {
		fed_error_set(err, FED_ENOMEM, "out of memory");
		return NULL;
	}
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void schedule_retry(struct agent *a);

/* A connection that stayed up this long worked: losing it most likely means
 * the host's leader changed (the standby takes over within the Lease
 * duration, 15 s by default, and the fed-tunnel Service then points at it).
 * Reconnect from attempt 0 and, for FAILOVER_WINDOW seconds, never wait more
 * than FAILOVER_BACKOFF between attempts, so the agent reaches the new leader
 * a few seconds after it serves rather than after a grown backoff. A host that
 * accepts and drops at once still sees the full exponential backoff. */
#define ESTABLISHED      10.0
#define FAILOVER_WINDOW  120.0
#define FAILOVER_BACKOFF 4.0

static void on_ready(struct fed_tunnel_conn *c, const char *cluster, const char *cred, void *ud)
{
	struct agent *a = ud;

	a->connected_at = ev_now(a->loop);
	FED_LOG_INFO(NULL, "connected to the host %s as cluster '%s'", a->host_address, cluster);
	agent_credential_save(a, cred);
	agent_metadata_push(a);
}

static void on_credential(struct fed_tunnel_conn *c, const char *cred, void *ud)
{
	FED_LOG_INFO(NULL, "the host rotated the cluster credential");
	agent_credential_save(ud, cred);
}

static void on_closed(struct fed_tunnel_conn *c, const char *why, void *ud)
{
	struct agent *a = ud;

	FED_LOG_WARN(NULL, "tunnel to %s closed: %s", a->host_address, why);
	if (a->connected_at && ev_now(a->loop) - a->connected_at >= ESTABLISHED) {
		a->attempt = 0;
		a->failover_until = ev_now(a->loop) + FAILOVER_WINDOW;
	}
	a->connected_at = 0;
	/* refused with the credential: the next attempt tries the token */
	if (a->auth_kind == FED_TUNNEL_AUTH_CREDENTIAL && strstr(why, "before authentication") &&
	    strstr(why, "GOAWAY 101"))
		a->try_token = true;
	fed_tunnel_conn_free(c);
	a->conn = NULL;
	schedule_retry(a);
}

static const struct fed_tunnel_conn_cb conn_cb = {
    .ready = on_ready,
    .open = agent_on_open,
    .credential = on_credential,
    .closed = on_closed,
};

static const char *env2(const char *a, const char *b)
{
	const char *v = getenv(a);

	return v && *v ? v : getenv(b);
}

/* Through HTTPS_PROXY unless NO_PROXY names the host: that proxy's URL,
 * else NULL. */
static const char *host_proxy(struct agent *a)
{
	const char *proxy = env2("HTTPS_PROXY", "https_proxy");

	if (!proxy || !*proxy || fed_proxy_bypass(env2("NO_PROXY", "no_proxy"), a->tunnel_host))
		return NULL;
	return proxy;
}

static bool proxy_is_tls(void)
{
	const char *p = env2("HTTPS_PROXY", "https_proxy");

	return p && !strncasecmp(p, "https://", 8);
}

/* The TLS tunnel on fd (connecting, or through the proxy with its TLS
 * session outer); fd, outer and secret are consumed. */
static void start_tunnel(struct agent *a, int fd, SSL *outer, int kind, char *secret)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_tunnel_conn_opts o = {
	    .heartbeat = a->heartbeat,
	    .name = a->host_address,
	    .outer = outer,
	    .max_queued = (size_t)a->max_queued,
	    .ping_rate = a->ping_rate,
	    .refused_rate = a->refused_rate,
	    /* cluster connect streams: served (upstream.c), so announced */
	    .features = FED_TUNNEL_FEATURE_CONNECT,
	};

	a->auth_kind = kind;
	if (fed_tunnel_conn_connect(a->loop, fd, a->tunnel_ctx, a->server_name, kind, secret, &o,
	                            &conn_cb, a, &a->conn, &err) < 0) {
		FED_LOG_ERR(NULL, "%s", err.msg);
		wipe_free(secret);
		schedule_retry(a);
		return;
	}
	FED_LOG_DEBUG(NULL, "connecting to %s with the %s", a->host_address,
	              kind == FED_TUNNEL_AUTH_BOOTSTRAP ? "bootstrap token" : "cluster credential");
	wipe_free(secret);
}

static void proxy_done(struct agent *a, int fd, SSL *outer, struct fed_error *err)
{
	char *secret = a->dial_secret;

	a->dial_secret = NULL;
	if (fd < 0) {
		/* names the step: TCP connection, TLS handshake or CONNECT */
		FED_LOG_WARN(NULL, "%s", err->msg);
		wipe_free(secret);
		schedule_retry(a);
		return;
	}
	start_tunnel(a, fd, outer, a->dial_kind, secret);
}

static void try_connect(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent *a = w->data;
	struct fed_error err = FED_ERROR_INIT;
	const char *proxy;
	char *secret = NULL;
	int kind = FED_TUNNEL_AUTH_CREDENTIAL, fd;

	ev_timer_stop(loop, w);
	/* the per-cluster credential once we have one (the Secret, the last
	 * one the host gave us, the file), else the bootstrap token */
	if (agent_credential_load(a, &err) < 0) {
		FED_LOG_ERR(NULL, "%s", err.msg);
		if (a->stopping)
			return;
		goto retry; /* a stored credential may exist: never fall back blindly */
	}
	/* after the host refused the credential (expired: the cluster was
	 * joined again), try the bootstrap token once, which may be new */
	if (a->try_token && a->token_file && access(a->token_file, R_OK) == 0)
		secret = NULL;
	else if (a->cred)
		secret = strdup(a->cred);
	else if (a->credential_file && access(a->credential_file, R_OK) == 0)
		secret = read_file(a->credential_file, 4096, &err);
	a->try_token = false;
	if (!secret) {
		fed_error_clear(&err);
		kind = FED_TUNNEL_AUTH_BOOTSTRAP;
		secret = a->token_file ? read_file(a->token_file, 4096, &err) : NULL;
	}
	if (!secret || !*secret) {
		FED_LOG_ERR(NULL, "no credential: %s",
		            err.msg[0] ? err.msg : "--bootstrap-token-file is empty");
		goto retry;
	}
	proxy = host_proxy(a);
	if (proxy) {
		/* on the loop, step by step: SIGTERM and timers run meanwhile */
		if (agent_proxy_dial(a, proxy, a->host_address, proxy_done, &err) < 0) {
			FED_LOG_WARN(NULL, "%s", err.msg);
			goto retry;
		}
		a->dial_secret = secret;
		a->dial_kind = kind;
		return;
	}
	/* the TCP connect, TLS and authentication are bounded by the tunnel's
	 * handshake timeout */
	fd = agent_dial(a, a->tunnel_host, a->tunnel_port, a->host_address, &err);
	if (fd < 0) {
		FED_LOG_WARN(NULL, "%s", err.msg);
		goto retry;
	}
	start_tunnel(a, fd, NULL, kind, secret);
	return;
retry:
	wipe_free(secret);
	schedule_retry(a);
}

/* Exponential backoff with full jitter: uniform in [0, min(cap, 2^n)),
 * cap FAILOVER_BACKOFF for a while after an established connection was lost. */
static void schedule_retry(struct agent *a)
{
	double ceiling, cap = a->max_backoff, delay;
	uint32_t r;

	if (ev_now(a->loop) < a->failover_until && cap > FAILOVER_BACKOFF)
		cap = FAILOVER_BACKOFF;
	ceiling = fed_backoff_nth(1.0, cap, a->attempt);
	if (ceiling > cap)
		ceiling = cap;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	delay = ceiling * (r / 4294967296.0);
	if (delay < 0.05)
		delay = 0.05;
	a->attempt++;
	FED_LOG_INFO(NULL, "reconnecting in %.1f s (attempt %d)", delay, a->attempt);
	ev_timer_set(&a->retry, delay, 0.);
	ev_timer_start(a->loop, &a->retry);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct agent *a = w->data;

	FED_LOG_INFO(NULL, "received signal %d, shutting down", w->signum);
	a->stopping = true;
	ev_break(loop, EVBREAK_ALL);
}

/* The pinned host CA, and the proxy's when there is one: a bad bundle
 * stops the agent at once, with or without a proxy. */
static int setup_tls(struct agent *a, struct fed_error *err)
{
	char *ca = NULL, *proxy_ca = NULL;
	int rc = 0;

	ca = read_file(a->host_ca_file, 1 << 20, err);
	if (!ca || fed_tunnel_tls_client_ctx(ca, &a->tunnel_ctx, err) < 0) {
		rc = fed_error_wrap(err, "--host-ca-file");
		goto out;
	}
	proxy_ca = a->proxy_ca_file ? read_file(a->proxy_ca_file, 4 << 20, err) : NULL;
	if ((a->proxy_ca_file && !proxy_ca) ||
	    ((a->proxy_ca_file || proxy_is_tls()) &&
	     fed_proxy_tls_ctx(proxy_ca, a->proxy_ca_file, &a->proxy_ctx, err) < 0)) {
		rc = a->proxy_ca_file ? fed_error_wrap(err, "--proxy-ca-file")
		                      : (err->code ? err->code : FED_ERR);
		goto out;
	}
	if (a->proxy_ca_file && !proxy_is_tls())
		FED_LOG_WARN(NULL, "--proxy-ca-file is used only with an https:// HTTPS_PROXY");
out:
	free(ca);
	free(proxy_ca);
	return rc;
}

/* Everything the loop needs before the first connection attempt. */
static int setup(struct agent *a, struct fed_error *err)
{
	int rc;

	if (agent_split_hostport(a->host_address, &a->tunnel_host, &a->tunnel_port) < 0) {
		rc = fed_error_set(err, FED_EINVAL, "--host-address %s: use HOST:PORT",
		                   a->host_address);
		goto out;
	}
	if (!a->server_name)
		a->server_name = a->tunnel_host;
	if ((rc = setup_tls(a, err)) < 0)
		goto out;
	if ((rc = fed_rest_config_load(&a->member, a->kubeconfig, NULL, err)) < 0 ||
	    (rc = agent_upstream_init(a, err)) < 0 || (rc = agent_credential_init(a, err)) < 0)
		goto out;
	/* the member client: metadata, and the credential Secret */
	if ((rc = fed_kube_client_new(&a->kube, a->loop, &a->member, "member", err)) < 0) {
		if (a->credential_secret)
			goto out;
		FED_LOG_WARN(NULL, "metadata disabled: %s", err->msg);
		fed_error_clear(err);
		rc = 0;
	}
out:
	return rc;
}

/* The first connection attempt at once, then the loop until a signal. */
static void run(struct agent *a)
{
	ev_signal sigint, sigterm;

	FED_LOG_INFO(NULL, "fed-agent %s: tunnel to %s, serving the apiserver %s", FED_VERSION,
	             a->host_address, a->member.server);
	ev_timer_init(&a->retry, try_connect, 0., 0.);
	a->retry.data = a;
	ev_timer_start(a->loop, &a->retry);
	agent_metadata_start(a);
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	sigint.data = sigterm.data = a;
	ev_signal_start(a->loop, &sigint);
	ev_signal_start(a->loop, &sigterm);
	ev_run(a->loop, 0);
}

static void cleanup(struct agent *a)
{
	if (a->conn)
		fed_tunnel_conn_free(a->conn);
	agent_proxy_cancel(a);
	wipe_free(a->dial_secret);
	ev_timer_stop(a->loop, &a->retry);
	ev_timer_stop(a->loop, &a->meta_timer);
	agent_credential_release(a);
	fed_kube_client_free(a->kube);
	SSL_CTX_free(a->tunnel_ctx);
	SSL_CTX_free(a->upstream_ctx);
	SSL_CTX_free(a->proxy_ctx);
	fed_rest_config_release(&a->member);
	free(a->api_host);
	free(a->api_port);
	free(a->api_hostport);
	free(a->meta_version);
	free(a->tunnel_host);
	free(a->tunnel_port);
}

int main(int argc, char **argv)
{
	struct agent a;
	struct fed_error err = FED_ERROR_INIT;
	int rc;

	(void)fed_process_harden();
	agent_set_defaults(&a);
	rc = agent_parse_args(&a, argc, argv);
	if (rc >= 0) {
		fed_rest_config_release(&a.member);
		return rc;
	}
	signal(SIGPIPE, SIG_IGN);
	a.loop = ev_default_loop(0);
	rc = 1;
	if (setup(&a, &err) < 0) {
		FED_LOG_ERR(NULL, "%s", err.msg);
		goto out;
	}
	run(&a);
	rc = 0;
out:
	cleanup(&a);
	return rc;
}
