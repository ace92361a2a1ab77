#include <stdlib.h>
#include <string.h>

#include "fed/error.h"
#include "fed/map.h"

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void fed_map_init(struct fed_map *m)
{
	m->buckets = NULL;
	m->nbuckets = 0;
	m->count = 0;
}

void fed_map_release(struct fed_map *m, void (*free_value)(void *))
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nbuckets; i++) {
		struct fed_map_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			if (free_value)
				free_value(e->value);
			free(e->key);
			free(e);
		}
	}
	free(m->buckets);
	fed_map_init(m);
}

static struct fed_map_entry **find(const struct fed_map *m, const char *key, size_t h)
{
	struct fed_map_entry **pp;

	if (!m->nbuckets)
		return NULL;
	for (pp = &m->buckets[h & (m->nbuckets - 1)]; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && !strcmp((*pp)->key, key))
			return pp;
	return NULL;
}

void *fed_map_get(const struct fed_map *m, const char *key)
{
	struct fed_map_entry **pp = find(m, key, hash_str(key));

	return pp ? (*pp)->value : NULL;
}

static int grow(struct fed_map *m)
{
	size_t n = m->nbuckets ? m->nbuckets * 2 : 64, i;
	struct fed_map_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return FED_ENOMEM;
	for (i = 0; i < m->nbuckets; i++) {
		struct fed_map_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
	return 0;
}

int fed_map_put(struct fed_map *m, const char *key, void *value, void **old)
{
	size_t h = hash_str(key);
	struct fed_map_entry **pp = find(m, key, h), *e;

	if (old)
		*old = NULL;
	if (pp) {
		if (old)
			*old = (*pp)->value;
		(*pp)->value = value;
		return 0;
	}
	if (m->count + 1 > m->nbuckets && grow(m))
		return FED_ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return FED_ENOMEM;
	e->key = strdup(key);
	if (!e->key) {
		free(e);
		return FED_ENOMEM;
	}
	e->value = value;
	e->hash = h;
	e->next = m->buckets[h & (m->nbuckets - 1)];
	m->buckets[h & (m->nbuckets - 1)] = e;
	m->count++;
	return 0;
}

void *fed_map_del(struct fed_map *m, const char *key)
{
	struct fed_map_entry **pp = find(m, key, hash_str(key)), *e;
	void *v;

	if (!pp)
		return NULL;
	e = *pp;
	*pp = e->next;
	v = e->value;
	free(e->key);
	free(e);
	m->count--;
	return v;
}

size_t fed_map_count(const struct fed_map *m)
{
	return m->count;
}

struct fed_map_entry *fed_map_next(const struct fed_map *m, struct fed_map_iter *it)
{
	struct fed_map_entry *e = it->next;

	while (!e && it->bucket < m->nbuckets)
		e = m->buckets[it->bucket++];
	it->next = e ? e->next : NULL;
	return e;
}

struct fed_map_entry *fed_map_first(const struct fed_map *m, struct fed_map_iter *it)
{
	it->bucket = 0;
	it->next = NULL;
	return fed_map_next(m, it);
}
