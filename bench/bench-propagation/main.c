/* Propagation bench (issue #4 item 6): fed-controller against real
 * apiservers, each figure next to a floor measured in the same run, with
 * the same objects written straight to the members by libfed.
 *
 *  (a) latency: host create returned -> object in every member, one
 *      FederatedConfigMap at a time at a steady rate; floor: the ConfigMap
 *      written to all members in parallel, issue -> seen in every member
 *  (b) convergence: 1,000 FederatedConfigMaps + 200 FederatedDeployments
 *      created on the host as fast as the client allows, until every member
 *      has every object; floor: the same objects written to every member
 *  (d) controller RSS after (b)
 *  (e) restarts with everything in sync: member writes (want 0), status
 *      writes, time until caught up; and a restart after a no-op spec change
 *      (placement {} -> the same clusters by name) made while it was down:
 *      member writes (want 0) and time until every status is current again
 *  (f) drift: member copies patched directly, time until restored (an
 *      edit not restored within --drift-wait counts as that wait)
 *
 * Members are observed by informers (libfed) in this process: label
 * kubefed.io/managed=true in namespace bench-fed for the federated runs,
 * the unlabelled objects in namespace bench-floor for the floor runs.
 * Every timed client uses libfed's defaults (qps 50, burst 100, 32 in
 * flight), the same as fed-controller's member and host clients; only the
 * untimed set-up patches of (e) go through a faster client.
 *
 * Run through bench/propagation, which starts the clusters, installs the
 * manifests and the Federation config and passes the arguments below. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "fed/informer.h"
#include "fed/kube.h"
#include "fed/kubeconfig.h"
#include "fed/log.h"
#include "fed/map.h"

#define MAXM     32
#define FED_NS   "bench-fed"
#define FLOOR_NS "bench-floor"

static const struct fed_kube_resource r_ns = {"", "v1", "namespaces", false};
static const struct fed_kube_resource r_cm = {"", "v1", "configmaps", true};
static const struct fed_kube_resource r_dep = {"apps", "v1", "deployments", true};
static const struct fed_kube_resource r_fns = {"types.kubefed.io", "v1beta1", "federatednamespaces",
                                               true};
static const struct fed_kube_resource r_fcm = {"types.kubefed.io", "v1beta1", "federatedconfigmaps",
                                               true};
static const struct fed_kube_resource r_fdep = {"types.kubefed.io", "v1beta1",
                                                "federateddeployments", true};

/* ---- options ------------------------------------------------------------ */

static struct {
	const char *kubeconfig, *controller, *workdir, *json_out;
	int members, lat_n, conv_cm, conv_dep, drift_n;
	double lat_interval, drift_interval, drift_wait, timeout;
	bool floor_apply; /* the floor writes by server-side apply, as fed does, not POST */
} opt = {NULL, NULL, NULL, NULL, 3, 200, 1000, 200, 50, 0.1, 0.2, 5, 600, false};

/* ---- state ---------------------------------------------------------------- */

static struct ev_loop *loop;
static struct fed_kube_client *host, *hostfast, *mc[MAXM];
static char mname[MAXM][32];
static int N;
static bool wake;
static int write_failures;

/* One object expected in every member. */
struct track {
	double t_issue; /* create issued */
	double t_ack;   /* host create returned (fed) / last member create returned (floor) */
	int acked, want_acks;
	int seen;      /* members where it appeared */
	double t_seen; /* when it appeared in the last of them */
	unsigned char seen_by[MAXM];
};

struct tracker {
	struct fed_map objs; /* name -> struct track * */
	size_t complete;     /* seen in every member */
};
static struct tracker T_FED, T_FLOOR;

/* Status of the federated objects on the host (name -> 1 when current). */
static struct {
	struct fed_map cur;
	size_t n_current;
	unsigned long updates;       /* update events on the host objects (status writes etc.) */
	unsigned long updates_other; /* ... on objects whose name does not start with "probe-" */
	double last_event;           /* when the host last sent an event on them */
} S;
static struct fed_informer *h_fcm, *h_fdep;

/* Member informers: [member][0..3] = fed cm, fed deploy, floor cm, floor deploy. */
struct ictx {
	struct tracker *t;
	int m;
	bool fed_cm;
};
static struct fed_informer *minf[MAXM][4];
static struct ictx ictx[MAXM][4];

/* Drift: the edit being waited for. */
static struct {
	bool active, seen_edit, restored;
	int m;
	char name[64];
	char want[32], edit[32];
	unsigned long long rv; /* of our edit, as its watch event showed it */
	double t_ack, t_restored;
} D;

/* The controller process. */
static pid_t cpid;
static int incarnation;
static char ctl_log[PATH_MAX];
static double t_exec;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void ctl_check_alive(void);

static void ctl_kill(void)
{
	int st;

	if (cpid > 0) {
		kill(cpid, SIGKILL);
		waitpid(cpid, &st, 0);
		cpid = 0;
	}
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench-propagation: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ctl_kill();
	exit(1);
}

static double now(void)
{
	return ev_time();
}

/* ---- small helpers --------------------------------------------------------- */

static void run_for(double s)
{
	bool never = false;

	if (s > 0)
		fed_kube_wait(loop, &never, s);
}

typedef bool (*cond_fn)(void *);

static bool all_current(void *ud);
static void report_not_current(void);
static long not_current(char *why, size_t n, bool print);

static int run_until(cond_fn cond, void *ud, double timeout, const char *what)
{
	double end = now() + timeout;

	while (!cond(ud)) {
		ctl_check_alive();
		if (now() > end) {
			fprintf(stderr, "bench-propagation: timed out after %.0fs waiting for %s\n",
			        timeout, what);
			if (cond == all_current)
				report_not_current();
			return -1;
		}
		wake = false;
		fed_kube_wait(loop, &wake, 0.05);
	}
	return 0;
}

struct result {
	bool done;
	struct fed_error err;
	cJSON *json;
};

static void result_cb(struct fed_kube_response *resp, void *ud)
{
	struct result *r = ud;

	r->done = true;
	r->err = resp->err;
	r->json = resp->json;
	resp->json = NULL;
	wake = true;
}

static int wait_result(struct result *r)
{
	if (fed_kube_wait(loop, &r->done, 60))
		return FED_ETIMEOUT;
	return r->err.code;
}

