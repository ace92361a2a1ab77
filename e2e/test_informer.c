/* The informer against a real kube-apiserver (member2): events as they
 * happen, then a server restart with writes the informer could not see
 * while it was down. Afterwards its store must equal the server's state,
 * with every add, update and delete delivered exactly once. */
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "fed/informer.h"

static struct ev_loop *loop, *wloop; /* the informer's, and a writer's of its own */
static struct fed_kube_client *cl, *writer;
static struct fed_informer *inf;
static char ns[64];

static const struct fed_kube_resource r_ns = {"", "v1", "namespaces", false};
static const struct fed_kube_resource r_cm = {"", "v1", "configmaps", true};

struct counts {
	struct fed_map adds, updates, deletes;
	int synced;
};
static struct counts ev;

static void bump(struct fed_map *m, const cJSON *obj)
{
	const char *name = fed_obj_name(obj);
	long n = (long)fed_map_get(m, name);

	fed_map_put(m, name, (void *)(n + 1), NULL);
}

static void on_add(const cJSON *obj, void *ud)
{
	bump(&ev.adds, obj);
}

static void on_update(const cJSON *old, const cJSON *obj, void *ud)
{
	bump(&ev.updates, obj);
}

static void on_delete(const cJSON *obj, void *ud)
{
	bump(&ev.deletes, obj);
}

static void on_synced(void *ud)
{
	ev.synced++;
}

static long count(struct fed_map *m, const char *name)
{
	return (long)fed_map_get(m, name);
}

/* Synchronous write on the writer's own loop, so the informer's loop does
 * not run meanwhile. */
static int write_cm(const char *method, const char *name, const char *value)
{
	struct fed_kube_ref ref = {&r_cm, ns, name, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct e2e_result r;
	char body[512];
	cJSON *obj;
	int ret;

	memset(&r, 0, sizeof(r));
	if (!strcmp(method, "DELETE")) {
		ret = fed_kube_delete(writer, &ref, NULL, e2e_cb, &r, NULL, &err);
	} else if (!strcmp(method, "PATCH")) {
		snprintf(body, sizeof(body), "{\"data\":{\"v\":\"%s\"}}", value);
		ret = fed_kube_patch(writer, &ref, FED_PATCH_MERGE, body, NULL, e2e_cb, &r, NULL,
		                     &err);
	} else {
		snprintf(body, sizeof(body),
		         "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
		         "{\"name\":\"%s\",\"labels\":{\"e2e\":\"inf\"}},\"data\":{\"v\":\"%s\"}}",
		         name, value);
		obj = cJSON_Parse(body);
		ref.name = NULL;
		ret = fed_kube_create(writer, &ref, obj, NULL, e2e_cb, &r, NULL, &err);
		cJSON_Delete(obj);
	}
	if (ret)
		return ret;
	ret = e2e_wait(wloop, &r);
	if (ret)
		fprintf(stderr, "  %s %s: %s\n", method, name, r.err.msg);
	e2e_result_release(&r);
	return ret;
}

/* Run the informer's loop until its store has exactly `names`. */
static bool converge(const char *const *names, int n, double timeout)
{
	double end = e2e_now() + timeout;
	bool never = false;
	int i;

	while (e2e_now() < end) {
		bool ok = fed_informer_count(inf) == (size_t)n;
		for (i = 0; ok && i < n; i++)
			ok = fed_informer_get(inf, ns, names[i]) != NULL;
		if (ok)
			return true;
		fed_kube_wait(loop, &never, 0.05);
	}
	fprintf(stderr, "  store has %zu objects, want %d\n", fed_informer_count(inf), n);
	return false;
}

static void test_setup(void)
{
	struct fed_kube_ref ref = {&r_ns, NULL, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct e2e_result r;
	char body[256];
	cJSON *obj;

	snprintf(ns, sizeof(ns), "e2e-informer-%d", (int)getpid());
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
	         ns);
	obj = cJSON_Parse(body);
	memset(&r, 0, sizeof(r));
	CHECK_INT(fed_kube_create(writer, &ref, obj, NULL, e2e_cb, &r, NULL, &err), 0);
	cJSON_Delete(obj);
	CHECK_INT(e2e_wait(wloop, &r), 0);
	e2e_result_release(&r);
	CHECK_INT(write_cm("POST", "pre-1", "a"), 0);
	CHECK_INT(write_cm("POST", "pre-2", "a"), 0);
}

static void test_initial_list_and_events(void)
{
	struct fed_informer_opts o;
	struct fed_error err = FED_ERROR_INIT;
	const char *after[] = {"pre-1", "pre-2", "live-1"};
	const char *final[] = {"pre-2", "live-1"};
	const cJSON *obj;
	bool never = false;

	memset(&o, 0, sizeof(o));
	o.resource = r_cm;
	o.namespace = ns;
	o.label_selector = "e2e=inf";
	o.page_size = 1; /* exercise paging in the initial list too */
	o.handlers.on_add = on_add;
	o.handlers.on_update = on_update;
	o.handlers.on_delete = on_delete;
	o.handlers.on_synced = on_synced;
	CHECK_INT(fed_informer_new(&inf, cl, &o, &err), 0);
	fed_informer_start(inf);
	CHECK(converge(after, 2, 20));
	CHECK(fed_informer_synced(inf));
	CHECK_INT(ev.synced, 1);
	fed_kube_wait(loop, &never, 0.3); /* let the watch start */

	CHECK_INT(write_cm("POST", "live-1", "a"), 0);
	CHECK(converge(after, 3, 20));
	CHECK_INT(write_cm("PATCH", "live-1", "b"), 0);
	for (int i = 0; i < 200 && count(&ev.updates, "live-1") < 1; i++)
		fed_kube_wait(loop, &never, 0.05);
	obj = fed_informer_get(inf, ns, "live-1");
	CHECK(obj != NULL);
	CHECK_STR(fed_obj_str(obj, "data.v"), "b");
	CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "managedFields") == NULL);
	CHECK_INT(write_cm("DELETE", "pre-1", NULL), 0);
	CHECK(converge(final, 2, 20));
	CHECK_INT(count(&ev.adds, "pre-1"), 1);
	CHECK_INT(count(&ev.adds, "live-1"), 1);
	CHECK_INT(count(&ev.updates, "live-1"), 1);
	CHECK_INT(count(&ev.deletes, "pre-1"), 1);
}

