/* fedctl enable / disable: what to write and what to remove (no I/O). */
#include <stdio.h>
#include <string.h>

#include "enable.h"

static void to_target(const struct fedctl_type *d, struct fed_api_resource *t)
{
	memset(t, 0, sizeof(*t));
	t->group = d->group;
	t->version = d->version;
	t->kind = d->kind;
	t->plural = d->plural;
	t->namespaced = d->namespaced;
	t->short_names = d->short_names;
}

int fedctl_enable_render(const struct fedctl_type *d, const char *ns, struct fed_type_config *t,
                         cJSON **crd, cJSON **ftc, struct fed_error *err)
{
	struct fed_api_resource target;
	int ret;

	*crd = *ftc = NULL;
	if (!strcmp(d->group, FED_CORE_GROUP) || !strcmp(d->group, FED_TYPES_GROUP) ||
	    !strcmp(d->group, "scheduling.kubefed.io"))
		return fed_error_set(err, FED_EINVAL,
		                     "%s.%s is one of fed's own types and cannot be federated",
		                     d->plural, d->group);
	to_target(d, &target);
	if ((ret = fed_type_config_for_target(&target, t, err)) ||
	    (ret = fed_federated_crd(t, fed_type_scalable(&target), crd, err)) ||
	    (ret = fed_type_config_object(&target, ns, ftc, err)))
		return ret;
	return 0;
}

/* "a.b.c" -> "a" and "b.c" ("" when there is no dot). */
static void split(const char *name, char *first, size_t nf, char *rest, size_t nr)
{
	const char *dot = strchr(name, '.');

	snprintf(first, nf, "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
	snprintf(rest, nr, "%s", dot ? dot + 1 : "");
}

void fedctl_disable_name(const struct fedctl_type *d, const char *arg,
                         struct fedctl_disable_plan *p)
{
	memset(p, 0, sizeof(*p));
	if (d)
		snprintf(p->name, sizeof(p->name), "%s%s%s", d->plural, *d->group ? "." : "",
		         d->group);
	else
		snprintf(p->name, sizeof(p->name), "%s", arg);
	split(p->name, p->plural, sizeof(p->plural), p->group, sizeof(p->group));
}

void fedctl_disable_plan(const struct fed_type_config *t, struct fedctl_disable_plan *p)
{
	if (t && t->federated.plural && t->federated.group)
		snprintf(p->crd_name, sizeof(p->crd_name), "%s.%s", t->federated.plural,
		         t->federated.group);
	else /* no FTC left to read it from: kubefed's default naming */
		snprintf(p->crd_name, sizeof(p->crd_name), "federated%s.%s", p->plural,
		         FED_TYPES_GROUP);
	split(p->crd_name, p->fed_plural, sizeof(p->fed_plural), p->fed_group,
	      sizeof(p->fed_group));
	p->fed_version = t && t->federated.version ? t->federated.version : FED_TYPES_VERSION;
}
