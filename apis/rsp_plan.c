/* The RSP planner: kubefed's algorithm (pkg/controller/util/planner), with
 * offline clusters, unplaced replicas and a reason for every number added
 * around it. The order of operations is kubefed's on purpose: its
 * documented results (and its known quirks, like A=10/B=70 with rebalance
 * off becoming 0/50) depend on it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/rsp.h"

enum cap { CAP_NONE, CAP_MAX, CAP_CAPACITY };

/* A candidate cluster while planning. */
struct cand {
	size_t idx; /* into in[] and out[] */
	const char *name;
	uint64_t order; /* weight descending, then kubefed's hash, in one key */
	struct fed_rsp_cluster_pref pref;
	int64_t capacity; /* -1: none */
	int64_t current;  /* running now, 0 if unknown */
	int64_t plan;
	int64_t min_got;  /* given by minReplicas */
	int64_t kept;     /* pre-allocated from current (rebalance off) */
	int64_t prealloc; /* of kept, not yet matched by a weighted share */
	int64_t overflow; /* kubefed's: wanted beyond capacity */
	enum cap capped;
};

/* kubefed's tie-break: FNV-1 32 (hash/fnv.New32) of name then key. */
static uint32_t fnv1(const char *name, const char *key)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p; p++)
		h = (h * 16777619u) ^ *p;
	for (p = (const unsigned char *)(key ? key : ""); *p; p++)
		h = (h * 16777619u) ^ *p;
	return h;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Weight descending, hash ascending (kubefed), then name: a total order,
 * so qsort's instability cannot change a plan. */
static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = *(const struct cand *const *)a;
	const struct cand *y = *(const struct cand *const *)b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* A cluster name with its hash, to find duplicates without comparing
 * every name. */
struct named {
	uint32_t hash;
	size_t idx;
	const char *name;
};

static int cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Names must be given and unique: the plan is keyed by them. */
static int check_names(const struct fed_rsp_cluster_in *in, size_t n, struct named *tmp,
                       struct fed_error *err)
{
	char q[FED_QUOTE_BUF];
	size_t i;

	for (i = 0; i < n; i++) {
		if (!in[i].name || !*in[i].name)
			return fed_error_set(err, FED_EINVAL,
			                     "clusters[%zu]: no name; pass the "
			                     "KubeFedCluster name",
			                     i);
		tmp[i] = (struct named){fnv1(in[i].name, NULL), i, in[i].name};
	}
	qsort(tmp, n, sizeof(*tmp), cmp_named);
	for (i = 1; i < n; i++) {
		size_t a = tmp[i - 1].idx, b = tmp[i].idx;

		if (tmp[i - 1].hash != tmp[i].hash || strcmp(tmp[i - 1].name, tmp[i].name))
			continue;
		fed_quote(q, sizeof(q), tmp[i].name);
		return fed_error_set(err, FED_EINVAL,
		                     "clusters[%zu] and clusters[%zu]: %s is given "
		                     "twice; pass each cluster once",
		                     a < b ? a : b, a < b ? b : a, q);
	}
	return 0;
}

/* kubefed's Plan(): minimums, then (rebalance off) what already runs, then
 * rounds of proportional shares rounded up until nothing changes. Returns
 * the replicas left over. c[] is sorted; it is reordered as clusters fill. */
