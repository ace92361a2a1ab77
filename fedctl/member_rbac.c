/* fedctl enable / disable: keep every member's least-privilege ClusterRole
 * in step with the enabled types. The member's own ServiceAccount may not
 * edit its role (that would let it grant itself anything), so the role is
 * written with the operator's credentials for the member: the kubeconfig
 * context named like the cluster. A member that does not answer from here
 * (an agent behind a firewall, another context name) gets its role as a
 * file and one line saying how to apply it there. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fed/federation.h"
#include "join.h"

static bool same_rule(const struct fedctl_agent_rule *a, const struct fedctl_agent_rule *b)
{
	return a && b && !strcmp(a->group, b->group) && !strcmp(a->plural, b->plural);
}

/* The role of an --rbac full member, or one fedctl did not write: left
 * alone (full already has everything; narrowing it is the operator's
 * call, by joining again). */
static bool is_broad(const cJSON *role)
{
	const cJSON *l = cJSON_GetObjectItem(cJSON_GetObjectItem(role, "metadata"), "labels"), *r,
	            *x;
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(l, FEDCTL_RBAC_LABEL));

	if (v && !strcmp(v, "minimal"))
		return false;
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(role, "rules"))
		cJSON_ArrayForEach(x, cJSON_GetObjectItem(r, "resources")) {
			const char *s = cJSON_GetStringValue(x);
			if (s && strchr(s, '*'))
				return true;
		}
	return false;
}

static int write_file(const char *dir, const char *name, const cJSON *role, const cJSON *extra,
                      char *file, size_t n)
{
	const cJSON *x;
	struct fed_buf b = FED_BUF_INIT;
	int fd, ret = -1;

	snprintf(file, n, "%s/fed-member-role-%s.yaml", dir, name);
	if (fed_buf_printf(&b,
	                   "# the least-privilege role of fed member %s: apply it there\n"
	                   "# (kubectl --context <%s> apply -f %s)\n---\n",
	                   name, name, file) < 0 ||
	    fedctl_yaml(&b, role))
		goto out;
	cJSON_ArrayForEach(x, extra)
		if (fed_buf_puts(&b, "---\n") < 0 || fedctl_yaml(&b, x))
			goto out;
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		goto out;
	ret = write(fd, fed_buf_str(&b), b.len) == (ssize_t)b.len ? 0 : -1;
	if (close(fd))
		ret = -1;
out:
	fed_buf_release(&b);
	return ret;
}

/* The subject of the member role's binding: whom the Secrets policy
 * holds (the agent's namespace is the operator's choice at join). */
static void role_subject(struct fedctl *ctx, struct fed_kube_client *m, const char *rname, char *ns,
                         size_t n)
{
	const struct fed_kube_ref ref = {&fed_r_clusterrolebindings, NULL, rname, NULL};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *crb = NULL;
	const char *s;

	fedctl_call_ref(ctx, m, "GET", &ref, NULL, NULL, 0, &crb, &err);
	s = cJSON_GetStringValue(cJSON_GetObjectItem(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(crb, "subjects"), 0), "namespace"));
	snprintf(ns, n, "%s", s ? s : ctx->fed_namespace);
	cJSON_Delete(crb);
}

/* Secrets enabled: the Secrets role and its policy applied; disabled:
 * deleted. 1 when one could not be. */
static int sync_secrets(struct fedctl *ctx, struct fed_kube_client *m, const char *cluster,
                        const char *rname, const char *sa, bool secrets, bool dry_run)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_ref ref;
	char ns[256];
	cJSON *docs, *o, *now = NULL;
	int ret, rc = 0;

	role_subject(ctx, m, rname, ns, sizeof(ns));
	docs = fedctl_member_secrets_docs(ns, sa);
	cJSON_ArrayForEach(o, docs) {
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind"));
		if (fedctl_secrets_doc_ref(o, &ref))
			continue;
		if (dry_run) {
			printf("member %s: %s %s would be %s (dry run)\n", cluster, kind,
			       fed_obj_name(o), secrets ? "applied" : "deleted");
			continue;
		}
		if (secrets)
			ret = fedctl_apply_ref(ctx, m, &ref, o, &now, &err);
		else
			ret = fedctl_call_ref(ctx, m, "DELETE", &ref, NULL, NULL, 0, &now, &err);
		cJSON_Delete(now);
		now = NULL;
		if (!secrets && ret == FED_ENOTFOUND)
			continue;
		if (ret) {
			printf("member %s: %s %s not %s: %s\n", cluster, kind, fed_obj_name(o),
			       secrets ? "applied" : "deleted", err.msg);
			fed_error_clear(&err);
			rc = 1;
			continue;
		}
		printf("member %s: %s %s %s\n", cluster, kind, fed_obj_name(o),
		       secrets ? "applied" : "deleted");
	}
	cJSON_Delete(docs);
	return rc;
}

/* One member: apply role with the context named like the cluster. 1 when
 * the operator must apply it there by hand. */
