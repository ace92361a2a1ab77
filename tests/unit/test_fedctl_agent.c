/* fedctl join --mode agent, the pure part (fedctl/agent_check.c,
 * agent_yaml.c): option checks, the address agents dial, the host certificate's names, and
 * agent.yaml (golden files data/fedctl/agent-full.golden and
 * agent-minimal.golden; regenerate with FED_REGEN_GOLDEN=1 ctest
 * --test-dir build -R unit.test_fedctl_agent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden.h"

#include "fed/tunnel_proxy.h"

#include "../../fedctl/agent_check.c"
#include "../../fedctl/agent_yaml.c"
#include "../../fedctl/connect_rbac.c"
#include "../../fedctl/output.c"

static void test_proxy(void)
{
	static const char *const good[] = {"http://proxy:3128", "https://proxy.example.com",
	                                   "http://user:pw@10.0.0.1:8080/", "http://[::1]:3128"};
	static const char *const bad[] = {"proxy:3128", "socks5://p:1080", "http://",
	                                  "http:///x",  "http://u@",       "http://p :1"};
	struct fed_error err = FED_ERROR_INIT;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_INT(fedctl_agent_check_proxy(good[i], &err), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fed_error_clear(&err);
		CHECK_INT(fedctl_agent_check_proxy(bad[i], &err), FED_EINVAL);
		CHECK_HAS(err.msg, "--proxy-https");
	}
}

/* Findings 9 and 17 (fedctl side): --proxy-https is checked by the
 * agent's own parser, so both agree on every URL, and no error quotes a
 * password. */
static void test_proxy_same_parser(void)
{
	static const char *const urls[] = {
	    "http://user:pw@proxy:3128",   "http://us@er:p@ss@proxy:3128", "http://u:p@:3128",
	    "http://user:pw@proxy:99999",  "http://user:pw@[::1",          "https://u%40x:p@proxy",
	    "socks5://user:pw@proxy:1080", "http://user:pw@proxy:12a",     "http://proxy"};
	struct fed_error err = FED_ERROR_INIT, perr = FED_ERROR_INIT;
	struct fed_proxy p;
	size_t i;

	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		int a, b;
		fed_error_clear(&err);
		fed_error_clear(&perr);
		a = fedctl_agent_check_proxy(urls[i], &err);
		b = fed_proxy_parse_url(urls[i], &p, &perr);
		if (!b && (!p.host || !*p.host))
			b = FED_EINVAL;
		fed_proxy_release(&p);
		if ((a == 0) != (b == 0))
			fprintf(stderr, "  %s: fedctl %d, agent %d\n", urls[i], a, b);
		CHECK((a == 0) == (b == 0));
		CHECK(!strstr(err.msg, "pw"));
		CHECK(!strstr(err.msg, "p@ss"));
	}
}

/* Finding 10: the default (least-privilege) role never says "*" (it
 * matches every subresource: pods/exec, pods/log, nodes/proxy,
 * services/proxy), nor reads Secrets unless a secrets type is enabled. */
