/* Pure logic of the shared library: buffers, map, error wrapping, log
 * redaction, request paths and query strings, watch-line decoding. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "fed/buf.h"
#include "fed/error.h"
#include "fed/kube.h"
#include "fed/log.h"
#include "fed/map.h"
#include "kube_internal.h"

static void test_buf(void)
{
	struct fed_buf b = FED_BUF_INIT;
	char *s;
	int i;

	CHECK_STR(fed_buf_str(&b), "");
	for (i = 0; i < 1000; i++)
		CHECK_INT(fed_buf_printf(&b, "%d,", i), 0);
	CHECK_INT(b.len, 3890);
	fed_buf_consume(&b, 4);
	CHECK(!strncmp(b.data, "2,3,", 4));
	fed_buf_reset(&b);
	CHECK_INT(fed_buf_urlencode(&b, "app in (a,b)&x=/y~"), 0);
	CHECK_STR(fed_buf_str(&b), "app%20in%20%28a%2Cb%29%26x%3D%2Fy~");
	s = fed_buf_detach(&b);
	CHECK(b.data == NULL && b.len == 0);
	free(s);
	s = fed_buf_detach(&b);
	CHECK_STR(s, "");
	free(s);
}

static void test_map(void)
{
	struct fed_map m = FED_MAP_INIT;
	struct fed_map_iter it;
	struct fed_map_entry *e;
	char key[32];
	void *old;
	long i, sum = 0;

	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "ns/obj-%ld", i);
		CHECK_INT(fed_map_put(&m, key, (void *)(i + 1), &old), 0);
		CHECK(old == NULL);
	}
	CHECK_INT(fed_map_count(&m), 5000);
	CHECK(fed_map_get(&m, "ns/obj-4321") == (void *)4322);
	CHECK_INT(fed_map_put(&m, "ns/obj-1", (void *)99, &old), 0);
	CHECK(old == (void *)2);
	CHECK_INT(fed_map_count(&m), 5000);
	/* deleting while iterating */
	for (e = fed_map_first(&m, &it); e; e = fed_map_next(&m, &it)) {
		sum++;
		if ((long)e->value % 2)
			fed_map_del(&m, e->key);
	}
	CHECK_INT(sum, 5000);
	CHECK_INT(fed_map_count(&m), 2499); /* odd values; obj-1 became 99 */
	CHECK(fed_map_get(&m, "nope") == NULL);
	CHECK(fed_map_del(&m, "nope") == NULL);
	fed_map_release(&m, NULL);
	CHECK_INT(fed_map_count(&m), 0);
}

static void test_error(void)
{
	struct fed_error err = FED_ERROR_INIT;
	char big[3000];

	CHECK_INT(fed_error_set(&err, FED_ENOTFOUND, "namespaces \"%s\" not found", "x"),
	          FED_ENOTFOUND);
	CHECK_INT(fed_error_wrap(&err, "cluster %s", "east"), FED_ENOTFOUND);
	CHECK_STR(err.msg, "cluster east: namespaces \"x\" not found");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fed_error_wrap(&err, "%s", big); /* truncates, never overflows */
	CHECK_INT(strlen(err.msg), FED_ERROR_MSG_MAX - 1);
	CHECK_INT(fed_error_set(NULL, FED_EINVAL, "ignored"), FED_EINVAL);
	CHECK_STR(fed_err_name(FED_EGONE), "Gone");
	fed_error_clear(&err);
	CHECK_INT(err.code, 0);
}

static void test_redact(void)
{
	char a[] = "Authorization: Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.payload.sig rest";
	char b[] = "{\"token\":\"abcdefghijklmnop\",\"x\":1}";
	char c[] =
	    "key -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY----- tail";
	char d[] = "token: short";

	fed_log_redact(a);
	CHECK(strstr(a, "eyJ") == NULL);
	CHECK_HAS(a, "Bearer [redacted] rest");
	fed_log_redact(b);
	CHECK(strstr(b, "abcdefghijklmnop") == NULL);
	CHECK_HAS(b, "\"x\":1");
	fed_log_redact(c);
	CHECK(strstr(c, "MIIEvQ") == NULL);
	CHECK_HAS(c, "-----BEGIN PRIVATE KEY----------END PRIVATE KEY----- tail");
	fed_log_redact(d);
	CHECK_STR(d, "token: *****");
	CHECK_INT(fed_log_level_parse("debug"), FED_LOG_DEBUG);
	CHECK_INT(fed_log_level_parse("3"), 3);
	CHECK_INT(fed_log_level_parse("loud"), -1);
}

