/* String-keyed hash map (separate chaining). Keys are copied; values are
 * the caller's. Iteration order is unspecified. */
#ifndef FED_MAP_H
#define FED_MAP_H

#include <stddef.h>

struct fed_map_entry {
	char *key;
	void *value;
	struct fed_map_entry *next;
	size_t hash;
};

struct fed_map {
	struct fed_map_entry **buckets;
	size_t nbuckets;
	size_t count;
};

/* an initializer, which clang-format 14 would lay out as a block */
/* clang-format off */
#define FED_MAP_INIT {NULL, 0, 0}
/* clang-format on */

void fed_map_init(struct fed_map *m);
/* free_value (may be NULL) is called for every value. */
void fed_map_release(struct fed_map *m, void (*free_value)(void *));
void *fed_map_get(const struct fed_map *m, const char *key);
/* Insert or replace; *old gets the replaced value (or NULL). */
int fed_map_put(struct fed_map *m, const char *key, void *value, void **old);
/* Remove; returns the value or NULL. */
void *fed_map_del(struct fed_map *m, const char *key);
size_t fed_map_count(const struct fed_map *m);

/* for (e = fed_map_first(m, &it); e; e = fed_map_next(m, &it)) — the
 * current entry may be deleted during iteration. */
struct fed_map_iter {
	size_t bucket;
	struct fed_map_entry *next;
};
struct fed_map_entry *fed_map_first(const struct fed_map *m, struct fed_map_iter *it);
struct fed_map_entry *fed_map_next(const struct fed_map *m, struct fed_map_iter *it);

#endif