static int sync_create(struct fed_kube_client *c, const struct fed_kube_resource *res,
                       const char *ns, const char *json)
{
	struct fed_kube_ref ref = {res, ns, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct result r = {false, FED_ERROR_INIT, NULL};
	cJSON *obj = cJSON_Parse(json);
	int ret;

	if (!obj)
		die("bad JSON: %s", json);
	ret = fed_kube_create(c, &ref, obj, NULL, result_cb, &r, NULL, &err);
	cJSON_Delete(obj);
	if (ret)
		die("create on %s: %s", fed_kube_client_name(c), err.msg);
	ret = wait_result(&r);
	cJSON_Delete(r.json);
	if (ret && ret != FED_EEXISTS)
		die("create on %s: %s", fed_kube_client_name(c), r.err.msg);
	return 0;
}

static int sync_get(struct fed_kube_client *c, const struct fed_kube_resource *res, const char *ns,
                    const char *name)
{
	struct fed_kube_ref ref = {res, ns, name, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct result r = {false, FED_ERROR_INIT, NULL};
	int ret;

	if (fed_kube_get(c, &ref, result_cb, &r, NULL, &err))
		return err.code;
	ret = wait_result(&r);
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

struct stats {
	double p50, p90, p99, min, max, mean;
	int n;
};

static struct stats summarize(double *v, int n)
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
static long proc_status_kib(pid_t pid, const char *key)
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
static double proc_cpu(pid_t pid)
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
static void machine_cpu(double *busy, double *total)
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

static double loadavg1(void)
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
static long count_log(const char *path, const char *a, const char *b, const char *exclude)
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
enum { STEP_LOOKUP, STEP_WRITE, STEP_CREATED, STEPS };
static void log_steps(const char *path, const char *prefix, int n, double (*out)[STEPS])
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

/* ---- objects ----------------------------------------------------------- */

static char payload[257];

static void make_payload(void)
{
	unsigned x = 2463534242u;

	for (int i = 0; i < 256; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		payload[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[x % 36];
	}
	payload[256] = '\0';
}

static cJSON *cm_obj(const char *name, int idx, bool fed)
{
	char buf[1024];

	if (fed)
		snprintf(
		    buf, sizeof(buf),
		    "{\"apiVersion\":\"types.kubefed.io/v1beta1\",\"kind\":\"FederatedConfigMap\","
		    "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"template\":{\"data\":{\"index\":"
		    "\"%d\",\"payload\":\"%s\"}},\"placement\":{\"clusterSelector\":{}}}}",
		    name, idx, payload);
	else
		snprintf(
		    buf, sizeof(buf),
		    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"},"
		    "\"data\":{\"index\":\"%d\",\"payload\":\"%s\"}}",
		    name, idx, payload);
	return cJSON_Parse(buf);
}

static cJSON *dep_obj(const char *name, int idx, bool fed)
{
	char spec[1024], buf[1536];

	snprintf(spec, sizeof(spec),
	         "{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},\"template\":{"
	         "\"metadata\":{\"labels\":{\"app\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":"
	         "\"app\",\"image\":\"registry.k8s.io/pause:3.10\",\"env\":[{\"name\":\"INDEX\","
	         "\"value\":\"%d\"}]}]}}}",
	         name, name, idx);
	if (fed)
		snprintf(
		    buf, sizeof(buf),
		    "{\"apiVersion\":\"types.kubefed.io/v1beta1\",\"kind\":\"FederatedDeployment\","
		    "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"template\":{\"spec\":%s},"
		    "\"placement\":{\"clusterSelector\":{}}}}",
		    name, spec);
	else
		snprintf(
		    buf, sizeof(buf),
		    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
		    "\"%s\"},\"spec\":%s}",
		    name, spec);
	return cJSON_Parse(buf);
}

/* ---- tracking ---------------------------------------------------------- */

static struct track *track_new(struct tracker *t, const char *name)
{
	struct track *k = calloc(1, sizeof(*k));

	if (!k || fed_map_put(&t->objs, name, k, NULL))
		die("out of memory");
	k->want_acks = t == &T_FED ? 1 : N;
	return k;
}

static void seen(struct tracker *t, int m, const cJSON *obj)
{
	struct track *k = fed_map_get(&t->objs, fed_obj_name(obj));

	if (!k || k->seen_by[m])
		return;
	k->seen_by[m] = 1;
	if (++k->seen == N) {
		k->t_seen = now();
		t->complete++;
		wake = true;
	}
}

static unsigned long long rv_num(const cJSON *obj)
{
	const char *rv = fed_obj_resource_version(obj);

	return rv ? strtoull(rv, NULL, 10) : 0;
}

static void m_add(const cJSON *obj, void *ud)
{
	struct ictx *c = ud;

	seen(c->t, c->m, obj);
}

static void m_update(const cJSON *old, const cJSON *obj, void *ud)
{
	struct ictx *c = ud;
	const char *v;

	seen(c->t, c->m, obj);
	if (!c->fed_cm || !D.active || D.restored || c->m != D.m ||
	    strcmp(fed_obj_name(obj), D.name))
		return;
	v = fed_obj_str(obj, "data.index");
	if (v && !strcmp(v, D.edit)) {
		D.seen_edit = true;
		D.rv = rv_num(obj);
	} else if (D.seen_edit && rv_num(obj) > D.rv && v && !strcmp(v, D.want)) {
		D.restored = true;
		D.t_restored = now();
		wake = true;
	}
}

static bool status_current(const cJSON *obj)
{
	const cJSON *st = cJSON_GetObjectItem(obj, "status"), *c;
	const cJSON *gen = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "generation");
	const cJSON *og = cJSON_GetObjectItem(st, "observedGeneration");
	bool prop = false;
	int n = 0;

	if (!cJSON_IsNumber(gen) || !cJSON_IsNumber(og) || gen->valuedouble != og->valuedouble)
		return false;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(st, "conditions"))
	{
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(c, "type"));
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(c, "status"));
		if (type && !strcmp(type, "Propagation"))
			prop = s && !strcmp(s, "True");
	}
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(st, "clusters"))
	{
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(c, "status"));
		if (s && *s)
			return false;
		n++;
	}
	return prop && n == N;
}

static void h_set(const cJSON *obj, bool is_update)
{
	const char *name = fed_obj_name(obj);
	bool was = fed_map_get(&S.cur, name) != NULL, is = status_current(obj);

	if (is_update) {
		S.updates++;
		if (strncmp(name, "probe-", 6))
			S.updates_other++;
	}
	S.last_event = now();
	if (was && !is) {
		fed_map_del(&S.cur, name);
		S.n_current--;
	} else if (!was && is) {
		fed_map_put(&S.cur, name, (void *)1, NULL);
		S.n_current++;
	}
	wake = true;
}

static void h_add(const cJSON *obj, void *ud)
{
	h_set(obj, false);
}

static void h_update(const cJSON *old, const cJSON *obj, void *ud)
{
	h_set(obj, true);
}

static size_t host_total(void)
{
	return fed_informer_count(h_fcm) + fed_informer_count(h_fdep);
}

static bool all_current(void *ud)
{
	size_t want = (size_t)(uintptr_t)ud;

	return host_total() >= want && S.n_current == host_total();
}

/* Which federated objects are not current (after a timeout). */
static void report_not_current(void)
{
	char why[512];
	long n = not_current(why, sizeof(why), true);

	fprintf(stderr, "  %ld of %zu federated objects not current\n", n, host_total());
}

/* every status current, or nothing changed on the host for `stall` s */
static bool current_or_stalled(void *ud)
{
	double stall = *(double *)ud;

	return all_current((void *)(uintptr_t)0) || now() - S.last_event > stall;
}

/* 0 when every status became current, -1 when they stalled (or took
 * longer than `max` s) */
static int wait_current(double stall, double max, const char *what)
{
	if (run_until(current_or_stalled, &stall, max, what) ||
	    !all_current((void *)(uintptr_t)0)) {
		fprintf(stderr,
		        "bench-propagation: %s: statuses stopped changing before all were "
		        "current\n",
		        what);
		report_not_current();
		return -1;
	}
	return 0;
}

static bool none_current(void *ud)
{
	return S.n_current == 0;
}

static struct fed_informer *informer(struct fed_kube_client *c, const struct fed_kube_resource *r,
                                     const char *ns, const char *label,
                                     struct fed_informer_handlers h, void *ud)
{
	struct fed_informer_opts o;
	struct fed_informer *inf;
	struct fed_error err = FED_ERROR_INIT;

	memset(&o, 0, sizeof(o));
	o.resource = *r;
	o.namespace = ns;
	o.label_selector = label;
	o.handlers = h;
	o.ud = ud;
	if (fed_informer_new(&inf, c, &o, &err))
		die("informer: %s", err.msg);
	fed_informer_start(inf);
	return inf;
}

static bool informers_synced(void *ud)
{
	for (int m = 0; m < N; m++)
		for (int k = 0; k < 4; k++)
			if (!fed_informer_synced(minf[m][k]))
				return false;
	return fed_informer_synced(h_fcm) && fed_informer_synced(h_fdep);
}

/* ---- writes ------------------------------------------------------------- */

static void note_failure(struct fed_kube_response *resp, const char *what)
{
	if (++write_failures <= 5)
		fprintf(stderr, "bench-propagation: %s: %s\n", what, resp->err.msg);
}

static void fed_create_cb(struct fed_kube_response *resp, void *ud)
{
	struct track *k = ud;

	if (resp->err.code)
		note_failure(resp, "host create");
	k->t_ack = now();
	k->acked = 1;
	wake = true;
}

