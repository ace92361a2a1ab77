/* join, direct mode applied: connect to both clusters, read what the
 * host holds, set up the member, then write the kubeconfig Secret and the
 * Federation entry, and wait for Ready. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/base64.h"
#include "fed/federated_type.h"
#include "fed/federation.h"
#include "join.h"

static char *entry_yaml(const struct fedctl_join *j)
{
	struct fed_buf b = FED_BUF_INIT;
	int i;

	fed_buf_printf(&b, "clusterName: %s\nserverAddressByClientCIDRs:\n", j->name);
	for (i = 0; i < j->n_addrs; i++)
		fed_buf_printf(&b, "- clientCIDR: \"%s\"\n  serverAddress: \"%s\"\n", j->cidr[i],
		               j->addr[i]);
	return fed_buf_detach(&b);
}

/* Whether the document's entry for the name is what join would write. */
static bool entry_matches(const struct fedctl_join *j, const struct fed_cluster_spec *c)
{
	size_t i;

	if (!c || c->err.code || c->mode != FED_CLUSTER_DIRECT || c->disabled ||
	    c->n_addrs != (size_t)j->n_addrs)
		return false;
	for (i = 0; i < c->n_addrs; i++)
		if (strcmp(c->addrs[i].client_cidr, j->cidr[i]) ||
		    strcmp(c->addrs[i].server_address, j->addr[i]))
			return false;
	return true;
}

/* The host's kubeconfig for the member: same server, CA and TLS name? */
static bool same_endpoint(const struct fedctl_join *j, const char *kubeconfig, char **token)
{
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config c;
	struct fed_error err = FED_ERROR_INIT;
	bool same = false;

	*token = NULL;
	fed_rest_config_init(&c);
	if (!kubeconfig || fed_kubeconfig_parse(&kc, kubeconfig, strlen(kubeconfig), NULL, &err) ||
	    fed_kubeconfig_rest_config(kc, NULL, &c, &err))
		goto out;
	same = c.server && !strcmp(c.server, j->mcfg.server) && c.ca_len == j->mcfg.ca_len &&
	       (!c.ca_len || !memcmp(c.ca_pem, j->mcfg.ca_pem, c.ca_len)) &&
	       !c.tls_server_name == !j->mcfg.tls_server_name &&
	       (!c.tls_server_name || !strcmp(c.tls_server_name, j->mcfg.tls_server_name));
	if (c.token)
		*token = strdup(c.token);
out:
	fed_rest_config_release(&c);
	fed_kubeconfig_free(kc);
	return same;
}

static int already_joined(const char *name)
{
	fprintf(stderr,
	        "error: cluster \"%s\" is already joined (use --overwrite to update it, or fedctl "
	        "delete %s)\n",
	        name, name);
	return EXIT_FAIL;
}

/* POST (create) or PATCH (merge patch) of one host object. */
static int write_host(struct fedctl *ctx, struct fed_kube_client *host, const char *method,
                      const struct fed_kube_ref *ref, cJSON *body, const char *what,
                      struct fed_error *err)
{
	const char *ctype = !strcmp(method, "PATCH") ? "application/merge-patch+json" : NULL;
	char *s = cJSON_PrintUnformatted(body);
	int ret = fedctl_call_ref(ctx, host, method, ref, s, ctype, 0, NULL, err);

	free(s);
	if (ret == FED_ECONFLICT)
		return fed_error_wrap(err,
		                      "host: %s changed while fedctl was writing it; run the "
		                      "command again",
		                      what);
	if (ret)
		return fed_error_wrap(err, "host: %s %s",
		                      !strcmp(method, "POST") ? "create" : "patch", what);
	return 0;
}

/* What the host holds for the cluster, and what join will write. */
struct host_state {
	struct fed_kube_client *host; /* ctx->host's: main frees it */
	struct fed_rest_config hcfg;
	struct fed_federation *fed;
	const struct fed_cluster_spec *existing; /* fed's entry for the name */
	cJSON *cm, *secret;
	char *old_yaml, *old_kc, *old_token, *new_kc, *before_rv;
	char key[128]; /* the Secret's key: kubeconfig-NAME */
	bool cm_same, secret_same, endpoint_same;
};

static const struct fed_kube_ref configmap_ref = {&fed_r_configmaps, FEDCTL_CONFIG_NS,
                                                  FEDCTL_CONFIGMAP, NULL};
