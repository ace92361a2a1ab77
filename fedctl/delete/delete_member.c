/* fedctl delete, the member's side: what join created there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_connect.h"
#include "delete.h"
#include "fedctl.h"

static char *ns_uid(struct fedctl *ctx, struct fed_kube_client *c)
{
	const struct fed_kube_ref kube_system = {&fed_r_namespaces, NULL, "kube-system", NULL};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *o = NULL;
	char *uid = NULL;

	if (!fedctl_call_ref(ctx, c, "GET", &kube_system, NULL, NULL, 0, &o, &err) &&
	    fed_obj_str(o, "metadata.uid"))
		uid = strdup(fed_obj_str(o, "metadata.uid"));
	cJSON_Delete(o);
	return uid;
}

void fedctl_delete_check_self(struct fedctl_delete *d)
{
	char *huid = ns_uid(d->ctx, d->host), *muid = ns_uid(d->ctx, d->member);

	d->self = huid && muid && !strcmp(huid, muid);
	free(huid);
	free(muid);
}

/* DELETE one member object, printing its step line. */
static int remove_one(struct fedctl_delete *d, const char *what, const struct fed_kube_ref *ref,
                      struct fed_error *err)
{
	return fedctl_member_delete(d->ctx, d->member, what, ref, err);
}

/* A deleted namespace stays Terminating in a cluster without the namespace
 * controller: say so. */
static void say_terminating(struct fedctl_delete *d, const struct fed_kube_ref *ref)
{
	struct fed_error e = FED_ERROR_INIT;
	cJSON *n = NULL;

	if (!fedctl_call_ref(d->ctx, d->member, "GET", ref, NULL, NULL, 0, &n, &e) &&
	    fed_obj_str(n, "metadata.deletionTimestamp"))
		printf("member: namespace %s is Terminating (the member's "
		       "namespace controller finishes it)\n",
		       ref->name);
	cJSON_Delete(n);
}

int fedctl_delete_member_objects(struct fedctl_delete *d, struct fed_error *err)
{
	const char *ns = d->ctx->fed_namespace;
	const struct fed_kube_ref refs[] = {
	    {&fed_r_clusterrolebindings, NULL, FEDCTL_CONNECT_ROLE, NULL},
	    {&fed_r_clusterroles, NULL, FEDCTL_CONNECT_ROLE, NULL},
	    {&fed_r_clusterrolebindings, NULL, FEDCTL_MEMBER_ROLE, NULL},
	    {&fed_r_clusterroles, NULL, FEDCTL_MEMBER_ROLE, NULL},
	    {&fed_r_secrets, ns, FEDCTL_MEMBER_TOKEN, NULL},
	    {&fed_r_serviceaccounts, ns, FEDCTL_MEMBER_SA, NULL},
	    {&fed_r_namespaces, NULL, ns, NULL},
	};
	const char *const kinds[] = {"clusterrolebinding", "clusterrole", "clusterrolebinding",
	                             "clusterrole",        "secret",      "serviceaccount",
	                             "namespace"};
	size_t i, n = sizeof(refs) / sizeof(refs[0]);
	int ret = 0;

	/* the namespace last, and never the host's own */
	for (i = 0; i < n && !ret; i++) {
		char what[600];
		if (refs[i].resource == &fed_r_namespaces && d->self)
			continue;
		snprintf(what, sizeof(what), "%s %s%s%s", kinds[i],
		         refs[i].namespace ? refs[i].namespace : "", refs[i].namespace ? "/" : "",
		         refs[i].name);
		ret = remove_one(d, what, &refs[i], err);
		if (!ret && refs[i].resource == &fed_r_namespaces)
			say_terminating(d, &refs[i]);
	}
	return ret;
}

void fedctl_delete_leftovers(const struct fedctl_delete *d)
{
	const char *context = d->o.member_context, *ns = d->ctx->fed_namespace;
	bool keep_ns = d->self;

	fprintf(stderr,
	        "left in the member (context %s): the propagated copies (objects labelled "
	        "kubefed.io/managed=true), clusterrolebindings and clusterroles %s and %s, "
	        "secret %s/%s, serviceaccount %s/%s%s%s; remove them with: kubectl --context %s "
	        "delete clusterrolebinding,clusterrole %s %s --ignore-not-found; kubectl --context "
	        "%s -n %s delete secret %s; kubectl --context %s -n %s delete serviceaccount %s\n",
	        context, FEDCTL_MEMBER_ROLE, FEDCTL_CONNECT_ROLE, ns, FEDCTL_MEMBER_TOKEN, ns,
	        FEDCTL_MEMBER_SA, keep_ns ? "" : ", namespace ", keep_ns ? "" : ns, context,
	        FEDCTL_MEMBER_ROLE, FEDCTL_CONNECT_ROLE, context, ns, FEDCTL_MEMBER_TOKEN, context,
	        ns, FEDCTL_MEMBER_SA);
}
