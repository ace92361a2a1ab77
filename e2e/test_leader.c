/* Leader election against the host kube-apiserver: electors with their own
 * clients on one loop, real HTTP to the real server. Checked at every loop
 * iteration: never two leaders of one Lease at the same instant. Measured:
 * takeover after a crash (scaled 6/4/1 s and production 15/10/2 s), after a
 * graceful release, and the leader's step-down when the API server freezes.
 * Also: the leader alone cut off from the server (a blackhole TCP proxy in
 * front of its client) steps down before the other takes over; expiry is
 * judged by when the record was seen to change, never by the holder's
 * renewTime; electors freed from their own callbacks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "fed/leader.h"

static struct ev_loop *loop;
static struct fed_kube_client *admin;
static const struct fed_kube_resource r_lease = {"coordination.k8s.io", "v1", "leases", true};
static const char *ns = "default";

/* scaled-down timings for most cases */
#define LEASE 6.0
#define RENEW 4.0
#define RETRY 1.0

struct cand {
	char id[32];
	char lease[96];
	struct fed_kube_client *client;
	struct fed_leader *le;
	double lease_duration, renew_deadline, retry_period;
	bool leading; /* between on_started_leading and on_stopped_leading */
	int started, stopped, released;
	double t_started, t_stopped; /* fed_leader_now() in the callbacks */
	double renewed_before_stop;  /* status.renewed_at seen in on_stopped_leading */
	char seen_leader[96];
	int release_code;
	bool free_on_start, free_on_stop;
};

#define MAX_CANDS 8
static struct cand *cands[MAX_CANDS];
static int violations;
static unsigned long ticks;
static ev_check checker;
static bool poll_mode; /* new electors: poll_only (client-go exactly) */
static bool via_proxy; /* new electors: their client goes through the proxy */

static bool acting(const struct cand *c)
{
	return c->le && (c->leading || fed_leader_is_leader(c->le));
}

/* at every loop iteration: at most one elector of a lease leads */
static void check_cb(struct ev_loop *l, ev_check *w, int revents)
{
	ticks++;
	for (int i = 0; i < MAX_CANDS; i++)
		for (int j = i + 1; j < MAX_CANDS; j++)
			if (cands[i] && cands[j] && !strcmp(cands[i]->lease, cands[j]->lease) &&
			    acting(cands[i]) && acting(cands[j])) {
				fprintf(stderr, "  VIOLATION: %s and %s both lead %s\n",
				        cands[i]->id, cands[j]->id, cands[i]->lease);
				violations++;
			}
}

static void on_started(void *ud)
{
	struct cand *c = ud;

	for (int i = 0; i < MAX_CANDS; i++)
		if (cands[i] && cands[i] != c && !strcmp(cands[i]->lease, c->lease) &&
		    cands[i]->leading) {
			fprintf(stderr, "  VIOLATION: %s started while %s leads\n", c->id,
			        cands[i]->id);
			violations++;
		}
	c->leading = true;
	c->started++;
	c->t_started = fed_leader_now();
	if (c->free_on_start) {
		fed_leader_free(c->le);
		c->le = NULL;
		c->leading = false;
	}
}

static void on_stopped(void *ud)
{
	struct cand *c = ud;
	struct fed_leader_status st;

	fed_leader_status(c->le, &st);
	c->leading = false;
	c->stopped++;
	c->t_stopped = fed_leader_now();
	c->renewed_before_stop = st.renewed_at;
	if (c->free_on_stop) {
		fed_leader_free(c->le);
		c->le = NULL;
	}
}

static void on_new_leader(const char *id, void *ud)
{
	struct cand *c = ud;

	snprintf(c->seen_leader, sizeof(c->seen_leader), "%s", id);
}

static void on_released(const struct fed_error *err, void *ud)
{
	struct cand *c = ud;

	c->released++;
	c->release_code = err ? err->code : 0;
}

/* ---- a TCP proxy on the loop that can blackhole its connections: bytes
 * stop flowing both ways and new connections wait in the backlog, as when
 * packets are dropped; the sockets stay open (no refusal, no reset). */

