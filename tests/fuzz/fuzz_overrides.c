/* Fuzz overrides and the JSON patch: the input is a JSON document
 * {"obj": <any>, "ops": <any>, "overrides": <any>}. spec.overrides
 * validation must accept or refuse with a one-line message; the patch is
 * applied to a copy of obj and must succeed or leave the copy exactly as
 * it was (atomic), again with a one-line message; hashing must work on
 * whatever comes out, and be independent of key order. The full
 * per-cluster computation runs on obj as a Federated<Kind>. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/propagation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(int ret, const struct fed_error *err)
{
	if (ret >= 0 || ret != err->code || !err->msg[0] || strchr(err->msg, '\n'))
		abort();
}

static void hash_or_abort(const cJSON *v, char out[65])
{
	if (fed_json_hash(v, out) || strlen(out) != 64)
		abort();
}

static int name_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;

	return strcmp(x ? x : "", y ? y : "");
}

/* Whether object v has a key twice: then member order is part of its
 * meaning (the canonical form keeps duplicates in their order). */
static bool has_duplicate_keys(const cJSON *v)
{
	const char **names;
	const cJSON *c;
	size_t n = 0, i;
	bool dup = false;

	for (c = v->child; c; c = c->next)
		n++;
	if (n < 2)
		return false;
	names = calloc(n, sizeof(*names));
	if (!names)
		abort();
	for (i = 0, c = v->child; c; c = c->next)
		names[i++] = c->string;
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 1; i < n && !dup; i++)
		dup = !name_cmp(&names[i - 1], &names[i]);
	free(names);
	return dup;
}

/* Reverse the member order of every object without duplicate keys (to
 * depth 64): the hash must not change. */
static void reverse_objects(cJSON *v, int depth)
{
	cJSON *c, *next, *rev = NULL;

	if (!v || depth > 64)
		return;
	for (c = v->child; c; c = c->next)
		reverse_objects(c, depth + 1);
	if (!cJSON_IsObject(v) || !v->child || has_duplicate_keys(v))
		return;
	/* rebuild the list back to front; child->prev must point at the last item */
	for (c = v->child; c; c = next) {
		next = c->next;
		c->next = rev;
		if (rev)
			rev->prev = c;
		rev = c;
	}
	v->child = rev;
	for (c = rev; c->next; c = c->next)
		;
	rev->prev = c;
}

static void run_object(const cJSON *obj, const cJSON *existing)
{
	static const struct fed_target_type types[] = {
	    {"apps/v1", "Deployment", true},
	    {"v1", "Service", true},
	    {"v1", "ServiceAccount", true},
	    {"v1", "PersistentVolumeClaim", true},
	    {"rbac.authorization.k8s.io/v1", "ClusterRole", false},
	};
	static const char *const clusters[] = {"east", "west"};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *out = NULL;
	char h[65], d[65];
	size_t i, k;
	int ret;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		for (k = 0; k < 2; k++) {
			fed_error_clear(&err);
			ret = fed_object_for_cluster(obj, &types[i], clusters[k], existing, &out,
			                             &err);
			if (ret) {
				check_message(ret, &err);
				if (out)
					abort();
				continue;
			}
			if (fed_managed_state(out) != FED_MANAGED_YES)
				abort();
			hash_or_abort(out, h);
			cJSON_Delete(out);
			out = NULL;
			fed_error_clear(&err);
			ret = fed_desired_hash(obj, &types[i], clusters[k], d, &err);
			if (ret)
				abort(); /* it worked with existing, so without too */
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *root = NULL, *copy = NULL, *before = NULL;
	const cJSON *obj, *ops, *overrides, *existing;
	char h1[65], h2[65], *c1 = NULL, *c2 = NULL;
	int ret;

	if (size > (1u << 20))
		return 0;
	root = cJSON_ParseWithLength((const char *)data, size);
	if (!root)
		goto out;
	obj = cJSON_GetObjectItemCaseSensitive(root, "obj");
	ops = cJSON_GetObjectItemCaseSensitive(root, "ops");
	overrides = cJSON_GetObjectItemCaseSensitive(root, "overrides");
	existing = cJSON_GetObjectItemCaseSensitive(root, "existing");

	ret = fed_overrides_validate(overrides ? overrides : ops, &err);
	if (ret)
		check_message(ret, &err);
	(void)fed_overrides_for(overrides, "east");

	hash_or_abort(root, h1);
	copy = obj ? cJSON_Duplicate(obj, 1) : cJSON_CreateNull();
	before = cJSON_Duplicate(copy, 1);
	if (!copy || !before)
		goto out;
	fed_error_clear(&err);
	ret = fed_json_patch_apply(copy, ops, &err);
	if (ret) {
		check_message(ret, &err);
		/* a failed patch must leave the document as it was (compared by
		 * canonical text: cJSON_Compare gets duplicate keys wrong) */
		if (fed_json_canonical(copy, &c1) || fed_json_canonical(before, &c2) ||
		    strcmp(c1, c2))
			abort();
	}
	hash_or_abort(copy, h1);
	reverse_objects(copy, 0);
	hash_or_abort(copy, h2);
	if (strcmp(h1, h2))
		abort();

	(void)fed_managed_state(obj);
	run_object(obj, existing);
out:
	free(c1);
	free(c2);
	cJSON_Delete(before);
	cJSON_Delete(copy);
	cJSON_Delete(root);
	return 0;
}
