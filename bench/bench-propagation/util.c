/* bench-propagation's small helpers: dying (with the controller), running
 * the loop for a while or until a condition holds, synchronous calls,
 * percentiles, /proc figures and the controller's log. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

bool wake;

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench-propagation: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	bench_ctl_kill();
	exit(1);
}

double bench_now(void)
{
	return ev_time();
}

void bench_run_for(double s)
{
	bool never = false;

	if (s > 0)
		fed_kube_wait(loop, &never, s);
}

int bench_run_until(cond_fn cond, void *ud, double timeout, const char *what)
{
	double end = bench_now() + timeout;

	while (!cond(ud)) {
		bench_ctl_check_alive();
		if (bench_now() > end) {
			fprintf(stderr, "bench-propagation: timed out after %.0fs waiting for %s\n",
			        timeout, what);
			if (cond == bench_all_current)
				bench_report_not_current();
			return -1;
		}
		wake = false;
		fed_kube_wait(loop, &wake, 0.05);
	}
	return 0;
}

void bench_result_cb(struct fed_kube_response *resp, void *ud)
{
	struct result *r = ud;

	r->done = true;
	r->err = resp->err;
	r->json = resp->json;
	resp->json = NULL;
	wake = true;
}

int bench_wait_result(struct result *r)
{
	if (fed_kube_wait(loop, &r->done, 60))
		return FED_ETIMEOUT;
	return r->err.code;
}

int bench_sync_create(struct fed_kube_client *c, const struct fed_kube_resource *res,
                      const char *ns, const char *json)
{
	struct fed_kube_ref ref = {res, ns, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct result r = {false, FED_ERROR_INIT, NULL};
	cJSON *obj = cJSON_Parse(json);
	int ret;

	if (!obj)
		bench_die("bad JSON: %s", json);
	ret = fed_kube_create(c, &ref, obj, NULL, bench_result_cb, &r, NULL, &err);
	cJSON_Delete(obj);
	if (ret)
		bench_die("create on %s: %s", fed_kube_client_name(c), err.msg);
	ret = bench_wait_result(&r);
	cJSON_Delete(r.json);
	if (ret && ret != FED_EEXISTS)
		bench_die("create on %s: %s", fed_kube_client_name(c), r.err.msg);
	return 0;
}

int bench_sync_get(struct fed_kube_client *c, const struct fed_kube_resource *res, const char *ns,
                   const char *name)
{
	struct fed_kube_ref ref = {res, ns, name, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct result r = {false, FED_ERROR_INIT, NULL};
	int ret;

	if (fed_kube_get(c, &ref, bench_result_cb, &r, NULL, &err))
		return err.code;
	ret = bench_wait_result(&r);
	cJSON_Delete(r.json);
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* nearest-rank percentile of a sorted array */
static double pct(const double *v, int n, double q)
{
	int k = (int)ceil(q * n) - 1;

	if (n <= 0)
		return NAN;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

struct stats bench_summarize(double *v, int n)
{
	struct stats s = {NAN, NAN, NAN, NAN, NAN, NAN, n};
	double sum = 0;

	if (n <= 0)
		return s;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	for (int i = 0; i < n; i++)
		sum += v[i];
	s.p50 = pct(v, n, .50);
	s.p90 = pct(v, n, .90);
	s.p99 = pct(v, n, .99);
	s.min = v[0];
	s.max = v[n - 1];
	s.mean = sum / n;
	return s;
}

/* /proc/PID/status "Key:   N kB" in KiB, -1 if absent */
long bench_proc_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* CPU seconds (user + system) of a process */
double bench_proc_cpu(pid_t pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return NAN;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')))
		return NAN;
	/* fields after ")": state(3) ... utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return NAN;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* whole machine: busy and total jiffies */
void bench_machine_cpu(double *busy, double *total)
{
	unsigned long long v[10] = {0};
	FILE *f = fopen("/proc/stat", "r");

	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	           &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
		for (int i = 0; i < 8; i++)
			*total += (double)v[i];
		*busy = *total - (double)v[3] - (double)v[4];
	}
	fclose(f);
}

double bench_loadavg1(void)
{
	double l = NAN;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = NAN;
		fclose(f);
	}
	return l;
}

/* Lines of the current controller log holding both needles, minus those
 * holding `exclude`. */
long bench_count_log(const char *path, const char *a, const char *b, const char *exclude)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long n = 0;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0)
		if (strstr(line, a) && (!b || strstr(line, b)) &&
		    (!exclude || !strstr(line, exclude)))
			n++;
	free(line);
	fclose(f);
	return n;
}

/* "2026-11-23T17:11:38.122Z ..." -> seconds since the epoch */
static double log_time(const char *line)
{
	struct tm tm;
	int ms = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return NAN;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) + ms / 1e3;
}

/* Per object "prefix%04d": the latest time (over members) the controller
 * logged each step for it. */
void bench_log_steps(const char *path, const char *prefix, int n, double (*out)[STEPS])
{
	static const char *const marks[STEPS] = {": placing (", ": writing (", "] created "};
	FILE *f = fopen(path, "r");
	char *line = NULL, pat[64];
	size_t cap = 0, pl;

	for (int i = 0; i < n; i++)
		for (int k = 0; k < STEPS; k++)
			out[i][k] = NAN;
	if (!f)
		return;
	pl = (size_t)snprintf(pat, sizeof(pat), " %s/%s", FED_NS, prefix);
	while (getline(&line, &cap, f) > 0) {
		char *p = strstr(line, pat);
		int i;
		double t;
		if (!p || !isdigit((unsigned char)p[pl]))
			continue;
		i = atoi(p + pl);
		if (i < 0 || i >= n)
			continue;
		t = log_time(line);
		for (int k = 0; k < STEPS; k++)
			if (strstr(line, marks[k]) && (isnan(out[i][k]) || t > out[i][k]))
				out[i][k] = t;
	}
	free(line);
	fclose(f);
}
