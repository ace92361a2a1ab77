/* Kubeconfig loading: parsing, merging, resolution, in-cluster, exec
 * plugins, rendering. Runs with cwd = tests/unit; fixtures are in
 * data/kubeconfig (see its README.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "fed/base64.h"
#include "fed/kubeconfig.h"
#include "kubeconfig_internal.h"

#define FIX     "data/kubeconfig"
#define PEM_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="

static char cwd[4096];
static char tmp[256]; /* scratch dir, removed at exit */
static char *saved_path;

static char *slurp(const char *path, size_t *len)
{
	char *data = NULL;
	size_t n = 0;

	if (fed_kubeconfig_read_file(path, 1 << 20, &data, &n))
		return NULL;
	if (len)
		*len = n;
	return data;
}

static void write_file(const char *path, const char *content, int mode)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(content, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

/* Same environment for every case: no KUBECONFIG, no in-cluster, and a
 * HOME without .kube so the developer's own config is never read. */
static void env_reset(void)
{
	char home[300];

	snprintf(home, sizeof(home), "%s/emptyhome", tmp);
	setenv("HOME", home, 1);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("FED_SA_DIR");
	if (saved_path)
		setenv("PATH", saved_path, 1);
}

static bool same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	if (!a || !b)
		return a == b;
	return alen == blen && !memcmp(a, b, alen);
}

