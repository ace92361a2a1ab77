#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/yaml.h"
#include "yaml_guard.h"

#define SOURCE_MAX 512

/* Exported by libfyaml 0.7.12 but missing from its header (declared there
 * from 0.8 on, with this signature). */
struct fy_diag_error *fy_diag_errors_iterate(struct fy_diag *diag, void **prevp);

struct fed_yaml_doc {
	struct fy_document *fyd;
	/* Errors are collected, not printed: libfyaml then neither writes to
	 * stderr nor renders the source excerpt, whose code crashes on some
	 * malformed input in 0.7.12 (upstream issues #108, #189) and would
	 * echo document content (maybe a secret). */
	struct fy_diag *diag;
	/* the input with its line breaks made \n, when it had a \r: libfyaml
	 * 0.7.12 leaks the text of a quoted scalar broken with \r\n (found by
	 * fuzz.federate_file). YAML reads every break as \n anyway. */
	char *normalized;
	char source[SOURCE_MAX];
};

/* Non-error output (debug notes like "fy_parse_load_document() failed"). */
static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

/* libfyaml fails on a stream with no document; kubectl reads an empty
 * kubeconfig as an empty Config, so tell that case apart. */
static bool blank_yaml(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
			i++;
		if (i < len && p[i] == '#')
			while (i < len && p[i] != '\n')
				i++;
		if (i < len && p[i] != '\n')
			return false;
		i++;
	}
	return true;
}

static int parse(struct fed_yaml_doc **out, const char *data, size_t len, const char *source,
                 bool comments, struct fed_error *err)
{
	struct fed_yaml_doc *doc = NULL;
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg pcfg;
	struct fy_diag_error *de;
	void *iter;
	struct fed_yaml_guard_where where;
	int ret, line, col;

	*out = NULL;
	doc = calloc(1, sizeof(*doc));
	if (!doc) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(doc->source, sizeof(doc->source), "%s", source ? source : "<string>");
	if (fed_yaml_guard_utf8(data, len, &line, &col) < len) {
		ret = fed_error_set(err, FED_EINVAL, "%s:%d:%d: invalid UTF-8", doc->source, line,
		                    col);
		goto out;
	}
	if (fed_yaml_guard_explicit_key(data, len, &line, &col) < len) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s:%d:%d: explicit keys (\"? key\") are not supported",
		                    doc->source, line, col);
		goto out;
	}
	if (blank_yaml(data, len)) {
		*out = doc;
		doc = NULL;
		ret = 0;
		goto out;
	}
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = diag_discard;
	dcfg.level = FYET_ERROR;
	dcfg.colorize = false;
	doc->diag = fy_diag_create(&dcfg);
	if (!doc->diag) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	fy_diag_set_collect_errors(doc->diag, true);
	memset(&pcfg, 0, sizeof(pcfg));
	/* No FYPCF_RESOLVE_DOCUMENT: resolving copies aliased subtrees, which
	 * a hostile document can make exponential. */
	pcfg.flags = FYPCF_QUIET | (comments ? FYPCF_PARSE_COMMENTS : 0);
	pcfg.diag = doc->diag;
	if (memchr(data, '\r', len)) {
		if (!(doc->normalized = fed_yaml_guard_breaks(data, &len))) {
			ret = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
		data = doc->normalized;
	}
	doc->fyd = fy_document_build_from_string(&pcfg, data, len);
	iter = NULL;
	de = fy_diag_errors_iterate(doc->diag, &iter);
	if (!doc->fyd || de || fy_diag_got_error(doc->diag)) {
		/* the first error is the cause; later ones are fallout */
		if (de && de->line > 0)
			ret = fed_error_set(err, FED_EINVAL, "%s:%d:%d: %.200s", doc->source,
			                    de->line, de->column, de->msg ? de->msg : "");
		else if (de)
			ret = fed_error_set(err, FED_EINVAL, "%s: %.200s", doc->source,
			                    de->msg ? de->msg : "");
		else
			ret = fed_error_set(err, FED_EINVAL, "%s: not valid YAML", doc->source);
		goto out;
	}
	if ((ret = fed_yaml_guard_document(doc->fyd, data, len, &where))) {
		if (ret == FED_ENOMEM)
			fed_error_set(err, ret, "out of memory");
		else
			fed_error_set(err, ret, "%s:%d:%d: %s", doc->source, where.line, where.col,
			              where.why);
		goto out;
	}
	*out = doc;
	doc = NULL;
	ret = 0;
out:
	fed_yaml_free(doc);
	return ret;
}

int fed_yaml_parse(struct fed_yaml_doc **out, const char *data, size_t len, const char *source,
                   struct fed_error *err)
{
	return parse(out, data, len, source, false, err);
}

