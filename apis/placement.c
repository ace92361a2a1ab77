/* Placement: which member clusters a Federated<Kind> goes to (kubefed's
 * pkg/controller/util/placement.go semantics, see propagation.h). */
#include <stdbool.h>
#include <string.h>

#include "fed/propagation.h"
#include "propagation_internal.h"

#define SEL "spec.placement.clusterSelector"

/* The member's value for label `key`, or NULL (non-string values are no label). */
static const char *label_value(const cJSON *labels, const char *key)
{
	const cJSON *v;

	if (!cJSON_IsObject(labels))
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(labels, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int eval_match_labels(const cJSON *ml, const cJSON *labels, bool *match,
                             struct fed_error *err)
{
	char q[FED_QUOTE_BUF];
	const cJSON *e;
	int ret = 0;

	if (!ml || cJSON_IsNull(ml))
		goto out;
	if (!cJSON_IsObject(ml)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    SEL ".matchLabels: must be a map of label to value, e.g. "
		                        "{region: eu}");
		goto out;
	}
	cJSON_ArrayForEach(e, ml) {
		const char *have;

		if (!cJSON_IsString(e)) {
			ret = fed_error_set(err, FED_EINVAL,
			                    SEL ".matchLabels[%s]: must be a string (quote it: "
			                        "\"true\", \"1\")",
			                    fed_quote(q, sizeof(q), e->string));
			goto out;
		}
		have = label_value(labels, e->string);
		if (!have || strcmp(have, e->valuestring))
			*match = false;
	}
out:
	return ret;
}

enum sel_op { OP_IN, OP_NOT_IN, OP_EXISTS, OP_DOES_NOT_EXIST };

static int eval_expression(const cJSON *x, size_t i, const cJSON *labels, bool *match,
                           struct fed_error *err)
{
	char q[FED_QUOTE_BUF];
	const cJSON *key, *op, *values, *v;
	const char *have;
	enum sel_op o;
	bool found = false;
	int nvalues, k, ret = 0;

	if (!cJSON_IsObject(x)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    SEL ".matchExpressions[%zu]: must be an object {key, operator, "
		                        "values}",
		                    i);
		goto out;
	}
	key = cJSON_GetObjectItemCaseSensitive(x, "key");
	op = cJSON_GetObjectItemCaseSensitive(x, "operator");
	values = cJSON_GetObjectItemCaseSensitive(x, "values");
	if (!cJSON_IsString(key) || !key->valuestring[0]) {
		ret = fed_error_set(err, FED_EINVAL,
		                    SEL ".matchExpressions[%zu].key: required: the cluster label "
		                        "to test",
		                    i);
		goto out;
	}
	if (!cJSON_IsString(op)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    SEL ".matchExpressions[%zu].operator: required: use In, NotIn, "
		                        "Exists or DoesNotExist",
		                    i);
		goto out;
	}
	if (!strcmp(op->valuestring, "In")) {
		o = OP_IN;
	} else if (!strcmp(op->valuestring, "NotIn")) {
		o = OP_NOT_IN;
	} else if (!strcmp(op->valuestring, "Exists")) {
		o = OP_EXISTS;
	} else if (!strcmp(op->valuestring, "DoesNotExist")) {
		o = OP_DOES_NOT_EXIST;
	} else {
		ret = fed_error_set(err, FED_EINVAL,
		                    SEL
		                    ".matchExpressions[%zu].operator: %s is not a valid operator: "
		                    "use In, NotIn, Exists or DoesNotExist",
		                    i, fed_quote(q, sizeof(q), op->valuestring));
		goto out;
	}
	if (values && !cJSON_IsNull(values) && !cJSON_IsArray(values)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    SEL ".matchExpressions[%zu].values: must be a list of strings",
		                    i);
		goto out;
	}
	nvalues = cJSON_IsArray(values) ? cJSON_GetArraySize(values) : 0;
	if ((o == OP_IN || o == OP_NOT_IN) && nvalues == 0) {
		ret =
		    fed_error_set(err, FED_EINVAL,
		                  SEL ".matchExpressions[%zu].values: %s needs at least one value",
		                  i, op->valuestring);
		goto out;
	}
	if ((o == OP_EXISTS || o == OP_DOES_NOT_EXIST) && nvalues > 0) {
		ret = fed_error_set(err, FED_EINVAL,
		                    SEL ".matchExpressions[%zu].values: must be empty for %s: it "
		                        "tests only whether the label is there",
		                    i, op->valuestring);
		goto out;
	}
	have = label_value(labels, key->valuestring);
	k = 0;
	cJSON_ArrayForEach(v, (cJSON_IsArray(values) ? values : NULL)) {
		if (!cJSON_IsString(v)) {
			ret =
			    fed_error_set(err, FED_EINVAL,
			                  SEL ".matchExpressions[%zu].values[%d]: must be a string "
			                      "(quote it)",
			                  i, k);
			goto out;
		}
		if (have && !strcmp(have, v->valuestring))
			found = true;
		k++;
	}
	switch (o) {
	case OP_IN:
		if (!found)
			*match = false;
		break;
	case OP_NOT_IN:
		/* k8s: NotIn also matches when the label is absent */
		if (found)
			*match = false;
		break;
	case OP_EXISTS:
		if (!have)
			*match = false;
		break;
	case OP_DOES_NOT_EXIST:
		if (have)
			*match = false;
		break;
	}
