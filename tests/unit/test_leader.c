/* Leader election, pure logic: MicroTime formatting and parsing, the
 * election record and its comparison, the expiry decision (by the local
 * time a change was observed, never by the holder's renewTime), jitter,
 * option checks, and the elector's life cycle against a closed port. */
#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "fed/leader.h"
#include "fed/log.h"

static void test_time_format(void)
{
	char buf[FED_LEADER_TIME_LEN];
	struct timespec ts = {0, 0};

	CHECK_INT(fed_leader_time_format(buf, sizeof(buf), &ts), 0);
	CHECK_STR(buf, "1970-01-01T00:00:00.000000Z");
	ts.tv_sec = 1714566896;
	ts.tv_nsec = 123456789;
	CHECK_INT(fed_leader_time_format(buf, sizeof(buf), &ts), 0);
	CHECK_STR(buf, "2024-05-01T12:34:56.123456Z"); /* truncated to microseconds */
	CHECK_INT(strlen(buf), 27);
	ts.tv_nsec = 999;
	CHECK_INT(fed_leader_time_format(buf, sizeof(buf), &ts), 0);
	CHECK_STR(buf, "2024-05-01T12:34:56.000000Z");
	CHECK_INT(fed_leader_time_format(buf, 27, &ts), FED_EINVAL); /* no room for the NUL */
	ts.tv_nsec = 1000000000L;
	CHECK_INT(fed_leader_time_format(buf, sizeof(buf), &ts), FED_EINVAL);
}

