/* fedctl join --mode agent, the pure part that renders: the member
 * roles (also enable's and disable's) and agent.yaml. The checks:
 * agent_check.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cluster_connect.h"
#include "fed/base64.h"
#include "fed/buf.h"
#include "fedctl.h"

static cJSON *object(const char *api_version, const char *kind, const char *ns, const char *name)
{
	cJSON *o = cJSON_CreateObject(), *m, *l;

	cJSON_AddStringToObject(o, "apiVersion", api_version);
	cJSON_AddStringToObject(o, "kind", kind);
	m = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(m, "name", name);
	if (ns)
		cJSON_AddStringToObject(m, "namespace", ns);
	l = cJSON_AddObjectToObject(m, "labels");
	cJSON_AddStringToObject(l, "app.kubernetes.io/name", FEDCTL_AGENT_NAME);
	cJSON_AddStringToObject(l, "app.kubernetes.io/managed-by", "fedctl");
	return o;
}

static cJSON *strings(const char *csv)
{
	cJSON *a = cJSON_CreateArray();
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", csv);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		cJSON_AddItemToArray(a, cJSON_CreateString(tok));
	return a;
}

static void rule(cJSON *rules, const char *group, const char *resources, const char *names,
                 const char *verbs)
{
	cJSON *r = cJSON_CreateObject();

	if (group) {
		cJSON *g = *group ? strings(group) : cJSON_CreateArray();
		if (!*group) /* the core group */
			cJSON_AddItemToArray(g, cJSON_CreateString(""));
		cJSON_AddItemToObject(r, "apiGroups", g);
		cJSON_AddItemToObject(r, "resources", strings(resources));
		if (names)
			cJSON_AddItemToObject(r, "resourceNames", strings(names));
	} else {
		cJSON_AddItemToObject(r, "nonResourceURLs", strings(resources));
	}
	cJSON_AddItemToObject(r, "verbs", strings(verbs));
	cJSON_AddItemToArray(rules, r);
}

cJSON *fedctl_rbac_bind(cJSON *b, const char *role_kind, const char *role, const char *sa,
                        const char *sa_ns)
{
	cJSON *ref = cJSON_AddObjectToObject(b, "roleRef"), *s = cJSON_CreateObject();

	cJSON_AddStringToObject(ref, "apiGroup", "rbac.authorization.k8s.io");
	cJSON_AddStringToObject(ref, "kind", role_kind);
	cJSON_AddStringToObject(ref, "name", role);
	cJSON_AddStringToObject(s, "kind", "ServiceAccount");
	cJSON_AddStringToObject(s, "name", sa);
	cJSON_AddStringToObject(s, "namespace", sa_ns);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(b, "subjects"), s);
	return b;
}

static cJSON *binding(const char *kind, const char *ns, const char *name, const char *role_kind,
                      const char *role, const char *sa_ns)
{
	return fedctl_rbac_bind(object("rbac.authorization.k8s.io/v1", kind, ns, name), role_kind,
	                        role, FEDCTL_AGENT_NAME, sa_ns);
}

/* CRD names of the enabled custom types ("plural.group" of a dotted
 * group), comma-joined: the controller applies a custom type's CRD to the
 * member before its objects, and may then only touch those CRDs. */
static char *crd_names(const struct fedctl_agent_rule *rules, size_t n)
{
	struct fed_buf b = FED_BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		if (strchr(rules[i].group, '.'))
			fed_buf_printf(&b, "%s%s.%s", b.len ? "," : "", rules[i].plural,
			               rules[i].group);
	return b.len ? fed_buf_detach(&b) : (fed_buf_release(&b), NULL);
}

static bool is_secrets(const struct fedctl_agent_rule *r)
{
	return !*r->group && !strcmp(r->plural, "secrets");
}

bool fedctl_rules_have_secrets(const struct fedctl_agent_rule *rules, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (is_secrets(&rules[i]))
			return true;
	return false;
}

static void validation(cJSON *list, const char *expr, const char *msg)
{
	cJSON *v = cJSON_CreateObject();

	cJSON_AddStringToObject(v, "expression", expr);
	cJSON_AddStringToObject(v, "message", msg);
	cJSON_AddItemToArray(list, v);
}

