/* Overrides: validation of spec.overrides (kubefed's
 * pkg/controller/util/overrides.go rules) and an RFC 6902 JSON patch
 * (add, remove, replace) with RFC 6901 pointers. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/map.h"
#include "fed/propagation.h"
#include "propagation_internal.h"

/* ---- JSON pointers ---- */

struct pointer {
	char *buf;  /* the unescaped tokens, NUL-separated */
	char **tok; /* n tokens into buf */
	size_t n;
};

enum ptr_err { PTR_OK, PTR_NOMEM, PTR_NO_SLASH, PTR_BAD_ESCAPE };

static void pointer_release(struct pointer *p)
{
	free(p->buf);
	free(p->tok);
	p->buf = NULL;
	p->tok = NULL;
	p->n = 0;
}

/* Split an RFC 6901 pointer into unescaped tokens ("" is the whole document). */
static enum ptr_err pointer_parse(const char *path, struct pointer *p)
{
	enum ptr_err ret = PTR_OK;
	const char *s;
	char *o;
	size_t n = 0;

	p->buf = NULL;
	p->tok = NULL;
	p->n = 0;
	if (!*path)
		goto out;
	if (*path != '/') {
		ret = PTR_NO_SLASH;
		goto out;
	}
	for (s = path; *s; s++)
		if (*s == '/')
			n++;
	p->buf = malloc(strlen(path) + 1);
	p->tok = calloc(n, sizeof(*p->tok));
	if (!p->buf || !p->tok) {
		ret = PTR_NOMEM;
		goto out;
	}
	o = p->buf;
	for (s = path; *s; s++) {
		if (*s == '/') {
			if (s != path)
				*o++ = '\0';
			p->tok[p->n++] = o;
		} else if (*s == '~') {
			if (s[1] == '0')
				*o++ = '~';
			else if (s[1] == '1')
				*o++ = '/';
			else {
				ret = PTR_BAD_ESCAPE;
				goto out;
			}
			s++;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
out:
	if (ret)
		pointer_release(p);
	return ret;
}

/* Length of the raw prefix of `path` that names its first k tokens. */
static size_t raw_prefix_len(const char *path, size_t k)
{
	size_t i, seen = 0;

	for (i = 0; path[i]; i++)
		if (path[i] == '/' && seen++ == k)
			return i;
	return i;
}

/* Message for a pointer that does not parse; fills err. */
static int pointer_error(enum ptr_err e, const char *field, const char *path, struct fed_error *err)
{
	char q[FED_QUOTE_BUF];

	fed_quote(q, sizeof(q), path);
	switch (e) {
	case PTR_NOMEM:
		return fed_error_set(err, FED_ENOMEM, "%s: out of memory", field);
	case PTR_NO_SLASH:
		return fed_error_set(err, FED_EINVAL,
		                     "%s: %s is not a JSON pointer: start it with /, as in "
		                     "/spec/replicas",
		                     field, q);
	case PTR_BAD_ESCAPE:
	default:
		return fed_error_set(err, FED_EINVAL,
		                     "%s: %s has a ~ not followed by 0 or 1: write ~0 for ~ and ~1 "
		                     "for /",
		                     field, q);
	}
}

/* ---- override validation ---- */

enum op_kind { OPK_ADD, OPK_REMOVE, OPK_REPLACE };

/* op: absent, null or "" mean replace. Returns -1 for anything else unknown. */
static int op_kind(const cJSON *op)
{
	if (!op || cJSON_IsNull(op))
		return OPK_REPLACE;
	if (!cJSON_IsString(op))
		return -1;
	if (!op->valuestring[0] || !strcmp(op->valuestring, "replace"))
		return OPK_REPLACE;
	if (!strcmp(op->valuestring, "add"))
		return OPK_ADD;
	if (!strcmp(op->valuestring, "remove"))
		return OPK_REMOVE;
	return -1;
}

static const char *op_name(int k)
{
	return k == OPK_ADD ? "add" : k == OPK_REMOVE ? "remove" : "replace";
}

static int bad_op(const char *field, const cJSON *op, struct fed_error *err)
{
	char q[FED_QUOTE_BUF];

	if (!cJSON_IsString(op))
		return fed_error_set(
		    err, FED_EINVAL,
		    "%s.op: must be a string: add, remove or replace (the default)", field);
	return fed_error_set(err, FED_EINVAL,
	                     "%s.op: %s is not supported: use add, remove or replace (the default)",
	                     field, fed_quote(q, sizeof(q), op->valuestring));
}

/* One clusterOverrides entry; paths maps path -> index + 1 within the cluster. */
static int validate_one(const cJSON *co, size_t i, size_t j, const char *cluster,
                        struct fed_map *paths, struct fed_error *err)
{
	char field[96], q[FED_QUOTE_BUF], qc[FED_QUOTE_BUF];
	struct pointer p = {NULL, NULL, 0};
	const cJSON *op, *path;
	const char *ps;
	enum ptr_err pe;
	void *first;
	int kind, ret = 0;

	snprintf(field, sizeof(field), "spec.overrides[%zu].clusterOverrides[%zu]", i, j);
	if (!cJSON_IsObject(co)) {
		ret = fed_error_set(err, FED_EINVAL, "%s: must be an object {op, path, value}",
		                    field);
		goto out;
	}
	op = cJSON_GetObjectItemCaseSensitive(co, "op");
	kind = op_kind(op);
	if (kind < 0) {
		ret = bad_op(field, op, err);
		goto out;
	}
	path = cJSON_GetObjectItemCaseSensitive(co, "path");
	if (!cJSON_IsString(path)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s.path: required: a JSON pointer such as /spec/replicas",
		                    field);
		goto out;
	}
	ps = path->valuestring;
	fed_quote(q, sizeof(q), ps);
	if (!*ps) {
		ret =
		    fed_error_set(err, FED_EINVAL,
		                  "%s.path: \"\" would replace the whole object: point at a field "
		                  "such as /spec/replicas",
		                  field);
		goto out;
	}
	pe = pointer_parse(ps, &p);
	if (pe) {
		char f[112];

		snprintf(f, sizeof(f), "%s.path", field);
		ret = pointer_error(pe, f, ps, err);
		goto out;
	}
	if (!strcmp(ps, "/metadata/name") || !strcmp(ps, "/metadata/namespace") ||
	    !strcmp(ps, "/metadata/generateName")) {
		ret =
		    fed_error_set(err, FED_EINVAL,
		                  "%s.path: %s cannot be overridden: name and namespace come from "
		                  "the federated object",
		                  field, q);
		goto out;
	}
	if (!strcmp(ps, "/kind")) {
		ret =
		    fed_error_set(err, FED_EINVAL,
		                  "%s.path: %s cannot be overridden: kind comes from the federated "
		                  "type",
		                  field, q);
		goto out;
	}
	if (kind != OPK_REMOVE && !cJSON_GetObjectItemCaseSensitive(co, "value")) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s.value: required for op %s (write value: null for a null)",
		                    field, op_name(kind));
		goto out;
	}
	first = fed_map_get(paths, ps);
	if (first) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s.path: %s appears twice for cluster %s (first at "
		                    "clusterOverrides[%zu]): keep one",
		                    field, q, fed_quote(qc, sizeof(qc), cluster),
		                    (size_t)((uintptr_t)first - 1));
		goto out;
	}
	if (fed_map_put(paths, ps, (void *)(uintptr_t)(j + 1), NULL)) {
		ret = fed_error_set(err, FED_ENOMEM, "%s: out of memory", field);
		goto out;
	}
