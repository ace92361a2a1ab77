/* Fuzz the RSP parser and planner: any JSON must parse or fail with a
 * one-line message; a parsed spec is planned over its own named clusters
 * plus a few synthetic ones, with offline/capacity/current drawn from the
 * input, and every plan must keep the planner's promises: the replicas
 * plus the unplaced are totalReplicas, every share is within
 * [min, max] and capacity when that is feasible, replicas are unplaced
 * only when no weighted cluster has room, and input order does not
 * change the result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/rsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXC 12

static const char *const synthetic[] = {"A", "B", "C", "member-1"};
#define N_SYNTH (sizeof(synthetic) / sizeof(synthetic[0]))

static void check_message(const struct fed_error *err)
{
	if (!err->code || !err->msg[0] || strchr(err->msg, '\n'))
		abort();
}

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A count around the total: unknown, 0, small, or up to a bit past it. */
static int64_t draw(uint64_t *rng, int64_t total)
{
	uint64_t r = next(rng);

	switch (r % 4) {
	case 0:
		return -1;
	case 1:
		return (int64_t)(r >> 8) % 4;
	default:
		return (int64_t)((r >> 8) % (uint64_t)(total + total / 2 + 2));
	}
}

static void check_plan(const struct fed_rsp_spec *s, const struct fed_rsp_cluster_in *in, size_t n,
                       const struct fed_rsp_cluster_out *out, int64_t unplaced)
{
	int64_t sum = 0, floor_sum = 0;
	bool all_full = true;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct fed_rsp_cluster_pref *p = fed_rsp_pref_for(s, in[i].name);
		bool cand = p && !in[i].offline && !in[i].barred &&
		            (!s->intersect_with_cluster_selector || in[i].selected);
		const struct fed_rsp_cluster_out *o = &out[i];

		if (o->name != in[i].name || o->replicas < 0 || o->overflow < 0)
			abort();
		if (!memchr(o->reason, '\0', sizeof(o->reason)) || !o->reason[0] ||
		    strchr(o->reason, '\n'))
			abort();
		if (o->keep != (in[i].offline && in[i].keep_offline))
			abort();
		if (o->keep ? o->retained != (in[i].current >= 0 ? in[i].current : -1)
		            : o->retained != 0)
			abort();
		sum += o->replicas;
		if (!cand) {
			if (o->replicas || o->overflow)
				abort();
			continue;
		}
		if (p->max >= 0 && o->replicas > p->max)
			abort();
		if (in[i].capacity >= 0 && o->replicas > in[i].capacity)
			abort();
		if (o->overflow && !(in[i].capacity >= 0 && o->replicas == in[i].capacity))
			abort();
		floor_sum +=
		    in[i].capacity >= 0 && in[i].capacity < p->min ? in[i].capacity : p->min;
		if (p->weight > 0 && !(p->max >= 0 && o->replicas == p->max) &&
		    !(in[i].capacity >= 0 && o->replicas == in[i].capacity))
			all_full = false;
	}
	if (unplaced < 0 || sum + unplaced != s->total_replicas)
		abort();
	/* replicas are left over only when no weighted cluster has room */
	if (unplaced > 0 && !all_full)
		abort();
	/* minimums come first: when they all fit, every cluster has its own */
	if (floor_sum > s->total_replicas)
		return;
	for (i = 0; i < n; i++) {
		const struct fed_rsp_cluster_pref *p = fed_rsp_pref_for(s, in[i].name);
		int64_t want;

		if (!p || in[i].offline || in[i].barred ||
		    (s->intersect_with_cluster_selector && !in[i].selected))
			continue;
		want = in[i].capacity >= 0 && in[i].capacity < p->min ? in[i].capacity : p->min;
		if (out[i].replicas < want)
			abort();
	}
}

static void plan_variant(const struct fed_rsp_spec *s, uint64_t seed)
{
	struct fed_rsp_cluster_in in[MAXC], rev[MAXC];
	struct fed_rsp_cluster_out out[MAXC], out_rev[MAXC];
	struct fed_error err = FED_ERROR_INIT;
	int64_t unplaced, unplaced_rev;
	uint64_t rng = seed | 1;
	size_t i, k, n = 0;

	/* the spec's own cluster names, so explicit entries get exercised */
	for (i = 0; i < s->n_clusters && n < MAXC - N_SYNTH; i++) {
		bool dup = !strcmp(s->clusters[i].name, FED_RSP_WILDCARD);
		for (k = 0; k < N_SYNTH && !dup; k++)
			dup = !strcmp(s->clusters[i].name, synthetic[k]);
		if (!dup)
			in[n++].name = s->clusters[i].name;
	}
	for (k = 0; k < N_SYNTH; k++)
		in[n++].name = synthetic[k];
	for (i = 0; i < n; i++) {
		uint64_t r = next(&rng);
		in[i].selected = (r & 3) != 0;
		in[i].offline = (r & 12) == 12;
		in[i].keep_offline = (r & 16) != 0;
		in[i].barred = (r & 64) == 64 && (r & 128) == 128;
		in[i].current = draw(&rng, s->total_replicas);
		in[i].capacity = (r & 32) ? draw(&rng, s->total_replicas) : -1;
	}
	if (fed_rsp_plan(s, in, n, out, &unplaced, &err))
		abort(); /* a parsed spec and unique names always plan */
	check_plan(s, in, n, out, unplaced);

	/* the same clusters in reverse order: the same plan per cluster */
	for (i = 0; i < n; i++)
		rev[i] = in[n - 1 - i];
	if (fed_rsp_plan(s, rev, n, out_rev, &unplaced_rev, &err) || unplaced_rev != unplaced)
		abort();
	for (i = 0; i < n; i++) {
		const struct fed_rsp_cluster_out *a = &out[i], *b = &out_rev[n - 1 - i];
		if (a->replicas != b->replicas || a->overflow != b->overflow ||
		    strcmp(a->reason, b->reason))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_rsp_spec s;
	uint64_t seed = 1469598103934665603u;
	cJSON *json;
	size_t i;

	if (size > (1u << 16))
		return 0;
	json = cJSON_ParseWithLength((const char *)data, size);
	if (fed_rsp_parse(json, &s, &err)) {
		check_message(&err);
		if (s.clusters || s.key || s.n_clusters)
			abort();
		cJSON_Delete(json);
		return 0;
	}
	cJSON_Delete(json);
	if (fed_rsp_validate(&s, &err) || !s.key || s.n_clusters == 0)
		abort();
	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 1099511628211u;
	for (i = 0; i < 4; i++) {
		plan_variant(&s, seed + i);
		s.rebalance = !s.rebalance;
	}
	fed_rsp_spec_release(&s);
	return 0;
}
