/* fedctl kubeconfig (fedctl/kubeconfig_edit.c, kubeconfig_file.c): the
 * member's URL through the host, the fed-NAME cluster and context put
 * into a kubeconfig (every other entry kept, in order; idempotent), the
 * standalone file of --print, and the locked, atomic, private write.
 * Golden file data/fedctl/kubeconfig-add.golden; regenerate with
 * FED_REGEN_GOLDEN=1 ctest --test-dir build -R unit.test_fedctl_kubeconfig. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "golden.h"

#include "../../fedctl/federate_obj.c"
#include "../../fedctl/fileio.c"
#include "../../fedctl/kubeconfig_edit.c"
#include "../../fedctl/kubeconfig_file.c"
#include "../../fedctl/output.c"

#define PROXY "/apis/proxy.fed.kubefed.io/v1alpha1/clusters/"

/* A kubeconfig as people have them: comments, flow style, YAML 1.1
 * values, an exec user, a stale fed-edge-1 in the middle. */
static const char mine[] =
    "# my clusters\n"
    "apiVersion: v1\n"
    "kind: Config\n"
    "preferences: {colors: yes}\n"
    "clusters:\n"
    "- name: host\n"
    "  cluster:\n"
    "    server: https://h.example:6443\n"
    "    certificate-authority: ca.crt\n"
    "- name: fed-edge-1\n"
    "  cluster: {server: 'https://old/apis/proxy.fed.kubefed.io/v1alpha1/clusters/edge-1/proxy'}\n"
    "- name: dev\n"
    "  cluster:\n"
    "    server: https://dev:443\n"
    "    insecure-skip-tls-verify: yes\n"
    "    extensions:\n"
    "    - name: x\n"
    "      extension: {version: 1.20, hex: 0x1F, quoted: \"true\", empty: , when: 2024-01-01,\n"
    "                  \"odd \\\"key\\\"\": v, long: \"a\\nb\"}\n"
    "users:\n"
    "- name: admin\n"
    "  user: {client-certificate: admin.crt, client-key: /abs/admin.key}\n"
    "- name: oidc\n"
    "  user:\n"
    "    exec: {apiVersion: client.authentication.k8s.io/v1, command: kubelogin, args: "
    "[get-token]}\n"
    "contexts:\n"
    "- name: host\n"
    "  context: {cluster: host, user: admin, namespace: team-a}\n"
    "- name: fed-edge-1\n"
    "  context: {cluster: fed-edge-1, user: someone, namespace: old}\n"
    "- name: dev\n"
    "  context: {cluster: dev, user: oidc}\n"
    "- name: fed-edge-1\n"
    "  context: {cluster: duplicate}\n"
    "current-context: host\n";

static const struct fedctl_connect_host host = {
    .server = "https://h.example:6443",
    .ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    .ca_len = 56,
    .tls_server_name = "kubernetes.default",
    .user = "admin",
};

static char *yaml(const cJSON *v)
{
	struct fed_buf b = FED_BUF_INIT;

	if (fedctl_yaml(&b, v)) {
		fed_buf_release(&b);
		return NULL;
	}
	return fed_buf_detach(&b);
}

/* text parsed, cluster added (use as given), back to YAML; NULL on error
 * (err set). */
static char *add_to(const char *text, const struct fedctl_connect_host *h, const char *cluster,
                    bool use, const char **state, struct fed_error *err)
{
	cJSON *kc = NULL;
	char *out = NULL;

	if (!fedctl_kubeconfig_parse(text, strlen(text), "kubeconfig t", &kc, err) &&
	    !fedctl_kubeconfig_add(kc, h, cluster, use, "kubeconfig t", state, err))
		out = yaml(kc);
	cJSON_Delete(kc);
	return out;
}

