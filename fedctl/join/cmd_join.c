/* fedctl join NAME: set up a member (namespace, ServiceAccount, RBAC, a
 * bound token that fed-controller renews) and register it in the host (Federation ConfigMap +
 * kubeconfig Secret), then wait until fed-controller reports it Ready. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federated_type.h"
#include "fed/federation.h"
#include "join.h"

static const char usage[] =
    "fedctl join NAME [--cluster-context CTX] [--host-cluster-context CTX]\n"
    "       [--client-cidr CIDR=ADDRESS ...] [--rbac minimal|full] [--wait DURATION]\n"
    "       [--token-lifetime DURATION] [--overwrite] [--dry-run]\n"
    "fedctl join NAME --mode agent [-o FILE] [--host-address HOST:PORT] [--rbac minimal|full]\n"
    "       [--proxy-https URL] [--proxy-skip-range LIST] [--proxy-cert FILE]\n"
    "       [--token-ttl DURATION] [--agent-image IMAGE] [--agent-namespace NS] [--wait DURATION]";
static const char examples[] =
    "  # join the cluster of context cluster1 under the name cluster1\n"
    "  fedctl join cluster1 --host-cluster-context host\n"
    "  # the host joins itself\n"
    "  fedctl join host --host-cluster-context host\n"
    "  # another context, with every right in the member (not the default)\n"
    "  fedctl join east --cluster-context kind-east --rbac full\n"
    "  # the controller reaches the member at another address from 10.0.0.0/8\n"
    "  fedctl join east --client-cidr 10.0.0.0/8=https://10.1.2.3:6443 \\\n"
    "      --client-cidr 0.0.0.0/0=https://east.example.com\n"
    "  # a member behind a firewall: its agent dials the host; apply agent.yaml there\n"
    "  fedctl join edge --mode agent -o agent.yaml\n"
    "  kubectl --context edge create -f agent.yaml\n"
    "  # through an outbound proxy, tunnel address given by hand\n"
    "  fedctl join edge --mode agent --host-address tunnel.example.com:8080 \\\n"
    "      --proxy-https http://proxy.example.com:3128 --proxy-skip-range 10.0.0.0/8\n";

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

static int write_host(struct fedctl *ctx, struct fed_kube_client *host, const char *method,
                      const char *path, const char *ctype, cJSON *body, const char *what,
                      struct fed_error *err)
{
	char *s = cJSON_PrintUnformatted(body);
	int ret = fedctl_call(ctx, host, method, path, s, ctype, 0, NULL, err);

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

int cmd_join(struct fedctl *ctx, int argc, char **argv)
{
	const char *cluster_ctx = NULL, *rbac = "minimal", *wait_s = NULL, *mode = "direct";
	const char *output = "agent.yaml", *host_address = NULL, *proxy_https = NULL;
	const char *proxy_skip = NULL, *proxy_cert = NULL, *token_ttl = "24h";
	const char *agent_image = "fed-agent:" FED_VERSION, *agent_ns = NULL;
	const char *token_lifetime = NULL;
	bool overwrite = false, dry_run = false;
	struct fed_opt_list cidrs;
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "mode", 0, &mode, "direct|agent",
	     "direct (default): the controller dials the member's API server; agent: the "
	     "member runs fed-agent, which dials the host (writes agent.yaml)",
	     NULL},
	    {FED_OPT_STRING, "cluster-context", 0, &cluster_ctx, "CTX",
	     "kubeconfig context of the member (default: NAME)", NULL},
	    {FED_OPT_LIST, "client-cidr", 0, &cidrs, "CIDR=ADDRESS",
	     "address of the member's API server for controllers in CIDR (repeatable; default: "
	     "the context's server for 0.0.0.0/0 and ::/0)",
	     NULL},
	    {FED_OPT_STRING, "rbac", 0, &rbac, "minimal|full",
	     "rights of the federation in the member: only what fed uses (default: the "
	     "enabled federated types, namespaces and nodes read, health endpoints; fedctl "
	     "enable/disable keep it in step), or full: everything (cluster-admin)",
	     NULL},
	    {FED_OPT_STRING, "wait", 0, &wait_s, "DURATION",
	     "wait this long for the cluster to be Ready (default 2m; 0: do not wait; agent "
	     "mode waits only when given)",
	     NULL},
	    {FED_OPT_STRING, "output", 'o', &output, "FILE",
	     "agent mode: write agent.yaml here (default agent.yaml; -: stdout); mode 0600, it "
	     "holds the bootstrap token",
	     NULL},
	    {FED_OPT_STRING, "host-address", 0, &host_address, "HOST:PORT",
	     "agent mode: where agents dial the host (default: the load balancer of service "
	     "fed-tunnel, else the Federation's spec.tunnel.proxyPublishAddress)",
	     NULL},
	    {FED_OPT_STRING, "proxy-https", 0, &proxy_https, "URL",
	     "agent mode: the member's outbound proxy, http:// or https://", NULL},
	    {FED_OPT_STRING, "proxy-skip-range", 0, &proxy_skip, "LIST",
	     "agent mode: comma list of CIDRs, IPs and domains the agent reaches without the "
	     "proxy (NO_PROXY)",
	     NULL},
	    {FED_OPT_STRING, "proxy-cert", 0, &proxy_cert, "FILE",
	     "agent mode: PEM CA bundle of an https:// proxy", NULL},
	    {FED_OPT_STRING, "token-ttl", 0, &token_ttl, "DURATION",
	     "agent mode: how long the one-time bootstrap token is valid (default 24h)", NULL},
	    {FED_OPT_STRING, "agent-image", 0, &agent_image, "IMAGE",
	     "agent mode: fed-agent's image (default fed-agent:<fedctl version>)", NULL},
	    {FED_OPT_STRING, "agent-namespace", 0, &agent_ns, "NS",
	     "agent mode: the agent's namespace in the member (default: the federation "
	     "namespace)",
	     NULL},
	    {FED_OPT_STRING, "token-lifetime", 0, &token_lifetime, "DURATION",
	     "direct mode: lifetime of the member ServiceAccount's bound token (default 24h, "
	     "at least 10m); fed-controller renews it before it expires",
	     NULL},
	    {FED_OPT_BOOL, "overwrite", 0, &overwrite, NULL,
	     "update a cluster that is already joined", NULL},
	    {FED_OPT_BOOL, "dry-run", 0, &dry_run, NULL, "only print what would be done", NULL},
	    FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client *host = NULL;
	struct fed_rest_config hcfg;
	struct fed_federation *fed = NULL;
	const struct fed_cluster_spec *existing = NULL;
	struct fedctl_join j;
	char *args[1], path[512], key[128];
	char *old_yaml = NULL, *new_yaml = NULL, *entry = NULL, *token = NULL, *old_token = NULL;
	char *old_kc = NULL, *new_kc = NULL, *b64 = NULL, *before_rv = NULL;
	cJSON *cm = NULL, *secret = NULL, *o;
	double wait_for = 0;
	int nargs, ret, i, rc = EXIT_FAIL;
	bool cm_same, secret_same, endpoint_same;

	memset(&cidrs, 0, sizeof(cidrs));
	memset(&j, 0, sizeof(j));
	fed_rest_config_init(&hcfg);
	fed_rest_config_init(&j.mcfg);
	ret = fedctl_parse(ctx, usage, examples, opts, argc, argv, args, 1, &nargs);
	if (ret >= 0)
		return ret;
	if (nargs != 1) {
		fprintf(stderr, "error: join needs the cluster's NAME\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	j.ctx = ctx;
	j.name = args[0];
	j.ns = ctx->fed_namespace;
	j.dry_run = dry_run;
	if (strcmp(rbac, "full") && strcmp(rbac, "minimal")) {
		fprintf(stderr, "error: --rbac takes full or minimal, not \"%s\"\n", rbac);
		return EXIT_USAGE;
	}
	if (strcmp(mode, "direct") && strcmp(mode, "agent")) {
		fprintf(stderr, "error: --mode takes direct or agent, not \"%s\"\n", mode);
		return EXIT_USAGE;
	}
	if (!strcmp(mode, "agent")) {
		struct fedctl_join_agent_opts ao = {
		    .name = j.name,
		    .output = output,
		    .host_address = host_address,
		    .proxy_https = proxy_https,
		    .proxy_skip = proxy_skip,
		    .proxy_cert = proxy_cert,
		    .token_ttl = token_ttl,
		    .image = agent_image,
		    .agent_ns = agent_ns,
		    .wait = wait_s,
		    .minimal = !strcmp(rbac, "minimal"),
		};
		if (cluster_ctx || cidrs.n || overwrite || dry_run || token_lifetime) {
			fprintf(stderr,
			        "error: --mode agent never contacts the member: "
			        "--cluster-context, --client-cidr, --token-lifetime, "
			        "--overwrite and --dry-run are for direct members (run join "
			        "again to "
			        "replace the agent's token)\n");
			return EXIT_USAGE;
		}
		if (fedctl_check_cluster_name(j.name, &err))
			return fedctl_fail(&err);
		return fedctl_join_agent(ctx, &ao);
	}
	if (strcmp(output, "agent.yaml") || host_address || proxy_https || proxy_skip ||
	    proxy_cert || strcmp(token_ttl, "24h") || agent_ns ||
	    strcmp(agent_image, "fed-agent:" FED_VERSION)) {
		fprintf(stderr, "error: -o, --host-address, --proxy-*, --token-ttl, --agent-image "
		                "and --agent-namespace are for --mode agent\n");
		return EXIT_USAGE;
	}
	if (fedctl_parse_duration(token_lifetime ? token_lifetime : "24h", &j.token_lifetime) ||
	    j.token_lifetime < 600 || j.token_lifetime > 4294967295.0) {
		fprintf(stderr,
		        "error: --token-lifetime takes a duration of at least 10m (the apiserver's "
		        "minimum), such as 24h, not \"%s\"\n",
		        token_lifetime);
		return EXIT_USAGE;
	}
	if (!wait_s)
		wait_s = "2m";
	if (fedctl_parse_duration(wait_s, &wait_for)) {
		fprintf(stderr, "error: --wait takes a duration such as 2m, 90s or 0, not \"%s\"\n",
		        wait_s);
		return EXIT_USAGE;
	}
	if (fedctl_check_cluster_name(j.name, &err))
		return fedctl_fail(&err);
	for (i = 0; i < cidrs.n && i < FEDCTL_JOIN_MAX_ADDRS; i++) {
		const char *eq = strchr(cidrs.items[i], '=');
		struct fed_cidr c;
		char cidr[128];
		if (!eq || eq == cidrs.items[i] || !eq[1] ||
		    (size_t)(eq - cidrs.items[i]) >= sizeof(cidr)) {
			fprintf(stderr,
			        "error: --client-cidr takes CIDR=ADDRESS (e.g. "
			        "10.0.0.0/8=https://10.1.2.3:6443), not \"%s\"\n",
			        cidrs.items[i]);
			goto usage_out;
		}
		memcpy(cidr, cidrs.items[i], (size_t)(eq - cidrs.items[i]));
		cidr[eq - cidrs.items[i]] = '\0';
		if (fed_cidr_parse(cidr, &c, &err) || fed_server_url(eq + 1, &entry, &err) ||
		    strchr(eq + 1, '"') || strchr(eq + 1, '\\')) {
			fprintf(stderr, "error: --client-cidr %s: %s\n", cidrs.items[i],
			        err.code ? err.msg : "bad characters in the address");
			goto usage_out;
		}
		free(entry);
		entry = NULL;
		j.cidr[j.n_addrs] = strndup(cidrs.items[i], (size_t)(eq - cidrs.items[i]));
		j.addr[j.n_addrs++] = strdup(eq + 1);
	}

	/* both clusters first: nothing changes unless both answer */
	ret = fedctl_connect(ctx, "host", ctx->host_context, &hcfg, &host, &err);
	ctx->host = host; /* main frees it */
	if (ret)
		goto fail;
	if (fedctl_connect(ctx, "member", cluster_ctx ? cluster_ctx : j.name, &j.mcfg, &j.member,
	                   &err)) {
		if (!cluster_ctx && strstr(err.msg, "context"))
			fed_error_wrap(&err,
			               "member %s (pass --cluster-context when its context "
			               "has another name)",
			               j.name);
		goto fail;
	}
	if (!j.n_addrs) {
		j.cidr[0] = strdup("0.0.0.0/0");
		j.addr[0] = strdup(j.mcfg.server);
		j.cidr[1] = strdup("::/0");
		j.addr[1] = strdup(j.mcfg.server);
		j.n_addrs = 2;
	}

	/* what the host has now */
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", FEDCTL_CONFIG_NS,
	         FEDCTL_CONFIGMAP);
	ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &cm, &err);
	if (ret && ret != FED_ENOTFOUND) {
		fed_error_wrap(&err, "host: get configmap %s/%s", FEDCTL_CONFIG_NS,
		               FEDCTL_CONFIGMAP);
		goto fail;
	}
	o = cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "data"), "kubefed.yaml");
	if (cJSON_IsString(o))
		old_yaml = strdup(o->valuestring);
	if (old_yaml && *old_yaml) {
		if (fed_federation_parse(&fed, old_yaml, strlen(old_yaml),
		                         "configmap kube-system/kubefed-config kubefed.yaml",
		                         &err)) {
			fed_error_wrap(&err, "host: fix the Federation document first");
			goto fail;
		}
		for (size_t k = 0; k < fed->n; k++)
			if (fed->clusters[k].name && !strcmp(fed->clusters[k].name, j.name)) {
				existing = &fed->clusters[k];
				break;
			}
	}
	snprintf(key, sizeof(key), "kubeconfig-%s", j.name);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", FEDCTL_CONFIG_NS,
	         FEDCTL_SECRET);
	ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &secret, &err);
	if (ret && ret != FED_ENOTFOUND) {
		fed_error_wrap(&err, "host: get secret %s/%s", FEDCTL_CONFIG_NS, FEDCTL_SECRET);
		goto fail;
	}
	o = secret ? cJSON_GetObjectItem(cJSON_GetObjectItem(secret, "data"), key) : NULL;
	if (cJSON_IsString(o))
		old_kc = fedctl_b64_decode(o->valuestring, NULL);
	endpoint_same = same_endpoint(&j, old_kc, &old_token);
	cm_same = entry_matches(&j, existing);
	if (existing && !overwrite && (!cm_same || !endpoint_same)) {
		rc = already_joined(j.name);
		goto out;
	}

	/* the member */
	printf("joining cluster %s (context %s, %s) to the federation of context %s\n", j.name,
	       j.mcfg.context ? j.mcfg.context : "?", j.mcfg.server,
	       hcfg.context ? hcfg.context : "?");
	{
		cJSON *x = fedctl_join_object("v1", "Namespace", NULL, j.ns);
		char what[300];
		snprintf(what, sizeof(what), "namespace %s", j.ns);
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s", j.ns);
		ret = fedctl_join_apply(&j, what, path, x, &err);
		cJSON_Delete(x);
		if (ret)
			goto fail;
		x = fedctl_join_object("v1", "ServiceAccount", j.ns, FEDCTL_MEMBER_SA);
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/serviceaccounts/%s", j.ns,
		         FEDCTL_MEMBER_SA);
		ret = fedctl_join_apply(&j, "serviceaccount " FEDCTL_MEMBER_SA, path, x, &err);
		cJSON_Delete(x);
		if (ret)
			goto fail;
		/* no token Secret: its token would never expire (join_token.c) */
		if ((ret = fedctl_join_token_setup(&j, &err)) ||
		    (ret = fedctl_join_setup_rbac(&j, host, rbac, &err)))
			goto fail;
	}
	if (dry_run) {
		printf("host: configmap %s/%s: cluster %s would be %s (dry run)\n",
		       FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP, j.name, existing ? "updated" : "added");
		printf("host: secret %s/%s: key %s would be written (dry run)\n", FEDCTL_CONFIG_NS,
		       FEDCTL_SECRET, key);
		rc = EXIT_OK;
		goto out;
	}
	token = fedctl_join_token(&j, endpoint_same ? old_token : NULL, &err);
	if (!token)
		goto fail;

	/* the host: the kubeconfig first, so the controller never sees an
	 * entry without one */
	{
		struct fed_rest_config r;
		memset(&r, 0, sizeof(r));
		r.server = j.mcfg.server;
		r.ca_pem = j.mcfg.ca_pem;
		r.ca_len = j.mcfg.ca_len;
		r.tls_server_name = j.mcfg.tls_server_name;
		r.proxy_url = j.mcfg.proxy_url;
		r.insecure_skip_tls_verify = j.mcfg.insecure_skip_tls_verify;
		r.token = token;
		r.cluster = (char *)j.name;
		r.user = FEDCTL_MEMBER_SA;
		if (fed_kubeconfig_render(&r, j.name, &new_kc, &err))
			goto fail;
	}
	secret_same = old_kc && !strcmp(old_kc, new_kc);
	if (!secret_same || !cm_same) {
		cJSON *k0 = NULL;
		struct fed_error e = FED_ERROR_INIT;
		snprintf(path, sizeof(path),
		         "/apis/core.kubefed.io/v1beta1/namespaces/%s/kubefedclusters/%s",
		         ctx->fed_namespace, j.name);
		if (!fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &k0, &e))
			before_rv = strdup(fedctl_join_rv(k0));
		cJSON_Delete(k0);
	}
	/* a new token alone (renewal, or a legacy one replaced) is no change of
	 * what was joined */
	if (existing && !overwrite && !secret_same && !endpoint_same) {
		rc = already_joined(j.name);
		goto out;
	}
	if (secret_same) {
		printf("host: secret %s/%s key %s unchanged\n", FEDCTL_CONFIG_NS, FEDCTL_SECRET,
		       key);
	} else {
		cJSON *body;
		b64 = fedctl_b64_encode(new_kc, strlen(new_kc));
		if (!secret) {
			body = fedctl_join_object("v1", "Secret", FEDCTL_CONFIG_NS, FEDCTL_SECRET);
			cJSON_AddStringToObject(body, "type", "Opaque");
			cJSON_AddItemToObject(cJSON_AddObjectToObject(body, "data"), key,
			                      cJSON_CreateString(b64));
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets",
			         FEDCTL_CONFIG_NS);
			ret = write_host(ctx, host, "POST", path, NULL, body,
			                 "secret " FEDCTL_CONFIG_NS "/" FEDCTL_SECRET, &err);
		} else {
			body = cJSON_CreateObject();
			cJSON_AddItemToObject(cJSON_AddObjectToObject(body, "data"), key,
			                      cJSON_CreateString(b64));
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s",
			         FEDCTL_CONFIG_NS, FEDCTL_SECRET);
			ret = write_host(ctx, host, "PATCH", path, "application/merge-patch+json",
			                 body, "secret " FEDCTL_CONFIG_NS "/" FEDCTL_SECRET, &err);
		}
		cJSON_Delete(body);
		if (ret)
			goto fail;
		printf("host: secret %s/%s key %s %s\n", FEDCTL_CONFIG_NS, FEDCTL_SECRET, key,
		       old_kc ? "updated" : "added");
	}
	if (cm_same) {
		printf("host: configmap %s/%s cluster %s unchanged\n", FEDCTL_CONFIG_NS,
		       FEDCTL_CONFIGMAP, j.name);
	} else {
		cJSON *body;
		entry = entry_yaml(&j);
		if (!entry || fedctl_federation_edit(old_yaml, j.name, entry, &new_yaml, &err))
			goto fail;
		if (!cm) {
			body = fedctl_join_object("v1", "ConfigMap", FEDCTL_CONFIG_NS,
			                          FEDCTL_CONFIGMAP);
			cJSON_AddItemToObject(cJSON_AddObjectToObject(body, "data"), "kubefed.yaml",
			                      cJSON_CreateString(new_yaml));
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps",
			         FEDCTL_CONFIG_NS);
			ret = write_host(ctx, host, "POST", path, NULL, body,
			                 "configmap " FEDCTL_CONFIG_NS "/" FEDCTL_CONFIGMAP, &err);
		} else {
			body = cJSON_CreateObject();
			cJSON_AddStringToObject(cJSON_AddObjectToObject(body, "metadata"),
			                        "resourceVersion", fedctl_join_rv(cm));
			cJSON_AddItemToObject(cJSON_AddObjectToObject(body, "data"), "kubefed.yaml",
			                      cJSON_CreateString(new_yaml));
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s",
			         FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP);
			ret = write_host(ctx, host, "PATCH", path, "application/merge-patch+json",
			                 body, "configmap " FEDCTL_CONFIG_NS "/" FEDCTL_CONFIGMAP,
			                 &err);
		}
		cJSON_Delete(body);
		if (ret) {
			fed_error_wrap(&err,
			               "the kubeconfig is in the Secret already; run join again "
			               "to finish, or fedctl delete %s to undo",
			               j.name);
			goto fail;
		}
		printf("host: configmap %s/%s cluster %s %s\n", FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP,
		       j.name, existing ? "updated" : "added");
	}
	if (wait_for <= 0) {
		printf("cluster %s joined (not waiting for it to be Ready)\n", j.name);
		rc = EXIT_OK;
		goto out;
	}
	rc = fedctl_join_wait_ready(ctx, host, j.name, wait_for, before_rv, &j);
	goto out;
usage_out:
	rc = EXIT_USAGE;
	goto out;
fail:
	rc = fedctl_fail(&err);
out:
	for (i = 0; i < j.n_addrs; i++) {
		free((char *)j.cidr[i]);
		free(j.addr[i]);
	}
	fed_kube_client_free(j.member);
	fed_rest_config_release(&j.mcfg);
	fed_rest_config_release(&hcfg);
	fed_federation_free(fed);
	cJSON_Delete(cm);
	cJSON_Delete(secret);
	free(old_yaml);
	free(new_yaml);
	free(entry);
	free(token);
	free(old_token);
	free(old_kc);
	free(new_kc);
	free(b64);
	free(before_rv);
	return rc;
}