static void floor_create_cb(struct fed_kube_response *resp, void *ud)
{
	struct track *k = ud;

	if (resp->err.code)
		note_failure(resp, "member create");
	if (++k->acked == N)
		k->t_ack = now();
	wake = true;
}

static struct track *create_fed(const char *name, bool dep, int idx)
{
	struct fed_kube_ref ref = {dep ? &r_fdep : &r_fcm, FED_NS, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct track *k = track_new(&T_FED, name);
	cJSON *obj = dep ? dep_obj(name, idx, true) : cm_obj(name, idx, true);

	k->t_issue = now();
	if (!obj || fed_kube_create(host, &ref, obj, NULL, fed_create_cb, k, NULL, &err))
		die("create %s: %s", name, err.msg);
	cJSON_Delete(obj);
	return k;
}

static struct track *create_floor(const char *name, bool dep, int idx)
{
	struct fed_kube_ref ref = {dep ? &r_dep : &r_cm, FLOOR_NS, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct track *k = track_new(&T_FLOOR, name);
	cJSON *obj = dep ? dep_obj(name, idx, false) : cm_obj(name, idx, false);

	struct fed_kube_write_opts wo = {"bench-floor", true, false};
	char *body = NULL;

	if (opt.floor_apply && obj) {
		ref.name = name;
		body = cJSON_PrintUnformatted(obj);
	}
	k->t_issue = now();
	for (int m = 0; m < N; m++)
		if (!obj ||
		    (opt.floor_apply
		         ? !body || fed_kube_patch(mc[m], &ref, FED_PATCH_APPLY, body, &wo,
		                                   floor_create_cb, k, NULL, &err)
		         : fed_kube_create(mc[m], &ref, obj, NULL, floor_create_cb, k, NULL, &err)))
			die("create %s on %s: %s", name, mname[m], err.msg);
	free(body);
	cJSON_Delete(obj);
	return k;
}

static bool track_done(void *ud)
{
	struct track *k = ud;

	return k->seen == N && k->acked >= k->want_acks;
}

struct count_goal {
	struct tracker *t;
	size_t want;
};

static bool tracker_reached(void *ud)
{
	struct count_goal *g = ud;

	return g->t->complete >= g->want;
}

/* Where a set of objects is still missing (after a timeout). */
static void report_missing(struct tracker *t)
{
	struct fed_map_iter it;
	struct fed_map_entry *e;
	int missing[MAXM] = {0}, shown = 0;

	for (e = fed_map_first(&t->objs, &it); e; e = fed_map_next(&t->objs, &it)) {
		struct track *k = e->value;
		for (int m = 0; m < N; m++)
			if (!k->seen_by[m]) {
				missing[m]++;
				if (shown++ < 5)
					fprintf(stderr, "  missing: %s in %s\n", e->key, mname[m]);
			}
	}
	for (int m = 0; m < N; m++)
		fprintf(stderr, "  %s: %d missing\n", mname[m], missing[m]);
}

/* ---- the controller ----------------------------------------------------- */

static void ctl_start(void)
{
	char pidfile[PATH_MAX];
	FILE *f;
	int fd;

	incarnation++;
	snprintf(ctl_log, sizeof(ctl_log), "%s/controller-%d.log", opt.workdir, incarnation);
	fd = open(ctl_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("%s: %s", ctl_log, strerror(errno));
	t_exec = now();
	cpid = fork();
	if (cpid < 0)
		die("fork: %s", strerror(errno));
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

static void ctl_stop(void)
{
	int st;
	double end = now() + 10;

	if (cpid <= 0)
		return;
	kill(cpid, SIGTERM);
	while (waitpid(cpid, &st, WNOHANG) == 0) {
		if (now() > end) {
			fprintf(stderr,
			        "bench-propagation: controller ignored SIGTERM, killing it\n");
			kill(cpid, SIGKILL);
			waitpid(cpid, &st, 0);
			break;
		}
		run_for(0.02);
	}
	cpid = 0;
}

static void ctl_check_alive(void)
{
	int st;

	if (cpid > 0 && waitpid(cpid, &st, WNOHANG) == cpid) {
		cpid = 0;
		die("fed-controller exited (status %d); see %s", st, ctl_log);
	}
}

static bool ns_everywhere(void *ud)
{
	static double next;

	ctl_check_alive();
	if (now() < next)
		return false;
	next = now() + 0.2;
	for (int m = 0; m < N; m++)
		if (sync_get(mc[m], &r_ns, NULL, FED_NS))
			return false;
	return true;
}

static long writes(const char *exclude)
{
	return count_log(ctl_log, ": writing (", " " FED_NS "/", exclude);
}

/* ---- phases ------------------------------------------------------------- */

struct lat_result {
	double *obs, *ack; /* ms */
	int n;
	struct stats s, s_ack, s_ok; /* s_ok: drift edits that were corrected */
	struct stats stage[4];       /* fed (a): from the controller log, see latency() */
	double wall;
};

/* (a) one object at a time, a new one every lat_interval (or as soon as
 * the last is everywhere, if that takes longer). */
static void latency(bool fed, struct lat_result *res)
{
	double t0 = now(), next = t0;
	char name[64];

	res->n = opt.lat_n;
	res->obs = calloc((size_t)opt.lat_n, sizeof(double));
	res->ack = calloc((size_t)opt.lat_n, sizeof(double));
	for (int i = 0; i < opt.lat_n; i++) {
		struct track *k;
		run_for(next - now());
		next += opt.lat_interval;
		if (next < now())
			next = now();
		snprintf(name, sizeof(name), "lat-%04d", i);
		k = fed ? create_fed(name, false, i) : create_floor(name, false, i);
		if (run_until(track_done, k, 60, name)) {
			report_missing(fed ? &T_FED : &T_FLOOR);
			die("latency run stuck at %s", name);
		}
		if (fed) {
			/* from the host create returning */
			res->obs[i] = (k->t_seen - k->t_ack) * 1e3;
			res->ack[i] = (k->t_ack - k->t_issue) * 1e3;
		} else {
			/* from issuing the member writes */
			res->obs[i] = (k->t_seen - k->t_issue) * 1e3;
			res->ack[i] = (k->t_ack - k->t_issue) * 1e3;
		}
		if (res->obs[i] < 0)
			res->obs[i] = 0;
	}
	res->wall = now() - t0;
	if (fed) {
		/* where the time goes, from the controller's debug log (ms
		 * resolution): host create returned -> member lookups start
		 * (host watch, finalizer patch, its watch event), lookup (GET)
		 * -> apply sent, apply -> created, created -> seen here */
		double(*st)[STEPS] = calloc((size_t)opt.lat_n, sizeof(*st));
		double *v[4];
		int nv = 0;
		for (int k = 0; k < 4; k++)
			v[k] = calloc((size_t)opt.lat_n, sizeof(double));
		log_steps(ctl_log, "lat-", opt.lat_n, st);
		for (int i = 0; i < opt.lat_n; i++) {
			char nm[64];
			struct track *k;
			snprintf(nm, sizeof(nm), "lat-%04d", i);
			k = fed_map_get(&T_FED.objs, nm);
			if (!k || isnan(st[i][STEP_LOOKUP]) || isnan(st[i][STEP_WRITE]) ||
			    isnan(st[i][STEP_CREATED]))
				continue;
			v[0][nv] = (st[i][STEP_LOOKUP] - k->t_ack) * 1e3;
			v[1][nv] = (st[i][STEP_WRITE] - st[i][STEP_LOOKUP]) * 1e3;
			v[2][nv] = (st[i][STEP_CREATED] - st[i][STEP_WRITE]) * 1e3;
			v[3][nv] = (k->t_seen - st[i][STEP_CREATED]) * 1e3;
			nv++;
		}
		for (int k = 0; k < 4; k++) {
			res->stage[k] = summarize(v[k], nv);
			free(v[k]);
		}
		free(st);
	}
	res->s = summarize(res->obs, res->n);
	res->s_ack = summarize(res->ack, res->n);
}

struct conv_result {
	double total, acked, status;                    /* s from the first create */
	double first_lookup, last_lookup, last_created; /* fed: from the controller log */
	double ctl_cpu, machine_busy; /* CPU seconds of the controller, machine busy share */
	long member_writes, member_lookups;
	unsigned long throttled;
};

/* (b) every object queued at once on the client(s); done when every
 * member has every object. */
static void converge(bool fed, struct conv_result *res)
{
	struct tracker *t = fed ? &T_FED : &T_FLOOR;
	struct count_goal g = {t, t->complete + (size_t)(opt.conv_cm + opt.conv_dep)};
	struct track **ks = calloc((size_t)(opt.conv_cm + opt.conv_dep), sizeof(*ks));
	struct fed_kube_client_stats cs0, cs1;
	double t0, cpu0 = 0, b0, tot0, b1, tot1, last_ack = 0, last_seen = 0;
	long w0 = 0, l0 = 0;
	int ic = 0, id = 0, n = 0;
	char name[64];

	if (fed) {
		w0 = writes(NULL);
		l0 = count_log(ctl_log, ": asking the member (", " " FED_NS "/", NULL);
		cpu0 = proc_cpu(cpid);
		fed_kube_client_stats(host, &cs0);
	}
	machine_cpu(&b0, &tot0);
	t0 = now();
	/* interleaved, five ConfigMaps to a Deployment */
	while (ic < opt.conv_cm || id < opt.conv_dep) {
		bool dep = id < opt.conv_dep && (ic >= opt.conv_cm || (ic + id) % 6 == 5);
		if (dep) {
			snprintf(name, sizeof(name), "dep-%04d", id);
			ks[n++] = fed ? create_fed(name, true, id) : create_floor(name, true, id);
			id++;
		} else {
			snprintf(name, sizeof(name), "cm-%04d", ic);
			ks[n++] = fed ? create_fed(name, false, ic) : create_floor(name, false, ic);
			ic++;
		}
	}
	if (run_until(tracker_reached, &g, opt.timeout, "convergence")) {
		report_missing(t);
		die("%s convergence did not finish", fed ? "federated" : "floor");
	}
	for (int i = 0; i < n; i++) {
		if (ks[i]->t_seen > last_seen)
			last_seen = ks[i]->t_seen;
		if (ks[i]->t_ack > last_ack)
			last_ack = ks[i]->t_ack;
	}
	res->total = last_seen - t0;
	res->acked = last_ack - t0;
	res->status = NAN;
	res->ctl_cpu = NAN;
	if (fed) {
		res->status =
		    wait_current(30, opt.timeout, "statuses after (b)") ? NAN : now() - t0;
		{
			const char *pre[2] = {"cm-", "dep-"};
			int cnt[2] = {opt.conv_cm, opt.conv_dep};
			res->first_lookup = INFINITY;
			res->last_lookup = res->last_created = -INFINITY;
			for (int p = 0; p < 2; p++) {
				double(*st)[STEPS] = calloc((size_t)cnt[p] + 1, sizeof(*st));
				log_steps(ctl_log, pre[p], cnt[p], st);
				for (int i = 0; i < cnt[p]; i++) {
					if (st[i][STEP_LOOKUP] - t0 < res->first_lookup)
						res->first_lookup = st[i][STEP_LOOKUP] - t0;
					if (st[i][STEP_LOOKUP] - t0 > res->last_lookup)
						res->last_lookup = st[i][STEP_LOOKUP] - t0;
					if (st[i][STEP_CREATED] - t0 > res->last_created)
						res->last_created = st[i][STEP_CREATED] - t0;
				}
				free(st);
			}
		}
		res->ctl_cpu = proc_cpu(cpid) - cpu0;
		res->member_writes = writes(NULL) - w0;
		res->member_lookups =
		    count_log(ctl_log, ": asking the member (", " " FED_NS "/", NULL) - l0;
		fed_kube_client_stats(host, &cs1);
		res->throttled = cs1.throttled - cs0.throttled;
	} else {
		res->throttled = 0;
		for (int m = 0; m < N; m++) {
			fed_kube_client_stats(mc[m], &cs1);
			res->throttled += cs1.throttled;
		}
	}
	machine_cpu(&b1, &tot1);
	res->machine_busy = tot1 > tot0 ? (b1 - b0) / (tot1 - tot0) : NAN;
	free(ks);
}

struct restart_result {
	long stuck_before; /* statuses not current before the first restart */
	char stuck_before_reason[400];
	/* plain restart */
	double caught_up; /* exec -> probe objects in every member */
	long writes, deletes, status_writes;
	long stuck; /* objects whose status was not current 30 s later */
	char stuck_reason[400];
	/* restart after a no-op spec change */
	double status_current; /* exec -> every status current (NAN: never, see stuck2) */
	long writes2, deletes2, stuck2;
	char stuck2_reason[400];
	long objects;
	double rss_mib; /* after the second restart's sync */
};

static bool quiet_for(void *ud)
{
	static unsigned long last_updates;
	static double since;
	double want = *(double *)ud;

	if (S.updates != last_updates || since == 0) {
		last_updates = S.updates;
		since = now();
		return false;
	}
	return now() - since >= want;
}

/* One line on why a federated object's status is not current. */
static void describe(const char *key, const cJSON *obj, char *why, size_t n)
{
	const cJSON *st = cJSON_GetObjectItem(obj, "status"), *c;
	const cJSON *g = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "generation");
	const cJSON *og = cJSON_GetObjectItem(st, "observedGeneration");
	const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(st, "conditions"), 0);
	const char *cs = cJSON_GetStringValue(cJSON_GetObjectItem(c0, "status"));
	const char *cr = cJSON_GetStringValue(cJSON_GetObjectItem(c0, "reason"));
	struct fed_buf b = FED_BUF_INIT;
	int ok = 0;

	fed_buf_printf(&b, "%s: Propagation=%s%s%s%s, generation %.0f observed %.0f;", key,
	               cs ? cs : "-", cr ? " (" : "", cr ? cr : "", cr ? ")" : "",
	               cJSON_IsNumber(g) ? g->valuedouble : -1.,
	               cJSON_IsNumber(og) ? og->valuedouble : -1.);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(st, "clusters"))
	{
		const char *cn = cJSON_GetStringValue(cJSON_GetObjectItem(c, "name"));
		const char *cst = cJSON_GetStringValue(cJSON_GetObjectItem(c, "status"));
		if (cst && *cst)
			fed_buf_printf(&b, " %s=%s", cn ? cn : "?", cst);
		else
			ok++;
	}
	fed_buf_printf(&b, " %d cluster(s) ok", ok);
	snprintf(why, n, "%s", fed_buf_str(&b));
	fed_buf_release(&b);
}

/* How many federated objects are not current; why[] gets the first. */
static long not_current(char *why, size_t n, bool print)
{
	struct fed_informer *infs[2] = {h_fcm, h_fdep};
	long count = 0;
	char line[512];

	why[0] = '\0';
	for (int i = 0; i < 2; i++) {
		struct fed_map_iter it;
		struct fed_map_entry *e;
		const struct fed_map *store = fed_informer_store(infs[i]);
		for (e = fed_map_first(store, &it); e; e = fed_map_next(store, &it)) {
			if (fed_map_get(&S.cur, fed_obj_name(e->value)))
				continue;
			if (count < 3) {
				describe(e->key, e->value, line, sizeof(line));
				if (!count && n > 6) {
					size_t l = strlen(line);
					if (l > n - 6)
						l = n - 6;
					memcpy(why, "e.g. ", 5);
					memcpy(why + 5, line, l);
					why[5 + l] = '\0';
				}
				if (print)
					fprintf(stderr, "  not current: %s\n", line);
			}
			count++;
		}
	}
	return count;
}

static long deletes(const char *exclude)
{
	return count_log(ctl_log, "] deleted ", " " FED_NS "/", exclude);
}

struct patches {
	int pending, failed;
};

static void patch_cb(struct fed_kube_response *resp, void *ud)
{
	struct patches *p = ud;

	p->pending--;
	if (resp->err.code && ++p->failed <= 3)
		fprintf(stderr, "bench-propagation: patch: %s\n", resp->err.msg);
	wake = true;
}

static bool patches_done(void *ud)
{
	return ((struct patches *)ud)->pending == 0;
}

static void restart(struct restart_result *res)
{
	struct fed_error err = FED_ERROR_INIT;
	struct patches p = {0, 0};
	struct fed_buf body = FED_BUF_INIT;
	struct fed_informer *infs[2] = {h_fcm, h_fdep};
	const struct fed_kube_resource *rs[2] = {&r_fcm, &r_fdep};
	double quiet = 3;
	unsigned long u0;
	struct track *k1, *k2;

	/* (e1) everything in sync, status quiet: restart */
	if (run_until(quiet_for, &quiet, 120, "a quiet host"))
		die("status writes did not settle");
	res->stuck_before =
	    not_current(res->stuck_before_reason, sizeof(res->stuck_before_reason), false);
	ctl_stop();
	u0 = S.updates_other;
	ctl_start();
	k1 = create_fed("probe-cm-1", false, 1);
	k2 = create_fed("probe-dep-1", true, 1);
	if (run_until(track_done, k1, 120, "probe ConfigMap") ||
	    run_until(track_done, k2, 120, "probe Deployment"))
		die("restarted controller did not propagate the probes");
	res->caught_up = (k1->t_seen > k2->t_seen ? k1->t_seen : k2->t_seen) - t_exec;
	run_for(5);
	wait_current(20, 120, "statuses after a restart");
	res->stuck = not_current(res->stuck_reason, sizeof(res->stuck_reason), false);
	res->writes = writes("probe-");
	res->deletes = deletes("probe-");
	res->status_writes = (long)(S.updates_other - u0);

	/* (e2) stop; change every federated object's placement from
	 * clusterSelector {} to the same members by name (a new generation,
	 * nothing new for the members); start; time until every status is
	 * current again */
	ctl_stop();
	fed_buf_puts(&body, "{\"spec\":{\"placement\":{\"clusterSelector\":null,\"clusters\":[");
	for (int m = 0; m < N; m++)
		fed_buf_printf(&body, "%s{\"name\":\"%s\"}", m ? "," : "", mname[m]);
	fed_buf_puts(&body, "]}}}");
	res->objects = 0;
	for (int i = 0; i < 2; i++) {
		struct fed_map_iter it;
		struct fed_map_entry *e;
		const struct fed_map *store = fed_informer_store(infs[i]);
		for (e = fed_map_first(store, &it); e; e = fed_map_next(store, &it)) {
			struct fed_kube_ref ref = {rs[i], FED_NS, fed_obj_name(e->value), NULL};
			if (fed_kube_patch(hostfast, &ref, FED_PATCH_MERGE, fed_buf_str(&body),
			                   NULL, patch_cb, &p, NULL, &err))
				die("patch: %s", err.msg);
			p.pending++;
			res->objects++;
		}
	}
	fed_buf_release(&body);
	if (run_until(patches_done, &p, 300, "placement patches") || p.failed)
		die("placement patches failed");
	if (run_until(none_current, NULL, 60, "the host informer to see the patches"))
		die("patched objects still look current");
	ctl_start();
	res->status_current =
	    wait_current(30, opt.timeout, "statuses after a no-op change and a restart")
	        ? NAN
	        : now() - t_exec;
	run_for(3);
	res->stuck2 = not_current(res->stuck2_reason, sizeof(res->stuck2_reason), false);
	res->writes2 = writes(NULL);
	res->deletes2 = deletes(NULL);
	res->rss_mib = proc_status_kib(cpid, "VmRSS") / 1024.;
}

/* An edit that was not corrected: what the member and the status say. */
static void drift_diag(int m)
{
	struct fed_kube_ref ref = {&r_cm, FED_NS, D.name, NULL};
	struct fed_kube_ref fref = {&r_fcm, FED_NS, D.name, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct result r = {false, FED_ERROR_INIT, NULL};
	const cJSON *c;

	if (!fed_kube_get(mc[m], &ref, result_cb, &r, NULL, &err) && !wait_result(&r))
		fprintf(stderr, "  %s copy: resourceVersion %s, data.index %s\n", mname[m],
		        fed_obj_resource_version(r.json), fed_obj_str(r.json, "data.index"));
	cJSON_Delete(r.json);
	memset(&r, 0, sizeof(r));
	if (!fed_kube_get(host, &fref, result_cb, &r, NULL, &err) && !wait_result(&r))
		cJSON_ArrayForEach(
		    c, cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "status"), "clusters"))
		{
			char *s = cJSON_PrintUnformatted(c);
			fprintf(stderr, "  status.clusters[]: %s\n", s ? s : "?");
			free(s);
		}
	cJSON_Delete(r.json);
}

