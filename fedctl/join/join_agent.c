/* fedctl join NAME --mode agent: register the cluster as mode: agent, make
 * a one-time bootstrap token (only its SHA-256 goes to the host), and write
 * agent.yaml for the member. The member is never contacted: it may accept
 * no connection at all. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "agent.h"
#include "fed/base64.h"
#include "fed/federated_type.h"
#include "fed/federation.h"
#include "join.h"

#define CERT_WAIT_S 10.0

/* not among fed/kube_known.h's: only join reads a Service */
static const struct fed_kube_resource r_services = {"", "v1", "services", true};
static const struct fed_kube_ref tunnel_secret_ref = {&fed_r_secrets, FEDCTL_CONFIG_NS,
                                                      FEDCTL_TUNNEL_SECRET, NULL};
static const struct fed_kube_ref configmap_ref = {&fed_r_configmaps, FEDCTL_CONFIG_NS,
                                                  FEDCTL_CONFIGMAP, NULL};

/* An agent join under way: what it read, made and holds. */
struct agent_run {
	struct fedctl *ctx;
	const struct fedctl_join_agent_opts *o;
	FILE *log; /* step lines: stderr when agent.yaml goes to stdout */
	int fd;    /* the output file, -1 for stdout */
	struct fed_kube_client *host;
	struct fed_rest_config hcfg;
	struct fed_federation *fed;
	const struct fed_cluster_spec *existing;
	cJSON *cm, *secret;
	char *old_yaml, *ca, *cert, *pca, *addr, *server_name, *yaml;
	size_t ca_len, cert_len, pca_len;
	struct fedctl_agent_rule *rules;
	size_t n_rules;
	char token[65], key[80];
	long expiry;
};

/* The Secret's value of key, decoded (malloc'd), or NULL. */
static char *secret_value(const cJSON *secret, const char *key, size_t *len)
{
	const char *v =
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(secret, "data"), key));

	char *out = NULL;

	if (v && fed_base64_decode(FED_BASE64_STD, v, strlen(v), &out, len))
		out = NULL;
	return out;
}

/* The host CA and the certificate whose names agents check (tls.crt when
 * there, else the CA), waiting a little for a controller that is starting. */
static int read_tunnel_secret(struct fedctl *ctx, struct fed_kube_client *host, cJSON **secret,
                              char **ca, size_t *ca_len, char **cert, size_t *cert_len,
                              struct fed_error *err)
{
	double waited = 0;
	int ret;

	for (;;) {
		cJSON_Delete(*secret);
		*secret = NULL;
		ret = fedctl_call_ref(ctx, host, "GET", &tunnel_secret_ref, NULL, NULL, 0, secret,
		                      err);
		if (ret && ret != FED_ENOTFOUND)
			return fed_error_wrap(err, "host: get secret %s/%s", FEDCTL_CONFIG_NS,
			                      FEDCTL_TUNNEL_SECRET);
		*cert = secret_value(*secret, "tls.crt", cert_len);
		*ca = secret_value(*secret, "ca.crt", ca_len);
		if (*ca || *cert)
			break;
		if (waited >= CERT_WAIT_S)
			return fed_error_set(err, FED_ENOTFOUND,
			                     "host: secret %s/%s has no certificate (ca.crt or "
			                     "tls.crt) after %.0fs: fed-controller must run with "
			                     "--tunnel-address (the leading replica writes the "
			                     "certificate there), e.g. the args of "
			                     "manifests/03-deployment.yaml",
			                     FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, waited);
		if (waited == 0)
			fprintf(stderr,
			        "host: waiting up to %.0fs for fed-controller to write the "
			        "tunnel certificate into secret %s/%s\n",
			        CERT_WAIT_S, FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET);
		fedctl_sleep(ctx, 1);
		waited += 1;
	}
	if (!*ca) {
		*ca = malloc(*cert_len + 1);
		if (!*ca)
			return fed_error_set(err, FED_ENOMEM, "out of memory");
		memcpy(*ca, *cert, *cert_len + 1);
		*ca_len = *cert_len;
	}
	if (!*cert) {
		*cert = malloc(*ca_len + 1);
		if (!*cert)
			return fed_error_set(err, FED_ENOMEM, "out of memory");
		memcpy(*cert, *ca, *ca_len + 1);
		*cert_len = *ca_len;
	}
	return 0;
}

