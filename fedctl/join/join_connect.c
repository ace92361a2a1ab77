/* join, direct mode: cluster connect's RBAC in the member
 * (fedctl_connect_role, to the member ServiceAccount). Granted with
 * --cluster-connect, removed with --cluster-connect=false, left as it is
 * without the flag: a join run again to renew a kubeconfig must not
 * revoke it unasked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"

static const struct fed_kube_ref role_ref = {&fed_r_clusterroles, NULL, FEDCTL_CONNECT_ROLE, NULL};
static const struct fed_kube_ref binding_ref = {&fed_r_clusterrolebindings, NULL,
                                                FEDCTL_CONNECT_ROLE, NULL};

/* DELETE one object (gone already: fine), with its step line. */
static int remove_one(struct fedctl_join *j, const char *what, const struct fed_kube_ref *ref,
                      struct fed_error *err)
{
	cJSON *old = NULL;
	int ret;

	if (j->dry_run) {
		ret = fedctl_call_ref(j->ctx, j->member, "GET", ref, NULL, NULL, 0, &old, err);
		cJSON_Delete(old);
		if (ret && ret != FED_ENOTFOUND)
			return fed_error_wrap(err, "member: get %s", what);
		fed_error_clear(err);
		printf("member: %s %s (dry run)\n", what, ret ? "not found" : "would be deleted");
		return 0;
	}
	return fedctl_member_delete(j->ctx, j->member, what, ref, err);
}

static int grant(struct fedctl_join *j, struct fed_error *err)
{
	cJSON *o = fedctl_connect_role(NULL);
	int ret = fedctl_join_apply(j, "clusterrole " FEDCTL_CONNECT_ROLE, &role_ref, o, err);

	cJSON_Delete(o);
	if (ret)
		return ret;
	o = fedctl_connect_binding(NULL, FEDCTL_MEMBER_SA, j->ns);
	ret = fedctl_join_apply(j, "clusterrolebinding " FEDCTL_CONNECT_ROLE, &binding_ref, o, err);
	cJSON_Delete(o);
	if (!ret && !j->dry_run)
		printf("cluster connect: fed may impersonate users, groups and user extras in %s "
		       "(not ServiceAccounts); the member's RBAC decides what each caller may do "
		       "(next: fedctl kubeconfig %s)\n",
		       j->name, j->name);
	return ret;
}

int fedctl_join_connect(struct fedctl_join *j, struct fed_error *err)
{
	int ret;

	switch (j->connect) {
	case FEDCTL_CONNECT_GRANT:
		return grant(j, err);
	case FEDCTL_CONNECT_REVOKE:
		/* the binding first: the role alone grants nobody anything */
		if ((ret = remove_one(j, "clusterrolebinding " FEDCTL_CONNECT_ROLE, &binding_ref,
		                      err)) ||
		    (ret = remove_one(j, "clusterrole " FEDCTL_CONNECT_ROLE, &role_ref, err)))
			return ret;
		printf("cluster connect: %s in %s (fed impersonates nobody there)\n",
		       j->dry_run ? "would be off" : "off", j->name);
		return 0;
	case FEDCTL_CONNECT_KEEP:
		break;
	}
	return 0;
}
