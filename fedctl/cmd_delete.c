/* fedctl delete NAME (alias unjoin): the reverse of join. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federation.h"
#include "agent.h"
#include "fedctl.h"

static const char usage[] = "fedctl delete NAME [--cluster-context CTX] [--host-cluster-context "
                            "CTX] [--force] [--orphan] [--dry-run] [--wait DURATION]";
static const char examples[] =
    "  fedctl delete cluster1 --host-cluster-context host\n"
    "  # the member is gone for good: clean up the host only\n"
    "  fedctl delete cluster1 --force\n"
    "  # keep what was propagated there running, unmanaged\n"
    "  fedctl delete cluster1 --orphan\n"
    "\n"
    "Order: the host first (ConfigMap entry, kubeconfig key), then fedctl waits until\n"
    "fed-controller has let go of the cluster (its KubeFedCluster is gone), then in the\n"
    "member the propagated copies (labelled kubefed.io/managed=true) are deleted, or\n"
    "with --orphan unlabelled, and then the ServiceAccount, RBAC and namespace.\n";

static void sleep_loop(struct fedctl *ctx, double s)
{
	bool never = false;

	fed_kube_wait(ctx->loop, &never, s);
}

static char *ns_uid(struct fedctl *ctx, struct fed_kube_client *c)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *o = NULL;
	char *uid = NULL;

	if (!fedctl_call(ctx, c, "GET", "/api/v1/namespaces/kube-system", NULL, NULL, 0, &o,
	                 &err) &&
	    fed_obj_str(o, "metadata.uid"))
		uid = strdup(fed_obj_str(o, "metadata.uid"));
	cJSON_Delete(o);
	return uid;
}

/* DELETE one member object, printing its step line. */
static int remove_one(struct fedctl *ctx, struct fed_kube_client *m, const char *what,
                      const char *path, struct fed_error *err)
{
	int ret = fedctl_call(ctx, m, "DELETE", path, NULL, NULL, 0, NULL, err);

	if (ret == FED_ENOTFOUND) {
		printf("member: %s not found\n", what);
		return 0;
	}
	if (ret)
		return fed_error_wrap(err, "member: delete %s", what);
	printf("member: %s deleted\n", what);
	return 0;
}

static void leftovers(const char *context, const char *ns, bool keep_ns)
{
	fprintf(
	    stderr,
	    "left in the member (context %s): the propagated copies (objects labelled "
	    "kubefed.io/managed=true), clusterrolebinding and clusterrole %s, "
	    "secret %s/%s, serviceaccount %s/%s%s%s; remove them with: kubectl --context %s "
	    "delete clusterrolebinding,clusterrole %s; kubectl --context %s -n %s delete secret "
	    "%s; kubectl --context %s -n %s delete serviceaccount %s\n",
	    context, FEDCTL_MEMBER_ROLE, ns, FEDCTL_MEMBER_TOKEN, ns, FEDCTL_MEMBER_SA,
	    keep_ns ? "" : ", namespace ", keep_ns ? "" : ns, context, FEDCTL_MEMBER_ROLE, context,
	    ns, FEDCTL_MEMBER_TOKEN, context, ns, FEDCTL_MEMBER_SA);
}

/* The name of a joined cluster whose address is server, else NULL. */
static const char *joined_as(const struct fed_federation *fed, const char *server)
{
	size_t i, k;

	for (i = 0; fed && server && i < fed->n; i++)
		for (k = 0; fed->clusters[i].name && k < fed->clusters[i].n_addrs; k++) {
			struct fed_error e = FED_ERROR_INIT;
			char *url = NULL;
			bool same =
			    !fed_server_url(fed->clusters[i].addrs[k].server_address, &url, &e) &&
			    !strcmp(url, server);
			free(url);
			if (same)
				return fed->clusters[i].name;
		}
	return NULL;
}

/* The cluster's entry out of kubefed.yaml (a merge patch at the
 * ConfigMap's resourceVersion). */