/* (f) patch a member copy, time until the controller restored it; an edit
 * not restored within DRIFT_WAIT counts as DRIFT_WAIT */
#define DRIFT_WAIT opt.drift_wait
static int drift_missed;

static void drift(struct lat_result *res)
{
	struct fed_error err = FED_ERROR_INIT;
	double t0 = now(), next = t0;
	char patch[128];

	res->n = opt.drift_n;
	res->obs = calloc((size_t)opt.drift_n, sizeof(double));
	res->ack = calloc((size_t)opt.drift_n, sizeof(double));
	for (int k = 0; k < opt.drift_n; k++) {
		int idx = (k * 37) % opt.conv_cm, m = k % N;
		struct fed_kube_ref ref = {&r_cm, FED_NS, D.name, NULL};
		struct result r = {false, FED_ERROR_INIT, NULL};
		double t_issue;

		run_for(next - now());
		next += opt.drift_interval;
		memset(&D, 0, sizeof(D));
		D.m = m;
		snprintf(D.name, sizeof(D.name), "cm-%04d", idx);
		snprintf(D.want, sizeof(D.want), "%d", idx);
		snprintf(D.edit, sizeof(D.edit), "drift-%d", k);
		snprintf(patch, sizeof(patch), "{\"data\":{\"index\":\"%s\"}}", D.edit);
		D.active = true;
		t_issue = now();
		if (fed_kube_patch(mc[m], &ref, FED_PATCH_MERGE, patch, NULL, result_cb, &r, NULL,
		                   &err))
			die("drift patch: %s", err.msg);
		if (wait_result(&r))
			die("drift patch of %s in %s: %s", D.name, mname[m], r.err.msg);
		D.t_ack = now();
		cJSON_Delete(r.json);
		if (fed_kube_wait(loop, &D.restored, DRIFT_WAIT)) {
			fprintf(stderr,
			        "bench-propagation: edit %d of %s in %s (rv %llu) not corrected "
			        "within %.0fs\n",
			        k, D.name, mname[m], D.rv, DRIFT_WAIT);
			drift_diag(m);
			drift_missed++;
			res->obs[k] = DRIFT_WAIT * 1e3;
			next = now();
		} else {
			res->obs[k] = (D.t_restored - D.t_ack) * 1e3;
		}
		res->ack[k] = (D.t_ack - t_issue) * 1e3;
		if (getenv("BENCH_VERBOSE"))
			fprintf(stderr, "drift %d: %s in %s: %.1f ms\n", k, D.name, mname[m],
			        res->obs[k]);
		D.active = false;
	}
	res->wall = now() - t0;
	{
		double *ok = calloc((size_t)res->n + 1, sizeof(double));
		int n_ok = 0;
		for (int k = 0; k < res->n; k++)
			if (res->obs[k] < DRIFT_WAIT * 1e3)
				ok[n_ok++] = res->obs[k];
		res->s_ok = summarize(ok, n_ok);
		free(ok);
	}
	res->s = summarize(res->obs, res->n);
	res->s_ack = summarize(res->ack, res->n);
}

