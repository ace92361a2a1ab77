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
#include "fed/federated_type.h"
#include "fed/federation.h"
#include "join.h"

#define CERT_WAIT_S 10.0

/* The Secret's value of key, decoded (malloc'd), or NULL. */
static char *secret_value(const cJSON *secret, const char *key, size_t *len)
{
	const char *v =
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(secret, "data"), key));

	return v ? fedctl_b64_decode(v, len) : NULL;
}

/* The host CA and the certificate whose names agents check (tls.crt when
 * there, else the CA), waiting a little for a controller that is starting. */
static int read_tunnel_secret(struct fedctl *ctx, struct fed_kube_client *host, cJSON **secret,
                              char **ca, size_t *ca_len, char **cert, size_t *cert_len,
                              struct fed_error *err)
{
	char path[512];
	double waited = 0;
	int ret;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", FEDCTL_CONFIG_NS,
	         FEDCTL_TUNNEL_SECRET);
	for (;;) {
		cJSON_Delete(*secret);
		*secret = NULL;
		ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, secret, err);
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

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
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
	b64 = fedctl_b64_encode(val, strlen(val));
	cJSON_DeleteItemFromObject(data, key);
	cJSON_AddStringToObject(data, key, b64 ? b64 : "");
	free(b64);
	if (secret)
		fedctl_tunnel_bump(body, secret, name, true);
	s = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	return s;
}

