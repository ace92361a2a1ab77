/* fedctl join --mode agent, the pure checks: the options, the address
 * agents dial and its name in the host certificate. agent.yaml itself:
 * agent_yaml.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent.h"
#include "fed/buf.h"
#include "fed/federation.h"
#include "fed/tunnel_proxy.h"
#include "fedctl.h"

/* The agent parses the URL with fed_proxy_parse_url: checking it with the
 * same parser means fedctl accepts exactly what the agent will use. No
 * message quotes the URL: it may hold a password. */
int fedctl_agent_check_proxy(const char *url, struct fed_error *err)
{
	struct fed_proxy p;
	struct fed_error sub = FED_ERROR_INIT;
	size_t i;
	int ret;

	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return fed_error_set(err, FED_EINVAL,
		                     "--proxy-https takes an http:// or https:// URL of the "
		                     "proxy (e.g. http://proxy.example.com:3128)");
	for (i = 0; url[i]; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == '"' || url[i] == '\\' ||
		    (unsigned char)url[i] >= 0x7f)
			return fed_error_set(err, FED_EINVAL,
			                     "--proxy-https: the URL holds a space, quote or "
			                     "control character");
	memset(&p, 0, sizeof(p));
	ret = fed_proxy_parse_url(url, &p, &sub);
	if (!ret && (!p.host || !*p.host))
		ret = fed_error_set(&sub, FED_EINVAL, "the URL names no proxy host");
	fed_proxy_release(&p);
	if (ret)
		return fed_error_set(err, FED_EINVAL,
		                     "--proxy-https: %s (e.g. http://proxy.example.com:3128 or "
		                     "http://user:password@proxy.example.com:3128)",
		                     sub.msg);
	return 0;
}

static bool domain_ok(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		n -= 2;
	} else if (n >= 1 && s[0] == '.') {
		s++;
		n--;
	}
	if (!n || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (!label)
				return false;
			label = 0;
		} else if (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

int fedctl_agent_check_no_proxy(const char *list, struct fed_error *err)
{
	const char *p = list;

	for (;;) {
		const char *e = p + strcspn(p, ",");
		const char *a = p, *b = e;
		char item[256];
		struct fed_error sub = FED_ERROR_INIT;
		unsigned char addr[16];
		struct fed_cidr c;
		int fam;

		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (a == b || (size_t)(b - a) >= sizeof(item))
			return fed_error_set(err, FED_EINVAL,
			                     "--proxy-skip-range takes a comma list of CIDRs, IPs "
			                     "and domains (e.g. 10.0.0.0/8,.internal.example.com), "
			                     "with no empty item");
		memcpy(item, a, (size_t)(b - a));
		item[b - a] = '\0';
		if (strchr(item, '/')) {
			if (fed_cidr_parse(item, &c, &sub))
				return fed_error_set(err, FED_EINVAL, "--proxy-skip-range: %s",
				                     sub.msg);
		} else if (strcmp(item, "*") && fed_ip_parse(item, &fam, addr) &&
		           !domain_ok(item, strlen(item))) {
			return fed_error_set(err, FED_EINVAL,
			                     "--proxy-skip-range: \"%.100s\" is not a CIDR, an IP "
			                     "or a domain name (e.g. 10.0.0.0/8, 192.168.1.1, "
			                     ".example.com)",
			                     item);
		}
		if (!*e)
			return 0;
		p = e + 1;
	}
}

int fedctl_agent_check_namespace(const char *ns, struct fed_error *err)
{
	size_t i, n = strlen(ns);
	bool ok = n > 0 && n <= 63 && ns[0] != '-' && ns[n - 1] != '-';

	for (i = 0; ok && i < n; i++)
		ok = (ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9') ||
		     ns[i] == '-';
	if (ok)
		return 0;
	return fed_error_set(err, FED_EINVAL,
	                     "--agent-namespace \"%.80s\" is not a namespace name: lower case "
	                     "letters, digits and '-', starting and ending with a letter or "
	                     "digit, at most 63 characters",
	                     ns);
}

/* HOST:PORT into host and *port; false when addr is not one. */
static bool split_address(const char *addr, char *host, size_t n, int *port)
{
	const char *colon, *h = addr, *he;
	unsigned char ip[16];
	char *end;
	long v;
	int fam;

	if (addr[0] == '[') {
		he = strchr(addr, ']');
		if (!he || he[1] != ':')
			return false;
		h = addr + 1;
		colon = he + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || strchr(addr, ':') != colon)
			return false;
		he = colon;
	}
	if (he == h || (size_t)(he - h) >= n)
		return false;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	if (addr[0] == '[' ? fed_ip_parse(host, &fam, ip) || fam != AF_INET6
	                   : fed_ip_parse(host, &fam, ip) && !domain_ok(host, strlen(host)))
		return false;
	if (host[0] == '.' || host[0] == '*')
		return false;
	if (!isdigit((unsigned char)colon[1]))
		return false;
	v = strtol(colon + 1, &end, 10);
	if (*end || v < 1 || v > 65535)
		return false;
	*port = (int)v;
	return true;
}

int fedctl_agent_split_address(const char *addr, char *host, size_t n, int *port,
                               struct fed_error *err)
{
	if (split_address(addr, host, n, port))
		return 0;
	return fed_error_set(err, FED_EINVAL,
	                     "\"%.200s\" is not HOST:PORT (e.g. tunnel.example.com:8080, "
	                     "203.0.113.7:8080 or [2001:db8::1]:8080)",
	                     addr);
}

static char *join_host_port(const char *host, int port)
{
	struct fed_buf b = FED_BUF_INIT;

	fed_buf_printf(&b, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	return fed_buf_detach(&b);
}

int fedctl_agent_pick_address(const char *flag, const cJSON *svc, const char *svc_ns,
                              const char *publish, char **out, const char **source,
                              struct fed_error *err)
{
	char host[256];
	const cJSON *ing, *ports, *p;
	const char *lb = NULL;
	int port = FEDCTL_TUNNEL_DEFAULT_PORT;

	*out = NULL;
	if (flag) {
		if (fedctl_agent_split_address(flag, host, sizeof(host), &port, err))
			return fed_error_wrap(err, "--host-address");
		*source = "--host-address";
		return (*out = strdup(flag)) ? 0 : FED_ENOMEM;
	}
	ing = cJSON_GetArrayItem(
	    cJSON_GetObjectItem(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(svc, "status"), "loadBalancer"), "ingress"),
	    0);
	lb = cJSON_GetStringValue(cJSON_GetObjectItem(ing, "ip"));
	if (!lb || !*lb)
		lb = cJSON_GetStringValue(cJSON_GetObjectItem(ing, "hostname"));
	if (lb && *lb && strlen(lb) < sizeof(host)) {
		ports = cJSON_GetObjectItem(cJSON_GetObjectItem(svc, "spec"), "ports");
		p = cJSON_GetArrayItem(ports, 0);
		cJSON_ArrayForEach(ing, ports) {
			const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(ing, "name"));
			if (name && !strcmp(name, "tunnel")) {
				p = ing;
				break;
			}
		}
		if (cJSON_IsNumber(cJSON_GetObjectItem(p, "port")))
			port = cJSON_GetObjectItem(p, "port")->valueint;
		*source = "the load balancer of service " FEDCTL_TUNNEL_SERVICE;
		return (*out = join_host_port(lb, port)) ? 0 : FED_ENOMEM;
	}
	if (publish) {
		if (fedctl_agent_split_address(publish, host, sizeof(host), &port, err))
			return fed_error_wrap(err, "Federation spec.tunnel.proxyPublishAddress");
		*source = "the Federation's spec.tunnel.proxyPublishAddress";
		return (*out = strdup(publish)) ? 0 : FED_ENOMEM;
	}
	return fed_error_set(
	    err, FED_EINVAL,
	    "no address for the agent to dial: %s %s/%s%s; either pass --host-address "
	    "HOST:PORT, or expose the controller's tunnel with that LoadBalancer Service "
	    "(manifests/04-tunnel-service.yaml), or set spec.tunnel.proxyPublishAddress: "
	    "HOST:PORT in the Federation config (configmap %s/%s)",
	    svc ? "service" : "there is no service", svc_ns, FEDCTL_TUNNEL_SERVICE,
	    svc ? " has no load balancer address yet (status.loadBalancer.ingress)" : "",
	    FEDCTL_CONFIG_NS, FEDCTL_CONFIGMAP);
}

