/* Authentication against a real kube-apiserver (member1): bearer tokens,
 * exec credential plugins (cached until expiry), a wrong CA and an invalid
 * token, each with a clear error that never contains the secret. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "e2e.h"

static struct ev_loop *loop;
static char tmpdir[256];
static char *admin_token;

static const struct fed_kube_resource r_ns = {"", "v1", "namespaces", false};

/* One GET /api/v1/namespaces/default with cfg. */
static int probe(const struct fed_rest_config *cfg, struct e2e_result *r,
                 struct fed_kube_client **keep)
{
	struct fed_kube_client *c = NULL;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_kube_ref ref = {&r_ns, NULL, "default", NULL};
	int ret;

	memset(r, 0, sizeof(*r));
	if (keep && *keep)
		c = *keep;
	else if ((ret = fed_kube_client_new(&c, loop, cfg, "member1", &err)) != 0) {
		r->err = err;
		return ret;
	}
	ret = fed_kube_get(c, &ref, e2e_cb, r, NULL, &err);
	if (!ret)
		ret = e2e_wait(loop, r);
	if (keep)
		*keep = c;
	else
		fed_kube_client_free(c);
	return ret;
}

/* member1's config with the client certificate removed. */
static int no_cert(struct fed_rest_config *cfg)
{
	if (e2e_load(cfg, "member1"))
		return -1;
	free(cfg->cert_pem);
	free(cfg->key_pem);
	cfg->cert_pem = cfg->key_pem = NULL;
	cfg->cert_len = cfg->key_len = 0;
	return 0;
}

static void test_token(void)
{
	struct fed_rest_config cfg;
	struct e2e_result r;

	CHECK_INT(no_cert(&cfg), 0);
	cfg.token = strdup(admin_token);
	CHECK_INT(probe(&cfg, &r, NULL), 0);
	CHECK_STR(fed_obj_name(r.json), "default");
	e2e_result_release(&r);
	fed_rest_config_release(&cfg);
}

static void test_token_file_rotates(void)
{
	struct fed_rest_config cfg;
	struct fed_kube_client *c = NULL;
	struct e2e_result r;
	char path[512];
	FILE *f;
	bool never = false;

	snprintf(path, sizeof(path), "%s/token", tmpdir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("wrong-token-1234567890\n", f);
	fclose(f);
	CHECK_INT(no_cert(&cfg), 0);
	cfg.token_file = strdup(path);
	CHECK_INT(probe(&cfg, &r, &c), FED_EUNAUTHORIZED);
	e2e_result_release(&r);
	/* the file is rotated (as kubelet does for projected tokens) */
	fed_kube_wait(loop, &never, 1.1);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fprintf(f, "%s\n", admin_token);
	fclose(f);
	{
		struct timespec ts[2] = {{0, UTIME_NOW}, {time(NULL) + 5, 0}};
		utimensat(AT_FDCWD, path, ts, 0); /* mtime must differ at 1 s granularity */
	}
	CHECK_INT(probe(&cfg, &r, &c), 0);
	e2e_result_release(&r);
	fed_kube_client_free(c);
	fed_rest_config_release(&cfg);
}

static void test_invalid_token(void)
{
	struct fed_rest_config cfg;
	struct e2e_result r;

	CHECK_INT(no_cert(&cfg), 0);
	cfg.token = strdup("sekrit-invalid-token-0123456789");
	CHECK_INT(probe(&cfg, &r, NULL), FED_EUNAUTHORIZED);
	CHECK_INT(r.err.http_status, 401);
	fprintf(stderr, "  message: %s\n", r.err.msg);
	CHECK_HAS(r.err.msg, "Unauthorized");
	CHECK_HAS(r.err.msg, "member1-admin");
	CHECK(strstr(r.err.msg, "sekrit") == NULL);
	e2e_result_release(&r);
	fed_rest_config_release(&cfg);
}

static void test_wrong_ca(void)
{
	struct fed_rest_config cfg;
	struct e2e_result r;
	char cmd[1024], path[512];

	snprintf(path, sizeof(path), "%s/other-ca.crt", tmpdir);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/other-ca.key -out %s "
	         "-days 1 -subj /CN=not-the-cluster-ca >/dev/null 2>&1",
	         tmpdir, path);
	CHECK_INT(system(cmd), 0);
	CHECK_INT(e2e_load(&cfg, "member1"), 0);
	free(cfg.ca_pem);
	cfg.ca_pem = e2e_read_file(path);
	CHECK(cfg.ca_pem != NULL);
	cfg.ca_len = strlen(cfg.ca_pem);
	CHECK_INT(probe(&cfg, &r, NULL), FED_ETLS);
	fprintf(stderr, "  message: %s\n", r.err.msg);
	CHECK_HAS(r.err.msg, "cannot verify the server certificate");
	CHECK_HAS(r.err.msg, "certificate-authority");
	e2e_result_release(&r);
	fed_rest_config_release(&cfg);
}

