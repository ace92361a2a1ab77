/* FederatedTypeConfig parsing and defaulting, kubefed's plural rule, the
 * Federated<Kind> CRD, and the generated manifests:
 *
 *   manifests/11-crds-federated-types.yaml   fed_federated_crd() per default type
 *   manifests/types/federatedtypeconfigs.yaml fed_type_config_object() per default type
 *
 * test_golden renders both and compares them, as JSON, with the files.
 * With FED_REGEN_MANIFESTS=1 it writes the files first (so they are
 * generated, never edited by hand):
 *
 *   FED_REGEN_MANIFESTS=1 ctest --test-dir build -R unit.test_federated_type
 *
 * The test runs in tests/unit, so the manifests are in ../../manifests
 * (FED_MANIFESTS_DIR overrides that). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libfyaml.h>

#include "check.h"
#include "fed/buf.h"
#include "fed/federated_type.h"

#define FED_NS    "kube-federation-system"
#define CRDS_FILE "11-crds-federated-types.yaml"
#define FTCS_FILE "types/federatedtypeconfigs.yaml"

/* ---- helpers ---- */

static int parse_text(const char *json, struct fed_type_config *t, struct fed_error *err)
{
	cJSON *o = cJSON_Parse(json);
	int rc;

	if (!o) {
		fprintf(stderr, "  test JSON does not parse: %s\n", json);
		return FED_ERR;
	}
	rc = fed_type_config_parse(o, t, err);
	cJSON_Delete(o);
	return rc;
}

/* A schema node by a dotted path of property names under
 * versions[0].schema.openAPIV3Schema ("spec.placement.clusters"). */
static const cJSON *schema_at(const cJSON *crd, const char *path)
{
	const cJSON *s = cJSON_GetObjectItem(crd, "spec");
	char buf[256], *tok, *save = NULL;

	s = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "versions"), 0);
	s = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "schema"), "openAPIV3Schema");
	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); s && tok; tok = strtok_r(NULL, ".", &save))
		s = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "properties"), tok);
	return s;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- YAML out: block style, strings quoted when a YAML 1.1 or 1.2 reader
 * could take them for anything else ---- */

static bool plain_ok(const char *s)
{
	static const char *const words[] = {"true", "false", "yes",  "no", "on", "off",
	                                    "y",    "n",     "null", "~",  NULL};
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '/'))
		return false;
	for (i = 0; words[i]; i++)
		if (!strcasecmp(s, words[i]))
			return false;
	for (i = 0; s[i]; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-",
		            s[i]))
			return false;
	return true;
}

static void emit_string(struct fed_buf *b, const char *s)
{
	if (plain_ok(s)) {
		fed_buf_append(b, s, strlen(s));
		return;
	}
	fed_buf_append(b, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fed_buf_printf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fed_buf_printf(b, "\\x%02x", (unsigned char)*s);
		else
			fed_buf_append(b, s, 1);
	}
	fed_buf_append(b, "\"", 1);
}

static void emit_scalar(struct fed_buf *b, const cJSON *v)
{
	if (cJSON_IsString(v))
		emit_string(b, v->valuestring);
	else if (cJSON_IsTrue(v))
		fed_buf_printf(b, "true");
	else if (cJSON_IsFalse(v))
		fed_buf_printf(b, "false");
	else if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble)
		fed_buf_printf(b, "%lld", (long long)v->valuedouble);
	else if (cJSON_IsNumber(v))
		fed_buf_printf(b, "%.17g", v->valuedouble);
	else if (cJSON_IsObject(v))
		fed_buf_printf(b, "{}"); /* only empty ones get here */
	else if (cJSON_IsArray(v))
		fed_buf_printf(b, "[]");
	else
		fed_buf_printf(b, "null");
}

static bool nested(const cJSON *v)
{
	return (cJSON_IsObject(v) || cJSON_IsArray(v)) && v->child;
}

static void emit_seq(struct fed_buf *b, const cJSON *a, int indent);

/* A mapping at indent; with inline_first the first key follows a "- ". */
static void emit_map(struct fed_buf *b, const cJSON *o, int indent, bool inline_first)
{
	const cJSON *c;

	for (c = o->child; c; c = c->next) {
		if (c != o->child || !inline_first)
			fed_buf_printf(b, "%*s", indent, "");
		emit_string(b, c->string);
		if (!nested(c)) {
			fed_buf_printf(b, ": ");
			emit_scalar(b, c);
			fed_buf_printf(b, "\n");
		} else if (cJSON_IsObject(c)) {
			fed_buf_printf(b, ":\n");
			emit_map(b, c, indent + 2, false);
		} else {
			fed_buf_printf(b, ":\n");
			emit_seq(b, c, indent + 2);
		}
	}
}

