/* fedctl enable / disable: writing to the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enable.h"

static void applied(const char *what, const cJSON *old, const cJSON *now)
{
	const char *a = old ? fed_obj_resource_version(old) : NULL;
	const char *b = fed_obj_resource_version(now);

	printf("host: %s %s\n", what,
	       !old                        ? "created"
	       : (a && b && !strcmp(a, b)) ? "unchanged"
	                                   : "configured");
}

int fedctl_apply(struct fedctl *ctx, struct fed_kube_client *host, const char *what,
                 const struct fed_kube_ref *ref, const cJSON *obj, bool dry_run,
                 struct fed_error *err)
{
	cJSON *old = NULL, *now = NULL;
	char *body = NULL;
	int ret;

	ret = fedctl_call_ref(ctx, host, "GET", ref, NULL, NULL, 0, &old, err);
	if (ret && ret != FED_ENOTFOUND) {
		fed_error_wrap(err, "host: get %s", what);
		goto out;
	}
	ret = 0;
	fed_error_clear(err);
	if (dry_run) {
		printf("host: %s %s (dry run)\n", what,
		       old ? "would be applied" : "would be created");
		goto out;
	}
	body = cJSON_PrintUnformatted(obj);
	ret = fedctl_call_query(ctx, host, "PATCH", ref, "fieldManager=fedctl&force=true", body,
	                        "application/apply-patch+yaml", 0, &now, err);
	if (ret == FED_EFORBIDDEN)
		fed_error_wrap(err, "host: apply %s (needs create and patch on it)", what);
	else if (ret)
		fed_error_wrap(err, "host: apply %s", what);
	else
		applied(what, old, now);
out:
	free(body);
	cJSON_Delete(old);
	cJSON_Delete(now);
	return ret;
}

static bool established(const cJSON *crd)
{
	const cJSON *c;

	cJSON_ArrayForEach(c,
	                   cJSON_GetObjectItem(cJSON_GetObjectItem(crd, "status"), "conditions")) {
		const char *t = fed_obj_str(c, "type"), *s = fed_obj_str(c, "status");
		if (t && s && !strcmp(t, "Established") && !strcmp(s, "True"))
			return true;
	}
	return false;
}

int fedctl_wait_established(struct fedctl *ctx, struct fed_kube_client *host, const char *name,
                            struct fed_error *err)
{
	const struct fed_kube_ref ref = {&fed_r_crds, NULL, name, NULL};
	int i;

	for (i = 0;; i++) {
		cJSON *now = NULL;
		bool ok = !fedctl_call_ref(ctx, host, "GET", &ref, NULL, NULL, 0, &now, err) &&
		          established(now);
		cJSON_Delete(now);
		if (ok)
			return 0;
		if (i >= 60)
			return fed_error_set(
			    err, FED_ETIMEOUT,
			    "customresourcedefinition %s is not Established after "
			    "30s (kubectl describe crd %s); run enable again once it "
			    "is",
			    name, name);
		fedctl_sleep(ctx, 0.5);
	}
}