struct half {
	int from, to;
	char buf[65536];
	size_t len, off;
	ev_io rd, wr;
	struct pconn *pc;
};

struct pconn {
	struct half up, down; /* client -> server, server -> client */
	bool closed;
	struct pconn *next;
};

static struct {
	int lfd;
	ev_io accept_w;
	struct sockaddr_in target;
	struct pconn *conns;
	bool blocked;
	int port;
} px; /* lfd -1 when not listening: set in main */

static void half_resume(struct half *h)
{
	if (h->pc->closed || px.blocked)
		return;
	if (h->len > h->off)
		ev_io_start(loop, &h->wr);
	else
		ev_io_start(loop, &h->rd);
}

static void pconn_close(struct pconn *pc)
{
	if (pc->closed)
		return;
	pc->closed = true;
	ev_io_stop(loop, &pc->up.rd);
	ev_io_stop(loop, &pc->up.wr);
	ev_io_stop(loop, &pc->down.rd);
	ev_io_stop(loop, &pc->down.wr);
	close(pc->up.from);
	close(pc->up.to);
}

static void half_write(struct half *h)
{
	ssize_t n;

	while (h->off < h->len) {
		n = write(h->to, h->buf + h->off, h->len - h->off);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			pconn_close(h->pc);
			return;
		}
		h->off += (size_t)n;
	}
	if (h->off == h->len)
		h->off = h->len = 0;
	ev_io_stop(loop, &h->rd);
	ev_io_stop(loop, &h->wr);
	half_resume(h);
}

static void half_rd_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct half *h = w->data;
	ssize_t n = read(h->from, h->buf, sizeof(h->buf));

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		pconn_close(h->pc);
		return;
	}
	h->len = (size_t)n;
	h->off = 0;
	half_write(h);
}

static void half_wr_cb(struct ev_loop *l, ev_io *w, int revents)
{
	half_write(w->data);
}

static void half_init(struct half *h, struct pconn *pc, int from, int to)
{
	h->pc = pc;
	h->from = from;
	h->to = to;
	ev_io_init(&h->rd, half_rd_cb, from, EV_READ);
	ev_io_init(&h->wr, half_wr_cb, to, EV_WRITE);
	h->rd.data = h;
	h->wr.data = h;
}

static void accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct pconn *pc;
	int c = accept(px.lfd, NULL, NULL), u;

	if (c < 0)
		return;
	u = socket(AF_INET, SOCK_STREAM, 0);
	/* a blocking connect to 127.0.0.1 completes at once (the kernel
	 * accepts even for a frozen server) */
	if (u < 0 || connect(u, (struct sockaddr *)&px.target, sizeof(px.target))) {
		close(c);
		if (u >= 0)
			close(u);
		return;
	}
	fcntl(c, F_SETFL, O_NONBLOCK);
	fcntl(u, F_SETFL, O_NONBLOCK);
	pc = calloc(1, sizeof(*pc));
	half_init(&pc->up, pc, c, u);
	half_init(&pc->down, pc, u, c);
	pc->next = px.conns;
	px.conns = pc;
	half_resume(&pc->up);
	half_resume(&pc->down);
}

/* Listen on 127.0.0.1 in front of server ("https://127.0.0.1:PORT"). */
static int proxy_start(const char *server)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int port;

	if (sscanf(server, "https://127.0.0.1:%d", &port) != 1)
		return -1;
	memset(&px.target, 0, sizeof(px.target));
	px.target.sin_family = AF_INET;
	px.target.sin_port = htons((uint16_t)port);
	px.target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	px.lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (px.lfd < 0 || bind(px.lfd, (struct sockaddr *)&a, sizeof(a)) || listen(px.lfd, 64) ||
	    getsockname(px.lfd, (struct sockaddr *)&a, &len))
		return -1;
	fcntl(px.lfd, F_SETFL, O_NONBLOCK);
	px.port = ntohs(a.sin_port);
	px.blocked = false;
	ev_io_init(&px.accept_w, accept_cb, px.lfd, EV_READ);
	ev_io_start(loop, &px.accept_w);
	return 0;
}