static void test_member_role(void)
{
	static const struct fedctl_agent_rule rules[] = {
	    {"", "configmaps"}, {"apps", "deployments"}, {"example.com", "widgets"}};
	static const struct fedctl_agent_rule with_secrets[] = {{"", "secrets"}};
	struct fed_buf b = FED_BUF_INIT;
	cJSON *role = fedctl_member_role("fed-agent", "fed-agent", rules, 3), *x;

	CHECK_INT(fedctl_yaml(&b, role), 0);
	CHECK(!strstr(fed_buf_str(&b), "\"*\""));
	CHECK(!strstr(fed_buf_str(&b), "proxy"));
	CHECK(!strstr(fed_buf_str(&b), "pods"));
	CHECK(!strstr(fed_buf_str(&b), "secrets"));
	CHECK(!strstr(fed_buf_str(&b), "escalate"));
	CHECK_HAS(fed_buf_str(&b), "- widgets.example.com");
	CHECK_HAS(fed_buf_str(&b), "fed.kubefed.io/rbac: minimal");
	cJSON_Delete(role);
	fed_buf_release(&b);
	/* issue 13: with the secrets type, still no Secrets cluster-wide:
	 * only bind on fed-member-secrets and RoleBindings of that name */
	role = fedctl_member_role("fed-agent", "fed-agent", with_secrets, 1);
	CHECK_INT(fedctl_yaml(&b, role), 0);
	CHECK(!strstr(fed_buf_str(&b), "- secrets"));
	CHECK_HAS(fed_buf_str(&b), "- bind");
	CHECK_HAS(fed_buf_str(&b), "- rolebindings");
	CHECK_HAS(fed_buf_str(&b), "- fed-member-secrets");
	CHECK(!strstr(fed_buf_str(&b), "escalate"));
	CHECK(!strstr(fed_buf_str(&b), "customresourcedefinitions"));
	cJSON_Delete(role);
	fed_buf_release(&b);
	role = fedctl_member_secrets_docs("fed-system", "fed-agent");
	CHECK_INT(cJSON_GetArraySize(role), 3);
	cJSON_ArrayForEach(x, role)
		CHECK_INT(fedctl_yaml(&b, x), 0);
	CHECK_HAS(fed_buf_str(&b), "kind: ValidatingAdmissionPolicy");
	CHECK_HAS(fed_buf_str(&b), "kind: ValidatingAdmissionPolicyBinding");
	CHECK_HAS(fed_buf_str(&b), "system:serviceaccount:fed-system:fed-agent");
	CHECK_HAS(fed_buf_str(&b), "kube-system");
	CHECK_HAS(fed_buf_str(&b), "- secrets");
	cJSON_Delete(role);
	fed_buf_release(&b);
}

static void test_no_proxy(void)
{
	static const char *const good[] = {"10.0.0.0/8",
	                                   "10.0.0.0/8,192.168.1.1,.example.com",
	                                   "*",
	                                   "a.b, c.d ,fd00::/8",
	                                   "*.svc.cluster.local",
	                                   "localhost"};
	static const char *const bad[] = {"",         "10.0.0.0/8,", "a..b", "10.0.0.1/8",
	                                  "http://x", "x y",         "a,,b"};
	struct fed_error err = FED_ERROR_INIT;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		fed_error_clear(&err);
		CHECK_INT(fedctl_agent_check_no_proxy(good[i], &err), 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fed_error_clear(&err);
		CHECK_INT(fedctl_agent_check_no_proxy(bad[i], &err), FED_EINVAL);
		CHECK_HAS(err.msg, "--proxy-skip-range");
	}
}

static void test_split(void)
{
	static const char *const bad[] = {"x",       "x:",    ":80",    "x:0",
	                                  "x:65536", "x:8a",  "::1:80", "[::1]",
	                                  "[x]:80",  "a b:1", "*.x:1",  "https://x:1"};
	struct fed_error err = FED_ERROR_INIT;
	char host[64];
	int port = 0;
	size_t i;

	CHECK_INT(
	    fedctl_agent_split_address("tunnel.example.com:8080", host, sizeof(host), &port, &err),
	    0);
	CHECK_STR(host, "tunnel.example.com");
	CHECK_INT(port, 8080);
	CHECK_INT(fedctl_agent_split_address("[2001:db8::1]:443", host, sizeof(host), &port, &err),
	          0);
	CHECK_STR(host, "2001:db8::1");
	CHECK_INT(port, 443);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fed_error_clear(&err);
		CHECK_INT(fedctl_agent_split_address(bad[i], host, sizeof(host), &port, &err),
		          FED_EINVAL);
		CHECK_HAS(err.msg, "HOST:PORT");
	}
}

static void test_namespace(void)
{
	static const char *const bad[] = {
	    "",
	    "Kube",
	    "-a",
	    "a-",
	    "a.b",
	    "a_b",
	    "a234567890123456789012345678901234567890123456789012345678901234"};
	struct fed_error err = FED_ERROR_INIT;
	size_t i;

	CHECK_INT(fedctl_agent_check_namespace("kube-federation-system", &err), 0);
	CHECK_INT(fedctl_agent_check_namespace("a1", &err), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fed_error_clear(&err);
		CHECK_INT(fedctl_agent_check_namespace(bad[i], &err), FED_EINVAL);
		CHECK_HAS(err.msg, "--agent-namespace");
	}
}

