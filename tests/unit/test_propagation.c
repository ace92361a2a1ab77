/* apis/placement.c, overrides.c, object_for_cluster.c, json_canon.c: kubefed
 * placement, override validation, JSON patch, the per-cluster object with
 * retained fields, canonical hashing, the managed label and reserved
 * namespaces. JSON below is written with ' for " (see J()). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fed/propagation.h"

/* Parse JSON written with single quotes (no test value contains one). */
static cJSON *J(const char *s)
{
	char *copy = strdup(s), *p;
	cJSON *v;

	if (!copy)
		return NULL;
	for (p = copy; *p; p++)
		if (*p == '\'')
			*p = '"';
	v = cJSON_Parse(copy);
	if (!v)
		fprintf(stderr, "  bad test JSON: %s\n", copy);
	free(copy);
	return v;
}

/* Same JSON value (by canonical form); prints both when not. */
static bool same_json(const cJSON *got, const char *want_json)
{
	cJSON *want = J(want_json);
	char *a = NULL, *b = NULL;
	bool same;

	fed_json_canonical(got, &a);
	fed_json_canonical(want, &b);
	same = a && b && !strcmp(a, b);
	if (!same)
		fprintf(stderr, "  got  %s\n  want %s\n", a ? a : "(null)", b ? b : "(null)");
	free(a);
	free(b);
	cJSON_Delete(want);
	return same;
}

static cJSON *at(const cJSON *v, const char *path)
{
	char key[128];
	const char *s = path, *e;

	while (v && *s) {
		e = strchr(s, '.');
		if (!e)
			e = s + strlen(s);
		snprintf(key, sizeof(key), "%.*s", (int)(e - s), s);
		if (cJSON_IsArray(v))
			v = cJSON_GetArrayItem(v, atoi(key));
		else
			v = cJSON_GetObjectItemCaseSensitive(v, key);
		s = *e ? e + 1 : e;
	}
	return (cJSON *)v; /* the tests own what they look into */
}

/* ---- placement ---- */

static cJSON *member_labels[3];
static struct fed_member_info members[3];

static void setup_members(void)
{
	cJSON_Delete(member_labels[0]);
	cJSON_Delete(member_labels[1]);
	member_labels[0] = J("{'region':'eu','tier':'gold'}");
	member_labels[1] = J("{'region':'us','weird':7}");
	member_labels[2] = NULL;
	members[0] = (struct fed_member_info){"east", member_labels[0]};
	members[1] = (struct fed_member_info){"west", member_labels[1]};
	members[2] = (struct fed_member_info){"south", NULL};
}

/* Selection as a string of 0/1, "E" on error. */
static const char *sel(const char *placement_json)
{
	static char out[8];
	struct fed_error err = FED_ERROR_INIT;
	cJSON *p = placement_json ? J(placement_json) : NULL;
	bool s[3] = {true, true, true};
	size_t i;

	if (fed_placement_select(p, members, 3, s, &err)) {
		for (i = 0; i < 3; i++)
			if (s[i])
				fprintf(stderr, "  selection not cleared on error\n");
		snprintf(out, sizeof(out), "E");
	} else {
		for (i = 0; i < 3; i++)
			out[i] = s[i] ? '1' : '0';
		out[3] = '\0';
	}
	cJSON_Delete(p);
	return out;
}

static void test_placement_precedence(void)
{
	setup_members();
	CHECK_STR(sel(NULL), "000");
	CHECK_STR(sel("null"), "000");
	CHECK_STR(sel("{}"), "000"); /* no list, nil selector: nothing */
	CHECK_STR(sel("{'clusters':null,'clusterSelector':null}"), "000");
	CHECK_STR(sel("{'clusterSelector':{}}"), "111"); /* {} selects all */
	CHECK_STR(sel("{'clusterSelector':{'matchLabels':{},'matchExpressions':[]}}"), "111");
	/* an empty list selects none, even with a selector that would select all */
	CHECK_STR(sel("{'clusters':[],'clusterSelector':{}}"), "000");
	/* the list wins over the selector */
	CHECK_STR(
	    sel("{'clusters':[{'name':'east'}],'clusterSelector':{'matchLabels':{'region':'us'}}}"),
	    "100");
	/* names that are not members are ignored; duplicates are harmless */
	CHECK_STR(sel("{'clusters':[{'name':'west'},{'name':'nowhere'},{'name':'west'}]}"), "010");
	CHECK_STR(sel("{'clusters':[{'name':'nowhere'}]}"), "000");
}

static void test_placement_selector(void)
{
	setup_members();
	CHECK_STR(sel("{'clusterSelector':{'matchLabels':{'region':'eu'}}}"), "100");
	CHECK_STR(sel("{'clusterSelector':{'matchLabels':{'region':'eu','tier':'silver'}}}"),
	          "000");
	/* a non-string member label is no label */
	CHECK_STR(sel("{'clusterSelector':{'matchLabels':{'weird':'7'}}}"), "000");
	CHECK_STR(sel("{'clusterSelector':{'matchExpressions':[{'key':'region','operator':'In',"
	              "'values':['eu','us']}]}}"),
	          "110");
	/* NotIn matches clusters without the label too */
	CHECK_STR(sel("{'clusterSelector':{'matchExpressions':[{'key':'region','operator':'NotIn',"
	              "'values':['eu']}]}}"),
	          "011");
	CHECK_STR(
	    sel("{'clusterSelector':{'matchExpressions':[{'key':'tier','operator':'Exists'}]}}"),
	    "100");
	CHECK_STR(sel("{'clusterSelector':{'matchExpressions':[{'key':'tier','operator':"
	              "'DoesNotExist','values':[]}]}}"),
	          "011");
	/* everything is ANDed */
	CHECK_STR(
	    sel("{'clusterSelector':{'matchLabels':{'region':'us'},'matchExpressions':[{'key':"
	        "'region','operator':'In','values':['eu','us']},{'key':'tier','operator':"
	        "'DoesNotExist'}]}}"),
	    "010");
}

