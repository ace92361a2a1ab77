/* The kube client against a real kube-apiserver (member1 of the fixture):
 * CRUD with preconditions, every patch type, status subresource, paging
 * over more than 500 objects, watches ending in 410, HTTP/2, rate limits,
 * and discovery of built-in and custom types. */
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "fed/discovery.h"
#include "fed/map.h"

static struct ev_loop *loop;
static struct fed_kube_client *cl;
static char ns[64];

static const struct fed_kube_resource r_ns = {"", "v1", "namespaces", false};
static const struct fed_kube_resource r_cm = {"", "v1", "configmaps", true};
static const struct fed_kube_resource r_deploy = {"apps", "v1", "deployments", true};
static const struct fed_kube_resource r_crd = {"apiextensions.k8s.io", "v1",
                                               "customresourcedefinitions", false};

static cJSON *parse(const char *s)
{
	return cJSON_Parse(s);
}

static int create(const struct fed_kube_resource *r, const char *namespace, const char *json,
                  struct e2e_result *res)
{
	struct fed_kube_ref ref = {r, namespace, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *obj = parse(json);
	int ret;

	memset(res, 0, sizeof(*res));
	ret = fed_kube_create(cl, &ref, obj, NULL, e2e_cb, res, NULL, &err);
	cJSON_Delete(obj);
	if (ret)
		return ret;
	return e2e_wait(loop, res);
}

static int get(const struct fed_kube_resource *r, const char *namespace, const char *name,
               struct e2e_result *res)
{
	struct fed_kube_ref ref = {r, namespace, name, NULL};
	struct fed_error err = FED_ERROR_INIT;

	memset(res, 0, sizeof(*res));
	if (fed_kube_get(cl, &ref, e2e_cb, res, NULL, &err))
		return err.code;
	return e2e_wait(loop, res);
}

static void test_namespace(void)
{
	struct e2e_result r;
	char body[256];

	snprintf(ns, sizeof(ns), "e2e-client-%d", (int)getpid());
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
	         ns);
	CHECK_INT(create(&r_ns, NULL, body, &r), 0);
	CHECK_INT(r.status, 201);
	CHECK_STR(fed_obj_name(r.json), ns);
	e2e_result_release(&r);
	/* the same again: AlreadyExists with the server's message kept */
	CHECK_INT(create(&r_ns, NULL, body, &r), FED_EEXISTS);
	CHECK_INT(r.err.http_status, 409);
	CHECK_STR(r.err.reason, "AlreadyExists");
	CHECK_HAS(r.err.msg, "already exists");
	e2e_result_release(&r);
}

