/* enable / disable: find a type on the host the way kubectl resolves
 * names. Kept apart because fed/discovery.h and fed/federated_type.h both
 * define a struct fed_api_resource. */
#include <stdlib.h>
#include <string.h>

#include "fed/discovery.h"
#include "fedctl.h"

struct disco {
	bool done;
	struct fed_discovery *d;
	struct fed_error err;
};

static void disco_cb(struct fed_discovery *d, const struct fed_error *err, void *ud)
{
	struct disco *r = ud;

	r->done = true;
	r->d = d;
	if (err)
		r->err = *err;
}

void fedctl_type_release(struct fedctl_type *t)
{
	char **s;

	free(t->group);
	free(t->version);
	free(t->kind);
	free(t->plural);
	for (s = t->short_names; s && *s; s++)
		free(*s);
	free(t->short_names);
	memset(t, 0, sizeof(*t));
}

int fedctl_discover(struct fedctl *ctx, struct fed_kube_client *c, struct fed_discovery **out,
                    struct fed_error *err)
{
	struct disco r;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	if (fed_kube_discover(c, disco_cb, &r, err))
		return err->code;
	if (fed_kube_wait(ctx->loop, &r.done, 60))
		return fed_error_set(err, FED_ETIMEOUT, "discovery: no answer within 60s");
	if (!r.d) {
		*err = r.err;
		return err->code ? err->code : FED_EINVAL;
	}
	*out = r.d;
	return 0;
}

int fedctl_discover_type(struct fedctl *ctx, struct fed_kube_client *c, const char *name,
                         struct fedctl_type *out, struct fed_error *err)
{
	const struct fed_api_resource *a;
	struct fed_discovery *d = NULL;
	size_t n = 0, i;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (fedctl_discover(ctx, c, &d, err))
		return fed_error_wrap(err, "host");
	a = fed_discovery_find(d, name);
	if (!a) {
		ret = fed_error_set(err, FED_ENOTFOUND,
		                    "the host serves no resource type \"%s\" (fedctl api-resources "
		                    "lists them; a custom resource needs its CRD installed first)",
		                    name);
		goto out;
	}
	for (i = 0; a->short_names && a->short_names[i]; i++)
		n++;
	out->group = strdup(a->r.group ? a->r.group : "");
	out->version = strdup(a->r.version);
	out->kind = strdup(a->kind);
	out->plural = strdup(a->r.resource);
	out->namespaced = a->r.namespaced;
	if (n && (out->short_names = calloc(n + 1, sizeof(char *))))
		for (i = 0; i < n; i++)
			out->short_names[i] = strdup(a->short_names[i]);
	if (!out->group || !out->version || !out->kind || !out->plural) {
		fedctl_type_release(out);
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
	}
out:
	fed_discovery_free(d);
	return ret;
}
