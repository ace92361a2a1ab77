/* Fuzz the kubeconfig parser and resolver: any input must parse or fail
 * with a one-line message, without crashing or leaking. Every context that
 * resolves must also survive render -> parse -> resolve unchanged.
 *
 * Contexts that would read files (certificate-authority, client-*,
 * tokenFile) are not resolved: fuzz input could name /dev/zero or a FIFO.
 * Relative paths point under a directory that does not exist. Exec plugins
 * are resolved (that only copies their config) but never run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/kubeconfig.h"
#include "kubeconfig_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int same_mem(const char *a, size_t alen, const char *b, size_t blen)
{
	return (!a && !b) || (a && b && alen == blen && !memcmp(a, b, alen));
}

static void check_message(const struct fed_error *err)
{
	if (!err->msg[0] || strchr(err->msg, '\n'))
		abort();
}

static void round_trip(const struct fed_rest_config *a)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config b;
	char *yaml = NULL;

	fed_rest_config_init(&b);
	if (fed_kubeconfig_render(a, NULL, &yaml, &err))
		abort(); /* a resolved config always has a server */
	if (fed_kubeconfig_parse(&kc, yaml, strlen(yaml), NULL, &err) ||
	    fed_kubeconfig_rest_config(kc, NULL, &b, &err)) {
		fprintf(stderr, "round trip failed: %s\n%s\n", err.msg, yaml);
		abort();
	}
	if (!same(a->server, b.server) || !same(a->tls_server_name, b.tls_server_name) ||
	    !same(a->proxy_url, b.proxy_url) ||
	    a->insecure_skip_tls_verify != b.insecure_skip_tls_verify ||
	    !same_mem(a->ca_pem, a->ca_len, b.ca_pem, b.ca_len) ||
	    !same_mem(a->cert_pem, a->cert_len, b.cert_pem, b.cert_len) ||
	    !same_mem(a->key_pem, a->key_len, b.key_pem, b.key_len) || !same(a->token, b.token) ||
	    !same(a->context, b.context) || !same(a->cluster, b.cluster) ||
	    !same(a->user, b.user) || !same(a->namespace, b.namespace) || !a->exec != !b.exec ||
	    (a->exec && (!same(a->exec->command, b.exec->command) ||
	                 !same(a->exec->api_version, b.exec->api_version)))) {
		fprintf(stderr, "round trip changed the config:\n%s\n", yaml);
		abort();
	}
	fed_rest_config_release(&b);
	fed_kubeconfig_free(kc);
	free(yaml);
}

static void resolve(const struct fed_kubeconfig *kc, const char *context)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rest_config cfg, copy;

	if (fed_kubeconfig_context_reads_files(kc, context))
		return;
	if (fed_kubeconfig_rest_config(kc, context, &cfg, &err)) {
		check_message(&err);
		return;
	}
	if (fed_rest_config_copy(&copy, &cfg, &err))
		abort();
	fed_rest_config_release(&cfg);
	round_trip(&copy);
	fed_rest_config_release(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	const char *const *names;
	size_t n, i;

	if (size > (1u << 20))
		return 0;
	if (fed_kubeconfig_parse(&kc, (const char *)data, size, "/nonexistent/fed-fuzz/config",
	                         &err)) {
		check_message(&err);
		return 0;
	}
	names = fed_kubeconfig_contexts(kc, &n);
	for (i = 0; i < n && i < 64; i++)
		resolve(kc, names[i]);
	resolve(kc, NULL);
	fed_kubeconfig_free(kc);
	return 0;
}
