/* One attempt of a call (kube_client.c queues calls and hands them to
 * curl): the credentials that change (a rotating token file,
 * an exec plugin's credential), then a fresh curl easy handle with the
 * headers, the Bearer token or client certificate, TLS, proxy and
 * timeouts, and the callbacks that collect the response. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fed/log.h"
#include "kube_internal.h"

/* ---- credentials ------------------------------------------------------- */

/* Tokens in files rotate (projected service-account tokens): re-read when
 * the file changed, looking at most once a second. */
static int file_token(struct fed_kube_client *c, const char **out, struct fed_error *err)
{
	struct stat st;
	ev_tstamp now = ev_now(c->loop);
	FILE *f = NULL;
	char buf[16384];
	size_t n;

	*out = c->file_token;
	if (c->file_token && now - c->file_token_checked < 1.0)
		return 0;
	c->file_token_checked = now;
	if (stat(c->cfg.token_file, &st))
		return fed_error_set(err, FED_EUNAUTHORIZED, "cannot read token file %s: %s",
		                     c->cfg.token_file, strerror(errno));
	if (c->file_token && st.st_mtime == c->file_token_mtime)
		return 0;
	f = fopen(c->cfg.token_file, "r");
	if (!f)
		return fed_error_set(err, FED_EUNAUTHORIZED, "cannot read token file %s: %s",
		                     c->cfg.token_file, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	free(c->file_token);
	c->file_token = strdup(buf);
	memset(buf, 0, sizeof(buf));
	if (!c->file_token)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	c->file_token_mtime = st.st_mtime;
	*out = c->file_token;
	return 0;
}

/* The pump started this call only with a fresh credential (kube_exec.c
 * ran the plugin, without blocking the loop); if it went stale since,
 * the 401 it gets brings a new one. */
static int exec_credential(struct fed_kube_client *c, struct fed_error *err)
{
	if (!c->have_exec_cred)
		return fed_error_set(err, FED_EUNAUTHORIZED,
		                     "cluster %s: no credential from the exec plugin yet", c->name);
	return 0;
}

/* ---- the easy handle --------------------------------------------------- */

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct fed_kube_call *call = ud;
	size_t n = size * nmemb;
	long status = 0;

	if (call->canceled || fed_kube_client_closing(call->client))
		return 0;
	if (call->on_data) {
		curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			int stop = call->on_data(ptr, n, call->ud);
			if (stop || call->canceled || fed_kube_client_closing(call->client))
				return 0;
			return n;
		}
	}
	/* a body (or an error's body) that would pass its cap ends the
	 * transfer here, before it is buffered */
	if (n > fed_kube_call_max_body(call) - call->resp.len) {
		call->too_large = true;
		return 0;
	}
	if (fed_buf_append(&call->resp, ptr, n))
		return 0;
	return n;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct fed_kube_call *call = ud;
	size_t n = size * nmemb;

	if (n > 12 && strncasecmp(ptr, "retry-after:", 12) == 0) {
		double v = strtod(ptr + 12, NULL);
		if (v > 0 && v < 3600)
			call->retry_after = v;
	}
	return n;
}

static int add_header(struct curl_slist **list, const char *h)
{
	struct curl_slist *l = curl_slist_append(*list, h);

	if (!l)
		return FED_ENOMEM;
	*list = l;
	return 0;
}

/* What a call authenticates with: the config's, a token file's, or an
 * exec plugin's (which may give a client certificate instead). */
struct creds {
	const char *token, *cert, *key;
	size_t cert_len, key_len;
};

static int client_creds(struct fed_kube_client *c, struct creds *cr, struct fed_error *err)
{
	struct fed_rest_config *cfg = &c->cfg;
	int ret = 0;

	cr->token = cfg->token;
	cr->cert = cfg->cert_pem;
	cr->key = cfg->key_pem;
	cr->cert_len = cfg->cert_len;
	cr->key_len = cfg->key_len;
	if (cfg->token_file && !cfg->token) {
		ret = file_token(c, &cr->token, err);
		if (ret)
			goto out;
	}
	if (cfg->exec) {
		ret = exec_credential(c, err);
		if (ret)
			goto out;
		if (c->exec_cred.token)
			cr->token = c->exec_cred.token;
		if (c->exec_cred.client_cert_pem && c->exec_cred.client_key_pem) {
			cr->cert = c->exec_cred.client_cert_pem;
			cr->cert_len = strlen(cr->cert);
			cr->key = c->exec_cred.client_key_pem;
			cr->key_len = strlen(cr->key);
		}
	}
out:
	return ret;
}

static int pick_creds(struct fed_kube_call *call, struct creds *cr, struct fed_error *err)
{
	int ret = client_creds(call->client, cr, err);

	if (!ret && call->client->cfg.exec)
		call->exec_gen = call->client->exec_gen;
	return ret;
}