static int remove_entry(struct fedctl *ctx, struct fed_kube_client *host, const cJSON *cm,
                        const char *old_yaml, const char *name, char **new_yaml,
                        struct fed_error *err)
{
	cJSON *body;
	char *s, path[512];
	int ret;

	if ((ret = fedctl_federation_edit(old_yaml, name, NULL, new_yaml, err)))
		return ret;
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(cJSON_AddObjectToObject(body, "metadata"), "resourceVersion",
	                        fed_obj_resource_version(cm));
	cJSON_AddItemToObject(cJSON_AddObjectToObject(body, "data"), "kubefed.yaml",
	                      cJSON_CreateString(*new_yaml));
	s = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", FEDCTL_CONFIG_NS,
	         FEDCTL_CONFIGMAP);
	ret =
	    fedctl_call(ctx, host, "PATCH", path, s, "application/merge-patch+json", 0, NULL, err);
	free(s);
	if (ret)
		return fed_error_wrap(
		    err, "host: patch configmap %s/%s%s", FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP,
		    ret == FED_ECONFLICT ? " (changed meanwhile: run again)" : "");
	printf("host: configmap %s/%s cluster %s removed\n", FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP,
	       name);
	return 0;
}

/* Wait until fed-controller removed the KubeFedCluster: 0 to go on, -1
 * to stop (the message is printed). */
static int wait_released(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                         double wait_for, bool force)
{
	struct fed_error err = FED_ERROR_INIT;
	double waited = 0;
	char path[512];
	int ret;

	snprintf(path, sizeof(path),
	         "/apis/core.kubefed.io/v1beta1/namespaces/%s/kubefedclusters/%s",
	         ctx->fed_namespace, name);
	for (;;) {
		ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, NULL, &err);
		if (ret == FED_ENOTFOUND && waited == 0) {
			printf("host: no kubefedcluster %s/%s: fed-controller is not using the "
			       "cluster\n",
			       ctx->fed_namespace, name);
			return 0;
		}
		if (ret == FED_ENOTFOUND) {
			printf("host: kubefedcluster %s/%s removed by fed-controller\n",
			       ctx->fed_namespace, name);
			return 0;
		}
		if (waited >= wait_for && force) {
			printf("host: kubefedcluster %s/%s still exists after %.0fs; "
			       "continuing because of --force\n",
			       ctx->fed_namespace, name, wait_for);
			return 0;
		}
		if (waited >= wait_for) {
			fprintf(stderr,
			        "error: kubefedcluster %s/%s still exists after %.0fs: is "
			        "fed-controller running? (kubectl -n %s get pods); the host "
			        "no longer lists cluster %s: run fedctl delete %s again to "
			        "finish the member, or add --force to do it now\n",
			        ctx->fed_namespace, name, wait_for, ctx->fed_namespace, name, name);
			return -1;
		}
		sleep_loop(ctx, 0.5);
		waited += 0.5;
	}
}

/* The cluster's unused bootstrap tokens in the host's fed-tunnel Secret:
 * a merge patch removing them (NULL when there are none). With revoke,
 * the patch also raises the cluster's credential generation ("revoke":
 * the controller refuses the agents' credentials and closes their
 * connections), so it is there whenever the Secret is. */
static int agent_tokens(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                        bool revoke, char **patch, int *n, struct fed_error *err)
{
	cJSON *secret = NULL, *e, *body, *data;
	char path[512];
	size_t len = strlen(name);
	int ret;

	*patch = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", FEDCTL_CONFIG_NS,
	         FEDCTL_TUNNEL_SECRET);
	ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &secret, err);
	if (ret == FED_ENOTFOUND)
		return 0;
	if (ret)
		return fed_error_wrap(err, "host: get secret %s/%s", FEDCTL_CONFIG_NS,
		                      FEDCTL_TUNNEL_SECRET);
	body = cJSON_CreateObject();
	data = cJSON_AddObjectToObject(body, "data");
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(secret, "data")) {
		char *v;
		if (!e->string || strncmp(e->string, "bootstrap-", 10) || !cJSON_IsString(e))
			continue;
		v = fedctl_b64_decode(e->valuestring, NULL);
		if (v && !strncmp(v, name, len) && v[len] == ' ') {
			cJSON_AddNullToObject(data, e->string);
			(*n)++;
		}
		free(v);
	}
	if (revoke)
		fedctl_tunnel_bump(body, secret, name, true);
	if (*n || revoke)
		*patch = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	cJSON_Delete(secret);
	return 0;
}

