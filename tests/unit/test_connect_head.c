/* Cluster connect's request head (lib/connect_head.c): the member and
 * target of a proxy path, the caller the front proxy names, and the head
 * sent to the member. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "fed/connect.h"

#define P FED_CONNECT_PREFIX

static int parse(const char *s, struct fed_http_request *req)
{
	return fed_http_parse_request(s, strlen(s), req);
}

/* Count the header lines of head named name (case-insensitive). */
static int count(const char *head, const char *name)
{
	int n = 0;
	size_t len = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n"))
		if (!strncasecmp(l + 2, name, len) && l[2 + len] == ':')
			n++;
	return n;
}

static void test_target(void)
{
	static const struct {
		const char *target, *cluster, *member;
	} ok[] = {
	    {P "edge-1/proxy/api/v1/pods?watch=1&rv=5", "edge-1", "/api/v1/pods?watch=1&rv=5"},
	    {P "a/proxy", "a", "/"},
	    {P "a/proxy/", "a", "/"},
	    {P "a/proxy?x=1", "a", "/?x=1"},
	    {P "m2/proxy/apis/apps/v1/namespaces/d/deployments/w", "m2",
	     "/apis/apps/v1/namespaces/d/deployments/w"},
	};
	static const struct {
		const char *target;
		int code;
	} bad[] = {
	    {"/api/v1/pods", FED_ENOTFOUND},
	    {P, FED_ENOTFOUND},
	    {P "edge", FED_ENOTFOUND},
	    {P "edge/", FED_ENOTFOUND},
	    {P "edge/status", FED_ENOTFOUND},
	    {P "edge/proxyx/api", FED_ENOTFOUND},
	    {"/apis/proxy.fed.kubefed.io/v1/clusters/edge/proxy/api", FED_ENOTFOUND},
	    {P "Edge/proxy/api", FED_EINVAL},
	    {P "-e/proxy/api", FED_EINVAL},
	    {P "e_1/proxy/api", FED_EINVAL},
	    {P "..%2f/proxy/api", FED_EINVAL},
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct fed_http_request req;
		struct fed_error err = FED_ERROR_INIT;
		char *c = NULL, *t = NULL;
		int ret;

		snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", ok[i].target);
		CHECK_INT(parse(buf, &req), FED_HTTP_PARSE_COMPLETE);
		ret = fed_connect_target(&req, &c, &t, &err);
		if (ret) {
			free(c);
			free(t);
		}
		CHECK_INT(ret, 0);
		CHECK_STR(c, ok[i].cluster);
		CHECK_STR(t, ok[i].member);
		free(c);
		free(t);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fed_http_request req;
		struct fed_error err = FED_ERROR_INIT;
		char *c = (char *)"x", *t = (char *)"x";

		snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", bad[i].target);
		CHECK_INT(parse(buf, &req), FED_HTTP_PARSE_COMPLETE);
		CHECK_INT(fed_connect_target(&req, &c, &t, &err), bad[i].code);
		CHECK(!c && !t);
		CHECK(err.msg[0]);
	}
}

static void test_caller(void)
{
	static const char *const req_s =
	    "GET " P "a/proxy/api HTTP/1.1\r\nHost: h\r\n"
	    "X-Remote-User: alice@example.com\r\n"
	    "X-Remote-Group: devs\r\nx-remote-group: system:authenticated\r\n"
	    "X-Remote-Group: system:masters\r\nX-Remote-Group: ops\r\n"
	    "X-Remote-Extra-Scopes: view\r\nX-Remote-Extra-Acme.com%2fTeam: blue\r\n"
	    "X-Remote-Extra-Scopes: edit\r\n\r\n";
	struct fed_http_request req;
	struct fed_connect_caller c;
	struct fed_error err = FED_ERROR_INIT;

	CHECK_INT(parse(req_s, &req), FED_HTTP_PARSE_COMPLETE);
	CHECK_INT(fed_connect_caller_parse(&req, NULL, &c, &err), 0);
	CHECK_STR(c.user, "alice@example.com");
	CHECK_INT(c.ngroups, 2);
	CHECK_STR(c.groups[0], "devs");
	CHECK_STR(c.groups[1], "ops");
	CHECK_INT(c.dropped_groups, 2);
	CHECK_INT(c.nextras, 3);
	CHECK_STR(c.extras[0].key, "scopes");
	CHECK_STR(c.extras[1].key, "acme.com%2fteam");
	CHECK_STR(c.extras[1].value, "blue");
	CHECK_STR(c.extras[2].value, "edit");
	fed_connect_caller_release(&c);
	fed_connect_caller_release(&c); /* idempotent */
}