static void emit_seq(struct fed_buf *b, const cJSON *a, int indent)
{
	const cJSON *c;

	for (c = a->child; c; c = c->next) {
		fed_buf_printf(b, "%*s- ", indent, "");
		if (!nested(c)) {
			emit_scalar(b, c);
			fed_buf_printf(b, "\n");
		} else if (cJSON_IsObject(c)) {
			emit_map(b, c, indent + 2, true);
		} else {
			fed_buf_printf(b, "\n");
			emit_seq(b, c, indent + 2);
		}
	}
}

static int write_manifest(const char *path, const char *header, const cJSON *docs)
{
	struct fed_buf b;
	const cJSON *d;
	FILE *f;
	int rc = -1;

	fed_buf_init(&b);
	fed_buf_printf(&b, "%s", header);
	cJSON_ArrayForEach(d, docs) {
		if (d != docs->child)
			fed_buf_printf(&b, "---\n");
		emit_map(&b, d, 0, false);
	}
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "  cannot write %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (fwrite(b.data, 1, b.len, f) != b.len || fclose(f)) {
		fprintf(stderr, "  cannot write %s: %s\n", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	fed_buf_release(&b);
	return rc;
}

/* ---- YAML in: every document of a file as JSON (libfyaml's JSON emitter) ---- */

static cJSON *load_manifest(const char *path)
{
	struct fy_parse_cfg cfg;
	struct fy_parser *fyp = NULL;
	struct fy_document *fyd;
	cJSON *docs = cJSON_CreateArray(), *d;
	char *json;
	bool ok = true;

	if (access(path, R_OK)) {
		fprintf(stderr, "  cannot read %s: %s\n", path, strerror(errno));
		cJSON_Delete(docs);
		return NULL;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = FYPCF_QUIET;
	fyp = fy_parser_create(&cfg);
	if (!fyp || !docs || fy_parser_set_input_file(fyp, path)) {
		fprintf(stderr, "  cannot read %s\n", path);
		ok = false;
		goto out;
	}
	while (ok && (fyd = fy_parse_load_document(fyp))) {
		json = fy_emit_document_to_string(fyd, FYECF_MODE_JSON);
		d = json ? cJSON_Parse(json) : NULL;
		if (!d) {
			fprintf(stderr, "  %s: a document does not convert to JSON\n", path);
			ok = false;
		} else if (cJSON_IsNull(d)) {
			cJSON_Delete(d); /* an empty document */
		} else {
			cJSON_AddItemToArray(docs, d);
		}
		free(json);
		fy_parse_document_destroy(fyp, fyd);
	}
	if (ok && fy_parser_get_stream_error(fyp)) {
		fprintf(stderr, "  %s: YAML error\n", path);
		ok = false;
	}
out:
	fy_parser_destroy(fyp);
	if (!ok) {
		cJSON_Delete(docs);
		docs = NULL;
	}
	return docs;
}

/* The first place where want and got differ, as a path. */
static void first_diff(const cJSON *want, const cJSON *got, char *path, size_t size)
{
	size_t len = strlen(path);
	const cJSON *c, *o;
	int i, n;

	if (cJSON_IsObject(want) && cJSON_IsObject(got)) {
		for (c = want->child; c; c = c->next) {
			o = cJSON_GetObjectItemCaseSensitive(got, c->string);
			snprintf(path + len, size - len, ".%s", c->string);
			if (!o) {
				snprintf(path + strlen(path), size - strlen(path),
				         " (missing in file)");
				return;
			}
			if (!cJSON_Compare(c, o, true)) {
				first_diff(c, o, path, size);
				return;
			}
		}
		for (c = got->child; c; c = c->next)
			if (!cJSON_GetObjectItemCaseSensitive(want, c->string)) {
				snprintf(path + len, size - len, ".%s (only in file)", c->string);
				return;
			}
	} else if (cJSON_IsArray(want) && cJSON_IsArray(got)) {
		n = cJSON_GetArraySize(want);
		if (n != cJSON_GetArraySize(got)) {
			snprintf(path + len, size - len, " (%d items, file has %d)", n,
			         cJSON_GetArraySize(got));
			return;
		}
		for (i = 0; i < n; i++)
			if (!cJSON_Compare(cJSON_GetArrayItem(want, i), cJSON_GetArrayItem(got, i),
			                   true)) {
				snprintf(path + len, size - len, "[%d]", i);
				first_diff(cJSON_GetArrayItem(want, i), cJSON_GetArrayItem(got, i),
				           path, size);
				return;
			}
	} else {
		snprintf(path + len, size - len, " (value differs)");
	}
}

/* Compare rendered documents with a file's; prints what differs. */
static bool same_docs(const char *file, const cJSON *want, const cJSON *got)
{
	char path[512];
	int i, n = cJSON_GetArraySize(want);

	if (n != cJSON_GetArraySize(got)) {
		fprintf(stderr, "  %s: %d documents rendered, %d in the file\n", file, n,
		        cJSON_GetArraySize(got));
		return false;
	}
	for (i = 0; i < n; i++) {
		const cJSON *w = cJSON_GetArrayItem(want, i), *g = cJSON_GetArrayItem(got, i);

		if (!cJSON_Compare(w, g, true)) {
			snprintf(path, sizeof(path), "%s", "");
			first_diff(w, g, path, sizeof(path));
			fprintf(stderr, "  %s: document %d (%s) differs at %s\n", file, i,
			        jstr(cJSON_GetObjectItem(w, "metadata"), "name"), path);
			return false;
		}
	}
	return true;
}

/* ---- cases ---- */

static void test_plural(void)
{
	static const char *const cases[][2] = {
	    {"Deployment", "deployments"},
	    {"Ingress", "ingresses"},
	    {"NetworkPolicy", "networkpolicies"},
	    {"ConfigMap", "configmaps"},
	    {"Box", "boxes"},
	    {"Patch", "patches"},
	    {"Mesh", "meshes"},
	    {"Quiz", "quizes"}, /* kubefed's rule, not English */
	    {"Echo", "echoes"},
	    {"Gateway", "gatewaies"}, /* likewise: any final y */
	    /* kubefed has no exceptions: discovery or the FTC must give the
	     * real plural of irregular kinds (fed's FTCs always do) */
	    {"Endpoints", "endpointses"},
	};
	size_t i;
	char *p;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = fed_default_plural(cases[i][0]);
		if (!p || strcmp(p, cases[i][1]))
			fprintf(stderr, "  %s -> %s\n", cases[i][0], p ? p : "(null)");
		CHECK(p && !strcmp(p, cases[i][1]));
		free(p);
	}
	CHECK(!fed_default_plural(NULL));
	CHECK(!fed_default_plural(""));
}

static void test_parse_full(void)
{
	static const char ftc[] =
	    "{\"apiVersion\": \"core.kubefed.io/v1beta1\", \"kind\": \"FederatedTypeConfig\","
	    " \"metadata\": {\"name\": \"deployments.apps\", \"namespace\": "
	    "\"kube-federation-system\"},"
	    " \"spec\": {"
	    "  \"targetType\": {\"group\": \"apps\", \"version\": \"v1\", \"kind\": \"Deployment\","
	    "                 \"pluralName\": \"deployments\", \"scope\": \"Namespaced\"},"
	    "  \"federatedType\": {\"group\": \"types.example.com\", \"version\": \"v1\","
	    "                 \"kind\": \"FederatedDeployment\", \"pluralName\": \"fdeploys\","
	    "                 \"scope\": \"Namespaced\"},"
	    "  \"propagation\": \"Enabled\", \"statusCollection\": \"Enabled\"},"
	    " \"status\": {\"observedGeneration\": 1, \"propagationController\": \"Running\"}}";
	struct fed_error err = FED_ERROR_INIT;
	struct fed_type_config t = {0};
	char *av;

	CHECK_INT(parse_text(ftc, &t, &err), 0);
	CHECK_STR(t.name, "deployments.apps");
	CHECK_STR(t.target.group, "apps");
	CHECK_STR(t.target.version, "v1");
	CHECK_STR(t.target.kind, "Deployment");
	CHECK_STR(t.target.plural, "deployments");
	CHECK(t.target.namespaced);
	CHECK(!t.target.short_names);
	CHECK_STR(t.federated.group, "types.example.com");
	CHECK_STR(t.federated.version, "v1");
	CHECK_STR(t.federated.kind, "FederatedDeployment");
	CHECK_STR(t.federated.plural, "fdeploys");
	CHECK(t.federated.namespaced);
	CHECK(t.propagation_enabled);
	CHECK(t.status_collection);
	av = fed_api_resource_api_version(&t.target);
	CHECK_STR(av, "apps/v1");
	free(av);
	av = fed_api_resource_api_version(&t.federated);
	CHECK_STR(av, "types.example.com/v1");
	free(av);
	CHECK(fed_type_scalable(&t.target));
	fed_type_config_release(&t);
	fed_type_config_release(&t); /* released twice, and NULL, are fine */
	fed_type_config_release(NULL);
}

static void test_parse_defaults(void)
{
	/* what kubefed's defaulting and `kubefedctl enable` fill in */
	static const char short_ftc[] =
	    "{\"metadata\": {\"name\": \"deployments.apps\"},"
	    " \"spec\": {\"targetType\": {\"version\": \"v1\", \"kind\": \"Deployment\","
	    "                            \"scope\": \"Namespaced\"},"
	    "          \"propagation\": \"Disabled\"}}";
	static const char core_ftc[] =
	    "{\"metadata\": {\"name\": \"configmaps\"},"
	    " \"spec\": {\"targetType\": {\"version\": \"v1\", \"kind\": \"ConfigMap\","
	    "                            \"scope\": \"Namespaced\", \"group\": \"\"},"
	    "          \"federatedType\": {\"kind\": \"FederatedConfigMap\", \"pluralName\": "
	    "\"\"}}}";
	static const char other_kind[] =
	    "{\"metadata\": {\"name\": \"endpoints\"},"
	    " \"spec\": {\"targetType\": {\"version\": \"v1\", \"kind\": \"Endpoints\","
	    "                            \"scope\": \"Namespaced\"},"
	    "          \"federatedType\": {\"kind\": \"MultiClusterEndpoints\"},"
	    "          \"propagation\": \"Enabled\"}}";
	struct fed_error err = FED_ERROR_INIT;
	struct fed_type_config t = {0};
	char *name;

	CHECK_INT(parse_text(short_ftc, &t, &err), 0);
	CHECK_STR(t.target.plural, "deployments"); /* from the name, as kubefed */
	CHECK_STR(t.target.group, "apps");
	CHECK_STR(t.federated.kind, "FederatedDeployment");
	CHECK_STR(t.federated.plural, "federateddeployments");
	CHECK_STR(t.federated.group, "types.kubefed.io");
	CHECK_STR(t.federated.version, "v1beta1");
	CHECK(t.federated.namespaced);
	CHECK(!t.propagation_enabled);
	CHECK(!t.status_collection);
	name = fed_api_resource_name(&t.federated);
	CHECK_STR(name, "federateddeployments.types.kubefed.io");
	free(name);
	fed_type_config_release(&t);

	/* "" is absent (Go's omitempty); no propagation means disabled */
	CHECK_INT(parse_text(core_ftc, &t, &err), 0);
	CHECK_STR(t.target.group, "");
	CHECK_STR(t.target.plural, "configmaps");
	CHECK_STR(t.federated.plural, "federatedconfigmaps");
	CHECK(!t.propagation_enabled);
	CHECK(!fed_type_scalable(&t.target));
	name = fed_api_resource_name(&t.target);
	CHECK_STR(name, "configmaps");
	free(name);
	fed_type_config_release(&t);

	/* the target's plural comes from the name (never endpointses); a
	 * federated kind of another name gets kubefed's plural rule */
	CHECK_INT(parse_text(other_kind, &t, &err), 0);
	CHECK_STR(t.target.plural, "endpoints");
	CHECK_STR(t.federated.plural, "multiclusterendpointses");
	CHECK(t.propagation_enabled);
	fed_type_config_release(&t);
}

static void test_parse_name_mismatch(void)
{
	static const char ftc[] =
	    "{\"metadata\": {\"name\": \"deployments\"},"
	    " \"spec\": {\"targetType\": {\"group\": \"apps\", \"version\": \"v1\","
	    "   \"kind\": \"Deployment\", \"pluralName\": \"deployments\", \"scope\": "
	    "\"Namespaced\"},"
	    "   \"propagation\": \"Enabled\"}}";
	static const char plural[] =
	    "{\"metadata\": {\"name\": \"deployments.apps\"},"
	    " \"spec\": {\"targetType\": {\"version\": \"v1\", \"kind\": \"Deployment\","
	    "   \"pluralName\": \"deploys\", \"scope\": \"Namespaced\"}, \"propagation\": "
	    "\"Enabled\"}}";
	struct fed_error err = FED_ERROR_INIT;
	struct fed_type_config t = {0};

	CHECK_INT(parse_text(ftc, &t, &err), FED_EINVAL);
	CHECK_INT(err.code, FED_EINVAL);
	CHECK_STR(err.msg,
	          "FederatedTypeConfig \"deployments\": metadata.name must be "
	          "\"<targetType.pluralName>[.<targetType.group>]\" = \"deployments.apps\": "
	          "rename it or fix spec.targetType");
	CHECK(!t.name && !t.target.kind); /* released on error */
	fed_error_clear(&err);
	CHECK_INT(parse_text(plural, &t, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "= \"deploys.apps\"");
}

static void test_parse_namespace_scope(void)
{
	static const char ns_ftc[] =
	    "{\"metadata\": {\"name\": \"namespaces\"},"
	    " \"spec\": {\"targetType\": {\"version\": \"v1\", \"kind\": \"Namespace\","
	    "   \"pluralName\": \"namespaces\", \"scope\": \"Cluster\"}, \"propagation\": "
	    "\"Enabled\"}}";
	static const char ns_cluster[] =
	    "{\"metadata\": {\"name\": \"namespaces\"},"
	    " \"spec\": {\"targetType\": {\"version\": \"v1\", \"kind\": \"Namespace\","
	    "   \"scope\": \"Cluster\"}, \"federatedType\": {\"scope\": \"Cluster\"},"
	    "   \"propagation\": \"Enabled\"}}";
	static const char cr_ftc[] =
	    "{\"metadata\": {\"name\": \"clusterroles.rbac.authorization.k8s.io\"},"
	    " \"spec\": {\"targetType\": {\"version\": \"v1\", \"kind\": \"ClusterRole\","
	    "   \"scope\": \"Cluster\"}, \"propagation\": \"Enabled\"}}";
	struct fed_error err = FED_ERROR_INIT;
	struct fed_type_config t = {0};
	cJSON *crd = NULL;

	CHECK_INT(parse_text(ns_ftc, &t, &err), 0);
	CHECK(!t.target.namespaced);
	CHECK(t.federated.namespaced); /* FederatedNamespace is namespaced */
	CHECK_STR(t.federated.kind, "FederatedNamespace");
	CHECK_INT(fed_federated_crd(&t, false, &crd, &err), 0);
	CHECK_STR(jstr(cJSON_GetObjectItem(crd, "spec"), "scope"), "Namespaced");
	CHECK_STR(jstr(cJSON_GetObjectItem(crd, "metadata"), "name"),
	          "federatednamespaces.types.kubefed.io");
	/* parsed FTCs carry no short names */
	CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(crd, "spec"), "names"),
	                           "shortNames"));
	cJSON_Delete(crd);
	crd = NULL;
	fed_type_config_release(&t);

	CHECK_INT(parse_text(ns_cluster, &t, &err), FED_EINVAL);
	CHECK_STR(err.msg,
	          "FederatedTypeConfig \"namespaces\": spec.federatedType.scope is Cluster "
	          "but must be Namespaced (FederatedNamespace is namespaced though Namespace "
	          "is not): fix or remove it");

	CHECK_INT(parse_text(cr_ftc, &t, &err), 0);
	CHECK_STR(t.target.group, "rbac.authorization.k8s.io");
	CHECK(!t.target.namespaced);
	CHECK(!t.federated.namespaced);
	CHECK_INT(fed_federated_crd(&t, false, &crd, &err), 0);
	CHECK_STR(jstr(cJSON_GetObjectItem(crd, "spec"), "scope"), "Cluster");
	cJSON_Delete(crd);
	fed_type_config_release(&t);
}

