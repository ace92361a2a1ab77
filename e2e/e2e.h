/* Helpers for e2e tests: synchronous wrappers over the async client and
 * access to the clusters that e2e/local-clusters started. */
#ifndef FED_E2E_H
#define FED_E2E_H

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/kube.h"
#include "fed/log.h"

struct e2e_result {
	bool done;
	int status;
	struct fed_error err;
	cJSON *json; /* owned */
};

static void e2e_cb(struct fed_kube_response *resp, void *ud)
{
	struct e2e_result *r = ud;

	r->done = true;
	r->status = resp->status;
	r->err = resp->err;
	r->json = resp->json;
	resp->json = NULL;
}

static inline void e2e_result_release(struct e2e_result *r)
{
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

/* Run until r is done; returns r->err.code. */
static inline int e2e_wait(struct ev_loop *loop, struct e2e_result *r)
{
	if (fed_kube_wait(loop, &r->done, 60.0)) {
		fprintf(stderr, "  timed out waiting for a request\n");
		return FED_ETIMEOUT;
	}
	return r->err.code;
}

static inline const char *e2e_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		fprintf(stderr, "%s is not set: run through ctest (the e2e fixture sets it)\n",
		        name);
		exit(1);
	}
	return v;
}

static inline int e2e_load(struct fed_rest_config *cfg, const char *context)
{
	struct fed_error err = FED_ERROR_INIT;

	fed_rest_config_init(cfg);
	if (fed_rest_config_load(cfg, e2e_env("FED_E2E_KUBECONFIG"), context, &err)) {
		fprintf(stderr, "cannot load kubeconfig: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* e2e/local-clusters ACTION NAME on the fixture's state dir. */
static inline int e2e_clusters(const char *action, const char *name)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "%s %s --state-dir %s %s >&2", e2e_env("FED_LOCAL_CLUSTERS"),
	         action, e2e_env("FED_E2E_STATE"), name);
	return system(cmd);
}

static inline char *e2e_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = calloc(1, (size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static inline double e2e_now(void)
{
	return ev_time();
}

#endif
