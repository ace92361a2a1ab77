/* fedctl delete, the host's side: the entry, the kubeconfig key, the
 * agent's bootstrap tokens, and the wait for fed-controller. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "delete.h"
#include "fedctl.h"

static const struct fed_kube_ref federation_cm = {&fed_r_configmaps, FEDCTL_CONFIG_NS,
                                                  FEDCTL_CONFIGMAP, NULL};
static const struct fed_kube_ref kubeconfig_secret = {&fed_r_secrets, FEDCTL_CONFIG_NS,
                                                      FEDCTL_SECRET, NULL};
static const struct fed_kube_ref tunnel_secret = {&fed_r_secrets, FEDCTL_CONFIG_NS,
                                                  FEDCTL_TUNNEL_SECRET, NULL};

/* The Federation ConfigMap (parsed) and the kubeconfig Secret; either may
 * be missing. */
int fedctl_delete_load(struct fedctl_delete *d, struct fed_error *err)
{
	int ret;

	ret = fedctl_call_ref(d->ctx, d->host, "GET", &federation_cm, NULL, NULL, 0, &d->cm, err);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: get configmap %s/%s", FEDCTL_CONFIG_NS,
		                      FEDCTL_CONFIGMAP);
	d->old_yaml = cJSON_GetStringValue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(d->cm, "data"), "kubefed.yaml"));
	if (d->old_yaml && *d->old_yaml &&
	    fed_federation_parse(&d->fed, d->old_yaml, strlen(d->old_yaml),
	                         "configmap kube-system/kubefed-config kubefed.yaml", err))
		return fed_error_wrap(err, "host: fix the Federation document first");
	ret = fedctl_call_ref(d->ctx, d->host, "GET", &kubeconfig_secret, NULL, NULL, 0, &d->secret,
	                      err);
	if (ret && ret != FED_ENOTFOUND)
		return fed_error_wrap(err, "host: get secret %s/%s", FEDCTL_CONFIG_NS,
		                      FEDCTL_SECRET);
	fed_error_clear(err);
	return 0;
}

/* The cluster's entry out of kubefed.yaml (a merge patch at the
 * ConfigMap's resourceVersion). */
int fedctl_delete_remove_entry(struct fedctl_delete *d, struct fed_error *err)
{
	cJSON *body = NULL;
	char *s = NULL, *new_yaml = NULL;
	int ret;

	if ((ret = fedctl_federation_edit(d->old_yaml, d->o.name, NULL, &new_yaml, err)))
		goto out;
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(cJSON_AddObjectToObject(body, "metadata"), "resourceVersion",
	                        fed_obj_resource_version(d->cm));
	cJSON_AddItemToObject(cJSON_AddObjectToObject(body, "data"), "kubefed.yaml",
	                      cJSON_CreateString(new_yaml));
	s = cJSON_PrintUnformatted(body);
	ret = fedctl_call_ref(d->ctx, d->host, "PATCH", &federation_cm, s,
	                      "application/merge-patch+json", 0, NULL, err);
	if (ret) {
		fed_error_wrap(err, "host: patch configmap %s/%s%s", FEDCTL_CONFIG_NS,
		               FEDCTL_CONFIGMAP,
		               ret == FED_ECONFLICT ? " (changed meanwhile: run again)" : "");
		goto out;
	}
	printf("host: configmap %s/%s cluster %s removed\n", FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP,
	       d->o.name);
out:
	cJSON_Delete(body);
	free(s);
	free(new_yaml);
	return ret;
}

int fedctl_delete_remove_key(struct fedctl_delete *d, struct fed_error *err)
{
	cJSON *body = cJSON_CreateObject();
	char *s;
	int ret;

	cJSON_AddNullToObject(cJSON_AddObjectToObject(body, "data"), d->p.key);
	s = cJSON_PrintUnformatted(body);
	ret = fedctl_call_ref(d->ctx, d->host, "PATCH", &kubeconfig_secret, s,
	                      "application/merge-patch+json", 0, NULL, err);
	if (ret)
		fed_error_wrap(err, "host: patch secret %s/%s (remove key %s)", FEDCTL_CONFIG_NS,
		               FEDCTL_SECRET, d->p.key);
	else
		printf("host: secret %s/%s key %s removed\n", FEDCTL_CONFIG_NS, FEDCTL_SECRET,
		       d->p.key);
	cJSON_Delete(body);
	free(s);
	return ret;
}