/* JSON written with ' for " (none of these strings needs a real '). */
static int parse_squoted(const char *text, struct fed_type_config *t, struct fed_error *err)
{
	char *json = strdup(text), *p;
	int rc;

	for (p = json; p && *p; p++)
		if (*p == '\'')
			*p = '"';
	rc = json ? parse_text(json, t, err) : FED_ENOMEM;
	free(json);
	return rc;
}

#define META "{'metadata': {'name': 'jobs.batch'}, "
#define JOB  META "'spec': {'targetType': {'kind': 'Job', 'version': 'v1', 'scope': 'Namespaced'}"

static void test_parse_errors(void)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
	    {"[]", "FederatedTypeConfig: not a JSON object"},
	    {"{'kind': 'ConfigMap'}",
	     "FederatedTypeConfig: kind is \"ConfigMap\", not FederatedTypeConfig"},
	    {"{'apiVersion': 'core.kubefed.io/v1alpha1'}",
	     "apiVersion is \"core.kubefed.io/v1alpha1\": fed reads core.kubefed.io/v1beta1"},
	    {"{'spec': {}}", "FederatedTypeConfig: metadata is missing: set metadata.name"},
	    {"{'metadata': {'name': 5}}", "FederatedTypeConfig: metadata.name must be a string"},
	    {"{'metadata': {}}", "metadata.name is missing: name it <plural>[.<group>]"},
	    {META "'x': 1}", "FederatedTypeConfig \"jobs.batch\": spec is missing"},
	    {META "'spec': {}}", "spec.targetType is missing: set its kind, version and scope"},
	    {META "'spec': {'targetType': []}}", "spec.targetType must be an object"},
	    {META "'spec': {'targetType': {'version': 'v1', 'scope': 'Namespaced'}}}",
	     "spec.targetType.kind is missing: set it, e.g. Deployment"},
	    {META "'spec': {'targetType': {'kind': 'Job', 'scope': 'Namespaced'}}}",
	     "spec.targetType.version is missing"},
	    {META "'spec': {'targetType': {'kind': 'Job', 'version': 'v1'}}}",
	     "spec.targetType.scope is missing: set Namespaced or Cluster"},
	    {META
	     "'spec': {'targetType': {'kind': 'Job', 'version': 'v1', 'scope': 'namespaced'}}}",
	     "spec.targetType.scope must be \"Cluster\" or \"Namespaced\", not \"namespaced\""},
	    {JOB ", 'propagation': 'enabled'}}",
	     "spec.propagation must be \"Disabled\" or \"Enabled\", not \"enabled\""},
	    {JOB ", 'statusCollection': true}}", "spec.statusCollection must be a string"},
	    {META "'spec': {'targetType': {'kind': 'Job/x', 'version': 'v1', 'scope': 'Cluster'}}}",
	     "spec.targetType.kind \"Job/x\" is not a kind"},
	    {META "'spec': {'targetType': {'kind': 'Job', 'version': 'v 1', 'scope': 'Cluster'}}}",
	     "spec.targetType.version \"v 1\" is not a version"},
	    {"{'metadata': {'name': 'Jobs.batch'}, 'spec': {'targetType': "
	     "{'kind': 'Job', 'version': 'v1', 'scope': 'Namespaced'}}}",
	     "spec.targetType.pluralName \"Jobs\" must be a lowercase DNS label"},
	    {"{'metadata': {'name': 'jobs.ba_tch'}, 'spec': {'targetType': "
	     "{'kind': 'Job', 'version': 'v1', 'scope': 'Namespaced'}}}",
	     "spec.targetType.group \"ba_tch\" must be a lowercase DNS subdomain"},
	    {JOB ", 'federatedType': {'group': 'types'}}}",
	     "spec.federatedType.group \"types\" must contain a dot"},
	    {JOB ", 'federatedType': {'scope': 'Cluster'}}}",
	     "spec.federatedType.scope is Cluster but must be Namespaced (the target type's "
	     "scope)"},
	    {JOB ", 'federatedType': 3}}", "spec.federatedType must be an object"},
	    {"{'metadata': {'name': 'a\\nb'}, 'spec': {}}", "FederatedTypeConfig \"a?b\": "},
	};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_type_config t = {0};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fed_error_clear(&err);
		if (parse_squoted(cases[i].json, &t, &err) != FED_EINVAL ||
		    !strstr(err.msg, cases[i].msg))
			fprintf(stderr, "  case %zu: %s\n    got: %s\n", i, cases[i].json, err.msg);
		CHECK_INT(err.code, FED_EINVAL);
		CHECK_HAS(err.msg, cases[i].msg);
		CHECK(!strchr(err.msg, '\n'));
		CHECK(!t.name);
	}
}