out:
	pointer_release(&p);
	return ret;
}

int fed_overrides_validate(const cJSON *overrides, struct fed_error *err)
{
	char q[FED_QUOTE_BUF];
	struct fed_map names = FED_MAP_INIT, paths = FED_MAP_INIT;
	const cJSON *o, *cos, *co;
	size_t i = 0, j;
	int ret = 0;

	if (!overrides || cJSON_IsNull(overrides))
		goto out;
	if (!cJSON_IsArray(overrides)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "spec.overrides: must be a list of {clusterName, "
		                    "clusterOverrides}");
		goto out;
	}
	cJSON_ArrayForEach(o, overrides) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "clusterName");
		void *first;

		if (!cJSON_IsObject(o)) {
			ret = fed_error_set(err, FED_EINVAL,
			                    "spec.overrides[%zu]: must be an object {clusterName, "
			                    "clusterOverrides}",
			                    i);
			goto out;
		}
		if (!cJSON_IsString(name) || !name->valuestring[0]) {
			ret = fed_error_set(err, FED_EINVAL,
			                    "spec.overrides[%zu].clusterName: required: the "
			                    "KubeFedCluster these overrides apply to",
			                    i);
			goto out;
		}
		first = fed_map_get(&names, name->valuestring);
		if (first) {
			ret = fed_error_set(
			    err, FED_EINVAL,
			    "spec.overrides[%zu].clusterName: %s appears twice (first at "
			    "spec.overrides[%zu]): put all its clusterOverrides in one "
			    "entry",
			    i, fed_quote(q, sizeof(q), name->valuestring),
			    (size_t)((uintptr_t)first - 1));
			goto out;
		}
		if (fed_map_put(&names, name->valuestring, (void *)(uintptr_t)(i + 1), NULL)) {
			ret = fed_error_set(err, FED_ENOMEM, "spec.overrides: out of memory");
			goto out;
		}
		cos = cJSON_GetObjectItemCaseSensitive(o, "clusterOverrides");
		if (cos && !cJSON_IsNull(cos) && !cJSON_IsArray(cos)) {
			ret =
			    fed_error_set(err, FED_EINVAL,
			                  "spec.overrides[%zu].clusterOverrides: must be a list of "
			                  "{op, path, value}",
			                  i);
			goto out;
		}
		fed_map_release(&paths, NULL);
		fed_map_init(&paths);
		j = 0;
		cJSON_ArrayForEach(co, (cJSON_IsArray(cos) ? cos : NULL)) {
			ret = validate_one(co, i, j++, name->valuestring, &paths, err);
			if (ret)
				goto out;
		}
		i++;
	}