static void test_server_restart(void)
{
	struct fed_informer_stats before, after;
	const char *final[] = {"live-1", "down-1", "down-2"};
	bool never = false;
	double t0;

	fed_informer_get_stats(inf, &before);
	CHECK_INT(e2e_clusters("stop", "member2"), 0);
	fed_kube_wait(loop, &never, 2.0); /* the informer sees its watch fail */
	CHECK_INT(e2e_clusters("start", "member2"), 0);
	/* while the informer's loop is not running: changes it must catch up on */
	CHECK_INT(write_cm("POST", "down-1", "a"), 0);
	CHECK_INT(write_cm("POST", "down-2", "a"), 0);
	CHECK_INT(write_cm("PATCH", "live-1", "c"), 0);
	CHECK_INT(write_cm("DELETE", "pre-2", NULL), 0);
	t0 = e2e_now();
	CHECK(converge(final, 3, 60));
	fprintf(stderr, "  caught up %.2fs after the writes\n", e2e_now() - t0);
	fed_kube_wait(loop, &never, 1.0); /* nothing more may arrive */
	CHECK_STR(fed_obj_str(fed_informer_get(inf, ns, "live-1"), "data.v"), "c");
	CHECK_INT(count(&ev.adds, "down-1"), 1);
	CHECK_INT(count(&ev.adds, "down-2"), 1);
	CHECK_INT(count(&ev.adds, "live-1"), 1);
	CHECK_INT(count(&ev.updates, "live-1"), 2);
	CHECK_INT(count(&ev.deletes, "pre-2"), 1);
	CHECK_INT(count(&ev.updates, "down-1"), 0);
	fed_informer_get_stats(inf, &after);
	fprintf(stderr, "  lists %lu->%lu watches %lu->%lu gone %lu errors %lu\n", before.lists,
	        after.lists, before.watches, after.watches, after.gone, after.errors);
	/* it noticed the outage: the stream ended (with an error, or cleanly
	 * under the server's shutdown grace) and a new watch was opened */
	CHECK(after.watches > before.watches);
	/* and the restarted server, whose watch cache starts after our
	 * resourceVersion, answered the re-watch with 410: re-listed. (A 410
	 * from an old resourceVersion is not reliable on a young server: its
	 * watch cache may still hold the whole history.) */
	CHECK(after.gone > before.gone);
	CHECK(after.lists > before.lists);
}

static void test_free_while_watching(void)
{
	/* freeing with a watch open cancels it without a callback */
	fed_informer_free(inf);
	inf = NULL;
}

static void test_cleanup(void)
{
	struct fed_kube_ref ref = {&r_ns, NULL, ns, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct e2e_result r;

	memset(&r, 0, sizeof(r));
	CHECK_INT(fed_kube_delete(writer, &ref, NULL, e2e_cb, &r, NULL, &err), 0);
	CHECK_INT(e2e_wait(wloop, &r), 0);
	e2e_result_release(&r);
}

int main(void)
{
	struct fed_rest_config cfg;
	struct fed_error err = FED_ERROR_INIT;

	fed_log_setup(FED_LOG_INFO, false);
	loop = ev_default_loop(0);
	wloop = ev_loop_new(0);
	if (e2e_load(&cfg, "member2"))
		return 1;
	if (fed_kube_client_new(&cl, loop, &cfg, "member2", &err) ||
	    fed_kube_client_new(&writer, wloop, &cfg, "member2-writer", &err)) {
		fprintf(stderr, "client: %s\n", err.msg);
		return 1;
	}
	fed_rest_config_release(&cfg);
	fed_map_init(&ev.adds);
	fed_map_init(&ev.updates);
	fed_map_init(&ev.deletes);
	RUN(test_setup);
	RUN(test_initial_list_and_events);
	RUN(test_server_restart);
	RUN(test_free_while_watching);
	RUN(test_cleanup);
	fed_informer_free(inf);
	fed_kube_client_free(cl);
	fed_kube_client_free(writer);
	fed_map_release(&ev.adds, NULL);
	fed_map_release(&ev.updates, NULL);
	fed_map_release(&ev.deletes, NULL);
	ev_loop_destroy(wloop);
	ev_loop_destroy(loop);
	return CHECK_EXIT();
}