static void test_crd(void)
{
	const struct fed_api_resource *types;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_type_config t = {0};
	const cJSON *names, *v, *s;
	cJSON *crd = NULL;
	size_t n;

	types = fed_default_target_types(&n);
	CHECK_STR(types[5].kind, "Deployment");
	CHECK_INT(fed_type_config_for_target(&types[5], &t, &err), 0);
	CHECK_INT(fed_federated_crd(&t, fed_type_scalable(&types[5]), &crd, &err), 0);
	CHECK_STR(jstr(crd, "apiVersion"), "apiextensions.k8s.io/v1");
	CHECK_STR(jstr(cJSON_GetObjectItem(crd, "metadata"), "name"),
	          "federateddeployments.types.kubefed.io");
	names = cJSON_GetObjectItem(cJSON_GetObjectItem(crd, "spec"), "names");
	CHECK_STR(jstr(names, "kind"), "FederatedDeployment");
	CHECK_STR(jstr(names, "listKind"), "FederatedDeploymentList");
	CHECK_STR(jstr(names, "singular"), "federateddeployment");
	CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(names, "shortNames"), 0)->valuestring,
	          "fdeploy");
	v = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(crd, "spec"), "versions"),
	                       0);
	CHECK_STR(jstr(v, "name"), "v1beta1");
	CHECK(
	    cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(v, "subresources"), "status")));
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(v, "additionalPrinterColumns")), 3);
	CHECK_HAS(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(v, "additionalPrinterColumns"), 0),
	               "jsonPath"),
	          "@.type=='Propagation'");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(schema_at(crd, "spec.template"),
	                                       "x-kubernetes-preserve-unknown-fields")));
	CHECK_STR(jstr(schema_at(crd, "spec.retainReplicas"), "type"), "boolean");
	CHECK_STR(jstr(schema_at(crd, "spec.placement.clusters"), "type"), "array");
	s = cJSON_GetObjectItem(schema_at(crd, "spec.overrides"), "items");
	s = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(s, "properties"), "clusterOverrides"), "items");
	s = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "properties"), "op");
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(s, "enum")), 3);
	CHECK(cJSON_IsTrue(
	    cJSON_GetObjectItem(schema_at(crd, "status"), "x-kubernetes-preserve-unknown-fields")));
	cJSON_Delete(crd);
	crd = NULL;
	/* not scalable: no retainReplicas */
	CHECK_INT(fed_federated_crd(&t, false, &crd, &err), 0);
	CHECK(schema_at(crd, "spec.placement"));
	CHECK(!schema_at(crd, "spec.retainReplicas"));
	cJSON_Delete(crd);
	crd = NULL;
	fed_type_config_release(&t);

	/* an incomplete type is refused, not rendered */
	t.name = "x";
	CHECK_INT(fed_federated_crd(&t, false, &crd, &err), FED_EINVAL);
	CHECK(!crd);
	CHECK_HAS(err.msg, "incomplete");
}

