/* lib/yaml.c: the small libfyaml layer shared by the config parsers. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fed/yaml.h"

static void test_access(void)
{
	static const char src[] = "a: &x\n  s: hello\n  n: 42\n  b: yes\n  q: \"true\"\n"
	                          "  nul: ~\n  l: [1, two]\n"
	                          "b: *x\n";
	struct fed_error err = FED_ERROR_INIT;
	struct fed_yaml_doc *doc = NULL;
	struct fy_node *root, *a, *b, *item, *val, *key;
	const char *k;
	size_t klen, count = 0;
	void *iter = NULL;
	long long n = 0;
	bool flag = false;
	char *s = NULL;
	int line, col;

	CHECK_INT(fed_yaml_parse(&doc, src, strlen(src), "cfg", &err), 0);
	root = fed_yaml_root(doc);
	CHECK_INT(fed_yaml_kind(root), FED_YAML_MAP);
	a = fed_yaml_get(root, "a");
	b = fed_yaml_get(root, "b"); /* alias, resolved */
	CHECK(a && a == b);
	CHECK_INT(fed_yaml_str(fed_yaml_get(b, "s"), &s), 0);
	CHECK_STR(s, "hello");
	free(s);
	CHECK_INT(fed_yaml_int(fed_yaml_get(a, "n"), &n), 0);
	CHECK_INT(n, 42);
	CHECK_INT(fed_yaml_int(fed_yaml_get(a, "s"), &n), FED_EINVAL);
	CHECK_INT(fed_yaml_bool(fed_yaml_get(a, "b"), &flag), 0);
	CHECK(flag);
	/* quoted is a string, as in kubectl */
	CHECK_INT(fed_yaml_bool(fed_yaml_get(a, "q"), &flag), FED_EINVAL);
	CHECK_INT(fed_yaml_kind(fed_yaml_get(a, "nul")), FED_YAML_NULL);
	CHECK_INT(fed_yaml_str(fed_yaml_get(a, "nul"), &s), 0);
	CHECK(s == NULL);
	CHECK_INT(fed_yaml_str(fed_yaml_get(a, "l"), &s), FED_EINVAL);
	CHECK(fed_yaml_get(a, "missing") == NULL);
	CHECK(fed_yaml_get(fed_yaml_get(a, "s"), "x") == NULL); /* not a mapping */

	while (fed_yaml_map_next(a, &iter, &key, &k, &klen, &val))
		count++;
	CHECK_INT(count, 6);
	iter = NULL;
	count = 0;
	while (fed_yaml_seq_next(fed_yaml_get(a, "l"), &iter, &item))
		count++;
	CHECK_INT(count, 2);

	key = fed_yaml_key(a, "n");
	fed_yaml_mark(key, &line, &col);
	CHECK_INT(line, 3);
	CHECK_INT(col, 3);
	fed_yaml_mark(fed_yaml_get(a, "l"), &line, &col);
	CHECK_INT(line, 7);
	CHECK_INT(col, 7);
	CHECK_INT(fed_yaml_error(&err, FED_EINVAL, doc, key, "n: too %s", "big"), FED_EINVAL);
	CHECK_STR(err.msg, "cfg:3:3: n: too big");
	fed_yaml_free(doc);
}

