/* FederatedTypeConfig: parsing and defaulting, kubefed's plural rule and
 * the FTC object for a target type. The Federated<Kind> CRD and the
 * default types are in federated_type_crd.c. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/federated_type.h"

#define QUOTE_MAX 80

static int oom(struct fed_error *err)
{
	return fed_error_set(err, FED_ENOMEM, "out of memory");
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !memcmp(s + len - n, suffix, n);
}

char *fed_default_plural(const char *kind)
{
	size_t i, len;
	char *p;

	if (!kind || !*kind)
		return NULL;
	len = strlen(kind);
	p = malloc(len + 4);
	if (!p)
		return NULL;
	for (i = 0; i < len; i++)
		p[i] = (char)tolower((unsigned char)kind[i]);
	p[len] = '\0';
	if (ends_with(p, len, "s") || ends_with(p, len, "x") || ends_with(p, len, "ch") ||
	    ends_with(p, len, "sh") || ends_with(p, len, "z") || ends_with(p, len, "o"))
		strcpy(p + len, "es");
	else if (ends_with(p, len, "y"))
		strcpy(p + len - 1, "ies");
	else
		strcpy(p + len, "s");
	return p;
}

static char *join(const char *a, const char *sep, const char *b)
{
	size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
	char *s = malloc(la + ls + lb + 1);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, sep, ls);
	memcpy(s + la + ls, b, lb + 1);
	return s;
}

char *fed_api_resource_name(const struct fed_api_resource *r)
{
	if (!r->plural)
		return NULL;
	if (!r->group || !*r->group)
		return strdup(r->plural);
	return join(r->plural, ".", r->group);
}

char *fed_api_resource_api_version(const struct fed_api_resource *r)
{
	if (!r->version)
		return NULL;
	if (!r->group || !*r->group)
		return strdup(r->version);
	return join(r->group, "/", r->version);
}

static void free_strv(char **v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

void fed_api_resource_release(struct fed_api_resource *r)
{
	if (!r)
		return;
	free(r->group);
	free(r->version);
	free(r->kind);
	free(r->plural);
	free_strv(r->short_names);
	memset(r, 0, sizeof(*r));
}

void fed_type_config_release(struct fed_type_config *t)
{
	if (!t)
		return;
	free(t->name);
	fed_api_resource_release(&t->target);
	fed_api_resource_release(&t->federated);
	memset(t, 0, sizeof(*t));
}

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return FED_ENOMEM;
	return 0;
}

int fed_api_resource_copy(struct fed_api_resource *dst, const struct fed_api_resource *src,
                          struct fed_error *err)
{
	size_t i, n = 0;
	int rc = 0;

	memset(dst, 0, sizeof(*dst));
	dst->namespaced = src->namespaced;
	if (dup_opt(&dst->group, src->group) || dup_opt(&dst->version, src->version) ||
	    dup_opt(&dst->kind, src->kind) || dup_opt(&dst->plural, src->plural)) {
		rc = oom(err);
		goto out;
	}
	if (src->short_names) {
		while (src->short_names[n])
			n++;
		dst->short_names = calloc(n + 1, sizeof(char *));
		if (!dst->short_names) {
			rc = oom(err);
			goto out;
		}
		for (i = 0; i < n; i++)
			if (!(dst->short_names[i] = strdup(src->short_names[i]))) {
				rc = oom(err);
				goto out;
			}
	}
out:
	if (rc)
		fed_api_resource_release(dst);
	return rc;
}

/* ---- validation ---- */