static void test_placement_errors(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *p;
	bool s[3] = {true, true, true};

	setup_members();
	p = J("{'clusterSelector':{'matchExpressions':[{'key':'tier','operator':'Gt','values':['1']"
	      "}]}}");
	/* reported even with no members to match */
	CHECK_INT(fed_placement_select(p, members, 0, s, &err), FED_EINVAL);
	CHECK_STR(err.msg, "spec.placement.clusterSelector.matchExpressions[0].operator: \"Gt\" is "
	                   "not a valid operator: use In, NotIn, Exists or DoesNotExist");
	cJSON_Delete(p);
	CHECK_STR(sel("{'clusterSelector':{'matchExpressions':[{'key':'tier','operator':'Gt'}]}}"),
	          "E");

	p = J("{'clusterSelector':{'matchExpressions':[{'key':'tier','operator':'Exists'},"
	      "{'key':'region','operator':'In'}]}}");
	CHECK_INT(fed_placement_select(p, members, 3, s, &err), FED_EINVAL);
	CHECK_STR(err.msg, "spec.placement.clusterSelector.matchExpressions[1].values: In needs at "
	                   "least one value");
	cJSON_Delete(p);

	p = J("{'clusterSelector':{'matchExpressions':[{'key':'tier','operator':'Exists','values':["
	      "'x']}]}}");
	CHECK_INT(fed_placement_select(p, members, 3, s, &err), FED_EINVAL);
	CHECK_STR(err.msg,
	          "spec.placement.clusterSelector.matchExpressions[0].values: must be empty "
	          "for Exists: it tests only whether the label is there");
	cJSON_Delete(p);

	p = J("{'clusterSelector':{'matchLabels':{'region':1}}}");
	CHECK_INT(fed_placement_select(p, members, 3, s, &err), FED_EINVAL);
	CHECK_STR(err.msg,
	          "spec.placement.clusterSelector.matchLabels[\"region\"]: must be a string "
	          "(quote it: \"true\", \"1\")");
	cJSON_Delete(p);

	p = J("{'clusters':{'name':'east'}}");
	CHECK_INT(fed_placement_select(p, members, 3, s, &err), FED_EINVAL);
	CHECK_STR(err.msg,
	          "spec.placement.clusters: must be a list of {name: <cluster>} (or left out "
	          "to use clusterSelector)");
	cJSON_Delete(p);

	p = J("{'clusters':[{'name':'east'},{'cluster':'west'}]}");
	CHECK_INT(fed_placement_select(p, members, 3, s, &err), FED_EINVAL);
	CHECK_STR(err.msg,
	          "spec.placement.clusters[1].name: required: the name of a KubeFedCluster");
	cJSON_Delete(p);

	CHECK_STR(sel("{'clusterSelector':{'matchExpressions':[{'operator':'Exists'}]}}"), "E");
	CHECK_STR(sel("{'clusterSelector':'region=eu'}"), "E");
	CHECK_STR(sel("[]"), "E");
	CHECK_STR(sel("{'clusterSelector':{'matchExpressions':[{'key':'a','operator':'In','values':"
	              "[1]}]}}"),
	          "E");
}

/* ---- overrides validation ---- */

static const char *validate(const char *json)
{
	static struct fed_error err;
	cJSON *o = J(json);
	int ret;

	fed_error_clear(&err);
	ret = fed_overrides_validate(o, &err);
	cJSON_Delete(o);
	if (!ret)
		return "ok";
	if (ret != FED_EINVAL)
		return "wrong code";
	return err.msg;
}

static void test_overrides_valid(void)
{
	struct fed_error err = FED_ERROR_INIT;

	CHECK_INT(fed_overrides_validate(NULL, &err), 0);
	CHECK_STR(validate("null"), "ok");
	CHECK_STR(validate("[]"), "ok");
	CHECK_STR(validate("[{'clusterName':'east'}]"), "ok");
	CHECK_STR(
	    validate(
	        "[{'clusterName':'east','clusterOverrides':[{'path':'/spec/replicas',"
	        "'value':5},{'op':'add','path':'/metadata/labels/x','value':'y'},"
	        "{'op':'remove','path':'/spec/paused'},{'op':'','path':'/apiVersion',"
	        "'value':'apps/v1'},{'path':'/metadata/annotations/a~1b','value':null}]},"
	        "{'clusterName':'west','clusterOverrides':[{'path':'/spec/replicas','value':1}]}]"),
	    "ok");
}

static void test_overrides_errors(void)
{
	CHECK_STR(
	    validate("[{'clusterName':'east','clusterOverrides':[]},{'clusterName':'west',"
	             "'clusterOverrides':[{'path':'/metadata/name','value':'x'}]}]"),
	    "spec.overrides[1].clusterOverrides[0].path: \"/metadata/name\" cannot be overridden: "
	    "name and namespace come from the federated object");
	CHECK_STR(validate("[{'clusterName':'east','clusterOverrides':[{'path':'/spec/replicas',"
	                   "'value':1},{'op':'remove','path':'/metadata/namespace'}]}]"),
	          "spec.overrides[0].clusterOverrides[1].path: \"/metadata/namespace\" cannot be "
	          "overridden: name and namespace come from the federated object");
	CHECK_STR(
	    validate("[{'clusterName':'east','clusterOverrides':[{'path':'/metadata/generateName',"
	             "'value':'x-'}]}]"),
	    "spec.overrides[0].clusterOverrides[0].path: \"/metadata/generateName\" cannot be "
	    "overridden: name and namespace come from the federated object");
	CHECK_STR(
	    validate(
	        "[{'clusterName':'east','clusterOverrides':[{'path':'/kind','value':'Pod'}]}]"),
	    "spec.overrides[0].clusterOverrides[0].path: \"/kind\" cannot be overridden: kind "
	    "comes from the federated type");
	CHECK_STR(
	    validate("[{'clusterName':'east','clusterOverrides':[{'path':'','value':{}}]}]"),
	    "spec.overrides[0].clusterOverrides[0].path: \"\" would replace the whole object: "
	    "point at a field such as /spec/replicas");
	CHECK_STR(
	    validate("[{'clusterName':'east'},{'clusterName':'west'},{'clusterName':'east'}]"),
	    "spec.overrides[2].clusterName: \"east\" appears twice (first at spec.overrides[0]): "
	    "put all its clusterOverrides in one entry");
	CHECK_STR(
	    validate("[{'clusterName':'east','clusterOverrides':[{'path':'/spec/replicas',"
	             "'value':1},{'path':'/spec/paused','value':true},{'op':'remove','path':"
	             "'/spec/replicas'}]}]"),
	    "spec.overrides[0].clusterOverrides[2].path: \"/spec/replicas\" appears twice for "
	    "cluster \"east\" (first at clusterOverrides[0]): keep one");
	/* the same path for two clusters is fine */
	CHECK_STR(validate("[{'clusterName':'a','clusterOverrides':[{'path':'/x','value':1}]},"
	                   "{'clusterName':'b','clusterOverrides':[{'path':'/x','value':2}]}]"),
	          "ok");
	CHECK_STR(
	    validate("[{'clusterName':'east','clusterOverrides':[{'op':'move','path':'/a',"
	             "'from':'/b'}]}]"),
	    "spec.overrides[0].clusterOverrides[0].op: \"move\" is not supported: use add, remove "
	    "or replace (the default)");
	CHECK_STR(
	    validate("[{'clusterName':'east','clusterOverrides':[{'op':1,'path':'/a'}]}]"),
	    "spec.overrides[0].clusterOverrides[0].op: must be a string: add, remove or replace "
	    "(the default)");
	CHECK_STR(validate("[{'clusterName':'east','clusterOverrides':[{'value':1}]}]"),
	          "spec.overrides[0].clusterOverrides[0].path: required: a JSON pointer such as "
	          "/spec/replicas");
	CHECK_STR(
	    validate(
	        "[{'clusterName':'east','clusterOverrides':[{'path':'spec/replicas','value':1}]}]"),
	    "spec.overrides[0].clusterOverrides[0].path: \"spec/replicas\" is not a JSON pointer: "
	    "start it with /, as in /spec/replicas");
	CHECK_STR(
	    validate("[{'clusterName':'east','clusterOverrides':[{'path':'/a~2b','value':1}]}]"),
	    "spec.overrides[0].clusterOverrides[0].path: \"/a~2b\" has a ~ not followed by 0 or "
	    "1: write ~0 for ~ and ~1 for /");
	CHECK_STR(
	    validate("[{'clusterName':'east','clusterOverrides':[{'op':'add','path':'/a'}]}]"),
	    "spec.overrides[0].clusterOverrides[0].value: required for op add (write value: null "
	    "for a null)");
	CHECK_STR(validate("{'east':[]}"),
	          "spec.overrides: must be a list of {clusterName, clusterOverrides}");
	CHECK_STR(validate("['east']"),
	          "spec.overrides[0]: must be an object {clusterName, clusterOverrides}");
	CHECK_STR(
	    validate("[{'clusterOverrides':[]}]"),
	    "spec.overrides[0].clusterName: required: the KubeFedCluster these overrides apply to");
	CHECK_STR(validate("[{'clusterName':'east','clusterOverrides':{'path':'/a'}}]"),
	          "spec.overrides[0].clusterOverrides: must be a list of {op, path, value}");
	CHECK_STR(validate("[{'clusterName':'east','clusterOverrides':['/a']}]"),
	          "spec.overrides[0].clusterOverrides[0]: must be an object {op, path, value}");
	/* a message stays on one line whatever the input */
	CHECK_STR(
	    validate("[{'clusterName':'east','clusterOverrides':[{'path':'/a\\nb~x','value':1}]}]"),
	    "spec.overrides[0].clusterOverrides[0].path: \"/a\\nb~x\" has a ~ not followed by 0 "
	    "or 1: write ~0 for ~ and ~1 for /");
}

