/* From a parsed kubeconfig (or a pod's service account) to a
 * fed_rest_config: context lookup, validation, reading referenced files. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fed/buf.h"
#include "fed/kubeconfig.h"
#include "kubeconfig_internal.h"

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

void fed_rest_config_init(struct fed_rest_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* qps/burst 0: the client's defaults (kube.h), which are sized for a
	 * federation controller rather than client-go's 5/10 */
	cfg->timeout_ms = 30000;
}

static void free_secret(char *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

void fed_rest_config_release(struct fed_rest_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->tls_server_name);
	free(cfg->proxy_url);
	free(cfg->unix_socket);
	free(cfg->ca_pem);
	free(cfg->cert_pem);
	free_secret(cfg->key_pem, cfg->key_len);
	free_secret(cfg->token, cfg->token ? strlen(cfg->token) : 0);
	free(cfg->token_file);
	fed_exec_config_free(cfg->exec);
	free(cfg->context);
	free(cfg->cluster);
	free(cfg->user);
	free(cfg->namespace);
	free(cfg->source);
	fed_rest_config_init(cfg);
}

void fed_exec_config_free(struct fed_exec_config *ec)
{
	size_t i;

	if (!ec)
		return;
	free(ec->api_version);
	free(ec->command);
	for (i = 0; ec->args && ec->args[i]; i++)
		free(ec->args[i]);
	free(ec->args);
	for (i = 0; ec->env && ec->env[i]; i++)
		free(ec->env[i]);
	free(ec->env);
	free(ec->install_hint);
	free(ec->interactive_mode);
	free(ec);
}

