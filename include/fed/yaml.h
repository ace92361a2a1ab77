/* YAML helpers over libfyaml: parse one document from memory with
 * errors as "<source>:<line>:<col>: <message>", typed access to mapping
 * values, sequence/mapping iteration and node positions for messages.
 *
 * Aliases are resolved lazily, one node at a time, by every accessor here
 * (never by copying the tree), so "billion laughs" input stays cheap.
 * Mapping iteration hands out every key, which is what a table-driven
 * mapper that rejects unknown keys needs. */
#ifndef FED_YAML_H
#define FED_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include <libfyaml.h>

#include "fed/error.h"

struct fed_yaml_doc;

enum fed_yaml_kind {
	FED_YAML_NULL = 0, /* absent, empty, ~ or null */
	FED_YAML_SCALAR,
	FED_YAML_SEQ,
	FED_YAML_MAP,
};

/* Parse the first YAML document of data. `source` prefixes messages
 * ("kubeconfig /x/config" gives "kubeconfig /x/config:3:5: ..."); NULL
 * means "<string>". Blank or comment-only input gives a NULL root. */
int fed_yaml_parse(struct fed_yaml_doc **out, const char *data, size_t len, const char *source,
                   struct fed_error *err);
/* The same, keeping comments, for a caller that edits the document and
 * emits it again (fed_yaml_document()); the guards apply as above. */
int fed_yaml_parse_editable(struct fed_yaml_doc **out, const char *data, size_t len,
                            const char *source, struct fed_error *err);
/* libfyaml's document, NULL for blank input. It lives as long as doc. */
struct fy_document *fed_yaml_document(const struct fed_yaml_doc *doc);
void fed_yaml_free(struct fed_yaml_doc *doc);
struct fy_node *fed_yaml_root(const struct fed_yaml_doc *doc);
const char *fed_yaml_source(const struct fed_yaml_doc *doc);

/* Follows an alias; NULL for NULL or a dangling alias. */
struct fy_node *fed_yaml_deref(struct fy_node *n);
enum fed_yaml_kind fed_yaml_kind(struct fy_node *n);
/* "null", "a string", "a list", "a mapping": for "must be X, not Y". */
const char *fed_yaml_kind_name(enum fed_yaml_kind kind);

/* Value of key in a mapping (alias resolved), NULL if absent or if map is
 * not a mapping. */
struct fy_node *fed_yaml_get(struct fy_node *map, const char *key);
/* The key node itself (for positions in messages), NULL if absent. */
struct fy_node *fed_yaml_key(struct fy_node *map, const char *key);
/* Iterate a mapping: *iter starts NULL. *key is NULL (and *keylen 0) for a
 * non-scalar key; *keynode is for positions and may be NULL. Returns false
 * at the end. */
bool fed_yaml_map_next(struct fy_node *map, void **iter, struct fy_node **keynode, const char **key,
                       size_t *keylen, struct fy_node **val);
/* Iterate a sequence: *iter starts NULL; returns false at the end. *item
 * is alias-resolved and may be NULL for a null item (fed_yaml_kind says
 * FED_YAML_NULL for it). */
bool fed_yaml_seq_next(struct fy_node *seq, void **iter, struct fy_node **item);

/* Scalar text (not NUL-terminated), NULL unless a non-null scalar. */
const char *fed_yaml_scalar(struct fy_node *n, size_t *len);
/* The text of any scalar node, null ones included (no alias followed);
 * NULL for anything else. Use it, never fy_node_get_scalar(): it avoids
 * a libfyaml 0.7.12 leak (see yaml_guard.h). */
const char *fed_yaml_text(struct fy_node *n, size_t *len);
/* Typed getters: 0 on success (a null node leaves *out untouched, except
 * fed_yaml_str which sets NULL), FED_EINVAL for the wrong type (the caller
 * names the field), FED_ENOMEM. Any scalar is accepted as a string. */
int fed_yaml_str(struct fy_node *n, char **out);
/* true/false (and YAML 1.1 yes/no/on/off, as sigs.k8s.io/yaml accepts),
 * plain scalars only: a quoted "true" is a string, as in kubectl. */
int fed_yaml_bool(struct fy_node *n, bool *out);
int fed_yaml_int(struct fy_node *n, long long *out);

/* 1-based line and column of a node (for collections, of their first
 * scalar); 0, 0 when unknown. */
void fed_yaml_mark(struct fy_node *n, int *line, int *col);
/* fed_error_set with "<source>:<line>:<col>: " (or "<source>: ") first. */
int fed_yaml_error(struct fed_error *err, int code, const struct fed_yaml_doc *doc,
                   struct fy_node *n, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