static void test_overrides_for(void)
{
	cJSON *o = J("[{'clusterName':'east','clusterOverrides':[{'path':'/a','value':1}]},"
	             "{'clusterName':'west'},{'clusterName':'north','clusterOverrides':null}]");
	const cJSON *c;

	c = fed_overrides_for(o, "east");
	CHECK(cJSON_IsArray(c));
	CHECK_INT(cJSON_GetArraySize(c), 1);
	CHECK(fed_overrides_for(o, "west") == NULL);
	CHECK(fed_overrides_for(o, "north") == NULL);
	CHECK(fed_overrides_for(o, "south") == NULL);
	CHECK(fed_overrides_for(NULL, "east") == NULL);
	CHECK(fed_overrides_for(o, NULL) == NULL);
	cJSON_Delete(o);
}

/* ---- JSON patch ---- */

/* Apply ops to doc; "ok" or the error message. The result is left in *res. */
static const char *patch(const char *doc_json, const char *ops_json, cJSON **res)
{
	static struct fed_error err;
	cJSON *doc = J(doc_json), *ops = J(ops_json);
	int ret;

	fed_error_clear(&err);
	ret = fed_json_patch_apply(doc, ops, &err);
	cJSON_Delete(ops);
	*res = doc;
	if (ret == 0)
		return "ok";
	return ret == FED_EINVAL ? err.msg : "wrong code";
}

#define PATCH_OK(doc, ops, want)                                                                   \
	do {                                                                                       \
		cJSON *res_ = NULL;                                                                \
		CHECK_STR(patch(doc, ops, &res_), "ok");                                           \
		CHECK(same_json(res_, want));                                                      \
		cJSON_Delete(res_);                                                                \
	} while (0)

#define PATCH_FAILS(doc, ops, msg)                                                                 \
	do {                                                                                       \
		cJSON *res_ = NULL;                                                                \
		CHECK_STR(patch(doc, ops, &res_), msg);                                            \
		CHECK(same_json(res_, doc)); /* atomic: unchanged */                               \
		cJSON_Delete(res_);                                                                \
	} while (0)

static void test_patch_add(void)
{
	PATCH_OK("{'a':{'b':1}}", "[{'op':'add','path':'/a/c','value':[1,2]}]",
	         "{'a':{'b':1,'c':[1,2]}}");
	/* add on an existing member replaces it */
	PATCH_OK("{'a':{'b':1}}", "[{'op':'add','path':'/a/b','value':{'x':null}}]",
	         "{'a':{'b':{'x':null}}}");
	PATCH_OK("{'l':[1,2,3]}", "[{'op':'add','path':'/l/1','value':9}]", "{'l':[1,9,2,3]}");
	PATCH_OK("{'l':[1,2,3]}", "[{'op':'add','path':'/l/0','value':0}]", "{'l':[0,1,2,3]}");
	PATCH_OK("{'l':[1,2,3]}", "[{'op':'add','path':'/l/3','value':4}]", "{'l':[1,2,3,4]}");
	PATCH_OK("{'l':[1,2,3]}", "[{'op':'add','path':'/l/-','value':4}]", "{'l':[1,2,3,4]}");
	PATCH_OK("{'l':[]}",
	         "[{'op':'add','path':'/l/-','value':'x'},{'op':'add','path':'/l/-',"
	         "'value':'y'}]",
	         "{'l':['x','y']}");
	PATCH_OK("{'l':[{'n':1}]}", "[{'op':'add','path':'/l/0/m','value':2}]",
	         "{'l':[{'n':1,'m':2}]}");
	/* the whole document */
	PATCH_OK("{'a':1}", "[{'op':'add','path':'','value':{'b':2}}]", "{'b':2}");
	/* an empty key is a key */
	PATCH_OK("{}", "[{'op':'add','path':'/','value':1}]", "{'':1}");
	/* nothing to do */
	PATCH_OK("{'a':1}", "[]", "{'a':1}");
	PATCH_OK("{'a':1}", "null", "{'a':1}");
}

static void test_patch_remove_replace(void)
{
	PATCH_OK("{'a':{'b':1,'c':2}}", "[{'op':'remove','path':'/a/b'}]", "{'a':{'c':2}}");
	PATCH_OK("{'l':[1,2,3]}", "[{'op':'remove','path':'/l/1'}]", "{'l':[1,3]}");
	PATCH_OK("{'l':[1,2,3]}", "[{'op':'replace','path':'/l/2','value':'z'}]",
	         "{'l':[1,2,'z']}");
	PATCH_OK("{'spec':{'replicas':3}}", "[{'op':'replace','path':'/spec/replicas','value':5}]",
	         "{'spec':{'replicas':5}}");
	/* op defaults to replace; "" is replace too (kubefed's pattern ^(add|remove|replace)?$) */
	PATCH_OK("{'spec':{'replicas':3}}", "[{'path':'/spec/replicas','value':5}]",
	         "{'spec':{'replicas':5}}");
	PATCH_OK("{'spec':{'replicas':3}}", "[{'op':'','path':'/spec/replicas','value':null}]",
	         "{'spec':{'replicas':null}}");
	PATCH_OK("{'a':1}", "[{'path':'','value':[1]}]", "[1]");
	/* ops see the effect of the ones before */
	PATCH_OK("{}",
	         "[{'op':'add','path':'/a','value':{}},{'op':'add','path':'/a/b','value':1},"
	         "{'op':'replace','path':'/a/b','value':2},{'op':'remove','path':'/a'}]",
	         "{}");
}