/* strdup that keeps NULL; returns false only when allocation failed. */
static bool dup_opt(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

static bool dup_mem(char **dst, const char *src, size_t len)
{
	*dst = NULL;
	if (!src)
		return true;
	if (!(*dst = malloc(len + 1)))
		return false;
	memcpy(*dst, src, len);
	(*dst)[len] = '\0';
	return true;
}

static bool dup_strv(char ***dst, char *const *src)
{
	size_t n = 0, i;

	*dst = NULL;
	if (!src)
		return true;
	while (src[n])
		n++;
	if (!(*dst = calloc(n + 1, sizeof(char *))))
		return false;
	for (i = 0; i < n; i++)
		if (!((*dst)[i] = strdup(src[i])))
			return false;
	return true;
}

int fed_exec_config_copy(struct fed_exec_config **dst, const struct fed_exec_config *src)
{
	struct fed_exec_config *ec = NULL;

	*dst = NULL;
	if (!src)
		return 0;
	if (!(ec = calloc(1, sizeof(*ec))))
		return FED_ENOMEM;
	ec->provide_cluster_info = src->provide_cluster_info;
	if (!dup_opt(&ec->api_version, src->api_version) || !dup_opt(&ec->command, src->command) ||
	    !dup_strv(&ec->args, src->args) || !dup_strv(&ec->env, src->env) ||
	    !dup_opt(&ec->install_hint, src->install_hint) ||
	    !dup_opt(&ec->interactive_mode, src->interactive_mode)) {
		fed_exec_config_free(ec);
		return FED_ENOMEM;
	}
	*dst = ec;
	return 0;
}

int fed_rest_config_copy(struct fed_rest_config *dst, const struct fed_rest_config *src,
                         struct fed_error *err)
{
	struct fed_rest_config c;

	fed_rest_config_init(&c);
	c.insecure_skip_tls_verify = src->insecure_skip_tls_verify;
	c.ca_len = src->ca_len;
	c.cert_len = src->cert_len;
	c.key_len = src->key_len;
	c.qps = src->qps;
	c.burst = src->burst;
	c.timeout_ms = src->timeout_ms;
	if (!dup_opt(&c.server, src->server) ||
	    !dup_opt(&c.tls_server_name, src->tls_server_name) ||
	    !dup_opt(&c.proxy_url, src->proxy_url) || !dup_opt(&c.unix_socket, src->unix_socket) ||
	    !dup_mem(&c.ca_pem, src->ca_pem, src->ca_len) ||
	    !dup_mem(&c.cert_pem, src->cert_pem, src->cert_len) ||
	    !dup_mem(&c.key_pem, src->key_pem, src->key_len) || !dup_opt(&c.token, src->token) ||
	    !dup_opt(&c.token_file, src->token_file) || fed_exec_config_copy(&c.exec, src->exec) ||
	    !dup_opt(&c.context, src->context) || !dup_opt(&c.cluster, src->cluster) ||
	    !dup_opt(&c.user, src->user) || !dup_opt(&c.namespace, src->namespace) ||
	    !dup_opt(&c.source, src->source)) {
		fed_rest_config_release(&c);
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	*dst = c;
	return 0;
}

static bool is_pem(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i + 11 <= len; i++)
		if (!memcmp(p + i, "-----BEGIN ", 11))
			return true;
	return false;
}

/* Read a file named by a kubeconfig field. Paths are quoted so that a
 * file called ".../token" does not look like "token: <secret>" to
 * fed_log_redact. */
static int read_ref(const char *src, const char *entry, const char *field, const char *path,
                    bool pem, char **out, size_t *len, struct fed_error *err)
{
	int ret = fed_kubeconfig_read_file(path, FED_KC_FILE_MAX, out, len);

	if (ret == -ENOMEM)
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	if (ret)
		return fed_error_set(err, FED_EINVAL,
		                     "kubeconfig %s: %s.%s: cannot read \"%s\": %s", src, entry,
		                     field, path, strerror(-ret));
	if (pem && !is_pem(*out, *len)) {
		free(*out);
		*out = NULL;
		return fed_error_set(err, FED_EINVAL,
		                     "kubeconfig %s: %s.%s: \"%s\" does not hold PEM data", src,
		                     entry, field, path);
	}
	return 0;
}

static int copy_data(const char *src, const char *entry, const char *field, const char *data,
                     size_t dlen, char **out, size_t *len, struct fed_error *err)
{
	if (!is_pem(data, dlen))
		return fed_error_set(err, FED_EINVAL,
		                     "kubeconfig %s: %s.%s does not hold PEM data (base64 of a "
		                     "-----BEGIN ... block)",
		                     src, entry, field);
	if (!dup_mem(out, data, dlen))
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	*len = dlen;
	return 0;
}

static void list_contexts(const struct fed_kubeconfig *kc, struct fed_buf *b)
{
	size_t i;

	if (!kc->ncontexts) {
		fed_buf_puts(b, "no contexts are defined");
		return;
	}
	fed_buf_puts(b, "available: ");
	for (i = 0; i < kc->ncontexts; i++) {
		if (b->len > 400) {
			fed_buf_puts(b, ", ...");
			break;
		}
		fed_buf_printf(b, "%s%s", i ? ", " : "", kc->contexts[i].name);
	}
}

static const struct kc_context *find_context(const struct fed_kubeconfig *kc, const char *name)
{
	size_t i;

	for (i = 0; name && i < kc->ncontexts; i++)
		if (!strcmp(kc->contexts[i].name, name))
			return &kc->contexts[i];
	return NULL;
}

/* A local path (or command) in a kubeconfig the policy does not trust. */
static int refuse_local(const char *src, const char *entry, const char *field, bool exec,
                        const struct fed_kubeconfig_policy *pol, struct fed_error *err)
{
	const char *flag = exec ? pol->exec_flag : pol->files_flag;

	if (exec)
		return fed_error_set(err, FED_EFORBIDDEN,
		                     "kubeconfig %s: %s.%s: running an exec credential plugin from "
		                     "this kubeconfig is not allowed: pass %s to allow it, or give "
		                     "the credential inline (token or client-certificate-data and "
		                     "client-key-data)",
		                     src, entry, field, flag ? flag : "an explicit allowance");
	return fed_error_set(err, FED_EFORBIDDEN,
	                     "kubeconfig %s: %s.%s: reading a local file named by this kubeconfig "
	                     "is not allowed: pass %s to allow it, or give the value inline "
	                     "(token, certificate-authority-data, client-certificate-data, "
	                     "client-key-data)",
	                     src, entry, field, flag ? flag : "an explicit allowance");
}

static int resolve_cluster(const struct kc_cluster *cl, const struct fed_kubeconfig_policy *pol,
                           struct fed_rest_config *c, struct fed_error *err)
{
	char entry[256];

	snprintf(entry, sizeof(entry), "clusters[%.200s]", cl->name);
	if (!cl->server)
		return fed_error_set(err, FED_EINVAL,
		                     "kubeconfig %s: %s.server is missing (the API server URL, "
		                     "e.g. https://host:6443)",
		                     cl->src, entry);
	if (strncmp(cl->server, "https://", 8) && strncmp(cl->server, "http://", 7))
		return fed_error_set(err, FED_EINVAL,
		                     "kubeconfig %s: %s.server must start with https:// or http://",
		                     cl->src, entry);
	/* client-go's transport refuses this combination too */
	if (cl->insecure && (cl->ca_file || cl->ca_data))
		return fed_error_set(
		    err, FED_EINVAL,
		    "kubeconfig %s: %s: insecure-skip-tls-verify cannot be combined "
		    "with certificate-authority(-data); remove one of them",
		    cl->src, entry);
	if (!dup_opt(&c->server, cl->server) ||
	    !dup_opt(&c->tls_server_name, cl->tls_server_name) ||
	    !dup_opt(&c->proxy_url, cl->proxy_url))
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	c->insecure_skip_tls_verify = cl->insecure;
	/* as in client-go, the data wins over the file */
	if (cl->ca_data)
		return copy_data(cl->src, entry, "certificate-authority-data", cl->ca_data,
		                 cl->ca_data_len, &c->ca_pem, &c->ca_len, err);
	if (cl->ca_file && pol && pol->deny_files)
		return refuse_local(cl->src, entry, "certificate-authority", false, pol, err);
	if (cl->ca_file)
		return read_ref(cl->src, entry, "certificate-authority", cl->ca_file, true,
		                &c->ca_pem, &c->ca_len, err);
	return 0;
}

static int check_exec(const char *src, const char *entry, const struct fed_exec_config *ec,
                      struct fed_error *err)
{
	const char *mode = ec->interactive_mode;

	if (!ec->command)
		return fed_error_set(err, FED_EINVAL, "kubeconfig %s: %s.exec.command is missing",
		                     src, entry);
	if (!ec->api_version)
		return fed_error_set(err, FED_EINVAL,
		                     "kubeconfig %s: %s.exec.apiVersion is missing (use "
		                     "client.authentication.k8s.io/v1)",
		                     src, entry);
	if (strcmp(ec->api_version, "client.authentication.k8s.io/v1") &&
	    strcmp(ec->api_version, "client.authentication.k8s.io/v1beta1"))
		return fed_error_set(
		    err, FED_EINVAL,
		    "kubeconfig %s: %s.exec.apiVersion \"%.100s\" is not supported "
		    "(use client.authentication.k8s.io/v1 or v1beta1)",
		    src, entry, ec->api_version);
	if (mode && strcmp(mode, "Never") && strcmp(mode, "IfAvailable") && strcmp(mode, "Always"))
		return fed_error_set(err, FED_EINVAL,
		                     "kubeconfig %s: %s.exec.interactiveMode must be Never, "
		                     "IfAvailable or Always",
		                     src, entry);
	return 0;
}

static int resolve_user(const struct kc_user *u, const struct fed_kubeconfig_policy *pol,
                        struct fed_rest_config *c, struct fed_error *err)
{
	char entry[256], *tok = NULL;
	size_t len;
	int ret;

	snprintf(entry, sizeof(entry), "users[%.200s]", u->name);
	/* before anything is read or checked: the policy's answer is the one
	 * the operator must act on */
	if (pol && pol->deny_exec && u->exec)
		return refuse_local(u->src, entry, "exec", true, pol, err);
	if (pol && pol->deny_files) {
		const char *field = u->token_file  ? "tokenFile"
		                    : u->cert_file ? "client-certificate"
		                    : u->key_file  ? "client-key"
		                                   : NULL;
		if (field)
			return refuse_local(u->src, entry, field, false, pol, err);
	}
	if (u->auth_provider)
		return fed_error_set(
		    err, FED_EINVAL,
		    "kubeconfig %s: %s.auth-provider: legacy auth-provider plugins (\"%.50s\") "
		    "were removed from kubectl and client-go and are not supported; use an "
		    "exec credential plugin instead (users[].user.exec, e.g. "
		    "gke-gcloud-auth-plugin or kubelogin)",
		    u->src, entry, u->auth_provider);
	if (u->cert_file && u->cert_data)
		return fed_error_set(err, FED_EINVAL,
		                     "kubeconfig %s: %s: client-certificate and "
		                     "client-certificate-data are both set; keep one",
		                     u->src, entry);
	if (u->key_file && u->key_data)
		return fed_error_set(err, FED_EINVAL,
		                     "kubeconfig %s: %s: client-key and client-key-data are both "
		                     "set; keep one",
		                     u->src, entry);
	if ((u->cert_file || u->cert_data) && !(u->key_file || u->key_data))
		return fed_error_set(err, FED_EINVAL,
		                     "kubeconfig %s: %s: a client certificate is set but no "
		                     "client-key or client-key-data",
		                     u->src, entry);
	if ((u->key_file || u->key_data) && !(u->cert_file || u->cert_data))
		return fed_error_set(err, FED_EINVAL,
		                     "kubeconfig %s: %s: a client key is set but no "
		                     "client-certificate or client-certificate-data",
		                     u->src, entry);
	if (u->cert_data)
		ret = copy_data(u->src, entry, "client-certificate-data", u->cert_data,
		                u->cert_data_len, &c->cert_pem, &c->cert_len, err);
	else if (u->cert_file)
		ret = read_ref(u->src, entry, "client-certificate", u->cert_file, true,
		               &c->cert_pem, &c->cert_len, err);
	else
		ret = 0;
	if (ret)
		return ret;
	if (u->key_data)
		ret = copy_data(u->src, entry, "client-key-data", u->key_data, u->key_data_len,
		                &c->key_pem, &c->key_len, err);
	else if (u->key_file)
		ret = read_ref(u->src, entry, "client-key", u->key_file, true, &c->key_pem,
		               &c->key_len, err);
	if (ret)
		return ret;
	if (u->token_file) {
		/* checked now for a clear error; the client re-reads it, and
		 * (as in client-go) it takes precedence over token */
		ret = read_ref(u->src, entry, "tokenFile", u->token_file, false, &tok, &len, err);
		free_secret(tok, len);
		if (ret)
			return ret;
		if (!dup_opt(&c->token_file, u->token_file))
			return fed_error_set(err, FED_ENOMEM, "out of memory");
	} else if (!dup_opt(&c->token, u->token)) {
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	if (u->exec) {
		if ((ret = check_exec(u->src, entry, u->exec, err)))
			return ret;
		if (fed_exec_config_copy(&c->exec, u->exec))
			return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	return 0;
}

int fed_kubeconfig_rest_config(const struct fed_kubeconfig *kc, const char *context,
                               struct fed_rest_config *out, struct fed_error *err)
{
	return fed_kubeconfig_rest_config_policy(kc, context, NULL, out, err);
}

int fed_kubeconfig_rest_config_policy(const struct fed_kubeconfig *kc, const char *context,
                                      const struct fed_kubeconfig_policy *policy,
                                      struct fed_rest_config *out, struct fed_error *err)
{
	struct fed_rest_config c;
	struct fed_buf avail = FED_BUF_INIT;
	const struct kc_context *ctx;
	const struct kc_cluster *cl = NULL;
	const struct kc_user *u = NULL;
	const char *name = context && *context ? context : kc->current_context;
	char desc[512];
	size_t i;
	int ret;

	fed_rest_config_init(&c);
	fed_rest_config_init(out);
	fed_kubeconfig_describe(kc, desc, sizeof(desc));
	list_contexts(kc, &avail);
	if (!name) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s: current-context is not set; choose a context with "
		                    "--context (%s)",
		                    desc, fed_buf_str(&avail));
		goto out;
	}
	if (!(ctx = find_context(kc, name))) {
		ret = fed_error_set(err, FED_EINVAL, "%s: context \"%s\" not found (%s)", desc,
		                    name, fed_buf_str(&avail));
		goto out;
	}
	if (!ctx->cluster) {
		ret =
		    fed_error_set(err, FED_EINVAL, "kubeconfig %s: contexts[%s].cluster is missing",
		                  ctx->src, ctx->name);
		goto out;
	}
	for (i = 0; i < kc->nclusters && !cl; i++)
		if (!strcmp(kc->clusters[i].name, ctx->cluster))
			cl = &kc->clusters[i];
	if (!cl) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "kubeconfig %s: contexts[%s].cluster: cluster \"%s\" is not "
		                    "defined",
		                    ctx->src, ctx->name, ctx->cluster);
		goto out;
	}
	for (i = 0; ctx->user && i < kc->nusers && !u; i++)
		if (!strcmp(kc->users[i].name, ctx->user))
			u = &kc->users[i];
	if (ctx->user && !u) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "kubeconfig %s: contexts[%s].user: user \"%s\" is not defined",
		                    ctx->src, ctx->name, ctx->user);
		goto out;
	}
	if ((ret = resolve_cluster(cl, policy, &c, err)) ||
	    (u && (ret = resolve_user(u, policy, &c, err))))
		goto out;
	if (!dup_opt(&c.context, ctx->name) || !dup_opt(&c.cluster, cl->name) ||
	    !dup_opt(&c.user, u ? u->name : NULL) || !dup_opt(&c.namespace, ctx->namespace) ||
	    !dup_opt(&c.source, ctx->src)) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	*out = c;
	fed_rest_config_init(&c);
	ret = 0;