static bool same_str(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

static bool file_is(const char *data, size_t len, const char *path)
{
	size_t n;
	char *want = slurp(path, &n);
	bool ok = want && same_bytes(data, len, want, n);

	free(want);
	return ok;
}

static int load_full(struct fed_kubeconfig **kc, struct fed_error *err)
{
	return fed_kubeconfig_load_file(kc, FIX "/full.yaml", err);
}

static void test_file_refs(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config cfg;
	char path[8192];
	int ret;

	env_reset();
	fed_rest_config_init(&cfg);
	CHECK_INT(load_full(&kc, &err), 0);
	CHECK_STR(fed_kubeconfig_current_context(kc), "files");
	ret = fed_kubeconfig_rest_config(kc, NULL, &cfg, &err);
	if (ret)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK_INT(ret, 0);
	CHECK_STR(cfg.server, "https://files.example:6443");
	CHECK_STR(cfg.tls_server_name, "api.internal");
	CHECK_STR(cfg.proxy_url, "http://proxy.example:3128");
	CHECK(!cfg.insecure_skip_tls_verify);
	CHECK(file_is(cfg.ca_pem, cfg.ca_len, FIX "/ca.crt"));
	CHECK(file_is(cfg.cert_pem, cfg.cert_len, FIX "/client.crt"));
	CHECK(file_is(cfg.key_pem, cfg.key_len, FIX "/client.key"));
	CHECK(!cfg.token && !cfg.token_file && !cfg.exec);
	CHECK_STR(cfg.context, "files");
	CHECK_STR(cfg.cluster, "files");
	CHECK_STR(cfg.user, "files");
	CHECK_STR(cfg.namespace, "team-a");
	CHECK_STR(cfg.source, FIX "/full.yaml");
	CHECK(cfg.qps == 0 && cfg.burst == 0); /* the client's defaults apply */
	fed_rest_config_release(&cfg);
	/* a token file is kept as a path (absolute: resolved against the
	 * kubeconfig's directory), so that the client re-reads it */
	CHECK_INT(fed_kubeconfig_rest_config(kc, "tokenfile", &cfg, &err), 0);
	snprintf(path, sizeof(path), "%s/" FIX "/user.token", cwd);
	CHECK_STR(cfg.token_file, path);
	CHECK(cfg.token == NULL);
	fed_rest_config_release(&cfg);
	fed_kubeconfig_free(kc);
}

static void test_data_and_token(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config cfg;
	const char *const *names;
	size_t n;

	env_reset();
	fed_rest_config_init(&cfg);
	CHECK_INT(load_full(&kc, &err), 0);
	names = fed_kubeconfig_contexts(kc, &n);
	CHECK_INT(n, 6);
	CHECK_STR(names[0], "files");
	CHECK_STR(names[5], "anonymous");
	CHECK(names[6] == NULL);
	CHECK_INT(fed_kubeconfig_rest_config(kc, "data", &cfg, &err), 0);
	CHECK_STR(cfg.server, "https://data.example:6443/prefix");
	CHECK(file_is(cfg.ca_pem, cfg.ca_len, FIX "/ca.crt"));
	CHECK(file_is(cfg.cert_pem, cfg.cert_len, FIX "/client.crt"));
	CHECK(file_is(cfg.key_pem, cfg.key_len, FIX "/client.key"));
	CHECK(cfg.namespace == NULL);
	fed_rest_config_release(&cfg);

	CHECK_INT(fed_kubeconfig_rest_config(kc, "token", &cfg, &err), 0);
	CHECK_STR(cfg.server, "http://insecure.example:8080");
	CHECK(cfg.insecure_skip_tls_verify);
	CHECK(cfg.ca_pem == NULL);
	CHECK_STR(cfg.token, "fixture-secret-token-abc123");
	CHECK(cfg.namespace == NULL); /* "" is unset */
	fed_rest_config_release(&cfg);

	/* a context without a user is anonymous; username/password are
	 * ignored, as is everything fed does not know */
	CHECK_INT(fed_kubeconfig_rest_config(kc, "anonymous", &cfg, &err), 0);
	CHECK(cfg.user == NULL && cfg.token == NULL && cfg.cert_pem == NULL);
	fed_rest_config_release(&cfg);
	fed_kubeconfig_free(kc);
}

static void test_base64_forms(void)
{
	static const char yaml[] =
	    "clusters:\n"
	    "- name: wrapped\n"
	    "  cluster:\n"
	    "    server: https://w\n"
	    "    certificate-authority-data: |\n"
	    "      LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VS\n"
	    "      VElGSUNBVEUtLS0tLQo\n" /* and without its '=' */
	    "contexts:\n"
	    "- {name: w, context: {cluster: wrapped}}\n";
	static const char want[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config cfg;
	char *out = NULL;
	size_t len;

	fed_rest_config_init(&cfg);
	CHECK_INT(fed_kubeconfig_parse(&kc, yaml, strlen(yaml), NULL, &err), 0);
	CHECK_INT(fed_kubeconfig_rest_config(kc, "w", &cfg, &err), 0);
	CHECK(same_bytes(cfg.ca_pem, cfg.ca_len, want, strlen(want)));
	CHECK_STR(cfg.source, "<string>");
	fed_rest_config_release(&cfg);
	fed_kubeconfig_free(kc);

	CHECK_INT(fed_base64_decode(FED_BASE64_STD, "YQ==", 4, &out, &len), 0);
	CHECK(len == 1 && out[0] == 'a');
	free(out);
	CHECK_INT(fed_base64_decode(FED_BASE64_STD, "YWI", 3, &out, &len), 0);
	CHECK(len == 2 && !memcmp(out, "ab", 2));
	free(out);
	CHECK_INT(fed_base64_decode(FED_BASE64_STD, "YWJj", 4, &out, &len), 0);
	CHECK(len == 3 && !strcmp(out, "abc"));
	free(out);
	CHECK_INT(fed_base64_decode(FED_BASE64_STD, "Y", 1, &out, &len), FED_EINVAL);
	CHECK_INT(fed_base64_decode(FED_BASE64_STD, "YQ=x", 4, &out, &len), FED_EINVAL);
	CHECK_INT(fed_base64_decode(FED_BASE64_STD, "YQ===", 5, &out, &len), FED_EINVAL);
	CHECK_INT(fed_base64_decode(FED_BASE64_STD, "YWJj=", 5, &out, &len), FED_EINVAL);
	CHECK_INT(fed_base64_decode(FED_BASE64_STD, "Y-_Q", 4, &out, &len), FED_EINVAL);
	CHECK(out == NULL);
}

static void test_merge(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config cfg;
	char env[1024], broken[512];
	size_t n;

	env_reset();
	fed_rest_config_init(&cfg);
	/* missing and empty entries are skipped; a is first */
	snprintf(env, sizeof(env),
	         "%s/nope.yaml::" FIX "/merge/a.yaml:" FIX "/merge/b.yaml:" FIX "/merge/c.yaml:" FIX
	         "/merge/a.yaml",
	         tmp);
	setenv("KUBECONFIG", env, 1);
	CHECK_INT(fed_kubeconfig_load_default(&kc, NULL, &err), 0);
	/* a's current-context is empty: the first non-empty one (b) wins */
	CHECK_STR(fed_kubeconfig_current_context(kc), "b");
	fed_kubeconfig_contexts(kc, &n);
	CHECK_INT(n, 4); /* shared, a (from a), b (from b), c (from c) */
	CHECK_INT(fed_kubeconfig_rest_config(kc, "shared", &cfg, &err), 0);
	CHECK_STR(cfg.server, "https://a.example"); /* a's cluster "shared" */
	CHECK_STR(cfg.token, "a-token");            /* a's user "shared" */
	CHECK_STR(cfg.namespace, "from-a");         /* a's context "shared" */
	CHECK_STR(cfg.source, FIX "/merge/a.yaml");
	fed_rest_config_release(&cfg);
	/* b's context, which names b's user */
	CHECK_INT(fed_kubeconfig_rest_config(kc, NULL, &cfg, &err), 0);
	CHECK_STR(cfg.server, "https://b-only.example");
	CHECK_STR(cfg.token, "b-user-token");
	CHECK_STR(cfg.source, FIX "/merge/b.yaml");
	fed_rest_config_release(&cfg);
	CHECK_INT(fed_kubeconfig_rest_config(kc, "c", &cfg, &err), 0);
	CHECK_STR(cfg.server, "https://c-only.example");
	fed_rest_config_release(&cfg);
	/* an unknown context names every file and lists the merged contexts */
	CHECK_INT(fed_kubeconfig_rest_config(kc, "zzz", &cfg, &err), FED_EINVAL);
	CHECK_STR(err.msg, "kubeconfig " FIX "/merge/a.yaml:" FIX "/merge/b.yaml:" FIX
	                   "/merge/c.yaml: context \"zzz\" not found (available: shared, a, b, "
	                   "c)");
	fed_kubeconfig_free(kc);

	/* the file order decides */
	setenv("KUBECONFIG", FIX "/merge/c.yaml:" FIX "/merge/b.yaml", 1);
	CHECK_INT(fed_kubeconfig_load_default(&kc, NULL, &err), 0);
	CHECK_STR(fed_kubeconfig_current_context(kc), "c");
	CHECK_INT(fed_kubeconfig_rest_config(kc, "shared", &cfg, &err), 0);
	CHECK_STR(cfg.server, "https://b.example");
	fed_rest_config_release(&cfg);
	fed_kubeconfig_free(kc);

	/* a broken file in the list is an error, not skipped */
	snprintf(broken, sizeof(broken), "%s/broken.yaml", tmp);
	write_file(broken, "clusters: [\n", 0644);
	snprintf(env, sizeof(env), "%s:" FIX "/merge/a.yaml", broken);
	setenv("KUBECONFIG", env, 1);
	CHECK(fed_kubeconfig_load_default(&kc, NULL, &err) == FED_EINVAL);
	CHECK(kc == NULL);
	CHECK_HAS(err.msg, "broken.yaml:2:1: ");
}

static void test_explicit_and_home(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config cfg;
	char home[4200];

	env_reset();
	fed_rest_config_init(&cfg);
	/* --kubeconfig: only that file, KUBECONFIG is ignored */
	setenv("KUBECONFIG", FIX "/merge/a.yaml", 1);
	CHECK_INT(fed_kubeconfig_load_default(&kc, FIX "/merge/b.yaml", &err), 0);
	CHECK_STR(fed_kubeconfig_current_context(kc), "b");
	CHECK_INT(fed_kubeconfig_rest_config(kc, "a", &cfg, &err), FED_EINVAL);
	fed_kubeconfig_free(kc);
	/* ... and it must exist */
	CHECK_INT(fed_kubeconfig_load_default(&kc, "/nonexistent/kubeconfig", &err), FED_EINVAL);
	CHECK_STR(err.msg,
	          "kubeconfig /nonexistent/kubeconfig: cannot read: No such file or directory");

	/* ~/.kube/config, with a path relative to it */
	unsetenv("KUBECONFIG");
	snprintf(home, sizeof(home), "%s/" FIX "/home", cwd);
	setenv("HOME", home, 1);
	CHECK_INT(fed_rest_config_load(&cfg, NULL, NULL, &err), 0);
	CHECK_STR(cfg.server, "https://home.example:6443");
	CHECK_STR(cfg.token, "home-token");
	CHECK(file_is(cfg.ca_pem, cfg.ca_len, FIX "/ca.crt"));
	fed_rest_config_release(&cfg);
	/* KUBECONFIG set (even to missing files only) replaces the default */
	setenv("KUBECONFIG", "/nonexistent/a:/nonexistent/b", 1);
	CHECK_INT(fed_kubeconfig_load_default(&kc, NULL, &err), FED_EINVAL);
	CHECK_STR(err.msg, "no kubeconfig found (tried $KUBECONFIG=/nonexistent/a:/nonexistent/b); "
	                   "pass --kubeconfig or set KUBECONFIG");
}

static void test_load_and_in_cluster(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rest_config cfg;
	char want[512];

	env_reset();
	fed_rest_config_init(&cfg);
	CHECK_INT(fed_rest_config_load(&cfg, NULL, NULL, &err), FED_EINVAL);
	snprintf(want, sizeof(want),
	         "no configuration found: tried %s/emptyhome/.kube/config, and in-cluster config "
	         "(KUBERNETES_SERVICE_HOST is not set); pass --kubeconfig, set KUBECONFIG or "
	         "create ~/.kube/config",
	         tmp);
	CHECK_STR(err.msg, want);

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	setenv("FED_SA_DIR", FIX "/serviceaccount", 1);
	CHECK_INT(fed_rest_config_load(&cfg, NULL, NULL, &err), 0);
	CHECK_STR(cfg.server, "https://10.96.0.1:443");
	CHECK_STR(cfg.token_file, FIX "/serviceaccount/token");
	CHECK(cfg.token == NULL);
	CHECK(file_is(cfg.ca_pem, cfg.ca_len, FIX "/serviceaccount/ca.crt"));
	CHECK_STR(cfg.namespace, "fed-system");
	CHECK_STR(cfg.source, "in-cluster");
	fed_rest_config_release(&cfg);

	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	CHECK_INT(fed_rest_config_in_cluster(&cfg, &err), 0);
	CHECK_STR(cfg.server, "https://[fd00:10:96::1]:443");
	fed_rest_config_release(&cfg);

	/* a kubeconfig, when there is one, wins over in-cluster */
	setenv("KUBECONFIG", FIX "/merge/b.yaml", 1);
	CHECK_INT(fed_rest_config_load(&cfg, NULL, "shared", &err), 0);
	CHECK_STR(cfg.server, "https://b.example");
	fed_rest_config_release(&cfg);
	/* and an explicit file that is missing is an error, not a fallback */
	CHECK_INT(fed_rest_config_load(&cfg, "/nonexistent/config", NULL, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "kubeconfig /nonexistent/config: cannot read");
	CHECK(cfg.server == NULL);

	unsetenv("KUBECONFIG");
	setenv("FED_SA_DIR", "/nonexistent/sa", 1);
	CHECK_INT(fed_rest_config_load(&cfg, NULL, NULL, &err), FED_EINVAL);
	/* the quotes keep fed_log_redact from taking "token: No" for a secret */
	CHECK_STR(err.msg, "in-cluster config: cannot read \"/nonexistent/sa/token\": No such file "
	                   "or directory");
	unsetenv("KUBERNETES_SERVICE_PORT");
	CHECK_INT(fed_rest_config_in_cluster(&cfg, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "KUBERNETES_SERVICE_PORT must be set");
}

/* One error case: a kubeconfig read as /x/config (so relative paths go to
 * the nonexistent /x), resolved for `context`, must fail with `want`
 * exactly, and never show `secret`. */
struct err_case {
	const char *yaml;
	const char *context;
	const char *want;
	const char *secret;
};

#define HEAD      "apiVersion: v1\nkind: Config\n"
#define CTX(c, u) "contexts:\n- name: ctx\n  context: {cluster: " c ", user: " u "}\n"

static const struct err_case err_cases[] = {
    /* YAML syntax, with line and column */
    {HEAD "clusters:\n- name: a\n  cluster: {server: [x}\n", NULL,
     "kubeconfig /x/config:5:23: mismatched flow mapping end", NULL},
    {HEAD "users:\n- name: u\n  user:\n    token: \"fixture-secret-in-bad-escape\\q\"\n", NULL,
     "kubeconfig /x/config:6:41: invalid escape 'q' in double-quoted string",
     "fixture-secret-in-bad-escape"},
    {"- just\n- a list\n", NULL,
     "kubeconfig /x/config:1:3: must be a mapping (apiVersion: v1, kind: Config, clusters, "
     "users, contexts), not a list",
     NULL},
    {"apiVersion: v1\nkind: Pod\n", NULL,
     "kubeconfig /x/config:2:1: kind is \"Pod\", expected Config (is this a kubeconfig?)", NULL},
    {HEAD "clusters: {a: b}\n", NULL,
     "kubeconfig /x/config:3:1: clusters must be a list, not a mapping", NULL},
    {HEAD "clusters:\n- cluster: {server: https://a}\n", NULL,
     "kubeconfig /x/config:4:3: clusters[0].name is missing", NULL},
    {HEAD "clusters:\n- name: a\n- name: b\n- name: a\n", NULL,
     "kubeconfig /x/config:6:3: clusters[a] is defined twice (first at line 4)", NULL},
    {HEAD "users:\n- name: u\n  user:\n    token:\n      value: fixture-secret-token-in-map\n",
     NULL, "kubeconfig /x/config:6:5: users[u].token must be a string, not a mapping",
     "fixture-secret-token-in-map"},
    {HEAD "clusters:\n- name: x\n  cluster:\n    server: https://x\n"
          "    insecure-skip-tls-verify: \"true\"\n",
     NULL,
     "kubeconfig /x/config:7:5: clusters[x].insecure-skip-tls-verify must be true or false, "
     "not a string",
     NULL},
    {HEAD "clusters:\n- name: prod\n  cluster:\n    server: https://prod\n"
          "    certificate-authority-data: \"not*base64!\"\n",
     NULL,
     "kubeconfig /x/config:7:5: clusters[prod].certificate-authority-data is not valid base64",
     NULL},
    {HEAD "users:\n- name: admin\n  user:\n    client-key-data: fixture-secret-key-data-xyz!\n",
     NULL, "kubeconfig /x/config:6:5: users[admin].client-key-data is not valid base64",
     "fixture-secret-key-data"},
    /* resolution */
    {HEAD "clusters:\n- name: c\n  cluster: {server: https://c}\n"
          "users:\n- name: admin\n  user: {client-certificate: admin.crt, client-key: "
          "admin.key}\n" CTX("c", "admin"),
     "ctx",
     "kubeconfig /x/config: users[admin].client-certificate: cannot read \"/x/admin.crt\": No "
     "such file or directory",
     NULL},
    {HEAD "clusters:\n- name: c\n  cluster: {server: https://c}\n"
          "users:\n- name: t\n  user: {tokenFile: token}\n" CTX("c", "t"),
     "ctx",
     "kubeconfig /x/config: users[t].tokenFile: cannot read \"/x/token\": No such file or "
     "directory",
     NULL},
    {HEAD "clusters:\n- name: c\n  cluster: {server: https://c, certificate-authority: "
          "/x/ca.crt}\n" CTX("c", "\"\""),
     "ctx",
     "kubeconfig /x/config: clusters[c].certificate-authority: cannot read \"/x/ca.crt\": No "
     "such file or directory",
     NULL},
    {HEAD "contexts:\n- name: a\n- name: b\n", "foo",
     "kubeconfig /x/config: context \"foo\" not found (available: a, b)", NULL},
    {HEAD "contexts:\n- name: a\n", NULL,
     "kubeconfig /x/config: current-context is not set; choose a context with --context "
     "(available: a)",
     NULL},
    {HEAD "current-context: dev\n", NULL,
     "kubeconfig /x/config: context \"dev\" not found (no contexts are defined)", NULL},
    {HEAD "contexts:\n- name: dev\n  context: {cluster: missing}\n", "dev",
     "kubeconfig /x/config: contexts[dev].cluster: cluster \"missing\" is not defined", NULL},
    {HEAD "contexts:\n- name: dev\n  context: {user: u}\n", "dev",
     "kubeconfig /x/config: contexts[dev].cluster is missing", NULL},
    {HEAD "clusters:\n- name: c\n  cluster: {server: https://c}\n"
          "contexts:\n- name: dev\n  context: {cluster: c, user: nobody}\n",
     "dev", "kubeconfig /x/config: contexts[dev].user: user \"nobody\" is not defined", NULL},
    {HEAD "clusters:\n- name: x\n  cluster: {insecure-skip-tls-verify: true}\n" CTX("x", "\"\""),
     "ctx",
     "kubeconfig /x/config: clusters[x].server is missing (the API server URL, e.g. "
     "https://host:6443)",
     NULL},
    {HEAD "clusters:\n- name: x\n  cluster: {server: \"api.example:6443\"}\n" CTX("x", "\"\""),
     "ctx", "kubeconfig /x/config: clusters[x].server must start with https:// or http://", NULL},
    {HEAD "clusters:\n- name: x\n  cluster: {server: https://x, insecure-skip-tls-verify: true,"
          " certificate-authority-data: " PEM_B64 "}\n" CTX("x", "\"\""),
     "ctx",
     "kubeconfig /x/config: clusters[x]: insecure-skip-tls-verify cannot be combined with "
     "certificate-authority(-data); remove one of them",
     NULL},
    {HEAD "clusters:\n- name: x\n  cluster: {server: https://x, certificate-authority-data: "
          "anVzdCBzb21lIGJ5dGVzLCBub3QgUEVN}\n" CTX("x", "\"\""),
     "ctx",
     "kubeconfig /x/config: clusters[x].certificate-authority-data does not hold PEM data "
     "(base64 of a -----BEGIN ... block)",
     NULL},
    {HEAD "clusters:\n- name: c\n  cluster: {server: https://c}\n"
          "users:\n- name: u\n  user: {client-certificate-data: " PEM_B64 "}\n" CTX("c", "u"),
     "ctx",
     "kubeconfig /x/config: users[u]: a client certificate is set but no client-key or "
     "client-key-data",
     NULL},
    {HEAD "clusters:\n- name: c\n  cluster: {server: https://c}\n"
          "users:\n- name: u\n  user: {client-key: /x/u.key}\n" CTX("c", "u"),
     "ctx",
     "kubeconfig /x/config: users[u]: a client key is set but no client-certificate or "
     "client-certificate-data",
     NULL},
    {HEAD "clusters:\n- name: c\n  cluster: {server: https://c}\n"
          "users:\n- name: u\n  user:\n    exec:\n      apiVersion: "
          "client.authentication.k8s.io/v1alpha1\n      command: foo\n" CTX("c", "u"),
     "ctx",
     "kubeconfig /x/config: users[u].exec.apiVersion \"client.authentication.k8s.io/v1alpha1\" "
     "is not supported (use client.authentication.k8s.io/v1 or v1beta1)",
     NULL},
    {HEAD "users:\n- name: u\n  user:\n    exec:\n      command: foo\n      args: [a, {b: "
          "c}]\n",
     NULL, "kubeconfig /x/config:8:18: users[u].exec.args[1] must be a string, not a mapping",
     NULL},
};

static void check_err_case(const struct err_case *c)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config cfg;
	int ret;

	fed_rest_config_init(&cfg);
	ret = fed_kubeconfig_parse(&kc, c->yaml, strlen(c->yaml), "/x/config", &err);
	if (!ret) {
		ret = fed_kubeconfig_rest_config(kc, c->context, &cfg, &err);
		fed_kubeconfig_free(kc);
	} else {
		CHECK(kc == NULL);
	}
	CHECK_INT(ret, FED_EINVAL);
	CHECK(cfg.server == NULL);
	CHECK_STR(err.msg, c->want);
	CHECK(strchr(err.msg, '\n') == NULL);
	CHECK(!c->secret || !strstr(err.msg, c->secret));
}

static void test_errors(void)
{
	size_t i;

	env_reset();
	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		check_err_case(&err_cases[i]);
		if (check_case_failed) {
			fprintf(stderr, "  in error case %zu\n", i);
			return;
		}
	}
}

static void test_auth_provider(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config cfg;

	env_reset();
	fed_rest_config_init(&cfg);
	/* the file loads; only using that user fails */
	CHECK_INT(load_full(&kc, &err), 0);
	CHECK_INT(fed_kubeconfig_rest_config(kc, "legacy", &cfg, &err), FED_EINVAL);
	fed_kubeconfig_free(kc);
	CHECK_STR(err.msg, "kubeconfig " FIX "/full.yaml: users[legacy].auth-provider: legacy "
	                   "auth-provider plugins (\"gcp\") were removed from kubectl and "
	                   "client-go and are not supported; use an exec credential plugin instead "
	                   "(users[].user.exec, e.g. gke-gcloud-auth-plugin or kubelogin)");
	CHECK(!strstr(err.msg, "fixture-secret"));
}

static void test_empty(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	size_t n = 99;

	/* an empty or comment-only kubeconfig is an empty Config */
	CHECK_INT(fed_kubeconfig_parse(&kc, "# nothing\n\n", 11, "/x/config", &err), 0);
	CHECK(fed_kubeconfig_current_context(kc) == NULL);
	CHECK(fed_kubeconfig_contexts(kc, &n)[0] == NULL);
	CHECK_INT(n, 0);
	fed_kubeconfig_free(kc);
	CHECK_INT(fed_kubeconfig_parse(&kc, "", 0, NULL, &err), 0);
	fed_kubeconfig_free(kc);
	CHECK_INT(fed_kubeconfig_parse(&kc, "---\n", 4, NULL, &err), 0);
	fed_kubeconfig_free(kc);
	fed_kubeconfig_free(NULL);
	fed_rest_config_release(NULL);
	fed_exec_credential_release(NULL);
}

/* ---- exec plugins ---- */

#define CRED(av, status)                                                                           \
	"{\"apiVersion\":\"" av "\",\"kind\":\"ExecCredential\",\"status\":" status "}"

static const struct {
	const char *name, *body;
} plugins[] = {
    {"token.sh", "#!/bin/sh\n"
                 "printf '%s' '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                 "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"'\"$1-$FED_TEST_VAR\"'\","
                 "\"expirationTimestamp\":\"2030-01-02T03:04:05.123+01:00\"}}'\n"},
    {"cert.sh",
     "#!/bin/sh\necho '" CRED("client.authentication.k8s.io/v1beta1",
                              "{\"clientCertificateData\":\"-----BEGIN "
                              "CERTIFICATE-----\\nX\\n-----END CERTIFICATE-----\\n\","
                              "\"clientKeyData\":\"-----BEGIN EC PRIVATE "
                              "KEY-----\\nY\\n-----END EC PRIVATE KEY-----\\n\"}") "'\n"},
    {"fail.sh", "#!/bin/sh\necho 'test plugin: failing on purpose' >&2\nexit 3\n"},
    {"sleep.sh", "#!/bin/sh\nsleep 30\necho '{}'\n"},
    {"badjson.sh", "#!/bin/sh\necho '{\"apiVersion\": \"fixture-secret-in-bad-json'\n"},
    {"wrongver.sh",
     "#!/bin/sh\necho '" CRED("client.authentication.k8s.io/v1beta1", "{\"token\":\"t\"}") "'\n"},
    {"empty.sh", "#!/bin/sh\necho '" CRED("client.authentication.k8s.io/v1", "{}") "'\n"},
    {"info.sh",
     "#!/bin/sh\n"
     "case \"$KUBERNETES_EXEC_INFO\" in\n"
     "*'\"spec\":{\"interactive\":false,\"cluster\":{\"server\":\"https://info.example:6443\"'*"
     "'\"tls-server-name\":\"api.internal\"'*'\"certificate-authority-data\":\"" PEM_B64 "\"'*)"
     " ;;\n"
     "*) echo \"unexpected KUBERNETES_EXEC_INFO: $KUBERNETES_EXEC_INFO\" >&2; exit 4;;\n"
     "esac\n"
     "echo '" CRED("client.authentication.k8s.io/v1", "{\"token\":\"info-ok\"}") "'\n"},
    {"noinfo.sh",
     "#!/bin/sh\n"
     "case \"$KUBERNETES_EXEC_INFO\" in *cluster*) exit 5;; esac\n"
     "echo '" CRED("client.authentication.k8s.io/v1", "{\"token\":\"no-info\"}") "'\n"},
};

static const char exec_kubeconfig[] =
    "apiVersion: v1\nkind: Config\n"
    "clusters:\n"
    "- name: c\n"
    "  cluster:\n"
    "    server: https://info.example:6443\n"
    "    tls-server-name: api.internal\n"
    "    certificate-authority-data: " PEM_B64 "\n"
    "users:\n"
    "- name: token\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1\n"
    "      command: ./token.sh\n"
    "      args: [tok]\n"
    "      env: [{name: FED_TEST_VAR, value: val}]\n"
    "      interactiveMode: Never\n"
    "- name: cert\n"
    "  user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: cert.sh}}\n"
    "- name: info\n"
    "  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ./info.sh,\n"
    "                provideClusterInfo: true}}\n"
    "- name: noinfo\n"
    "  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ./noinfo.sh}}\n"
    "- name: v1only\n"
    "  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ./X}}\n"
    "- name: missing\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1\n"
    "      command: fed-test-no-such-plugin\n"
    "      installHint: |\n"
    "        fed-test-no-such-plugin is needed.\n"
    "        Install it with: apt install fed-test-plugin\n"
    "- name: interactive\n"
    "  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ./token.sh,\n"
    "                interactiveMode: Always}}\n"
    "contexts:\n"
    "- {name: token, context: {cluster: c, user: token}}\n"
    "- {name: cert, context: {cluster: c, user: cert}}\n"
    "- {name: info, context: {cluster: c, user: info}}\n"
    "- {name: noinfo, context: {cluster: c, user: noinfo}}\n"
    "- {name: v1only, context: {cluster: c, user: v1only}}\n"
    "- {name: missing, context: {cluster: c, user: missing}}\n"
    "- {name: interactive, context: {cluster: c, user: interactive}}\n";

static struct fed_kubeconfig *exec_kc;

static int run_plugin(const char *context, const char *script, int timeout_ms,
                      struct fed_exec_credential *cred, struct fed_error *err)
{
	struct fed_rest_config cfg;
	char path[512];
	int ret;

	fed_rest_config_init(&cfg);
	ret = fed_kubeconfig_rest_config(exec_kc, context, &cfg, err);
	if (ret)
		return ret;
	if (script) { /* same config, another script */
		snprintf(path, sizeof(path), "%s/%s", tmp, script);
		free(cfg.exec->command);
		cfg.exec->command = strdup(path);
	}
	ret = fed_exec_credential_get(&cfg, timeout_ms, cred, err);
	fed_rest_config_release(&cfg);
	return ret;
}

static void test_exec_setup(void)
{
	struct fed_error err = FED_ERROR_INIT;
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmp, plugins[i].name);
		write_file(path, plugins[i].body, 0755);
	}
	snprintf(path, sizeof(path), "%s/config", tmp);
	write_file(path, exec_kubeconfig, 0644);
	CHECK_INT(fed_kubeconfig_load_file(&exec_kc, path, &err), 0);
}

