/* bench-propagation's objects and how it follows them: the ConfigMaps and
 * Deployments (federated or not), the member informers that see them
 * arrive, the host informers that say whether their statuses are current,
 * and the bench's own creates on the host (fed) or the members (floor). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

int write_failures;
struct tracker T_FED, T_FLOOR;
struct host_status S;
struct fed_informer *h_fcm, *h_fdep;
struct fed_informer *minf[MAXM][4];
struct ictx ictx[MAXM][4];

/* ---- objects ----------------------------------------------------------- */

static char payload[257];

void bench_make_payload(void)
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
		bench_die("out of memory");
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
		k->t_seen = bench_now();
		t->complete++;
		wake = true;
	}
}

static unsigned long long rv_num(const cJSON *obj)
{
	const char *rv = fed_obj_resource_version(obj);

	return rv ? strtoull(rv, NULL, 10) : 0;
}

void bench_m_add(const cJSON *obj, void *ud)
{
	struct ictx *c = ud;

	seen(c->t, c->m, obj);
}

void bench_m_update(const cJSON *old, const cJSON *obj, void *ud)
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
		D.t_restored = bench_now();
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
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(st, "conditions")) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(c, "type"));
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(c, "status"));
		if (type && !strcmp(type, "Propagation"))
			prop = s && !strcmp(s, "True");
	}
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(st, "clusters")) {
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
	S.last_event = bench_now();
	if (was && !is) {
		fed_map_del(&S.cur, name);
		S.n_current--;
	} else if (!was && is) {
		fed_map_put(&S.cur, name, (void *)1, NULL);
		S.n_current++;
	}
	wake = true;
}

void bench_h_add(const cJSON *obj, void *ud)
{
	h_set(obj, false);
}

void bench_h_update(const cJSON *old, const cJSON *obj, void *ud)
{
	h_set(obj, true);
}

static size_t host_total(void)
{
	return fed_informer_count(h_fcm) + fed_informer_count(h_fdep);
}

bool bench_all_current(void *ud)
{
	size_t want = (size_t)(uintptr_t)ud;

	return host_total() >= want && S.n_current == host_total();
}

/* Which federated objects are not current (after a timeout). */
void bench_report_not_current(void)
{
	char why[512];
	long n = bench_not_current(why, sizeof(why), true);

	fprintf(stderr, "  %ld of %zu federated objects not current\n", n, host_total());
}

/* every status current, or nothing changed on the host for `stall` s */
static bool current_or_stalled(void *ud)
{
	double stall = *(double *)ud;

	return bench_all_current((void *)(uintptr_t)0) || bench_now() - S.last_event > stall;
}

/* 0 when every status became current, -1 when they stalled (or took
 * longer than `max` s) */
int bench_wait_current(double stall, double max, const char *what)
{
	if (bench_run_until(current_or_stalled, &stall, max, what) ||
	    !bench_all_current((void *)(uintptr_t)0)) {
		fprintf(stderr,
		        "bench-propagation: %s: statuses stopped changing before all were "
		        "current\n",
		        what);
		bench_report_not_current();
		return -1;
	}
	return 0;
}

bool bench_none_current(void *ud)
{
	return S.n_current == 0;
}

struct fed_informer *bench_informer(struct fed_kube_client *c, const struct fed_kube_resource *r,
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
		bench_die("informer: %s", err.msg);
	fed_informer_start(inf);
	return inf;
}

bool bench_informers_synced(void *ud)
{
	for (int m = 0; m < N; m++)
		for (int k = 0; k < 4; k++)
			if (!fed_informer_synced(minf[m][k]))
				return false;
	return fed_informer_synced(h_fcm) && fed_informer_synced(h_fdep);
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
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(st, "clusters")) {
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
long bench_not_current(char *why, size_t n, bool print)
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
	k->t_ack = bench_now();
	k->acked = 1;
	wake = true;
}

static void floor_create_cb(struct fed_kube_response *resp, void *ud)
{
	struct track *k = ud;

	if (resp->err.code)
		note_failure(resp, "member create");
	if (++k->acked == N)
		k->t_ack = bench_now();
	wake = true;
}

struct track *bench_create_fed(const char *name, bool dep, int idx)
{
	struct fed_kube_ref ref = {dep ? &r_fdep : &r_fcm, FED_NS, NULL, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct track *k = track_new(&T_FED, name);
	cJSON *obj = dep ? dep_obj(name, idx, true) : cm_obj(name, idx, true);

	k->t_issue = bench_now();
	if (!obj || fed_kube_create(host, &ref, obj, NULL, fed_create_cb, k, NULL, &err))
		bench_die("create %s: %s", name, err.msg);
	cJSON_Delete(obj);
	return k;
}

struct track *bench_create_floor(const char *name, bool dep, int idx)
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
	k->t_issue = bench_now();
	for (int m = 0; m < N; m++)
		if (!obj ||
		    (opt.floor_apply
		         ? !body || fed_kube_patch(mc[m], &ref, FED_PATCH_APPLY, body, &wo,
		                                   floor_create_cb, k, NULL, &err)
		         : fed_kube_create(mc[m], &ref, obj, NULL, floor_create_cb, k, NULL, &err)))
			bench_die("create %s on %s: %s", name, mname[m], err.msg);
	free(body);
	cJSON_Delete(obj);
	return k;
}

bool bench_track_done(void *ud)
{
	struct track *k = ud;

	return k->seen == N && k->acked >= k->want_acks;
}

bool bench_tracker_reached(void *ud)
{
	struct count_goal *g = ud;

	return g->t->complete >= g->want;
}

/* Where a set of objects is still missing (after a timeout). */
void bench_report_missing(struct tracker *t)
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