static void not_released(const struct fedctl_delete *d)
{
	const char *ns = d->ctx->fed_namespace, *name = d->o.name;

	fprintf(stderr,
	        "error: kubefedcluster %s/%s still exists after %.0fs: is "
	        "fed-controller running? (kubectl -n %s get pods); the host "
	        "no longer lists cluster %s: run fedctl delete %s again to "
	        "finish the member, or add --force to do it now\n",
	        ns, name, d->o.wait_for, ns, name, name);
}

int fedctl_delete_wait_released(struct fedctl_delete *d)
{
	const struct fed_kube_ref kfc = {&fed_r_kubefedclusters, d->ctx->fed_namespace, d->o.name,
	                                 NULL};
	const char *ns = d->ctx->fed_namespace;
	double waited = 0;
	int ret;

	for (;; waited += 0.5) {
		struct fed_error err = FED_ERROR_INIT;
		ret = fedctl_call_ref(d->ctx, d->host, "GET", &kfc, NULL, NULL, 0, NULL, &err);
		if (ret == FED_ENOTFOUND && waited == 0) {
			printf("host: no kubefedcluster %s/%s: fed-controller is not using the "
			       "cluster\n",
			       ns, d->o.name);
			return 0;
		}
		if (ret == FED_ENOTFOUND) {
			printf("host: kubefedcluster %s/%s removed by fed-controller\n", ns,
			       d->o.name);
			return 0;
		}
		if (waited >= d->o.wait_for && d->o.force) {
			printf("host: kubefedcluster %s/%s still exists after %.0fs; "
			       "continuing because of --force\n",
			       ns, d->o.name, d->o.wait_for);
			return 0;
		}
		if (waited >= d->o.wait_for) {
			not_released(d);
			return -1;
		}
		fedctl_sleep(d->ctx, 0.5);
	}
}

int fedctl_delete_agent_tokens(struct fedctl_delete *d, bool revoke, char **patch, int *n,
                               struct fed_error *err)
{
	cJSON *secret = NULL, *body = NULL;
	int ret;

	*patch = NULL;
	*n = 0;
	ret = fedctl_call_ref(d->ctx, d->host, "GET", &tunnel_secret, NULL, NULL, 0, &secret, err);
	if (ret == FED_ENOTFOUND) {
		fed_error_clear(err);
		ret = 0;
		goto out;
	}
	if (ret) {
		fed_error_wrap(err, "host: get secret %s/%s", FEDCTL_CONFIG_NS,
		               FEDCTL_TUNNEL_SECRET);
		goto out;
	}
	body = cJSON_CreateObject();
	*n = fedctl_bootstrap_tokens(secret, d->o.name, cJSON_AddObjectToObject(body, "data"));
	if (revoke)
		fedctl_tunnel_bump(body, secret, d->o.name, true);
	if (*n || revoke)
		*patch = cJSON_PrintUnformatted(body);
out:
	cJSON_Delete(body);
	cJSON_Delete(secret);
	return ret;
}

/* Remove what the patch says from the tunnel Secret. */
int fedctl_delete_patch_tokens(struct fedctl_delete *d, const char *patch, struct fed_error *err)
{
	int ret = fedctl_call_ref(d->ctx, d->host, "PATCH", &tunnel_secret, patch,
	                          "application/merge-patch+json", 0, NULL, err);

	if (ret)
		fedctl_agent_redact(err, "patch secret " FEDCTL_CONFIG_NS "/" FEDCTL_TUNNEL_SECRET
		                         " (remove bootstrap tokens)");
	return ret;
}