int fedctl_join_agent(struct fedctl *ctx, const struct fedctl_join_agent_opts *o)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client *host = NULL;
	struct fed_rest_config hcfg;
	struct fed_federation *fed = NULL;
	const struct fed_cluster_spec *existing = NULL;
	struct fedctl_agent_spec spec;
	struct fedctl_agent_rule *rules = NULL;
	size_t n_rules = 0, i, ca_len = 0, cert_len = 0, pca_len = 0;
	cJSON *cm = NULL, *secret = NULL, *svc = NULL;
	char *old_yaml = NULL, *new_yaml = NULL, *ca = NULL, *cert = NULL, *pca = NULL;
	char *addr = NULL, *server_name = NULL, *yaml = NULL, *patch = NULL, *body = NULL;
	char path[512], key[80], token[65], hhost[256];
	const char *source = NULL;
	unsigned char raw[32], md[32];
	double ttl = 0, wait_for = 0;
	bool to_stdout = !strcmp(o->output, "-");
	FILE *log = to_stdout ? stderr : stdout;
	int fd = -1, port, ret, rc = EXIT_FAIL;
	long expiry;

	memset(&spec, 0, sizeof(spec));
	memset(token, 0, sizeof(token));
	fed_rest_config_init(&hcfg);

	/* the options, before anything is contacted */
	if (fedctl_parse_duration(o->token_ttl, &ttl) || ttl < 60) {
		fprintf(stderr,
		        "error: --token-ttl takes a duration of at least 1m, such as 24h or 90m, "
		        "not \"%s\"\n",
		        o->token_ttl);
		return EXIT_USAGE;
	}
	if (o->wait && fedctl_parse_duration(o->wait, &wait_for)) {
		fprintf(stderr, "error: --wait takes a duration such as 2m, 90s or 0, not \"%s\"\n",
		        o->wait);
		return EXIT_USAGE;
	}
	if ((o->proxy_https && fedctl_agent_check_proxy(o->proxy_https, &err)) ||
	    (o->proxy_skip && fedctl_agent_check_no_proxy(o->proxy_skip, &err)) ||
	    (o->agent_ns && fedctl_agent_check_namespace(o->agent_ns, &err)) ||
	    (o->host_address &&
	     fedctl_agent_split_address(o->host_address, hhost, sizeof(hhost), &port, &err) &&
	     fed_error_wrap(&err, "--host-address"))) {
		fprintf(stderr, "error: %s\n", err.msg);
		return EXIT_USAGE;
	}
	if (o->proxy_skip && !o->proxy_https) {
		fprintf(stderr, "error: --proxy-skip-range needs --proxy-https (the proxy it "
		                "bypasses)\n");
		return EXIT_USAGE;
	}
	if (o->proxy_cert) {
		FILE *f = fopen(o->proxy_cert, "rb");
		if (f) {
			struct fed_buf b = FED_BUF_INIT;
			char chunk[4096];
			size_t n;
			while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
				fed_buf_append(&b, chunk, n);
			fclose(f);
			pca_len = b.len;
			pca = fed_buf_detach(&b);
		}
		if (!pca || !strstr(pca, "-----BEGIN CERTIFICATE-----")) {
			fprintf(stderr, "error: --proxy-cert %s: %s\n", o->proxy_cert,
			        pca ? "not a PEM certificate bundle (-----BEGIN CERTIFICATE-----)"
			            : strerror(errno));
			free(pca);
			return EXIT_USAGE;
		}
	}
	if (!to_stdout) {
		/* the file holds the token: 0600 from the start, never wider */
		fd = open(o->output, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || fchmod(fd, 0600)) {
			fprintf(stderr, "error: -o %s: %s\n", o->output, strerror(errno));
			rc = EXIT_USAGE;
			goto out;
		}
	}

	ret = fedctl_connect(ctx, "host", ctx->host_context, &hcfg, &host, &err);
	ctx->host = host; /* main frees it */
	if (ret)
		goto fail;

	/* the Federation config: a direct member of that name stays one */
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", FEDCTL_CONFIG_NS,
	         FEDCTL_CONFIGMAP);
	ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &cm, &err);
	if (ret && ret != FED_ENOTFOUND) {
		fed_error_wrap(&err, "host: get configmap %s/%s", FEDCTL_CONFIG_NS,
		               FEDCTL_CONFIGMAP);
		goto fail;
	}
	if (cJSON_GetStringValue(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "data"), "kubefed.yaml")))
		old_yaml = strdup(cJSON_GetStringValue(
		    cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "data"), "kubefed.yaml")));
	if (old_yaml && *old_yaml) {
		if (fed_federation_parse(&fed, old_yaml, strlen(old_yaml),
		                         "configmap kube-system/kubefed-config kubefed.yaml",
		                         &err)) {
			fed_error_wrap(&err, "host: fix the Federation document first");
			goto fail;
		}
		for (i = 0; i < fed->n; i++)
			if (fed->clusters[i].name && !strcmp(fed->clusters[i].name, o->name))
				existing = &fed->clusters[i];
	}
	if (existing && existing->mode != FED_CLUSTER_AGENT) {
		fprintf(stderr,
		        "error: cluster \"%s\" is joined as a direct member; to switch it to agent "
		        "mode, run fedctl delete %s first, then join it again with --mode agent\n",
		        o->name, o->name);
		goto out;
	}

	/* what the agent needs: the host CA, the address and its name */
	if (read_tunnel_secret(ctx, host, &secret, &ca, &ca_len, &cert, &cert_len, &err))
		goto fail;
	if (!o->host_address) {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/%s",
		         ctx->fed_namespace, FEDCTL_TUNNEL_SERVICE);
		ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &svc, &err);
		if (ret && ret != FED_ENOTFOUND) {
			fed_error_wrap(&err, "host: get service %s/%s", ctx->fed_namespace,
			               FEDCTL_TUNNEL_SERVICE);
			goto fail;
		}
	}
	if (fedctl_agent_pick_address(o->host_address, svc, ctx->fed_namespace,
	                              fed ? fed->proxy_publish_address : NULL, &addr, &source,
	                              &err) ||
	    fedctl_agent_split_address(addr, hhost, sizeof(hhost), &port, &err) ||
	    fedctl_agent_server_name(cert, cert_len, hhost, &server_name, &err))
		goto fail;
	fprintf(log, "host: agents dial %s (from %s)%s%s\n", addr, source,
	        server_name ? "; the certificate does not name it, agents verify the name " : "",
	        server_name ? server_name : "");
	if (o->minimal && fedctl_member_targets(ctx, host, &rules, &n_rules, &err))
		goto fail;

	/* the token: only its hash leaves this process, except in the file */
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		fed_error_set(&err, FED_ERR, "OpenSSL RAND_bytes failed: no random bytes");
		goto fail;
	}
	for (i = 0; i < 32; i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	SHA256((const unsigned char *)token, 64, md);
	strcpy(key, "bootstrap-");
	for (i = 0; i < 32; i++)
		snprintf(key + 10 + 2 * i, 3, "%02x", md[i]);
	expiry = (long)time(NULL) + (long)ttl;

	spec.cluster = o->name;
	spec.ns = o->agent_ns ? o->agent_ns : ctx->fed_namespace;
	spec.host_address = addr;
	spec.server_name = server_name;
	spec.image = o->image;
	spec.minimal = o->minimal;
	spec.rules = rules;
	spec.n_rules = n_rules;
	spec.proxy_https = o->proxy_https;
	spec.no_proxy = o->proxy_skip;
	spec.token = token;
	spec.ca_pem = ca;
	spec.ca_len = ca_len;
	spec.proxy_ca_pem = pca;
	spec.proxy_ca_len = pca_len;
	if (fedctl_agent_render(&spec, &yaml, &err))
		goto fail;

	/* the host: the token first (so the entry never waits on a missing
	 * one), then the entry */
	patch = token_patch(secret, o->name, key, expiry);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", FEDCTL_CONFIG_NS,
	         FEDCTL_TUNNEL_SECRET);
	ret = fedctl_call(ctx, host, "PATCH", path, patch, "application/merge-patch+json", 0, NULL,
	                  &err);
	if (ret) {
		fedctl_agent_redact(&err,
		                    "patch secret " FEDCTL_CONFIG_NS "/" FEDCTL_TUNNEL_SECRET);
		goto fail;
	}
	{
		char exp[64];
		time_t t = (time_t)expiry;
		strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		fprintf(log,
		        "host: secret %s/%s: new bootstrap token for %s (only its SHA-256 is "
		        "stored), valid until %s%s\n",
		        FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, o->name, exp,
		        strstr(patch, ":null") ? "; the cluster's earlier unused token(s) removed"
		                               : "");
	}
	if (existing) {
		fprintf(log, "host: configmap %s/%s cluster %s unchanged (mode: agent)\n",
		        FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP, o->name);
	} else {
		char entry[256];
		cJSON *b;
		snprintf(entry, sizeof(entry), "clusterName: %s\nmode: agent\n", o->name);
		if (fedctl_federation_edit(old_yaml, o->name, entry, &new_yaml, &err))
			goto fail;
		if (!cm) {
			b = fedctl_join_object("v1", "ConfigMap", FEDCTL_CONFIG_NS,
			                       FEDCTL_CONFIGMAP);
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps",
			         FEDCTL_CONFIG_NS);
		} else {
			b = cJSON_CreateObject();
			cJSON_AddStringToObject(cJSON_AddObjectToObject(b, "metadata"),
			                        "resourceVersion", fedctl_join_rv(cm));
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s",
			         FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP);
		}
		cJSON_AddItemToObject(cJSON_AddObjectToObject(b, "data"), "kubefed.yaml",
		                      cJSON_CreateString(new_yaml));
		body = cJSON_PrintUnformatted(b);
		cJSON_Delete(b);
		ret = fedctl_call(ctx, host, cm ? "PATCH" : "POST", path, body,
		                  cm ? "application/merge-patch+json" : NULL, 0, NULL, &err);
		if (ret) {
			fed_error_wrap(&err, "host: %s configmap %s/%s%s; run join again to finish",
			               cm ? "patch" : "create", FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP,
			               ret == FED_ECONFLICT ? " (changed meanwhile)" : "");
			goto fail;
		}
		fprintf(log, "host: configmap %s/%s cluster %s added (mode: agent)\n",
		        FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP, o->name);
	}

	/* the file last: it is only worth something once the host knows it */
	if (to_stdout) {
		fputs(yaml, stdout);
		fflush(stdout);
	} else if (ftruncate(fd, 0) || write_all(fd, yaml, strlen(yaml)) || fsync(fd)) {
		fed_error_set(&err, FED_ERR, "write %s: %s; run join again (it replaces the token)",
		              o->output, strerror(errno));
		goto fail;
	} else {
		fprintf(log, "wrote %s (mode 0600: it holds the bootstrap token)\n", o->output);
	}
	fprintf(log,
	        "next: kubectl --context <member> create -f %s\n"
	        "  then cluster %s shows Connecting, then Ready, in fedctl list (the token is "
	        "single-use; run this command again for a new agent.yaml)\n",
	        to_stdout ? "agent.yaml" : o->output, o->name);
	if (wait_for <= 0) {
		rc = EXIT_OK;
		goto out;
	}
	{
		/* no addresses: any Ready report counts (the agent's address
		 * is the controller's loopback listener) */
		struct fedctl_join j;
		memset(&j, 0, sizeof(j));
		j.ctx = ctx;
		j.name = o->name;
		rc = fedctl_join_wait_ready(ctx, host, o->name, wait_for, NULL, &j);
	}
	goto out;
fail:
	rc = fedctl_fail(&err);
out:
	if (fd >= 0) {
		struct stat st;
		/* nothing written: do not leave an empty file behind */
		if (rc != EXIT_OK && !fstat(fd, &st) && st.st_size == 0)
			unlink(o->output);
		close(fd);
	}
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(raw, sizeof(raw));
	if (yaml)
		OPENSSL_cleanse(yaml, strlen(yaml));
	fedctl_member_targets_free(rules, n_rules);
	fed_rest_config_release(&hcfg);
	fed_federation_free(fed);
	cJSON_Delete(cm);
	cJSON_Delete(secret);
	cJSON_Delete(svc);
	free(old_yaml);
	free(new_yaml);
	free(ca);
	free(cert);
	free(pca);
	free(addr);
	free(server_name);
	free(yaml);
	free(patch);
	free(body);
	return rc;
}
