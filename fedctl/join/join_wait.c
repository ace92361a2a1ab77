/* join, the end: wait until fed-controller reports the cluster Ready. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federation.h"
#include "join.h"

/* Ready, and written by the controller after our change (before_rv: the
 * KubeFedCluster's resourceVersion before it, NULL when there was none or
 * nothing changed) at one of our addresses. */
static bool fresh(const cJSON *kfc, const char *before_rv, const struct fedctl_join *j)
{
	const char *addr = fed_obj_str(kfc, "status.serverAddress");
	int i;

	if (before_rv && !strcmp(fedctl_join_rv(kfc), before_rv))
		return false;
	if (!addr)
		return false;
	if (!j->n_addrs) /* an agent's: the controller's end of the tunnel */
		return true;
	for (i = 0; i < j->n_addrs; i++) {
		char *url = NULL;
		struct fed_error e = FED_ERROR_INIT;
		bool same = !fed_server_url(j->addr[i], &url, &e) && !strcmp(url, addr);
		free(url);
		if (same)
			return true;
	}
	return false;
}

/* The Ready condition of kfc: status, reason and message (NULL if none). */
static void ready_condition(const cJSON *kfc, const char **status, const char **reason,
                            const char **message)
{
	const cJSON *c;

	*status = *reason = *message = NULL;
	cJSON_ArrayForEach(c,
	                   cJSON_GetObjectItem(cJSON_GetObjectItem(kfc, "status"), "conditions")) {
		const char *t = fed_obj_str(c, "type");
		if (t && !strcmp(t, "Ready")) {
			*status = fed_obj_str(c, "status");
			*reason = fed_obj_str(c, "reason");
			*message = fed_obj_str(c, "message");
		}
	}
}

static void print_ready(const char *name, const cJSON *kfc)
{
	const cJSON *nodes =
	    cJSON_GetObjectItem(cJSON_GetObjectItem(kfc, "status"), "totalNodeCount");
	const char *ver = fed_obj_str(kfc, "status.kubernetesVersion");
	const char *addr = fed_obj_str(kfc, "status.serverAddress");

	printf("cluster %s is Ready (Connected): Kubernetes %s, %s%d node(s), address %s\n", name,
	       ver ? ver : "version unknown", cJSON_IsNumber(nodes) ? "" : "? ",
	       cJSON_IsNumber(nodes) ? nodes->valueint : 0, addr ? addr : "?");
}

/* Why the cluster is not Ready after the wait, and what to check. */
static void print_not_ready(struct fedctl *ctx, const char *name, double timeout, const cJSON *kfc)
{
	const char *status, *reason, *message;

	ready_condition(kfc, &status, &reason, &message);
	if (!kfc)
		fprintf(
		    stderr,
		    "error: cluster \"%s\" is not Ready after %.0fs: no KubeFedCluster %s/%s was "
		    "written; is fed-controller running? (kubectl -n %s get pods); the cluster "
		    "is registered: it turns Ready once fed-controller runs, or fedctl delete %s "
		    "undoes the join\n",
		    name, timeout, ctx->fed_namespace, name, ctx->fed_namespace, name);
	else if (status && !strcmp(status, "True"))
		fprintf(stderr,
		        "error: cluster \"%s\" is not Ready after %.0fs: fed-controller has not "
		        "checked the new configuration yet (the KubeFedCluster still shows the old "
		        "state); is fed-controller running? (kubectl -n %s get pods)\n",
		        name, timeout, ctx->fed_namespace);
	else
		fprintf(stderr,
		        "error: cluster \"%s\" is not Ready after %.0fs: Ready=%s %s: %s; is "
		        "fed-controller running? (kubectl -n %s get pods)\n",
		        name, timeout, status ? status : "Unknown", reason ? reason : "NoReason",
		        message ? message : "no message", ctx->fed_namespace);
}

int fedctl_join_wait_ready(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                           double timeout, const char *before_rv, const struct fedctl_join *j)
{
	const struct fed_kube_ref ref = {&fed_r_kubefedclusters, ctx->fed_namespace, name, NULL};
	struct fed_error err = FED_ERROR_INIT;
	const char *status, *reason, *message, *conn;
	double waited = 0;
	cJSON *kfc = NULL;
	int rc = EXIT_FAIL;

	printf("waiting up to %.0fs for fed-controller to report cluster %s Ready\n", timeout,
	       name);
	fflush(stdout);
	for (;;) {
		cJSON_Delete(kfc);
		kfc = NULL;
		if (!fedctl_call_ref(ctx, host, "GET", &ref, NULL, NULL, 0, &kfc, &err)) {
			ready_condition(kfc, &status, &reason, &message);
			conn = fed_obj_str(kfc, "status.connectivityStatus");
			if (status && !strcmp(status, "True") && conn &&
			    !strcmp(conn, "Connected") && fresh(kfc, before_rv, j)) {
				print_ready(name, kfc);
				rc = EXIT_OK;
				goto out;
			}
		} else if (err.code != FED_ENOTFOUND) {
			fed_error_wrap(&err, "host: get kubefedcluster %s/%s", ctx->fed_namespace,
			               name);
			rc = fedctl_fail(&err);
			goto out;
		}
		if (waited >= timeout)
			break;
		fedctl_sleep(ctx, 1);
		waited += 1;
	}
	print_not_ready(ctx, name, timeout, kfc);
out:
	cJSON_Delete(kfc);
	return rc;
}