static void test_crud(void)
{
	struct fed_kube_ref ref = {&r_cm, ns, "crud", NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_delete_opts dopts = FED_KUBE_DELETE_OPTS_INIT;
	struct fed_kube_write_opts apply = {"e2e-apply", true, false};
	struct e2e_result r;
	cJSON *obj, *stale;
	char *uid = NULL;

	CHECK_INT(create(&r_cm, ns,
	                 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
	                 "\"metadata\":{\"name\":\"crud\"},\"data\":{\"a\":\"1\"}}",
	                 &r),
	          0);
	e2e_result_release(&r);

	CHECK_INT(get(&r_cm, ns, "crud", &r), 0);
	CHECK_STR(fed_obj_str(r.json, "data.a"), "1");
	stale = cJSON_Duplicate(r.json, 1);
	obj = r.json;
	r.json = NULL;
	e2e_result_release(&r);

	/* update */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(obj, "data"), "a", cJSON_CreateString("2"));
	memset(&r, 0, sizeof(r));
	CHECK_INT(fed_kube_update(cl, &ref, obj, NULL, e2e_cb, &r, NULL, &err), 0);
	CHECK_INT(e2e_wait(loop, &r), 0);
	CHECK_STR(fed_obj_str(r.json, "data.a"), "2");
	e2e_result_release(&r);
	cJSON_Delete(obj);

	/* update from a stale resourceVersion: Conflict */
	memset(&r, 0, sizeof(r));
	CHECK_INT(fed_kube_update(cl, &ref, stale, NULL, e2e_cb, &r, NULL, &err), 0);
	CHECK_INT(e2e_wait(loop, &r), FED_ECONFLICT);
	CHECK_INT(r.err.http_status, 409);
	e2e_result_release(&r);
	cJSON_Delete(stale);

	/* merge patch, JSON patch, strategic merge patch, server-side apply */
	memset(&r, 0, sizeof(r));
	CHECK_INT(fed_kube_patch(cl, &ref, FED_PATCH_MERGE, "{\"data\":{\"b\":\"merge\"}}", NULL,
	                         e2e_cb, &r, NULL, &err),
	          0);
	CHECK_INT(e2e_wait(loop, &r), 0);
	CHECK_STR(fed_obj_str(r.json, "data.b"), "merge");
	e2e_result_release(&r);
	CHECK_INT(fed_kube_patch(cl, &ref, FED_PATCH_JSON,
	                         "[{\"op\":\"replace\",\"path\":\"/data/b\",\"value\":\"json\"}]",
	                         NULL, e2e_cb, &r, NULL, &err),
	          0);
	CHECK_INT(e2e_wait(loop, &r), 0);
	CHECK_STR(fed_obj_str(r.json, "data.b"), "json");
	e2e_result_release(&r);
	CHECK_INT(fed_kube_patch(cl, &ref, FED_PATCH_STRATEGIC, "{\"data\":{\"c\":\"smp\"}}", NULL,
	                         e2e_cb, &r, NULL, &err),
	          0);
	CHECK_INT(e2e_wait(loop, &r), 0);
	CHECK_STR(fed_obj_str(r.json, "data.c"), "smp");
	e2e_result_release(&r);
	CHECK_INT(
	    fed_kube_patch(cl, &ref, FED_PATCH_APPLY,
	                   "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	                   "\"crud\"},\"data\":{\"d\":\"applied\"}}",
	                   &apply, e2e_cb, &r, NULL, &err),
	    0);
	CHECK_INT(e2e_wait(loop, &r), 0);
	CHECK_STR(fed_obj_str(r.json, "data.d"), "applied");
	CHECK_STR(fed_obj_str(r.json, "data.a"), "2"); /* apply kept other owners' fields */
	uid = strdup(fed_obj_str(r.json, "metadata.uid"));
	e2e_result_release(&r);
	/* an invalid JSON patch path: Invalid with the server's message */
	CHECK_INT(fed_kube_patch(cl, &ref, FED_PATCH_JSON,
	                         "[{\"op\":\"replace\",\"path\":\"/nope/x\",\"value\":1}]", NULL,
	                         e2e_cb, &r, NULL, &err),
	          0);
	CHECK(e2e_wait(loop, &r) != 0);
	CHECK(r.err.http_status == 422 || r.err.http_status == 400 || r.err.http_status == 500);
	e2e_result_release(&r);

	/* delete with a wrong UID precondition: Conflict, object stays */
	dopts.precondition_uid = "00000000-0000-0000-0000-000000000000";
	CHECK_INT(fed_kube_delete(cl, &ref, &dopts, e2e_cb, &r, NULL, &err), 0);
	CHECK_INT(e2e_wait(loop, &r), FED_ECONFLICT);
	e2e_result_release(&r);
	CHECK_INT(get(&r_cm, ns, "crud", &r), 0);
	e2e_result_release(&r);
	/* with the right UID and Foreground propagation: without a garbage
	 * collector on this cluster the object waits on its finalizer, which
	 * shows the policy reached the server */
	dopts.precondition_uid = uid;
	dopts.propagation_policy = "Foreground";
	CHECK_INT(fed_kube_delete(cl, &ref, &dopts, e2e_cb, &r, NULL, &err), 0);
	CHECK_INT(e2e_wait(loop, &r), 0);
	e2e_result_release(&r);
	free(uid);
	CHECK_INT(get(&r_cm, ns, "crud", &r), 0);
	CHECK(fed_obj_str(r.json, "metadata.deletionTimestamp") != NULL);
	CHECK_STR(cJSON_GetArrayItem(
	              cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "metadata"), "finalizers"), 0)
	              ->valuestring,
	          "foregroundDeletion");
	e2e_result_release(&r);
	CHECK_INT(fed_kube_patch(cl, &ref, FED_PATCH_MERGE, "{\"metadata\":{\"finalizers\":null}}",
	                         NULL, e2e_cb, &r, NULL, &err),
	          0);
	CHECK_INT(e2e_wait(loop, &r), 0);
	e2e_result_release(&r);
	CHECK_INT(get(&r_cm, ns, "crud", &r), FED_ENOTFOUND);
	CHECK_INT(r.err.http_status, 404);
	CHECK_HAS(r.err.msg, "not found");
	e2e_result_release(&r);
}