/* The Secret merge patch: the new token's hash in, the cluster's earlier
 * unused tokens out, and the cluster's credential generation raised
 * ("revoke"): credentials of an earlier join are refused, and agents
 * still connected with one are closed. */
static char *token_patch(const cJSON *secret, const char *name, const char *key, long expiry)
{
	cJSON *body = cJSON_CreateObject(), *data = cJSON_AddObjectToObject(body, "data"), *e;
	char val[128], *b64, *s;
	size_t nlen = strlen(name);

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(secret, "data")) {
		char *v;
		if (!e->string || strncmp(e->string, "bootstrap-", 10))
			continue;
		v = secret_value(secret, e->string, NULL);
		if (v && !strncmp(v, name, nlen) && v[nlen] == ' ')
			cJSON_AddNullToObject(data, e->string);
		free(v);
	}
	snprintf(val, sizeof(val), "%s %ld", name, expiry);
	b64 = fed_base64_encode_str(val, strlen(val));
	cJSON_DeleteItemFromObject(data, key);
	cJSON_AddStringToObject(data, key, b64 ? b64 : "");
	free(b64);
	if (secret)
		fedctl_tunnel_bump(body, secret, name, true);
	s = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	return s;
}

/* --proxy-cert's bundle; -1 (the message printed) when unreadable. */
static int load_proxy_cert(struct agent_run *r)
{
	const char *file = r->o->proxy_cert;
	struct fed_buf b = FED_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f;

	if (!file)
		return 0;
	if ((f = fopen(file, "rb"))) {
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fed_buf_append(&b, chunk, n);
		fclose(f);
		r->pca_len = b.len;
		r->pca = fed_buf_detach(&b);
	}
	if (r->pca && strstr(r->pca, "-----BEGIN CERTIFICATE-----"))
		return 0;
	fprintf(stderr, "error: --proxy-cert %s: %s\n", file,
	        r->pca ? "not a PEM certificate bundle (-----BEGIN CERTIFICATE-----)"
	               : strerror(errno));
	return -1;
}

/* -o FILE: it holds the token, so 0600 from the start, never wider; -1
 * (the message printed) when it cannot be opened. */
static int open_output(struct agent_run *r)
{
	if (r->fd == -2)
		return 0; /* stdout */
	r->fd = open(r->o->output, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (r->fd >= 0 && !fchmod(r->fd, 0600))
		return 0;
	fprintf(stderr, "error: -o %s: %s\n", r->o->output, strerror(errno));
	return -1;
}

/* The host and its Federation config: a direct member of that name stays
 * one. */
static int read_host(struct agent_run *r, struct fed_error *err)
{
	const char *yaml;
	size_t i;
	int ret;

	ret = fedctl_connect(r->ctx, "host", r->ctx->host_context, &r->hcfg, &r->host, err);
	r->ctx->host = r->host; /* main frees it */
	if (ret)
		return ret;
	ret = fedctl_call_ref(r->ctx, r->host, "GET", &configmap_ref, NULL, NULL, 0, &r->cm, err);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: get configmap %s/%s", FEDCTL_CONFIG_NS,
		                      FEDCTL_CONFIGMAP);
	yaml = cJSON_GetStringValue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(r->cm, "data"), "kubefed.yaml"));
	if (yaml)
		r->old_yaml = strdup(yaml);
	if (r->old_yaml && *r->old_yaml) {
		if (fed_federation_parse(&r->fed, r->old_yaml, strlen(r->old_yaml),
		                         "configmap kube-system/kubefed-config kubefed.yaml", err))
			return fed_error_wrap(err, "host: fix the Federation document first");
		for (i = 0; i < r->fed->n; i++)
			if (r->fed->clusters[i].name &&
			    !strcmp(r->fed->clusters[i].name, r->o->name))
				r->existing = &r->fed->clusters[i];
	}
	if (r->existing && r->existing->mode != FED_CLUSTER_AGENT)
		return fed_error_set(err, FED_EEXISTS,
		                     "cluster \"%s\" is joined as a direct member; to switch it to "
		                     "agent mode, run fedctl delete %s first, then join it again "
		                     "with --mode agent",
		                     r->o->name, r->o->name);
	return 0;
}