static void test_time_parse(void)
{
	struct timespec ts;

	CHECK_INT(fed_leader_time_parse("2024-05-01T12:34:56.123456Z", &ts), 0);
	CHECK_INT(ts.tv_sec, 1714566896);
	CHECK_INT(ts.tv_nsec, 123456000);
	/* metav1.Time (seconds only), offsets, short and nanosecond fractions */
	CHECK_INT(fed_leader_time_parse("2024-05-01T12:34:56Z", &ts), 0);
	CHECK_INT(ts.tv_sec, 1714566896);
	CHECK_INT(ts.tv_nsec, 0);
	CHECK_INT(fed_leader_time_parse("2024-05-01T14:34:56+02:00", &ts), 0);
	CHECK_INT(ts.tv_sec, 1714566896);
	CHECK_INT(fed_leader_time_parse("2024-05-01T07:04:56.5-05:30", &ts), 0);
	CHECK_INT(ts.tv_sec, 1714566896);
	CHECK_INT(ts.tv_nsec, 500000000);
	CHECK_INT(fed_leader_time_parse("2024-05-01t12:34:56.000000001z", &ts), 0);
	CHECK_INT(ts.tv_nsec, 1);
	CHECK_INT(fed_leader_time_parse("2024-02-29T00:00:00Z", &ts), 0);
	CHECK_INT(fed_leader_time_parse("2000-02-29T00:00:00Z", &ts), 0);
	/* rejected */
	CHECK_INT(fed_leader_time_parse(NULL, &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("", &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("2024-05-01T12:34:56", &ts), FED_EINVAL);  /* no zone */
	CHECK_INT(fed_leader_time_parse("2024-05-01 12:34:56Z", &ts), FED_EINVAL); /* space */
	CHECK_INT(fed_leader_time_parse("2024-05-01T12:34:56.Z", &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("2024-05-01T12:34:56.1234567890Z", &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("2024-05-01T12:34:56Zjunk", &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("2024-13-01T00:00:00Z", &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("2024-04-31T00:00:00Z", &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("2023-02-29T00:00:00Z", &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("1900-02-29T00:00:00Z", &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("2024-05-01T24:00:00Z", &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("2024-05-01T12:60:00Z", &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("2024-05-01T12:34:56+0200", &ts), FED_EINVAL);
	CHECK_INT(fed_leader_time_parse("24-05-01T12:34:56Z", &ts), FED_EINVAL);
}

static void test_time_roundtrip(void)
{
	char buf[FED_LEADER_TIME_LEN];
	struct timespec in, out;
	int i;

	srand(7);
	for (i = 0; i < 2000; i++) {
		in.tv_sec = (time_t)(((long long)rand() << 4) % 253402300799LL); /* < year 10000 */
		in.tv_nsec = (rand() % 1000000) * 1000L;
		CHECK_INT(fed_leader_time_format(buf, sizeof(buf), &in), 0);
		CHECK_INT(fed_leader_time_parse(buf, &out), 0);
		CHECK_INT(out.tv_sec, in.tv_sec);
		CHECK_INT(out.tv_nsec, in.tv_nsec);
	}
}

static cJSON *lease(const char *spec)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
	         "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{"
	         "\"name\":\"l\",\"namespace\":\"ns\",\"resourceVersion\":\"42\"},\"spec\":%s}",
	         spec);
	return cJSON_Parse(buf);
}

static const char *full_spec =
    "{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":15,"
    "\"acquireTime\":\"2024-05-01T12:00:00.000000Z\","
    "\"renewTime\":\"2024-05-01T12:34:56.123456Z\",\"leaseTransitions\":3}";

/* the record of l with spec.key replaced by v (taken) */
static int record_with(struct fed_leader_record *r, const cJSON *l, const char *key, cJSON *v)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *m = cJSON_Duplicate(l, 1);
	int ret;

	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(m, "spec"), key, v);
	ret = fed_leader_record_parse(r, m, &err);
	cJSON_Delete(m);
	return ret;
}

static void test_record(void)
{
	struct fed_leader_record a, b;
	struct fed_error err = FED_ERROR_INIT;
	cJSON *l = lease(full_spec), *m;
	bool eq;

	CHECK_INT(fed_leader_record_parse(&a, l, &err), 0);
	CHECK_STR(a.holder, "a");
	CHECK_INT(a.duration_s, 15);
	CHECK_STR(a.acquire_time, "2024-05-01T12:00:00.000000Z");
	CHECK_STR(a.renew_time, "2024-05-01T12:34:56.123456Z");
	CHECK_INT(a.transitions, 3);
	CHECK_INT(fed_leader_record_parse(&b, l, &err), 0);
	eq = fed_leader_record_equal(&a, &b);
	fed_leader_record_release(&b);
	CHECK(eq);

	/* metadata (resourceVersion, labels) is not part of the record */
	m = cJSON_Duplicate(l, 1);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(m, "metadata"), "resourceVersion",
	                          cJSON_CreateString("43"));
	CHECK_INT(fed_leader_record_parse(&b, m, &err), 0);
	cJSON_Delete(m);
	eq = fed_leader_record_equal(&a, &b);
	fed_leader_record_release(&b);
	CHECK(eq);

	/* every field of the record is */
	CHECK_INT(record_with(&b, l, "holderIdentity", cJSON_CreateString("b")), 0);
	eq = fed_leader_record_equal(&a, &b);
	fed_leader_record_release(&b);
	CHECK(!eq);
	CHECK_INT(
	    record_with(&b, l, "renewTime", cJSON_CreateString("2024-05-01T12:34:58.000001Z")), 0);
	eq = fed_leader_record_equal(&a, &b);
	fed_leader_record_release(&b);
	CHECK(!eq);
	CHECK_INT(
	    record_with(&b, l, "acquireTime", cJSON_CreateString("2024-05-01T12:00:01.000000Z")),
	    0);
	eq = fed_leader_record_equal(&a, &b);
	fed_leader_record_release(&b);
	CHECK(!eq);
	CHECK_INT(record_with(&b, l, "leaseDurationSeconds", cJSON_CreateNumber(1)), 0);
	eq = fed_leader_record_equal(&a, &b);
	fed_leader_record_release(&b);
	CHECK(!eq);
	CHECK_INT(record_with(&b, l, "leaseTransitions", cJSON_CreateNumber(4)), 0);
	eq = fed_leader_record_equal(&a, &b);
	fed_leader_record_release(&b);
	CHECK(!eq);
	cJSON_Delete(l);
	fed_leader_record_release(&a);

	/* no spec at all, or an empty one: everything empty, nobody holds it */
	l = cJSON_Parse("{\"metadata\":{\"name\":\"l\"}}");
	CHECK_INT(fed_leader_record_parse(&a, l, &err), 0);
	cJSON_Delete(l);
	CHECK_STR(a.holder, "");
	CHECK_STR(a.renew_time, "");
	CHECK_INT(a.duration_s, 0);
	CHECK_INT(a.transitions, 0);
	l = lease("{}");
	CHECK_INT(fed_leader_record_parse(&b, l, &err), 0);
	cJSON_Delete(l);
	eq = fed_leader_record_equal(&a, &b);
	fed_leader_record_release(&a);
	fed_leader_record_release(&b);
	CHECK(eq);
	/* not an object */
	l = cJSON_Parse("[1]");
	CHECK_INT(fed_leader_record_parse(&a, l, &err), FED_EINVAL);
	cJSON_Delete(l);
	CHECK(a.holder == NULL);
	fed_leader_record_release(NULL);
}

static void test_decide(void)
{
	struct fed_leader_record r;
	struct fed_error err = FED_ERROR_INIT;
	cJSON *l = lease(full_spec);
	const double obs = 1000.0; /* our monotonic clock when we saw the record change */

	CHECK_INT(fed_leader_record_parse(&r, l, &err), 0);
	cJSON_Delete(l);
	/* held by "a" with 15 s: valid until 15 s after WE saw it change */
	CHECK(fed_leader_expiry(&r, obs, 99) == obs + 15);
	CHECK_INT(fed_leader_decide(&r, obs, obs, "b", 10), FED_LEADER_WAIT);
	CHECK_INT(fed_leader_decide(&r, obs, obs + 14.999, "b", 10), FED_LEADER_WAIT);
	CHECK_INT(fed_leader_decide(&r, obs, obs + 15, "b", 10), FED_LEADER_ACQUIRE);
	CHECK_INT(fed_leader_decide(&r, obs, obs + 3600, "b", 10), FED_LEADER_ACQUIRE);
	/* ours: renew, expired or not */
	CHECK_INT(fed_leader_decide(&r, obs, obs, "a", 10), FED_LEADER_RENEW);
	CHECK_INT(fed_leader_decide(&r, obs, obs + 3600, "a", 10), FED_LEADER_RENEW);
	/* the holder's renewTime plays no part: a record from 1970 (a holder
	 * whose clock is far behind) we just saw change is valid; one dated
	 * far in the future that stopped changing expires on our clock */
	free(r.renew_time);
	r.renew_time = strdup("1970-01-01T00:00:00.000000Z");
	CHECK_INT(fed_leader_decide(&r, obs, obs + 1, "b", 10), FED_LEADER_WAIT);
	free(r.renew_time);
	r.renew_time = strdup("2999-01-01T00:00:00.000000Z");
	CHECK_INT(fed_leader_decide(&r, obs, obs + 15.5, "b", 10), FED_LEADER_ACQUIRE);
	/* released (holderIdentity ""): free at once, whatever the duration */
	free(r.holder);
	r.holder = strdup("");
	CHECK_INT(fed_leader_decide(&r, obs, obs, "b", 10), FED_LEADER_ACQUIRE);
	/* the record's duration wins over ours; without one, ours (the longer
	 * wait is the safe side) */
	free(r.holder);
	r.holder = strdup("a");
	r.duration_s = 1;
	CHECK_INT(fed_leader_decide(&r, obs, obs + 0.9, "b", 10), FED_LEADER_WAIT);
	CHECK_INT(fed_leader_decide(&r, obs, obs + 1.0, "b", 10), FED_LEADER_ACQUIRE);
	r.duration_s = 0;
	CHECK_INT(fed_leader_decide(&r, obs, obs + 9.9, "b", 10), FED_LEADER_WAIT);
	CHECK_INT(fed_leader_decide(&r, obs, obs + 10, "b", 10), FED_LEADER_ACQUIRE);
	fed_leader_record_release(&r);
}

static void test_jitter(void)
{
	CHECK(fed_leader_jitter(2, 1.2, 0) == 2);
	CHECK(fed_leader_jitter(2, 1.2, 0.5) == 3.2);
	CHECK(fed_leader_jitter(2, 1.2, 0.999999) < 4.4);
	CHECK(fed_leader_jitter(2, 1.2, 0.999999) > 4.39);
}

/* ---- the elector against a closed port: options, life cycle, callbacks */

static struct ev_loop *loop;
static struct fed_kube_client *client;

static int closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	port = ntohs(a.sin_port);
	close(fd); /* nobody listens there now: connections are refused */
	return port;
}

static void test_options(void)
{
	struct fed_leader_opts o;
	struct fed_leader *le = NULL;
	struct fed_leader_status st;
	struct fed_error err = FED_ERROR_INIT;
	const char *id;

	memset(&o, 0, sizeof(o));
	CHECK_INT(fed_leader_new(&le, client, &o, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "namespace and name");
	o.lease_namespace = "ns";
	o.lease_name = "l";
	o.lease_duration = 4.5;
	CHECK_INT(fed_leader_new(&le, client, &o, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "whole seconds");
	o.lease_duration = 10;
	CHECK_INT(fed_leader_new(&le, client, &o, &err), FED_EINVAL); /* renew 10 >= lease 10 */
	CHECK_HAS(err.msg, "less than the lease duration");
	o.lease_duration = 6;
	o.renew_deadline = 4;
	o.retry_period = 4 / 1.2;
	CHECK_INT(fed_leader_new(&le, client, &o, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "retry period");
	o.retry_period = 1;
	o.identity = "";
	CHECK_INT(fed_leader_new(&le, client, &o, &err), FED_EINVAL);
	CHECK(le == NULL);

	/* defaults: 15/10/2 and hostname_uuid */
	memset(&o, 0, sizeof(o));
	o.lease_namespace = "ns";
	o.lease_name = "l";
	CHECK_INT(fed_leader_new(&le, client, &o, &err), 0);
	fed_leader_status(le, &st);
	id = st.identity;
	CHECK(strchr(id, '_') != NULL);
	id = strrchr(id, '_') + 1;
	CHECK_INT(strlen(id), 36);
	CHECK(id[8] == '-' && id[13] == '-' && id[14] == '4' && id[18] == '-' && id[23] == '-');
	CHECK(!st.leading && !st.started && !st.released);
	CHECK_STR(st.holder, "");
	CHECK(!fed_leader_is_leader(le));
	fed_leader_free(le);
	fed_leader_free(NULL);
	CHECK(!fed_leader_is_leader(NULL));
}

struct events {
	int started, stopped, new_leader, released;
	const struct fed_error *release_err;
	bool done;
	bool free_in_released;
	struct fed_leader *le;
};

static void ev_started(void *ud)
{
	((struct events *)ud)->started++;
}

static void ev_stopped(void *ud)
{
	((struct events *)ud)->stopped++;
}

static void ev_new_leader(const char *id, void *ud)
{
	((struct events *)ud)->new_leader++;
}

static void ev_released(const struct fed_error *err, void *ud)
{
	struct events *e = ud;

	e->released++;
	e->release_err = err;
	e->done = true;
	if (e->free_in_released) {
		fed_leader_free(e->le);
		e->le = NULL;
	}
}

static void test_unreachable(void)
{
	struct fed_leader_opts o;
	struct fed_leader *le = NULL;
	struct fed_leader_status st;
	struct fed_error err = FED_ERROR_INIT;
	struct events e;
	bool never = false;

	memset(&o, 0, sizeof(o));
	memset(&e, 0, sizeof(e));
	o.lease_namespace = "ns";
	o.lease_name = "l";
	o.identity = "me";
	o.lease_duration = 3;
	o.renew_deadline = 2;
	o.retry_period = 0.2;
	o.cb.on_started_leading = ev_started;
	o.cb.on_stopped_leading = ev_stopped;
	o.cb.on_new_leader = ev_new_leader;
	o.cb.on_released = ev_released;
	o.ud = &e;
	CHECK_INT(fed_leader_new(&le, client, &o, &err), 0);
	e.le = le;
	CHECK_INT(fed_leader_start(le, &err), 0);
	CHECK_INT(fed_leader_start(le, &err), FED_EINVAL); /* once */
	fed_kube_wait(loop, &never, 1.0);                  /* a few refused attempts */
	fed_leader_status(le, &st);
	CHECK(st.started && !st.leading);
	CHECK_INT(e.started + e.stopped + e.new_leader, 0);
	/* releasing a lease we never saw: nothing to do, on_released from the
	 * loop (not inside fed_leader_release), without an error; the
	 * callback frees the elector */
	e.free_in_released = true;
	fed_leader_release(le);
	CHECK_INT(e.released, 0);
	CHECK_INT(fed_kube_wait(loop, &e.done, 5), 0);
	CHECK_INT(e.released, 1);
	CHECK(e.release_err == NULL);
	CHECK(e.le == NULL);
	CHECK_INT(e.stopped, 0);

	/* freed while a request is in flight: no callback afterwards */
	memset(&e, 0, sizeof(e));
	CHECK_INT(fed_leader_new(&le, client, &o, &err), 0);
	CHECK_INT(fed_leader_start(le, &err), 0);
	fed_kube_wait(loop, &never, 0.05);
	fed_leader_free(le);
	fed_kube_wait(loop, &never, 0.5);
	CHECK_INT(e.started + e.stopped + e.new_leader + e.released, 0);
}

int main(void)
{
	struct fed_rest_config cfg;
	struct fed_error err = FED_ERROR_INIT;
	char server[64];
	int port, ret;

	fed_log_setup(FED_LOG_ERROR, false);
	RUN(test_time_format);
	RUN(test_time_parse);
	RUN(test_time_roundtrip);
	RUN(test_record);
	RUN(test_decide);
	RUN(test_jitter);

	loop = ev_default_loop(0);
	port = closed_port();
	snprintf(server, sizeof(server), "http://127.0.0.1:%d", port);
	fed_rest_config_init(&cfg);
	cfg.server = strdup(server);
	ret = port < 0 || fed_kube_client_new(&client, loop, &cfg, "closed", &err);
	fed_rest_config_release(&cfg);
	if (ret) {
		fprintf(stderr, "client: %s\n", err.msg);
		return 1;
	}
	RUN(test_options);
	RUN(test_unreachable);
	fed_kube_client_free(client);
	ev_loop_destroy(loop);
	return CHECK_EXIT();
}