static void test_status_subresource(void)
{
	struct fed_kube_ref ref = {&r_deploy, ns, "web", "status"};
	struct fed_error err = FED_ERROR_INIT;
	struct e2e_result r;

	CHECK_INT(
	    create(&r_deploy, ns,
	           "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
	           "\"web\"},\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":"
	           "\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":"
	           "{\"containers\":[{\"name\":\"c\",\"image\":\"pause\"}]}}}}",
	           &r),
	    0);
	e2e_result_release(&r);
	/* a status write changes status only; a spec change in it is ignored */
	CHECK_INT(fed_kube_patch(cl, &ref, FED_PATCH_MERGE,
	                         "{\"spec\":{\"replicas\":7},\"status\":{\"replicas\":3,"
	                         "\"readyReplicas\":2,\"availableReplicas\":2}}",
	                         NULL, e2e_cb, &r, NULL, &err),
	          0);
	CHECK_INT(e2e_wait(loop, &r), 0);
	e2e_result_release(&r);
	CHECK_INT(get(&r_deploy, ns, "web", &r), 0);
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "status"), "availableReplicas")
	              ->valueint,
	          2);
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "spec"), "replicas")->valueint,
	          3);
	e2e_result_release(&r);
}

struct bulk {
	int pending, failed;
};

static void bulk_cb(struct fed_kube_response *resp, void *ud)
{
	struct bulk *b = ud;

	b->pending--;
	if (resp->err.code) {
		b->failed++;
		fprintf(stderr, "  %s\n", resp->err.msg);
	}
}

static bool bulk_done(struct bulk *b, bool *flag)
{
	*flag = b->pending == 0;
	return *flag;
}

struct list_result {
	bool done;
	cJSON *list;
	struct fed_error err;
};

static void list_cb(cJSON *list, const struct fed_error *err, void *ud)
{
	struct list_result *l = ud;

	l->done = true;
	l->list = list;
	if (err)
		l->err = *err;
}

static void test_paging(void)
{
	struct fed_kube_ref ref = {&r_cm, ns, NULL, NULL};
	struct fed_kube_list_opts o;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_client_stats before, after;
	struct bulk b = {0, 0};
	struct list_result l;
	struct fed_map names = FED_MAP_INIT;
	const cJSON *it;
	bool flag = false;
	double t0;
	int i, n = 0;

	t0 = e2e_now();
	for (i = 0; i < 620; i++) {
		char body[256];
		cJSON *obj;
		snprintf(body, sizeof(body),
		         "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
		         "{\"name\":\"page-%03d\",\"labels\":{\"set\":\"paging\"}},\"data\":{\"i\":"
		         "\"%d\"}}",
		         i, i);
		obj = parse(body);
		CHECK_INT(fed_kube_create(cl, &ref, obj, NULL, bulk_cb, &b, NULL, &err), 0);
		cJSON_Delete(obj);
		b.pending++;
	}
	while (!bulk_done(&b, &flag))
		fed_kube_wait(loop, &flag, 0.05);
	CHECK_INT(b.failed, 0);
	fprintf(stderr, "  created 620 configmaps in %.2fs\n", e2e_now() - t0);

	fed_kube_client_stats(cl, &before);
	memset(&o, 0, sizeof(o));
	o.label_selector = "set=paging";
	o.limit = 100;
	memset(&l, 0, sizeof(l));
	CHECK_INT(fed_kube_list_all(cl, &ref, &o, list_cb, &l, NULL, &err), 0);
	CHECK_INT(fed_kube_wait(loop, &l.done, 60), 0);
	CHECK_INT(l.err.code, 0);
	fed_kube_client_stats(cl, &after);
	/* 620 objects at 100 a page: 7 requests */
	CHECK_INT(after.requests - before.requests, 7);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(l.list, "items")) {
		CHECK(fed_map_get(&names, fed_obj_name(it)) == NULL); /* no duplicates */
		fed_map_put(&names, fed_obj_name(it), (void *)1, NULL);
		n++;
	}
	CHECK_INT(n, 620);
	CHECK(fed_obj_resource_version(l.list) != NULL);
	fed_map_release(&names, NULL);
	cJSON_Delete(l.list);
}

