/* The agent's side of each stream: only the member's own kube-apiserver,
 * over TLS verified against the member's CA, with the host's credentials
 * stripped and the agent's own added (fed/tunnel_http.h). A cluster
 * connect stream keeps the caller's impersonation (never a system: one)
 * and may upgrade (exec, attach, port-forward); any other target is
 * refused. Also the metadata pushed to the host. */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "agent.h"
#include "fed/kube_known.h"
#include "fed/log.h"
#include "fed/tls.h"
#include "fed/tunnel_http.h"

int agent_upstream_init(struct agent *a, struct fed_error *err)
{
	const struct fed_rest_config *m = &a->member;
	const char *p, *hs, *he, *slash;
	SSL_CTX *ctx = NULL;
	int rc = FED_EINVAL;

	if (!m->server || strncmp(m->server, "https://", 8))
		return fed_error_set(err, FED_EINVAL,
		                     "member apiserver %s: must be an https:// URL",
		                     m->server ? m->server : "(none)");
	if (m->insecure_skip_tls_verify)
		return fed_error_set(err, FED_EINVAL,
		                     "member apiserver: insecure-skip-tls-verify is not allowed; "
		                     "give the member's CA");
	p = m->server + 8;
	slash = strchr(p, '/');
	he = slash ? slash : p + strlen(p);
	hs = p;
	a->api_hostport = strndup(hs, (size_t)(he - hs));
	if (!a->api_hostport)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	if (slash && slash[1])
		return fed_error_set(err, FED_EINVAL,
		                     "member apiserver %s: a path prefix is not supported",
		                     m->server);
	if (a->api_hostport[0] == '[') {
		char *rb = strchr(a->api_hostport, ']');

		if (!rb)
			return fed_error_set(err, FED_EINVAL, "member apiserver %s: bad address",
			                     m->server);
		a->api_host = strndup(a->api_hostport + 1, (size_t)(rb - a->api_hostport - 1));
		a->api_port = strdup(rb[1] == ':' ? rb + 2 : "443");
	} else {
		char *colon = strrchr(a->api_hostport, ':');

		a->api_host = colon ? strndup(a->api_hostport, (size_t)(colon - a->api_hostport))
		                    : strdup(a->api_hostport);
		a->api_port = strdup(colon ? colon + 1 : "443");
	}
	if (!a->api_host || !a->api_port)
		return fed_error_set(err, FED_ENOMEM, "out of memory");

	/* TLS 1.2+, the member's CA, HTTP/1.1 (a stream carries one byte pipe
	 * per connection), its client certificate when it has one */
	if ((rc = fed_tls_client_ctx(m->ca_pem, m->ca_len,
	                             m->cert_pem && m->key_pem ? m->cert_pem : NULL, m->cert_len,
	                             m->cert_pem && m->key_pem ? m->key_pem : NULL, m->key_len,
	                             "member apiserver", &ctx, err)))
		goto out;
	a->upstream_ctx = ctx;
	ctx = NULL;
	rc = 0;
out:
	SSL_CTX_free(ctx);
	return rc;
}

/* The agent's own bearer token: static, or re-read from its file (bound
 * ServiceAccount tokens rotate). NULL when it uses a client certificate. */
static char *current_token(struct agent *a)
{
	FILE *f;
	char buf[8192];
	size_t n;

	if (a->member.token)
		return strdup(a->member.token);
	if (!a->member.token_file)
		return NULL;
	f = fopen(a->member.token_file, "re");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	{
		char *t = strdup(buf);

		OPENSSL_cleanse(buf, sizeof(buf));
		return t;
	}
}

static void stream_done(void *ud, const char *why)
{
	FED_LOG_DEBUG(NULL, "stream ended: %s", why);
}

/* A connect stream's end (the bridge runs it before it frees the filter
 * h): a refused request means a host breaking the rules, e.g. asking for a
 * system: identity; the reason names the rule, never a header value. */
static void connect_done(void *ud, const char *why)
{
	static struct fed_log_limit lim = FED_LOG_LIMIT(20, 10);
	const struct fed_tunnel_http *h = ud;

	if (h->failed)
		FED_LOG_LIMITED(FED_LOG_WARN, &lim, NULL, "cluster connect request refused: %s",
		                h->error);
	FED_LOG_DEBUG(NULL, "cluster connect stream ended: %s", why);
}