static void test_patch_escapes(void)
{
	PATCH_OK("{'metadata':{'labels':{}}}",
	         "[{'op':'add','path':'/metadata/labels/kubefed.io~1region','value':'eu'}]",
	         "{'metadata':{'labels':{'kubefed.io/region':'eu'}}}");
	PATCH_OK("{'a~b':1}", "[{'path':'/a~0b','value':2}]", "{'a~b':2}");
	/* ~01 is "~1", not "/" */
	PATCH_OK("{}", "[{'op':'add','path':'/~01','value':1}]", "{'~1':1}");
	PATCH_OK("{'a/b':{'c~':1}}", "[{'op':'remove','path':'/a~1b/c~0'}]", "{'a/b':{}}");
}

static void test_patch_errors(void)
{
	PATCH_FAILS(
	    "{'spec':{'replicas':1}}",
	    "[{'path':'/spec/replicas','value':2},{'path':'/spec/nothing','value':1}]",
	    "ops[1] replace \"/spec/nothing\": \"/spec\" has no member \"nothing\": use op add "
	    "to create it");
	PATCH_FAILS("{'spec':{}}", "[{'op':'remove','path':'/spec/x'}]",
	            "ops[0] remove \"/spec/x\": \"/spec\" has no member \"x\"");
	PATCH_FAILS("{'a':{}}", "[{'op':'add','path':'/a/b/c','value':1}]",
	            "ops[0] add \"/a/b/c\": \"/a\" has no member \"b\"");
	PATCH_FAILS("{'a':{}}", "[{'op':'add','path':'/x/y','value':1}]",
	            "ops[0] add \"/x/y\": \"\" has no member \"x\"");
	PATCH_FAILS("{'l':[1,2]}", "[{'op':'add','path':'/l/3','value':1}]",
	            "ops[0] add \"/l/3\": index 3 is out of range: \"/l\" has 2 items");
	PATCH_FAILS("{'l':[1,2]}", "[{'op':'remove','path':'/l/2'}]",
	            "ops[0] remove \"/l/2\": index 2 is out of range: \"/l\" has 2 items");
	PATCH_FAILS(
	    "{'l':[1,2]}", "[{'op':'remove','path':'/l/-'}]",
	    "ops[0] remove \"/l/-\": \"-\" names no existing item: use an index (0, 1, ...)");
	PATCH_FAILS(
	    "{'l':[1,2]}", "[{'op':'add','path':'/l/01','value':1}]",
	    "ops[0] add \"/l/01\": \"/l\" is a list and \"01\" is not an index (0, 1, ... or - "
	    "to append)");
	PATCH_FAILS(
	    "{'l':[1,2]}", "[{'op':'add','path':'/l/x/y','value':1}]",
	    "ops[0] add \"/l/x/y\": \"/l\" is a list and \"x\" is not an index (0, 1, ...)");
	PATCH_FAILS("{'l':[{'a':1}]}", "[{'op':'add','path':'/l/5/a','value':1}]",
	            "ops[0] add \"/l/5/a\": index 5 is out of range: \"/l\" has 1 item");
	PATCH_FAILS("{'a':'s'}", "[{'op':'add','path':'/a/b','value':1}]",
	            "ops[0] add \"/a/b\": \"/a\" is a string, not an object or a list");
	PATCH_FAILS("{'a':{'b':5}}", "[{'op':'add','path':'/a/b/c/d','value':1}]",
	            "ops[0] add \"/a/b/c/d\": \"/a/b\" is a number, not an object or a list");
	PATCH_FAILS("{'a':1}", "[{'op':'remove','path':''}]",
	            "ops[0] remove \"\": cannot remove the whole document");
	PATCH_FAILS("{'a':1}", "[{'op':'add','path':'/b'}]",
	            "ops[0] add \"/b\": value is required (write value: null for a null)");
	PATCH_FAILS(
	    "{'a':1}", "[{'op':'copy','path':'/b','from':'/a'}]",
	    "ops[0].op: \"copy\" is not supported: use add, remove or replace (the default)");
	PATCH_FAILS(
	    "{'a':1}", "[{'path':'a','value':1}]",
	    "ops[0].path: \"a\" is not a JSON pointer: start it with /, as in /spec/replicas");
	PATCH_FAILS(
	    "{'a':1}", "[{'path':'/a~','value':1}]",
	    "ops[0].path: \"/a~\" has a ~ not followed by 0 or 1: write ~0 for ~ and ~1 for /");
	PATCH_FAILS("{'a':1}", "[{'value':1}]",
	            "ops[0].path: required: a JSON pointer such as /spec/replicas");
	PATCH_FAILS("{'a':1}", "[{'path':'/a','value':2}, 7]",
	            "ops[1]: must be an object {op, path, value}");
	PATCH_FAILS("{'a':1}", "{'path':'/a'}", "ops: must be a list of {op, path, value}");
}

static void test_patch_depth(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *doc = J("{'a':{}}"), *ops = J("[{'op':'add','path':'/a/b'}]"), *v, *inner;
	cJSON *op0 = cJSON_GetArrayItem(ops, 0);
	int i;

	/* 999 levels below /a/b (2 levels) is 1001: one too many */
	v = cJSON_CreateArray();
	for (i = 1; i < FED_JSON_MAX_DEPTH - 1; i++) {
		inner = v;
		v = cJSON_CreateArray();
		cJSON_AddItemToArray(v, inner);
	}
	cJSON_AddItemToObject(op0, "value", v);
	CHECK_INT(fed_json_patch_apply(doc, ops, &err), FED_EINVAL);
	CHECK_STR(err.msg, "ops[0] add \"/a/b\": the result would nest deeper than 1000 levels");
	/* one level less fits */
	cJSON_ReplaceItemInObject(op0, "path", cJSON_CreateString("/b"));
	CHECK_INT(fed_json_patch_apply(doc, ops, &err), 0);
	cJSON_Delete(doc);
	cJSON_Delete(ops);
}

/* ---- the object for a cluster ---- */

static const struct fed_target_type deployment = {"apps/v1", "Deployment", true};
static const struct fed_target_type service = {"v1", "Service", true};
static const struct fed_target_type service_account = {"v1", "ServiceAccount", true};
static const struct fed_target_type cluster_role = {"rbac.authorization.k8s.io/v1", "ClusterRole",
                                                    false};