/* Every default type: the FTC object parses back to what it came from. */
static void test_roundtrip(void)
{
	const struct fed_api_resource *types;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_type_config want = {0}, got = {0};
	struct fed_api_resource copy = {0};
	cJSON *o = NULL;
	size_t i, n;

	types = fed_default_target_types(&n);
	CHECK_INT(n, 14);
	for (i = 0; i < n; i++) {
		CHECK_INT(fed_type_config_for_target(&types[i], &want, &err), 0);
		CHECK_INT(fed_type_config_object(&types[i], FED_NS, &o, &err), 0);
		CHECK_STR(jstr(cJSON_GetObjectItem(o, "metadata"), "namespace"), FED_NS);
		CHECK_INT(fed_type_config_parse(o, &got, &err), 0);
		CHECK_STR(got.name, want.name);
		CHECK_STR(got.target.group, types[i].group);
		CHECK_STR(got.target.version, types[i].version);
		CHECK_STR(got.target.kind, types[i].kind);
		CHECK_STR(got.target.plural, types[i].plural);
		CHECK_INT(got.target.namespaced, types[i].namespaced);
		CHECK_STR(got.federated.group, want.federated.group);
		CHECK_STR(got.federated.version, want.federated.version);
		CHECK_STR(got.federated.kind, want.federated.kind);
		CHECK_STR(got.federated.plural, want.federated.plural);
		CHECK_INT(got.federated.namespaced, want.federated.namespaced);
		CHECK_INT(got.federated.namespaced, i == 0 || types[i].namespaced);
		CHECK(got.propagation_enabled && want.propagation_enabled);
		CHECK_INT(fed_type_scalable(&types[i]), i >= 5 && i <= 7);
		cJSON_Delete(o);
		o = NULL;
		fed_type_config_release(&want);
		fed_type_config_release(&got);
	}
	CHECK_INT(fed_api_resource_copy(&copy, &types[5], &err), 0);
	CHECK_STR(copy.short_names[0], "deploy");
	CHECK(!copy.short_names[1]);
	fed_api_resource_release(&copy);
	fed_api_resource_release(NULL);
	/* an incomplete target */
	copy.kind = "Thing";
	CHECK_INT(fed_type_config_object(&copy, NULL, &o, &err), FED_EINVAL);
	CHECK(!o);
}