static void agent_hint(const char *mctx, const char *ns)
{
	printf("to remove the agent from the member: kubectl --context %s delete -f agent.yaml\n"
	       "  (or: kubectl --context %s delete --ignore-not-found namespace/%s "
	       "clusterrolebinding/%s clusterrole/%s)\n",
	       mctx, mctx, ns, FEDCTL_AGENT_NAME, FEDCTL_AGENT_NAME);
}

/* delete of an agent member: the entry and the unused bootstrap tokens on
 * the host; in the member, when its context answers from here (an agent
 * member often does not), the propagated copies. The agent itself came
 * from agent.yaml: the user removes it the same way. */
static int delete_agent(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                        const cJSON *cm, const char *old_yaml, bool in_cm, const char *mctx,
                        bool orphan, bool dry_run, double wait_for, bool force)
{
	struct fed_error err = FED_ERROR_INIT, merr = FED_ERROR_INIT;
	struct fed_kube_client *member = NULL;
	struct fed_rest_config mcfg;
	char *patch = NULL, *new_yaml = NULL, *huid = NULL, *muid = NULL, path[512];
	bool self = false;
	int n = 0, ret, rc = EXIT_FAIL;

	fed_rest_config_init(&mcfg);
	if ((ret = agent_tokens(ctx, host, name, true, &patch, &n, &err)))
		goto fail;
	if (fedctl_connect(ctx, "member", mctx, &mcfg, &member, &merr)) {
		printf("member: context %s does not answer from here (%s): agent members often "
		       "do not; the propagated copies stay there\n",
		       mctx, merr.msg);
		fed_kube_client_free(member);
		member = NULL;
	} else {
		huid = ns_uid(ctx, host);
		muid = ns_uid(ctx, member);
		self = huid && muid && !strcmp(huid, muid);
	}
	if (dry_run) {
		if (in_cm)
			printf("host: configmap %s/%s: agent cluster %s would be removed (dry "
			       "run)\n",
			       FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP, name);
		printf("host: secret %s/%s: %d unused bootstrap token(s) would be removed (dry "
		       "run), and the agents' credentials revoked\n",
		       FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, n);
		if (member && (ret = fedctl_member_clean_managed(ctx, host, member, self, orphan,
		                                                 true, &err)))
			goto fail;
		rc = EXIT_OK;
		goto out;
	}
	if (in_cm && (ret = remove_entry(ctx, host, cm, old_yaml, name, &new_yaml, &err)))
		goto fail;
	if (patch) {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", FEDCTL_CONFIG_NS,
		         FEDCTL_TUNNEL_SECRET);
		ret = fedctl_call(ctx, host, "PATCH", path, patch, "application/merge-patch+json",
		                  0, NULL, &err);
		if (ret) {
			fedctl_agent_redact(&err,
			                    "patch secret " FEDCTL_CONFIG_NS
			                    "/" FEDCTL_TUNNEL_SECRET " (remove bootstrap tokens)");
			goto fail;
		}
	}
	printf("host: secret %s/%s: %d unused bootstrap token(s) of %s removed%s\n",
	       FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, n, name,
	       patch ? "; its agents' credentials revoked (generation raised)" : "");
	if (wait_for > 0 && wait_released(ctx, host, name, wait_for, force))
		goto out;
	if (member &&
	    (ret = fedctl_member_clean_managed(ctx, host, member, self, orphan, false, &err)))
		goto fail;
	printf("cluster %s left the federation; %s\n", name,
	       !member  ? "its propagated copies were not removed (the member was not reached)"
	       : orphan ? "its propagated copies stay in the member, unmanaged (--orphan)"
	                : "its propagated copies were removed from the member");
	agent_hint(mctx, ctx->fed_namespace);
	rc = EXIT_OK;
	goto out;