/* ---- report ------------------------------------------------------------- */

static double r3(double x)
{
	return isnan(x) ? x : round(x * 1000) / 1000;
}

static void add_num(cJSON *o, const char *k, double v)
{
	if (isnan(v))
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddNumberToObject(o, k, r3(v));
}

static cJSON *stats_json(const struct stats *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "n", s->n);
	add_num(o, "p50", s->p50);
	add_num(o, "p90", s->p90);
	add_num(o, "p99", s->p99);
	add_num(o, "min", s->min);
	add_num(o, "max", s->max);
	add_num(o, "mean", s->mean);
	return o;
}

static cJSON *samples_json(const double *v, int n)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(round(v[i] * 10) / 10));
	return a;
}

static const char *verdict(bool ok)
{
	return ok ? "met" : "MISSED";
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: bench-propagation --kubeconfig FILE --controller BIN --workdir DIR\n"
	    "       [--members N] [--latency-objects N] [--latency-interval S]\n"
	    "       [--configmaps N] [--deployments N] [--drift-edits N] [--timeout S]\n"
	    "       [--floor-apply] [--json FILE]\n"
	    "Contexts host, member1..memberN must exist and be joined (see bench/propagation).\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rest_config cfg;
	struct lat_result lat_fed, lat_floor, dr;
	struct conv_result cv_fed, cv_floor;
	struct restart_result rs;
	struct fed_informer_handlers hm = {m_add, m_update, NULL, NULL};
	struct fed_informer_handlers hh = {h_add, h_update, NULL, NULL};
	double rss_mib, hwm_mib, cpu_total, t_begin, load_begin, load_end;
	char body[512];
	cJSON *j, *o;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && ++i)
		if (ARG("--kubeconfig"))
			opt.kubeconfig = v;
		else if (ARG("--controller"))
			opt.controller = v;
		else if (ARG("--workdir"))
			opt.workdir = v;
		else if (ARG("--json"))
			opt.json_out = v;
		else if (ARG("--members"))
			opt.members = atoi(v);
		else if (ARG("--latency-objects"))
			opt.lat_n = atoi(v);
		else if (ARG("--latency-interval"))
			opt.lat_interval = atof(v);
		else if (ARG("--configmaps"))
			opt.conv_cm = atoi(v);
		else if (ARG("--deployments"))
			opt.conv_dep = atoi(v);
		else if (ARG("--drift-edits"))
			opt.drift_n = atoi(v);
		else if (ARG("--drift-wait"))
			opt.drift_wait = atof(v);
		else if (ARG("--timeout"))
			opt.timeout = atof(v);
		else if (!strcmp(a, "--floor-apply"))
			opt.floor_apply = true;
		else
			usage();