void agent_on_open(struct fed_tunnel_conn *c, struct fed_tunnel_stream *s, int target, void *ud)
{
	struct agent *a = ud;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_tunnel_http *h = NULL;
	struct fed_tunnel_filter filter;
	const char *name = a->member.tls_server_name ? a->member.tls_server_name : a->api_host;
	char *token = NULL;
	SSL *ssl = NULL;
	bool connect = target == FED_TUNNEL_TARGET_CONNECT;
	int fd;

	if (target != FED_TUNNEL_TARGET_KUBE_APISERVER && !connect) {
		/* least reach: the host gets the apiserver and nothing else */
		a->streams_refused++;
		FED_LOG_WARN(NULL, "refused stream %u: target %d is not the kube-apiserver",
		             fed_tunnel_stream_id(s), target);
		fed_tunnel_stream_close(s, FED_TUNNEL_RST_REFUSED);
		return;
	}
	/* tuned: a half-open apiserver connection ends the stream (the host
	 * sees it reset and its watch re-lists) instead of hanging forever */
	fd = agent_dial(a, a->api_host, a->api_port, a->api_hostport, &err);
	if (fd < 0) {
		FED_LOG_WARN(NULL, "stream %u: %s", fed_tunnel_stream_id(s), err.msg);
		fed_tunnel_stream_close(s, FED_TUNNEL_RST_UNREACHABLE);
		return;
	}
	token = current_token(a);
	ssl = SSL_new(a->upstream_ctx);
	if (!ssl || !SSL_set_fd(ssl, fd) ||
	    (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) &&
	     (!X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), name, 0) ||
	      !SSL_set_tlsext_host_name(ssl, name))) ||
	    (connect ? fed_tunnel_http_new_connect(&h, a->api_hostport, token)
	             : fed_tunnel_http_new(&h, a->api_hostport, token)) < 0) {
		FED_LOG_ERR(NULL, "stream %u: cannot set up TLS to the apiserver",
		            fed_tunnel_stream_id(s));
		SSL_free(ssl);
		close(fd);
		fed_tunnel_stream_close(s, FED_TUNNEL_RST_UNREACHABLE);
		goto out;
	}
	SSL_set_connect_state(ssl);
	fed_tunnel_http_filter(h, &filter);
	fed_tunnel_stream_accept(s, NULL, NULL);
	if (fed_tunnel_bridge_new(a->loop, s, fd, ssl, &filter,
	                          connect ? connect_done : stream_done, connect ? (void *)h : a,
	                          NULL, &err) < 0)
		FED_LOG_ERR(NULL, "%s", err.msg);
	else
		a->streams_served++;
out:
	if (token) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
}

/* ---- metadata ---- */

static void version_done(struct fed_kube_response *resp, void *ud)
{
	struct agent *a = ud;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(resp->json, "gitVersion");

	if (cJSON_IsString(v)) {
		free(a->meta_version);
		a->meta_version = strdup(v->valuestring);
	} else if (resp->err.code) {
		FED_LOG_WARN(NULL, "metadata: GET /version: %s", resp->err.msg);
	}
	agent_metadata_push(a);
}

static void nodes_done(struct fed_kube_response *resp, void *ud)
{
	struct agent *a = ud;
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(resp->json, "items"), *n;
	double cores = 0;

	if (!cJSON_IsArray(items)) {
		if (resp->err.code)
			FED_LOG_WARN(NULL, "metadata: list nodes: %s", resp->err.msg);
		return;
	}
	a->meta_nodes = cJSON_GetArraySize(items);
	cJSON_ArrayForEach(n, items) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(n, "status");
		const cJSON *cap = cJSON_GetObjectItemCaseSensitive(st, "capacity");
		const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(cap, "cpu");

		if (cJSON_IsString(cpu)) {
			char *end;
			double v = strtod(cpu->valuestring, &end);

			cores += *end == 'm' ? v / 1000 : v;
		}
	}
	a->meta_cores = (int)cores;
	agent_metadata_push(a);
}

static void meta_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent *a = w->data;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_request v = {.method = "GET", .path = "/version", .max_retries = -1};
	struct fed_kube_request n = {.method = "GET", .max_retries = -1};
	const struct fed_kube_ref nodes = {&fed_r_nodes, NULL, NULL, NULL};
	struct fed_buf path = FED_BUF_INIT;

	if (!a->kube)
		return;
	if (fed_kube_path(&path, &nodes)) {
		FED_LOG_WARN(NULL, "metadata: out of memory");
		return;
	}
	n.path = path.data;
	if (fed_kube_request(a->kube, &v, version_done, a, NULL, &err) < 0 ||
	    fed_kube_request(a->kube, &n, nodes_done, a, NULL, &err) < 0)
		FED_LOG_WARN(NULL, "metadata: %s", err.msg);
	fed_buf_release(&path);
}

void agent_metadata_start(struct agent *a)
{
	if (!a->kube)
		return;
	ev_timer_init(&a->meta_timer, meta_tick, 0., 60.);
	a->meta_timer.data = a;
	ev_timer_start(a->loop, &a->meta_timer);
}

void agent_metadata_push(struct agent *a)
{
	struct rusage ru;
	long rss_kb = 0;
	char *json;
	cJSON *o;
	FILE *f;

	if (!a->conn || !fed_tunnel_conn_ready(a->conn))
		return;
	getrusage(RUSAGE_SELF, &ru);
	f = fopen("/proc/self/statm", "re");
	if (f) {
		long pages, resident;

		if (fscanf(f, "%ld %ld", &pages, &resident) == 2)
			rss_kb = resident * (sysconf(_SC_PAGESIZE) / 1024);
		fclose(f);
	}
	/* built with cJSON: the version string comes from the apiserver */
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "agentVersion", FED_VERSION);
	cJSON_AddStringToObject(o, "kubernetesVersion", a->meta_version ? a->meta_version : "");
	if (a->meta_nodes >= 0) { /* -1 until the first node list */
		cJSON_AddNumberToObject(o, "nodes", a->meta_nodes);
		cJSON_AddNumberToObject(o, "cores", a->meta_cores);
	}
	cJSON_AddNumberToObject(o, "agentCPUSeconds",
	                        round((ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	                               (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6) *
	                              100) /
	                            100);
	cJSON_AddNumberToObject(o, "agentMemoryBytes", (double)rss_kb * 1024);
	cJSON_AddNumberToObject(o, "time", (double)time(NULL));
	json = cJSON_PrintUnformatted(o);
	if (json)
		fed_tunnel_conn_send_metadata(a->conn, json, strlen(json));
	free(json);
	cJSON_Delete(o);
}