/* A user value fit for a one-line message: cut, control characters as '?'. */
static const char *quote(char *buf, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s && s[i] && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	if (s && s[i] && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}

struct ctx {
	char who[QUOTE_MAX + 32]; /* "FederatedTypeConfig \"x\"" */
	struct fed_error *err;
};

static int bad(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct ctx *c, const char *fmt, ...)
{
	char msg[FED_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fed_error_set(c->err, FED_EINVAL, "%s: %s", c->who, msg);
}

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
static bool dns_label(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* RFC 1123 subdomain: labels joined by dots, at most 253. */
static bool dns_subdomain(const char *s)
{
	size_t len = strlen(s);
	const char *dot;

	if (len == 0 || len > FED_TYPE_NAME_MAX)
		return false;
	for (;;) {
		dot = strchr(s, '.');
		if (!dns_label(s, dot ? (size_t)(dot - s) : strlen(s)))
			return false;
		if (!dot)
			return true;
		s = dot + 1;
	}
}

static bool valid_kind(const char *s)
{
	size_t i;

	if (!isalpha((unsigned char)s[0]) || strlen(s) > 63)
		return false;
	for (i = 1; s[i]; i++)
		if (!isalnum((unsigned char)s[i]))
			return false;
	return true;
}

/* Check one defaulted resource; path is "spec.targetType" etc. */
static int check_resource(struct ctx *c, const struct fed_api_resource *r, const char *path,
                          bool federated)
{
	char q[QUOTE_MAX];

	if (!valid_kind(r->kind))
		return bad(c,
		           "%s.kind \"%s\" is not a kind: use the CamelCase singular name, "
		           "e.g. Deployment",
		           path, quote(q, sizeof(q), r->kind));
	if (!dns_label(r->version, strlen(r->version)))
		return bad(c, "%s.version \"%s\" is not a version: use e.g. v1 or v1beta1", path,
		           quote(q, sizeof(q), r->version));
	if (!dns_label(r->plural, strlen(r->plural)))
		return bad(c,
		           "%s.pluralName \"%s\" must be a lowercase DNS label of at most 63 "
		           "characters, e.g. deployments",
		           path, quote(q, sizeof(q), r->plural));
	if (*r->group && !dns_subdomain(r->group))
		return bad(c, "%s.group \"%s\" must be a lowercase DNS subdomain, e.g. apps", path,
		           quote(q, sizeof(q), r->group));
	if (federated && !strchr(r->group, '.'))
		return bad(
		    c, "%s.group \"%s\" must contain a dot (a CRD group), e.g. " FED_TYPES_GROUP,
		    path, quote(q, sizeof(q), r->group));
	if (federated && strlen(r->plural) + 1 + strlen(r->group) > FED_TYPE_NAME_MAX)
		return bad(c,
		           "%s: the CRD name <pluralName>.<group> would be longer than %d "
		           "characters: shorten pluralName or group",
		           path, FED_TYPE_NAME_MAX);
	return 0;
}

/* FederatedNamespace is namespaced (placement of namespaced resources is
 * read from it within the namespace); any other federated type has its
 * target's scope. */
static bool federated_namespaced(const struct fed_api_resource *target)
{
	return target->namespaced || (!*target->group && !strcmp(target->plural, "namespaces"));
}

/* Default t->federated (fields NULL when not given) from t->target, which
 * is complete. given_scope: -1 absent, 0 Cluster, 1 Namespaced. */
static int default_federated(struct ctx *c, struct fed_type_config *t, int given_scope)
{
	struct fed_api_resource *f = &t->federated;
	const char *path = "spec.federatedType";
	bool default_kind = !f->kind;

	f->namespaced = federated_namespaced(&t->target);
	if ((!f->kind && !(f->kind = join("Federated", "", t->target.kind))) ||
	    (!f->group && !(f->group = strdup(FED_TYPES_GROUP))) ||
	    (!f->version && !(f->version = strdup(FED_TYPES_VERSION))))
		return oom(c->err);
	/* kubefed defaults the plural to PluralName(kind): the same for every
	 * target whose plural follows the rule, wrong for the others
	 * (Endpoints would give federatedendpointses). */
	if (!f->plural && (default_kind || (!strncmp(f->kind, "Federated", 9) &&
	                                    !strcmp(f->kind + 9, t->target.kind))))
		f->plural = join("federated", "", t->target.plural);
	else if (!f->plural)
		f->plural = fed_default_plural(f->kind);
	if (!f->plural)
		return oom(c->err);
	if (given_scope >= 0 && (given_scope == 1) != f->namespaced)
		return bad(c, "%s.scope is %s but must be %s%s: fix or remove it", path,
		           given_scope ? "Namespaced" : "Cluster",
		           f->namespaced ? "Namespaced" : "Cluster",
		           f->namespaced && !t->target.namespaced
		               ? " (FederatedNamespace is namespaced though Namespace is not)"
		               : " (the target type's scope)");
	return check_resource(c, f, path, true);
}

/* ---- parsing ---- */

/* A string field: *out NULL when absent, null or "" (Go's omitempty). */
static int get_str(struct ctx *c, const cJSON *obj, const char *path, const char *key,
                   const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return bad(c, "%s%s%s must be a string", path, *path ? "." : "", key);
	if (*v->valuestring)
		*out = v->valuestring;
	return 0;
}

/* A "A" | "B" field: *out -1 when absent, 0 for a, 1 for b. */
static int get_enum(struct ctx *c, const cJSON *obj, const char *path, const char *key,
                    const char *a, const char *b, int *out)
{
	const char *s;
	char q[QUOTE_MAX];
	int rc;

	*out = -1;
	if ((rc = get_str(c, obj, path, key, &s)) || !s)
		return rc;
	if (!strcmp(s, a))
		*out = 0;
	else if (!strcmp(s, b))
		*out = 1;
	else
		return bad(c, "%s.%s must be \"%s\" or \"%s\", not \"%s\"", path, key, a, b,
		           quote(q, sizeof(q), s));
	return 0;
}

/* Copy the given fields of an APIResource; *scope as get_enum. */
static int get_resource(struct ctx *c, const cJSON *obj, const char *path,
                        struct fed_api_resource *r, int *scope)
{
	const char *group, *version, *kind, *plural;
	int rc;

	*scope = -1;
	if ((rc = get_str(c, obj, path, "group", &group)) ||
	    (rc = get_str(c, obj, path, "version", &version)) ||
	    (rc = get_str(c, obj, path, "kind", &kind)) ||
	    (rc = get_str(c, obj, path, "pluralName", &plural)) ||
	    (rc = get_enum(c, obj, path, "scope", "Cluster", "Namespaced", scope)))
		return rc;
	if (dup_opt(&r->group, group) || dup_opt(&r->version, version) || dup_opt(&r->kind, kind) ||
	    dup_opt(&r->plural, plural))
		return oom(c->err);
	r->namespaced = *scope == 1;
	return 0;
}

static const cJSON *get_obj(struct ctx *c, const cJSON *parent, const char *key, bool required,
                            const char *path, const char *fix, int *rc)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);

	*rc = 0;
	if (v && !cJSON_IsNull(v) && !cJSON_IsObject(v))
		*rc = bad(c, "%s must be an object", path);
	else if ((!v || cJSON_IsNull(v)) && required)
		*rc = bad(c, "%s is missing: %s", path, fix);
	return *rc || !v || cJSON_IsNull(v) ? NULL : v;
}

/* Target defaults from the name (kubefed), then the name check. */
static int default_target(struct ctx *c, struct fed_type_config *t, int scope)
{
	struct fed_api_resource *r = &t->target;
	const char *dot = strchr(t->name, '.');
	char q[QUOTE_MAX], *want = NULL;
	int rc = 0;

	if (!r->kind || !r->version) {
		rc = bad(c, "spec.targetType.%s is missing: set it, e.g. %s",
		         r->kind ? "version" : "kind", r->kind ? "v1" : "Deployment");
		goto out;
	}
	if (scope < 0) {
		rc = bad(c, "spec.targetType.scope is missing: set Namespaced or Cluster");
		goto out;
	}
	if (!r->plural &&
	    !(r->plural = dot ? strndup(t->name, (size_t)(dot - t->name)) : strdup(t->name))) {
		rc = oom(c->err);
		goto out;
	}
	if (!r->group && !(r->group = strdup(dot ? dot + 1 : ""))) {
		rc = oom(c->err);
		goto out;
	}
	if ((rc = check_resource(c, r, "spec.targetType", false)))
		goto out;
	if (!(want = fed_api_resource_name(r))) {
		rc = oom(c->err);
		goto out;
	}
	if (strcmp(want, t->name))
		rc = bad(c,
		         "metadata.name must be \"<targetType.pluralName>[.<targetType.group>]\" "
		         "= \"%s\": rename it or fix spec.targetType",
		         quote(q, sizeof(q), want));
out:
	free(want);
	return rc;
}

int fed_type_config_parse(const cJSON *o, struct fed_type_config *out, struct fed_error *err)
{
	struct ctx c = {"FederatedTypeConfig", err};
	const cJSON *meta, *spec, *tt, *ft;
	const char *s, *name;
	char q[QUOTE_MAX];
	int rc, tscope, fscope, mode;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(o)) {
		rc = bad(&c, "not a JSON object");
		goto out;
	}
	if ((rc = get_str(&c, o, "", "kind", &s)))
		goto out;
	if (s && strcmp(s, FED_FTC_KIND)) {
		rc = bad(&c, "kind is \"%s\", not " FED_FTC_KIND, quote(q, sizeof(q), s));
		goto out;
	}
	if ((rc = get_str(&c, o, "", "apiVersion", &s)))
		goto out;
	if (s && strcmp(s, FED_FTC_API_VERSION)) {
		rc = bad(&c, "apiVersion is \"%s\": fed reads " FED_FTC_API_VERSION,
		         quote(q, sizeof(q), s));
		goto out;
	}
	meta = get_obj(&c, o, "metadata", true, "metadata", "set metadata.name", &rc);
	if (rc || (rc = get_str(&c, meta, "metadata", "name", &name)))
		goto out;
	if (!name) {
		rc = bad(&c, "metadata.name is missing: name it <plural>[.<group>] of the target "
		             "type, e.g. deployments.apps");
		goto out;
	}
	snprintf(c.who, sizeof(c.who), "FederatedTypeConfig \"%s\"", quote(q, sizeof(q), name));
	if (!(out->name = strdup(name))) {
		rc = oom(err);
		goto out;
	}
	spec =
	    get_obj(&c, o, "spec", true, "spec", "set spec.targetType and spec.propagation", &rc);
	if (rc)
		goto out;
	tt = get_obj(&c, spec, "targetType", true, "spec.targetType",
	             "set its kind, version and scope", &rc);
	if (rc || (rc = get_resource(&c, tt, "spec.targetType", &out->target, &tscope)) ||
	    (rc = default_target(&c, out, tscope)))
		goto out;
	ft = get_obj(&c, spec, "federatedType", false, "spec.federatedType", NULL, &rc);
	fscope = -1;
	if (rc ||
	    (ft && (rc = get_resource(&c, ft, "spec.federatedType", &out->federated, &fscope))) ||
	    (rc = default_federated(&c, out, fscope)))
		goto out;
	if ((rc = get_enum(&c, spec, "spec", "propagation", "Disabled", "Enabled", &mode)))
		goto out;
	out->propagation_enabled = mode == 1;
	if ((rc = get_enum(&c, spec, "spec", "statusCollection", "Disabled", "Enabled", &mode)))
		goto out;
	out->status_collection = mode == 1;
out:
	if (rc)
		fed_type_config_release(out);
	return rc;
}

