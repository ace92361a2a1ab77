/* The fed-controller process bench-propagation runs: started with its
 * log in the work dir, stopped with SIGTERM (SIGKILL after 10 s), checked
 * for an early exit; counts of its member writes and deletes from the log. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

pid_t cpid;
static int incarnation;
char ctl_log[PATH_MAX];
double t_exec;

void bench_ctl_kill(void)
{
	int st;

	if (cpid > 0) {
		kill(cpid, SIGKILL);
		waitpid(cpid, &st, 0);
		cpid = 0;
	}
}

void bench_ctl_start(void)
{
	char pidfile[PATH_MAX];
	FILE *f;
	int fd;

	incarnation++;
	snprintf(ctl_log, sizeof(ctl_log), "%s/controller-%d.log", opt.workdir, incarnation);
	fd = open(ctl_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		bench_die("%s: %s", ctl_log, strerror(errno));
	t_exec = bench_now();
	cpid = fork();
	if (cpid < 0)
		bench_die("fork: %s", strerror(errno));
	if (cpid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		execl(opt.controller, opt.controller, "--kubeconfig", opt.kubeconfig, "--context",
		      "host", "--client-ip", "127.0.0.1", "--leader-elect=false",
		      "--metrics-address", "127.0.0.1:0", "--log-level", "debug", (char *)NULL);
		_exit(127);
	}
	close(fd);
	snprintf(pidfile, sizeof(pidfile), "%s/controller.pid", opt.workdir);
	if ((f = fopen(pidfile, "w"))) {
		fprintf(f, "%d\n", (int)cpid);
		fclose(f);
	}
}

void bench_ctl_stop(void)
{
	int st;
	double end = bench_now() + 10;

	if (cpid <= 0)
		return;
	kill(cpid, SIGTERM);
	while (waitpid(cpid, &st, WNOHANG) == 0) {
		if (bench_now() > end) {
			fprintf(stderr,
			        "bench-propagation: controller ignored SIGTERM, killing it\n");
			kill(cpid, SIGKILL);
			waitpid(cpid, &st, 0);
			break;
		}
		bench_run_for(0.02);
	}
	cpid = 0;
}

void bench_ctl_check_alive(void)
{
	int st;

	if (cpid > 0 && waitpid(cpid, &st, WNOHANG) == cpid) {
		cpid = 0;
		bench_die("fed-controller exited (status %d); see %s", st, ctl_log);
	}
}

bool bench_ns_everywhere(void *ud)
{
	static double next;

	bench_ctl_check_alive();
	if (bench_now() < next)
		return false;
	next = bench_now() + 0.2;
	for (int m = 0; m < N; m++)
		if (bench_sync_get(mc[m], &r_ns, NULL, FED_NS))
			return false;
	return true;
}

long bench_writes(const char *exclude)
{
	return bench_count_log(ctl_log, ": writing (", " " FED_NS "/", exclude);
}

long bench_deletes(const char *exclude)
{
	return bench_count_log(ctl_log, "] deleted ", " " FED_NS "/", exclude);
}