int fed_yaml_parse_editable(struct fed_yaml_doc **out, const char *data, size_t len,
                            const char *source, struct fed_error *err)
{
	return parse(out, data, len, source, true, err);
}

struct fy_document *fed_yaml_document(const struct fed_yaml_doc *doc)
{
	return doc ? doc->fyd : NULL;
}

void fed_yaml_free(struct fed_yaml_doc *doc)
{
	if (!doc)
		return;
	if (doc->fyd)
		fy_document_destroy(doc->fyd);
	/* destroy, not unref: only destroy frees collected errors */
	if (doc->diag)
		fy_diag_destroy(doc->diag);
	free(doc->normalized);
	free(doc);
}

struct fy_node *fed_yaml_root(const struct fed_yaml_doc *doc)
{
	return doc && doc->fyd ? fed_yaml_deref(fy_document_root(doc->fyd)) : NULL;
}

const char *fed_yaml_source(const struct fed_yaml_doc *doc)
{
	return doc ? doc->source : "<string>";
}

struct fy_node *fed_yaml_deref(struct fy_node *n)
{
	if (n && fy_node_is_alias(n))
		n = fy_node_resolve_alias(n);
	return n;
}

static bool is_null_scalar(struct fy_node *n)
{
	const char *s;
	size_t len;

	if (fy_node_get_style(n) != FYNS_PLAIN)
		return false;
	s = fy_node_get_scalar(n, &len);
	if (!s || len == 0)
		return true;
	return (len == 1 && s[0] == '~') ||
	       (len == 4 &&
	        (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

enum fed_yaml_kind fed_yaml_kind(struct fy_node *n)
{
	n = fed_yaml_deref(n);
	if (!n)
		return FED_YAML_NULL;
	switch (fy_node_get_type(n)) {
	case FYNT_MAPPING:
		return FED_YAML_MAP;
	case FYNT_SEQUENCE:
		return FED_YAML_SEQ;
	case FYNT_SCALAR:
		/* an alias that did not resolve is still an alias here */
		if (fy_node_is_alias(n) || is_null_scalar(n))
			return FED_YAML_NULL;
		return FED_YAML_SCALAR;
	}
	return FED_YAML_NULL;
}

const char *fed_yaml_kind_name(enum fed_yaml_kind kind)
{
	switch (kind) {
	case FED_YAML_SCALAR:
		return "a string";
	case FED_YAML_SEQ:
		return "a list";
	case FED_YAML_MAP:
		return "a mapping";
	case FED_YAML_NULL:
		break;
	}
	return "null";
}

bool fed_yaml_map_next(struct fy_node *map, void **iter, struct fy_node **keynode, const char **key,
                       size_t *keylen, struct fy_node **val)
{
	struct fy_node_pair *pair;
	struct fy_node *k;

	map = fed_yaml_deref(map);
	if (!map || fy_node_get_type(map) != FYNT_MAPPING)
		return false;
	pair = fy_node_mapping_iterate(map, iter);
	if (!pair)
		return false;
	k = fy_node_pair_key(pair);
	if (keynode)
		*keynode = k;
	k = fed_yaml_deref(k);
	*key = NULL;
	*keylen = 0;
	if (k && fy_node_get_type(k) == FYNT_SCALAR && !fy_node_is_alias(k))
		*key = fed_yaml_scalar(k, keylen);
	if (val)
		*val = fed_yaml_deref(fy_node_pair_value(pair));
	return true;
}

static struct fy_node_pair *lookup(struct fy_node *map, const char *key)
{
	struct fy_node_pair *pair;
	size_t klen = strlen(key);
	void *iter = NULL;

	map = fed_yaml_deref(map);
	if (!map || fy_node_get_type(map) != FYNT_MAPPING)
		return NULL;
	/* linear, comparing text: fy_node_mapping_lookup_by_string would
	 * parse the key as YAML first */
	while ((pair = fy_node_mapping_iterate(map, &iter)) != NULL) {
		struct fy_node *k = fed_yaml_deref(fy_node_pair_key(pair));
		const char *s;
		size_t len;

		if (!k || fy_node_get_type(k) != FYNT_SCALAR || fy_node_is_alias(k))
			continue;
		s = fed_yaml_scalar(k, &len);
		if (s && len == klen && !memcmp(s, key, len))
			return pair;
	}
	return NULL;
}

struct fy_node *fed_yaml_get(struct fy_node *map, const char *key)
{
	struct fy_node_pair *pair = lookup(map, key);

	return pair ? fed_yaml_deref(fy_node_pair_value(pair)) : NULL;
}

struct fy_node *fed_yaml_key(struct fy_node *map, const char *key)
{
	struct fy_node_pair *pair = lookup(map, key);

	return pair ? fy_node_pair_key(pair) : NULL;
}

bool fed_yaml_seq_next(struct fy_node *seq, void **iter, struct fy_node **item)
{
	struct fy_node *n;

	seq = fed_yaml_deref(seq);
	if (!seq || fy_node_get_type(seq) != FYNT_SEQUENCE)
		return false;
	n = fy_node_sequence_iterate(seq, iter);
	if (!n)
		return false;
	*item = fed_yaml_deref(n);
	return true;
}

const char *fed_yaml_scalar(struct fy_node *n, size_t *len)
{
	n = fed_yaml_deref(n);
	*len = 0;
	if (fed_yaml_kind(n) != FED_YAML_SCALAR)
		return NULL;
	return fed_yaml_text(n, len);
}

const char *fed_yaml_text(struct fy_node *n, size_t *len)
{
	const char *s;

	*len = 0;
	if (!n || fy_node_get_type(n) != FYNT_SCALAR || fy_node_is_alias(n))
		return NULL;
	/* single-quoted text comes from the guard: libfyaml's leaks */
	if ((s = fed_yaml_guard_text(n, len)))
		return s;
	return fy_node_get_scalar(n, len);
}

int fed_yaml_str(struct fy_node *n, char **out)
{
	const char *s;
	size_t len;

	*out = NULL;
	switch (fed_yaml_kind(n)) {
	case FED_YAML_NULL:
		return 0;
	case FED_YAML_SCALAR:
		break;
	default:
		return FED_EINVAL;
	}
	s = fed_yaml_scalar(n, &len);
	*out = strndup(s ? s : "", len);
	return *out ? 0 : FED_ENOMEM;
}

int fed_yaml_bool(struct fy_node *n, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
	                                  "on",   "On",   "ON",   "y",   "Y"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO",
	                                 "off",   "Off",   "OFF",   "n",  "N"};
	const char *s;
	size_t len, i;

	switch (fed_yaml_kind(n)) {
	case FED_YAML_NULL:
		return 0;
	case FED_YAML_SCALAR:
		break;
	default:
		return FED_EINVAL;
	}
	n = fed_yaml_deref(n);
	if (fy_node_get_style(n) != FYNS_PLAIN)
		return FED_EINVAL;
	s = fy_node_get_scalar(n, &len);
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (len == strlen(yes[i]) && !memcmp(s, yes[i], len)) {
			*out = true;
			return 0;
		}
		if (len == strlen(no[i]) && !memcmp(s, no[i], len)) {
			*out = false;
			return 0;
		}
	}
	return FED_EINVAL;
}

int fed_yaml_int(struct fy_node *n, long long *out)
{
	char buf[32], *end;
	const char *s;
	size_t len;
	long long v;

	switch (fed_yaml_kind(n)) {
	case FED_YAML_NULL:
		return 0;
	case FED_YAML_SCALAR:
		break;
	default:
		return FED_EINVAL;
	}
	n = fed_yaml_deref(n);
	if (fy_node_get_style(n) != FYNS_PLAIN)
		return FED_EINVAL;
	s = fy_node_get_scalar(n, &len);
	if (!s || len == 0 || len >= sizeof(buf))
		return FED_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!isdigit((unsigned char)buf[0]) && buf[0] != '-' && buf[0] != '+')
		return FED_EINVAL;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || *end)
		return FED_EINVAL;
	*out = v;
	return 0;
}

