/* Fuzz the RSP's reading of a target (a Federated<Kind> from the host) and
 * of a member's workload object: any JSON must either give a patch, no
 * patch, or a one-line error. A patch, merged into the object, must leave
 * nothing more to patch (a restart writes nothing), and must keep every
 * override that is not a /spec/replicas one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/propagation.h"
#include "fed/rsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"a", "b", "c", "member-1"};
#define N (sizeof(names) / sizeof(names[0]))

/* RFC 7386 merge of patch into target (objects merge, null deletes). */
static void merge(cJSON *target, const cJSON *patch)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, patch) {
		cJSON *t = cJSON_GetObjectItemCaseSensitive(target, p->string);

		if (cJSON_IsNull(p)) {
			cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
		} else if (cJSON_IsObject(p) && cJSON_IsObject(t)) {
			merge(t, p);
		} else {
			cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
			cJSON_AddItemToObject(target, p->string, cJSON_Duplicate(p, 1));
		}
	}
}

/* JSON from an apiserver never repeats a key; cJSON keeps repeats, and a
 * merge of such a document is not well defined. */
static bool dup_keys(const cJSON *v)
{
	const cJSON *a, *b;

	for (a = v ? v->child : NULL; a; a = a->next) {
		if (dup_keys(a))
			return true;
		for (b = a->next; cJSON_IsObject(v) && b; b = b->next)
			if (a->string && b->string && !strcmp(a->string, b->string))
				return true;
	}
	return false;
}

/* Ops other than /spec/replicas, in order, as one string. */
static char *other_ops(const cJSON *obj)
{
	const cJSON *ov = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "overrides");
	cJSON *keep = cJSON_CreateArray();
	const cJSON *e, *op;
	char *s;

	cJSON_ArrayForEach(e, ov) {
		cJSON_ArrayForEach(op, cJSON_GetObjectItem(e, "clusterOverrides")) {
			const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(op, "path"));
			if (!path || strcmp(path, "/spec/replicas"))
				cJSON_AddItemToArray(keep, cJSON_Duplicate(op, 1));
		}
	}
	s = cJSON_PrintUnformatted(keep);
	cJSON_Delete(keep);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_rsp_assign a[N];
	struct fed_rsp_observed st;
	struct fed_error err = FED_ERROR_INIT;
	cJSON *obj = NULL, *patch = NULL, *again = NULL;
	char *buf = malloc(size + 1), *before = NULL, *after = NULL;
	uint32_t h = 2166136261u;
	size_t i;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	obj = cJSON_Parse(buf);
	if (!obj)
		goto out;
	/* the same bytes as a member's workload object */
	memset(&st, 0, sizeof(st));
	fed_rsp_observe(obj, 10, 5, &st);
	fed_rsp_observe(obj, 20, 5, &st);
	if (st.current < -1 || st.capacity < -1 || (st.capacity >= 0 && st.capacity != st.current))
		abort();
	for (i = 0; i < N; i++) {
		uint32_t r = h >> (i * 8);
		a[i] = (struct fed_rsp_assign){names[i], (int64_t)(r % 7) - 1, (r & 0x10) != 0,
		                               (r & 0x20) != 0};
		if (fed_rsp_asked(obj, names[i], a[i].placed) < 0)
			abort();
	}
	if (fed_rsp_target_patch(obj, a, N, &patch, &err)) {
		if (!err.code || !err.msg[0] || strchr(err.msg, '\n'))
			abort();
		goto out;
	}
	if (!patch)
		goto out;
	if (!cJSON_IsObject(cJSON_GetObjectItem(obj, "spec")) || dup_keys(obj))
		goto out; /* a non-object spec: a merge would replace it wholesale */
	before = other_ops(obj);
	merge(obj, patch);
	after = other_ops(obj);
	/* kept clusters' ops may include replicas ops; others are untouched */
	if (strcmp(before, after))
		abort();
	if (fed_rsp_target_patch(obj, a, N, &again, &err) || again)
		abort();
out:
	free(before);
	free(after);
	cJSON_Delete(again);
	cJSON_Delete(patch);
	cJSON_Delete(obj);
	free(buf);
	return 0;
}