static void proxy_block(bool block)
{
	px.blocked = block;
	for (struct pconn *pc = px.conns; pc; pc = pc->next) {
		if (pc->closed)
			continue;
		if (block) {
			ev_io_stop(loop, &pc->up.rd);
			ev_io_stop(loop, &pc->up.wr);
			ev_io_stop(loop, &pc->down.rd);
			ev_io_stop(loop, &pc->down.wr);
		} else {
			half_resume(&pc->up);
			half_resume(&pc->down);
		}
	}
	if (block)
		ev_io_stop(loop, &px.accept_w);
	else
		ev_io_start(loop, &px.accept_w);
}

static void proxy_stop(void)
{
	struct pconn *pc, *next;

	ev_io_stop(loop, &px.accept_w);
	if (px.lfd >= 0)
		close(px.lfd);
	px.lfd = -1;
	for (pc = px.conns; pc; pc = next) {
		next = pc->next;
		pconn_close(pc);
		free(pc);
	}
	px.conns = NULL;
}

static void lease_name(char *buf, size_t len, const char *suffix)
{
	snprintf(buf, len, "e2e-leader-%d-%s", (int)getpid(), suffix);
}

/* durations 0: the production defaults */
static struct cand *cand_new(const char *id, const char *lease, double lease_s, double renew_s,
                             double retry_s, bool start)
{
	struct fed_rest_config cfg;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_leader_opts o;
	struct cand *c = calloc(1, sizeof(*c));
	int i;

	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->lease, sizeof(c->lease), "%s", lease);
	c->lease_duration = lease_s ? lease_s : FED_LEADER_LEASE_DURATION;
	c->renew_deadline = renew_s ? renew_s : FED_LEADER_RENEW_DEADLINE;
	c->retry_period = retry_s ? retry_s : FED_LEADER_RETRY_PERIOD;
	if (e2e_load(&cfg, "host"))
		exit(1);
	if (via_proxy) {
		char server[64];
		snprintf(server, sizeof(server), "https://127.0.0.1:%d", px.port);
		free(cfg.server);
		cfg.server = strdup(server);
	}
	if (fed_kube_client_new(&c->client, loop, &cfg, id, &err)) {
		fprintf(stderr, "client: %s\n", err.msg);
		exit(1);
	}
	fed_rest_config_release(&cfg);
	memset(&o, 0, sizeof(o));
	o.lease_namespace = ns;
	o.lease_name = lease;
	o.identity = id;
	o.lease_duration = lease_s;
	o.renew_deadline = renew_s;
	o.retry_period = retry_s;
	o.poll_only = poll_mode;
	o.cb.on_started_leading = on_started;
	o.cb.on_stopped_leading = on_stopped;
	o.cb.on_new_leader = on_new_leader;
	o.cb.on_released = on_released;
	o.ud = c;
	if (fed_leader_new(&c->le, c->client, &o, &err)) {
		fprintf(stderr, "leader: %s\n", err.msg);
		exit(1);
	}
	if (start && fed_leader_start(c->le, &err)) {
		fprintf(stderr, "start: %s\n", err.msg);
		exit(1);
	}
	for (i = 0; i < MAX_CANDS && cands[i]; i++)
		;
	cands[i] = c;
	return c;
}

/* A crash: the elector vanishes without releasing; it stops acting. */
static void cand_crash(struct cand *c)
{
	fed_leader_free(c->le);
	c->le = NULL;
	c->leading = false;
}

static void cand_free(struct cand *c)
{
	if (!c)
		return;
	for (int i = 0; i < MAX_CANDS; i++)
		if (cands[i] == c)
			cands[i] = NULL;
	fed_leader_free(c->le);
	fed_kube_client_free(c->client);
	free(c);
}

static void spin(double secs)
{
	bool never = false;

	fed_kube_wait(loop, &never, secs);
}

/* Run the loop until one of the candidates leads (by its callbacks). */
static struct cand *wait_leader(struct cand **cs, int n, double timeout)
{
	double end = e2e_now() + timeout;

	do {
		for (int i = 0; i < n; i++)
			if (cs[i] && cs[i]->le && cs[i]->leading)
				return cs[i];
		spin(0.01);
	} while (e2e_now() < end);
	return NULL;
}