#define FED_DEPLOYMENT                                                                             \
	"{'apiVersion':'types.kubefed.io/v1beta1','kind':'FederatedDeployment',"                   \
	"'metadata':{'name':'web','namespace':'shop','uid':'f-1','resourceVersion':'77',"          \
	"'generation':4,'finalizers':['kubefed.io/sync-controller']},"                             \
	"'spec':{'template':{'metadata':{'name':'ignored','namespace':'ignored','labels':{'app':"  \
	"'web'},'annotations':{'team':'shop','note':'from-template'},'finalizers':['x/y'],"        \
	"'uid':'t-1','resourceVersion':'5','creationTimestamp':'2024-01-01T00:00:00Z',"            \
	"'managedFields':[{}],'ownerReferences':[{}],'generation':2,'selfLink':'/x'},"             \
	"'spec':{'replicas':3,'selector':{'matchLabels':{'app':'web'}},'template':{'metadata':"    \
	"{'labels':{'app':'web'}},'spec':{'containers':[{'name':'web','image':'nginx:1'}]}}},"     \
	"'status':{'replicas':3}},"                                                                \
	"'placement':{'clusters':[{'name':'east'},{'name':'west'}]},"                              \
	"'overrides':[{'clusterName':'east','clusterOverrides':[{'path':'/spec/replicas',"         \
	"'value':5},{'op':'add','path':'/metadata/labels/zone','value':'e1'},{'op':'add',"         \
	"'path':'/spec/template/spec/containers/0/"                                                \
	"env','value':[{'name':'Z','value':'e1'}]}]}]%s}}"

static cJSON *fed_deployment(bool retain_replicas)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), FED_DEPLOYMENT, retain_replicas ? ",'retainReplicas':true" : "");
	return J(buf);
}

#define DEPLOYMENT_WEST                                                                            \
	"{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','namespace':'shop'," \
	"'labels':{'app':'web','kubefed.io/managed':'true'},'annotations':{'team':'shop',"         \
	"'note':'from-template'}},'spec':{'replicas':3,'selector':{'matchLabels':{'app':'web'}},"  \
	"'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{'name':'web',"     \
	"'image':'nginx:1'}]}}}}"

static void test_object_deployment(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *fed = fed_deployment(false), *obj = NULL;

	CHECK_INT(fed_object_for_cluster(fed, &deployment, "west", NULL, &obj, &err), 0);
	CHECK(same_json(obj, DEPLOYMENT_WEST));
	cJSON_Delete(obj);
	obj = NULL;
	/* a cluster that is not in placement gets the same object: placement is the caller's */
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "north", NULL, &obj, &err), 0);
	CHECK(same_json(obj, DEPLOYMENT_WEST));
	cJSON_Delete(obj);
	obj = NULL;

	CHECK_INT(fed_object_for_cluster(fed, &deployment, "east", NULL, &obj, &err), 0);
	CHECK(same_json(
	    obj, "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web',"
	         "'namespace':'shop','labels':{'app':'web','zone':'e1','kubefed.io/managed':"
	         "'true'},'annotations':{'team':'shop','note':'from-template'}},'spec':{"
	         "'replicas':5,'selector':{'matchLabels':{'app':'web'}},'template':{'metadata':"
	         "{'labels':{'app':'web'}},'spec':{'containers':[{'name':'web','image':"
	         "'nginx:1','env':[{'name':'Z','value':'e1'}]}]}}}}"));
	cJSON_Delete(obj);
	cJSON_Delete(fed);
}

static void test_object_retain_replicas(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *existing =
	    J("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web',"
	      "'namespace':'shop','resourceVersion':'1234','uid':'m-1','finalizers':"
	      "['member/protect'],'labels':{'kubefed.io/managed':'true','added':'x'},"
	      "'annotations':{'deployment.kubernetes.io/revision':'4','note':'member'}},"
	      "'spec':{'replicas':7},'status':{'replicas':7}}");
	cJSON *fed = fed_deployment(false), *obj = NULL;

	/* without retainReplicas the template's count wins; metadata is retained */
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "west", existing, &obj, &err), 0);
	CHECK_INT(at(obj, "spec.replicas")->valueint, 3);
	CHECK_STR(at(obj, "metadata.resourceVersion")->valuestring, "1234");
	CHECK(same_json(at(obj, "metadata.finalizers"), "['member/protect']"));
	CHECK(same_json(
	    at(obj, "metadata.annotations"),
	    "{'team':'shop','note':'from-template','deployment.kubernetes.io/revision':'4'}"));
	/* member labels are not retained; uid and status never are */
	CHECK(same_json(at(obj, "metadata.labels"), "{'app':'web','kubefed.io/managed':'true'}"));
	CHECK(at(obj, "metadata.uid") == NULL);
	CHECK(at(obj, "status") == NULL);
	cJSON_Delete(obj);
	obj = NULL;
	cJSON_Delete(fed);

	fed = fed_deployment(true);
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "west", existing, &obj, &err), 0);
	CHECK_INT(at(obj, "spec.replicas")->valueint, 7);
	cJSON_Delete(obj);
	obj = NULL;
	/* overrides come after retention (kubefed's order), so they win */
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "east", existing, &obj, &err), 0);
	CHECK_INT(at(obj, "spec.replicas")->valueint, 5);
	cJSON_Delete(obj);
	obj = NULL;
	/* nothing to retain without a member object */
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "west", NULL, &obj, &err), 0);
	CHECK_INT(at(obj, "spec.replicas")->valueint, 3);
	cJSON_Delete(obj);
	cJSON_Delete(fed);
	cJSON_Delete(existing);
}

static void test_object_template_api_version(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *fed = J("{'metadata':{'name':'web','namespace':'shop'},'spec':{'template':{"
	               "'apiVersion':'apps/v1beta2','kind':'Other','metadata':null}}}");
	cJSON *obj = NULL;

	CHECK_INT(fed_object_for_cluster(fed, &deployment, "east", NULL, &obj, &err), 0);
	CHECK(same_json(obj, "{'apiVersion':'apps/v1beta2','kind':'Deployment','metadata':{'name':"
	                     "'web','namespace':'shop','labels':{'kubefed.io/managed':'true'}}}"));
	cJSON_Delete(obj);
	cJSON_Delete(fed);
}

#define FED_SERVICE                                                                                \
	"{'metadata':{'name':'api','namespace':'shop'},'spec':{'template':{'spec':{'type':"        \
	"'NodePort','selector':{'app':'api'},'ports':[{'name':'http','port':80,'nodePort':30080}," \
	"{'name':'metrics','port':9090},{'port':53,'protocol':'UDP'},{'port':53}]}}}}"

#define EXISTING_SERVICE                                                                           \
	"{'metadata':{'name':'api','namespace':'shop','resourceVersion':'9'},'spec':{'type':"      \
	"'NodePort','clusterIP':'10.96.0.5','clusterIPs':['10.96.0.5'],'ipFamilies':['IPv4'],"     \
	"'ipFamilyPolicy':'SingleStack','healthCheckNodePort':32000,'ports':[{'name':'http',"      \
	"'port':80,'nodePort':31000,'protocol':'TCP'},{'port':53,'protocol':'TCP','nodePort':"     \
	"31053},{'name':'metrics','port':9090,'nodePort':31090},{'port':53,'protocol':'UDP',"      \
	"'nodePort':31054}]}}"