int fed_type_config_for_target(const struct fed_api_resource *target, struct fed_type_config *t,
                               struct fed_error *err)
{
	struct ctx c = {"target type", err};
	char q[QUOTE_MAX];
	int rc;

	memset(t, 0, sizeof(*t));
	if (!target->kind || !target->version || !target->plural) {
		rc = bad(&c, "kind, version and plural are required");
		goto out;
	}
	snprintf(c.who, sizeof(c.who), "target type %s", quote(q, sizeof(q), target->kind));
	if ((rc = fed_api_resource_copy(&t->target, target, err)))
		goto out;
	if (!t->target.group && !(t->target.group = strdup(""))) {
		rc = oom(err);
		goto out;
	}
	if ((rc = check_resource(&c, &t->target, "target", false)) ||
	    (rc = default_federated(&c, t, -1)))
		goto out;
	if (!(t->name = fed_api_resource_name(&t->target))) {
		rc = oom(err);
		goto out;
	}
	t->propagation_enabled = true;
out:
	if (rc)
		fed_type_config_release(t);
	return rc;
}

/* Add the APIResource r as parent[key]. */
static bool add_resource(cJSON *parent, const char *key, const struct fed_api_resource *r)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToObject(parent, key, o)) {
		cJSON_Delete(o);
		return false;
	}
	return (!*r->group || cJSON_AddStringToObject(o, "group", r->group)) &&
	       cJSON_AddStringToObject(o, "version", r->version) &&
	       cJSON_AddStringToObject(o, "kind", r->kind) &&
	       cJSON_AddStringToObject(o, "pluralName", r->plural) &&
	       cJSON_AddStringToObject(o, "scope", r->namespaced ? "Namespaced" : "Cluster");
}