static void test_server(void)
{
	static const struct {
		const char *host, *want;
	} cases[] = {
	    {"https://h:6443", "https://h:6443" PROXY "edge-1/proxy"},
	    {"https://h:6443/", "https://h:6443" PROXY "edge-1/proxy"},
	    {"https://h:6443/prefix", "https://h:6443/prefix" PROXY "edge-1/proxy"},
	    {"https://h:6443/prefix//", "https://h:6443/prefix" PROXY "edge-1/proxy"},
	    {"https://[::1]:6443", "https://[::1]:6443" PROXY "edge-1/proxy"},
	    {"https://[fd00::1]/k8s/", "https://[fd00::1]/k8s" PROXY "edge-1/proxy"},
	    {"http://127.0.0.1:8080", "http://127.0.0.1:8080" PROXY "edge-1/proxy"},
	};
	static const struct {
		const char *host, *cluster, *msg;
	} bad[] = {
	    {"h:6443", "edge-1", "is not a URL such as https://host:6443"},
	    {"https://", "edge-1", "is not a URL"},
	    {"https:///x", "edge-1", "is not a URL"},
	    {"https://h:6443?a=b", "edge-1", "is not a URL"},
	    {"https://h:6443" PROXY "a/proxy", "edge-1", "--host-cluster-context"},
	    {"https://h:6443", "../x", "not a cluster name"},
	    {"https://h:6443", "", "not a cluster name"},
	    {NULL, "edge-1", "is not a URL"},
	};
	struct fed_error err = FED_ERROR_INIT;
	char *out = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(fedctl_connect_server(cases[i].host, "edge-1", &out, &err), 0);
		CHECK_STR(out, cases[i].want);
		free(out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fed_error_clear(&err);
		CHECK_INT(fedctl_connect_server(bad[i].host, bad[i].cluster, &out, &err),
		          FED_EINVAL);
		CHECK(out == NULL);
		CHECK_HAS(err.msg, bad[i].msg);
	}
}

/* Every other entry kept in its place, values as they were written
 * (yes, 1.20, 0x1F, the date stay; "true" stays a string); the stale
 * fed-edge-1 replaced where it was (its duplicate gone); the context has
 * the host's user by name and no namespace. */
static void test_add_keeps_others(void)
{
	struct fed_error err = FED_ERROR_INIT;
	const char *state = NULL;
	char *out = add_to(mine, &host, "edge-1", false, &state, &err);
	int ok;

	CHECK(out != NULL);
	CHECK_STR(state, "updated");
	ok = golden("kubeconfig-add", out);
	CHECK(ok);
	CHECK_HAS(out, "current-context: host\n");
	CHECK(strstr(out, "- name: host\n") < strstr(out, "- name: fed-edge-1\n"));
	CHECK(strstr(out, "- name: fed-edge-1\n") < strstr(out, "- name: dev\n"));
	free(out);
}

/* Run twice: the same text, "unchanged"; and a new cluster appended. */
static void test_idempotent(void)
{
	struct fed_error err = FED_ERROR_INIT;
	const char *state = NULL;
	char *once = add_to(mine, &host, "edge-1", false, &state, &err), *twice = NULL,
	     *other = NULL;

	CHECK(once != NULL);
	twice = add_to(once, &host, "edge-1", false, &state, &err);
	CHECK(twice != NULL);
	CHECK_STR(twice, once);
	CHECK_STR(state, "unchanged");
	other = add_to(once, &host, "edge-2", false, &state, &err);
	CHECK_STR(state, "added");
	CHECK(strstr(other, "- name: fed-edge-2\n") > strstr(other, "- name: dev\n"));
	free(other);
	other = add_to(once, &host, "edge-1", true, &state, &err);
	CHECK_STR(state, "made current");
	CHECK_HAS(other, "current-context: fed-edge-1\n");
	free(twice);
	twice = add_to(other, &host, "edge-1", true, &state, &err);
	CHECK_STR(state, "unchanged");
	CHECK_STR(twice, other);
	free(once);
	free(twice);
	free(other);
}

