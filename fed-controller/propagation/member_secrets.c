/* Secrets in members, only in the namespaces fed manages (issue 13). The
 * member's ServiceAccount has no Secrets rights of its own (fedctl's role
 * builder): per namespace holding a federated object of the type, the
 * controller first binds that SA the ClusterRole fed-member-secrets there
 * (RoleBinding fed-member-secrets, held to exactly that by fedctl's
 * admission policy), then watches the namespace. Until a namespace's
 * informers have listed, its objects read as not synced: nothing is
 * written there before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/log.h"
#include "propagate.h"

#define SECRETS_ROLE "fed-member-secrets"
#define SA_PREFIX    "system:serviceaccount:"

struct nsinf {
	struct minf *mi;
	char *ns;
	struct fed_informer *inf, *uinf;
	struct fed_kube_call *call; /* the RoleBinding apply */
	bool waiting;               /* the namespace is not there yet */
	/* the member said the namespace is not there (NotFound): nothing of
	 * the type can be in it, which the plan reads as listed for objects
	 * not placed there (a record left by a copy that went with it) */
	bool absent;
	bool warned;    /* forbidden, said once */
	int checks;     /* access reviews after the bind, 0: binding */
	ev_timer retry; /* the bind again: a namespace seen late, a 5xx */
};

#define RETRY_S 5.
/* the authorizer learns of a new RoleBinding from its own cache, a moment
 * after the apply returns: ask it this often, this many times, before the
 * informers' first list (which it would refuse meanwhile) */
#define CHECK_S     0.1
#define CHECK_TIMES 50

static const struct fed_kube_resource r_rb = {"rbac.authorization.k8s.io", "v1", "rolebindings",
                                              true};
static const struct fed_kube_resource r_ssr = {"authentication.k8s.io", "v1", "selfsubjectreviews",
                                               false};
static const struct fed_kube_resource r_ssar = {"authorization.k8s.io", "v1",
                                                "selfsubjectaccessreviews", false};

static void nsinf_free(void *p)
{
	struct nsinf *n = p;

	if (!n)
		return;
	if (n->mi)
		ev_timer_stop(n->mi->t->ctl->loop, &n->retry);
	fed_kube_call_cancel(n->call);
	fed_informer_free(n->inf);
	fed_informer_free(n->uinf);
	free(n->ns);
	free(n);
}

static void retry_later(struct nsinf *n);

static void watch_ns(struct nsinf *n)
{
	/* not listed by the next look: bind again, which tells a namespace
	 * gone (NotFound) from a binding not yet in force or one refused
	 * while the namespace is being deleted (403) */
	retry_later(n);
	if (n->inf || minf_informers(n->mi, n->ns, &n->inf, &n->uinf))
		return;
	FED_LOG_DEBUG(n->mi->cluster, "watching %s in namespace %s", n->mi->t->cfg.name, n->ns);
	fed_informer_start(n->inf);
	fed_informer_start(n->uinf);
}

static void bind_ns(struct nsinf *n);
static void check_access(struct nsinf *n);

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct nsinf *n = w->data;

	if (!n->checks && n->inf && fed_informer_synced(n->inf))
		return; /* listed: no need to bind again */
	if (n->call) {
		retry_later(n); /* busy: look again later */
		return;
	}
	if (n->checks)
		check_access(n);
	else
		bind_ns(n);
}

static void access_checked(struct fed_kube_response *resp, void *ud)
{
	struct nsinf *n = ud;
	const cJSON *st = cJSON_GetObjectItem(resp->json, "status");

	n->call = NULL;
	if ((!resp->err.code && cJSON_IsTrue(cJSON_GetObjectItem(st, "allowed"))) ||
	    n->checks >= CHECK_TIMES) {
		n->checks = 0;
		watch_ns(n); /* allowed; or not yet after 5 s: the informer says why */
		return;
	}
	if (n->checks == 1)
		FED_LOG_DEBUG(n->mi->cluster,
		              "namespace %s: RoleBinding " SECRETS_ROLE " applied, the authorizer "
		              "does not allow listing Secrets yet: asking again",
		              n->ns);
	n->checks++;
	ev_timer_stop(n->mi->t->ctl->loop, &n->retry);
	ev_timer_set(&n->retry, CHECK_S, 0.);
	ev_timer_start(n->mi->t->ctl->loop, &n->retry);
}

/* May we list Secrets in n's namespace yet (SelfSubjectAccessReview,
 * which every authenticated user may create)? */