cJSON *fedctl_member_secrets_docs(const char *sa_ns, const char *sa_name)
{
	static const char ap[] = "admissionregistration.k8s.io/v1";
	cJSON *docs = cJSON_CreateArray(), *o, *spec, *x, *v;
	char buf[512];

	o = object("rbac.authorization.k8s.io/v1", "ClusterRole", NULL, FEDCTL_SECRETS_ROLE);
	rule(cJSON_AddArrayToObject(o, "rules"), "", "secrets", NULL,
	     "get,list,watch,create,update,patch,delete");
	cJSON_AddItemToArray(docs, o);

	/* RBAC cannot limit create by name, nor a binding's subjects or
	 * namespace: the member SA's RoleBinding writes are held here */
	o = object(ap, "ValidatingAdmissionPolicy", NULL, FEDCTL_SECRETS_ROLE);
	spec = cJSON_AddObjectToObject(o, "spec");
	cJSON_AddStringToObject(spec, "failurePolicy", "Fail");
	x = cJSON_CreateObject();
	cJSON_AddItemToObject(x, "apiGroups", strings("rbac.authorization.k8s.io"));
	cJSON_AddItemToObject(x, "apiVersions", strings("v1"));
	cJSON_AddItemToObject(x, "operations", strings("CREATE,UPDATE"));
	cJSON_AddItemToObject(x, "resources", strings("rolebindings"));
	cJSON_AddItemToArray(
	    cJSON_AddArrayToObject(cJSON_AddObjectToObject(spec, "matchConstraints"),
	                           "resourceRules"),
	    x);
	x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "name", "fed-member-serviceaccount");
	snprintf(buf, sizeof(buf), "request.userInfo.username == 'system:serviceaccount:%s:%s'",
	         sa_ns, sa_name);
	cJSON_AddStringToObject(x, "expression", buf);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "matchConditions"), x);
	v = cJSON_AddArrayToObject(spec, "validations");
	validation(
	    v, "object.metadata.name == '" FEDCTL_SECRETS_ROLE "'",
	    "fed's member ServiceAccount may only write the RoleBinding " FEDCTL_SECRETS_ROLE);
	validation(v,
	           "object.roleRef.apiGroup == 'rbac.authorization.k8s.io' && "
	           "object.roleRef.kind == 'ClusterRole' && object.roleRef.name == "
	           "'" FEDCTL_SECRETS_ROLE "'",
	           "fed's member ServiceAccount may only bind ClusterRole " FEDCTL_SECRETS_ROLE);
	snprintf(buf, sizeof(buf),
	         "has(object.subjects) && size(object.subjects) == 1 && "
	         "object.subjects.all(s, s.kind == 'ServiceAccount' && s.name == '%s' && "
	         "has(s.namespace) && s.namespace == '%s')",
	         sa_name, sa_ns);
	validation(v, buf, "fed's member ServiceAccount may only bind itself");
	validation(v, "!(request.namespace in ['kube-system', 'kube-public', 'kube-node-lease'])",
	           "fed's member ServiceAccount may not bind itself Secrets in kube-system, "
	           "kube-public or kube-node-lease");
	cJSON_AddItemToArray(docs, o);

	o = object(ap, "ValidatingAdmissionPolicyBinding", NULL, FEDCTL_SECRETS_ROLE);
	spec = cJSON_AddObjectToObject(o, "spec");
	cJSON_AddStringToObject(spec, "policyName", FEDCTL_SECRETS_ROLE);
	cJSON_AddItemToObject(spec, "validationActions", strings("Deny"));
	cJSON_AddItemToArray(docs, o);
	return docs;
}

