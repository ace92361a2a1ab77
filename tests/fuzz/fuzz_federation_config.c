/* Fuzz the Federation parser (the ConfigMap kubefed-config document):
 * any input must parse or fail with a one-line message, without crashing
 * or leaking. Every cluster must be either valid, with everything address
 * selection needs, or invalid with a one-line message; address selection
 * runs on every valid cluster for a few fixed client IPs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const struct fed_error *err)
{
	if (!err->code || !err->msg[0] || strchr(err->msg, '\n'))
		abort();
}

static void check_cluster(const struct fed_cluster_spec *c)
{
	static const char *const ips[] = {"10.1.2.3",        "192.168.0.1", "fd00::1",
	                                  "::ffff:10.1.2.3", "2001:db8::7", "bogus"};
	const char *url, *cidr;
	size_t i, k;
	int ret;

	/* a name is valid or NULL, even on a broken entry: it gets logged */
	if (c->name) {
		for (i = 0; c->name[i]; i++)
			if (!((c->name[i] >= 'a' && c->name[i] <= 'z') ||
			      (c->name[i] >= '0' && c->name[i] <= '9') || c->name[i] == '-' ||
			      c->name[i] == '.'))
				abort();
		if (i == 0 || i > FED_CLUSTER_NAME_MAX)
			abort();
	}
	if (c->err.code) {
		check_message(&c->err);
		if (fed_federation_pick_address(c, ips, 6, &url, &cidr) != FED_EINVAL)
			abort();
		return;
	}
	if (!c->name || !*c->name || strlen(c->name) > FED_CLUSTER_NAME_MAX)
		abort();
	if (c->mode == FED_CLUSTER_DIRECT && c->n_addrs == 0)
		abort();
	for (i = 0; i < c->n_addrs; i++) {
		const struct fed_server_address *a = &c->addrs[i];
		char *again = NULL;
		struct fed_error err = FED_ERROR_INIT;

		if (!a->client_cidr || !a->server_address || !a->server_url ||
		    strncmp(a->server_url, "https://", 8))
			abort();
		/* normalizing is idempotent */
		if (fed_server_url(a->server_url, &again, &err) || strcmp(again, a->server_url)) {
			fprintf(stderr, "not idempotent: %s -> %s (%s)\n", a->server_url,
			        again ? again : "", err.msg);
			abort();
		}
		free(again);
	}
	for (k = 0; k <= 6; k++) {
		ret = fed_federation_pick_address(c, ips + (k == 6 ? 0 : k), k == 6 ? 6 : 1, &url,
		                                  &cidr);
		if (ret == 0 && (!url || !cidr))
			abort();
		if (ret != 0 && ret != FED_ENOTFOUND)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_federation *f = NULL;
	size_t i;

	/* a ConfigMap holds at most 1 MiB */
	if (size > (1u << 20))
		return 0;
	if (fed_federation_parse(&f, (const char *)data, size, "kubefed.yaml", &err)) {
		check_message(&err);
		if (f)
			abort();
		return 0;
	}
	if (f->n > FED_FEDERATION_MAX_CLUSTERS)
		abort();
	for (i = 0; i < f->n; i++)
		check_cluster(&f->clusters[i]);
	fed_federation_free(f);
	return 0;
}