static void write_plugin(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return;
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
}

static void test_exec_plugin(void)
{
	struct fed_rest_config cfg;
	struct fed_kube_client *c = NULL;
	struct e2e_result r;
	char plugin[512], body[2048], count[512];
	char *calls;
	int i;

	snprintf(plugin, sizeof(plugin), "%s/plugin.sh", tmpdir);
	snprintf(count, sizeof(count), "%s/calls", tmpdir);
	snprintf(body, sizeof(body),
	         "echo x >> %s\n"
	         "cat <<EOF\n"
	         "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
	         "\"status\":{\"token\":\"%s\",\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}\n"
	         "EOF",
	         count, admin_token);
	write_plugin(plugin, body);
	CHECK_INT(no_cert(&cfg), 0);
	cfg.exec = calloc(1, sizeof(*cfg.exec));
	cfg.exec->api_version = strdup("client.authentication.k8s.io/v1");
	cfg.exec->command = strdup(plugin);
	cfg.exec->args = calloc(1, sizeof(char *));
	cfg.exec->env = calloc(1, sizeof(char *));
	for (i = 0; i < 3; i++) {
		CHECK_INT(probe(&cfg, &r, &c), 0);
		e2e_result_release(&r);
	}
	fed_kube_client_free(c);
	/* three requests, one plugin run: the credential is cached */
	calls = e2e_read_file(count);
	CHECK(calls != NULL);
	CHECK_INT(strlen(calls), 2);
	free(calls);

	/* a plugin that fails: its error, not a hang or a crash */
	write_plugin(plugin, "echo 'plugin: not logged in' >&2; exit 3");
	c = NULL;
	CHECK(probe(&cfg, &r, &c) != 0);
	fprintf(stderr, "  message: %s\n", r.err.msg);
	CHECK(strstr(r.err.msg, "3") != NULL);
	e2e_result_release(&r);
	fed_kube_client_free(c);
	fed_rest_config_release(&cfg);
}

int main(void)
{
	char path[1024];

	fed_log_setup(FED_LOG_WARN, false);
	loop = ev_default_loop(0);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fed-e2e-auth-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	snprintf(path, sizeof(path), "%s/member1/token", e2e_env("FED_E2E_STATE"));
	admin_token = e2e_read_file(path);
	if (!admin_token) {
		fprintf(stderr, "no admin token at %s\n", path);
		return 1;
	}
	admin_token[strcspn(admin_token, "\r\n")] = '\0';
	RUN(test_token);
	RUN(test_token_file_rotates);
	RUN(test_invalid_token);
	RUN(test_wrong_ca);
	RUN(test_exec_plugin);
	snprintf(path, sizeof(path), "rm -rf %s", tmpdir);
	if (system(path))
		return 1;
	free(admin_token);
	ev_loop_destroy(loop);
	return CHECK_EXIT();
}
