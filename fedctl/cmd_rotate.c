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
#include "fed/base64.h"
#include "fed/federation.h"
#include "fedctl.h"

static const struct fed_kube_ref tunnel_secret_ref = {&fed_r_secrets, FEDCTL_CONFIG_NS,
                                                      FEDCTL_TUNNEL_SECRET, NULL};
static const char usage[] = "fedctl rotate CLUSTER [--dry-run]";
static const char examples[] =
    "  # new credentials for the agents of cluster east, the old ones refused\n"
    "  fedctl rotate east\n";

unsigned long long fedctl_tunnel_bump(cJSON *body, const cJSON *secret, const char *name,
                                      bool revoke)
{
	char key[300], val[64], *old = NULL, *b64, *end;
	const cJSON *v;
	unsigned long long g = 0;
	cJSON *data = cJSON_GetObjectItem(body, "data");

	snprintf(key, sizeof(key), "generation-%s", name);
	v = cJSON_GetObjectItem(cJSON_GetObjectItem(secret, "data"), key);
	if (cJSON_IsString(v) &&
	    fed_base64_decode(FED_BASE64_STD, v->valuestring, strlen(v->valuestring), &old, NULL))
		old = NULL;
	if (old) {
		g = strtoull(old, &end, 10);
		if (end == old)
			g = 0; /* malformed: start over above 0 */
	}
	free(old);
	g++;
	snprintf(val, sizeof(val), "%llu%s", g, revoke ? " revoke" : "");
	b64 = fed_base64_encode_str(val, strlen(val));
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
	const struct fed_kube_ref ref = {&fed_r_configmaps, FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP,
	                                 NULL};
	const char *yaml;
	int ret;

	*agent = *known = false;
	ret = fedctl_call_ref(ctx, host, "GET", &ref, NULL, NULL, 0, &cm, err);
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

/* One read, bump and conditional write of the fed-tunnel Secret (only the
 * read when dry_run); FED_ECONFLICT when it changed meanwhile (the
 * controller records expiries there). *g: the new generation. */
static int bump_once(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                     bool dry_run, unsigned long long *g, struct fed_error *err)
{
	cJSON *secret = NULL, *body = NULL;
	const char *rv;
	char *patch = NULL;
	int ret;

	ret = fedctl_call_ref(ctx, host, "GET", &tunnel_secret_ref, NULL, NULL, 0, &secret, err);
	if (ret == FED_ENOTFOUND) {
		fed_error_set(err, FED_ENOTFOUND,
		              "host: no secret %s/%s: the controller creates it when it serves "
		              "agents (--tunnel-address); nothing to rotate",
		              FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET);
		goto out;
	}
	if (ret) {
		fedctl_agent_redact(err, "get secret " FEDCTL_CONFIG_NS "/" FEDCTL_TUNNEL_SECRET);
		goto out;
	}
	body = cJSON_CreateObject();
	*g = fedctl_tunnel_bump(body, secret, name, false);
	/* conditional, so that two rotates at once write two numbers */
	rv = fed_obj_str(secret, "metadata.resourceVersion");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(body, "metadata"), "resourceVersion",
	                        rv ? rv : "");
	patch = cJSON_PrintUnformatted(body);
	if (dry_run)
		goto out;
	ret = fedctl_call_ref(ctx, host, "PATCH", &tunnel_secret_ref, patch,
	                      "application/merge-patch+json", 0, NULL, err);
	if (ret && ret != FED_ECONFLICT)
		fedctl_agent_redact(err, "patch secret " FEDCTL_CONFIG_NS "/" FEDCTL_TUNNEL_SECRET);
out:
	free(patch);
	cJSON_Delete(body);
	cJSON_Delete(secret);
	return ret;
}

int cmd_rotate(struct fedctl *ctx, int argc, char **argv)
{
	bool dry_run = false, agent, known;
	const struct fed_opt opts[] = {
	    {FED_OPT_BOOL, "dry-run", 0, &dry_run, NULL,
	     "only print the generation that would be written", NULL},
	    FED_OPT_TABLE_END,
	};
	const struct fedctl_spec spec = {usage, examples, opts};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client *host;
	char *args[1];
	unsigned long long g = 0;
	int nargs, ret, attempt;
	bool stop;

	if ((ret = fedctl_parse_args(ctx, &spec, argc, argv, args, 1, &nargs, &stop)) || stop)
		return ret ? EXIT_USAGE : EXIT_OK;
	if (nargs != 1) {
		fprintf(stderr, "error: rotate needs the cluster's NAME\nUsage: %s\n", usage);
		return EXIT_USAGE;
	}
	if (fedctl_check_cluster_name(args[0], &err) || fedctl_host(ctx, &host, &err) ||
	    agent_member(ctx, host, args[0], &agent, &known, &err))
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
	ret = FED_ECONFLICT;
	for (attempt = 0; attempt < 5 && ret == FED_ECONFLICT; attempt++) {
		fed_error_clear(&err);
		ret = bump_once(ctx, host, args[0], dry_run, &g, &err);
	}
	if (ret == FED_ECONFLICT) {
		fprintf(stderr,
		        "error: host: secret %s/%s kept changing (5 conflicts): run fedctl rotate "
		        "%s again\n",
		        FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, args[0]);
		return EXIT_FAIL;
	}
	if (ret)
		return fedctl_fail(&err);
	if (dry_run)
		printf("host: secret %s/%s: generation-%s would become %llu (dry run)\n",
		       FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, args[0], g);
	else
		printf("host: secret %s/%s: generation-%s is now %llu: credentials of earlier "
		       "generations are refused; the controller sends the live agents of %s new "
		       "ones on their connections\n",
		       FEDCTL_CONFIG_NS, FEDCTL_TUNNEL_SECRET, args[0], g, args[0]);
	return EXIT_OK;
}