#undef ARG
	}
	if (!opt.kubeconfig || !opt.controller || !opt.workdir || opt.members < 1 ||
	    opt.members > MAXM || opt.lat_n < 1 || opt.conv_cm < 1 || opt.conv_dep < 0 ||
	    opt.drift_n < 0)
		usage();
	N = opt.members;
	fed_log_setup(FED_LOG_WARN, false);
	signal(SIGPIPE, SIG_IGN);
	make_payload();
	fed_map_init(&T_FED.objs);
	fed_map_init(&T_FLOOR.objs);
	fed_map_init(&S.cur);
	/* not the default loop: that one reaps every child (the controller) */
	loop = ev_loop_new(EVFLAG_AUTO);
	t_begin = now();
	load_begin = loadavg1();

	/* clients: the bench's own, at libfed's defaults */
	fed_rest_config_init(&cfg);
	if (fed_rest_config_load(&cfg, opt.kubeconfig, "host", &err) ||
	    fed_kube_client_new(&host, loop, &cfg, "host", &err))
		die("host: %s", err.msg);
	cfg.qps = 2000;
	cfg.burst = 2000;
	if (fed_kube_client_new(&hostfast, loop, &cfg, "host-setup", &err))
		die("host: %s", err.msg);
	fed_rest_config_release(&cfg);
	for (int m = 0; m < N; m++) {
		snprintf(mname[m], sizeof(mname[m]), "member%d", m + 1);
		fed_rest_config_init(&cfg);
		if (fed_rest_config_load(&cfg, opt.kubeconfig, mname[m], &err) ||
		    fed_kube_client_new(&mc[m], loop, &cfg, mname[m], &err))
			die("%s: %s", mname[m], err.msg);
		fed_rest_config_release(&cfg);
	}

	/* namespaces: bench-fed on the host, federated to every member;
	 * bench-floor straight in every member */
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
	         FED_NS);
	sync_create(host, &r_ns, NULL, body);
	snprintf(
	    body, sizeof(body),
	    "{\"apiVersion\":\"types.kubefed.io/v1beta1\",\"kind\":\"FederatedNamespace\","
	    "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"placement\":{\"clusterSelector\":{}}}}",
	    FED_NS);
	sync_create(host, &r_fns, FED_NS, body);
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
	         FLOOR_NS);
	for (int m = 0; m < N; m++)
		sync_create(mc[m], &r_ns, NULL, body);

	for (int m = 0; m < N; m++) {
		ictx[m][0] = (struct ictx){&T_FED, m, true};
		ictx[m][1] = (struct ictx){&T_FED, m, false};
		ictx[m][2] = (struct ictx){&T_FLOOR, m, false};
		ictx[m][3] = (struct ictx){&T_FLOOR, m, false};
		minf[m][0] =
		    informer(mc[m], &r_cm, FED_NS, "kubefed.io/managed=true", hm, &ictx[m][0]);
		minf[m][1] =
		    informer(mc[m], &r_dep, FED_NS, "kubefed.io/managed=true", hm, &ictx[m][1]);
		minf[m][2] = informer(mc[m], &r_cm, FLOOR_NS, NULL, hm, &ictx[m][2]);
		minf[m][3] = informer(mc[m], &r_dep, FLOOR_NS, NULL, hm, &ictx[m][3]);
	}
	h_fcm = informer(host, &r_fcm, FED_NS, NULL, hh, NULL);
	h_fdep = informer(host, &r_fdep, FED_NS, NULL, hh, NULL);
	if (run_until(informers_synced, NULL, 60, "the bench's informers"))
		die("informers did not sync");

	/* the controller; ready once the namespace is in every member, warm
	 * once a few objects went through */
	ctl_start();
	printf("fed-controller pid %d, log %s\n", (int)cpid, ctl_log);
	fflush(stdout);
	if (run_until(ns_everywhere, NULL, 120, "namespace " FED_NS " in every member"))
		die("the controller did not propagate the namespace; see %s", ctl_log);
	printf("members joined, namespace %s everywhere %.1fs after start\n", FED_NS,
	       now() - t_exec);
	fflush(stdout);
	for (int i = 0; i < 3; i++) {
		char name[32];
		struct track *k;
		snprintf(name, sizeof(name), "warmup-%s-%d", i < 2 ? "cm" : "dep", i);
		k = create_fed(name, i == 2, i);
		if (run_until(track_done, k, 60, name))
			die("warm-up object %s not propagated; see %s", name, ctl_log);
		snprintf(name, sizeof(name), "warmup-%s-%d", i < 2 ? "cm" : "dep", i);
		k = create_floor(name, i == 2, i);
		if (run_until(track_done, k, 60, name))
			die("floor warm-up object %s not seen", name);
	}
	if (run_until(all_current, (void *)(uintptr_t)3, 60, "warm-up statuses"))
		die("warm-up statuses not current");
	run_for(1);

	/* (a) */
	printf("(a) latency: %d objects, one every %.0f ms ...\n", opt.lat_n,
	       opt.lat_interval * 1e3);
	fflush(stdout);
	latency(true, &lat_fed);
	wait_current(15, 120, "statuses after (a)");
	run_for(1);
	latency(false, &lat_floor);

	/* (b) + (d) */
	printf("(b) convergence: %d ConfigMaps + %d Deployments ...\n", opt.conv_cm, opt.conv_dep);
	fflush(stdout);
	converge(true, &cv_fed);
	rss_mib = proc_status_kib(cpid, "VmRSS") / 1024.;
	hwm_mib = proc_status_kib(cpid, "VmHWM") / 1024.;
	run_for(2);
	converge(false, &cv_floor);

	/* (e) */
	printf("(e) restarts ...\n");
	fflush(stdout);
	restart(&rs);

	/* (f) */
	printf("(f) drift: %d edits ...\n", opt.drift_n);
	fflush(stdout);
	if (opt.drift_n > 0)
		drift(&dr);
	else
		memset(&dr, 0, sizeof(dr));
	cpu_total = proc_cpu(cpid);
	load_end = loadavg1();
	ctl_check_alive();
	{
		long warn = count_log(ctl_log, " warn ", NULL, NULL);
		long errs = count_log(ctl_log, " error ", NULL, NULL);
		ctl_stop();

		/* table */
		double a_ratio = lat_fed.s.p99 / lat_floor.s.p99;
		double b_ratio = cv_fed.total / cv_floor.total;
		printf(
		    "\npropagation bench: host + %d members, %d objects (a), %d ConfigMaps + %d "
		    "Deployments (b), %ld cores, %.0fs, load average %.1f at start, %.1f at end\n",
		    N, opt.lat_n, opt.conv_cm, opt.conv_dep, sysconf(_SC_NPROCESSORS_ONLN),
		    now() - t_begin, load_begin, load_end);
		printf("floor: the same objects written straight to the members by %s\n",
		       opt.floor_apply ? "server-side apply (--floor-apply)" : "POST");
		printf("%-44s %12s %12s %8s  %s\n", "", "fed", "floor", "ratio", "target");
		printf("%-44s %12.1f %12.1f %8.2f\n", "(a) latency p50 (ms)", lat_fed.s.p50,
		       lat_floor.s.p50, lat_fed.s.p50 / lat_floor.s.p50);
		printf("%-44s %12.1f %12.1f %8.2f\n", "    latency p90 (ms)", lat_fed.s.p90,
		       lat_floor.s.p90, lat_fed.s.p90 / lat_floor.s.p90);
		printf("%-44s %12.1f %12.1f %8.2f  <= 1.5x: %s\n", "    latency p99 (ms)",
		       lat_fed.s.p99, lat_floor.s.p99, a_ratio, verdict(a_ratio <= 1.5));
		printf("%-44s %12.1f %12.1f\n", "    latency max (ms)", lat_fed.s.max,
		       lat_floor.s.max);
		printf("%-44s %12.1f %12.1f\n", "    create call p50 (ms; host / all members)",
		       lat_fed.s_ack.p50, lat_floor.s_ack.p50);
		printf("    fed p50 / p99 by step (controller log, ms):\n");
		printf("%-44s %7.1f / %.1f\n", "      host create -> member sync starts",
		       lat_fed.stage[0].p50, lat_fed.stage[0].p99);
		printf("%-44s %7.1f / %.1f\n", "      sync -> apply sent (GET if not listed)",
		       lat_fed.stage[1].p50, lat_fed.stage[1].p99);
		printf("%-44s %7.1f / %.1f\n", "      apply sent -> created", lat_fed.stage[2].p50,
		       lat_fed.stage[2].p99);
		printf("%-44s %7.1f / %.1f\n", "      created -> seen by the bench's informer",
		       lat_fed.stage[3].p50, lat_fed.stage[3].p99);
		printf("%-44s %12.1f %12.1f %8.2f  <= 1.3x: %s\n", "(b) converged (s)",
		       cv_fed.total, cv_floor.total, b_ratio, verdict(b_ratio <= 1.3));
		printf("%-44s %12.1f %12.1f\n", "    all creates returned (s)", cv_fed.acked,
		       cv_floor.acked);
		printf("%-44s %12.1f %12s\n", "    controller: first member sync (s)",
		       cv_fed.first_lookup, "-");
		printf("%-44s %12.1f %12s\n", "    controller: last member sync (s)",
		       cv_fed.last_lookup, "-");
		printf("%-44s %12.1f %12s\n", "    controller: last member create (s)",
		       cv_fed.last_created, "-");
		printf("%-44s %12.1f %12s\n", "    every status current (s)", cv_fed.status, "-");
		printf("%-44s %12.2f %12s\n", "    member writes per object per member",
		       (double)cv_fed.member_writes / ((opt.conv_cm + opt.conv_dep) * (double)N),
		       "1");
		printf("%-44s %12.2f %12s\n", "    member GETs per object per member",
		       (double)cv_fed.member_lookups / ((opt.conv_cm + opt.conv_dep) * (double)N),
		       "0");
		printf("%-44s %12.1f %12s\n", "    controller CPU (s)", cv_fed.ctl_cpu, "-");
		printf("%-44s %11.0f%% %11.0f%%\n", "    machine CPU busy",
		       cv_fed.machine_busy * 100, cv_floor.machine_busy * 100);
		printf("%-44s %12.1f %12s %8s  <= 100 MiB (10 members): %s\n",
		       "(d) controller RSS after (b) (MiB)", rss_mib, "", "",
		       N >= 10 ? verdict(rss_mib <= 100)
		               : (rss_mib <= 100 ? "met (at N<10)" : "MISSED"));
		printf("%-44s %12.1f\n", "    controller peak RSS (VmHWM, MiB)", hwm_mib);
		if (rs.stuck_before)
			printf("%-44s %12ld   %s\n", "(e) before: statuses not current",
			       rs.stuck_before, rs.stuck_before_reason);
		printf("%-44s %12ld %12s %8s  0: %s\n", "(e) restart: member writes", rs.writes, "",
		       "", verdict(rs.writes == 0 && rs.deletes == 0));
		printf("%-44s %12ld\n", "    restart: member deletes", rs.deletes);
		printf("%-44s %12ld\n", "    restart: status writes to the host", rs.status_writes);
		printf("%-44s %12ld   %s\n", "    restart: statuses left wrong (stuck)", rs.stuck,
		       rs.stuck_reason);
		printf("%-44s %12.1f\n", "    restart: start -> new objects propagate (s)",
		       rs.caught_up);
		printf("%-44s %12ld %12s %8s  0: %s\n",
		       "    no-op spec change + restart: member writes", rs.writes2, "", "",
		       verdict(rs.writes2 == 0 && rs.deletes2 == 0));
		printf("%-44s %12ld\n", "    ... member deletes", rs.deletes2);
		printf("%-44s %12.1f\n", "    ... start -> every status current (s)",
		       rs.status_current);
		if (rs.stuck2)
			printf("%-44s %12ld   %s\n", "    ... statuses never current", rs.stuck2,
			       rs.stuck2_reason);
		printf("%-44s %12ld\n", "    ... objects", rs.objects);
		if (opt.drift_n > 0) {
			printf("%-44s %12.1f\n", "(f) drift corrected p50 (ms)", dr.s.p50);
			printf("%-44s %12.1f\n", "    drift corrected p90 (ms)", dr.s.p90);
			printf("%-44s %12.1f %12s %8s  < 1000 ms: %s\n",
			       "    drift corrected p99 (ms)", dr.s.p99, "", "",
			       verdict(dr.s.p99 < 1000));
			printf("%-44s %12d / %d\n", "    edits not corrected within --drift-wait",
			       drift_missed, opt.drift_n);
			if (drift_missed && dr.s_ok.n)
				printf("%-44s %7.1f / %.1f / %.1f\n",
				       "    corrected ones only p50/p90/p99 (ms)", dr.s_ok.p50,
				       dr.s_ok.p90, dr.s_ok.p99);
		}
		printf("%-44s %12.1f\n", "controller CPU, whole last run (s)", cpu_total);
		printf("%-44s %12ld / %ld\n", "controller log warnings / errors (last run)", warn,
		       errs);
		if (write_failures)
			printf("bench write failures: %d\n", write_failures);

		if (!opt.json_out)
			goto out;
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "bench", "propagation");
		{
			char ts[32];
			time_t t = time(NULL);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
			cJSON_AddStringToObject(j, "date", ts);
		}
		if (getenv("BENCH_META")) {
			cJSON *meta = cJSON_Parse(getenv("BENCH_META"));
			if (meta)
				cJSON_AddItemToObject(j, "meta", meta);
		}
		cJSON_AddNumberToObject(j, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
		cJSON_AddNumberToObject(j, "members", N);
		cJSON_AddStringToObject(j, "floor_write", opt.floor_apply ? "apply" : "create");
		add_num(j, "loadavg1_start", load_begin);
		add_num(j, "loadavg1_end", load_end);
		add_num(j, "duration_s", now() - t_begin);
		o = cJSON_AddObjectToObject(j, "client");
		cJSON_AddStringToObject(o, "note",
		                        "libfed defaults for every timed client (bench and "
		                        "controller): qps 50, burst 100, 32 in flight");
		o = cJSON_AddObjectToObject(j, "latency");
		cJSON_AddNumberToObject(o, "objects", opt.lat_n);
		add_num(o, "interval_s", opt.lat_interval);
		cJSON_AddStringToObject(o, "fed_from", "host create returned");
		cJSON_AddStringToObject(o, "floor_from",
		                        "member creates issued (all members in parallel)");
		cJSON_AddItemToObject(o, "fed_ms", stats_json(&lat_fed.s));
		cJSON_AddItemToObject(o, "floor_ms", stats_json(&lat_floor.s));
		cJSON_AddItemToObject(o, "fed_host_create_ms", stats_json(&lat_fed.s_ack));
		cJSON_AddItemToObject(o, "floor_all_creates_returned_ms",
		                      stats_json(&lat_floor.s_ack));
		add_num(o, "p99_ratio", a_ratio);
		{
			cJSON *st = cJSON_AddObjectToObject(o, "fed_steps_ms");
			cJSON_AddItemToObject(st, "host_create_to_member_lookup",
			                      stats_json(&lat_fed.stage[0]));
			cJSON_AddItemToObject(st, "lookup_to_apply", stats_json(&lat_fed.stage[1]));
			cJSON_AddItemToObject(st, "apply_to_created",
			                      stats_json(&lat_fed.stage[2]));
			cJSON_AddItemToObject(st, "created_to_seen", stats_json(&lat_fed.stage[3]));
		}
		cJSON_AddBoolToObject(o, "target_met", a_ratio <= 1.5);
		cJSON_AddItemToObject(o, "fed_samples_ms_sorted",
		                      samples_json(lat_fed.obs, lat_fed.n));
		cJSON_AddItemToObject(o, "floor_samples_ms_sorted",
		                      samples_json(lat_floor.obs, lat_floor.n));
		o = cJSON_AddObjectToObject(j, "convergence");
		cJSON_AddNumberToObject(o, "configmaps", opt.conv_cm);
		cJSON_AddNumberToObject(o, "deployments", opt.conv_dep);
		add_num(o, "fed_s", cv_fed.total);
		add_num(o, "floor_s", cv_floor.total);
		add_num(o, "ratio", b_ratio);
		cJSON_AddBoolToObject(o, "target_met", b_ratio <= 1.3);
		add_num(o, "fed_host_creates_returned_s", cv_fed.acked);
		add_num(o, "floor_member_creates_returned_s", cv_floor.acked);
		add_num(o, "fed_status_current_s", cv_fed.status);
		add_num(o, "fed_first_member_lookup_s", cv_fed.first_lookup);
		add_num(o, "fed_last_member_lookup_s", cv_fed.last_lookup);
		add_num(o, "fed_last_member_create_s", cv_fed.last_created);
		cJSON_AddNumberToObject(o, "fed_member_writes", (double)cv_fed.member_writes);
		cJSON_AddNumberToObject(o, "fed_member_lookups", (double)cv_fed.member_lookups);
		add_num(o, "fed_controller_cpu_s", cv_fed.ctl_cpu);
		add_num(o, "fed_machine_cpu_busy", cv_fed.machine_busy);
		add_num(o, "floor_machine_cpu_busy", cv_floor.machine_busy);
		cJSON_AddNumberToObject(o, "fed_bench_host_client_throttled",
		                        (double)cv_fed.throttled);
		cJSON_AddNumberToObject(o, "floor_bench_member_clients_throttled",
		                        (double)cv_floor.throttled);
		o = cJSON_AddObjectToObject(j, "rss");
		add_num(o, "after_convergence_mib", rss_mib);
		add_num(o, "peak_mib", hwm_mib);
		add_num(o, "after_restart_sync_mib", rs.rss_mib);
		cJSON_AddBoolToObject(o, "target_applies", N >= 10);
		cJSON_AddBoolToObject(o, "target_met", rss_mib <= 100);
		o = cJSON_AddObjectToObject(j, "restart");
		cJSON_AddNumberToObject(o, "member_writes", (double)rs.writes);
		cJSON_AddNumberToObject(o, "statuses_not_current_before", (double)rs.stuck_before);
		cJSON_AddStringToObject(o, "first_not_current_before", rs.stuck_before_reason);
		cJSON_AddNumberToObject(o, "member_deletes", (double)rs.deletes);
		cJSON_AddNumberToObject(o, "status_writes", (double)rs.status_writes);
		cJSON_AddNumberToObject(o, "statuses_not_current_30s_later", (double)rs.stuck);
		cJSON_AddStringToObject(o, "first_not_current", rs.stuck_reason);
		add_num(o, "start_to_new_objects_propagated_s", rs.caught_up);
		cJSON_AddNumberToObject(o, "noop_spec_change_objects", (double)rs.objects);
		cJSON_AddNumberToObject(o, "noop_spec_change_member_writes", (double)rs.writes2);
		cJSON_AddNumberToObject(o, "noop_spec_change_member_deletes", (double)rs.deletes2);
		cJSON_AddNumberToObject(o, "noop_spec_change_statuses_never_current",
		                        (double)rs.stuck2);
		cJSON_AddStringToObject(o, "noop_spec_change_first_not_current", rs.stuck2_reason);
		add_num(o, "noop_spec_change_start_to_status_current_s", rs.status_current);
		cJSON_AddBoolToObject(o, "target_met",
		                      rs.writes == 0 && rs.writes2 == 0 && rs.deletes == 0 &&
		                          rs.deletes2 == 0 && rs.stuck == 0 && rs.stuck2 == 0);
		if (opt.drift_n > 0) {
			o = cJSON_AddObjectToObject(j, "drift");
			cJSON_AddNumberToObject(o, "edits", opt.drift_n);
			cJSON_AddItemToObject(o, "corrected_ms", stats_json(&dr.s));
			cJSON_AddNumberToObject(o, "not_corrected", drift_missed);
			add_num(o, "wait_s", opt.drift_wait);
			cJSON_AddItemToObject(o, "corrected_only_ms", stats_json(&dr.s_ok));
			cJSON_AddBoolToObject(o, "target_met", dr.s.p99 < 1000);
			cJSON_AddItemToObject(o, "samples_ms_sorted", samples_json(dr.obs, dr.n));
		}
		o = cJSON_AddObjectToObject(j, "controller");
		add_num(o, "cpu_s_last_run", cpu_total);
		cJSON_AddNumberToObject(o, "log_warnings_last_run", (double)warn);
		cJSON_AddNumberToObject(o, "log_errors_last_run", (double)errs);
		cJSON_AddNumberToObject(j, "bench_write_failures", write_failures);
		if (!(f = fopen(opt.json_out, "w")))
			die("%s: %s", opt.json_out, strerror(errno));
		{
			char *s = cJSON_Print(j);
			fprintf(f, "%s\n", s);
			free(s);
		}
		fclose(f);
		cJSON_Delete(j);
		printf("wrote %s\n", opt.json_out);
	}
out:
	return write_failures ? 1 : 0;
}
