#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_map.h"

/* Merge keys: how deep "<<" may nest and how many mappings one fill may
 * gather. Aliases let a small document name the same mapping many times;
 * the bound keeps lookups linear in the document. */
#define MERGE_DEPTH 8
#define MERGE_MAX   32
#define QUOTE_MAX   128
#define KEY_CMP_MAX 64

struct sources {
	struct fy_node *maps[MERGE_MAX + 1]; /* [0] is the mapping itself */
	size_t n;
};

void fed_yaml_map_init(struct fed_yaml_map *m, const struct fed_yaml_doc *doc)
{
	m->doc = doc;
	fed_buf_init(&m->path);
}

void fed_yaml_map_release(struct fed_yaml_map *m)
{
	if (m)
		fed_buf_release(&m->path);
}

const char *fed_yaml_map_path(const struct fed_yaml_map *m)
{
	return fed_buf_str(&m->path);
}

int fed_yaml_map_push_key(struct fed_yaml_map *m, const char *key)
{
	if (m->path.len && fed_buf_puts(&m->path, "."))
		return FED_ENOMEM;
	return fed_buf_puts(&m->path, key) ? FED_ENOMEM : 0;
}

int fed_yaml_map_push_index(struct fed_yaml_map *m, size_t index)
{
	return fed_buf_printf(&m->path, "[%zu]", index) ? FED_ENOMEM : 0;
}

void fed_yaml_map_pop(struct fed_yaml_map *m, size_t len)
{
	if (len < m->path.len) {
		m->path.len = len;
		m->path.data[len] = '\0';
	}
}

const char *fed_yaml_map_quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t pos = 0, boundary = 1, limit, i;

	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	limit = size - 5; /* room for `..."` and the NUL */
	buf[pos++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		size_t e;

		if (c == '"' || c == '\\')
			e = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c == '\n')
			e = (size_t)snprintf(esc, sizeof(esc), "\\n");
		else if (c == '\t')
			e = (size_t)snprintf(esc, sizeof(esc), "\\t");
		else if (c < 0x20 || c == 0x7f)
			e = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
		else
			esc[0] = (char)c, e = 1;
		if (pos + e > limit) {
			/* never leave half a UTF-8 character */
			if (c >= 0x80 && c < 0xc0)
				pos = boundary;
			memcpy(buf + pos, "...\"", 5);
			return buf;
		}
		if (c < 0x80 || c >= 0xc0)
			boundary = pos;
		memcpy(buf + pos, esc, e);
		pos += e;
	}
	buf[pos++] = '"';
	buf[pos] = '\0';
	return buf;
}