/* Render the default CRDs and FTCs. */
static int render(cJSON **crds, cJSON **ftcs)
{
	const struct fed_api_resource *types;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_type_config t;
	cJSON *doc;
	size_t i, n;

	*crds = cJSON_CreateArray();
	*ftcs = cJSON_CreateArray();
	types = fed_default_target_types(&n);
	for (i = 0; i < n; i++) {
		if (fed_type_config_for_target(&types[i], &t, &err))
			break;
		if (fed_federated_crd(&t, fed_type_scalable(&types[i]), &doc, &err)) {
			fed_type_config_release(&t);
			break;
		}
		fed_type_config_release(&t);
		cJSON_AddItemToArray(*crds, doc);
		if (fed_type_config_object(&types[i], FED_NS, &doc, &err))
			break;
		cJSON_AddItemToArray(*ftcs, doc);
	}
	if (err.code)
		fprintf(stderr, "  render: %s\n", err.msg);
	return err.code;
}

static const char crds_header[] =
    "# GENERATED by tests/unit/test_federated_type.c from fed_default_target_types()\n"
    "# and fed_federated_crd() (apis/federated_type*.c). Do not edit: change the code,\n"
    "# then run  FED_REGEN_MANIFESTS=1 ctest --test-dir build -R unit.test_federated_type\n"
    "#\n"
    "# One Federated<Kind> CRD (types.kubefed.io/v1beta1) per type fed federates by\n"
    "# default, in kubefed's shape: spec.template, spec.placement, spec.overrides\n"
    "# (and spec.retainReplicas for Deployment, ReplicaSet, StatefulSet).\n";