static void test_parse_errors(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_yaml_doc *doc = NULL;

	CHECK_INT(fed_yaml_parse(&doc, "a: 1\na: 2\n", 10, "f.yaml", &err), FED_EINVAL);
	CHECK(doc == NULL);
	CHECK_STR(err.msg, "f.yaml:2:1: duplicate key");
	CHECK_INT(fed_yaml_parse(&doc, "a: [", 4, NULL, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "<string>:");
	/* checked before libfyaml, which hangs on some of these */
	CHECK_INT(fed_yaml_parse(&doc, "a: 1\n%\xff", 7, "f", &err), FED_EINVAL);
	CHECK_STR(err.msg, "f:2:2: invalid UTF-8");
	CHECK_INT(fed_yaml_parse(&doc, "%\xed\xa0\x80", 4, "f", &err), FED_EINVAL);
	CHECK_INT(fed_yaml_parse(&doc, "%\xf4\x90\x80\x80", 5, "f", &err), FED_EINVAL);
	CHECK_INT(fed_yaml_parse(&doc, "\xc0\xaf", 2, "f", &err), FED_EINVAL); /* overlong */
	CHECK_INT(fed_yaml_parse(&doc, "a: \xc3", 4, "f", &err), FED_EINVAL);  /* truncated */
	CHECK_INT(fed_yaml_parse(&doc, "a: \xc3\xa9\xf0\x9f\x98\x80", 10, "f", &err), 0);
	fed_yaml_free(doc);
	/* libfyaml 0.7.12 crashes on some of these */
	CHECK_INT(fed_yaml_parse(&doc, "a: 1\n- ? e:\t:\n", 14, "f", &err), FED_EINVAL);
	CHECK_STR(err.msg, "f:2:3: explicit keys (\"? key\") are not supported");
	CHECK_INT(fed_yaml_parse(&doc, "a: \"?\"\nb: what? yes\nc: ?x\n", 27, "f", &err), 0);
	fed_yaml_free(doc);
	/* ... and where a value starts on a key's line (fuzz.kubeconfig) */
	CHECK_INT(fed_yaml_parse(&doc, ": ? ::\t:", 8, "f", &err), FED_EINVAL);
	CHECK_STR(err.msg, "f:1:3: explicit keys (\"? key\") are not supported");
	CHECK_INT(fed_yaml_parse(&doc, "x:\n  k: ? a:\t:\n", 15, "f", &err), FED_EINVAL);
	CHECK_STR(err.msg, "f:2:6: explicit keys (\"? key\") are not supported");
	/* not in quotes or comments */
	CHECK_INT(fed_yaml_parse(&doc, "a: \"b: ? c\"\nd: e # f: ? g\n", 26, "f", &err), 0);
	fed_yaml_free(doc);
	/* blank: a document without a root */
	CHECK_INT(fed_yaml_parse(&doc, " \n# c\n", 6, NULL, &err), 0);
	CHECK(fed_yaml_root(doc) == NULL);
	fed_yaml_free(doc);
	fed_yaml_free(NULL);
}

/* Block scalars: valid ones read as YAML says; content not indented more
 * than its key or "- " is refused with its position (libfyaml 0.7.12
 * returns a byte it never wrote for those). */
static void test_block_scalars(void)
{
	static const struct {
		const char *yaml, *path, *want;
	} good[] = {
	    {"a: |\n  x\n   y\n", "a", "x\n y\n"},
	    {"b:\n  a: >\n    x\n    y\n  c: 1\n", "b.a", "x y\n"},
	    {"s:\n- |\n  x\n- a: |\n    y\n", "s", NULL},
	    {"s:\n  - - |\n      x\n", "s", NULL},
	    {"a: |2\n    x\n", "a", "  x\n"},
	    {"a: |\n\n  x\n", "a", "\nx\n"},
	    {"a: |\nb: 1\n", "a", ""},
	    {"|\n x\n", NULL, "x\n"},
	};
	static const struct {
		const char *yaml, *msg;
	} bad[] = {
	    {"b:\n  a: |\n  n\n   \n   I\n", "f:3:3: the lines of a block scalar"},
	    {"s:\n- a: |\n  y\n", "f:3:3: the lines of a block scalar"},
	    {"s:\n  - |\n  x\n", "f:3:3: the lines of a block scalar"},
	    {" |\n |\n\n\n", "f:2:2: the lines of a block scalar"}, /* leaked, too */
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_yaml_doc *doc = NULL;
	char *v = NULL;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct fy_node *n;

		CHECK_INT(fed_yaml_parse(&doc, good[i].yaml, strlen(good[i].yaml), "f", &err), 0);
		n = fed_yaml_root(doc);
		if (good[i].path && strchr(good[i].path, '.'))
			n = fed_yaml_get(fed_yaml_get(n, "b"), "a");
		else if (good[i].path)
			n = fed_yaml_get(n, good[i].path);
		CHECK(n != NULL);
		if (good[i].want) {
			CHECK_INT(fed_yaml_str(n, &v), 0);
			CHECK_STR(v, good[i].want);
			free(v);
			v = NULL;
		}
		fed_yaml_free(doc);
		doc = NULL;
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(fed_yaml_parse(&doc, bad[i].yaml, strlen(bad[i].yaml), "f", &err),
		          FED_EINVAL);
		CHECK(doc == NULL);
		CHECK_HAS(err.msg, bad[i].msg);
	}
}

/* \r\n and a lone \r are line breaks like \n (libfyaml 0.7.12 leaks on
 * quoted scalars broken with \r\n, so they are made \n first) */
static void test_line_breaks(void)
{
	static const char *const docs[] = {
	    "a: \"x\r\n\r\n\r\n\r\n\r\n\r\n  y\"\r\nb: |\r\n  l1\r\n  l2\r\n",
	    "a: \"x\r\r\r\r\r\r  y\"\rb: |\r  l1\r  l2\r",
	    "a: \"x\n\n\n\n\n\n  y\"\nb: |\n  l1\n  l2\n",
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_yaml_doc *doc = NULL;
	char *a = NULL, *b = NULL, want[FED_ERROR_MSG_MAX];

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		CHECK_INT(fed_yaml_parse(&doc, docs[i], strlen(docs[i]), "f", &err), 0);
		CHECK_INT(fed_yaml_str(fed_yaml_get(fed_yaml_root(doc), "a"), &a), 0);
		CHECK_INT(fed_yaml_str(fed_yaml_get(fed_yaml_root(doc), "b"), &b), 0);
		CHECK_STR(a, "x\n\n\n\n\ny");
		CHECK_STR(b, "l1\nl2\n");
		free(a);
		free(b);
		a = b = NULL;
		fed_yaml_free(doc);
		doc = NULL;
	}
	/* positions count a \r\n as one break: the same as with \n */
	CHECK_INT(fed_yaml_parse(&doc, "a: 1\nb: [\n", 10, "f", &err), FED_EINVAL);
	snprintf(want, sizeof(want), "%s", err.msg);
	CHECK_INT(fed_yaml_parse(&doc, "a: 1\r\nb: [\r\n", 12, "f", &err), FED_EINVAL);
	CHECK_STR(err.msg, want);
}

/* Single-quoted scalars are decoded by the guard (libfyaml 0.7.12 leaks
 * the text of one with five '' in a row); the result must be YAML's, and
 * libfyaml's where libfyaml gets it right without leaking. */
static void test_single_quoted(void)
{
	static const struct {
		const char *yaml, *want;
		bool compare; /* libfyaml does not leak on it */
	} cases[] = {
	    {"a: 'x''''''''''x'\n", "x'''''x", false},
	    {"a: 'it''s'\n", "it's", true},
	    {"a: 'a\n  b'\n", "a b", true},
	    {"a: 'a\n\n  b'\n", "a\nb", true},
	    {"a: 'a  \n \n\n  b  '\n", "a\n\nb  ", true},
	    {"a: ' lead '\n", " lead ", true},
	    {"a: ''\n", "", true},
	    {"a: 'tab\there'\n", "tab\there", true},
	    {"'k''q': 'v'\na: x\n", NULL, false},
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_yaml_doc *doc = NULL;
	char *v = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fy_node *n;
		const char *fy;
		size_t len;

		CHECK_INT(fed_yaml_parse(&doc, cases[i].yaml, strlen(cases[i].yaml), "f", &err), 0);
		if (!cases[i].want) { /* a quoted key is found by its text */
			CHECK_INT(fed_yaml_str(fed_yaml_get(fed_yaml_root(doc), "k'q"), &v), 0);
			CHECK_STR(v, "v");
		} else {
			n = fed_yaml_get(fed_yaml_root(doc), "a");
			CHECK_INT(fed_yaml_str(n, &v), 0);
			CHECK_STR(v, cases[i].want);
			if (cases[i].compare && (fy = fy_node_get_scalar(n, &len)))
				CHECK_INT(len == strlen(v) && !memcmp(fy, v, len), 1);
		}
		free(v);
		v = NULL;
		fed_yaml_free(doc);
		doc = NULL;
	}
}

static void test_alias_bomb(void)
{
	/* aliases are followed, never expanded: this stays small */
	static const char src[] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	                          "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	                          "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	                          "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	                          "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	                          "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	                          "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
	                          "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
	                          "i: [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	struct fed_error err = FED_ERROR_INIT;
	struct fed_yaml_doc *doc = NULL;
	struct fy_node *item;
	void *iter = NULL;
	int n = 0;

	CHECK_INT(fed_yaml_parse(&doc, src, strlen(src), NULL, &err), 0);
	while (fed_yaml_seq_next(fed_yaml_get(fed_yaml_root(doc), "i"), &iter, &item))
		n += fed_yaml_kind(item) == FED_YAML_SEQ;
	CHECK_INT(n, 10);
	fed_yaml_free(doc);
}

int main(void)
{
	RUN(test_access);
	RUN(test_parse_errors);
	RUN(test_alias_bomb);
	RUN(test_block_scalars);
	RUN(test_line_breaks);
	RUN(test_single_quoted);
	return CHECK_EXIT();
}