static void check_access(struct nsinf *n)
{
	struct fed_kube_ref ref = {&r_ssar, NULL, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *o = cJSON_CreateObject(), *ra;

	if (!n->checks)
		n->checks = 1;
	cJSON_AddStringToObject(o, "apiVersion", "authorization.k8s.io/v1");
	cJSON_AddStringToObject(o, "kind", "SelfSubjectAccessReview");
	ra = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "spec"), "resourceAttributes");
	cJSON_AddStringToObject(ra, "namespace", n->ns);
	cJSON_AddStringToObject(ra, "verb", "list");
	cJSON_AddStringToObject(ra, "resource", "secrets");
	if (!ra ||
	    fed_kube_create(n->mi->client, &ref, o, NULL, access_checked, n, &n->call, &err)) {
		n->checks = 0;
		watch_ns(n);
	}
	cJSON_Delete(o);
}

static void retry_later(struct nsinf *n)
{
	ev_timer_stop(n->mi->t->ctl->loop, &n->retry);
	ev_timer_set(&n->retry, RETRY_S, 0.);
	ev_timer_start(n->mi->t->ctl->loop, &n->retry);
}

static void rb_applied(struct fed_kube_response *resp, void *ud)
{
	struct nsinf *n = ud;
	int code = resp->err.code;

	n->call = NULL;
	n->waiting = false;
	if (code == FED_ENOTFOUND) {
		/* FederatedNamespace creates it: bound when it arrives (or at
		 * the next retry, should its event have come first) */
		n->waiting = true;
		if (!n->absent) {
			n->absent = true;
			/* informers of a namespace that went are of no use:
			 * new ones list when it comes back */
			fed_informer_free(n->inf);
			fed_informer_free(n->uinf);
			n->inf = n->uinf = NULL;
			ftype_enqueue_namespace(n->mi->t, n->ns);
		}
		retry_later(n);
		return;
	}
	if (code != FED_EUNAVAILABLE && code != FED_ETIMEOUT)
		n->absent = false; /* it is there (a 403: being deleted) */
	if (code == FED_EUNAVAILABLE || code == FED_ETIMEOUT || code == FED_ECONFLICT) {
		FED_LOG_WARN(n->mi->cluster,
		             "namespace %s: applying RoleBinding " SECRETS_ROLE ": %s (retrying)",
		             n->ns, resp->err.msg); /* watch_ns arms the retry */
	} else if (code && !n->warned) {
		/* forbidden by RBAC (an older member role) or by the member's
		 * policy (kube-system): said once */
		FED_LOG_WARN(n->mi->cluster,
		             "namespace %s: may not bind itself ClusterRole " SECRETS_ROLE
		             " there (%s); if the member's role predates per-namespace Secrets, "
		             "run fedctl join %s again to update it",
		             n->ns, resp->err.msg, n->mi->cluster);
		n->warned = true;
	}
	/* bound: once the authorizer knows it; or try anyway (an --rbac
	 * full member needs no binding) */
	if (!code)
		check_access(n);
	else
		watch_ns(n);
}

static void bind_ns(struct nsinf *n)
{
	struct fed_kube_ref ref = {&r_rb, n->ns, SECRETS_ROLE, NULL};
	struct fed_kube_write_opts wo = {FED_MANAGER, true, false};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *rb = cJSON_CreateObject(), *m, *ref_o, *s;
	char *body;

	cJSON_AddStringToObject(rb, "apiVersion", "rbac.authorization.k8s.io/v1");
	cJSON_AddStringToObject(rb, "kind", "RoleBinding");
	m = cJSON_AddObjectToObject(rb, "metadata");
	cJSON_AddStringToObject(m, "name", SECRETS_ROLE);
	cJSON_AddStringToObject(m, "namespace", n->ns);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(m, "labels"),
	                        "app.kubernetes.io/managed-by", FED_MANAGER);
	ref_o = cJSON_AddObjectToObject(rb, "roleRef");
	cJSON_AddStringToObject(ref_o, "apiGroup", "rbac.authorization.k8s.io");
	cJSON_AddStringToObject(ref_o, "kind", "ClusterRole");
	cJSON_AddStringToObject(ref_o, "name", SECRETS_ROLE);
	s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "kind", "ServiceAccount");
	cJSON_AddStringToObject(s, "name", n->mi->sa_name);
	cJSON_AddStringToObject(s, "namespace", n->mi->sa_ns);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(rb, "subjects"), s);
	body = cJSON_PrintUnformatted(rb);
	cJSON_Delete(rb);
	if (!body || fed_kube_patch(n->mi->client, &ref, FED_PATCH_APPLY, body, &wo, rb_applied, n,
	                            &n->call, &err)) {
		FED_LOG_WARN(n->mi->cluster,
		             "namespace %s: applying RoleBinding " SECRETS_ROLE ": %s", n->ns,
		             body ? err.msg : "out of memory");
		watch_ns(n);
	}
	free(body);
}