int fed_kube_client_dial(struct fed_kube_client *c, struct fed_kube_dial *out,
                         struct fed_error *err)
{
	struct creds cr;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(&cr, 0, sizeof(cr));
	if ((ret = client_creds(c, &cr, err)))
		return ret;
	out->server = c->cfg.server;
	out->tls_server_name = c->cfg.tls_server_name;
	out->unix_socket = c->cfg.unix_socket;
	out->proxy_url = c->cfg.proxy_url;
	out->ca_pem = c->cfg.ca_pem;
	out->ca_len = c->cfg.ca_len;
	out->cert_pem = cr.cert;
	out->cert_len = cr.cert_len;
	out->key_pem = cr.key;
	out->key_len = cr.key_len;
	out->token = cr.token && *cr.token ? cr.token : NULL;
	return 0;
}

/* Accept, Expect, User-Agent, Content-Type with a body, and the bearer
 * token, whose formatted copy is wiped. */
static int build_headers(struct fed_kube_call *call, const char *token, struct fed_error *err)
{
	struct fed_buf h = FED_BUF_INIT;
	int ret = 0;

	if (fed_buf_printf(&h, "Accept: %s", call->accept ? call->accept : "application/json") ||
	    add_header(&call->headers, fed_buf_str(&h)) || add_header(&call->headers, "Expect:") ||
	    add_header(&call->headers, "User-Agent: fed/" FED_VERSION))
		goto oom;
	fed_buf_reset(&h);
	if (call->body) {
		if (fed_buf_printf(&h, "Content-Type: %s",
		                   call->content_type ? call->content_type : "application/json") ||
		    add_header(&call->headers, fed_buf_str(&h)))
			goto oom;
		fed_buf_reset(&h);
	}
	if (token && *token) {
		if (fed_buf_printf(&h, "Authorization: Bearer %s", token) ||
		    add_header(&call->headers, fed_buf_str(&h)))
			goto oom;
		memset(h.data, 0, h.len);
	}
	goto out;
oom:
	ret = fed_error_set(err, FED_ENOMEM, "out of memory");
out:
	fed_buf_release(&h);
	return ret;
}

/* The request, its callbacks, and how long it may take. */
static void set_transfer(struct fed_kube_call *call, CURL *e)
{
	struct fed_kube_client *c = call->client;

	curl_easy_setopt(e, CURLOPT_URL, call->url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, call->method);
	if (strcmp(call->method, "GET") == 0)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	if (call->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, call->timeout_ms > 0 ? (long)call->timeout_ms : 0L);
	/* A read that stops moving mid-response (seen with HTTP/2 under heavy
	 * load: a LIST page stuck after 400 KB until the 30 s timeout) is
	 * given up after 10 s without a byte and retried, as GETs are. */
	if (!call->streaming && !strcmp(call->method, "GET") && call->timeout_ms > 10000) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 10L);
	}
	/* A watch that stays silent for longer than a healthy one can (the
	 * apiserver sends bookmarks every minute) talks to a server that is
	 * frozen or gone without a word: end it so that it is watched again.
	 * curl measures the speed over its last few seconds, so this fires
	 * between watch_idle_s and a few seconds more after the last byte. */
	if (call->streaming && c->limits.watch_idle_s > 0) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
		                 (long)(c->limits.watch_idle_s < 1 ? 1 : c->limits.watch_idle_s));
	}
}

/* Where the connection goes (proxy, socket) and its TLS. */
static void set_connection(struct fed_kube_client *c, CURL *e, const struct creds *cr)
{
	struct fed_rest_config *cfg = &c->cfg;
	struct curl_blob blob;

	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	if (c->connect_to)
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
	if (cfg->unix_socket)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, cfg->unix_socket);
	if (cfg->proxy_url && !cfg->unix_socket)
		curl_easy_setopt(e, CURLOPT_PROXY, cfg->proxy_url);
	else
		curl_easy_setopt(e, CURLOPT_PROXY, ""); /* kubeconfig says: no proxy env */
	if (cfg->insecure_skip_tls_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (cfg->ca_pem) {
		blob.data = cfg->ca_pem;
		blob.len = cfg->ca_len;
		blob.flags = CURL_BLOB_NOCOPY;
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (cr->cert && cr->key) {
		blob.data = (void *)cr->cert;
		blob.len = cr->cert_len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		blob.data = (void *)cr->key;
		blob.len = cr->key_len;
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
}

int fed_kube_call_setup(struct fed_kube_call *call, struct fed_error *err)
{
	struct creds cr;
	int ret;

	ret = pick_creds(call, &cr, err);
	if (ret)
		goto out;
	if (call->easy)
		curl_easy_cleanup(call->easy);
	curl_slist_free_all(call->headers);
	call->headers = NULL;
	call->easy = curl_easy_init();
	if (!call->easy) {
		ret = fed_error_set(err, FED_ENOMEM, "curl_easy_init failed");
		goto out;
	}
	ret = build_headers(call, cr.token, err);
	if (ret)
		goto out;
	set_transfer(call, call->easy);
	set_connection(call->client, call->easy, &cr);
out:
	return ret;
}
