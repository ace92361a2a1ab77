/* fed-agent, black box (build/bin/fed-agent run as a child), keeps the
 * proxy password out of its log (finding 9 of the security audit) and
 * hardens itself (finding 21): HTTPS_PROXY holds a password with a raw '@'
 * and points at a port where nothing listens; after a few attempts the
 * log must name the proxy 127.0.0.1:1 and hold no fragment of the
 * password (plain or base64); a malformed escape in the password gives a
 * generic error; and the running agent cannot dump core. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static char dir[PATH_MAX], agent_bin[PATH_MAX], cwd[PATH_MAX];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_file(const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		abort();
}

static char *slurp(const char *path)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* fed-agent with HTTPS_PROXY=url, its output in log; core dumps allowed
 * (up to the hard limit) before exec, so that only the agent's own
 * hardening can take them away */
static pid_t agent_start(const char *url, const char *log)
{
	char tok[PATH_MAX + 16], kc[PATH_MAX + 16], ca[PATH_MAX + 64];
	pid_t pid;

	snprintf(tok, sizeof(tok), "%s/token", dir);
	snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
	snprintf(ca, sizeof(ca), "%s/data/kubeconfig/ca.crt", cwd);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		struct rlimit rl;

		if (getrlimit(RLIMIT_CORE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_CORE, &rl);
		}
		dup2(fd, 1);
		dup2(fd, 2);
		setenv("HTTPS_PROXY", url, 1);
		unsetenv("https_proxy");
		unsetenv("NO_PROXY");
		unsetenv("no_proxy");
		execl(agent_bin, agent_bin, "--host-address", "tunnel.invalid:443",
		      "--host-ca-file", ca, "--bootstrap-token-file", tok, "--kubeconfig", kc,
		      "--max-backoff", "1", "--log-level", "trace", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void agent_stop(pid_t pid)
{
	if (pid > 0 && kill(pid, SIGKILL) == 0)
		waitpid(pid, NULL, 0);
}

/* until the log shows n retries, or 30 s, or the agent exits */
static bool wait_retries(pid_t pid, const char *log, int n)
{
	for (double end = now() + 30; now() < end && waitpid(pid, NULL, WNOHANG) == 0;
	     usleep(50000))
		if (count(slurp(log), "reconnecting in") >= n)
			return true;
	return false;
}

/* the password "S3cr@t-Pa55" in pieces, and base64 of "proxyuser:S3cr@t-Pa55" */
static const char *const fragments[] = {"S3cr", "t-Pa55", "Pa55",
                                        "3cr@", "@t-",    "cHJveHl1c2VyOlMzY3JAdC1QYTU1"};

static const char *leaked(const char *text)
{
	for (size_t i = 0; i < sizeof(fragments) / sizeof(fragments[0]); i++)
		if (strstr(text, fragments[i]))
			return fragments[i];
	return NULL;
}

static void test_password_with_at(void)
{
	char log[PATH_MAX + 16], limits[64], *text, *core;
	const char *f;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/agent-at.log", dir);
	pid = agent_start("http://proxyuser:S3cr@t-Pa55@127.0.0.1:1", log);
	CHECK(pid > 0);
	if (!wait_retries(pid, log, 3)) {
		agent_stop(pid);
		fprintf(stderr, "  no 3 retries in 30 s:\n%s\n", slurp(log));
		CHECK(0);
	}
	/* the running agent: no core dumps (soft and hard limit 0) */
	snprintf(limits, sizeof(limits), "/proc/%d/limits", (int)pid);
	core = strstr(slurp(limits), "Max core file size");
	agent_stop(pid);
	CHECK(core != NULL);
	if (strncmp(core + 26, "0                    0 ", 23)) {
		fprintf(stderr, "  %.80s\n", core);
		CHECK(0);
	}
	text = slurp(log);
	if ((f = leaked(text))) {
		fprintf(stderr, "  the log holds \"%s\" of the password:\n%s\n", f, text);
		CHECK(0);
	}
	/* it did try the proxy, by its host and port only */
	CHECK_HAS(text, "proxy 127.0.0.1:1");
}

static void test_malformed_escape(void)
{
	char log[PATH_MAX + 16], *text;
	const char *f;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/agent-bad.log", dir);
	pid = agent_start("http://proxyuser:S3cr%zz@t-Pa55@127.0.0.1:1", log);
	CHECK(pid > 0);
	if (!wait_retries(pid, log, 2)) {
		agent_stop(pid);
		fprintf(stderr, "  no 2 retries in 30 s:\n%s\n", slurp(log));
		CHECK(0);
	}
	agent_stop(pid);
	text = slurp(log);
	if ((f = leaked(text))) {
		fprintf(stderr, "  the log holds \"%s\" of the password:\n%s\n", f, text);
		CHECK(0);
	}
	CHECK_HAS(text, "HTTPS_PROXY");
	CHECK_HAS(text, "password");
}

int main(void)
{
	char self[PATH_MAX], cmd[PATH_MAX + 16], kc[2 * PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	signal(SIGPIPE, SIG_IGN);
	self[n > 0 ? n : 0] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(agent_bin, sizeof(agent_bin), "%.*s/../bin/fed-agent", PATH_MAX - 20, self);
	snprintf(dir, sizeof(dir), "/tmp/fed-test-agent-secrets-XXXXXX");
	if (!mkdtemp(dir) || !getcwd(cwd, sizeof(cwd)))
		abort();
	if (access(agent_bin, X_OK) != 0) {
		fprintf(stderr, "FAIL: %s not built\n", agent_bin);
		return 1;
	}
	write_file("token", "abcdef.0123456789abcdef\n");
	/* never reached: the tunnel is never up */
	snprintf(kc, sizeof(kc),
	         "apiVersion: v1\nkind: Config\ncurrent-context: m\n"
	         "clusters: [{name: m, cluster: {server: 'https://127.0.0.1:1', "
	         "certificate-authority: '%s/data/kubeconfig/ca.crt'}}]\n"
	         "users: [{name: m, user: {token: fake}}]\n"
	         "contexts: [{name: m, context: {cluster: m, user: m}}]\n",
	         cwd);
	write_file("kubeconfig", kc);
	RUN(test_password_with_at);
	RUN(test_malformed_escape);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (!check_failures)
		(void)!system(cmd);
	return CHECK_EXIT();
}