static const char ftcs_header[] =
    "# GENERATED by tests/unit/test_federated_type.c from fed_default_target_types()\n"
    "# and fed_type_config_object() (apis/federated_type*.c). Do not edit: change the\n"
    "# code, then run  FED_REGEN_MANIFESTS=1 ctest --test-dir build -R unit.test_federated_type\n"
    "#\n"
    "# The FederatedTypeConfigs of the types fed federates by default. To stop\n"
    "# propagating a type, set its spec.propagation to Disabled.\n";

static void test_golden(void)
{
	const char *dir = getenv("FED_MANIFESTS_DIR"), *regen = getenv("FED_REGEN_MANIFESTS");
	char crds_path[1024], ftcs_path[1024];
	cJSON *crds = NULL, *ftcs = NULL, *file_crds = NULL, *file_ftcs = NULL;
	bool ok = false;

	if (!dir || !*dir)
		dir = "../../manifests";
	snprintf(crds_path, sizeof(crds_path), "%s/%s", dir, CRDS_FILE);
	snprintf(ftcs_path, sizeof(ftcs_path), "%s/%s", dir, FTCS_FILE);
	if (render(&crds, &ftcs))
		goto out;
	if (regen && !strcmp(regen, "1")) {
		if (write_manifest(crds_path, crds_header, crds) ||
		    write_manifest(ftcs_path, ftcs_header, ftcs))
			goto out;
		fprintf(stderr, "  wrote %s and %s\n", crds_path, ftcs_path);
	}
	file_crds = load_manifest(crds_path);
	file_ftcs = load_manifest(ftcs_path);
	if (!file_crds || !file_ftcs)
		goto out;
	ok = same_docs(crds_path, crds, file_crds) && same_docs(ftcs_path, ftcs, file_ftcs);
out:
	if (!ok)
		fprintf(stderr, "  the manifests are generated: if the change is intended, run\n"
		                "    FED_REGEN_MANIFESTS=1 ctest --test-dir build -R "
		                "unit.test_federated_type\n");
	cJSON_Delete(crds);
	cJSON_Delete(ftcs);
	cJSON_Delete(file_crds);
	cJSON_Delete(file_ftcs);
	CHECK(ok);
}