static void test_paths(void)
{
	static const struct fed_kube_resource cm = {"", "v1", "configmaps", true};
	static const struct fed_kube_resource dep = {"apps", "v1", "deployments", true};
	static const struct fed_kube_resource ns = {NULL, "v1", "namespaces", false};
	struct fed_kube_ref r1 = {&cm, "kube-system", "kubefed-config", NULL};
	struct fed_kube_ref r2 = {&dep, "web", "api", "status"};
	struct fed_kube_ref r3 = {&dep, NULL, NULL, NULL};
	struct fed_kube_ref r4 = {&ns, "ignored", "a b", NULL};
	struct fed_kube_list_opts o;
	struct fed_buf b = FED_BUF_INIT;

	CHECK_INT(fed_kube_path(&b, &r1), 0);
	CHECK_STR(fed_buf_str(&b), "/api/v1/namespaces/kube-system/configmaps/kubefed-config");
	fed_buf_reset(&b);
	fed_kube_path(&b, &r2);
	CHECK_STR(fed_buf_str(&b), "/apis/apps/v1/namespaces/web/deployments/api/status");
	fed_buf_reset(&b);
	fed_kube_path(&b, &r3);
	CHECK_STR(fed_buf_str(&b), "/apis/apps/v1/deployments");
	fed_buf_reset(&b);
	fed_kube_path(&b, &r4);
	CHECK_STR(fed_buf_str(&b), "/api/v1/namespaces/a%20b");

	memset(&o, 0, sizeof(o));
	fed_buf_reset(&b);
	o.label_selector = "kubefed.io/managed=true";
	o.resource_version = "123";
	o.limit = 500;
	o.allow_bookmarks = true;
	o.timeout_seconds = 300;
	CHECK_INT(fed_kube_list_query(&b, &o, true), 0);
	CHECK_STR(fed_buf_str(&b), "?watch=true&labelSelector=kubefed.io%2Fmanaged%3Dtrue"
	                           "&resourceVersion=123&limit=500&timeoutSeconds=300"
	                           "&allowWatchBookmarks=true");
	fed_buf_reset(&b);
	CHECK_INT(fed_kube_list_query(&b, NULL, false), 0);
	CHECK_STR(fed_buf_str(&b), "");
	fed_buf_release(&b);
}

/* A budget of 3 lines per 0.2 s: the rest are counted, and the next line
 * allowed carries the count. */
static void test_log_limit(void)
{
	struct fed_log_limit lim = FED_LOG_LIMIT(3, 0.2);
	unsigned dropped = 99;
	int allowed = 0;

	for (int i = 0; i < 10; i++)
		allowed += fed_log_allow(&lim, &dropped);
	CHECK_INT(allowed, 3);
	usleep(250000);
	CHECK(fed_log_allow(&lim, &dropped));
	CHECK_INT(dropped, 7);
	CHECK(fed_log_allow(&lim, &dropped));
	CHECK_INT(dropped, 0);
}

static void test_watch_decode(void)
{
	struct fed_error err = FED_ERROR_INIT;
	enum fed_watch_type t;
	cJSON *ev = NULL;
	const char *ok = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\","
	                 "\"resourceVersion\":\"7\"}}}";
	const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
	                   "\"message\":\"too old resource version: 1 (99)\"}}";

	CHECK_INT(fed_watch_decode(ok, strlen(ok), &t, &ev, &err), 0);
	CHECK_INT(t, FED_WATCH_MODIFIED);
	CHECK_STR(fed_obj_resource_version(cJSON_GetObjectItem(ev, "object")), "7");
	cJSON_Delete(ev);
	CHECK_INT(fed_watch_decode(gone, strlen(gone), &t, &ev, &err), FED_EGONE);
	CHECK_INT(err.http_status, 410);
	CHECK_HAS(err.msg, "too old");
	CHECK(ev == NULL);
	CHECK(fed_watch_decode("{\"type\":\"ADDED\"}", 16, &t, &ev, &err) < 0);
	CHECK(fed_watch_decode("not json", 8, &t, &ev, &err) < 0);
	CHECK_INT(fed_watch_decode("{\"type\":\"NEW\",\"object\":{}}", 26, &t, &ev, &err), 1);
}

int main(void)
{
	RUN(test_buf);
	RUN(test_map);
	RUN(test_error);
	RUN(test_redact);
	RUN(test_paths);
	RUN(test_watch_decode);
	RUN(test_log_limit);
	return CHECK_EXIT();
}