/* What the agent needs: the host CA, the address and the name it checks
 * there, and the rules of a minimal role. */
static int read_agent_material(struct agent_run *r, struct fed_error *err)
{
	const struct fed_kube_ref svc_ref = {&r_services, r->ctx->fed_namespace,
	                                     FEDCTL_TUNNEL_SERVICE, NULL};
	const char *source = NULL;
	cJSON *svc = NULL;
	char hhost[256];
	int port, ret;

	if ((ret = read_tunnel_secret(r->ctx, r->host, &r->secret, &r->ca, &r->ca_len, &r->cert,
	                              &r->cert_len, err)))
		goto out;
	if (!r->o->host_address) {
		ret = fedctl_call_ref(r->ctx, r->host, "GET", &svc_ref, NULL, NULL, 0, &svc, err);
		if (ret && ret != FED_ENOTFOUND) {
			fed_error_wrap(err, "host: get service %s/%s", r->ctx->fed_namespace,
			               FEDCTL_TUNNEL_SERVICE);
			goto out;
		}
	}
	if ((ret = fedctl_agent_pick_address(r->o->host_address, svc, r->ctx->fed_namespace,
	                                     r->fed ? r->fed->proxy_publish_address : NULL,
	                                     &r->addr, &source, err)) ||
	    (ret = fedctl_agent_split_address(r->addr, hhost, sizeof(hhost), &port, err)) ||
	    (ret = fedctl_agent_server_name(r->cert, r->cert_len, hhost, &r->server_name, err)))
		goto out;
	fprintf(r->log, "host: agents dial %s (from %s)%s%s\n", r->addr, source,
	        r->server_name ? "; the certificate does not name it, agents verify the name " : "",
	        r->server_name ? r->server_name : "");
	if (r->o->minimal)
		ret = fedctl_member_targets(r->ctx, r->host, &r->rules, &r->n_rules, err);
out:
	cJSON_Delete(svc);
	return ret;
}

/* The token (only its hash leaves this process, except in the file) and
 * agent.yaml. */
static int render(struct agent_run *r, struct fed_error *err)
{
	struct fedctl_agent_spec spec;
	unsigned char raw[32], md[32];
	size_t i;
	int ret = 0;

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		ret = fed_error_set(err, FED_ERR, "OpenSSL RAND_bytes failed: no random bytes");
		goto out;
	}
	for (i = 0; i < 32; i++)
		snprintf(r->token + 2 * i, 3, "%02x", raw[i]);
	SHA256((const unsigned char *)r->token, 64, md);
	strcpy(r->key, "bootstrap-");
	for (i = 0; i < 32; i++)
		snprintf(r->key + 10 + 2 * i, 3, "%02x", md[i]);
	r->expiry = (long)time(NULL) + (long)r->o->ttl;
	memset(&spec, 0, sizeof(spec));
	spec.cluster = r->o->name;
	spec.ns = r->o->agent_ns ? r->o->agent_ns : r->ctx->fed_namespace;
	spec.host_address = r->addr;
	spec.server_name = r->server_name;
	spec.image = r->o->image;
	spec.minimal = r->o->minimal;
	spec.cluster_connect = r->o->connect == FEDCTL_CONNECT_GRANT;
	spec.rules = r->rules;
	spec.n_rules = r->n_rules;
	spec.proxy_https = r->o->proxy_https;
	spec.no_proxy = r->o->proxy_skip;
	spec.token = r->token;
	spec.ca_pem = r->ca;
	spec.ca_len = r->ca_len;
	spec.proxy_ca_pem = r->pca;
	spec.proxy_ca_len = r->pca_len;
	ret = fedctl_agent_render(&spec, &r->yaml, err);
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return ret;
}

