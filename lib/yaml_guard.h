/* Guards around libfyaml 0.7.12 (Debian 12), for lib/yaml.c: the inputs
 * it mishandles are refused with their position before or after it
 * parses them, and the scalars whose text it would leak are decoded here
 * instead. Each guard names the bug it stands for; fuzz.* found most. */
#ifndef FED_YAML_GUARD_H
#define FED_YAML_GUARD_H

#include <stddef.h>

#include <libfyaml.h>

/* Offset of the first byte that is not valid UTF-8, or len; line and col
 * (1-based) say where. */
size_t fed_yaml_guard_utf8(const char *data, size_t len, int *line, int *col);
/* Offset of an explicit key indicator ("? "), or len. */
size_t fed_yaml_guard_explicit_key(const char *data, size_t len, int *line, int *col);
/* data with \r\n and lone \r made \n (malloc'd, NUL-terminated); *len is
 * updated. Lines and columns stay as they were. */
char *fed_yaml_guard_breaks(const char *data, size_t *len);

struct fed_yaml_guard_where {
	int line, col; /* 1-based */
	const char *why;
};

/* After parsing data into fyd: refuse block scalars libfyaml mis-sizes
 * (FED_EINVAL, w says where and why), and decode every single-quoted
 * scalar into its node's meta (FED_ENOMEM). */
int fed_yaml_guard_document(struct fy_document *fyd, const char *data, size_t len,
                            struct fed_yaml_guard_where *w);
/* A single-quoted scalar's text as decoded by the guard, NULL for any
 * other node (then libfyaml's text is safe to use). */
const char *fed_yaml_guard_text(struct fy_node *n, size_t *len);

#endif