int fed_type_config_object(const struct fed_api_resource *target, const char *ns, cJSON **out,
                           struct fed_error *err)
{
	struct fed_type_config t;
	cJSON *o = NULL, *meta, *spec;
	int rc;

	*out = NULL;
	if ((rc = fed_type_config_for_target(target, &t, err)))
		goto out;
	if (!(o = cJSON_CreateObject()) ||
	    !cJSON_AddStringToObject(o, "apiVersion", FED_FTC_API_VERSION) ||
	    !cJSON_AddStringToObject(o, "kind", FED_FTC_KIND) ||
	    !(meta = cJSON_AddObjectToObject(o, "metadata")) ||
	    !cJSON_AddStringToObject(meta, "name", t.name) ||
	    (ns && !cJSON_AddStringToObject(meta, "namespace", ns)) ||
	    !(spec = cJSON_AddObjectToObject(o, "spec")) ||
	    !add_resource(spec, "targetType", &t.target) ||
	    !add_resource(spec, "federatedType", &t.federated) ||
	    !cJSON_AddStringToObject(spec, "propagation", "Enabled")) {
		rc = oom(err);
		goto out;
	}
	*out = o;
	o = NULL;
out:
	cJSON_Delete(o);
	fed_type_config_release(&t);
	return rc;
}