/* The token's hash into the fed-tunnel Secret, first: the entry never
 * waits on a missing one. */
static int write_token(struct agent_run *r, struct fed_error *err)
{
	char *patch = token_patch(r->secret, r->o->name, r->key, r->expiry);
	char exp[64];
	time_t t = (time_t)r->expiry;
	int ret;

	ret = fedctl_call_ref(r->ctx, r->host, "PATCH", &tunnel_secret_ref, patch,
	                      "application/merge-patch+json", 0, NULL, err);
	if (ret) {
		fedctl_agent_redact(err, "patch secret " FEDCTL_CONFIG_NS "/" FEDCTL_TUNNEL_SECRET);
		goto out;
	}
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	fprintf(r->log,
	        "host: secret %s/%s: new bootstrap token for %s (only its SHA-256 is "
	        "stored), valid until %s%s\n",
	        FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, r->o->name, exp,
	        patch && strstr(patch, ":null") ? "; the cluster's earlier unused token(s) removed"
	                                        : "");
out:
	free(patch);
	return ret;
}

/* The cluster's entry (mode: agent) in the Federation config. */
static int write_entry(struct agent_run *r, struct fed_error *err)
{
	const struct fed_kube_ref all = {&fed_r_configmaps, FEDCTL_CONFIG_NS, NULL, NULL};
	char entry[256], *new_yaml = NULL, *body = NULL;
	cJSON *b = NULL;
	int ret;

	if (r->existing) {
		fprintf(r->log, "host: configmap %s/%s cluster %s unchanged (mode: agent)\n",
		        FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP, r->o->name);
		return 0;
	}
	snprintf(entry, sizeof(entry), "clusterName: %s\nmode: agent\n", r->o->name);
	if ((ret = fedctl_federation_edit(r->old_yaml, r->o->name, entry, &new_yaml, err)))
		goto out;
	if (!r->cm) {
		b = fedctl_join_object("v1", "ConfigMap", FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP);
	} else {
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(cJSON_AddObjectToObject(b, "metadata"), "resourceVersion",
		                        fedctl_join_rv(r->cm));
	}
	cJSON_AddItemToObject(cJSON_AddObjectToObject(b, "data"), "kubefed.yaml",
	                      cJSON_CreateString(new_yaml));
	body = cJSON_PrintUnformatted(b);
	ret = fedctl_call_ref(r->ctx, r->host, r->cm ? "PATCH" : "POST",
	                      r->cm ? &configmap_ref : &all, body,
	                      r->cm ? "application/merge-patch+json" : NULL, 0, NULL, err);
	if (ret) {
		fed_error_wrap(err, "host: %s configmap %s/%s%s; run join again to finish",
		               r->cm ? "patch" : "create", FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP,
		               ret == FED_ECONFLICT ? " (changed meanwhile)" : "");
		goto out;
	}
	fprintf(r->log, "host: configmap %s/%s cluster %s added (mode: agent)\n", FEDCTL_CONFIG_NS,
	        FEDCTL_CONFIGMAP, r->o->name);
out:
	cJSON_Delete(b);
	free(new_yaml);
	free(body);
	return ret;
}

/* --cluster-connect: agent.yaml carries the grant; join never reaches an
 * agent member, so the operator removes it there. */