cJSON *fedctl_member_role(const char *name, const char *label_name,
                          const struct fedctl_agent_rule *rules, size_t n)
{
	static const char rw[] = "get,list,watch,create,update,patch,delete";
	cJSON *cr = object("rbac.authorization.k8s.io/v1", "ClusterRole", NULL, name);
	cJSON *r = cJSON_AddArrayToObject(cr, "rules"), *labels;
	char *crds = crd_names(rules, n);
	size_t i;

	labels = cJSON_GetObjectItem(cJSON_GetObjectItem(cr, "metadata"), "labels");
	cJSON_ReplaceItemInObject(labels, "app.kubernetes.io/name", cJSON_CreateString(label_name));
	cJSON_AddStringToObject(labels, FEDCTL_RBAC_LABEL, "minimal");
	/* exactly the enabled types' targets: never "*" (it matches every
	 * subresource too: pods/exec, pods/log, nodes/proxy, services/proxy) */
	for (i = 0; i < n; i++)
		if (*rules[i].plural && !strchr(rules[i].plural, '*') &&
		    !strchr(rules[i].group, '*') && !is_secrets(&rules[i]))
			rule(r, rules[i].group, rules[i].plural, NULL, rw);
	/* Secrets never cluster-wide: the controller binds itself
	 * FEDCTL_SECRETS_ROLE per namespace it manages (one RoleBinding of
	 * that name, which the admission policy of
	 * fedctl_member_secrets_docs holds to exactly that). create cannot
	 * be limited to a name. */
	if (fedctl_rules_have_secrets(rules, n)) {
		rule(r, "rbac.authorization.k8s.io", "clusterroles", FEDCTL_SECRETS_ROLE, "bind");
		rule(r, "rbac.authorization.k8s.io", "rolebindings", NULL, "create");
		rule(r, "rbac.authorization.k8s.io", "rolebindings", FEDCTL_SECRETS_ROLE,
		     "get,update,patch,delete");
	}
	/* the controller's informers list namespaces' objects, the cluster
	 * facts count nodes (read only) */
	rule(r, "", "namespaces,nodes", NULL, "get,list,watch");
	/* create cannot be limited to a name (there is none yet when it is
	 * authorized); everything else only on the enabled types' CRDs */
	if (crds) {
		rule(r, "apiextensions.k8s.io", "customresourcedefinitions", NULL, "create");
		rule(r, "apiextensions.k8s.io", "customresourcedefinitions", crds,
		     "get,update,patch");
	}
	rule(r, NULL, "/healthz,/readyz,/livez,/version", NULL, "get");
	free(crds);
	return cr;
}

static void add_b64(cJSON *data, const char *key, const char *v, size_t len)
{
	char *e = fed_base64_encode_str(v, len);

	cJSON_AddItemToObject(data, key, cJSON_CreateString(e ? e : ""));
	free(e);
}

static void env(cJSON *list, const char *name, const char *value)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "name", name);
	cJSON_AddStringToObject(e, "value", value);
	cJSON_AddItemToArray(list, e);
}

/* The agent container: its flags, proxy environment, the Secret's files,
 * and a locked-down security context. */