/* A blank or missing file, a JSON one, one with null lists. */
static void test_other_files(void)
{
	static const char json[] = "{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"clusters\":[],"
	                           "\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"t0ken-x\"}}],"
	                           "\"current-context\":\"\"}";
	struct fedctl_connect_host h = {.server = "https://[::1]:6443/k8s",
	                                .insecure = true,
	                                .proxy_url = "socks5://p:1080",
	                                .user = "u"};
	struct fed_error err = FED_ERROR_INIT;
	const char *state = NULL;
	char *out = add_to("", &h, "edge-1", false, &state, &err);

	CHECK_STR(out, "apiVersion: v1\n"
	               "kind: Config\n"
	               "clusters:\n"
	               "- name: fed-edge-1\n"
	               "  cluster:\n"
	               "    server: \"https://[::1]:6443/k8s" PROXY "edge-1/proxy\"\n"
	               "    proxy-url: socks5://p:1080\n"
	               "    insecure-skip-tls-verify: true\n"
	               "contexts:\n"
	               "- name: fed-edge-1\n"
	               "  context:\n"
	               "    cluster: fed-edge-1\n"
	               "    user: u\n");
	CHECK_STR(state, "added");
	free(out);
	out = add_to(json, &h, "edge-1", false, &state, &err);
	CHECK_HAS(out, "current-context: \"\"\n");
	CHECK_HAS(out, "- name: u\n  user:\n    token: t0ken-x\n");
	CHECK_HAS(out, "contexts:\n- name: fed-edge-1\n");
	free(out);
	out = add_to("clusters: ~\ncontexts:\n", &h, "edge-1", false, &state, &err);
	CHECK_HAS(out, "clusters:\n- name: fed-edge-1\n");
	CHECK_HAS(out, "contexts:\n- name: fed-edge-1\n");
	free(out);
	out = add_to("clusters: null\ncontexts: Null\n", &h, "edge-1", false, &state, &err);
	CHECK_HAS(out, "clusters:\n- name: fed-edge-1\n");
	CHECK_HAS(out, "contexts:\n- name: fed-edge-1\n");
	free(out);
	/* no user in the host context: a context without one */
	h.user = NULL;
	out = add_to("", &h, "edge-1", false, &state, &err);
	CHECK(strstr(out, "user:") == NULL);
	free(out);
}

/* Files fedctl does not rewrite: one message naming the file and the fix,
 * never their content. */
static void test_bad_files(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"- a\n- b\n", "kubeconfig t is not a kubeconfig"},
	    {"just text s3cr3t-value\n", "kubeconfig t is not a kubeconfig"},
	    {"clusters: 3\ncontexts: []\n", "kubeconfig t: clusters is not a list"},
	    {"clusters: []\ncontexts: {a: s3cr3t-value}\n", "contexts is not a list"},
	    {"users:\n- &u {name: a, user: {token: s3cr3t-value}}\n- *u\n", "aliases"},
	    {"a: [s3cr3t-value\n", "kubeconfig t:"},
	};
	struct fed_error err;
	const char *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out;
		fed_error_clear(&err);
		out = add_to(cases[i].text, &host, "edge-1", false, &state, &err);
		CHECK(out == NULL);
		CHECK(err.code != 0);
		CHECK_HAS(err.msg, cases[i].msg);
		CHECK(strstr(err.msg, "s3cr3t") == NULL);
	}
}

/* --print: the clusters, the user entry copied (relative paths made
 * absolute), current-context the first. */
