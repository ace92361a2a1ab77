/* fed-agent's way out through an HTTP(S) CONNECT proxy, black box: the
 * built fed-agent runs as a child (build/bin/fed-agent, found next to this
 * test's own directory) against a hand-made proxy on 127.0.0.1 that this
 * process serves. Checked: each step (TCP connect, TLS to an https://
 * proxy, the CONNECT exchange) has one overall deadline, not one per byte;
 * SIGTERM ends the agent promptly while a proxy drips; the socket to the
 * proxy carries TCP keepalive and TCP_USER_TIMEOUT (read from the agent's
 * own socket with pidfd_getfd). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>

#include "check.h"

#define MAXC 8
static const char answer[] = "HTTP/1.1 200 Connection established\r\n\r\n";

static char dir[PATH_MAX], agent_bin[PATH_MAX];
/* every agent started, so that a failed case leaves none running */
static pid_t started[64];
static int nstarted;

enum mode { DRIP, SILENT };

struct proxy {
	int lfd, port;
	enum mode mode;
	int fds[MAXC], sent[MAXC], n, accepted;
	double next[MAXC];
	double first_accept;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int listen_on(int backlog, int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static void proxy_open(struct proxy *p, enum mode mode)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->lfd = listen_on(16, &p->port);
}

static void proxy_close(struct proxy *p)
{
	for (int i = 0; i < p->n; i++)
		close(p->fds[i]);
	close(p->lfd);
}

/* Serve for up to ms: accept, swallow what the agent sends, and in DRIP
 * mode give each connection one byte of a 200 answer per second. */
static void proxy_step(struct proxy *p, int ms)
{
	struct pollfd pf[MAXC + 1];
	char buf[4096];

	pf[0] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
	for (int i = 0; i < p->n; i++)
		pf[i + 1] = (struct pollfd){.fd = p->fds[i], .events = POLLIN};
	poll(pf, (nfds_t)p->n + 1, ms);
	if ((pf[0].revents & POLLIN) && p->n < MAXC) {
		int fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			if (!p->accepted++)
				p->first_accept = now();
			p->next[p->n] = now() + 1;
			p->sent[p->n] = 0;
			p->fds[p->n++] = fd;
		}
	}
	for (int i = 0; i < p->n; i++) {
		if (pf[i + 1].revents & POLLIN)
			(void)!recv(p->fds[i], buf, sizeof(buf), 0);
		if (p->mode == DRIP && now() >= p->next[i] &&
		    p->sent[i] < (int)sizeof(answer) - 1) {
			if (send(p->fds[i], answer + p->sent[i], 1, MSG_NOSIGNAL) == 1)
				p->sent[i]++;
			p->next[i] += 1;
		}
	}
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static void write_file(const char *name, const char *fmt, ...)
{
	char path[PATH_MAX + 64];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static void setup(void)
{
	char self[PATH_MAX], cwd[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	self[n > 0 ? n : 0] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(agent_bin, sizeof(agent_bin), "%.*s/../bin/fed-agent", PATH_MAX - 20, self);
	snprintf(dir, sizeof(dir), "/tmp/fed-test-agent-proxy-XXXXXX");
	if (!mkdtemp(dir) || !getcwd(cwd, sizeof(cwd)))
		abort();
	write_file("token", "abcdef.0123456789abcdef\n");
	/* never reached: the member apiserver is not part of these cases */
	write_file("kubeconfig",
	           "apiVersion: v1\nkind: Config\ncurrent-context: m\n"
	           "clusters: [{name: m, cluster: {server: 'https://127.0.0.1:1', "
	           "certificate-authority: '%s/data/kubeconfig/ca.crt'}}]\n"
	           "users: [{name: m, user: {token: fake}}]\n"
	           "contexts: [{name: m, context: {cluster: m, user: m}}]\n",
	           cwd);
}

struct agent_run {
	pid_t pid;
	char log[PATH_MAX + 32];
	double started;
};

/* fed-agent through proxy_url with the extra flags (NULL-terminated) */
static void agent_start(struct agent_run *r, const char *proxy_url, ...)
{
	const char *argv[32];
	int argc = 0;
	va_list ap;
	static int seq;
	char tok[PATH_MAX + 16], kc[PATH_MAX + 16];

	snprintf(r->log, sizeof(r->log), "%s/agent-%d.log", dir, ++seq);
	snprintf(tok, sizeof(tok), "%s/token", dir);
	snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
	argv[argc++] = agent_bin;
	argv[argc++] = "--host-address";
	argv[argc++] = "127.0.0.1:9";
	argv[argc++] = "--host-ca-file";
	argv[argc++] = "data/kubeconfig/ca.crt";
	argv[argc++] = "--bootstrap-token-file";
	argv[argc++] = tok;
	argv[argc++] = "--kubeconfig";
	argv[argc++] = kc;
	argv[argc++] = "--max-backoff";
	argv[argc++] = "1";
	argv[argc++] = "--log-level";
	argv[argc++] = "debug";
	va_start(ap, proxy_url);
	for (const char *s; (s = va_arg(ap, const char *)) && argc < 31;)
		argv[argc++] = s;
	va_end(ap);
	argv[argc] = NULL;
	r->started = now();
	r->pid = fork();
	if (r->pid > 0 && nstarted < 64)
		started[nstarted++] = r->pid;
	if (r->pid == 0) {
		int fd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		setenv("HTTPS_PROXY", proxy_url, 1);
		unsetenv("https_proxy");
		unsetenv("NO_PROXY");
		unsetenv("no_proxy");
		execv(agent_bin, (char *const *)argv);
		_exit(127);
	}
}

static bool agent_alive(struct agent_run *r)
{
	return r->pid > 0 && waitpid(r->pid, NULL, WNOHANG) == 0;
}

/* SIGTERM, then the exit status within limit s (-1: still running, killed) */
static int agent_stop(struct agent_run *r, double limit, double *took)
{
	double t0 = now();
	int st = 0;

	if (r->pid <= 0)
		return -1;
	kill(r->pid, SIGTERM);
	while (now() - t0 < limit) {
		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			*took = now() - t0;
			r->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(10000);
	}
	*took = now() - t0;
	kill(r->pid, SIGKILL);
	waitpid(r->pid, &st, 0);
	r->pid = 0;
	return -1;
}

/* serve p until the agent's log holds needle or limit s passed; the time
 * it took, or -1 */
static double serve_until(struct proxy *p, struct agent_run *r, const char *needle, double limit)
{
	double t0 = now();

	while (now() - t0 < limit) {
		if (strstr(slurp(r->log), needle))
			return now() - t0;
		if (!agent_alive(r))
			break;
		proxy_step(p, 20);
	}
	fprintf(stderr, "  agent log:\n%s", slurp(r->log));
	return -1;
}

/* A proxy that drips its 200 one byte a second is making progress all the
 * time: only an overall deadline for the CONNECT step (default 10 s) gives
 * up on it; then the agent retries. */
static void test_drip_connect_deadline(void)
{
	struct proxy p;
	struct agent_run r;
	char url[64];
	double t, took;

	proxy_open(&p, DRIP);
	CHECK(p.lfd >= 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", p.port);
	agent_start(&r, url, NULL);
	t = serve_until(&p, &r, "CONNECT response", 25);
	fprintf(stderr, "  gave up %.1f s after the first accept, %d bytes dripped\n",
	        now() - p.first_accept, p.sent[0]);
	CHECK(t >= 0);
	CHECK(p.accepted >= 1);
	t = now() - p.first_accept;
	CHECK(t >= 9.5 && t <= 11.5);
	CHECK_HAS(slurp(r.log), "no complete CONNECT response within 10 s");
	/* and tries again with its usual backoff (--max-backoff 1) */
	CHECK(serve_until(&p, &r, "reconnecting in", 3) >= 0);
	while (p.accepted < 2 && now() - p.first_accept < 14)
		proxy_step(&p, 20);
	CHECK(p.accepted >= 2);
	CHECK_INT(agent_stop(&r, 5, &took), 0);
	proxy_close(&p);
}

/* SIGTERM while the proxy drips ends the agent at once, cleanly */
static void test_sigterm_during_drip(void)
{
	struct proxy p;
	struct agent_run r;
	char url[64];
	double took = 0;
	int rc;

	proxy_open(&p, DRIP);
	CHECK(p.lfd >= 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", p.port);
	agent_start(&r, url, NULL);
	while (now() - r.started < 10 && (p.n < 1 || p.sent[0] < 3) && agent_alive(&r))
		proxy_step(&p, 20);
	CHECK(p.n >= 1 && p.sent[0] >= 3);
	rc = agent_stop(&r, 5, &took);
	fprintf(stderr, "  exit %d %.2f s after SIGTERM\n", rc, took);
	CHECK_INT(rc, 0);
	CHECK(took < 1.5);
	CHECK_HAS(slurp(r.log), "shutting down");
	proxy_close(&p);
}

/* An https:// proxy that accepts and never speaks TLS: the TLS step's
 * deadline (--proxy-step-timeout 2) */
static void test_tls_step_deadline(void)
{
	struct proxy p;
	struct agent_run r;
	char url[64], want[128];
	double t, took;

	proxy_open(&p, SILENT);
	CHECK(p.lfd >= 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", p.port);
	snprintf(want, sizeof(want), "proxy 127.0.0.1:%d: no TLS handshake within 2 s", p.port);
	agent_start(&r, url, "--proxy-ca-file", "data/kubeconfig/ca.crt", "--proxy-step-timeout",
	            "2", NULL);
	t = serve_until(&p, &r, want, 10);
	CHECK(t >= 0);
	t = now() - p.first_accept;
	fprintf(stderr, "  gave up the TLS step %.2f s after the accept\n", t);
	CHECK(t >= 1.8 && t <= 3.5);
	CHECK_INT(agent_stop(&r, 5, &took), 0);
	proxy_close(&p);
}

/* A proxy whose accept queue is full drops the SYNs: the TCP step's
 * deadline */
static void test_tcp_step_deadline(void)
{
	struct proxy p = {0};
	struct agent_run r;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char url[64], want[128];
	int filler;
	double t, took;

	p.lfd = listen_on(0, &p.port);
	CHECK(p.lfd >= 0);
	sa.sin_port = htons((uint16_t)p.port);
	filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(connect(filler, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", p.port);
	snprintf(want, sizeof(want), "proxy 127.0.0.1:%d: no TCP connection within 2 s", p.port);
	agent_start(&r, url, "--proxy-step-timeout", "2", NULL);
	t = 0;
	while (now() - r.started < 10 && !strstr(slurp(r.log), want) && agent_alive(&r))
		usleep(20000);
	t = now() - r.started;
	fprintf(stderr, "  gave up the TCP step %.2f s after the start\n", t);
	CHECK_HAS(slurp(r.log), want);
	CHECK(t >= 1.8 && t <= 4);
	CHECK_INT(agent_stop(&r, 5, &took), 0);
	close(filler);
	close(p.lfd);
}

/* The agent's socket behind the proxy's accepted connection fd, copied
 * into this process (pidfd_getfd), or -1 */
static int agent_socket(pid_t pid, int accepted)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	char line[512], want[64], path[64], link[64], target[64];
	unsigned long inode = 0;
	FILE *f;
	DIR *d;
	struct dirent *e;
	int pidfd, fd = -1;

	if (getpeername(accepted, (struct sockaddr *)&peer, &len) < 0)
		return -1;
	snprintf(want, sizeof(want), "0100007F:%04X", ntohs(peer.sin_port));
	f = fopen("/proc/net/tcp", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char local[64];
		unsigned long ino;

		if (sscanf(line, "%*d: %63s %*s %*s %*s %*s %*s %*s %*s %lu", local, &ino) == 2 &&
		    !strcmp(local, want))
			inode = ino;
	}
	if (f)
		fclose(f);
	snprintf(target, sizeof(target), "socket:[%lu]", inode);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	while (inode && d && pidfd >= 0 && (e = readdir(d))) {
		char p2[320];
		ssize_t n;

		snprintf(p2, sizeof(p2), "%s/%s", path, e->d_name);
		n = readlink(p2, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strcmp(link, target)) {
			fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
			break;
		}
	}
	if (d)
		closedir(d);
	if (pidfd >= 0)
		close(pidfd);
	return fd;
}

static int sockopt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	getsockopt(fd, level, name, &v, &len);
	return v;
}

static void check_keepalive(const char *const flags[4], int idle, int intvl, int cnt, int uto)
{
	struct proxy p;
	struct agent_run r;
	char url[64];
	double took;
	int fd;

	proxy_open(&p, SILENT);
	CHECK(p.lfd >= 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", p.port);
	if (flags)
		agent_start(&r, url, "--tcp-keepalive-idle", flags[0], "--tcp-keepalive-interval",
		            flags[1], "--tcp-keepalive-count", flags[2], "--tcp-user-timeout",
		            flags[3], NULL);
	else
		agent_start(&r, url, NULL);
	while (now() - r.started < 10 && p.n < 1 && agent_alive(&r))
		proxy_step(&p, 20);
	CHECK(p.n >= 1);
	fd = agent_socket(r.pid, p.fds[0]);
	CHECK(fd >= 0);
	fprintf(stderr, "  keepalive %d idle %d intvl %d cnt %d user timeout %d ms\n",
	        sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE),
	        sockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL), sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT),
	        sockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
	CHECK_INT(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
	CHECK_INT(sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE), idle);
	CHECK_INT(sockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL), intvl);
	CHECK_INT(sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT), cnt);
	CHECK_INT(sockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), uto);
	close(fd);
	CHECK_INT(agent_stop(&r, 5, &took), 0);
	proxy_close(&p);
}

static void test_keepalive_defaults(void)
{
	check_keepalive(NULL, 30, 10, 3, 60000);
}

static void test_keepalive_flags(void)
{
	const char *const flags[4] = {"7", "2", "5", "20"};

	check_keepalive(flags, 7, 2, 5, 20000);
}

/* out-of-range values are refused at start */
static void test_bad_flags(void)
{
	const char *bad[][2] = {{"--proxy-step-timeout", "0"},
	                        {"--tcp-keepalive-idle", "0"},
	                        {"--tcp-keepalive-count", "-1"},
	                        {"--tcp-user-timeout", "-5"}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct agent_run r;
		int st = 0;

		agent_start(&r, "http://127.0.0.1:9", bad[i][0], bad[i][1], NULL);
		waitpid(r.pid, &st, 0);
		CHECK(WIFEXITED(st));
		CHECK_INT(WEXITSTATUS(st), 2);
		CHECK_HAS(slurp(r.log), bad[i][0]);
	}
}

int main(void)
{
	char cmd[PATH_MAX + 16];

	signal(SIGPIPE, SIG_IGN);
	setup();
	if (access(agent_bin, X_OK) != 0) {
		fprintf(stderr, "FAIL: %s not built\n", agent_bin);
		return 1;
	}
	RUN(test_drip_connect_deadline);
	RUN(test_sigterm_during_drip);
	RUN(test_tls_step_deadline);
	RUN(test_tcp_step_deadline);
	RUN(test_keepalive_defaults);
	RUN(test_keepalive_flags);
	RUN(test_bad_flags);
	for (int i = 0; i < nstarted; i++)
		if (kill(started[i], SIGKILL) == 0)
			waitpid(started[i], NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (!check_failures)
		(void)!system(cmd);
	return CHECK_EXIT();
}