out:
	return ret;
}

/* Evaluate (and fully validate) a non-null selector against one label set. */
static int eval_selector(const cJSON *sel, const cJSON *labels, bool *match, struct fed_error *err)
{
	const cJSON *exprs, *x;
	size_t i = 0;
	int ret;

	*match = true;
	if (!cJSON_IsObject(sel)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    SEL ": must be an object: {} selects every cluster, "
		                        "{matchLabels: {...}} some");
		goto out;
	}
	ret = eval_match_labels(cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"), labels, match,
	                        err);
	if (ret)
		goto out;
	exprs = cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions");
	if (exprs && !cJSON_IsNull(exprs) && !cJSON_IsArray(exprs)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    SEL
		                    ".matchExpressions: must be a list of {key, operator, values}");
		goto out;
	}
	cJSON_ArrayForEach(x, (cJSON_IsArray(exprs) ? exprs : NULL)) {
		ret = eval_expression(x, i++, labels, match, err);
		if (ret)
			goto out;
	}
out:
	return ret;
}

static int select_by_list(const cJSON *clusters, const struct fed_member_info *members, size_t n,
                          bool *selected, struct fed_error *err)
{
	const cJSON *c;
	size_t i, k = 0;
	int ret = 0;

	if (!cJSON_IsArray(clusters)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "spec.placement.clusters: must be a list of {name: <cluster>} "
		                    "(or left out to use clusterSelector)");
		goto out;
	}
	cJSON_ArrayForEach(c, clusters) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");

		if (!cJSON_IsObject(c) || !cJSON_IsString(name) || !name->valuestring[0]) {
			ret = fed_error_set(
			    err, FED_EINVAL,
			    "spec.placement.clusters[%zu].name: required: the name of a "
			    "KubeFedCluster",
			    k);
			goto out;
		}
		/* names that are not members are ignored, like kubefed does */
		for (i = 0; i < n; i++)
			if (members[i].name && !strcmp(members[i].name, name->valuestring))
				selected[i] = true;
		k++;
	}
out:
	return ret;
}

int fed_placement_select(const cJSON *placement, const struct fed_member_info *members, size_t n,
                         bool *selected, struct fed_error *err)
{
	const cJSON *clusters, *sel;
	size_t i;
	bool match;
	int ret = 0;

	for (i = 0; i < n; i++)
		selected[i] = false;
	if (!placement || cJSON_IsNull(placement))
		goto out;
	if (!cJSON_IsObject(placement)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "spec.placement: must be an object with clusters or "
		                    "clusterSelector");
		goto out;
	}
	clusters = cJSON_GetObjectItemCaseSensitive(placement, "clusters");
	if (clusters && !cJSON_IsNull(clusters)) {
		ret = select_by_list(clusters, members, n, selected, err);
		goto out;
	}
	sel = cJSON_GetObjectItemCaseSensitive(placement, "clusterSelector");
	if (!sel || cJSON_IsNull(sel))
		goto out; /* a nil selector selects nothing */
	/* validate even when there are no members: a bad selector is reported now */
	ret = eval_selector(sel, NULL, &match, err);
	if (ret)
		goto out;
	for (i = 0; i < n; i++) {
		if (!members[i].name)
			continue;
		ret = eval_selector(sel, members[i].labels, &match, err);
		if (ret)
			goto out;
		selected[i] = match;
	}
out:
	if (ret)
		for (i = 0; i < n; i++)
			selected[i] = false;
	return ret;
}
