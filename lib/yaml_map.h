/* Table-driven YAML mapper (fluent-bit's config_map idea): a table of
 * {key, type, offsetof(struct, field), required, description} fills a C
 * struct from a mapping node.
 *
 * Strict on purpose: an unknown key is an error naming the key and listing
 * the allowed ones, a wrong type says what was expected and what was found,
 * and a missing required key is reported, all with the node's line:col and
 * a field path ("spec.clusters[0].serverAddressByClientCIDRs[1].clientCIDR").
 * Filling stops at the first error: one message, the first problem.
 *
 * Keys are looked up in the table's order, so checks of one field may rely
 * on the fields listed before it. YAML merge keys ("<<: *base", or a list
 * of aliases) are honoured with explicit keys winning, as in go-yaml.
 *
 * The context carries the document and the current path, not the error:
 * every call takes its own struct fed_error, so a caller can send errors of
 * one list entry to that entry and keep going with the next. */
#ifndef FED_YAML_MAP_H
#define FED_YAML_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "fed/buf.h"
#include "fed/error.h"
#include "fed/yaml.h"

enum fed_yaml_map_type {
	FED_YAML_MAP_STRING = 1, /* char *, malloc'd; any scalar */
	FED_YAML_MAP_BOOL,       /* bool; true/false (and yes/no/on/off), unquoted */
	FED_YAML_MAP_INT,        /* long long; decimal, unquoted */
	FED_YAML_MAP_ENUM,       /* int: index into .values */
	FED_YAML_MAP_MAPPING,    /* embedded struct, filled with .fields */
	FED_YAML_MAP_SEQ,        /* list; .item is called for every element */
};

struct fed_yaml_map;
struct fed_yaml_map_field;

/* Called for element `index` of `count` of a FED_YAML_MAP_SEQ field with
 * the path already ending in "[index]"; base is the struct whose table
 * holds the field (the callback owns the array, e.g. calloc(count) at
 * index 0). Return 0 to go on, or a negative code with err set to stop.
 * item is alias-resolved and may be NULL for a null element. */
typedef int (*fed_yaml_map_item_fn)(struct fed_yaml_map *m, struct fy_node *item, size_t index,
                                    size_t count, void *base, struct fed_error *err);

/* Optional check of a field after it was stored (not called when the key
 * is absent or null), path ending in the key: validate, derive other
 * fields of base, and report with fed_yaml_map_error(m, value, err, ...). */
typedef int (*fed_yaml_map_check_fn)(struct fed_yaml_map *m, struct fy_node *value, void *base,
                                     struct fed_error *err);

struct fed_yaml_map_field {
	const char *key; /* NULL ends the table */
	enum fed_yaml_map_type type;
	size_t offset;    /* offsetof(struct, field) */
	bool required;    /* present and not null (and for strings, not "") */
	const char *desc; /* a few words, shown in "missing" errors */
	const struct fed_yaml_map_field *fields; /* FED_YAML_MAP_MAPPING */
	fed_yaml_map_item_fn item;               /* FED_YAML_MAP_SEQ */
	size_t max_items;                        /* FED_YAML_MAP_SEQ: 0 = no limit */
	const char *const *values;               /* FED_YAML_MAP_ENUM: NULL-terminated */
	fed_yaml_map_check_fn check;             /* optional */
};

struct fed_yaml_map {
	const struct fed_yaml_doc *doc;
	struct fed_buf path; /* "" at the root */
};

void fed_yaml_map_init(struct fed_yaml_map *m, const struct fed_yaml_doc *doc);
void fed_yaml_map_release(struct fed_yaml_map *m);

/* Fill base from the mapping node. A null node is an empty mapping (so
 * only required keys complain). Returns 0, FED_EINVAL (err says what and
 * where), FED_ENOMEM, or what a callback returned. Fields already set in
 * base are replaced (strings freed first), so base must start zeroed. */
int fed_yaml_map_fill(struct fed_yaml_map *m, struct fy_node *node,
                      const struct fed_yaml_map_field *fields, void *base, struct fed_error *err);

/* Free the strings the table stored in base (recursing into MAPPING
 * fields) and NULL them. SEQ fields are the item callback's to free. */
void fed_yaml_map_free_fields(const struct fed_yaml_map_field *fields, void *base);

/* "<source>:<line>:<col>: <path>: <message>" (path and position left out
 * when empty or unknown); control characters in the message become '?'
 * so it stays one line. Returns code. */
int fed_yaml_map_error(struct fed_yaml_map *m, struct fy_node *at, struct fed_error *err, int code,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The current path ("" at the root). */
const char *fed_yaml_map_path(const struct fed_yaml_map *m);

/* Append ".key" ("key" at the root) or "[index]"; fed_yaml_map_pop(m, len)
 * goes back to a length saved from m->path.len. FED_ENOMEM on failure. */
int fed_yaml_map_push_key(struct fed_yaml_map *m, const char *key);
int fed_yaml_map_push_index(struct fed_yaml_map *m, size_t index);
void fed_yaml_map_pop(struct fed_yaml_map *m, size_t len);

/* Write s into buf (size >= 8) as a double-quoted, escaped, one-line
 * string, cut with "..." to fit: for user values in messages. */
const char *fed_yaml_map_quote(char *buf, size_t size, const char *s, size_t len);

#endif