void fed_yaml_mark(struct fy_node *n, int *line, int *col)
{
	int depth;

	*line = 0;
	*col = 0;
	/* A collection has no public start mark in libfyaml 0.7: use the
	 * first scalar inside it (its key, for a block mapping), bounded so
	 * that self-referencing aliases cannot loop. */
	for (depth = 0; n && depth < 16; depth++) {
		void *iter = NULL;

		switch (fy_node_get_type(n)) {
		case FYNT_SCALAR: {
			struct fy_token *t = fy_node_get_scalar_token(n);
			const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
			if (m) {
				*line = m->line + 1;
				*col = m->column + 1;
			}
			return;
		}
		case FYNT_SEQUENCE:
			n = fy_node_sequence_iterate(n, &iter);
			break;
		case FYNT_MAPPING: {
			struct fy_node_pair *pair = fy_node_mapping_iterate(n, &iter);
			n = pair ? fy_node_pair_key(pair) : NULL;
			break;
		}
		default:
			return;
		}
	}
}

int fed_yaml_error(struct fed_error *err, int code, const struct fed_yaml_doc *doc,
                   struct fy_node *n, const char *fmt, ...)
{
	char msg[FED_ERROR_MSG_MAX];
	int line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fed_yaml_mark(n, &line, &col);
	if (line > 0)
		return fed_error_set(err, code, "%s:%d:%d: %s", fed_yaml_source(doc), line, col,
		                     msg);
	return fed_error_set(err, code, "%s: %s", fed_yaml_source(doc), msg);
}