struct watch_result {
	bool done;
	int events;
	int bookmarks;
	struct fed_error err;
};

static void w_event(enum fed_watch_type t, cJSON *obj, void *ud)
{
	if (t == FED_WATCH_BOOKMARK)
		((struct watch_result *)ud)->bookmarks++;
	else
		((struct watch_result *)ud)->events++;
}

static void w_done(const struct fed_error *err, void *ud)
{
	struct watch_result *w = ud;

	w->done = true;
	w->err = *err;
}

static void test_watch_events_and_cancel(void)
{
	struct fed_kube_ref ref = {&r_cm, ns, NULL, NULL};
	struct fed_kube_list_opts o;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_watch *w;
	struct watch_result wr;
	struct e2e_result r;
	bool never = false;

	memset(&o, 0, sizeof(o));
	memset(&wr, 0, sizeof(wr));
	o.label_selector = "set=watch";
	o.allow_bookmarks = true;
	CHECK_INT(fed_kube_watch(cl, &ref, &o, w_event, w_done, &wr, &w, &err), 0);
	fed_kube_wait(loop, &never, 0.3);
	CHECK_INT(create(&r_cm, ns,
	                 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{"
	                 "\"name\":\"w1\",\"labels\":{\"set\":\"watch\"}}}",
	                 &r),
	          0);
	e2e_result_release(&r);
	CHECK_INT(create(&r_cm, ns,
	                 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{"
	                 "\"name\":\"other\",\"labels\":{\"set\":\"nope\"}}}",
	                 &r),
	          0);
	e2e_result_release(&r);
	for (int i = 0; i < 50 && wr.events < 1; i++)
		fed_kube_wait(loop, &never, 0.1);
	fed_kube_wait(loop, &never, 0.3);
	CHECK_INT(wr.events, 1); /* the label selector filtered "other" */
	fed_kube_watch_cancel(w);
	fed_kube_wait(loop, &never, 0.2);
	CHECK(!wr.done); /* no callback after cancel */
}

static void test_http2_and_rate_limit(void)
{
	struct fed_kube_client_stats st;
	struct fed_rest_config cfg;
	struct fed_kube_client *slow = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_ref ref = {&r_ns, NULL, "default", NULL};
	struct bulk b = {0, 0};
	bool flag = false;
	double t0;
	int i;

	fed_kube_client_stats(cl, &st);
	CHECK(st.http2 > 0);
	CHECK(st.http2 == st.requests - st.retries || st.http2 > 0);

	CHECK_INT(e2e_load(&cfg, "member1"), 0);
	cfg.qps = 5;
	cfg.burst = 1;
	CHECK_INT(fed_kube_client_new(&slow, loop, &cfg, "slow", &err), 0);
	fed_rest_config_release(&cfg);
	t0 = e2e_now();
	for (i = 0; i < 11; i++) {
		CHECK_INT(fed_kube_get(slow, &ref, bulk_cb, &b, NULL, &err), 0);
		b.pending++;
	}
	while (!bulk_done(&b, &flag))
		fed_kube_wait(loop, &flag, 0.05);
	CHECK_INT(b.failed, 0);
	/* 1 from the burst, then 10 at 5/s: at least 2 s */
	CHECK(e2e_now() - t0 >= 1.9);
	fed_kube_client_stats(slow, &st);
	CHECK(st.throttled > 0);
	fed_kube_client_free(slow);
}

struct disco_result {
	bool done;
	struct fed_discovery *d;
	struct fed_error err;
};

static void disco_cb(struct fed_discovery *d, const struct fed_error *err, void *ud)
{
	struct disco_result *r = ud;

	r->done = true;
	r->d = d;
	if (err)
		r->err = *err;
}

static void test_discovery_and_crd(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct disco_result dr;
	const struct fed_api_resource *a;
	struct e2e_result r;
	bool never = false;
	int i;

	memset(&dr, 0, sizeof(dr));
	CHECK_INT(fed_kube_discover(cl, disco_cb, &dr, &err), 0);
	CHECK_INT(fed_kube_wait(loop, &dr.done, 30), 0);
	CHECK_INT(dr.err.code, 0);
	a = fed_discovery_find(dr.d, "deploy");
	CHECK(a != NULL);
	CHECK_STR(a->r.group, "apps");
	CHECK_STR(a->r.version, "v1");
	CHECK(a->r.namespaced);
	a = fed_discovery_find(dr.d, "cm");
	CHECK(a && !strcmp(a->r.resource, "configmaps") && !*a->r.group);
	a = fed_discovery_find(dr.d, "Namespace");
	CHECK(a && !a->r.namespaced);
	CHECK(fed_discovery_find(dr.d, "widgets") == NULL);
	fed_discovery_free(dr.d);

	/* a custom type appears in discovery once its CRD is established */
	memset(&r, 0, sizeof(r));
	i = create(
	    &r_crd, NULL,
	    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
	    "\"metadata\":{\"name\":\"widgets.e2e.fed.io\"},\"spec\":{\"group\":\"e2e.fed.io\","
	    "\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":\"Widget\","
	    "\"shortNames\":[\"wd\"]},\"scope\":\"Namespaced\",\"versions\":[{\"name\":\"v1\","
	    "\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
	    "\"x-kubernetes-preserve-unknown-fields\":true}}}]}}",
	    &r);
	CHECK(i == 0 || i == FED_EEXISTS);
	e2e_result_release(&r);
	for (i = 0; i < 100; i++) {
		memset(&dr, 0, sizeof(dr));
		CHECK_INT(fed_kube_discover(cl, disco_cb, &dr, &err), 0);
		CHECK_INT(fed_kube_wait(loop, &dr.done, 30), 0);
		if (dr.d && fed_discovery_find(dr.d, "wd"))
			break;
		fed_discovery_free(dr.d);
		dr.d = NULL;
		fed_kube_wait(loop, &never, 0.2);
	}
	CHECK(dr.d != NULL);
	a = fed_discovery_find(dr.d, "widgets.e2e.fed.io");
	CHECK(a && !strcmp(a->kind, "Widget") && a->r.namespaced);
	{
		struct fed_kube_resource wr = a->r;
		CHECK_INT(create(&wr, ns,
		                 "{\"apiVersion\":\"e2e.fed.io/v1\",\"kind\":\"Widget\","
		                 "\"metadata\":{\"name\":\"w\"},\"spec\":{\"size\":3}}",
		                 &r),
		          0);
		e2e_result_release(&r);
		CHECK_INT(get(&wr, ns, "w", &r), 0);
		CHECK_INT(
		    cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "spec"), "size")->valueint, 3);
		e2e_result_release(&r);
	}
	fed_discovery_free(dr.d);
}