static cJSON *container(const struct fedctl_agent_spec *s)
{
	cJSON *c = cJSON_CreateObject(), *args, *ev, *x, *v;
	char buf[512];

	cJSON_AddStringToObject(c, "name", FEDCTL_AGENT_NAME);
	cJSON_AddStringToObject(c, "image", s->image);
	/* fed's one image holds all three binaries: name the agent's */
	cJSON_AddItemToObject(c, "command", strings(FEDCTL_AGENT_COMMAND));
	args = cJSON_AddArrayToObject(c, "args");
#define ARG(...)                                                                                   \
	do {                                                                                       \
		snprintf(buf, sizeof(buf), __VA_ARGS__);                                           \
		cJSON_AddItemToArray(args, cJSON_CreateString(buf));                               \
	} while (0)
	ARG("--host-address=%s", s->host_address);
	ARG("--host-ca-file=" FEDCTL_AGENT_DIR "/ca.crt");
	if (s->server_name)
		ARG("--host-server-name=%s", s->server_name);
	ARG("--bootstrap-token-file=" FEDCTL_AGENT_DIR "/token");
	ARG("--credential-secret=" FEDCTL_AGENT_CREDENTIAL);
	if (s->proxy_ca_pem)
		ARG("--proxy-ca-file=" FEDCTL_AGENT_DIR "/proxy-ca.crt");
#undef ARG
	ev = cJSON_AddArrayToObject(c, "env");
	x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "name", "POD_NAMESPACE");
	cJSON_AddStringToObject(
	    cJSON_AddObjectToObject(cJSON_AddObjectToObject(x, "valueFrom"), "fieldRef"),
	    "fieldPath", "metadata.namespace");
	cJSON_AddItemToArray(ev, x);
	if (s->proxy_https) {
		/* the URL may hold user:password: from the Secret, never a
		 * plain value in the Deployment */
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "name", "HTTPS_PROXY");
		v = cJSON_AddObjectToObject(cJSON_AddObjectToObject(x, "valueFrom"),
		                            "secretKeyRef");
		cJSON_AddStringToObject(v, "name", FEDCTL_AGENT_NAME);
		cJSON_AddStringToObject(v, "key", FEDCTL_AGENT_PROXY_KEY);
		cJSON_AddItemToArray(ev, x);
	}
	if (s->no_proxy)
		env(ev, "NO_PROXY", s->no_proxy);
	x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "name", FEDCTL_AGENT_NAME);
	cJSON_AddStringToObject(x, "mountPath", FEDCTL_AGENT_DIR);
	cJSON_AddBoolToObject(x, "readOnly", 1);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(c, "volumeMounts"), x);
	x = cJSON_AddObjectToObject(c, "resources");
	v = cJSON_AddObjectToObject(x, "requests");
	cJSON_AddStringToObject(v, "cpu", "10m");
	cJSON_AddStringToObject(v, "memory", "16Mi");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(x, "limits"), "memory", "128Mi");
	x = cJSON_AddObjectToObject(c, "securityContext");
	cJSON_AddBoolToObject(x, "allowPrivilegeEscalation", 0);
	cJSON_AddBoolToObject(x, "readOnlyRootFilesystem", 1);
	cJSON_AddItemToObject(cJSON_AddObjectToObject(x, "capabilities"), "drop", strings("ALL"));
	return c;
}

static cJSON *deployment(const struct fedctl_agent_spec *s)
{
	cJSON *d = object("apps/v1", "Deployment", s->ns, FEDCTL_AGENT_NAME);
	cJSON *spec = cJSON_AddObjectToObject(d, "spec"), *tpl, *ps, *x, *sc, *v;

	cJSON_AddNumberToObject(spec, "replicas", 1);
	/* one agent at a time while the single-use token is exchanged */
	cJSON_AddStringToObject(cJSON_AddObjectToObject(spec, "strategy"), "type", "Recreate");
	cJSON_AddStringToObject(
	    cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "selector"), "matchLabels"),
	    "app.kubernetes.io/name", FEDCTL_AGENT_NAME);
	tpl = cJSON_AddObjectToObject(spec, "template");
	cJSON_AddStringToObject(
	    cJSON_AddObjectToObject(cJSON_AddObjectToObject(tpl, "metadata"), "labels"),
	    "app.kubernetes.io/name", FEDCTL_AGENT_NAME);
	ps = cJSON_AddObjectToObject(tpl, "spec");
	cJSON_AddStringToObject(ps, "serviceAccountName", FEDCTL_AGENT_NAME);
	sc = cJSON_AddObjectToObject(ps, "securityContext");
	cJSON_AddBoolToObject(sc, "runAsNonRoot", 1);
	cJSON_AddNumberToObject(sc, "runAsUser", 65532);
	cJSON_AddNumberToObject(sc, "runAsGroup", 65532);
	cJSON_AddNumberToObject(sc, "fsGroup", 65532); /* the Secret's files are readable */
	cJSON_AddStringToObject(cJSON_AddObjectToObject(sc, "seccompProfile"), "type",
	                        "RuntimeDefault");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(ps, "containers"), container(s));
	x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "name", FEDCTL_AGENT_NAME);
	v = cJSON_AddObjectToObject(x, "secret");
	cJSON_AddStringToObject(v, "secretName", FEDCTL_AGENT_NAME);
	cJSON_AddNumberToObject(v, "defaultMode", 0440);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(ps, "volumes"), x);
	return d;
}