static const struct fed_kube_ref secret_ref = {&fed_r_secrets, FEDCTL_CONFIG_NS, FEDCTL_SECRET,
                                               NULL};

static void host_state_release(struct host_state *h)
{
	fed_rest_config_release(&h->hcfg);
	fed_federation_free(h->fed);
	cJSON_Delete(h->cm);
	cJSON_Delete(h->secret);
	free(h->old_yaml);
	free(h->old_kc);
	free(h->old_token);
	free(h->new_kc);
	free(h->before_rv);
}

/* Both clusters first: nothing changes unless both answer. */
static int connect_both(struct fedctl *ctx, struct fedctl_join *j, struct host_state *h,
                        struct fed_error *err)
{
	int ret;

	ret = fedctl_connect(ctx, "host", ctx->host_context, &h->hcfg, &h->host, err);
	ctx->host = h->host; /* main frees it */
	if (ret)
		return ret;
	ret = fedctl_connect(ctx, "member", j->member_context, &j->mcfg, &j->member, err);
	if (ret) {
		if (!j->context_given && strstr(err->msg, "context"))
			fed_error_wrap(err,
			               "member %s (pass --cluster-context when its context has "
			               "another name)",
			               j->name);
		return ret;
	}
	if (!j->n_addrs) {
		j->cidr[0] = strdup("0.0.0.0/0");
		j->addr[0] = strdup(j->mcfg.server);
		j->cidr[1] = strdup("::/0");
		j->addr[1] = strdup(j->mcfg.server);
		j->n_addrs = 2;
	}
	return 0;
}

/* What the host has now: the Federation document and its entry for the
 * name, the kubeconfig Secret and the member's kubeconfig in it. */
static int read_host(struct fedctl *ctx, struct fedctl_join *j, struct host_state *h,
                     struct fed_error *err)
{
	const cJSON *o;
	size_t k;
	int ret;

	ret = fedctl_call_ref(ctx, h->host, "GET", &configmap_ref, NULL, NULL, 0, &h->cm, err);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: get configmap %s/%s", FEDCTL_CONFIG_NS,
		                      FEDCTL_CONFIGMAP);
	o = cJSON_GetObjectItem(cJSON_GetObjectItem(h->cm, "data"), "kubefed.yaml");
	if (cJSON_IsString(o))
		h->old_yaml = strdup(o->valuestring);
	if (h->old_yaml && *h->old_yaml) {
		if (fed_federation_parse(&h->fed, h->old_yaml, strlen(h->old_yaml),
		                         "configmap kube-system/kubefed-config kubefed.yaml", err))
			return fed_error_wrap(err, "host: fix the Federation document first");
		for (k = 0; k < h->fed->n && !h->existing; k++)
			if (h->fed->clusters[k].name && !strcmp(h->fed->clusters[k].name, j->name))
				h->existing = &h->fed->clusters[k];
	}
	snprintf(h->key, sizeof(h->key), "kubeconfig-%s", j->name);
	ret = fedctl_call_ref(ctx, h->host, "GET", &secret_ref, NULL, NULL, 0, &h->secret, err);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: get secret %s/%s", FEDCTL_CONFIG_NS,
		                      FEDCTL_SECRET);
	fed_error_clear(err);
	o = cJSON_GetObjectItem(cJSON_GetObjectItem(h->secret, "data"), h->key);
	if (cJSON_IsString(o) && fed_base64_decode(FED_BASE64_STD, o->valuestring,
	                                           strlen(o->valuestring), &h->old_kc, NULL))
		h->old_kc = NULL;
	h->endpoint_same = same_endpoint(j, h->old_kc, &h->old_token);
	h->cm_same = entry_matches(j, h->existing);
	return 0;
}

/* The member: namespace, ServiceAccount, the token's Role, RBAC (cluster
 * connect's too). */