static void test_cleanup(void)
{
	struct fed_kube_ref ref = {&r_ns, NULL, ns, NULL};
	struct fed_kube_ref crd = {&r_crd, NULL, "widgets.e2e.fed.io", NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct e2e_result r;

	memset(&r, 0, sizeof(r));
	CHECK_INT(fed_kube_delete(cl, &ref, NULL, e2e_cb, &r, NULL, &err), 0);
	CHECK_INT(e2e_wait(loop, &r), 0);
	e2e_result_release(&r);
	CHECK_INT(fed_kube_delete(cl, &crd, NULL, e2e_cb, &r, NULL, &err), 0);
	CHECK_INT(e2e_wait(loop, &r), 0);
	e2e_result_release(&r);
}

int main(void)
{
	struct fed_rest_config cfg;
	struct fed_error err = FED_ERROR_INIT;

	fed_log_setup(FED_LOG_WARN, false);
	loop = ev_default_loop(0);
	if (e2e_load(&cfg, "member1"))
		return 1;
	if (fed_kube_client_new(&cl, loop, &cfg, "member1", &err)) {
		fprintf(stderr, "client: %s\n", err.msg);
		return 1;
	}
	fed_rest_config_release(&cfg);
	RUN(test_namespace);
	RUN(test_crud);
	RUN(test_status_subresource);
	RUN(test_paging);
	RUN(test_watch_events_and_cancel);
	RUN(test_http2_and_rate_limit);
	RUN(test_discovery_and_crd);
	RUN(test_cleanup);
	fed_kube_client_free(cl);
	ev_loop_destroy(loop);
	return CHECK_EXIT();
}