int fedctl_agent_server_name(const char *pem, size_t len, const char *host, char **server_name,
                             struct fed_error *err)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	GENERAL_NAMES *names = NULL;
	unsigned char ip[16];
	int fam, i, ret = 0;
	bool covered;

	*server_name = NULL;
	if (!cert) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "secret %s: the host certificate is not a PEM certificate",
		                    FEDCTL_TUNNEL_SECRET);
		goto out;
	}
	covered = !fed_ip_parse(host, &fam, ip) ? X509_check_ip_asc(cert, host, 0) == 1
	                                        : X509_check_host(cert, host, 0, 0, NULL) == 1;
	if (covered)
		goto out;
	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const unsigned char *s;
		int n;
		if (g->type != GEN_DNS)
			continue;
		s = ASN1_STRING_get0_data(g->d.dNSName);
		n = ASN1_STRING_length(g->d.dNSName);
		if (n <= 0 || memchr(s, '*', (size_t)n) || !domain_ok((const char *)s, (size_t)n))
			continue;
		if (!(*server_name = strndup((const char *)s, (size_t)n)))
			ret = FED_ENOMEM;
		goto out;
	}
	ret = fed_error_set(err, FED_EINVAL,
	                    "the host certificate (secret %s) carries neither %s nor any DNS "
	                    "name the agent could verify instead: add %s to the controller's "
	                    "--tunnel-sans and let it write a new certificate, or pass "
	                    "--host-address with a name the certificate carries",
	                    FEDCTL_TUNNEL_SECRET, host, host);
out:
	GENERAL_NAMES_free(names);
	X509_free(cert);
	BIO_free(bio);
	return ret;
}

void fedctl_agent_redact(struct fed_error *err, const char *what)
{
	int code = err->code ? err->code : FED_ERR, status = err->http_status;
	char reason[sizeof(err->reason)];

	snprintf(reason, sizeof(reason), "%s", err->reason);
	fed_error_clear(err);
	fed_error_set(err, code,
	              "host: %s failed: HTTP %d %s (the server's message is left out: it may "
	              "repeat the Secret's keys)",
	              what, status, *reason ? reason : "error");
	err->http_status = status;
}