static void test_exec_token(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_exec_credential cred;
	struct fed_rest_config cfg;
	struct tm tm = {0};
	char path[512];

	env_reset();
	fed_rest_config_init(&cfg);
	CHECK(exec_kc);
	/* a command with a slash is relative to the kubeconfig's directory */
	CHECK_INT(fed_kubeconfig_rest_config(exec_kc, "token", &cfg, &err), 0);
	snprintf(path, sizeof(path), "%s/token.sh", tmp);
	CHECK_STR(cfg.exec->command, path);
	CHECK_STR(cfg.exec->args[0], "tok");
	CHECK(cfg.exec->args[1] == NULL);
	CHECK_STR(cfg.exec->env[0], "FED_TEST_VAR=val");
	CHECK_STR(cfg.exec->interactive_mode, "Never");
	fed_rest_config_release(&cfg);

	setenv("FED_TEST_VAR", "overridden-by-the-kubeconfig", 1);
	CHECK_INT(run_plugin("token", NULL, 5000, &cred, &err), 0);
	unsetenv("FED_TEST_VAR");
	CHECK_STR(cred.token, "tok-val");
	CHECK(cred.client_cert_pem == NULL);
	tm.tm_year = 2030 - 1900;
	tm.tm_mon = 0;
	tm.tm_mday = 2;
	tm.tm_hour = 2; /* 03:04:05+01:00 */
	tm.tm_min = 4;
	tm.tm_sec = 5;
	CHECK_INT(cred.expires, timegm(&tm));
	fed_exec_credential_release(&cred);
	CHECK(cred.token == NULL);
}

