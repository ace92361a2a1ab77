/* The kube client's exec credential plugin runs without blocking the loop
 * (issue 13): while a slow plugin runs, timers keep firing and the calls
 * wait for it; concurrent calls make one plugin run; a plugin that fails
 * fails the calls that waited, with its error. Both on the default loop
 * (ev_child) and on a loop of its own (a waitpid poll). The server is
 * 127.0.0.1:1, which refuses: a call that got its credential ends with a
 * connection error, not the plugin's. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "check.h"
#include "fed/kube.h"
#include "fed/log.h"

static char tmp[] = "/tmp/fed-test-kube-exec-XXXXXX";

struct ticker {
	ev_timer w;
	double last, max_gap;
	int n;
};

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ticker *t = (struct ticker *)w;
	double now = ev_time();

	if (now - t->last > t->max_gap)
		t->max_gap = now - t->last;
	t->last = now;
	t->n++;
}

struct result {
	int done;
	int codes[8];
	char msgs[8][FED_ERROR_MSG_MAX];
};

static void on_resp(struct fed_kube_response *resp, void *ud)
{
	struct result *r = ud;

	if (r->done < 8) {
		r->codes[r->done] = resp->err.code;
		snprintf(r->msgs[r->done], sizeof(r->msgs[0]), "%s", resp->err.msg);
	}
	r->done++;
}

static void write_plugin(const char *name, const char *body)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
}

static int count_runs(void)
{
	char path[512], line[64];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/runs", tmp);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		fclose(f);
	return n;
}

static struct fed_kube_client *client(struct ev_loop *loop, const char *plugin)
{
	struct fed_rest_config cfg;
	struct fed_kube_client *c = NULL;
	struct fed_error err = FED_ERROR_INIT;
	char path[512];

	fed_rest_config_init(&cfg);
	snprintf(path, sizeof(path), "%s/%s", tmp, plugin);
	cfg.server = strdup("http://127.0.0.1:1");
	cfg.user = strdup("slow");
	cfg.exec = calloc(1, sizeof(*cfg.exec));
	cfg.exec->api_version = strdup("client.authentication.k8s.io/v1");
	cfg.exec->command = strdup(path);
	cfg.exec->args = calloc(1, sizeof(char *));
	cfg.exec->env = calloc(1, sizeof(char *));
	if (fed_kube_client_new(&c, loop, &cfg, "m1", &err))
		fprintf(stderr, "  %s\n", err.msg);
	fed_rest_config_release(&cfg);
	return c;
}

static void run_slow(struct ev_loop *loop)
{
	struct fed_kube_request req = {.method = "GET", .path = "/version", .max_retries = 0};
	struct fed_error err = FED_ERROR_INIT;
	struct ticker t = {.last = 0};
	struct result r = {0};
	struct fed_kube_client *c;
	char path[512];
	double t0;
	int i;

	snprintf(path, sizeof(path), "%s/runs", tmp);
	unlink(path);
	c = client(loop, "slow.sh");
	CHECK(c != NULL);
	ev_timer_init(&t.w, tick_cb, 0.05, 0.05);
	ev_timer_start(loop, &t.w);
	t0 = t.last = ev_time(); /* a loop stuck from the start counts too */
	for (i = 0; i < 3; i++)
		CHECK_INT(fed_kube_request(c, &req, on_resp, &r, NULL, &err), 0);
	while (r.done < 3 && ev_time() - t0 < 20)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t.w);
	fed_kube_client_free(c);
	fprintf(stderr,
	        "  3 calls done in %.2f s; %d ticks, longest gap %.3f s; %d plugin run(s)\n",
	        ev_time() - t0, t.n, t.max_gap, count_runs());
	CHECK_INT(r.done, 3);
	/* the plugin sleeps 1.5 s: the calls waited for it ... */
	CHECK(ev_time() - t0 >= 1.4);
	/* ... and the loop did not */
	CHECK(t.max_gap < 0.5);
	CHECK(t.n >= 20);
	/* one run for three calls, each of which then reached the server */
	CHECK_INT(count_runs(), 1);
	for (i = 0; i < 3; i++)
		CHECK(r.codes[i] == FED_EUNAVAILABLE);
}

static void test_slow_plugin_default_loop(void)
{
	run_slow(ev_default_loop(0));
}

static void test_slow_plugin_own_loop(void)
{
	struct ev_loop *loop = ev_loop_new(0);

	run_slow(loop);
	ev_loop_destroy(loop);
}

static void test_failing_plugin(void)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct fed_kube_request req = {.method = "GET", .path = "/version", .max_retries = 0};
	struct fed_error err = FED_ERROR_INIT;
	struct result r = {0};
	struct fed_kube_client *c = client(loop, "fail.sh");
	double t0 = ev_time();
	int i;

	CHECK(c != NULL);
	for (i = 0; i < 2; i++)
		CHECK_INT(fed_kube_request(c, &req, on_resp, &r, NULL, &err), 0);
	while (r.done < 2 && ev_time() - t0 < 20)
		ev_run(loop, EVRUN_ONCE);
	fed_kube_client_free(c);
	CHECK_INT(r.done, 2);
	fprintf(stderr, "  message: %s\n", r.msgs[0]);
	for (i = 0; i < 2; i++) {
		CHECK(r.codes[i] != 0);
		CHECK(strstr(r.msgs[i], "exited with status 3") != NULL);
	}
	/* a plugin that is not there: the same, from the loop */
	c = client(loop, "missing.sh");
	r.done = 0;
	CHECK_INT(fed_kube_request(c, &req, on_resp, &r, NULL, &err), 0);
	while (r.done < 1 && ev_time() - t0 < 20)
		ev_run(loop, EVRUN_ONCE);
	fed_kube_client_free(c);
	CHECK_INT(r.done, 1);
	CHECK(strstr(r.msgs[0], "command not found") != NULL);
}

/* Freed while its plugin runs: the plugin is killed, no callback runs. */
static void test_free_while_running(void)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct fed_kube_request req = {.method = "GET", .path = "/version", .max_retries = 0};
	struct fed_error err = FED_ERROR_INIT;
	struct result r = {0};
	struct fed_kube_client *c = client(loop, "slow.sh");
	double t0 = ev_time();

	CHECK(c != NULL);
	CHECK_INT(fed_kube_request(c, &req, on_resp, &r, NULL, &err), 0);
	while (ev_time() - t0 < 0.3)
		ev_run(loop, EVRUN_NOWAIT);
	fed_kube_client_free(c);
	CHECK(ev_time() - t0 < 1.0);
	CHECK_INT(r.done, 0);
}

int main(void)
{
	char body[1024], cmd[600];

	fed_log_setup(FED_LOG_ERROR, false);
	if (!mkdtemp(tmp))
		return 1;
	snprintf(body, sizeof(body),
	         "echo run >> %s/runs\n"
	         "sleep 1.5\n"
	         "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
	         "\"ExecCredential\",\"status\":{\"token\":\"t0k3n\"}}'",
	         tmp);
	write_plugin("slow.sh", body);
	write_plugin("fail.sh", "echo 'not logged in' >&2; exit 3");
	RUN(test_slow_plugin_default_loop);
	RUN(test_slow_plugin_own_loop);
	RUN(test_failing_plugin);
	RUN(test_free_while_running);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd))
		return 1;
	return CHECK_EXIT();
}
