/* bench-hostile: hostile peers against a running fed-controller, and what
 * they do to it (see bench/hostile/run and docs/benchmarks.md). */
#ifndef BENCH_HOSTILE_H
#define BENCH_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- peers.c: the attack, on a thread of its own ---------------------- */

enum scenario_kind {
	SC_IDLE,    /* no attack: the baseline */
	SC_GARBAGE, /* (a) unauthenticated clients: garbage, wrong tokens */
	SC_FLOOD,   /* (b) one authenticated agent flooding, never reading */
	SC_ENDLESS, /* (c) a member apiserver answering an endless body */
};

struct attack_opts {
	enum scenario_kind kind;
	int tunnel_port;
	int clients;            /* (a): how many at once */
	const char *token_file; /* (b): a bootstrap token of the flooding cluster */
	int endless_port;       /* (c): listen here */
	const char *endless_cert, *endless_key;
};

/* What the peers did; read after attack_stop(). */
struct attack_stats {
	unsigned long dials, connects, tls_ok, closed_by_host;
	unsigned long long bytes_sent; /* to the tunnel, or the endless body */
	unsigned long auth_ok;         /* (b) */
	unsigned long endless_conns;   /* (c) connections to the endless server */
	char error[256];               /* a peer could not do its part */
};

struct attack;
int attack_start(struct attack **out, const struct attack_opts *o, char *err, size_t errlen);
/* Stops every peer, joins the thread, fills *st and frees a. */
void attack_stop(struct attack *a, struct attack_stats *st);

/* ---- watch.c: the controller as seen from outside, on the main loop --- */

struct watch_opts {
	int pid;
	int metrics_port;
	const char *kubeconfig, *context; /* the host cluster */
	const char *fed_namespace, *lease_name;
	const char *good_prefix; /* good agent clusters: PREFIX0 .. PREFIX<n-1> */
	int good;
	double rss_cap_mib;      /* SIGKILL the controller above this */
	double lease_late_after; /* a renewal later than this after the last is late */
};

#define LAG_BUCKETS 13 /* fed_loop_lag_seconds: 12 bounds and +Inf */

struct lag_snapshot {
	bool ok;
	double count[LAG_BUCKETS]; /* cumulative, as scraped */
	double max;                /* fed_loop_lag_max_seconds */
};

struct watch_phase {
	/* RSS (MiB) */
	double rss_first, rss_last, rss_peak;
	int rss_samples;
	/* /metrics */
	int scrapes, scrape_failures, samples_not_all_connected;
	double min_agents_seen; /* smallest sum of the good clusters' fed_tunnel_agents */
	struct lag_snapshot lag_first, lag_last;
	/* KubeFedClusters */
	int kfc_polls, kfc_not_ready;
	/* Lease */
	int lease_polls, lease_failures, renewals, late_renewals;
	double max_renew_gap;
	bool holder_changed;
};

struct watch;
int watch_new(struct watch **out, const struct watch_opts *o, char *err, size_t errlen);
void watch_free(struct watch *w);
/* Run the main loop for seconds, accounting into *ph (zeroed first); then
 * up to wait_answer seconds more until /metrics answered once in it (a
 * stalled controller may recover, or die). */
void watch_run(struct watch *w, double seconds, double wait_answer, struct watch_phase *ph);
/* The controller exited, or we killed it at the RSS cap (at: ev_time()). */
bool watch_controller_gone(const struct watch *w, bool *killed, double *at);
/* The bounds of fed_loop_lag_seconds, +Inf last. */
extern const double lag_bounds[LAG_BUCKETS];

#endif