static void test_exec_cert_and_info(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_exec_credential cred;
	char path[512];

	env_reset();
	CHECK(exec_kc);
	/* a bare command is looked up in PATH */
	snprintf(path, sizeof(path), "%s:/usr/bin:/bin", tmp);
	setenv("PATH", path, 1);
	CHECK_INT(run_plugin("cert", NULL, 5000, &cred, &err), 0);
	CHECK_STR(cred.client_cert_pem,
	          "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n");
	CHECK_STR(cred.client_key_pem,
	          "-----BEGIN EC PRIVATE KEY-----\nY\n-----END EC PRIVATE KEY-----\n");
	CHECK(cred.token == NULL && cred.expires == 0);
	fed_exec_credential_release(&cred);

	CHECK_INT(run_plugin("info", NULL, 5000, &cred, &err), 0);
	CHECK_STR(cred.token, "info-ok");
	fed_exec_credential_release(&cred);
	CHECK_INT(run_plugin("noinfo", NULL, 5000, &cred, &err), 0);
	CHECK_STR(cred.token, "no-info");
	fed_exec_credential_release(&cred);
}

static void test_exec_errors(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_exec_credential cred;
	struct timespec t0, t1;
	char want[1024];
	long ms;

	env_reset();
	CHECK(exec_kc);
	CHECK_INT(run_plugin("v1only", "fail.sh", 5000, &cred, &err), FED_EINVAL);
	snprintf(want, sizeof(want),
	         "exec plugin \"%s/fail.sh\" for users[v1only]: exited with status 3 (its stderr "
	         "above may say why)",
	         tmp);
	CHECK_STR(err.msg, want);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(run_plugin("v1only", "sleep.sh", 300, &cred, &err), FED_ETIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 250 && ms < 3000);
	CHECK_HAS(err.msg, "sleep.sh\" for users[v1only]: no credential within 300 ms; killed it");
	/* the plugin was reaped: no child (zombie or not) is left */
	CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);

	CHECK_INT(run_plugin("v1only", "badjson.sh", 5000, &cred, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "badjson.sh\" for users[v1only]: output is not an ExecCredential JSON "
	                   "object");
	CHECK(!strstr(err.msg, "fixture-secret"));

	CHECK_INT(run_plugin("v1only", "wrongver.sh", 5000, &cred, &err), FED_EINVAL);
	CHECK_HAS(err.msg,
	          "wrongver.sh\" for users[v1only]: returned apiVersion "
	          "\"client.authentication.k8s.io/v1beta1\", expected "
	          "\"client.authentication.k8s.io/v1\" (the kubeconfig's exec.apiVersion)");

	CHECK_INT(run_plugin("v1only", "empty.sh", 5000, &cred, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "empty.sh\" for users[v1only]: ExecCredential has no credential "
	                   "(status.token, or status.clientCertificateData and clientKeyData)");

	CHECK_INT(run_plugin("missing", NULL, 5000, &cred, &err), FED_EINVAL);
	CHECK_STR(err.msg, "exec plugin \"fed-test-no-such-plugin\" for users[missing]: command "
	                   "not found in PATH; fed-test-no-such-plugin is needed. Install it with: "
	                   "apt install fed-test-plugin");
	CHECK_INT(run_plugin("v1only", "no-such-script.sh", 5000, &cred, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "no-such-script.sh\" for users[v1only]: command not found");

	CHECK_INT(run_plugin("interactive", NULL, 5000, &cred, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "interactiveMode is Always, but fed never runs plugins interactively");
	CHECK(cred.token == NULL);
	CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
}

/* ---- render and copy ---- */

static bool same_exec(const struct fed_exec_config *a, const struct fed_exec_config *b)
{
	size_t i;

	if (!a || !b)
		return a == b;
	if (!same_str(a->api_version, b->api_version) || !same_str(a->command, b->command) ||
	    !same_str(a->install_hint, b->install_hint) ||
	    !same_str(a->interactive_mode, b->interactive_mode) ||
	    a->provide_cluster_info != b->provide_cluster_info)
		return false;
	for (i = 0; a->args[i] || b->args[i]; i++)
		if (!same_str(a->args[i], b->args[i]))
			return false;
	for (i = 0; a->env[i] || b->env[i]; i++)
		if (!same_str(a->env[i], b->env[i]))
			return false;
	return true;
}

/* everything but source */
static bool same_config(const struct fed_rest_config *a, const struct fed_rest_config *b)
{
	return same_str(a->server, b->server) && same_str(a->tls_server_name, b->tls_server_name) &&
	       same_str(a->proxy_url, b->proxy_url) &&
	       a->insecure_skip_tls_verify == b->insecure_skip_tls_verify &&
	       same_bytes(a->ca_pem, a->ca_len, b->ca_pem, b->ca_len) &&
	       same_bytes(a->cert_pem, a->cert_len, b->cert_pem, b->cert_len) &&
	       same_bytes(a->key_pem, a->key_len, b->key_pem, b->key_len) &&
	       same_str(a->token, b->token) && same_str(a->token_file, b->token_file) &&
	       same_exec(a->exec, b->exec) && same_str(a->context, b->context) &&
	       same_str(a->cluster, b->cluster) && same_str(a->user, b->user) &&
	       same_str(a->namespace, b->namespace);
}

static void round_trip(const struct fed_kubeconfig *kc, const char *context)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *back = NULL;
	struct fed_rest_config a, b, c;
	char *yaml = NULL;
	int ret;

	fed_rest_config_init(&a);
	fed_rest_config_init(&b);
	fed_rest_config_init(&c);
	CHECK_INT(fed_kubeconfig_rest_config(kc, context, &a, &err), 0);
	CHECK_INT(fed_kubeconfig_render(&a, NULL, &yaml, &err), 0);
	ret = fed_kubeconfig_parse(&back, yaml, strlen(yaml), NULL, &err);
	if (ret)
		fprintf(stderr, "  %s\n%s", err.msg, yaml);
	CHECK_INT(ret, 0);
	CHECK_STR(fed_kubeconfig_current_context(back), context);
	CHECK_INT(fed_kubeconfig_rest_config(back, NULL, &b, &err), 0);
	if (!same_config(&a, &b))
		fprintf(stderr, "  round trip of %s differs:\n%s", context, yaml);
	CHECK(same_config(&a, &b));
	CHECK_STR(b.source, "<string>");
	/* and a deep copy is equal, and survives the original */
	CHECK_INT(fed_rest_config_copy(&c, &b, &err), 0);
	fed_rest_config_release(&b);
	CHECK(same_config(&a, &c));
	fed_rest_config_release(&a);
	fed_rest_config_release(&c);
	fed_kubeconfig_free(back);
	free(yaml);
}

/* Finding 12: a kubeconfig from the controller's Secret runs nothing and
 * reads no local file unless allowed; the refusal names the field and the
 * flag. Without a policy (the user's own kubeconfig) nothing changes. */
static void test_policy(void)
{
	static const struct fed_kubeconfig_policy deny = {
	    .deny_exec = true,
	    .deny_files = true,
	    .exec_flag = "--allow-kubeconfig-exec",
	    .files_flag = "--allow-kubeconfig-files",
	};
	struct fed_kubeconfig_policy files_ok = deny;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	struct fed_rest_config cfg;

	env_reset();
	fed_rest_config_init(&cfg);
	files_ok.deny_files = false;
	CHECK_INT(load_full(&kc, &err), 0);
	/* ca, client certificate and key from files */
	CHECK_INT(fed_kubeconfig_rest_config_policy(kc, "files", &deny, &cfg, &err),
	          FED_EFORBIDDEN);
	CHECK(strstr(err.msg, "clusters[files].certificate-authority"));
	CHECK(strstr(err.msg, "--allow-kubeconfig-files"));
	CHECK(cfg.server == NULL && cfg.ca_pem == NULL);
	CHECK_INT(fed_kubeconfig_rest_config_policy(kc, "tokenfile", &deny, &cfg, &err),
	          FED_EFORBIDDEN);
	CHECK(strstr(err.msg, "users[tokenfile].tokenFile"));
	CHECK(strstr(err.msg, "--allow-kubeconfig-files"));
	CHECK(!strchr(err.msg, '\n'));
	/* the inline forms stay allowed */
	CHECK_INT(fed_kubeconfig_rest_config_policy(kc, "data", &deny, &cfg, &err), 0);
	CHECK(cfg.cert_pem && cfg.key_pem && cfg.ca_pem);
	fed_rest_config_release(&cfg);
	CHECK_INT(fed_kubeconfig_rest_config_policy(kc, "token", &deny, &cfg, &err), 0);
	fed_rest_config_release(&cfg);
	/* allowed by the flag, or without a policy */
	CHECK_INT(fed_kubeconfig_rest_config_policy(kc, "tokenfile", &files_ok, &cfg, &err), 0);
	CHECK(cfg.token_file != NULL);
	fed_rest_config_release(&cfg);
	CHECK_INT(fed_kubeconfig_rest_config_policy(kc, "files", NULL, &cfg, &err), 0);
	fed_rest_config_release(&cfg);
	fed_kubeconfig_free(kc);

	/* exec: refused before the plugin is looked at, allowed by its flag */
	CHECK(exec_kc);
	CHECK_INT(fed_kubeconfig_rest_config_policy(exec_kc, "token", &files_ok, &cfg, &err),
	          FED_EFORBIDDEN);
	CHECK(strstr(err.msg, ".exec: running an exec credential plugin"));
	CHECK(strstr(err.msg, "--allow-kubeconfig-exec"));
	files_ok.deny_exec = false;
	CHECK_INT(fed_kubeconfig_rest_config_policy(exec_kc, "token", &files_ok, &cfg, &err), 0);
	CHECK(cfg.exec != NULL);
	fed_rest_config_release(&cfg);
}

static void test_render_round_trip(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kubeconfig *kc = NULL;
	static const char odd[] =
	    "clusters:\n- name: \"odd: #name\"\n  cluster: {server: \"https://x/\\\"q\\\"\", "
	    "proxy-url: \"socks5://p:1080\"}\n"
	    "users:\n- name: \"true\"\n  user: {token: \"a: b # c\\nd\"}\n"
	    "contexts:\n- name: \"*star\"\n  context: {cluster: \"odd: #name\", user: \"true\", "
	    "namespace: null}\n";
	struct fed_rest_config cfg;
	char *yaml = NULL;

	env_reset();
	CHECK_INT(load_full(&kc, &err), 0);
	round_trip(kc, "files");
	round_trip(kc, "token");
	round_trip(kc, "tokenfile");
	round_trip(kc, "anonymous");
	fed_kubeconfig_free(kc);
	kc = NULL;
	CHECK(exec_kc);
	round_trip(exec_kc, "token");
	round_trip(exec_kc, "missing");
	round_trip(exec_kc, "info");
	CHECK_INT(fed_kubeconfig_parse(&kc, odd, strlen(odd), NULL, &err), 0);
	round_trip(kc, "*star");
	fed_kubeconfig_free(kc);

	/* the context name can be chosen; the server is required */
	fed_rest_config_init(&cfg);
	CHECK_INT(fed_kubeconfig_render(&cfg, "x", &yaml, &err), FED_EINVAL);
	CHECK_STR(err.msg, "render kubeconfig for context \"x\": no server");
	cfg.server = strdup("https://h:6443");
	CHECK_INT(fed_kubeconfig_render(&cfg, "member-1", &yaml, &err), 0);
	CHECK_HAS(yaml, "current-context: \"member-1\"\n");
	CHECK_HAS(yaml, "users: []\n"); /* anonymous */
	free(yaml);
	fed_rest_config_release(&cfg);
}

static void cleanup(void)
{
	char cmd[512];

	fed_kubeconfig_free(exec_kc);
	free(saved_path);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (tmp[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
}

int main(void)
{
	char home[300];

	if (!getcwd(cwd, sizeof(cwd)))
		return 2;
	saved_path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	snprintf(tmp, sizeof(tmp), "/tmp/fed-test-kubeconfig-XXXXXX");
	if (!mkdtemp(tmp))
		return 2;
	snprintf(home, sizeof(home), "%s/emptyhome", tmp);
	mkdir(home, 0755);

	RUN(test_file_refs);
	RUN(test_data_and_token);
	RUN(test_base64_forms);
	RUN(test_merge);
	RUN(test_explicit_and_home);
	RUN(test_load_and_in_cluster);
	RUN(test_errors);
	RUN(test_auth_provider);
	RUN(test_empty);
	RUN(test_exec_setup);
	RUN(test_exec_token);
	RUN(test_exec_cert_and_info);
	RUN(test_exec_errors);
	RUN(test_policy);
	RUN(test_render_round_trip);
	cleanup();
	return CHECK_EXIT();
}
