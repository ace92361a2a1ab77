/* RSP planner cost: 1,000 RSPs with varied preferences, each planned over
 * the same 100 member clusters (per-RSP current replicas, some clusters
 * with a capacity, a few offline), against a floor: a trivial even split
 * over the same inputs in the same run. Prints a table and one JSON line.
 *
 * Build (no CMake target for bench/ yet):
 *   cc -O2 -std=c11 -D_GNU_SOURCE -I include bench/rsp-plan.c apis/rsp.c \
 *      apis/rsp_plan.c lib/error.c lib/log.c -lcjson -lm -o rsp-plan
 * Run: ./rsp-plan [rounds]   (default 20; the median round is reported) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fed/rsp.h"

#define N_CLUSTERS 100
#define N_RSPS     1000

struct workload {
	struct fed_rsp_spec spec;
	struct fed_rsp_cluster_in in[N_CLUSTERS];
};

static char names[N_CLUSTERS][16];

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int64_t pick(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(next() % (uint64_t)(hi - lo + 1));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One RSP as JSON, in one of four shapes users write. */
static void make_json(int i, char *buf, size_t size)
{
	int shape = (int)pick(0, 9), o = 0, k, entries, first = (int)pick(0, N_CLUSTERS - 1);
	int64_t total = pick(0, 9) == 0 ? pick(0, 5) : pick(10, 3000);

	o += snprintf(buf + o, size - (size_t)o,
	              "{\"metadata\":{\"namespace\":\"bench\",\"name\":\"rsp-%d\"},\"spec\":{"
	              "\"targetKind\":\"FederatedDeployment\",\"totalReplicas\":%lld,"
	              "\"rebalance\":%s,\"intersectWithClusterSelector\":%s,\"clusters\":{",
	              i, (long long)total, pick(0, 1) ? "true" : "false",
	              pick(0, 9) == 0 ? "true" : "false");
	if (shape < 3) { /* the default: every cluster, equal weight */
		snprintf(buf + o, size - (size_t)o, "}}}");
		return;
	}
	if (shape < 8) /* "*" plus some explicit entries */
		o += snprintf(buf + o, size - (size_t)o,
		              "\"*\":{\"weight\":%lld,\"minReplicas\":%lld},",
		              (long long)pick(0, 3), (long long)pick(0, 2));
	entries = shape < 8 ? (int)pick(5, 20) : (int)pick(10, 50);
	for (k = 0; k < entries; k++) {
		int64_t min = pick(0, 4) == 0 ? pick(1, 10) : 0;
		o += snprintf(
		    buf + o, size - (size_t)o, "\"%s\":{\"weight\":%lld,\"minReplicas\":%lld",
		    /* 37 is coprime with 100: distinct names */
		    names[(first + 37 * k) % N_CLUSTERS], (long long)pick(0, 10), (long long)min);
		if (pick(0, 2) == 0)
			o += snprintf(buf + o, size - (size_t)o, ",\"maxReplicas\":%lld",
			              (long long)(min + pick(0, 200)));
		o += snprintf(buf + o, size - (size_t)o, "},");
	}
	buf[o - 1] = '}'; /* replaces the last comma */
	snprintf(buf + o, size - (size_t)o, "}}");
}

static void make_inputs(struct workload *w)
{
	int64_t per = w->spec.total_replicas / N_CLUSTERS + 1;
	size_t c;

	for (c = 0; c < N_CLUSTERS; c++) {
		struct fed_rsp_cluster_in *in = &w->in[c];

		in->name = names[c];
		in->selected = pick(0, 4) != 0;
		in->offline = pick(0, 32) == 0;
		in->keep_offline = in->offline && pick(0, 1);
		in->current = pick(0, 3) == 0 ? -1 : pick(0, 3 * per);
		in->capacity = pick(0, 9) == 0 ? pick(0, 2 * per) : -1;
	}
}