static int64_t distribute(const struct fed_rsp_spec *s, struct cand **c, size_t n)
{
	int64_t remaining = s->total_replicas;
	size_t i, active;
	bool modified = true;

	for (i = 0; i < n; i++) {
		int64_t want = min64(c[i]->pref.min, remaining);
		int64_t got = c[i]->capacity >= 0 ? min64(want, c[i]->capacity) : want;

		if (got < want)
			c[i]->capped = CAP_CAPACITY;
		c[i]->min_got = c[i]->plan = got;
		remaining -= got;
	}
	for (i = 0; !s->rebalance && i < n; i++) {
		int64_t target = c[i]->current, extra;

		if (target <= c[i]->plan)
			continue;
		if (c[i]->pref.max >= 0)
			target = min64(target, c[i]->pref.max);
		if (c[i]->capacity >= 0)
			target = min64(target, c[i]->capacity);
		extra = min64(target - c[i]->plan, remaining);
		if (extra < 0)
			extra = 0;
		remaining -= extra;
		c[i]->kept = c[i]->prealloc = extra;
		c[i]->plan += extra;
	}

	/* Weight-0 clusters take nothing in these rounds (they sort last), so
	 * only weighted ones stay active. Every round either places replicas,
	 * uses up pre-allocation or fills a cluster, so the loop ends. */
	for (active = 0; active < n && c[active]->pref.weight > 0; active++)
		;
	while (modified && remaining > 0 && active > 0) {
		int64_t weight_sum = 0, round = remaining;
		size_t kept = 0;

		modified = false;
		for (i = 0; i < active; i++)
			weight_sum += c[i]->pref.weight;
		for (i = 0; i < active; i++) {
			struct cand *x = c[i];
			int64_t start = x->plan, total, used;
			/* round * weight <= 2^31 * 2^31: no overflow */
			int64_t prod = round * x->pref.weight;
			int64_t extra = prod / weight_sum + (prod % weight_sum != 0);
			bool full = false;

			extra = min64(extra, remaining);
			used = min64(extra, x->prealloc);
			x->prealloc -= used;
			extra -= used;
			if (used > 0)
				modified = true;
			total = start + extra;
			if (x->pref.max >= 0 && total > x->pref.max) {
				total = x->pref.max;
				full = true;
				x->capped = CAP_MAX;
			}
			if (x->capacity >= 0 && total > x->capacity) {
				x->overflow = total - x->capacity;
				total = x->capacity;
				full = true;
				x->capped = CAP_CAPACITY;
			}
			remaining -= total - start;
			x->plan = total;
			if (total > start)
				modified = true;
			if (!full)
				c[kept++] = x;
		}
		/* full clusters drop out of c[]; results are read from the
		 * candidates themselves, so losing their pointers here is fine */
		active = kept;
	}
	return remaining;
}