void msec_ensure(struct minf *mi, const char *ns)
{
	struct nsinf *n;

	if (!mi || !ns || !mi->whoami_done || fed_map_get(&mi->ns, ns))
		return;
	if ((n = calloc(1, sizeof(*n)))) {
		n->mi = mi;
		ev_timer_init(&n->retry, retry_cb, RETRY_S, 0.);
		n->retry.data = n;
	}
	if (!n || !(n->ns = strdup(ns)) || fed_map_put(&mi->ns, ns, n, NULL)) {
		FED_LOG_ERR(mi->cluster, "out of memory");
		nsinf_free(n);
		return;
	}
	if (mi->sa_name)
		bind_ns(n);
	else
		watch_ns(n); /* not a ServiceAccount: its rights are its own */
}

void msec_namespace_arrived(struct minf *mi, const char *ns)
{
	struct nsinf *n = mi && ns ? fed_map_get(&mi->ns, ns) : NULL;

	if (n && n->waiting && !n->call) {
		ev_timer_stop(mi->t->ctl->loop, &n->retry);
		n->absent = false; /* not listed yet: the plan waits again */
		bind_ns(n);
	}
}

static void ensure_all(struct minf *mi)
{
	const struct fed_map *store = fed_informer_store(mi->t->fed_inf);
	struct fed_map_iter it;
	struct fed_map_entry *e;
	char ns[256];

	for (e = fed_map_first(store, &it); e; e = fed_map_next(store, &it)) {
		const char *slash = strchr(e->key, '/');
		if (slash && (size_t)(slash - e->key) < sizeof(ns)) {
			snprintf(ns, sizeof(ns), "%.*s", (int)(slash - e->key), e->key);
			msec_ensure(mi, ns);
		}
	}
}

static void whoami(struct fed_kube_response *resp, void *ud)
{
	struct minf *mi = ud;
	const char *u = NULL, *colon;

	mi->whoami = NULL;
	if (resp->err.code)
		FED_LOG_WARN(mi->cluster,
		             "SelfSubjectReview: %s (Secrets are watched without binding "
		             "ClusterRole " SECRETS_ROLE ")",
		             resp->err.msg);
	else
		u = fed_obj_str(resp->json, "status.userInfo.username");
	if (u && !strncmp(u, SA_PREFIX, strlen(SA_PREFIX)) &&
	    (colon = strchr(u + strlen(SA_PREFIX), ':'))) {
		mi->sa_ns = strndup(u + strlen(SA_PREFIX), (size_t)(colon - u - strlen(SA_PREFIX)));
		mi->sa_name = strdup(colon + 1);
		if (!mi->sa_ns || !mi->sa_name) {
			free(mi->sa_ns);
			free(mi->sa_name);
			mi->sa_ns = mi->sa_name = NULL;
		}
	}
	mi->whoami_done = true;
	ensure_all(mi);
}

void msec_start(struct minf *mi)
{
	struct fed_kube_ref ref = {&r_ssr, NULL, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *o = cJSON_CreateObject();

	fed_map_init(&mi->ns);
	cJSON_AddStringToObject(o, "apiVersion", "authentication.k8s.io/v1");
	cJSON_AddStringToObject(o, "kind", "SelfSubjectReview");
	if (fed_kube_create(mi->client, &ref, o, NULL, whoami, mi, &mi->whoami, &err)) {
		FED_LOG_WARN(mi->cluster, "SelfSubjectReview: %s", err.msg);
		mi->whoami_done = true;
		ensure_all(mi);
	}
	cJSON_Delete(o);
}

void msec_free(struct minf *mi)
{
	fed_kube_call_cancel(mi->whoami);
	fed_map_release(&mi->ns, nsinf_free);
	free(mi->sa_ns);
	free(mi->sa_name);
}

/* The parts of key's namespace ("ns/name"), NULL when none. */
static struct nsinf *nsinf_of(struct minf *mi, const char *key)
{
	const char *slash = key ? strchr(key, '/') : NULL;
	char ns[256];

	if (!mi || !slash || (size_t)(slash - key) >= sizeof(ns))
		return NULL;
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
	return fed_map_get(&mi->ns, ns);
}

struct fed_informer *msec_informer(struct minf *mi, const char *key, bool unmanaged)
{
	struct nsinf *n = nsinf_of(mi, key);

	return !n ? NULL : unmanaged ? n->uinf : n->inf;
}

bool msec_absent(struct minf *mi, const char *key)
{
	struct nsinf *n = nsinf_of(mi, key);

	return n && n->absent;
}

void msec_retry_now(struct minf *mi)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;

	if (!mi)
		return;
	for (e = fed_map_first(&mi->ns, &it); e; e = fed_map_next(&mi->ns, &it)) {
		struct nsinf *n = e->value;
		fed_informer_retry_now(n->inf);
		fed_informer_retry_now(n->uinf);
	}
}