out:
	fed_map_release(&names, NULL);
	fed_map_release(&paths, NULL);
	return ret;
}

int fed_prop_overrides_index(const cJSON *overrides, const char *cluster)
{
	const cJSON *o;
	int i = 0;

	if (!cluster)
		return -1;
	cJSON_ArrayForEach(o, (cJSON_IsArray(overrides) ? overrides : NULL)) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "clusterName");

		if (cJSON_IsString(name) && !strcmp(name->valuestring, cluster))
			return i;
		i++;
	}
	return -1;
}

const cJSON *fed_overrides_for(const cJSON *overrides, const char *cluster)
{
	int i = fed_prop_overrides_index(overrides, cluster);
	const cJSON *cos;

	if (i < 0)
		return NULL;
	cos =
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(overrides, i), "clusterOverrides");
	return cJSON_IsArray(cos) ? cos : NULL;
}

/* ---- JSON patch ---- */

/* Container nesting of v, counting at most budget + 1 levels. */
static int depth_of(const cJSON *v, int budget)
{
	const cJSON *c;
	int d, max = 0;

	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return 0;
	if (budget <= 0)
		return 1;
	for (c = v->child; c; c = c->next) {
		d = depth_of(c, budget - 1);
		if (d > max)
			max = d;
		if (max >= budget)
			break;
	}
	return max + 1;
}

/* Swap the values (not the names or list links) of two items. */
static void swap_values(cJSON *a, cJSON *b)
{
	const int value_bits = 0xff | cJSON_IsReference;
	cJSON tmp = *a;

	a->type = (a->type & ~value_bits) | (b->type & value_bits);
	a->child = b->child;
	a->valuestring = b->valuestring;
	a->valueint = b->valueint;
	a->valuedouble = b->valuedouble;
	b->type = (b->type & ~value_bits) | (tmp.type & value_bits);
	b->child = tmp.child;
	b->valuestring = tmp.valuestring;
	b->valueint = tmp.valueint;
	b->valuedouble = tmp.valuedouble;
}