static int sync_one(struct fedctl *ctx, const struct fed_cluster_spec *c, const cJSON *role,
                    const char *sa, bool secrets, const char *dir, bool dry_run)
{
	cJSON *extra = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rest_config cfg;
	struct fed_kube_client *m = NULL;
	const char *rname = fed_obj_name(role);
	const struct fed_kube_ref ref = {&fed_r_clusterroles, NULL, rname, NULL};
	cJSON *old = NULL, *now = NULL;
	char file[1024];
	int ret, rc = 0;

	if (fedctl_connect(ctx, "member", c->name, &cfg, &m, &err)) {
		if (dry_run) {
			printf("member %s: clusterrole %s: no context %s answers from here (dry "
			       "run: no file written)\n",
			       c->name, rname, c->name);
		} else if ((extra = secrets ? fedctl_member_secrets_docs(ctx->fed_namespace, sa)
		                            : NULL),
		           write_file(dir, c->name, role, extra, file, sizeof(file))) {
			printf("member %s: clusterrole %s not updated (%s), and %s/"
			       "fed-member-role-%s.yaml could not be written (%s): run fedctl "
			       "enable again with --member-role-dir DIR\n",
			       c->name, rname, err.msg, dir, c->name, strerror(errno));
		} else {
			printf("member %s: clusterrole %s not updated from here (%s); apply it "
			       "in the member with its admin credentials: kubectl --context <%s> "
			       "apply -f %s\n",
			       c->name, rname, err.msg, c->name, file);
		}
		rc = 1;
		goto out;
	}
	ret = fedctl_call_ref(ctx, m, "GET", &ref, NULL, NULL, 0, &old, &err);
	if (ret == FED_ENOTFOUND || (!ret && is_broad(old))) {
		printf("member %s: clusterrole %s %s: left as it is\n", c->name, rname,
		       ret ? "not found (joined with --rbac full, which binds cluster-admin)"
		           : "grants everything (--rbac full)");
		goto out;
	}
	if (ret) {
		printf("member %s: clusterrole %s not updated: %s\n", c->name, rname, err.msg);
		rc = 1;
		goto out;
	}
	if (dry_run) {
		printf("member %s: clusterrole %s would be applied (dry run)\n", c->name, rname);
		rc = sync_secrets(ctx, m, c->name, rname, sa, secrets, true);
		goto out;
	}
	if ((ret = fedctl_apply_ref(ctx, m, &ref, role, &now, &err))) {
		printf("member %s: clusterrole %s not updated: %s\n", c->name, rname, err.msg);
		rc = 1;
		goto out;
	}
	printf("member %s: clusterrole %s %s\n", c->name, rname,
	       strcmp(fedctl_join_rv(old), fedctl_join_rv(now)) ? "configured" : "unchanged");
	rc = sync_secrets(ctx, m, c->name, rname, sa, secrets, false);
out:
	cJSON_Delete(extra);
	cJSON_Delete(old);
	cJSON_Delete(now);
	fed_kube_client_free(m);
	fed_rest_config_release(&cfg);
	return rc;
}

int fedctl_member_roles_sync(struct fedctl *ctx, struct fed_kube_client *host,
                             const struct fedctl_agent_rule *add,
                             const struct fedctl_agent_rule *drop, const char *dir, bool dry_run,
                             struct fed_error *err)
{
	struct fedctl_agent_rule *t = NULL, *keep = NULL;
	struct fed_federation *fed = NULL;
	cJSON *cm = NULL;
	const struct fed_kube_ref cm_ref = {&fed_r_configmaps, FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP,
	                                    NULL};
	const char *yaml;
	size_t n = 0, k = 0, i;
	int ret, manual = 0;

	if ((ret = fedctl_member_targets(ctx, host, &t, &n, err)))
		goto out;
	/* the new type's rule before its FederatedTypeConfig exists (so the
	 * controller's first write is allowed), the old one's gone */
	if (!(keep = calloc(n + 1, sizeof(*keep)))) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!same_rule(&t[i], drop) && !same_rule(&t[i], add))
			keep[k++] = t[i];
	if (add)
		keep[k++] = *add;
	ret = fedctl_call_ref(ctx, host, "GET", &cm_ref, NULL, NULL, 0, &cm, err);
	if (ret == FED_ENOTFOUND) {
		fed_error_clear(err);
		ret = 0;
		goto out; /* no member joined yet */
	}
	if (ret) {
		fed_error_wrap(err, "host: get configmap %s/%s", FEDCTL_CONFIG_NS,
		               FEDCTL_CONFIGMAP);
		goto out;
	}
	yaml = cJSON_GetStringValue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "data"), "kubefed.yaml"));
	if (!yaml || !*yaml)
		goto out;
	if ((ret = fed_federation_parse(&fed, yaml, strlen(yaml),
	                                "configmap kube-system/kubefed-config kubefed.yaml", err)))
		goto out;
	for (i = 0; i < fed->n; i++) {
		const struct fed_cluster_spec *c = &fed->clusters[i];
		bool agent = c->mode == FED_CLUSTER_AGENT;
		cJSON *role;
		if (!c->name || c->err.code)
			continue;
		role = fedctl_member_role(agent ? FEDCTL_AGENT_NAME : FEDCTL_MEMBER_ROLE,
		                          agent ? FEDCTL_AGENT_NAME : FEDCTL_MEMBER_SA, keep, k);
		manual += sync_one(ctx, c, role, agent ? FEDCTL_AGENT_NAME : FEDCTL_MEMBER_SA,
		                   fedctl_rules_have_secrets(keep, k), dir, dry_run);
		cJSON_Delete(role);
	}
	if (manual)
		printf("%d member(s) keep their old rights until their role is applied there; "
		       "until then the controller is refused on the changed type in them\n",
		       manual);
out:
	free(keep); /* its strings are t's */
	fedctl_member_targets_free(t, n);
	fed_federation_free(fed);
	cJSON_Delete(cm);
	return ret;
}