static void test_caller_refused(void)
{
	static const struct {
		const char *headers;
		int code;
	} cases[] = {
	    {"", FED_EUNAUTHORIZED},
	    {"X-Remote-User: \r\n", FED_EUNAUTHORIZED},
	    {"X-Remote-User: a\r\nX-Remote-User: b\r\n", FED_EUNAUTHORIZED},
	    {"X-Remote-User: system:admin\r\n", FED_EFORBIDDEN},
	    {"X-Remote-User: system:serviceaccount:kube-system:default\r\n", FED_EFORBIDDEN},
	    {"X-Remote-Group: devs\r\n", FED_EUNAUTHORIZED},
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fed_http_request req;
		struct fed_connect_caller c;
		struct fed_error err = FED_ERROR_INIT;
		int ret;

		snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n%s\r\n", cases[i].headers);
		CHECK_INT(parse(buf, &req), FED_HTTP_PARSE_COMPLETE);
		ret = fed_connect_caller_parse(&req, NULL, &c, &err);
		fed_connect_caller_release(&c);
		CHECK_INT(ret, cases[i].code);
		CHECK(err.msg[0]);
	}
}

/* Names the front proxy was configured with: only those are the caller. */
static void test_configured_names(void)
{
	static const char *const user[] = {"X-Auth-User"}, *const group[] = {"X-Auth-Groups"},
	                         *const extra[] = {"X-Auth-Extra-"};
	struct fed_connect_names nm = {user, 1, group, 1, extra, 1};
	static const char *const req_s = "GET / HTTP/1.1\r\nHost: h\r\nX-Remote-User: mallory\r\n"
	                                 "X-Auth-User: bob\r\nX-Auth-Groups: qa\r\n"
	                                 "X-Auth-Extra-K: v\r\n\r\n";
	struct fed_http_request req;
	struct fed_connect_caller c;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf out = FED_BUF_INIT;
	struct fed_connect_upstream up = {"member:6443", NULL};
	bool upgrade;

	CHECK_INT(parse(req_s, &req), FED_HTTP_PARSE_COMPLETE);
	CHECK_INT(fed_connect_caller_parse(&req, &nm, &c, &err), 0);
	CHECK_STR(c.user, "bob");
	CHECK_INT(c.ngroups, 1);
	CHECK_INT(c.nextras, 1);
	CHECK_INT(fed_connect_rewrite(&req, "/api", &c, &nm, &up, &upgrade, &out, &err), 0);
	fed_connect_caller_release(&c);
	/* neither the configured names nor kube's defaults pass through */
	CHECK(!strcasestr(fed_buf_str(&out), "x-auth-"));
	CHECK(!strcasestr(fed_buf_str(&out), "x-remote-"));
	CHECK(!strstr(fed_buf_str(&out), "mallory"));
	CHECK_HAS(fed_buf_str(&out), "Impersonate-User: bob\r\n");
	fed_buf_release(&out);
}

static void test_rewrite(void)
{
	static const char *const req_s =
	    "POST " P "a/proxy/api/v1/namespaces/d/configmaps?fieldManager=kubectl HTTP/1.1\r\n"
	    "Host: aggregator.example\r\n"
	    "Authorization: Bearer host-token\r\n"
	    "Proxy-Authorization: Basic eDp5\r\n"
	    "Impersonate-User: root\r\nImpersonate-Group: system:masters\r\n"
	    "impersonate-extra-x: y\r\n"
	    "X-Remote-User: alice\r\nX-Remote-Group: devs\r\nX-Remote-Group: system:masters\r\n"
	    "X-Remote-Extra-Scopes: view\r\n"
	    "Connection: keep-alive, X-Secret-Hop\r\nKeep-Alive: timeout=5\r\n"
	    "X-Secret-Hop: 1\r\nTE: trailers\r\nUpgrade: h2c\r\n"
	    "Accept: application/json\r\nUser-Agent: kubectl/v1.36\r\n"
	    "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
	struct fed_http_request req;
	struct fed_connect_caller c;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf out = FED_BUF_INIT_SENSITIVE;
	struct fed_connect_upstream up = {"10.0.0.7:6443", "member-token"};
	char *cluster = NULL, *target = NULL;
	const char *s;
	bool upgrade = true;
	int ret;

	CHECK_INT(parse(req_s, &req), FED_HTTP_PARSE_COMPLETE);
	CHECK_INT(fed_connect_target(&req, &cluster, &target, &err), 0);
	CHECK_INT(fed_connect_caller_parse(&req, NULL, &c, &err), 0);
	ret = fed_connect_rewrite(&req, target, &c, NULL, &up, &upgrade, &out, &err);
	fed_connect_caller_release(&c);
	free(cluster);
	CHECK_INT(ret, 0);
	s = fed_buf_str(&out);
	CHECK(!upgrade);
	CHECK(!strncmp(s, "POST /api/v1/namespaces/d/configmaps?fieldManager=kubectl HTTP/1.1\r\n",
	               strlen("POST /api/v1/namespaces/d/configmaps?fieldManager=kubectl "
	                      "HTTP/1.1\r\n")));
	free(target);
	/* fed's own, once each, after everything of the caller's */
	CHECK_INT(count(s, "Host"), 1);
	CHECK_HAS(s, "Host: 10.0.0.7:6443\r\n");
	CHECK_INT(count(s, "Authorization"), 1);
	CHECK_HAS(s, "Authorization: Bearer member-token\r\n");
	CHECK_INT(count(s, "Impersonate-User"), 1);
	CHECK_HAS(s, "Impersonate-User: alice\r\n");
	CHECK_INT(count(s, "Impersonate-Group"), 1);
	CHECK_HAS(s, "Impersonate-Group: devs\r\n");
	CHECK_INT(count(s, "Impersonate-Extra-scopes"), 1);
	CHECK_INT(count(s, "impersonate-extra-x"), 0);
	/* the caller's identity choices and the hop-by-hop headers are gone */
	CHECK(!strstr(s, "host-token"));
	CHECK(!strstr(s, "root"));
	CHECK(!strstr(s, "system:masters"));
	CHECK(!strcasestr(s, "x-remote-"));
	CHECK_INT(count(s, "Proxy-Authorization"), 0);
	CHECK_INT(count(s, "Connection"), 0);
	CHECK_INT(count(s, "Keep-Alive"), 0);
	CHECK_INT(count(s, "X-Secret-Hop"), 0);
	CHECK_INT(count(s, "TE"), 0);
	CHECK_INT(count(s, "Upgrade"), 0); /* h2c is not passed on */
	/* end to end headers and the body's length stay */
	CHECK_HAS(s, "Accept: application/json\r\n");
	CHECK_HAS(s, "User-Agent: kubectl/v1.36\r\n");
	CHECK_HAS(s, "Content-Length: 2\r\n");
	CHECK(out.len > 4 && !memcmp(s + out.len - 4, "\r\n\r\n", 4));
	fed_buf_release(&out);
}