static int setup_member(struct fedctl_join *j, struct host_state *h, struct fed_error *err)
{
	const struct fed_kube_ref ns = {&fed_r_namespaces, NULL, j->ns, NULL};
	const struct fed_kube_ref sa = {&fed_r_serviceaccounts, j->ns, FEDCTL_MEMBER_SA, NULL};
	cJSON *x = fedctl_join_object("v1", "Namespace", NULL, j->ns);
	char what[300];
	int ret;

	printf("joining cluster %s (context %s, %s) to the federation of context %s\n", j->name,
	       j->mcfg.context ? j->mcfg.context : "?", j->mcfg.server,
	       h->hcfg.context ? h->hcfg.context : "?");
	snprintf(what, sizeof(what), "namespace %s", j->ns);
	ret = fedctl_join_apply(j, what, &ns, x, err);
	cJSON_Delete(x);
	if (ret)
		return ret;
	x = fedctl_join_object("v1", "ServiceAccount", j->ns, FEDCTL_MEMBER_SA);
	ret = fedctl_join_apply(j, "serviceaccount " FEDCTL_MEMBER_SA, &sa, x, err);
	cJSON_Delete(x);
	if (ret)
		return ret;
	/* no token Secret: its token would never expire (join_token.c) */
	if ((ret = fedctl_join_token_setup(j, err)) ||
	    (ret = fedctl_join_setup_rbac(j, h->host, j->rbac, err)))
		return ret;
	return fedctl_join_connect(j, err);
}

/* The member's kubeconfig for the host (token kept while still good),
 * and the KubeFedCluster's resourceVersion before the change. */
static int render_kubeconfig(struct fedctl *ctx, struct fedctl_join *j, struct host_state *h,
                             struct fed_error *err)
{
	const struct fed_kube_ref kfc = {&fed_r_kubefedclusters, ctx->fed_namespace, j->name, NULL};
	struct fed_rest_config r;
	char *token = fedctl_join_token(j, h->endpoint_same ? h->old_token : NULL, err);
	cJSON *k0 = NULL;
	struct fed_error e = FED_ERROR_INIT;
	int ret;

	if (!token)
		return err->code ? err->code : FED_ERR;
	memset(&r, 0, sizeof(r));
	r.server = j->mcfg.server;
	r.ca_pem = j->mcfg.ca_pem;
	r.ca_len = j->mcfg.ca_len;
	r.tls_server_name = j->mcfg.tls_server_name;
	r.proxy_url = j->mcfg.proxy_url;
	r.insecure_skip_tls_verify = j->mcfg.insecure_skip_tls_verify;
	r.token = token;
	r.cluster = (char *)j->name;
	r.user = FEDCTL_MEMBER_SA;
	ret = fed_kubeconfig_render(&r, j->name, &h->new_kc, err);
	free(token);
	if (ret)
		return ret;
	h->secret_same = h->old_kc && !strcmp(h->old_kc, h->new_kc);
	if ((!h->secret_same || !h->cm_same) &&
	    !fedctl_call_ref(ctx, h->host, "GET", &kfc, NULL, NULL, 0, &k0, &e))
		h->before_rv = strdup(fedctl_join_rv(k0));
	cJSON_Delete(k0);
	return 0;
}

/* The kubeconfig first, so the controller never sees an entry without
 * one. */
static int write_secret(struct fedctl *ctx, struct host_state *h, struct fed_error *err)
{
	const struct fed_kube_ref all = {&fed_r_secrets, FEDCTL_CONFIG_NS, NULL, NULL};
	char *b64 = NULL;
	cJSON *body;
	int ret;

	if (h->secret_same) {
		printf("host: secret %s/%s key %s unchanged\n", FEDCTL_CONFIG_NS, FEDCTL_SECRET,
		       h->key);
		return 0;
	}
	b64 = fed_base64_encode_str(h->new_kc, strlen(h->new_kc));
	if (!h->secret) {
		body = fedctl_join_object("v1", "Secret", FEDCTL_CONFIG_NS, FEDCTL_SECRET);
		cJSON_AddStringToObject(body, "type", "Opaque");
	} else {
		body = cJSON_CreateObject();
	}
	cJSON_AddItemToObject(cJSON_AddObjectToObject(body, "data"), h->key,
	                      cJSON_CreateString(b64 ? b64 : ""));
	ret = write_host(ctx, h->host, h->secret ? "PATCH" : "POST", h->secret ? &secret_ref : &all,
	                 body, "secret " FEDCTL_CONFIG_NS "/" FEDCTL_SECRET, err);
	cJSON_Delete(body);
	free(b64);
	if (ret)
		return ret;
	printf("host: secret %s/%s key %s %s\n", FEDCTL_CONFIG_NS, FEDCTL_SECRET, h->key,
	       h->old_kc ? "updated" : "added");
	return 0;
}

