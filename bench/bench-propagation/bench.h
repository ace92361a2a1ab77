/* What the files of bench-propagation share (bench/propagation is the
 * script that runs it; main.c says what it measures): the options, the
 * clients, the state the informers keep, and the functions of util.c
 * (waiting, synchronous calls, statistics, /proc, the controller's log),
 * track.c (the objects, their tracking, the bench's own writes),
 * controller.c (the fed-controller process) and phases.c (the timed
 * runs). */
#ifndef FED_BENCH_PROPAGATION_H
#define FED_BENCH_PROPAGATION_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <ev.h>

#include "fed/informer.h"
#include "fed/kube.h"
#include "fed/map.h"

#define MAXM     32
#define FED_NS   "bench-fed"
#define FLOOR_NS "bench-floor"

/* ---- main.c: options, clients, resources ------------------------------ */

struct options {
	const char *kubeconfig, *controller, *workdir, *json_out;
	int members, lat_n, conv_cm, conv_dep, drift_n;
	double lat_interval, drift_interval, drift_wait, timeout;
	bool floor_apply; /* the floor writes by server-side apply, as fed does, not POST */
};
extern struct options opt;

extern struct ev_loop *loop;
extern struct fed_kube_client *host, *hostfast, *mc[MAXM];
extern char mname[MAXM][32];
extern int N;

extern const struct fed_kube_resource r_ns, r_cm, r_dep, r_fns, r_fcm, r_fdep;

/* ---- util.c: small helpers -------------------------------------------- */

extern bool wake; /* set by callbacks: bench_run_until looks at its condition again */

typedef bool (*cond_fn)(void *);

struct result {
	bool done;
	struct fed_error err;
	cJSON *json;
};

struct stats {
	double p50, p90, p99, min, max, mean;
	int n;
};

/* The steps bench_log_steps finds in the controller's log. */
enum { STEP_LOOKUP, STEP_WRITE, STEP_CREATED, STEPS };

void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
double bench_now(void);
void bench_run_for(double s);
int bench_run_until(cond_fn cond, void *ud, double timeout, const char *what);
void bench_result_cb(struct fed_kube_response *resp, void *ud);
int bench_wait_result(struct result *r);
int bench_sync_create(struct fed_kube_client *c, const struct fed_kube_resource *res,
                      const char *ns, const char *json);
int bench_sync_get(struct fed_kube_client *c, const struct fed_kube_resource *res, const char *ns,
                   const char *name);
struct stats bench_summarize(double *v, int n);
long bench_proc_status_kib(pid_t pid, const char *key);
double bench_proc_cpu(pid_t pid);
void bench_machine_cpu(double *busy, double *total);
double bench_loadavg1(void);
long bench_count_log(const char *path, const char *a, const char *b, const char *exclude);
void bench_log_steps(const char *path, const char *prefix, int n, double (*out)[STEPS]);

/* ---- track.c: objects, tracking, the bench's writes ------------------- */

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
extern struct tracker T_FED, T_FLOOR;

/* Status of the federated objects on the host (name -> 1 when current). */
struct host_status {
	struct fed_map cur;
	size_t n_current;
	unsigned long updates;       /* update events on the host objects (status writes etc.) */
	unsigned long updates_other; /* ... on objects whose name does not start with "probe-" */
	double last_event;           /* when the host last sent an event on them */
};
extern struct host_status S;
extern struct fed_informer *h_fcm, *h_fdep;

/* Member informers: [member][0..3] = fed cm, fed deploy, floor cm, floor deploy. */
struct ictx {
	struct tracker *t;
	int m;
	bool fed_cm;
};
extern struct fed_informer *minf[MAXM][4];
extern struct ictx ictx[MAXM][4];

struct count_goal {
	struct tracker *t;
	size_t want;
};

extern int write_failures;

void bench_make_payload(void);
void bench_m_add(const cJSON *obj, void *ud);
void bench_m_update(const cJSON *old, const cJSON *obj, void *ud);
void bench_h_add(const cJSON *obj, void *ud);
void bench_h_update(const cJSON *old, const cJSON *obj, void *ud);
bool bench_all_current(void *ud);
void bench_report_not_current(void);
int bench_wait_current(double stall, double max, const char *what);
bool bench_none_current(void *ud);
struct fed_informer *bench_informer(struct fed_kube_client *c, const struct fed_kube_resource *r,
                                    const char *ns, const char *label,
                                    struct fed_informer_handlers h, void *ud);
bool bench_informers_synced(void *ud);
long bench_not_current(char *why, size_t n, bool print);
struct track *bench_create_fed(const char *name, bool dep, int idx);
struct track *bench_create_floor(const char *name, bool dep, int idx);
bool bench_track_done(void *ud);
bool bench_tracker_reached(void *ud);
void bench_report_missing(struct tracker *t);

/* ---- controller.c: the fed-controller process -------------------------- */

extern pid_t cpid;
extern char ctl_log[PATH_MAX];
extern double t_exec;

void bench_ctl_kill(void);
void bench_ctl_start(void);
void bench_ctl_stop(void);
void bench_ctl_check_alive(void);
bool bench_ns_everywhere(void *ud);
long bench_writes(const char *exclude);
long bench_deletes(const char *exclude);

/* ---- phases.c: the timed runs ----------------------------------------- */

/* Drift: the edit being waited for. */
struct drift_edit {
	bool active, seen_edit, restored;
	int m;
	char name[64];
	char want[32], edit[32];
	unsigned long long rv; /* of our edit, as its watch event showed it */
	double t_ack, t_restored;
};
extern struct drift_edit D;
extern int drift_missed;

struct lat_result {
	double *obs, *ack; /* ms */
	int n;
	struct stats s, s_ack, s_ok; /* s_ok: drift edits that were corrected */
	struct stats stage[4];       /* fed (a): from the controller log, see bench_latency() */
	double wall;
};

struct conv_result {
	double total, acked, status;                    /* s from the first create */
	double first_lookup, last_lookup, last_created; /* fed: from the controller log */
	double ctl_cpu, machine_busy; /* CPU seconds of the controller, machine busy share */
	long member_writes, member_lookups;
	unsigned long throttled;
};

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

void bench_latency(bool fed, struct lat_result *res);
void bench_converge(bool fed, struct conv_result *res);
void bench_restart(struct restart_result *res);
void bench_drift(struct lat_result *res);

#endif
