#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml.h"

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

/* data with CRLF and lone CR made LF, malloc'd; lines and columns stay. */
static char *normalize_breaks(const char *data, size_t *len)
{
	char *out = malloc(*len + 1);
	size_t n = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < *len; i++) {
		if (data[i] != '\r')
			out[n++] = data[i];
		else if (i + 1 < *len && data[i + 1] == '\n')
			continue; /* the \n follows */
		else
			out[n++] = '\n';
	}
	out[n] = '\0';
	*len = n;
	return out;
}

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

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	size_t n, i;
	unsigned int cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* YAML (and kubectl) want UTF-8, and libfyaml 0.7.12 loops forever on
 * some invalid sequences (e.g. "%\xff"), so check before it sees them.
 * Returns the byte offset of the first bad byte, or len. */
static size_t utf8_check(const char *data, size_t len, int *line, int *col)
{
	size_t i = 0, n;

	*line = 1;
	*col = 1;
	while (i < len) {
		n = utf8_len((const unsigned char *)data + i, len - i);
		if (!n)
			return i;
		if (data[i] == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
		i += n;
	}
	return len;
}

/* Explicit keys ("? key") are never needed in fed's configs, and libfyaml
 * 0.7.12 frees memory twice on some malformed ones (upstream issue #57:
 * "? e:\t:" crashes in fy_parse_cleanup). Reject the block-context
 * indicator: at the start of a line, possibly after "- " entries. This can
 * misfire on a block scalar line starting "? ", which configs do not have.
 * Returns the offset of the '?', or len. */
static size_t explicit_key(const char *data, size_t len, int *line, int *col)
{
	size_t i = 0, start;

	*line = 1;
	while (i < len) {
		start = i;
		for (;;) {
			while (i < len && (data[i] == ' ' || data[i] == '\t'))
				i++;
			if (i + 1 < len && data[i] == '-' &&
			    (data[i + 1] == ' ' || data[i + 1] == '\t'))
				i++;
			else
				break;
		}
		if (i < len && data[i] == '?' &&
		    (i + 1 == len || data[i + 1] == ' ' || data[i + 1] == '\t' ||
		     data[i + 1] == '\n' || data[i + 1] == '\r')) {
			*col = (int)(i - start) + 1;
			return i;
		}
		while (i < len && data[i] != '\n')
			i++;
		i++;
		++*line;
	}
	return len;
}

/* libfyaml 0.7.12 leaks the text of a single-quoted scalar with five or
 * more escaped quotes ('') in a row (512 bytes and up, found by
 * fuzz.federate_file). No config needs ten quotes in a row: refuse the
 * run, wherever it stands. Returns its offset, or len. */
static size_t quote_run(const char *data, size_t len, int *line, int *col)
{
	size_t run = 0;

	*line = 1;
	*col = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n') {
			++*line;
			*col = 0;
			run = 0;
			continue;
		}
		++*col;
		run = data[i] == '\'' ? run + 1 : 0;
		if (run == 10) {
			*col -= 9;
			return i - 9;
		}
	}
	return len;
}

/* libfyaml 0.7.12 mis-sizes a block scalar ("|" or ">") whose content is
 * not indented more than the key or "- " that owns it: the text it returns
 * ends in a byte it never wrote (uninitialised heap memory, found by
 * fuzz.kubeconfig). Such a scalar is not valid YAML anyway: find it so
 * that it is refused with its position. parent is the owner's column (-1
 * at the top); in_seq: the owner is a "- " on the scalar's header line. */