static int write_configmap(struct fedctl *ctx, struct fedctl_join *j, struct host_state *h,
                           struct fed_error *err)
{
	const struct fed_kube_ref all = {&fed_r_configmaps, FEDCTL_CONFIG_NS, NULL, NULL};
	char *entry = NULL, *new_yaml = NULL;
	cJSON *body = NULL;
	int ret;

	if (h->cm_same) {
		printf("host: configmap %s/%s cluster %s unchanged\n", FEDCTL_CONFIG_NS,
		       FEDCTL_CONFIGMAP, j->name);
		return 0;
	}
	entry = entry_yaml(j);
	if (!entry) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = fedctl_federation_edit(h->old_yaml, j->name, entry, &new_yaml, err)))
		goto out;
	if (!h->cm) {
		body = fedctl_join_object("v1", "ConfigMap", FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP);
	} else {
		body = cJSON_CreateObject();
		cJSON_AddStringToObject(cJSON_AddObjectToObject(body, "metadata"),
		                        "resourceVersion", fedctl_join_rv(h->cm));
	}
	cJSON_AddItemToObject(cJSON_AddObjectToObject(body, "data"), "kubefed.yaml",
	                      cJSON_CreateString(new_yaml));
	ret = write_host(ctx, h->host, h->cm ? "PATCH" : "POST", h->cm ? &configmap_ref : &all,
	                 body, "configmap " FEDCTL_CONFIG_NS "/" FEDCTL_CONFIGMAP, err);
	if (ret) {
		fed_error_wrap(err,
		               "the kubeconfig is in the Secret already; run join again to "
		               "finish, or fedctl delete %s to undo",
		               j->name);
		goto out;
	}
	printf("host: configmap %s/%s cluster %s %s\n", FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP, j->name,
	       h->existing ? "updated" : "added");
out:
	cJSON_Delete(body);
	free(entry);
	free(new_yaml);
	return ret;
}

/* A changed entry or endpoint, or (known once the token is there) a new
 * kubeconfig for another endpoint, needs --overwrite; a new token alone
 * (renewal, or a legacy one replaced) is no change of what was joined. */
static bool needs_overwrite(const struct fedctl_join *j, const struct host_state *h, bool rendered)
{
	if (!h->existing || j->overwrite)
		return false;
	return rendered ? !h->secret_same && !h->endpoint_same : !h->cm_same || !h->endpoint_same;
}

int fedctl_join_direct(struct fedctl *ctx, struct fedctl_join *j)
{
	struct fed_error err = FED_ERROR_INIT;
	struct host_state h;
	int ret, rc = EXIT_FAIL;

	memset(&h, 0, sizeof(h));
	fed_rest_config_init(&h.hcfg);
	if ((ret = connect_both(ctx, j, &h, &err)) || (ret = read_host(ctx, j, &h, &err)))
		goto out;
	if (needs_overwrite(j, &h, false)) {
		rc = already_joined(j->name);
		goto out;
	}
	if ((ret = setup_member(j, &h, &err)))
		goto out;
	if (j->dry_run) {
		printf("host: configmap %s/%s: cluster %s would be %s (dry run)\n",
		       FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP, j->name,
		       h.existing ? "updated" : "added");
		printf("host: secret %s/%s: key %s would be written (dry run)\n", FEDCTL_CONFIG_NS,
		       FEDCTL_SECRET, h.key);
		rc = EXIT_OK;
		goto out;
	}
	if ((ret = render_kubeconfig(ctx, j, &h, &err)))
		goto out;
	if (needs_overwrite(j, &h, true)) {
		rc = already_joined(j->name);
		goto out;
	}
	if ((ret = write_secret(ctx, &h, &err)) || (ret = write_configmap(ctx, j, &h, &err)))
		goto out;
	if (j->wait_for <= 0) {
		printf("cluster %s joined (not waiting for it to be Ready)\n", j->name);
		rc = EXIT_OK;
		goto out;
	}
	rc = fedctl_join_wait_ready(ctx, h.host, j->name, j->wait_for, h.before_rv, j);
out:
	if (ret)
		rc = fedctl_fail(&err);
	host_state_release(&h);
	return rc;
}