static void test_object_service(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *fed = J(FED_SERVICE), *existing = J(EXISTING_SERVICE), *obj = NULL;

	CHECK_INT(fed_object_for_cluster(fed, &service, "east", existing, &obj, &err), 0);
	CHECK(same_json(
	    obj, "{'apiVersion':'v1','kind':'Service','metadata':{'name':'api','namespace':"
	         "'shop','resourceVersion':'9','labels':{'kubefed.io/managed':'true'}},'spec':{"
	         "'type':'NodePort','selector':{'app':'api'},'clusterIP':'10.96.0.5',"
	         "'clusterIPs':['10.96.0.5'],'ipFamilies':['IPv4'],'ipFamilyPolicy':"
	         "'SingleStack','ports':[{'name':'http','port':80,'nodePort':30080},{'name':"
	         "'metrics','port':9090,'nodePort':31090},{'port':53,'protocol':'UDP','nodePort':"
	         "31054},{'port':53,'nodePort':31053}]}}"));
	cJSON_Delete(obj);
	obj = NULL;
	cJSON_Delete(fed);

	/* headless: clusterIP None set by the template, nothing of the pair retained;
	 * ClusterIP type: no node ports */
	fed = J("{'metadata':{'name':'api','namespace':'shop'},'spec':{'template':{'spec':{"
	        "'clusterIP':'None','ports':[{'name':'http','port':80}]}}}}");
	CHECK_INT(fed_object_for_cluster(fed, &service, "east", existing, &obj, &err), 0);
	CHECK(same_json(at(obj, "spec"),
	                "{'clusterIP':'None','ipFamilies':['IPv4'],'ipFamilyPolicy':"
	                "'SingleStack','ports':[{'name':'http','port':80}]}"));
	cJSON_Delete(obj);
	obj = NULL;
	cJSON_Delete(fed);

	/* dual stack asked for by the template: the member's single-stack policy stays out */
	fed = J("{'metadata':{'name':'api','namespace':'shop'},'spec':{'template':{'spec':{"
	        "'ipFamilies':['IPv4','IPv6']}}}}");
	CHECK_INT(fed_object_for_cluster(fed, &service, "east", existing, &obj, &err), 0);
	CHECK(same_json(at(obj, "spec"), "{'clusterIP':'10.96.0.5','clusterIPs':['10.96.0.5'],"
	                                 "'ipFamilies':['IPv4','IPv6']}"));
	cJSON_Delete(obj);
	obj = NULL;
	cJSON_Delete(fed);

	/* LoadBalancer with externalTrafficPolicy Local keeps its health check port */
	fed = J("{'metadata':{'name':'api','namespace':'shop'},'spec':{'template':{'spec':{"
	        "'type':'LoadBalancer','externalTrafficPolicy':'Local','ports':[{'name':'http',"
	        "'port':80}]}}}}");
	CHECK_INT(fed_object_for_cluster(fed, &service, "east", existing, &obj, &err), 0);
	CHECK_INT(at(obj, "spec.healthCheckNodePort")->valueint, 32000);
	CHECK_INT(at(obj, "spec.ports.0.nodePort")->valueint, 31000);
	CHECK_STR(at(obj, "spec.clusterIP")->valuestring, "10.96.0.5");
	cJSON_Delete(obj);
	obj = NULL;
	cJSON_Delete(fed);

	/* ExternalName has no cluster IP to keep */
	fed = J("{'metadata':{'name':'api','namespace':'shop'},'spec':{'template':{'spec':{"
	        "'type':'ExternalName','externalName':'db.example.com'}}}}");
	CHECK_INT(fed_object_for_cluster(fed, &service, "east", existing, &obj, &err), 0);
	CHECK(
	    same_json(at(obj, "spec"), "{'type':'ExternalName','externalName':'db.example.com'}"));
	cJSON_Delete(obj);
	cJSON_Delete(fed);
	cJSON_Delete(existing);
}

static void test_object_service_account(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *fed = J("{'metadata':{'name':'bot','namespace':'shop'},'spec':{'template':{}}}");
	cJSON *existing =
	    J("{'metadata':{'name':'bot','namespace':'shop','resourceVersion':'3'},"
	      "'secrets':[{'name':'bot-token-x1'}],'imagePullSecrets':[{'name':'reg'}]}");
	cJSON *obj = NULL;

	CHECK_INT(fed_object_for_cluster(fed, &service_account, "east", existing, &obj, &err), 0);
	CHECK(same_json(obj,
	                "{'apiVersion':'v1','kind':'ServiceAccount','metadata':{'name':'bot',"
	                "'namespace':'shop','resourceVersion':'3','labels':{'kubefed.io/managed':"
	                "'true'}},'secrets':[{'name':'bot-token-x1'}],'imagePullSecrets':[{'name':"
	                "'reg'}]}"));
	cJSON_Delete(obj);
	obj = NULL;
	cJSON_Delete(fed);
	/* the template's own secrets win */
	fed = J(
	    "{'metadata':{'name':'bot','namespace':'shop'},'spec':{'template':{'secrets':[{'name':"
	    "'mine'}],'imagePullSecrets':[]}}}");
	CHECK_INT(fed_object_for_cluster(fed, &service_account, "east", existing, &obj, &err), 0);
	CHECK(same_json(at(obj, "secrets"), "[{'name':'mine'}]"));
	CHECK(same_json(at(obj, "imagePullSecrets"), "[{'name':'reg'}]"));
	cJSON_Delete(obj);
	cJSON_Delete(fed);
	cJSON_Delete(existing);
}

static void test_object_cluster_scoped(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *fed = J("{'metadata':{'name':'reader'},'spec':{'template':{'metadata':{'namespace':"
	               "'x','labels':null},'rules':[{'apiGroups':[''],'resources':['pods'],'verbs':"
	               "['get']}]},'overrides':[{'clusterName':'east','clusterOverrides':[{'path':"
	               "'/metadata','value':{'namespace':'y'}}]}]}}");
	cJSON *obj = NULL;

	CHECK_INT(fed_object_for_cluster(fed, &cluster_role, "west", NULL, &obj, &err), 0);
	CHECK(same_json(obj, "{'apiVersion':'rbac.authorization.k8s.io/v1','kind':'ClusterRole',"
	                     "'metadata':{'name':'reader','labels':{'kubefed.io/managed':'true'}},"
	                     "'rules':[{'apiGroups':[''],'resources':['pods'],'verbs':['get']}]}"));
	cJSON_Delete(obj);
	obj = NULL;
	/* even a wholesale /metadata override cannot change name or namespace */
	CHECK_INT(fed_object_for_cluster(fed, &cluster_role, "east", NULL, &obj, &err), 0);
	CHECK(same_json(at(obj, "metadata"),
	                "{'name':'reader','labels':{'kubefed.io/managed':'true'}}"));
	cJSON_Delete(obj);
	cJSON_Delete(fed);
}