/* Append to a reason; a cut-off reason is still a reason. */
static void add(char *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(char *r, const char *fmt, ...)
{
	size_t len = strlen(r);
	va_list ap;

	if (len + 1 >= FED_RSP_REASON_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(r + len, FED_RSP_REASON_MAX - len, fmt, ap);
	va_end(ap);
}

static void explain(const struct cand *x, int64_t weight_sum, char *r)
{
	int64_t by_weight = x->plan - x->min_got - x->kept;

	r[0] = '\0';
	if (x->capped == CAP_CAPACITY) {
		add(r, "capped by capacity %lld", (long long)x->capacity);
		if (x->overflow > 0)
			add(r, ", %lld more wanted", (long long)x->overflow);
		return;
	}
	if (x->capped == CAP_MAX) {
		add(r, "capped by max %lld", (long long)x->pref.max);
		return;
	}
	if (x->pref.min > 0) {
		add(r, "min %lld", (long long)x->pref.min);
		if (x->min_got == 0)
			add(r, ", none left");
		else if (x->min_got < x->pref.min)
			add(r, ", only %lld left", (long long)x->min_got);
	}
	if (x->kept > 0)
		add(r, "%skept %lld running (rebalance off)", *r ? " + " : "", (long long)x->kept);
	if (by_weight > 0 && *r)
		add(r, " + %lld by weight %lld of %lld", (long long)by_weight,
		    (long long)x->pref.weight, (long long)weight_sum);
	else if (by_weight > 0 || (!*r && x->pref.weight > 0))
		add(r, "weight %lld of %lld%s", (long long)x->pref.weight, (long long)weight_sum,
		    by_weight ? "" : ", none left");
	else if (!*r)
		add(r, "weight 0");
}

/* Why a cluster is not a candidate, or NULL if it is. */
static const char *excluded(const struct fed_rsp_spec *s, const struct fed_rsp_cluster_in *c,
                            const struct fed_rsp_cluster_pref **pref)
{
	*pref = fed_rsp_pref_for(s, c->name);
	if (c->barred)
		return "the target's namespace is not placed there";
	if (s->intersect_with_cluster_selector && !c->selected)
		return "not selected by placement";
	if (!*pref)
		return "no entry";
	return NULL;
}

static void plan_offline(const struct fed_rsp_cluster_in *c, const char *why,
                         struct fed_rsp_cluster_out *o)
{
	if (c->keep_offline) {
		o->keep = true;
		o->retained = c->current >= 0 ? c->current : -1;
		if (c->current >= 0)
			add(o->reason, "offline: %s, %lld kept", why ? why : "share moved",
			    (long long)c->current);
		else
			add(o->reason, "offline: %s, kept as is", why ? why : "share moved");
		return;
	}
	add(o->reason, "offline: %s", why ? why : "share moved");
}

int fed_rsp_plan(const struct fed_rsp_spec *s, const struct fed_rsp_cluster_in *in, size_t n,
                 struct fed_rsp_cluster_out *out, int64_t *unplaced, struct fed_error *err)
{
	struct cand *cands = NULL, **order = NULL;
	struct named *names = NULL;
	int64_t left, weight_sum = 0;
	size_t i, nc = 0;
	int ret;

	if (unplaced)
		*unplaced = 0;
	if ((ret = fed_rsp_validate(s, err)))
		goto out;
	if (n > 0 && (!in || !out)) {
		ret = fed_error_set(err, FED_EINVAL, "fed_rsp_plan: %zu clusters but no %s array",
		                    n, in ? "output" : "input");
		goto out;
	}
	/* +1: calloc(0) may return NULL */
	cands = calloc(n + 1, sizeof(*cands));
	order = calloc(n + 1, sizeof(*order));
	names = calloc(n + 1, sizeof(*names));
	if (!cands || !order || !names) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = check_names(in, n, names, err)))
		goto out;

	for (i = 0; i < n; i++) {
		const struct fed_rsp_cluster_pref *pref;
		const char *why = excluded(s, &in[i], &pref);
		struct fed_rsp_cluster_out *o = &out[i];
		struct cand *x;

		memset(o, 0, sizeof(*o));
		o->name = in[i].name;
		if (in[i].offline) {
			plan_offline(&in[i], why, o);
			continue;
		}
		if (why) {
			add(o->reason, "%s", why);
			continue;
		}
		x = &cands[nc];
		x->idx = i;
		x->name = in[i].name;
		/* weight <= FED_RSP_WEIGHT_MAX < 2^31, so it fits above the hash */
		x->order =
		    (uint64_t)(FED_RSP_WEIGHT_MAX - pref->weight) << 32 | fnv1(in[i].name, s->key);
		x->pref = *pref;
		x->capacity = in[i].capacity >= 0 ? in[i].capacity : -1;
		x->current = in[i].current > 0 ? in[i].current : 0;
		weight_sum += pref->weight;
		order[nc] = x;
		nc++;
	}
	qsort(order, nc, sizeof(*order), cmp_cand);
	left = distribute(s, order, nc);

	for (i = 0; i < nc; i++) {
		struct cand *x = &cands[i];
		struct fed_rsp_cluster_out *o = &out[x->idx];

		/* with rebalance off kubefed keeps only the overflow that found
		 * no home elsewhere */
		if (!s->rebalance)
			x->overflow = min64(x->overflow, left);
		o->replicas = x->plan;
		o->overflow = x->overflow > 0 ? x->overflow : 0;
		explain(x, weight_sum, o->reason);
	}
	if (unplaced)
		*unplaced = left;
out:
	free(names);
	free(order);
	free(cands);
	return ret;
}