/* Link item into arr before `before` (Debian's cJSON_InsertItemInArray
 * refuses some valid inserts). cJSON keeps child->prev at the last item. */
static void insert_before(cJSON *arr, cJSON *before, cJSON *item)
{
	item->next = before;
	item->prev = before->prev;
	if (before == arr->child)
		arr->child = item;
	else
		item->prev->next = item;
	before->prev = item;
}

/* An array index token: "0" or [1-9][0-9]*; -1 if it is not one. */
static long array_index(const char *t)
{
	long v = 0;
	const char *s;

	if (!*t || (t[0] == '0' && t[1]))
		return -1;
	for (s = t; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000L)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

struct op_ctx {
	const char *where; /* "ops" */
	size_t idx;
	const char *opname;
	const char *path; /* raw */
	struct fed_error *err;
};

static int op_fail(const struct op_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int op_fail(const struct op_ctx *c, const char *fmt, ...)
{
	char q[FED_QUOTE_BUF], what[FED_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fed_error_set(c->err, FED_EINVAL, "%s[%zu] %s %s: %s", c->where, c->idx, c->opname,
	                     fed_quote(q, sizeof(q), c->path), what);
}

/* The raw prefix naming the first k tokens, quoted. */
static const char *prefix_q(char *q, size_t n, const char *path, size_t k)
{
	char raw[FED_QUOTE_MAX + 1];
	size_t len = raw_prefix_len(path, k);

	if (len > FED_QUOTE_MAX)
		len = FED_QUOTE_MAX;
	memcpy(raw, path, len);
	raw[len] = '\0';
	return fed_quote(q, n, raw);
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	return "not a container";
}

/* Walk to the item named by tokens [0, upto) of p. */
static int walk(cJSON *root, const struct pointer *p, size_t upto, const struct op_ctx *c,
                cJSON **found)
{
	char q[FED_QUOTE_BUF], qt[FED_QUOTE_BUF];
	cJSON *cur = root, *next;
	size_t k;
	long ix;
	int size, ret = 0;

	for (k = 0; k < upto; k++) {
		const char *t = p->tok[k];

		if (cJSON_IsObject(cur)) {
			next = cJSON_GetObjectItemCaseSensitive(cur, t);
			if (!next) {
				ret = op_fail(c, "%s has no member %s",
				              prefix_q(q, sizeof(q), c->path, k),
				              fed_quote(qt, sizeof(qt), t));
				goto out;
			}
		} else if (cJSON_IsArray(cur)) {
			ix = array_index(t);
			if (ix < 0) {
				ret = op_fail(c, "%s is a list and %s is not an index (0, 1, ...)",
				              prefix_q(q, sizeof(q), c->path, k),
				              fed_quote(qt, sizeof(qt), t));
				goto out;
			}
			next =
			    ix < cJSON_GetArraySize(cur) ? cJSON_GetArrayItem(cur, (int)ix) : NULL;
			if (!next) {
				size = cJSON_GetArraySize(cur);
				ret = op_fail(c, "index %ld is out of range: %s has %d item%s", ix,
				              prefix_q(q, sizeof(q), c->path, k), size,
				              size == 1 ? "" : "s");
				goto out;
			}
		} else {
			ret = op_fail(c, "%s is %s, not an object or a list",
			              prefix_q(q, sizeof(q), c->path, k), type_name(cur));
			goto out;
		}
		cur = next;
	}
	*found = cur;
out:
	return ret;
}

/* The op's kind and parsed path; sets c->opname and c->path for the
 * messages of the steps after it. */
static int parse_op(const cJSON *o, struct op_ctx *c, const char *field, int *kind,
                    struct pointer *p)
{
	const cJSON *op, *path;
	enum ptr_err pe;
	char f[112];
	int ret = 0;

	if (!cJSON_IsObject(o)) {
		ret = fed_error_set(c->err, FED_EINVAL, "%s: must be an object {op, path, value}",
		                    field);
		goto out;
	}
	op = cJSON_GetObjectItemCaseSensitive(o, "op");
	*kind = op_kind(op);
	if (*kind < 0) {
		ret = bad_op(field, op, c->err);
		goto out;
	}
	c->opname = op_name(*kind);
	path = cJSON_GetObjectItemCaseSensitive(o, "path");
	if (!cJSON_IsString(path)) {
		ret = fed_error_set(c->err, FED_EINVAL,
		                    "%s.path: required: a JSON pointer such as /spec/replicas",
		                    field);
		goto out;
	}
	c->path = path->valuestring;
	pe = pointer_parse(path->valuestring, p);
	if (pe) {
		snprintf(f, sizeof(f), "%s.path", field);
		ret = pointer_error(pe, f, path->valuestring, c->err);
	}
out:
	return ret;
}

/* A nameless copy of the op's value (add, replace), not nesting the
 * result deeper than the limit once placed at depth p->n. */
static int copy_value(const cJSON *o, const struct pointer *p, struct op_ctx *c, const char *field,
                      cJSON **dup)
{
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(o, "value");
	int ret = 0;

	if (!value) {
		ret = op_fail(c, "value is required (write value: null for a null)");
		goto out;
	}
	if ((int)p->n + depth_of(value, FED_JSON_MAX_DEPTH) > FED_JSON_MAX_DEPTH) {
		ret = op_fail(c, "the result would nest deeper than %d levels", FED_JSON_MAX_DEPTH);
		goto out;
	}
	*dup = cJSON_Duplicate(value, 1);
	if (!*dup) {
		ret = fed_error_set(c->err, FED_ENOMEM, "%s: out of memory", field);
		goto out;
	}
	/* an array item has no name; an object member gets its own below */
	if (!((*dup)->type & cJSON_StringIsConst))
		cJSON_free((*dup)->string);
	(*dup)->string = NULL;
	(*dup)->type &= ~cJSON_StringIsConst;
out:
	return ret;
}

/* The op on member last of the object parent; takes *dup when used. */
static int apply_in_object(cJSON *parent, const struct pointer *p, int kind, cJSON **dup,
                           struct op_ctx *c, const char *field)
{
	char q[FED_QUOTE_BUF], qt[FED_QUOTE_BUF];
	const char *last = p->tok[p->n - 1];
	cJSON *target = cJSON_GetObjectItemCaseSensitive(parent, last);
	int ret = 0;

	if (!target && kind != OPK_ADD) {
		ret = op_fail(c, "%s has no member %s%s", prefix_q(q, sizeof(q), c->path, p->n - 1),
		              fed_quote(qt, sizeof(qt), last),
		              kind == OPK_REPLACE ? ": use op add to create it" : "");
		goto out;
	}
	if (kind == OPK_REMOVE) {
		cJSON_Delete(cJSON_DetachItemViaPointer(parent, target));
		goto out;
	}
	if (target) {
		/* names dup and replaces target in place (keeps the member order) */
		cJSON_ReplaceItemInObjectCaseSensitive(parent, last, *dup);
	} else if (!cJSON_AddItemToObject(parent, last, *dup)) {
		ret = fed_error_set(c->err, FED_ENOMEM, "%s: out of memory", field);
		goto out;
	}
	*dup = NULL;
out:
	return ret;
}

/* The index the last token names in a list of size items: "-" (append)
 * or one that exists (add also takes size). */
static int list_index(const struct pointer *p, int size, int kind, struct op_ctx *c, long *ix)
{
	char q[FED_QUOTE_BUF], qt[FED_QUOTE_BUF];
	const char *last = p->tok[p->n - 1];
	int ret = 0;

	if (!strcmp(last, "-")) {
		if (kind != OPK_ADD)
			ret = op_fail(c, "\"-\" names no existing item: use an index (0, 1, ...)");
		*ix = size;
		goto out;
	}
	*ix = array_index(last);
	if (*ix < 0) {
		ret = op_fail(c,
		              "%s is a list and %s is not an index (0, 1, ... or - to "
		              "append)",
		              prefix_q(q, sizeof(q), c->path, p->n - 1),
		              fed_quote(qt, sizeof(qt), last));
		goto out;
	}
	if (*ix > size || (*ix == size && kind != OPK_ADD))
		ret =
		    op_fail(c, "index %ld is out of range: %s has %d item%s", *ix,
		            prefix_q(q, sizeof(q), c->path, p->n - 1), size, size == 1 ? "" : "s");
out:
	return ret;
}

/* The op on an item of the list parent; takes *dup when used. */
static int apply_in_list(cJSON *parent, const struct pointer *p, int kind, cJSON **dup,
                         struct op_ctx *c)
{
	int size = cJSON_GetArraySize(parent), ret;
	long ix;

	ret = list_index(p, size, kind, c, &ix);
	if (ret)
		goto out;
	if (kind == OPK_REMOVE) {
		cJSON_DeleteItemFromArray(parent, (int)ix);
	} else if (kind == OPK_REPLACE) {
		cJSON_ReplaceItemViaPointer(parent, cJSON_GetArrayItem(parent, (int)ix), *dup);
		*dup = NULL;
	} else {
		if (ix == size)
			cJSON_AddItemToArray(parent, *dup);
		else
			insert_before(parent, cJSON_GetArrayItem(parent, (int)ix), *dup);
		*dup = NULL;
	}
out:
	return ret;
}

/* Apply one op to doc (the working copy). */
static int apply_one(cJSON *doc, const cJSON *o, struct op_ctx *c)
{
	char q[FED_QUOTE_BUF], field[96];
	struct pointer p = {NULL, NULL, 0};
	cJSON *parent = NULL, *dup = NULL;
	int kind = 0, ret;

	snprintf(field, sizeof(field), "%s[%zu]", c->where, c->idx);
	ret = parse_op(o, c, field, &kind, &p);
	if (ret)
		goto out;
	if (kind != OPK_REMOVE && (ret = copy_value(o, &p, c, field, &dup)))
		goto out;
	if (p.n == 0) {
		/* the whole document */
		if (kind == OPK_REMOVE)
			ret = op_fail(c, "cannot remove the whole document");
		else
			swap_values(doc, dup); /* dup now holds the old value: freed below */
		goto out;
	}
	ret = walk(doc, &p, p.n - 1, c, &parent);
	if (ret)
		goto out;
	if (cJSON_IsObject(parent))
		ret = apply_in_object(parent, &p, kind, &dup, c, field);
	else if (cJSON_IsArray(parent))
		ret = apply_in_list(parent, &p, kind, &dup, c);
	else
		ret = op_fail(c, "%s is %s, not an object or a list",
		              prefix_q(q, sizeof(q), c->path, p.n - 1), type_name(parent));
out:
	cJSON_Delete(dup);
	pointer_release(&p);
	return ret;
}

int fed_prop_patch_apply(cJSON *doc, const cJSON *ops, const char *where, struct fed_error *err)
{
	struct op_ctx c = {where, 0, "replace", "", err};
	cJSON *work = NULL;
	const cJSON *o;
	int ret = 0;

	if (!ops || cJSON_IsNull(ops))
		goto out;
	if (!cJSON_IsArray(ops)) {
		ret = fed_error_set(err, FED_EINVAL, "%s: must be a list of {op, path, value}",
		                    where);
		goto out;
	}
	if (!doc) {
		ret = fed_error_set(err, FED_EINVAL, "%s: no document to patch", where);
		goto out;
	}
	if (!ops->child)
		goto out;
	/* work on a copy so that a failing op leaves doc as it was */
	work = cJSON_Duplicate(doc, 1);
	if (!work) {
		ret = fed_error_set(err, FED_ENOMEM, "%s: out of memory", where);
		goto out;
	}
	cJSON_ArrayForEach(o, ops) {
		ret = apply_one(work, o, &c);
		if (ret)
			goto out;
		c.idx++;
	}
	swap_values(doc, work);
out:
	cJSON_Delete(work);
	return ret;
}

int fed_json_patch_apply(cJSON *doc, const cJSON *ops, struct fed_error *err)
{
	return fed_prop_patch_apply(doc, ops, "ops", err);
}