out:
	fed_buf_release(&avail);
	fed_rest_config_release(&c);
	return fed_kubeconfig_oneline(err, ret);
}

bool fed_kubeconfig_context_reads_files(const struct fed_kubeconfig *kc, const char *context)
{
	const char *name = context && *context ? context : kc->current_context;
	const struct kc_context *ctx = find_context(kc, name);
	size_t i;

	if (!ctx)
		return false;
	for (i = 0; i < kc->nclusters; i++)
		if (ctx->cluster && !strcmp(kc->clusters[i].name, ctx->cluster) &&
		    kc->clusters[i].ca_file)
			return true;
	for (i = 0; i < kc->nusers; i++) {
		const struct kc_user *u = &kc->users[i];
		if (ctx->user && !strcmp(u->name, ctx->user) &&
		    (u->cert_file || u->key_file || u->token_file))
			return true;
	}
	return false;
}

static char *trim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

int fed_rest_config_in_cluster(struct fed_rest_config *out, struct fed_error *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = getenv("FED_SA_DIR");
	struct fed_rest_config c;
	struct fed_buf path = FED_BUF_INIT, url = FED_BUF_INIT;
	char *data = NULL;
	size_t len = 0;
	int ret;

	fed_rest_config_init(&c);
	fed_rest_config_init(out);
	if (!dir || !*dir)
		dir = SA_DIR_DEFAULT;
	if (!host || !*host || !port || !*port) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "in-cluster config: KUBERNETES_SERVICE_HOST and "
		                    "KUBERNETES_SERVICE_PORT must be set (is this running in a "
		                    "pod?)");
		goto out;
	}
	ret = fed_buf_printf(
	    &url, strchr(host, ':') && host[0] != '[' ? "https://[%s]:%s" : "https://%s:%s", host,
	    port);
	if (ret || fed_buf_printf(&path, "%s/token", dir))
		goto oom;
	/* token_file, not token: bound service account tokens rotate and the
	 * client re-reads the file */
	ret = fed_kubeconfig_read_file(path.data, FED_KC_FILE_MAX, &data, &len);
	if (ret) {
		ret = fed_error_set(err, FED_EINVAL, "in-cluster config: cannot read \"%s\": %s",
		                    path.data, strerror(-ret));
		goto out;
	}
	free_secret(data, len);
	data = NULL;
	c.token_file = fed_buf_detach(&path);
	if (!c.token_file || fed_buf_printf(&path, "%s/ca.crt", dir))
		goto oom;
	ret = fed_kubeconfig_read_file(path.data, FED_KC_FILE_MAX, &c.ca_pem, &c.ca_len);
	if (ret) {
		ret = fed_error_set(err, FED_EINVAL, "in-cluster config: cannot read \"%s\": %s",
		                    path.data, strerror(-ret));
		goto out;
	}
	fed_buf_reset(&path);
	if (fed_buf_printf(&path, "%s/namespace", dir))
		goto oom;
	/* optional, as in client-go */
	if (!fed_kubeconfig_read_file(path.data, 4096, &data, &len) && *trim(data) &&
	    !(c.namespace = strdup(trim(data))))
		goto oom;
	c.server = fed_buf_detach(&url);
	if (!c.server || !(c.source = strdup("in-cluster")))
		goto oom;
	*out = c;
	fed_rest_config_init(&c);
	ret = 0;
	goto out;
oom:
	ret = fed_error_set(err, FED_ENOMEM, "out of memory");
out:
	free(data);
	fed_buf_release(&path);
	fed_buf_release(&url);
	fed_rest_config_release(&c);
	return fed_kubeconfig_oneline(err, ret);
}