fail:
	rc = fedctl_fail(&err);
out:
	fed_kube_client_free(member);
	fed_rest_config_release(&mcfg);
	free(patch);
	free(new_yaml);
	free(huid);
	free(muid);
	return rc;
}

int cmd_delete(struct fedctl *ctx, int argc, char **argv)
{
	const char *cluster_ctx = NULL, *wait_s = NULL;
	bool force = false, orphan = false, dry_run = false;
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "cluster-context", 0, &cluster_ctx, "CTX",
	     "kubeconfig context of the member (unset: NAME)", NULL},
	    {FED_OPT_BOOL, "force", 0, &force, NULL,
	     "finish on the host even when the member cannot be reached (says what is left "
	     "there)",
	     NULL},
	    {FED_OPT_BOOL, "orphan", 0, &orphan, NULL,
	     "leave the propagated copies of federated resources running in the member, "
	     "without the kubefed.io/managed label (unset: they are deleted)",
	     NULL},
	    {FED_OPT_BOOL, "dry-run", 0, &dry_run, NULL, "only print what would be done", NULL},
	    {FED_OPT_STRING, "wait", 0, &wait_s, "DURATION",
	     "wait this long for fed-controller to let go of the cluster (remove its "
	     "KubeFedCluster) before the member is cleaned (0: do not wait)",
	     "30s"},
	    FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT, merr = FED_ERROR_INIT;
	struct fed_kube_client *host = NULL, *member = NULL;
	struct fed_rest_config hcfg, mcfg;
	struct fed_federation *fed = NULL;
	char *args[1], path[512], key[128], what[300];
	char *new_yaml = NULL, *huid = NULL, *muid = NULL;
	const char *mctx, *other;
	cJSON *cm = NULL, *secret = NULL;
	const char *old_yaml = NULL;
	bool in_cm = false, in_secret = false, self = false, agent = false;
	double wait_for = 0;
	int nargs, ret, rc = EXIT_FAIL;
	size_t k;
	const struct fedctl_spec spec = {usage, examples, opts};
	bool stop;

	fed_rest_config_init(&hcfg);
	fed_rest_config_init(&mcfg);
	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 1, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if (nargs != 1) {
		fprintf(stderr, "error: delete needs the cluster's NAME\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	if (fedctl_parse_duration(wait_s, &wait_for)) {
		fprintf(stderr, "error: --wait takes a duration such as 30s, 2m or 0, not \"%s\"\n",
		        wait_s);
		return EXIT_USAGE;
	}
	if (fedctl_check_cluster_name(args[0], &err))
		return fedctl_fail(&err);
	mctx = cluster_ctx ? cluster_ctx : args[0];

	ret = fedctl_connect(ctx, "host", ctx->host_context, &hcfg, &host, &err);
	ctx->host = host;
	if (ret)
		goto fail;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", FEDCTL_CONFIG_NS,
	         FEDCTL_CONFIGMAP);
	ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &cm, &err);
	if (ret && ret != FED_ENOTFOUND) {
		fed_error_wrap(&err, "host: get configmap %s/%s", FEDCTL_CONFIG_NS,
		               FEDCTL_CONFIGMAP);
		goto fail;
	}
	old_yaml = cJSON_GetStringValue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "data"), "kubefed.yaml"));
	if (old_yaml && *old_yaml) {
		if (fed_federation_parse(&fed, old_yaml, strlen(old_yaml),
		                         "configmap kube-system/kubefed-config kubefed.yaml",
		                         &err)) {
			fed_error_wrap(&err, "host: fix the Federation document first");
			goto fail;
		}
		for (k = 0; k < fed->n; k++)
			if (fed->clusters[k].name && !strcmp(fed->clusters[k].name, args[0]))
				in_cm = true;
	}
	snprintf(key, sizeof(key), "kubeconfig-%s", args[0]);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", FEDCTL_CONFIG_NS,
	         FEDCTL_SECRET);
	ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &secret, &err);
	if (ret && ret != FED_ENOTFOUND) {
		fed_error_wrap(&err, "host: get secret %s/%s", FEDCTL_CONFIG_NS, FEDCTL_SECRET);
		goto fail;
	}
	in_secret = secret && cJSON_GetObjectItem(cJSON_GetObjectItem(secret, "data"), key);
	for (k = 0; fed && k < fed->n; k++)
		if (fed->clusters[k].name && !strcmp(fed->clusters[k].name, args[0]) &&
		    fed->clusters[k].mode == FED_CLUSTER_AGENT)
			agent = true;
	if (!agent && !in_cm && !in_secret) {
		/* an earlier delete of an agent member may have stopped after
		 * the entry: its tokens are what is left */
		char *p = NULL;
		int n = 0;
		if ((ret = agent_tokens(ctx, host, args[0], false, &p, &n, &err)))
			goto fail;
		free(p);
		agent = n > 0;
	}
	if (agent) {
		rc = delete_agent(ctx, host, args[0], cm, old_yaml, in_cm, mctx, orphan, dry_run,
		                  wait_for, force);
		goto out;
	}

	/* the member must answer before anything changes, unless --force */
	ret = fedctl_connect(ctx, "member", mctx, &mcfg, &member, &merr);
	if (!in_cm && !in_secret) {
		/* an earlier delete may have stopped after the host: finish it */
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/serviceaccounts/%s",
		         ctx->fed_namespace, FEDCTL_MEMBER_SA);
		if (ret || fedctl_call(ctx, member, "GET", path, NULL, NULL, 0, NULL, &merr)) {
			printf("cluster %s is not joined: nothing to do\n", args[0]);
			rc = EXIT_OK;
			goto out;
		}
		if ((other = joined_as(fed, mcfg.server))) {
			printf(
			    "cluster %s is not joined (context %s is the member joined as %s: "
			    "fedctl delete %s --cluster-context %s removes that one): nothing to "
			    "do\n",
			    args[0], mctx, other, other, mctx);
			rc = EXIT_OK;
			goto out;
		}
		printf("cluster %s is no longer in the host's configuration, but serviceaccount "
		       "%s/%s is still in the member: finishing the cleanup there\n",
		       args[0], ctx->fed_namespace, FEDCTL_MEMBER_SA);
	}
	if (ret) {
		if (!force) {
			err = merr;
			fed_error_wrap(&err,
			               "cluster %s stays joined; fix the connection, or use "
			               "--force to remove it from the host only",
			               args[0]);
			goto fail;
		}
		printf("member: unreachable, continuing because of --force: %s\n", merr.msg);
		fed_kube_client_free(member);
		member = NULL;
	} else {
		huid = ns_uid(ctx, host);
		muid = ns_uid(ctx, member);
		self = huid && muid && !strcmp(huid, muid);
		if (self)
			printf("member: cluster %s is the host itself: namespace %s is kept\n",
			       args[0], ctx->fed_namespace);
	}
	if (dry_run) {
		if (in_cm)
			printf("host: configmap %s/%s: cluster %s would be removed (dry run)\n",
			       FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP, args[0]);
		if (in_secret)
			printf("host: secret %s/%s: key %s would be removed (dry run)\n",
			       FEDCTL_CONFIG_NS, FEDCTL_SECRET, key);
		if (member && (ret = fedctl_member_clean_managed(ctx, host, member, self, orphan,
		                                                 true, &err)))
			goto fail;
		if (member)
			printf("member: clusterrolebinding, clusterrole %s, secret %s, "
			       "serviceaccount %s%s%s would be deleted (dry run)\n",
			       FEDCTL_MEMBER_ROLE, FEDCTL_MEMBER_TOKEN, FEDCTL_MEMBER_SA,
			       self ? "" : ", namespace ", self ? "" : ctx->fed_namespace);
		rc = EXIT_OK;
		goto out;
	}

	/* the host: the entry first, so the controller stops using the
	 * kubeconfig before it disappears */
	if (in_cm && (ret = remove_entry(ctx, host, cm, old_yaml, args[0], &new_yaml, &err)))
		goto fail;
	if (in_secret) {
		char body[256];
		snprintf(body, sizeof(body), "{\"data\":{\"%s\":null}}", key);
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", FEDCTL_CONFIG_NS,
		         FEDCTL_SECRET);
		ret = fedctl_call(ctx, host, "PATCH", path, body, "application/merge-patch+json", 0,
		                  NULL, &err);
		if (ret) {
			fed_error_wrap(&err, "host: patch secret %s/%s (remove key %s)",
			               FEDCTL_CONFIG_NS, FEDCTL_SECRET, key);
			goto fail;
		}
		printf("host: secret %s/%s key %s removed\n", FEDCTL_CONFIG_NS, FEDCTL_SECRET, key);
	}

	/* the controller lets go of the cluster first, so that it does not
	 * write the copies back while they are removed */
	if (wait_for > 0 && wait_released(ctx, host, args[0], wait_for, force))
		goto out;

	/* the member */
	if (member) {
		const char *ns = ctx->fed_namespace;
		if ((ret =
		         fedctl_member_clean_managed(ctx, host, member, self, orphan, false, &err)))
			goto member_fail;
		snprintf(path, sizeof(path),
		         "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/%s",
		         FEDCTL_MEMBER_ROLE);
		if ((ret = remove_one(ctx, member, "clusterrolebinding " FEDCTL_MEMBER_ROLE, path,
		                      &err)))
			goto member_fail;
		snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterroles/%s",
		         FEDCTL_MEMBER_ROLE);
		if ((ret = remove_one(ctx, member, "clusterrole " FEDCTL_MEMBER_ROLE, path, &err)))
			goto member_fail;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", ns,
		         FEDCTL_MEMBER_TOKEN);
		snprintf(what, sizeof(what), "secret %s/%s", ns, FEDCTL_MEMBER_TOKEN);
		if ((ret = remove_one(ctx, member, what, path, &err)))
			goto member_fail;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/serviceaccounts/%s", ns,
		         FEDCTL_MEMBER_SA);
		snprintf(what, sizeof(what), "serviceaccount %s/%s", ns, FEDCTL_MEMBER_SA);
		if ((ret = remove_one(ctx, member, what, path, &err)))
			goto member_fail;
		if (!self) {
			cJSON *n = NULL;
			struct fed_error e = FED_ERROR_INIT;
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
			snprintf(what, sizeof(what), "namespace %s", ns);
			if ((ret = remove_one(ctx, member, what, path, &err)))
				goto member_fail;
			if (!fedctl_call(ctx, member, "GET", path, NULL, NULL, 0, &n, &e) &&
			    fed_obj_str(n, "metadata.deletionTimestamp"))
				printf("member: namespace %s is Terminating (the member's "
				       "namespace controller finishes it)\n",
				       ns);
			cJSON_Delete(n);
		}
	} else {
		leftovers(mctx, ctx->fed_namespace, self);
	}
	if (member)
		printf("cluster %s left the federation; %s\n", args[0],
		       orphan ? "its propagated copies stay in the member, unmanaged (--orphan)"
		              : "its propagated copies were removed from the member");
	else
		printf("cluster %s left the federation (the member was not cleaned)\n", args[0]);

	rc = EXIT_OK;
	goto out;
member_fail:
	fedctl_fail(&err);
	leftovers(mctx, ctx->fed_namespace, self);
	rc = EXIT_FAIL;
	goto out;
fail:
	rc = fedctl_fail(&err);
out:
	fed_kube_client_free(member);
	fed_rest_config_release(&mcfg);
	fed_rest_config_release(&hcfg);
	fed_federation_free(fed);
	cJSON_Delete(cm);
	cJSON_Delete(secret);
	free(new_yaml);
	free(huid);
	free(muid);
	return rc;
}