/* The emitter's quoting survives a YAML reader. */
static void test_yaml_quoting(void)
{
	static const char json[] =
	    "{\"a\": \"yes\", \"b\": \"1\", \"c\": \"^(x|y)?$\", \"d\": \"\", \"e\": \"*\","
	    " \"f\": \"say \\\"hi\\\"\\n\", \"g\": [1, 2.5, true, null, {}, [], {\"h\": [\"x\"]}],"
	    " \"i\": \".status.conditions[?(@.type=='P')].status\", \"j\": \"/spec/x\","
	    " \"k\": \"Off\", \"l\": \"-x\"}";
	cJSON *want = cJSON_Parse(json), *docs = cJSON_CreateArray(), *got = NULL;
	char path[] = "/tmp/fed-test-federated-type-XXXXXX";
	int fd = mkstemp(path);

	CHECK(want && docs && fd >= 0);
	close(fd);
	cJSON_AddItemToArray(docs, want);
	CHECK_INT(write_manifest(path, "# header\n", docs), 0);
	got = load_manifest(path);
	unlink(path);
	CHECK(got);
	CHECK(same_docs(path, docs, got));
	cJSON_Delete(got);
	cJSON_Delete(docs);
}

int main(void)
{
	RUN(test_plural);
	RUN(test_parse_full);
	RUN(test_parse_defaults);
	RUN(test_parse_name_mismatch);
	RUN(test_parse_namespace_scope);
	RUN(test_parse_errors);
	RUN(test_crd);
	RUN(test_roundtrip);
	RUN(test_yaml_quoting);
	RUN(test_golden);
	return CHECK_EXIT();
}