int fed_yaml_map_error(struct fed_yaml_map *m, struct fy_node *at, struct fed_error *err, int code,
                       const char *fmt, ...)
{
	char msg[FED_ERROR_MSG_MAX];
	const char *path = fed_yaml_map_path(m);
	int line, col;
	va_list ap;
	char *p;

	if (!err)
		return code;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fed_yaml_mark(at, &line, &col);
	if (line > 0)
		fed_error_set(err, code, "%s:%d:%d: %s%s%s", fed_yaml_source(m->doc), line, col,
		              path, *path ? ": " : "", msg);
	else
		fed_error_set(err, code, "%s: %s%s%s", fed_yaml_source(m->doc), path,
		              *path ? ": " : "", msg);
	for (p = err->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return code;
}

static int oom(struct fed_error *err)
{
	return fed_error_set(err, FED_ENOMEM, "out of memory");
}

static int add_sources(struct fed_yaml_map *m, struct sources *src, struct fy_node *map, int depth,
                       struct fed_error *err);

/* The value of a "<<" key: a mapping or a list of mappings. */
static int add_merge(struct fed_yaml_map *m, struct sources *src, struct fy_node *keynode,
                     struct fy_node *val, int depth, struct fed_error *err)
{
	struct fy_node *item;
	void *iter = NULL;
	int ret;

	if (depth >= MERGE_DEPTH)
		return fed_yaml_map_error(m, keynode, err, FED_EINVAL,
		                          "merge keys (\"<<\") nest more than %d deep",
		                          MERGE_DEPTH);
	switch (fed_yaml_kind(val)) {
	case FED_YAML_MAP:
		return add_sources(m, src, val, depth + 1, err);
	case FED_YAML_SEQ:
		while (fed_yaml_seq_next(val, &iter, &item)) {
			if (fed_yaml_kind(item) != FED_YAML_MAP)
				return fed_yaml_map_error(
				    m, item ? item : keynode, err, FED_EINVAL,
				    "a merge key (\"<<\") list must hold mappings, not %s",
				    fed_yaml_kind_name(fed_yaml_kind(item)));
			if ((ret = add_sources(m, src, item, depth + 1, err)))
				return ret;
		}
		return 0;
	default:
		return fed_yaml_map_error(
		    m, keynode, err, FED_EINVAL,
		    "a merge key (\"<<\") must be a mapping or a list of mappings, not %s",
		    fed_yaml_kind_name(fed_yaml_kind(val)));
	}
}

/* Collect map and, depth first, the mappings it merges in: precedence
 * order, as go-yaml gives it. */
static int add_sources(struct fed_yaml_map *m, struct sources *src, struct fy_node *map, int depth,
                       struct fed_error *err)
{
	struct fy_node *keynode, *val;
	const char *key;
	size_t keylen;
	void *iter = NULL;
	int ret;

	if (src->n > MERGE_MAX)
		return fed_yaml_map_error(m, map, err, FED_EINVAL,
		                          "more than %d mappings merged with \"<<\"", MERGE_MAX);
	src->maps[src->n++] = map;
	while (fed_yaml_map_next(map, &iter, &keynode, &key, &keylen, &val)) {
		if (key && keylen == 2 && !memcmp(key, "<<", 2) &&
		    (ret = add_merge(m, src, keynode, val, depth, err)))
			return ret;
	}
	return 0;
}

static bool key_is(const char *key, size_t keylen, const char *want)
{
	return key && strlen(want) == keylen && !memcmp(key, want, keylen);
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive edit distance counting a swap of neighbours as one
 * edit (optimal string alignment), for "did you mean". */
static size_t distance(const char *a, size_t alen, const char *b)
{
	size_t rows[3][KEY_CMP_MAX + 1], blen = strlen(b), i, j;
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2], *t;

	if (alen > KEY_CMP_MAX || blen > KEY_CMP_MAX)
		return SIZE_MAX;
	for (j = 0; j <= blen; j++)
		prev[j] = j;
	for (i = 1; i <= alen; i++) {
		cur[0] = i;
		for (j = 1; j <= blen; j++) {
			size_t best = prev[j - 1] + (lower(a[i - 1]) != lower(b[j - 1]));
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[blen];
}

static int unknown_key(struct fed_yaml_map *m, struct fy_node *keynode, const char *key,
                       size_t keylen, const struct fed_yaml_map_field *fields,
                       struct fed_error *err)
{
	struct fed_buf allowed = FED_BUF_INIT;
	const struct fed_yaml_map_field *f, *near = NULL;
	size_t best = SIZE_MAX, d;
	char q[QUOTE_MAX];
	int ret;

	for (f = fields; f->key; f++) {
		if (fed_buf_printf(&allowed, "%s%s", f == fields ? "" : ", ", f->key)) {
			ret = oom(err);
			goto out;
		}
		d = distance(key, keylen, f->key);
		if (d < best) {
			best = d;
			near = f;
		}
	}
	fed_yaml_map_quote(q, sizeof(q), key, keylen);
	/* a typo, not a different word: at most 2 edits, and fewer than half */
	if (near && best <= 2 && best * 2 < keylen)
		ret = fed_yaml_map_error(m, keynode, err, FED_EINVAL,
		                         "unknown key %s; did you mean \"%s\"? (allowed: %s)", q,
		                         near->key, fed_buf_str(&allowed));
	else
		ret = fed_yaml_map_error(m, keynode, err, FED_EINVAL,
		                         "unknown key %s (allowed: %s)", q, fed_buf_str(&allowed));
out:
	fed_buf_release(&allowed);
	return ret;
}

static int check_keys(struct fed_yaml_map *m, const struct sources *src,
                      const struct fed_yaml_map_field *fields, struct fed_error *err)
{
	const struct fed_yaml_map_field *f;
	struct fy_node *keynode, *val;
	const char *key;
	size_t keylen, i;
	int ret;

	for (i = 0; i < src->n; i++) {
		void *iter = NULL;

		while (fed_yaml_map_next(src->maps[i], &iter, &keynode, &key, &keylen, &val)) {
			if (!key)
				return fed_yaml_map_error(
				    m, keynode, err, FED_EINVAL, "keys must be strings, not %s",
				    fed_yaml_kind_name(fed_yaml_kind(keynode)));
			if (key_is(key, keylen, "<<"))
				continue;
			for (f = fields; f->key && !key_is(key, keylen, f->key); f++)
				;
			if (!f->key && (ret = unknown_key(m, keynode, key, keylen, fields, err)))
				return ret;
		}
	}
	return 0;
}

/* The first mapping (in precedence order) that has key. */
static bool lookup(const struct sources *src, const char *want, struct fy_node **keynode,
                   struct fy_node **val)
{
	const char *key;
	size_t keylen, i;

	for (i = 0; i < src->n; i++) {
		void *iter = NULL;

		while (fed_yaml_map_next(src->maps[i], &iter, keynode, &key, &keylen, val))
			if (key_is(key, keylen, want))
				return true;
	}
	return false;
}

static int type_error(struct fed_yaml_map *m, struct fy_node *keynode, struct fy_node *val,
                      const char *want, struct fed_error *err)
{
	char q[QUOTE_MAX];
	const char *s;
	size_t len;

	/* for a scalar of the wrong form, show it: `not "maybe"` */
	if (fed_yaml_kind(val) == FED_YAML_SCALAR && (s = fed_yaml_scalar(val, &len)) != NULL)
		return fed_yaml_map_error(m, keynode, err, FED_EINVAL, "must be %s, not %s", want,
		                          fed_yaml_map_quote(q, sizeof(q), s, len));
	return fed_yaml_map_error(m, keynode, err, FED_EINVAL, "must be %s, not %s", want,
	                          fed_yaml_kind_name(fed_yaml_kind(val)));
}

static int store_enum(struct fed_yaml_map *m, const struct fed_yaml_map_field *f,
                      struct fy_node *keynode, struct fy_node *val, int *out, struct fed_error *err)
{
	struct fed_buf want = FED_BUF_INIT;
	const char *s;
	size_t len, n, i;
	int ret = 0;

	s = fed_yaml_scalar(val, &len);
	for (n = 0; f->values && f->values[n]; n++)
		if (s && key_is(s, len, f->values[n])) {
			*out = (int)n;
			return 0;
		}
	for (i = 0; i < n; i++)
		if (fed_buf_printf(&want, "%s\"%s\"",
		                   i == 0       ? (n > 2 ? "one of " : "")
		                   : i + 1 == n ? " or "
		                                : ", ",
		                   f->values[i])) {
			ret = oom(err);
			goto out;
		}
	ret = type_error(m, keynode, val, fed_buf_str(&want), err);
out:
	fed_buf_release(&want);
	return ret;
}

static int store_seq(struct fed_yaml_map *m, const struct fed_yaml_map_field *f,
                     struct fy_node *keynode, struct fy_node *val, void *base,
                     struct fed_error *err)
{
	struct fy_node *item;
	size_t count, index = 0, len = m->path.len;
	void *iter = NULL;
	int ret = 0;

	if (fed_yaml_kind(val) != FED_YAML_SEQ)
		return type_error(m, keynode, val, "a list", err);
	count = (size_t)fy_node_sequence_item_count(fed_yaml_deref(val));
	if (f->max_items && count > f->max_items)
		return fed_yaml_map_error(m, keynode, err, FED_EINVAL,
		                          "must have at most %zu entries, not %zu", f->max_items,
		                          count);
	while (!ret && index < count && fed_yaml_seq_next(val, &iter, &item)) {
		if (fed_yaml_map_push_index(m, index))
			return oom(err);
		ret = f->item ? f->item(m, item, index, count, base, err) : 0;
		fed_yaml_map_pop(m, len);
		index++;
	}
	return ret;
}

/* Store one present, non-null value; the path ends in the key. */
static int store(struct fed_yaml_map *m, const struct fed_yaml_map_field *f,
                 struct fy_node *keynode, struct fy_node *val, void *base, struct fed_error *err)
{
	void *field = (char *)base + f->offset;
	int ret;

	switch (f->type) {
	case FED_YAML_MAP_STRING: {
		char **s = field;
		free(*s);
		ret = fed_yaml_str(val, s);
		if (ret == FED_EINVAL)
			return type_error(m, keynode, val, "a string", err);
		if (ret)
			return oom(err);
		if (f->required && !**s)
			return fed_yaml_map_error(m, keynode, err, FED_EINVAL,
			                          "must not be empty (%s)", f->desc);
		return 0;
	}
	case FED_YAML_MAP_BOOL:
		if (fed_yaml_bool(val, field))
			return type_error(m, keynode, val, "true or false", err);
		return 0;
	case FED_YAML_MAP_INT:
		if (fed_yaml_int(val, field))
			return type_error(m, keynode, val, "an integer", err);
		return 0;
	case FED_YAML_MAP_ENUM:
		return store_enum(m, f, keynode, val, field, err);
	case FED_YAML_MAP_MAPPING:
		if (fed_yaml_kind(val) != FED_YAML_MAP)
			return type_error(m, keynode, val, "a mapping", err);
		return fed_yaml_map_fill(m, val, f->fields, field, err);
	case FED_YAML_MAP_SEQ:
		return store_seq(m, f, keynode, val, base, err);
	}
	return fed_yaml_map_error(m, keynode, err, FED_ERR, "unknown field type %d", (int)f->type);
}

int fed_yaml_map_fill(struct fed_yaml_map *m, struct fy_node *node,
                      const struct fed_yaml_map_field *fields, void *base, struct fed_error *err)
{
	const struct fed_yaml_map_field *f;
	struct sources src;
	size_t len = m->path.len;
	int ret = 0;

	src.n = 0;
	node = fed_yaml_deref(node);
	if (fed_yaml_kind(node) != FED_YAML_NULL) {
		if (fed_yaml_kind(node) != FED_YAML_MAP)
			return fed_yaml_map_error(m, node, err, FED_EINVAL,
			                          "must be a mapping, not %s",
			                          fed_yaml_kind_name(fed_yaml_kind(node)));
		if ((ret = add_sources(m, &src, node, 0, err)) ||
		    (ret = check_keys(m, &src, fields, err)))
			return ret;
	}
	for (f = fields; f->key; f++) {
		struct fy_node *keynode = NULL, *val = NULL;
		bool found = lookup(&src, f->key, &keynode, &val);

		if (!found) {
			if (f->required)
				return fed_yaml_map_error(m, node, err, FED_EINVAL,
				                          "missing required key \"%s\" (%s)",
				                          f->key, f->desc);
			continue;
		}
		if (fed_yaml_map_push_key(m, f->key)) {
			ret = oom(err);
			goto out;
		}
		if (fed_yaml_kind(val) == FED_YAML_NULL) {
			if (f->required) {
				ret = fed_yaml_map_error(m, keynode, err, FED_EINVAL,
				                         "must not be empty (%s)", f->desc);
				goto out;
			}
		} else if ((ret = store(m, f, keynode, val, base, err)) ||
		           (f->check && (ret = f->check(m, val, base, err)))) {
			goto out;
		}
		fed_yaml_map_pop(m, len);
	}
out:
	fed_yaml_map_pop(m, len);
	return ret;
}

void fed_yaml_map_free_fields(const struct fed_yaml_map_field *fields, void *base)
{
	const struct fed_yaml_map_field *f;

	if (!fields || !base)
		return;
	for (f = fields; f->key; f++) {
		void *field = (char *)base + f->offset;

		if (f->type == FED_YAML_MAP_STRING) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (f->type == FED_YAML_MAP_MAPPING) {
			fed_yaml_map_free_fields(f->fields, field);
		}
	}
}