static void test_standalone(void)
{
	const char *const names[] = {"edge-1", "edge-2"};
	struct fed_error err = FED_ERROR_INIT;
	cJSON *kc = NULL, *user, *out = NULL;
	char *text;

	CHECK_INT(fedctl_kubeconfig_parse(mine, strlen(mine), "t", &kc, &err), 0);
	user = fedctl_kubeconfig_user(kc, "admin", "/home/me/.kube");
	CHECK(user != NULL);
	CHECK(fedctl_kubeconfig_user(kc, "nobody", "/x") == NULL);
	CHECK_INT(fedctl_kubeconfig_standalone(&host, names, 2, user, &out, &err), 0);
	text = yaml(out);
	CHECK_HAS(text, "- name: fed-edge-1\n  cluster:\n    server: https://h.example:6443" PROXY
	                "edge-1/proxy\n    certificate-authority-data: LS0t");
	CHECK_HAS(text, "    tls-server-name: kubernetes.default\n");
	CHECK_HAS(text, "- name: fed-edge-2\n");
	CHECK_HAS(text, "users:\n- name: admin\n  user:\n"
	                "    client-certificate: /home/me/.kube/admin.crt\n"
	                "    client-key: /abs/admin.key\n");
	CHECK_HAS(text, "current-context: fed-edge-1\n");
	free(text);
	cJSON_Delete(user);
	cJSON_Delete(out);
	/* a bare exec command is looked up in $PATH: kept; a relative one not */
	user = fedctl_kubeconfig_user(kc, "oidc", "/d");
	text = yaml(user);
	CHECK_HAS(text, "command: kubelogin\n");
	free(text);
	cJSON_Delete(user);
	cJSON_ReplaceItemInObject(
	    cJSON_GetObjectItem(
	        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(kc, "users"), 1),
	                            "user"),
	        "exec"),
	    "command", cJSON_CreateString("bin/kubelogin"));
	user = fedctl_kubeconfig_user(kc, "oidc", "/d");
	text = yaml(user);
	CHECK_HAS(text, "command: /d/bin/kubelogin\n");
	free(text);
	cJSON_Delete(user);
	cJSON_Delete(kc);
}

/* The write: the lock is exclusive, the file replaced whole with mode
 * 0600, through a symlink to its target (the link stays). */
static void test_files(void)
{
	char dir[] = "/tmp/fedctl-kc-XXXXXX", real[300], link[300], *target = NULL, *lock = NULL,
	     *target2 = NULL, *lock2 = NULL, *text = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct stat st;
	size_t len;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(real, sizeof(real), "%s/sub/config", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	CHECK_INT(fedctl_file_read(real, &text, &len, &err), 0);
	CHECK(text == NULL);
	/* the directory is made, as kubectl makes ~/.kube */
	CHECK_INT(fedctl_kubeconfig_lock(real, &target, &lock, &err), 0);
	CHECK_STR(target, real);
	CHECK_INT(fedctl_kubeconfig_lock(real, &target2, &lock2, &err), FED_ERR);
	CHECK_HAS(err.msg, "is locked");
	free(target2);
	target2 = NULL;
	CHECK_INT(fedctl_file_replace(target, "a: 1\n", 5, &err), 0);
	fedctl_kubeconfig_unlock(lock);
	free(target);
	CHECK_INT(stat(real, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK_INT(symlink(real, link), 0);
	CHECK_INT(fedctl_kubeconfig_lock(link, &target, &lock, &err), 0);
	CHECK_STR(target, real);
	CHECK_INT(fedctl_file_replace(target, "b: 2\n", 5, &err), 0);
	fedctl_kubeconfig_unlock(lock);
	free(target);
	CHECK_INT(lstat(link, &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	CHECK_INT(fedctl_file_read(link, &text, &len, &err), 0);
	CHECK_STR(text, "b: 2\n");
	free(text);
	unlink(link);
	unlink(real);
	snprintf(real, sizeof(real), "%s/sub", dir);
	rmdir(real);
	CHECK_INT(rmdir(dir), 0); /* no lock or temp file left */
}

int main(void)
{
	RUN(test_server);
	RUN(test_add_keeps_others);
	RUN(test_idempotent);
	RUN(test_other_files);
	RUN(test_bad_files);
	RUN(test_standalone);
	RUN(test_files);
	return CHECK_EXIT();
}