static void test_pick(void)
{
	cJSON *lb = cJSON_Parse("{\"spec\":{\"ports\":[{\"name\":\"metrics\",\"port\":9090},"
	                        "{\"name\":\"tunnel\",\"port\":8443}]},\"status\":{"
	                        "\"loadBalancer\":{\"ingress\":[{\"ip\":\"203.0.113.7\"}]}}}");
	cJSON *host = cJSON_Parse("{\"spec\":{\"ports\":[{\"port\":9000}]},\"status\":{"
	                          "\"loadBalancer\":{\"ingress\":[{\"hostname\":\"lb.example."
	                          "com\"}]}}}");
	cJSON *v6 = cJSON_Parse("{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"2001:db8::"
	                        "7\"}]}}}");
	cJSON *pending = cJSON_Parse("{\"spec\":{\"ports\":[{\"name\":\"tunnel\",\"port\":8080}]},"
	                             "\"status\":{\"loadBalancer\":{}}}");
	struct fed_error err = FED_ERROR_INIT;
	const char *src = NULL;
	char *a = NULL;

	/* the flag first */
	CHECK_INT(fedctl_agent_pick_address("t.example:1", lb, "ns", "p:2", &a, &src, &err), 0);
	CHECK_STR(a, "t.example:1");
	CHECK_STR(src, "--host-address");
	free(a);
	/* the load balancer, with the port named tunnel */
	CHECK_INT(fedctl_agent_pick_address(NULL, lb, "ns", "p:2", &a, &src, &err), 0);
	CHECK_STR(a, "203.0.113.7:8443");
	CHECK_HAS(src, "load balancer");
	free(a);
	CHECK_INT(fedctl_agent_pick_address(NULL, host, "ns", NULL, &a, &src, &err), 0);
	CHECK_STR(a, "lb.example.com:9000"); /* the first port */
	free(a);
	CHECK_INT(fedctl_agent_pick_address(NULL, v6, "ns", NULL, &a, &src, &err), 0);
	CHECK_STR(a, "[2001:db8::7]:8080"); /* no ports: 8080 */
	free(a);
	/* no load balancer address: proxyPublishAddress */
	CHECK_INT(fedctl_agent_pick_address(NULL, pending, "ns", "p.example:2", &a, &src, &err), 0);
	CHECK_STR(a, "p.example:2");
	CHECK_HAS(src, "proxyPublishAddress");
	free(a);
	/* none: one error with the three fixes */
	CHECK_INT(fedctl_agent_pick_address(NULL, pending, "ns", NULL, &a, &src, &err), FED_EINVAL);
	CHECK(!a);
	CHECK_HAS(err.msg, "--host-address");
	CHECK_HAS(err.msg, "service ns/fed-tunnel has no load balancer address");
	CHECK_HAS(err.msg, "proxyPublishAddress");
	fed_error_clear(&err);
	CHECK_INT(fedctl_agent_pick_address(NULL, NULL, "ns", NULL, &a, &src, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "there is no service ns/fed-tunnel");
	fed_error_clear(&err);
	CHECK_INT(fedctl_agent_pick_address("nope", NULL, "ns", NULL, &a, &src, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "--host-address");
	cJSON_Delete(lb);
	cJSON_Delete(host);
	cJSON_Delete(v6);
	cJSON_Delete(pending);
}

static void test_server_name(void)
{
	char *pem = slurp("data/fedctl/tunnel.crt"),
	     *ip_only = slurp("data/fedctl/tunnel-ip-only.crt");
	struct fed_error err = FED_ERROR_INIT;
	char *name = NULL;

	CHECK(pem && ip_only);
	if (!pem || !ip_only)
		goto out;
	/* in the certificate: nothing to add */
	CHECK_INT(fedctl_agent_server_name(pem, strlen(pem), "127.0.0.1", &name, &err), 0);
	CHECK(!name);
	CHECK_INT(fedctl_agent_server_name(pem, strlen(pem), "localhost", &name, &err), 0);
	CHECK(!name);
	/* not there: the certificate's first DNS name */
	CHECK_INT(fedctl_agent_server_name(pem, strlen(pem), "203.0.113.7", &name, &err), 0);
	CHECK_STR(name, "fed-tunnel");
	free(name);
	name = NULL;
	CHECK_INT(fedctl_agent_server_name(pem, strlen(pem), "lb.example.com", &name, &err), 0);
	CHECK_STR(name, "fed-tunnel");
	free(name);
	name = NULL;
	/* no DNS name to fall back on */
	CHECK_INT(fedctl_agent_server_name(ip_only, strlen(ip_only), "10.0.0.1", &name, &err), 0);
	CHECK(!name);
	CHECK_INT(fedctl_agent_server_name(ip_only, strlen(ip_only), "203.0.113.7", &name, &err),
	          FED_EINVAL);
	CHECK_HAS(err.msg, "--tunnel-sans");
	fed_error_clear(&err);
	CHECK_INT(fedctl_agent_server_name("junk", 4, "x", &name, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "not a PEM certificate");
out:
	free(pem);
	free(ip_only);
}

static void test_render(void)
{
	static const struct fedctl_agent_rule rules[] = {
	    {"", "configmaps"}, {"apps", "deployments"}, {"", "namespaces"}};
	struct fedctl_agent_spec s;
	struct fed_error err = FED_ERROR_INIT;
	char *out = NULL;

	memset(&s, 0, sizeof(s));
	s.cluster = "edge";
	s.ns = "kube-federation-system";
	s.host_address = "203.0.113.7:8080";
	s.server_name = "fed-tunnel";
	s.image = "fed:0.1.0";
	s.token = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	s.ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	s.ca_len = strlen(s.ca_pem);
	CHECK_INT(fedctl_agent_render(&s, &out, &err), 0);
	CHECK(golden("agent-full", out ? out : ""));
	free(out);

	s.server_name = NULL;
	s.minimal = true;
	s.rules = rules;
	s.n_rules = 3;
	s.proxy_https = "https://fed:pr0xy-pa55@proxy.example.com:3128";
	s.no_proxy = "10.0.0.0/8,.internal";
	s.proxy_ca_pem = "-----BEGIN CERTIFICATE-----\nPROXY\n-----END CERTIFICATE-----\n";
	s.proxy_ca_len = strlen(s.proxy_ca_pem);
	CHECK_INT(fedctl_agent_render(&s, &out, &err), 0);
	CHECK(golden("agent-minimal", out ? out : ""));
	/* the minimal role never binds cluster-admin; the proxy parts are there */
	CHECK(out && !strstr(out, "cluster-admin"));
	CHECK_HAS(out, "--proxy-ca-file=/etc/fed-agent/proxy-ca.crt");
	CHECK_HAS(out, "name: HTTPS_PROXY");
	/* the proxy URL (with its password) only in the Secret, base64: the
	 * Deployment reads it with secretKeyRef */
	CHECK(out && !strstr(out, "pr0xy-pa55"));
	CHECK(out && !strstr(out, "proxy.example.com"));
	CHECK_HAS(out,
	          "secretKeyRef:\n              name: fed-agent\n              key: https-proxy\n");
	CHECK_HAS(out,
	          "  https-proxy: aHR0cHM6Ly9mZWQ6cHIweHktcGE1NUBwcm94eS5leGFtcGxlLmNvbTozMTI4\n");
	CHECK(out && !strstr(out, "\"*\""));
	free(out);
}

static void test_redact(void)
{
	struct fed_error err = FED_ERROR_INIT;

	fed_error_set(&err, FED_EINVAL,
	              "PATCH /x: 422 Invalid: {\"data\":{\"tls.key\":\"c2VjcmV0\"}}");
	err.http_status = 422;
	snprintf(err.reason, sizeof(err.reason), "Invalid");
	fedctl_agent_redact(&err, "patch secret kube-system/fed-tunnel");
	CHECK_INT(err.code, FED_EINVAL);
	CHECK_HAS(err.msg, "patch secret kube-system/fed-tunnel failed: HTTP 422 Invalid");
	CHECK(!strstr(err.msg, "c2VjcmV0"));
}

int main(void)
{
	RUN(test_proxy);
	RUN(test_proxy_same_parser);
	RUN(test_member_role);
	RUN(test_no_proxy);
	RUN(test_split);
	RUN(test_namespace);
	RUN(test_pick);
	RUN(test_server_name);
	RUN(test_render);
	RUN(test_redact);
	return CHECK_EXIT();
}
