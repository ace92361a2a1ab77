/* fedctl rotate CLUSTER: revoke an agent member's tunnel credentials and
 * have the controller give its live agents new ones. It raises
 * generation-<CLUSTER> in the host's fed-tunnel Secret; the controller sees
 * the change, sends every live connection of the cluster a credential of
 * the new generation (the agent stays connected, no stream is dropped)
 * and refuses older credentials from then on. Also the generation bump
 * that delete and a re-join write (fedctl_tunnel_bump). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "fed/federation.h"
#include "fedctl.h"

static const char usage[] = "fedctl rotate CLUSTER [--dry-run]";
static const char examples[] =
    "  # new credentials for the agents of cluster east, the old ones refused\n"
    "  fedctl rotate east\n";

unsigned long long fedctl_tunnel_bump(cJSON *body, const cJSON *secret, const char *name,
                                      bool revoke)
{
	char key[300], val[64], *old, *b64, *end;
	const cJSON *v;
	unsigned long long g = 0;
	cJSON *data = cJSON_GetObjectItem(body, "data");

	snprintf(key, sizeof(key), "generation-%s", name);
	v = cJSON_GetObjectItem(cJSON_GetObjectItem(secret, "data"), key);
	old = cJSON_IsString(v) ? fedctl_b64_decode(v->valuestring, NULL) : NULL;
	if (old) {
		g = strtoull(old, &end, 10);
		if (end == old)
			g = 0; /* malformed: start over above 0 */
	}
	free(old);
	g++;
	snprintf(val, sizeof(val), "%llu%s", g, revoke ? " revoke" : "");
	b64 = fedctl_b64_encode(val, strlen(val));
	if (!data)
		data = cJSON_AddObjectToObject(body, "data");
	cJSON_DeleteItemFromObject(data, key);
	cJSON_AddStringToObject(data, key, b64 ? b64 : "");
	free(b64);
	return g;
}

/* Is name in the Federation config with mode: agent? */
static int agent_member(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                        bool *agent, bool *known, struct fed_error *err)
{
	struct fed_federation *fed = NULL;
	cJSON *cm = NULL;
	const char *yaml;
	char path[512];
	int ret;

	*agent = *known = false;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", FEDCTL_CONFIG_NS,
	         FEDCTL_CONFIGMAP);
	ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &cm, err);
	if (ret == FED_ENOTFOUND) {
		fed_error_clear(err);
		return 0;
	}
	if (ret)
		return fed_error_wrap(err, "host: get configmap %s/%s", FEDCTL_CONFIG_NS,
		                      FEDCTL_CONFIGMAP);
	yaml = cJSON_GetStringValue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "data"), "kubefed.yaml"));
	if (yaml && *yaml &&
	    (ret =
	         fed_federation_parse(&fed, yaml, strlen(yaml),
	                              "configmap kube-system/kubefed-config kubefed.yaml", err))) {
		cJSON_Delete(cm);
		return fed_error_wrap(err, "host: fix the Federation document first");
	}
	for (size_t k = 0; fed && k < fed->n; k++) {
		if (fed->clusters[k].name && !strcmp(fed->clusters[k].name, name)) {
			*known = true;
			*agent = fed->clusters[k].mode == FED_CLUSTER_AGENT;
		}
	}
	fed_federation_free(fed);
	cJSON_Delete(cm);
	return 0;
}

int cmd_rotate(struct fedctl *ctx, int argc, char **argv)
{
	bool dry_run = false, agent, known;
	const struct fed_opt opts[] = {
	    {FED_OPT_BOOL, "dry-run", 0, &dry_run, NULL,
	     "only print the generation that would be written", NULL},
	    FED_OPT_TABLE_END,
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client *host;
	cJSON *secret = NULL, *body = NULL;
	char *args[1], *patch = NULL, path[512];
	unsigned long long g;
	int nargs, ret, rc = EXIT_FAIL;

	ret = fedctl_parse(ctx, usage, examples, opts, argc, argv, args, 1, &nargs);
	if (ret >= 0)
		return ret;
	if (nargs != 1) {
		fprintf(stderr, "error: rotate needs the cluster's NAME\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	if (fedctl_check_cluster_name(args[0], &err))
		return fedctl_fail(&err);
	if (fedctl_host(ctx, &host, &err))
		return fedctl_fail(&err);
	if (agent_member(ctx, host, args[0], &agent, &known, &err))
		return fedctl_fail(&err);
	if (!agent) {
		fprintf(stderr,
		        "error: cluster %s is %s: only agent members have tunnel credentials to "
		        "rotate (a direct member's access is its kubeconfig in secret %s/%s: "
		        "join it again to replace it)\n",
		        args[0], known ? "a direct member (mode: direct)" : "not in the federation",
		        FEDCTL_CONFIG_NS, FEDCTL_SECRET);
		return EXIT_FAIL;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", FEDCTL_CONFIG_NS,
	         FEDCTL_TUNNEL_SECRET);
	/* a concurrent writer (the controller records expiries) makes the
	 * conditional patch conflict: read again and retry */
	for (int attempt = 0; attempt < 5; attempt++) {
		cJSON_Delete(secret);
		secret = NULL;
		fed_error_clear(&err);
		ret = fedctl_call(ctx, host, "GET", path, NULL, NULL, 0, &secret, &err);
		if (ret == FED_ENOTFOUND) {
			fprintf(stderr,
			        "error: host: no secret %s/%s: the controller creates it when it "
			        "serves agents (--tunnel-address); nothing to rotate\n",
			        FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET);
			goto out;
		}
		if (ret) {
			fedctl_agent_redact(&err, "get secret " FEDCTL_CONFIG_NS
			                          "/" FEDCTL_TUNNEL_SECRET);
			fedctl_fail(&err);
			goto out;
		}
		body = cJSON_CreateObject();
		g = fedctl_tunnel_bump(body, secret, args[0], false);
		/* conditional, so that two rotates at once write two numbers */
		cJSON_AddStringToObject(cJSON_AddObjectToObject(body, "metadata"),
		                        "resourceVersion",
		                        fed_obj_str(secret, "metadata.resourceVersion")
		                            ? fed_obj_str(secret, "metadata.resourceVersion")
		                            : "");
		patch = cJSON_PrintUnformatted(body);
		cJSON_Delete(body);
		body = NULL;
		if (dry_run) {
			printf("host: secret %s/%s: generation-%s would become %llu (dry run)\n",
			       FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, args[0], g);
			rc = EXIT_OK;
			goto out;
		}
		ret = fedctl_call(ctx, host, "PATCH", path, patch, "application/merge-patch+json",
		                  0, NULL, &err);
		free(patch);
		patch = NULL;
		if (ret == FED_ECONFLICT)
			continue;
		if (ret) {
			fedctl_agent_redact(&err, "patch secret " FEDCTL_CONFIG_NS
			                          "/" FEDCTL_TUNNEL_SECRET);
			fedctl_fail(&err);
			goto out;
		}
		printf("host: secret %s/%s: generation-%s is now %llu: credentials of earlier "
		       "generations are refused; the controller sends the live agents of %s new "
		       "ones on their connections\n",
		       FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, args[0], g, args[0]);
		rc = EXIT_OK;
		goto out;
	}
	fprintf(stderr,
	        "error: host: secret %s/%s kept changing (5 conflicts): run fedctl rotate %s "
	        "again\n",
	        FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, args[0]);
out:
	free(patch);
	cJSON_Delete(secret);
	return rc;
}