static bool block_scalar_ok(struct fy_node *n, int parent, bool in_seq, const char *data,
                            size_t len, int *line, int *col)
{
	enum fy_node_style st = fy_node_get_style(n);
	struct fy_token *t = fy_node_get_scalar_token(n);
	const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
	const struct fy_mark *e = t ? fy_token_end_mark(t) : NULL;
	size_t p, h, i;
	int l;

	if ((st != FYNS_LITERAL && st != FYNS_FOLDED) || !m || !e || m->input_pos > len)
		return true;
	if (e->input_pos < len) /* only the scalar's own lines */
		len = e->input_pos;
	p = m->input_pos;
	l = m->line;
	while (p > 0 && data[p - 1] != '\n' && p < len) /* to the start of a line */
		p++, l += data[p - 1] == '\n';
	if (in_seq) { /* the header line, before p: its last "- " is the owner */
		h = p > 0 ? p - 1 : 0;
		while (h > 0 && data[h - 1] != '\n')
			h--;
		for (i = h;;) {
			while (i < p && data[i] == ' ')
				i++;
			if (i + 1 >= p || data[i] != '-' ||
			    (data[i + 1] != ' ' && data[i + 1] != '\t'))
				break;
			parent = (int)(i - h);
			i++;
		}
	}
	while (p < len) { /* the first line with content sets the indentation */
		size_t start = p;

		while (p < len && data[p] == ' ')
			p++;
		if (p < len && data[p] != '\n' && data[p] != '\r') {
			if ((int)(p - start) > parent)
				return true;
			*line = l + 1;
			*col = (int)(p - start) + 1;
			return false;
		}
		while (p < len && data[p] != '\n')
			p++;
		p++;
		l++;
	}
	return true;
}

static bool block_scalars_ok(struct fy_node *n, int parent, bool in_seq, const char *data,
                             size_t len, int depth, int *line, int *col)
{
	void *iter = NULL;
	struct fy_node_pair *pair;
	struct fy_node *item;

	if (!n || fy_node_is_alias(n) || depth > 256) /* deeper: libfyaml's own limits */
		return true;
	switch (fy_node_get_type(n)) {
	case FYNT_SCALAR:
		return block_scalar_ok(n, parent, in_seq, data, len, line, col);
	case FYNT_SEQUENCE:
		while ((item = fy_node_sequence_iterate(n, &iter)))
			if (!block_scalars_ok(item, parent, true, data, len, depth + 1, line, col))
				return false;
		return true;
	case FYNT_MAPPING:
		while ((pair = fy_node_mapping_iterate(n, &iter))) {
			struct fy_node *k = fy_node_pair_key(pair);
			struct fy_token *t = k ? fy_node_get_scalar_token(k) : NULL;
			const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;

			if (!block_scalars_ok(k, parent, false, data, len, depth + 1, line, col) ||
			    !block_scalars_ok(fy_node_pair_value(pair), m ? m->column : parent,
			                      false, data, len, depth + 1, line, col))
				return false;
		}
		return true;
	}
	return true;
}

int fed_yaml_parse(struct fed_yaml_doc **out, const char *data, size_t len, const char *source,
                   struct fed_error *err)
{
	struct fed_yaml_doc *doc = NULL;
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg pcfg;
	struct fy_diag_error *de;
	void *iter;
	int ret, line, col;

	*out = NULL;
	doc = calloc(1, sizeof(*doc));
	if (!doc) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(doc->source, sizeof(doc->source), "%s", source ? source : "<string>");
	if (utf8_check(data, len, &line, &col) < len) {
		ret = fed_error_set(err, FED_EINVAL, "%s:%d:%d: invalid UTF-8", doc->source, line,
		                    col);
		goto out;
	}
	if (explicit_key(data, len, &line, &col) < len) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s:%d:%d: explicit keys (\"? key\") are not supported",
		                    doc->source, line, col);
		goto out;
	}
	if (quote_run(data, len, &line, &col) < len) {
		ret =
		    fed_error_set(err, FED_EINVAL,
		                  "%s:%d:%d: ten or more single quotes in a row are not supported "
		                  "(libfyaml 0.7.12 leaks memory on them); write the string in "
		                  "double quotes",
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
	pcfg.flags = FYPCF_QUIET;
	pcfg.diag = doc->diag;
	if (memchr(data, '\r', len)) {
		if (!(doc->normalized = normalize_breaks(data, &len))) {
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
	if (!block_scalars_ok(fy_document_root(doc->fyd), -1, false, data, len, 0, &line, &col)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "%s:%d:%d: the lines of a block scalar (| or >) must be "
		                    "indented more than its key or \"- \"",
		                    doc->source, line, col);
		goto out;
	}
	*out = doc;
	doc = NULL;
	ret = 0;
out:
	fed_yaml_free(doc);
	return ret;
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
		*key = fy_node_get_scalar(k, keylen);
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
		s = fy_node_get_scalar(k, &len);
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