static void connect_note(FILE *log, const struct fedctl_join_agent_opts *o)
{
	if (o->connect == FEDCTL_CONNECT_GRANT)
		fprintf(
		    log,
		    "cluster connect: agent.yaml lets fed-agent impersonate users, groups and "
		    "user extras in %s (clusterrole %s; not ServiceAccounts); the member's RBAC "
		    "decides what each caller may do (then: fedctl kubeconfig %s)\n",
		    o->name, FEDCTL_CONNECT_ROLE, o->name);
	else if (o->connect == FEDCTL_CONNECT_REVOKE)
		fprintf(log,
		        "cluster connect: to turn it off in %s, remove the grant there: kubectl "
		        "--context <member> delete clusterrolebinding,clusterrole %s "
		        "--ignore-not-found\n",
		        o->name, FEDCTL_CONNECT_ROLE);
}

/* agent.yaml last: it is only worth something once the host knows it. */
static int write_file(struct agent_run *r, struct fed_error *err)
{
	const struct fedctl_join_agent_opts *o = r->o;

	if (r->fd < 0) {
		fputs(r->yaml, stdout);
		fflush(stdout);
	} else if (ftruncate(r->fd, 0) || fedctl_write_all(r->fd, r->yaml, strlen(r->yaml)) ||
	           fsync(r->fd)) {
		return fed_error_set(err, FED_ERR,
		                     "write %s: %s; run join again (it replaces the token)",
		                     o->output, strerror(errno));
	} else {
		fprintf(r->log, "wrote %s (mode 0600: it holds the bootstrap token)\n", o->output);
	}
	fprintf(r->log,
	        "next: kubectl --context <member> create -f %s\n"
	        "  then cluster %s shows Connecting, then Ready, in fedctl list (the token is "
	        "single-use; run this command again for a new agent.yaml)\n",
	        r->fd < 0 ? "agent.yaml" : o->output, o->name);
	connect_note(r->log, o);
	return 0;
}

static void agent_run_release(struct agent_run *r, bool ok)
{
	struct stat st;

	if (r->fd >= 0) {
		/* nothing written: do not leave an empty file behind */
		if (!ok && !fstat(r->fd, &st) && st.st_size == 0)
			unlink(r->o->output);
		close(r->fd);
	}
	OPENSSL_cleanse(r->token, sizeof(r->token));
	if (r->yaml)
		OPENSSL_cleanse(r->yaml, strlen(r->yaml));
	fedctl_member_targets_free(r->rules, r->n_rules);
	fed_rest_config_release(&r->hcfg);
	fed_federation_free(r->fed);
	cJSON_Delete(r->cm);
	cJSON_Delete(r->secret);
	free(r->old_yaml);
	free(r->ca);
	free(r->cert);
	free(r->pca);
	free(r->addr);
	free(r->server_name);
	free(r->yaml);
}

int fedctl_join_agent(struct fedctl *ctx, const struct fedctl_join_agent_opts *o)
{
	struct fed_error err = FED_ERROR_INIT;
	struct agent_run r;
	struct fedctl_join j;
	int ret = 0, rc = EXIT_FAIL;

	memset(&r, 0, sizeof(r));
	fed_rest_config_init(&r.hcfg);
	r.ctx = ctx;
	r.o = o;
	r.fd = strcmp(o->output, "-") ? -1 : -2;
	r.log = r.fd == -2 ? stderr : stdout;
	if (load_proxy_cert(&r) || open_output(&r)) {
		rc = EXIT_USAGE;
		goto out;
	}
	if ((ret = read_host(&r, &err)) || (ret = read_agent_material(&r, &err)) ||
	    (ret = render(&r, &err)) || (ret = write_token(&r, &err)) ||
	    (ret = write_entry(&r, &err)) || (ret = write_file(&r, &err)))
		goto out;
	rc = EXIT_OK;
	if (o->wait_for <= 0)
		goto out;
	/* no addresses: any Ready report counts (the agent's address is the
	 * controller's loopback listener) */
	memset(&j, 0, sizeof(j));
	j.ctx = ctx;
	j.name = o->name;
	rc = fedctl_join_wait_ready(ctx, r.host, o->name, o->wait_for, NULL, &j);
out:
	if (ret)
		rc = fedctl_fail(&err);
	agent_run_release(&r, rc == EXIT_OK);
	return rc;
}