static void test_upgrade(void)
{
	static const struct {
		const char *headers;
		const char *want; /* the Upgrade passed on, or NULL */
	} cases[] = {
	    {"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n", "SPDY/3.1"},
	    {"Connection: keep-alive, upgrade\r\nUpgrade: websocket\r\n", "websocket"},
	    {"Connection: Upgrade\r\nUpgrade: WebSocket\r\n", "WebSocket"},
	    {"Upgrade: SPDY/3.1\r\n", NULL},                   /* not asked by Connection */
	    {"Connection: Upgrade\r\nUpgrade: h2c\r\n", NULL}, /* not an exec protocol */
	    {"Connection: Upgrade\r\nUpgrade: SPDY/3.1, h2c\r\n", NULL},
	    {"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nUpgrade: websocket\r\n", NULL},
	};
	char buf[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fed_http_request req;
		struct fed_connect_caller c;
		struct fed_error err = FED_ERROR_INIT;
		struct fed_buf out = FED_BUF_INIT;
		struct fed_connect_upstream up = {"m:6443", NULL};
		bool upgrade = false;
		int ret;

		snprintf(buf, sizeof(buf),
		         "POST " P "a/proxy/api/v1/namespaces/d/pods/p/exec?command=sh HTTP/1.1\r\n"
		         "Host: h\r\nX-Remote-User: alice\r\n%s\r\n",
		         cases[i].headers);
		CHECK_INT(parse(buf, &req), FED_HTTP_PARSE_COMPLETE);
		CHECK_INT(fed_connect_caller_parse(&req, NULL, &c, &err), 0);
		ret = fed_connect_rewrite(&req, "/x", &c, NULL, &up, &upgrade, &out, &err);
		fed_connect_caller_release(&c);
		CHECK_INT(ret, 0);
		CHECK_INT(upgrade, cases[i].want != NULL);
		if (cases[i].want) {
			snprintf(buf, sizeof(buf), "Connection: Upgrade, close\r\nUpgrade: %s\r\n",
			         cases[i].want);
			CHECK_HAS(fed_buf_str(&out), buf);
		}
		CHECK_INT(count(fed_buf_str(&out), "Upgrade"), cases[i].want ? 1 : 0);
		CHECK_INT(count(fed_buf_str(&out), "Connection"), cases[i].want ? 1 : 0);
		CHECK(!strstr(fed_buf_str(&out), "Authorization"));
		fed_buf_release(&out);
	}
}

static void test_rewrite_needs_caller(void)
{
	struct fed_http_request req;
	struct fed_connect_caller c;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_buf out = FED_BUF_INIT;
	struct fed_connect_upstream up = {"m:6443", "t"};
	bool upgrade;

	memset(&c, 0, sizeof(c));
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &req), FED_HTTP_PARSE_COMPLETE);
	CHECK_INT(fed_connect_rewrite(&req, "/", &c, NULL, &up, &upgrade, &out, &err), FED_EINVAL);
	CHECK_INT(out.len, 0);
	fed_buf_release(&out);
}

int main(void)
{
	RUN(test_target);
	RUN(test_caller);
	RUN(test_caller_refused);
	RUN(test_configured_names);
	RUN(test_rewrite);
	RUN(test_upgrade);
	RUN(test_rewrite_needs_caller);
	return check_failures ? 1 : 0;
}