static bool wait_flag(const int *counter, int target, double timeout)
{
	double end = e2e_now() + timeout;

	while (*counter < target && e2e_now() < end)
		spin(0.01);
	return *counter >= target;
}

/* ---- the Lease as the server has it */

struct lease_view {
	int code;
	char holder[96];
	long duration, transitions;
	char renew[64], acquire[64];
};

static void lease_get(const char *name, struct lease_view *v)
{
	struct fed_kube_ref ref = {&r_lease, ns, name, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct fed_leader_record rec;
	struct e2e_result r;

	memset(v, 0, sizeof(*v));
	memset(&r, 0, sizeof(r));
	if (fed_kube_get(admin, &ref, e2e_cb, &r, NULL, &err)) {
		v->code = err.code;
		return;
	}
	v->code = e2e_wait(loop, &r);
	if (!v->code && !fed_leader_record_parse(&rec, r.json, &err)) {
		snprintf(v->holder, sizeof(v->holder), "%s", rec.holder);
		snprintf(v->renew, sizeof(v->renew), "%s", rec.renew_time);
		snprintf(v->acquire, sizeof(v->acquire), "%s", rec.acquire_time);
		v->duration = rec.duration_s;
		v->transitions = rec.transitions;
		fed_leader_record_release(&rec);
	}
	e2e_result_release(&r);
}

static void lease_delete(const char *name)
{
	struct fed_kube_ref ref = {&r_lease, ns, name, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct e2e_result r;

	memset(&r, 0, sizeof(r));
	if (!fed_kube_delete(admin, &ref, NULL, e2e_cb, &r, NULL, &err))
		e2e_wait(loop, &r);
	e2e_result_release(&r);
}

/* Write a Lease as another ("ghost") holder would: create or replace its
 * spec. Returns the result code. */
static int lease_put_ghost(const char *name, const char *holder, long duration, const char *renew)
{
	struct fed_kube_ref ref = {&r_lease, ns, name, NULL};
	struct fed_error err = FED_ERROR_INIT;
	struct e2e_result r;
	char body[1024];
	int ret;

	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{"
	         "\"name\":\"%s\",\"namespace\":\"%s\"},\"spec\":{\"holderIdentity\":\"%s\","
	         "\"leaseDurationSeconds\":%ld,\"acquireTime\":\"1970-01-01T00:00:00.000000Z\","
	         "\"renewTime\":\"%s\",\"leaseTransitions\":0}}",
	         name, ns, holder, duration, renew);
	memset(&r, 0, sizeof(r));
	/* server-side apply: creates or updates, no resourceVersion needed */
	{
		struct fed_kube_write_opts o = {"e2e-ghost", true, false};
		ret =
		    fed_kube_patch(admin, &ref, FED_PATCH_APPLY, body, &o, e2e_cb, &r, NULL, &err);
	}
	if (!ret)
		ret = e2e_wait(loop, &r);
	e2e_result_release(&r);
	return ret;
}

static bool is_microtime(const char *s)
{
	struct timespec ts;

	/* 2024-05-01T12:34:56.123456Z */
	return strlen(s) == 27 && s[19] == '.' && s[26] == 'Z' && !fed_leader_time_parse(s, &ts);
}

/* ---- cases */

static void one_leader_and_crash(void)
{
	char name[96];
	struct cand *a, *b, *cs[2], *l, *o;
	struct lease_view v;
	struct fed_leader_status st;
	double t0, crashed_renewed, took;
	int v0 = violations;

	lease_name(name, sizeof(name), poll_mode ? "crash-poll" : "crash");
	lease_delete(name);
	/* both start at once on an absent Lease: both GET 404, both CREATE,
	 * one gets 409 AlreadyExists */
	a = cand_new("A", name, LEASE, RENEW, RETRY, true);
	b = cand_new("B", name, LEASE, RENEW, RETRY, true);
	cs[0] = a;
	cs[1] = b;
	l = wait_leader(cs, 2, 10);
	CHECK(l != NULL);
	o = l == a ? b : a;
	spin(3 * RETRY); /* a few renewals */
	CHECK(l->leading && !o->leading);
	CHECK_INT(l->started, 1);
	CHECK_INT(l->stopped + o->started + o->stopped, 0);
	CHECK(fed_leader_is_leader(l->le) && !fed_leader_is_leader(o->le));
	lease_get(name, &v);
	CHECK_INT(v.code, 0);
	CHECK_STR(v.holder, l->id);
	CHECK_INT(v.duration, (long)LEASE);
	CHECK_INT(v.transitions, 0);
	CHECK(is_microtime(v.renew));
	CHECK(is_microtime(v.acquire));
	CHECK_STR(l->seen_leader, l->id);
	CHECK_STR(o->seen_leader, l->id);
	fed_leader_status(o->le, &st);
	CHECK_STR(st.holder, l->id);
	CHECK(!st.leading);

	/* the leader crashes: the other takes over once the lease expires */
	fed_leader_status(l->le, &st);
	crashed_renewed = st.renewed_at;
	t0 = fed_leader_now();
	cand_crash(l);
	CHECK(wait_leader(&o, 1, LEASE + 3 * FED_LEADER_JITTER * RETRY + 5) == o);
	took = o->t_started - t0;
	fprintf(stderr,
	        "  %s: takeover after a crash (lease %gs, renew %gs, retry %gs): %.2fs "
	        "(%.2fs after the crashed leader's last renewal)\n",
	        poll_mode ? "poll" : "watch", LEASE, RENEW, RETRY, took,
	        o->t_started - crashed_renewed);
	CHECK(took <= 15.0);
	if (poll_mode)
		/* one candidate poll (<= 2.2 retry) to see the last renewal, then
		 * the lease duration, plus request latency */
		CHECK(took <= LEASE + (1 + FED_LEADER_JITTER) * RETRY + 1.0);
	else
		/* the watch saw the last renewal when it happened */
		CHECK(took <= LEASE + RETRY);
	/* and never before the lease could have expired */
	CHECK(o->t_started - crashed_renewed >= LEASE);
	lease_get(name, &v);
	CHECK_STR(v.holder, o->id);
	CHECK_INT(v.transitions, 1);
	CHECK_STR(o->seen_leader, o->id);
	CHECK_INT(violations, v0);
	cand_free(a);
	cand_free(b);
	lease_delete(name);
}

static void release_case(void)
{
	char name[96];
	struct cand *a, *b, *cs[2], *l, *o;
	struct lease_view v;
	double t0, took;
	int v0 = violations;

	lease_name(name, sizeof(name), poll_mode ? "release-poll" : "release");
	lease_delete(name);
	a = cand_new("A", name, LEASE, RENEW, RETRY, true);
	b = cand_new("B", name, LEASE, RENEW, RETRY, true);
	cs[0] = a;
	cs[1] = b;
	l = wait_leader(cs, 2, 10);
	CHECK(l != NULL);
	o = l == a ? b : a;
	spin(1.5 * RETRY);
	t0 = fed_leader_now();
	fed_leader_release(l->le);
	/* stopped before fed_leader_release returned */
	CHECK_INT(l->stopped, 1);
	CHECK(!l->leading && !fed_leader_is_leader(l->le));
	CHECK(wait_leader(&o, 1, 10) == o);
	took = o->t_started - t0;
	fprintf(stderr, "  %s: takeover after a graceful release (retry %gs): %.2fs\n",
	        poll_mode ? "poll" : "watch", RETRY, took);
	if (poll_mode)
		CHECK(took <= (1 + FED_LEADER_JITTER) * RETRY + 1.0);
	else
		CHECK(took <= RETRY);
	CHECK(wait_flag(&l->released, 1, 10));
	CHECK_INT(l->release_code, 0);
	lease_get(name, &v);
	CHECK_STR(v.holder, o->id);
	CHECK_INT(v.transitions, 1);
	CHECK_INT(v.duration, (long)LEASE);
	/* the released elector stays idle */
	spin(2 * RETRY);
	CHECK_INT(l->started, 1);
	CHECK(!fed_leader_is_leader(l->le));
	CHECK_INT(violations, v0);
	cand_free(a);
	cand_free(b);
	lease_delete(name);
}

static void test_crash_watch(void)
{
	poll_mode = false;
	one_leader_and_crash();
}

static void test_crash_poll(void)
{
	poll_mode = true;
	one_leader_and_crash();
	poll_mode = false;
}

static void test_release_watch(void)
{
	poll_mode = false;
	release_case();
}

static void test_release_poll(void)
{
	poll_mode = true;
	release_case();
	poll_mode = false;
}

static void test_partition(void)
{
	char name[96];
	struct cand *a, *b, *cs[2], *l, *o, *after;
	int v0 = violations, o_started, frozen_rc, thawed_rc;
	double t_freeze, since_renew, since_freeze;
	bool stopped;

	lease_name(name, sizeof(name), "partition");
	lease_delete(name);
	a = cand_new("A", name, LEASE, RENEW, RETRY, true);
	b = cand_new("B", name, LEASE, RENEW, RETRY, true);
	cs[0] = a;
	cs[1] = b;
	l = wait_leader(cs, 2, 10);
	CHECK(l != NULL);
	o = l == a ? b : a;
	spin(2.5 * RETRY);
	o_started = o->started;

	/* SIGSTOP the API server: the leader can no longer renew */
	frozen_rc = e2e_clusters("freeze", "host");
	t_freeze = fed_leader_now();
	stopped = wait_flag(&l->stopped, 1, LEASE + 5);
	spin(0.5);
	thawed_rc = e2e_clusters("thaw", "host"); /* before any CHECK can return */
	CHECK_INT(frozen_rc, 0);
	CHECK_INT(thawed_rc, 0);
	CHECK(stopped);
	since_renew = l->t_stopped - l->renewed_before_stop;
	since_freeze = l->t_stopped - t_freeze;
	fprintf(stderr,
	        "  API server frozen: the leader stopped %.2fs after its last successful "
	        "renewal (%.2fs after the freeze; renew deadline %gs, lease %gs)\n",
	        since_renew, since_freeze, RENEW, LEASE);
	CHECK(since_renew >= RENEW - 0.05);
	CHECK(since_renew <= RENEW + 0.5);
	CHECK(since_renew < LEASE);
	CHECK(!fed_leader_is_leader(l->le));
	CHECK_INT(o->started, o_started); /* nobody else could lead meanwhile */

	/* thawed: someone leads again (the old holder renews its own lease at
	 * once, or the other takes over once it expires) */
	after = wait_leader(cs, 2, LEASE + 3 * FED_LEADER_JITTER * RETRY + 5);
	CHECK(after != NULL);
	fprintf(stderr,
	        "  after the thaw %s leads (%s), %.2fs after the old leader's last "
	        "renewal\n",
	        after->id,
	        after == l ? "the old leader, renewing the lease it still holds"
	                   : "the other, once the lease expired",
	        after->t_started - l->renewed_before_stop);
	if (after != l)
		CHECK(after->t_started - l->renewed_before_stop >= LEASE);
	spin(2 * RETRY);
	CHECK(acting(after));
	CHECK_INT(violations, v0);
	cand_free(a);
	cand_free(b);
	lease_delete(name);
}

/* Only the leader loses the API server (its connections blackholed), the
 * other still reaches it: the leader must stop before the other starts. */
static void test_leader_cut_off(void)
{
	char name[96];
	struct fed_rest_config cfg;
	struct cand *a, *b;
	struct lease_view v;
	double t_block, stop_after, start_after, gap;
	int v0 = violations;
	bool got;

	CHECK_INT(e2e_load(&cfg, "host"), 0);
	CHECK_INT(proxy_start(cfg.server), 0);
	fed_rest_config_release(&cfg);
	lease_name(name, sizeof(name), "cutoff");
	lease_delete(name);
	via_proxy = true;
	a = cand_new("A", name, LEASE, RENEW, RETRY, true);
	via_proxy = false;
	CHECK(wait_leader(&a, 1, 10) == a);
	b = cand_new("B", name, LEASE, RENEW, RETRY, true);
	spin(2.5 * RETRY);
	CHECK(a->leading && !b->leading);

	proxy_block(true);
	t_block = fed_leader_now();
	got = wait_flag(&b->started, 1, LEASE + RENEW + 5);
	spin(0.2);
	proxy_block(false);
	CHECK(got);
	CHECK_INT(a->stopped, 1);
	stop_after = a->t_stopped - a->renewed_before_stop;
	start_after = b->t_started - a->renewed_before_stop;
	gap = b->t_started - a->t_stopped;
	fprintf(stderr,
	        "  leader cut off (%.2fs after its last renewal): it stopped %.2fs after "
	        "that renewal, the other started %.2fs after it: %.2fs with no leader\n",
	        t_block - a->renewed_before_stop, stop_after, start_after, gap);
	CHECK(stop_after <= RENEW + 0.5);
	CHECK(start_after >= LEASE);
	CHECK(gap >= LEASE - RENEW - 0.5);
	CHECK(start_after <= LEASE + RETRY);

	/* reconnected, the old leader sees the new holder and stays out */
	spin(3 * RETRY);
	CHECK(b->leading && !a->leading);
	CHECK_INT(a->started, 1);
	CHECK_STR(a->seen_leader, "B");
	lease_get(name, &v);
	CHECK_STR(v.holder, "B");
	CHECK_INT(violations, v0);
	cand_free(a);
	cand_free(b);
	proxy_stop();
	lease_delete(name);
}

/* A holder whose clock is decades behind keeps renewing (its renewTime is
 * always in 1970): it is never considered expired while the record keeps
 * changing. Then it writes a renewTime far in the future and stops: the
 * lease expires one lease duration after that change was seen. */
static void test_expiry_by_observation(void)
{
	char name[96], renew[64];
	struct cand *b;
	struct lease_view v;
	double end, last_write;
	int i = 0, v0 = violations;

	lease_name(name, sizeof(name), "skew");
	lease_delete(name);
	CHECK_INT(lease_put_ghost(name, "ghost", (long)LEASE, "1970-01-01T00:00:00.000000Z"), 0);
	b = cand_new("B", name, LEASE, RENEW, RETRY, true);
	end = e2e_now() + LEASE + 3;
	while (e2e_now() < end) {
		snprintf(renew, sizeof(renew), "1970-01-01T00:00:%02d.000000Z", ++i % 60);
		CHECK_INT(lease_put_ghost(name, "ghost", (long)LEASE, renew), 0);
		spin(RETRY);
	}
	CHECK_INT(b->started, 0);
	CHECK_STR(b->seen_leader, "ghost");
	last_write = fed_leader_now();
	CHECK_INT(lease_put_ghost(name, "ghost", (long)LEASE, "2999-01-01T00:00:00.000000Z"), 0);
	CHECK(wait_leader(&b, 1, LEASE + 3 * FED_LEADER_JITTER * RETRY + 5) == b);
	fprintf(stderr,
	        "  ghost holder (renewTime in 1970, then 2999) expired %.2fs after its "
	        "last write\n",
	        b->t_started - last_write);
	CHECK(b->t_started - last_write >= LEASE);
	CHECK(b->t_started - last_write <= LEASE + FED_LEADER_JITTER * RETRY + RETRY + 1.0);
	lease_get(name, &v);
	CHECK_STR(v.holder, "B");
	CHECK_INT(v.transitions, 1);
	CHECK_INT(violations, v0);
	cand_free(b);
	lease_delete(name);
}

static void test_production_defaults(void)
{
	char name[96];
	struct cand *a, *b, *c, *cs[2], *l, *o;
	struct fed_leader_status st;
	double t0, took, crashed_renewed;
	const double lease = FED_LEADER_LEASE_DURATION, retry = FED_LEADER_RETRY_PERIOD;
	int v0 = violations;

	lease_name(name, sizeof(name), "defaults");
	lease_delete(name);
	a = cand_new("A", name, 0, 0, 0, true);
	b = cand_new("B", name, 0, 0, 0, true);
	cs[0] = a;
	cs[1] = b;
	l = wait_leader(cs, 2, 10);
	CHECK(l != NULL);
	o = l == a ? b : a;
	spin(5);
	CHECK(l->leading && !o->leading);
	fed_leader_status(l->le, &st);
	crashed_renewed = st.renewed_at;
	t0 = fed_leader_now();
	cand_crash(l);
	CHECK(wait_leader(&o, 1, lease + 3 * FED_LEADER_JITTER * retry + 5) == o);
	took = o->t_started - t0;
	fprintf(stderr,
	        "  takeover after a crash at the defaults (lease 15s, renew 10s, "
	        "retry 2s): %.2fs (%.2fs after the last renewal; %s 17s)\n",
	        took, o->t_started - crashed_renewed, took <= 17.0 ? "within" : "OVER");
	CHECK(o->t_started - crashed_renewed >= lease);
	CHECK(took <= lease + retry);

	/* a third replica comes up; the leader shuts down gracefully */
	c = cand_new("C", name, 0, 0, 0, true);
	spin(1);
	t0 = fed_leader_now();
	fed_leader_release(o->le);
	cs[0] = c;
	CHECK(wait_leader(cs, 1, 10) == c);
	took = c->t_started - t0;
	fprintf(stderr, "  takeover after a graceful release at the defaults: %.2fs\n", took);
	CHECK(took <= retry);
	CHECK(wait_flag(&o->released, 1, 10));
	CHECK_INT(o->release_code, 0);
	CHECK_INT(violations, v0);
	cand_free(a);
	cand_free(b);
	cand_free(c);
	lease_delete(name);
}

/* Electors freed from inside their own callbacks. */
static void test_free_in_callbacks(void)
{
	char name[96];
	struct cand *a, *b;
	struct lease_view v;

	lease_name(name, sizeof(name), "free");
	lease_delete(name);
	/* A frees itself in on_started_leading: a crash right after acquiring */
	a = cand_new("A", name, LEASE, RENEW, RETRY, false);
	a->free_on_start = true;
	CHECK_INT(fed_leader_start(a->le, NULL), 0);
	CHECK(wait_flag(&a->started, 1, 10));
	CHECK(a->le == NULL);
	spin(0.5);
	CHECK_INT(a->stopped, 0);
	lease_get(name, &v);
	CHECK_STR(v.holder, "A");
	/* B takes over, then frees itself in the on_stopped_leading that
	 * fed_leader_release calls */
	b = cand_new("B", name, LEASE, RENEW, RETRY, true);
	b->free_on_stop = true;
	CHECK(wait_flag(&b->started, 1, LEASE + 3 * FED_LEADER_JITTER * RETRY + 5));
	fed_leader_release(b->le);
	CHECK_INT(b->stopped, 1);
	CHECK(b->le == NULL);
	spin(1);
	CHECK_INT(b->released, 0); /* freed: no more callbacks */
	cand_free(a);
	cand_free(b);
	lease_delete(name);
}

int main(void)
{
	struct fed_rest_config cfg;
	struct fed_error err = FED_ERROR_INIT;

	fed_log_setup(getenv("FED_LOG") ? fed_log_level_parse(getenv("FED_LOG")) : FED_LOG_WARN,
	              false);
	px.lfd = -1;
	loop = ev_default_loop(0);
	if (e2e_load(&cfg, "host"))
		return 1;
	if (fed_kube_client_new(&admin, loop, &cfg, "admin", &err)) {
		fprintf(stderr, "client: %s\n", err.msg);
		return 1;
	}
	fed_rest_config_release(&cfg);
	ev_check_init(&checker, check_cb);
	ev_check_start(loop, &checker);

	RUN(test_crash_watch);
	RUN(test_crash_poll);
	RUN(test_release_watch);
	RUN(test_release_poll);
	RUN(test_partition);
	RUN(test_leader_cut_off);
	RUN(test_expiry_by_observation);
	RUN(test_production_defaults);
	RUN(test_free_in_callbacks);

	fprintf(stderr, "%lu loop iterations checked, %d with two leaders\n", ticks, violations);
	if (violations)
		check_failures++;
	for (int i = 0; i < MAX_CANDS; i++)
		cand_free(cands[i]);
	proxy_stop();
	ev_check_stop(loop, &checker);
	fed_kube_client_free(admin);
	ev_loop_destroy(loop);
	return CHECK_EXIT();
}