int fedctl_agent_render(const struct fedctl_agent_spec *s, char **out, struct fed_error *err)
{
	struct fed_buf b = FED_BUF_INIT;
	cJSON *docs = cJSON_CreateArray(), *o, *r, *data;
	int ret = 0;

	*out = NULL;
	cJSON_AddItemToArray(docs, object("v1", "Namespace", NULL, s->ns));
	cJSON_AddItemToArray(docs, object("v1", "ServiceAccount", s->ns, FEDCTL_AGENT_NAME));
	if (s->minimal) {
		cJSON_AddItemToArray(docs, fedctl_member_role(FEDCTL_AGENT_NAME, FEDCTL_AGENT_NAME,
		                                              s->rules, s->n_rules));
		cJSON_AddItemToArray(docs, binding("ClusterRoleBinding", NULL, FEDCTL_AGENT_NAME,
		                                   "ClusterRole", FEDCTL_AGENT_NAME, s->ns));
		if (fedctl_rules_have_secrets(s->rules, s->n_rules)) {
			cJSON *x = fedctl_member_secrets_docs(s->ns, FEDCTL_AGENT_NAME);
			while (cJSON_GetArraySize(x))
				cJSON_AddItemToArray(docs, cJSON_DetachItemFromArray(x, 0));
			cJSON_Delete(x);
		}
	} else {
		cJSON_AddItemToArray(docs, binding("ClusterRoleBinding", NULL, FEDCTL_AGENT_NAME,
		                                   "ClusterRole", "cluster-admin", s->ns));
	}
	if (s->cluster_connect) {
		cJSON_AddItemToArray(docs, fedctl_connect_role(FEDCTL_AGENT_NAME));
		cJSON_AddItemToArray(
		    docs, fedctl_connect_binding(FEDCTL_AGENT_NAME, FEDCTL_AGENT_NAME, s->ns));
	}
	/* create cannot be limited to a name (the object has none yet when
	 * it is authorized); the rest is limited to the credential's Secret */
	o = object("rbac.authorization.k8s.io/v1", "Role", s->ns, FEDCTL_AGENT_CREDENTIAL);
	r = cJSON_AddArrayToObject(o, "rules");
	rule(r, "", "secrets", FEDCTL_AGENT_CREDENTIAL, "get,update,patch");
	rule(r, "", "secrets", NULL, "create");
	cJSON_AddItemToArray(docs, o);
	cJSON_AddItemToArray(docs, binding("RoleBinding", s->ns, FEDCTL_AGENT_CREDENTIAL, "Role",
	                                   FEDCTL_AGENT_CREDENTIAL, s->ns));
	o = object("v1", "Secret", s->ns, FEDCTL_AGENT_NAME);
	cJSON_AddStringToObject(o, "type", "Opaque");
	data = cJSON_AddObjectToObject(o, "data");
	add_b64(data, "token", s->token, strlen(s->token));
	add_b64(data, "ca.crt", s->ca_pem, s->ca_len);
	if (s->proxy_ca_pem)
		add_b64(data, "proxy-ca.crt", s->proxy_ca_pem, s->proxy_ca_len);
	if (s->proxy_https)
		add_b64(data, FEDCTL_AGENT_PROXY_KEY, s->proxy_https, strlen(s->proxy_https));
	cJSON_AddItemToArray(docs, o);
	cJSON_AddItemToArray(docs, deployment(s));

	ret |= fed_buf_printf(&b,
	                      "# fed-agent for cluster %s of the federation: apply it in that "
	                      "cluster\n# (kubectl --context <member> create -f agent.yaml).\n"
	                      "# It holds a one-time bootstrap token: keep it private, and "
	                      "delete it once applied.\n",
	                      s->cluster) < 0;
	cJSON_ArrayForEach(o, docs) {
		ret |= fed_buf_puts(&b, "---\n");
		ret |= fedctl_yaml(&b, o);
	}
	cJSON_Delete(docs);
	if (ret) {
		fed_buf_release(&b);
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	}
	*out = fed_buf_detach(&b);
	return 0;
}