static void test_object_errors(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *fed, *obj = NULL;

	fed = J("{'metadata':{'namespace':'shop'},'spec':{}}");
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "east", NULL, &obj, &err), FED_EINVAL);
	CHECK_STR(err.msg, "metadata.name: required: the FederatedDeployment has no name");
	CHECK(obj == NULL);
	cJSON_Delete(fed);

	fed = J("{'metadata':{'name':'web'},'spec':{}}");
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "east", NULL, &obj, &err), FED_EINVAL);
	CHECK_STR(err.msg, "metadata.namespace: required: Deployment is namespaced, so "
	                   "FederatedDeployment \"web\" must live in a namespace");
	cJSON_Delete(fed);

	fed = J("{'metadata':{'name':'web','namespace':'shop'}}");
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "east", NULL, &obj, &err), FED_EINVAL);
	CHECK_STR(err.msg, "spec: required: an object with template, placement and overrides");
	cJSON_Delete(fed);

	fed = J("{'metadata':{'name':'web','namespace':'shop'},'spec':{'template':[]}}");
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "east", NULL, &obj, &err), FED_EINVAL);
	CHECK_STR(err.msg, "spec.template: must be an object: the Deployment to propagate");
	cJSON_Delete(fed);

	/* invalid overrides fail every cluster, not only the one they name */
	fed = J(
	    "{'metadata':{'name':'web','namespace':'shop'},'spec':{'template':{},'overrides':[{"
	    "'clusterName':'west','clusterOverrides':[{'path':'/metadata/name','value':'x'}]}]}}");
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "east", NULL, &obj, &err), FED_EINVAL);
	CHECK_STR(err.msg,
	          "spec.overrides[0].clusterOverrides[0].path: \"/metadata/name\" cannot be "
	          "overridden: name and namespace come from the federated object");
	cJSON_Delete(fed);

	/* a patch that does not fit this cluster's object names the entry */
	fed = J("{'metadata':{'name':'web','namespace':'shop'},'spec':{'template':{'spec':{}},"
	        "'overrides':[{'clusterName':'west'},{'clusterName':'east','clusterOverrides':[{"
	        "'path':'/spec/replicas','value':2}]}]}}");
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "east", NULL, &obj, &err), FED_EINVAL);
	CHECK_STR(err.msg, "spec.overrides[1].clusterOverrides[0] replace \"/spec/replicas\": "
	                   "\"/spec\" has no member \"replicas\": use op add to create it");
	CHECK(obj == NULL);
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "west", NULL, &obj, &err), 0);
	cJSON_Delete(obj);
	obj = NULL;
	cJSON_Delete(fed);

	fed = J("{'metadata':{'name':'web','namespace':'shop'},'spec':{'overrides':[{'clusterName':"
	        "'east','clusterOverrides':[{'op':'remove','path':'/apiVersion'}]}]}}");
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "east", NULL, &obj, &err), FED_EINVAL);
	CHECK_STR(err.msg,
	          "spec.overrides[0]: the overrides for cluster \"east\" leave no apiVersion "
	          "string: replace it with one such as \"apps/v1\"");
	cJSON_Delete(fed);

	fed = J("{'metadata':{'name':'web','namespace':'shop'},'spec':{'template':{'metadata':{"
	        "'labels':['a']}}}}");
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "east", NULL, &obj, &err), FED_EINVAL);
	CHECK_STR(err.msg, "spec.template.metadata.labels: must be a map of strings");
	cJSON_Delete(fed);
	CHECK(obj == NULL);
}

/* ---- hashing ---- */

static const char *hash_of(const char *json, char out[65])
{
	cJSON *v = J(json);

	if (fed_json_hash(v, out))
		snprintf(out, 65, "error");
	cJSON_Delete(v);
	return out;
}

static void test_hash_canonical(void)
{
	char a[65], b[65];
	char *s = NULL;
	cJSON *v;

	/* key order and 1 vs 1.0 do not matter */
	CHECK_STR(hash_of("{'b':1,'a':[1.0,{'y':true,'x':null}],'c':{'z':'s','e':1e2}}", a),
	          hash_of("{'c':{'e':100,'z':'s'},'a':[1,{'x':null,'y':true}],'b':1.00}", b));
	CHECK_INT(strlen(a), 64);
	/* values, array order and types do */
	CHECK(strcmp(hash_of("{'a':1}", a), hash_of("{'a':2}", b)));
	CHECK(strcmp(hash_of("[1,2]", a), hash_of("[2,1]", b)));
	CHECK(strcmp(hash_of("{'a':1}", a), hash_of("{'a':'1'}", b)));
	CHECK(strcmp(hash_of("{'a':{}}", a), hash_of("{'a':[]}", b)));
	CHECK(strcmp(hash_of("{'a':1}", a), hash_of("{'A':1}", b)));
	CHECK(strcmp(hash_of("{'a':0.1}", a), hash_of("{'a':0.10000000000000002}", b)));
	/* NULL is "null" */
	CHECK_INT(fed_json_hash(NULL, a), 0);
	CHECK_STR(a, "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b");
	CHECK_STR(hash_of("null", b), a);

	v = J(
	    "{'z':[1.0,-0,0.5,1e20,-2.5e-7,12345678901234],'a':'q\\\"\\n\\u0001/é','m':{'b':false,"
	    "'a':true}}");
	CHECK_INT(fed_json_canonical(v, &s), 0);
	CHECK_STR(s, "{\"a\":\"q\\\"\\n\\u0001/é\",\"m\":{\"a\":true,\"b\":false},\"z\":[1,0,0.5,"
	             "1e+20,-2.5e-07,12345678901234]}");
	free(s);
	cJSON_Delete(v);
	/* the same key twice (cJSON keeps both) sorts stably */
	v = J("{'k':2,'k':1}");
	CHECK_INT(fed_json_canonical(v, &s), 0);
	CHECK_STR(s, "{\"k\":2,\"k\":1}");
	free(s);
	cJSON_Delete(v);
}

static void test_desired_hash(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *fed = fed_deployment(true), *obj = NULL;
	cJSON *existing = J("{'metadata':{'resourceVersion':'1234','finalizers':['m/p'],"
	                    "'annotations':{'x':'y'}},'spec':{'replicas':7}}");
	char h0[65], h1[65], h2[65], hx[65];

	CHECK_INT(fed_desired_hash(fed, &deployment, "west", h0, &err), 0);
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "west", NULL, &obj, &err), 0);
	CHECK_INT(fed_json_hash(obj, hx), 0);
	CHECK_STR(h0, hx);
	cJSON_Delete(obj);
	obj = NULL;
	/* retention changes the object, not the desired hash */
	CHECK_INT(fed_object_for_cluster(fed, &deployment, "west", existing, &obj, &err), 0);
	CHECK_INT(fed_json_hash(obj, hx), 0);
	CHECK(strcmp(h0, hx));
	cJSON_Delete(obj);
	CHECK_INT(fed_desired_hash(fed, &deployment, "west", h1, &err), 0);
	CHECK_STR(h0, h1);
	/* overrides make clusters differ; a template change moves the hash */
	CHECK_INT(fed_desired_hash(fed, &deployment, "east", h1, &err), 0);
	CHECK(strcmp(h0, h1));
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(at(fed, "spec.template"), "spec"), "replicas",
	                          cJSON_CreateNumber(4));
	CHECK_INT(fed_desired_hash(fed, &deployment, "west", h2, &err), 0);
	CHECK(strcmp(h0, h2));
	/* errors come through */
	cJSON_DeleteItemFromObject(at(fed, "metadata"), "name");
	CHECK_INT(fed_desired_hash(fed, &deployment, "west", h2, &err), FED_EINVAL);
	CHECK_STR(h2, "");
	cJSON_Delete(fed);
	cJSON_Delete(existing);
}