/* The floor: total / n each, the remainder to the first clusters. */
static void even_split(const struct workload *w, struct fed_rsp_cluster_out *out)
{
	int64_t total = w->spec.total_replicas, base = total / N_CLUSTERS,
	        extra = total % N_CLUSTERS;
	size_t c;

	for (c = 0; c < N_CLUSTERS; c++) {
		out[c].name = w->in[c].name;
		out[c].replicas = base + ((int64_t)c < extra);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static struct workload wl[N_RSPS];
	static struct fed_rsp_cluster_out out[N_CLUSTERS];
	static char json[16384];
	int rounds = argc > 1 ? atoi(argv[1]) : 20;
	double *plan_ms = NULL, *even_ms = NULL, parse_ms = 0, t;
	int64_t checksum = 0, unplaced_total = 0;
	struct fed_error err = FED_ERROR_INIT;
	int i, r, ret = 1;
	size_t c;

	if (rounds < 1)
		rounds = 1;
	plan_ms = calloc((size_t)rounds, sizeof(*plan_ms));
	even_ms = calloc((size_t)rounds, sizeof(*even_ms));
	if (!plan_ms || !even_ms)
		goto out;
	for (c = 0; c < N_CLUSTERS; c++)
		snprintf(names[c], sizeof(names[c]), "cluster-%03zu", c);
	for (i = 0; i < N_RSPS; i++) {
		cJSON *j;

		make_json(i, json, sizeof(json));
		j = cJSON_Parse(json);
		t = now_ms();
		if (fed_rsp_parse(j, &wl[i].spec, &err)) {
			fprintf(stderr, "rsp-plan: RSP %d: %s\n", i, err.msg);
			cJSON_Delete(j);
			goto out;
		}
		parse_ms += now_ms() - t;
		cJSON_Delete(j);
		make_inputs(&wl[i]);
	}

	for (r = 0; r < rounds; r++) {
		t = now_ms();
		for (i = 0; i < N_RSPS; i++) {
			int64_t unplaced;

			if (fed_rsp_plan(&wl[i].spec, wl[i].in, N_CLUSTERS, out, &unplaced, &err)) {
				fprintf(stderr, "rsp-plan: RSP %d: %s\n", i, err.msg);
				goto out;
			}
			checksum += out[i % N_CLUSTERS].replicas;
			if (r == 0)
				unplaced_total += unplaced;
		}
		plan_ms[r] = now_ms() - t;

		t = now_ms();
		for (i = 0; i < N_RSPS; i++) {
			even_split(&wl[i], out);
			checksum += out[i % N_CLUSTERS].replicas;
		}
		even_ms[r] = now_ms() - t;
	}
	qsort(plan_ms, (size_t)rounds, sizeof(*plan_ms), cmp_double);
	qsort(even_ms, (size_t)rounds, sizeof(*even_ms), cmp_double);
	{
		double p = plan_ms[rounds / 2], e = even_ms[rounds / 2];

		printf("rsp-plan: %d clusters x %d RSPs, median of %d rounds\n", N_CLUSTERS, N_RSPS,
		       rounds);
		printf("  planner     %9.3f ms total  %8.3f us/plan  (best %.3f ms)\n", p,
		       p * 1e3 / N_RSPS, plan_ms[0]);
		printf("  even split  %9.3f ms total  %8.3f us/plan  (floor)\n", e,
		       e * 1e3 / N_RSPS);
		printf("  ratio       %9.1fx\n", e > 0 ? p / e : 0.0);
		printf("  parse       %9.3f ms for %d RSPs (once)\n", parse_ms, N_RSPS);
		printf("  unplaced replicas over all RSPs: %lld (all capped/offline/weight 0)\n",
		       (long long)unplaced_total);
		printf("{\"bench\":\"rsp-plan\",\"clusters\":%d,\"rsps\":%d,\"rounds\":%d,"
		       "\"plan_total_ms\":%.3f,\"plan_per_plan_us\":%.3f,\"plan_best_ms\":%.3f,"
		       "\"even_total_ms\":%.3f,\"even_per_plan_us\":%.3f,\"ratio\":%.1f,"
		       "\"parse_total_ms\":%.3f,\"checksum\":%lld}\n",
		       N_CLUSTERS, N_RSPS, rounds, p, p * 1e3 / N_RSPS, plan_ms[0], e,
		       e * 1e3 / N_RSPS, e > 0 ? p / e : 0.0, parse_ms, (long long)checksum);
	}
	ret = 0;
out:
	for (i = 0; i < N_RSPS; i++)
		fed_rsp_spec_release(&wl[i].spec);
	free(plan_ms);
	free(even_ms);
	return ret;
}
