/* Guards around libfyaml 0.7.12: see yaml_guard.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fed/error.h"
#include "yaml_guard.h"

struct squoted {
	size_t len;
	char text[];
};

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
size_t fed_yaml_guard_utf8(const char *data, size_t len, int *line, int *col)
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
 * indicator: at the start of a line, possibly after "- " entries or ": "
 * (the value of an empty key: ": ? e:\t:" crashes the same way;
 * fuzz.kubeconfig). This can misfire on a block scalar line starting "? "
 * or ": ? ", which configs do not have. Returns the offset of the '?', or
 * len. */
size_t fed_yaml_guard_explicit_key(const char *data, size_t len, int *line, int *col)
{
	size_t i = 0, start;

	*line = 1;
	while (i < len) {
		start = i;
		for (;;) {
			while (i < len && (data[i] == ' ' || data[i] == '\t'))
				i++;
			if (i + 1 < len && (data[i] == '-' || data[i] == ':') &&
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

/* data with CRLF and lone CR made LF, malloc'd; lines and columns stay. */
char *fed_yaml_guard_breaks(const char *data, size_t *len)
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
	if (p > 0 && data[p - 1] != '\n') { /* from the header to the next line */
		while (p < len && data[p] != '\n')
			p++;
		p++;
		l++;
	}
	h = p > 0 ? p - 1 : 0; /* the header line, before p */
	while (h > 0 && data[h - 1] != '\n')
		h--;
	for (i = h; i < p && data[i] == ' '; i++)
		;
	if ((int)(i - h) > parent) /* libfyaml measures from the header line too */
		parent = (int)(i - h);
	if (in_seq) { /* its last "- " is the owner */
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
		if (p < len && data[p] != '\n') { /* \r is gone: fed_yaml_guard_breaks */
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

/* YAML 1.2 single-quoted content (between the quotes, breaks already \n):
 * '' is ', a line break folds to a space, n+1 breaks (with only white
 * space between them) to n newlines, white space around breaks goes. */
static struct squoted *single_quoted(const char *raw, size_t n)
{
	struct squoted *q = malloc(sizeof(*q) + n + 1);
	size_t o = 0, i = 0;

	if (!q)
		return NULL;
	while (i < n) {
		if (raw[i] == '\'' && i + 1 < n && raw[i + 1] == '\'') {
			q->text[o++] = '\'';
			i += 2;
		} else if (raw[i] == '\n') {
			int breaks = 0;

			while (o > 0 && (q->text[o - 1] == ' ' || q->text[o - 1] == '\t'))
				o--;
			while (i < n && raw[i] == '\n') {
				breaks++;
				for (i++; i < n && (raw[i] == ' ' || raw[i] == '\t'); i++)
					;
			}
			if (breaks == 1)
				q->text[o++] = ' ';
			else
				while (--breaks > 0)
					q->text[o++] = '\n';
		} else {
			q->text[o++] = raw[i++];
		}
	}
	q->text[o] = '\0';
	q->len = o;
	return q;
}

static void free_meta(struct fy_node *n, void *meta, void *user)
{
	(void)n;
	(void)user;
	free(meta);
}

/* Decode a single-quoted scalar into the node's meta. */
static int decode_single(struct fy_node *n, const char *data, size_t len)
{
	struct fy_token *t = fy_node_get_scalar_token(n);
	const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
	const struct fy_mark *e = t ? fy_token_end_mark(t) : NULL;
	struct squoted *q;

	if (fy_node_get_style(n) != FYNS_SINGLE_QUOTED || !m || !e || e->input_pos < m->input_pos ||
	    e->input_pos > len)
		return 0;
	q = single_quoted(data + m->input_pos, e->input_pos - m->input_pos);
	if (!q)
		return FED_ENOMEM;
	if (fy_node_set_meta(n, q)) {
		free(q);
		return FED_ENOMEM;
	}
	return 0;
}

static int walk(struct fy_node *n, int parent, bool in_seq, const char *data, size_t len,
                struct fed_yaml_guard_where *w)
{
	void *iter = NULL;
	struct fy_node_pair *pair;
	struct fy_node *item;
	int ret;

	/* its target is walked where it stands; the recursion is bounded by
	 * libfyaml, which refuses documents nested deeper than 64 */
	if (!n || fy_node_is_alias(n))
		return 0;
	switch (fy_node_get_type(n)) {
	case FYNT_SCALAR:
		if (!block_scalar_ok(n, parent, in_seq, data, len, &w->line, &w->col)) {
			w->why = "the lines of a block scalar (| or >) must be indented more than "
			         "its key or \"- \"";
			return FED_EINVAL;
		}
		return decode_single(n, data, len);
	case FYNT_SEQUENCE:
		while ((item = fy_node_sequence_iterate(n, &iter)))
			if ((ret = walk(item, parent, true, data, len, w)))
				return ret;
		return 0;
	case FYNT_MAPPING:
		while ((pair = fy_node_mapping_iterate(n, &iter))) {
			struct fy_node *k = fy_node_pair_key(pair);
			struct fy_token *t = k ? fy_node_get_scalar_token(k) : NULL;
			const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;

			if ((ret = walk(k, parent, false, data, len, w)) ||
			    (ret = walk(fy_node_pair_value(pair), m ? m->column : parent, false,
			                data, len, w)))
				return ret;
		}
		return 0;
	}
	return 0;
}

int fed_yaml_guard_document(struct fy_document *fyd, const char *data, size_t len,
                            struct fed_yaml_guard_where *w)
{
	w->line = w->col = 0;
	w->why = NULL;
	if (fy_document_register_meta(fyd, free_meta, NULL))
		return FED_ENOMEM;
	return walk(fy_document_root(fyd), -1, false, data, len, w);
}

const char *fed_yaml_guard_text(struct fy_node *n, size_t *len)
{
	struct squoted *q = n ? fy_node_get_meta(n) : NULL;

	if (!q)
		return NULL;
	*len = q->len;
	return q->text;
}