static void test_desired_hash_retained_override(void)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *fed = J("{'metadata':{'name':'api','namespace':'shop'},'spec':{'template':{'spec':{"
	               "'ports':[{'port':80}]}},'overrides':[{'clusterName':'east',"
	               "'clusterOverrides':[{'path':'/spec/clusterIP','value':'10.96.0.9'}]}]}}");
	cJSON *e1 = J("{'spec':{'clusterIP':'10.96.0.5'}}");
	cJSON *obj = NULL;
	char h1[65], h2[65];

	/* replace needs the retained clusterIP: fine against the member object */
	CHECK_INT(fed_object_for_cluster(fed, &service, "east", e1, &obj, &err), 0);
	CHECK_STR(at(obj, "spec.clusterIP")->valuestring, "10.96.0.9");
	cJSON_Delete(obj);
	obj = NULL;
	/* a create (nothing to retain) cannot apply it */
	CHECK_INT(fed_object_for_cluster(fed, &service, "east", NULL, &obj, &err), FED_EINVAL);
	CHECK_STR(err.msg, "spec.overrides[0].clusterOverrides[0] replace \"/spec/clusterIP\": "
	                   "\"/spec\" has no member \"clusterIP\": use op add to create it");
	/* the desired hash still exists, and moves with the override value */
	CHECK_INT(fed_desired_hash(fed, &service, "east", h1, &err), 0);
	CHECK_INT(strlen(h1), 64);
	CHECK_INT(fed_desired_hash(fed, &service, "west", h2, &err), 0);
	CHECK(strcmp(h1, h2));
	cJSON_ReplaceItemInObject(at(fed, "spec.overrides.0.clusterOverrides.0"), "value",
	                          cJSON_CreateString("10.96.0.10"));
	CHECK_INT(fed_desired_hash(fed, &service, "east", h2, &err), 0);
	CHECK(strcmp(h1, h2));
	cJSON_Delete(fed);
	cJSON_Delete(e1);
}

static void test_object_pvc(void)
{
	static const struct fed_target_type pvc = {"v1", "PersistentVolumeClaim", true};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *fed =
	    J("{'metadata':{'name':'data','namespace':'shop'},'spec':{'template':{'spec':{"
	      "'accessModes':['ReadWriteOnce'],'resources':{'requests':{'storage':'1Gi'}}}}}}");
	cJSON *existing = J("{'spec':{'accessModes':['ReadWriteOnce'],'volumeName':'pv-7',"
	                    "'storageClassName':'standard','volumeMode':'Filesystem'}}");
	cJSON *obj = NULL;

	CHECK_INT(fed_object_for_cluster(fed, &pvc, "east", existing, &obj, &err), 0);
	CHECK(same_json(at(obj, "spec"),
	                "{'accessModes':['ReadWriteOnce'],'resources':{'requests':{"
	                "'storage':'1Gi'}},'volumeName':'pv-7','storageClassName':"
	                "'standard'}"));
	cJSON_Delete(obj);
	cJSON_Delete(fed);
	cJSON_Delete(existing);
}

/* ---- managed label, reserved namespaces ---- */

static void test_managed_state(void)
{
	cJSON *v;

	CHECK_INT(fed_managed_state(NULL), FED_MANAGED_NONE);
	v = J("{'metadata':{'labels':{'kubefed.io/managed':'true'}}}");
	CHECK_INT(fed_managed_state(v), FED_MANAGED_YES);
	cJSON_Delete(v);
	v = J("{'metadata':{'labels':{'kubefed.io/managed':'false'}}}");
	CHECK_INT(fed_managed_state(v), FED_MANAGED_FALSE);
	cJSON_Delete(v);
	v = J("{'metadata':{'labels':{'app':'x'}}}");
	CHECK_INT(fed_managed_state(v), FED_MANAGED_NONE);
	cJSON_Delete(v);
	v = J("{'metadata':{'labels':{'kubefed.io/managed':'yes'}}}");
	CHECK_INT(fed_managed_state(v), FED_MANAGED_NONE);
	cJSON_Delete(v);
	v = J("{'metadata':{'labels':{'kubefed.io/managed':true}}}");
	CHECK_INT(fed_managed_state(v), FED_MANAGED_NONE);
	cJSON_Delete(v);
	v = J("{'metadata':{}}");
	CHECK_INT(fed_managed_state(v), FED_MANAGED_NONE);
	cJSON_Delete(v);
}

static void test_namespace_reserved(void)
{
	CHECK(fed_namespace_reserved("kube-system", NULL));
	CHECK(fed_namespace_reserved("kube-public", "kube-federation-system"));
	CHECK(fed_namespace_reserved("kube-node-lease", NULL));
	CHECK(fed_namespace_reserved("default", NULL));
	CHECK(fed_namespace_reserved("kube-federation-system", "kube-federation-system"));
	CHECK(!fed_namespace_reserved("kube-federation-system", NULL));
	CHECK(!fed_namespace_reserved("shop", "kube-federation-system"));
	CHECK(!fed_namespace_reserved("kube-systemx", NULL));
	CHECK(!fed_namespace_reserved(NULL, "kube-federation-system"));
}

int main(void)
{
	RUN(test_placement_precedence);
	RUN(test_placement_selector);
	RUN(test_placement_errors);
	RUN(test_overrides_valid);
	RUN(test_overrides_errors);
	RUN(test_overrides_for);
	RUN(test_patch_add);
	RUN(test_patch_remove_replace);
	RUN(test_patch_escapes);
	RUN(test_patch_errors);
	RUN(test_patch_depth);
	RUN(test_object_deployment);
	RUN(test_object_retain_replicas);
	RUN(test_object_template_api_version);
	RUN(test_object_service);
	RUN(test_object_service_account);
	RUN(test_object_pvc);
	RUN(test_object_cluster_scoped);
	RUN(test_object_errors);
	RUN(test_hash_canonical);
	RUN(test_desired_hash);
	RUN(test_desired_hash_retained_override);
	RUN(test_managed_state);
	RUN(test_namespace_reserved);
	cJSON_Delete(member_labels[0]);
	cJSON_Delete(member_labels[1]);
	return CHECK_EXIT();
}
