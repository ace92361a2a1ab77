/* The pure half of leader election (fed/leader.h): a Lease's record, the
 * decision whether it is held, jitter, and the MicroTime format of
 * client-go. No loop, no I/O, so the unit tests drive it directly;
 * leader.c is the state machine that uses it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fed/leader.h"

double fed_leader_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *dup_str(const char *s)
{
	return strdup(s ? s : "");
}

void fed_leader_record_release(struct fed_leader_record *r)
{
	if (!r)
		return;
	free(r->holder);
	free(r->acquire_time);
	free(r->renew_time);
	memset(r, 0, sizeof(*r));
}

static const char *spec_str(const cJSON *spec, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static long spec_long(const cJSON *spec, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);

	/* a value past what a long holds would be undefined to convert */
	return cJSON_IsNumber(v) && fabs(v->valuedouble) < 1e15 ? (long)v->valuedouble : 0;
}

int fed_leader_record_parse(struct fed_leader_record *r, const cJSON *lease, struct fed_error *err)
{
	const cJSON *spec;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	if (!cJSON_IsObject(lease)) {
		ret = fed_error_set(err, FED_EINVAL, "lease: not a JSON object");
		goto out;
	}
	spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
	r->holder = dup_str(spec_str(spec, "holderIdentity"));
	r->acquire_time = dup_str(spec_str(spec, "acquireTime"));
	r->renew_time = dup_str(spec_str(spec, "renewTime"));
	r->duration_s = spec_long(spec, "leaseDurationSeconds");
	r->transitions = spec_long(spec, "leaseTransitions");
	if (!r->holder || !r->acquire_time || !r->renew_time)
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
out:
	if (ret)
		fed_leader_record_release(r);
	return ret;
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

bool fed_leader_record_equal(const struct fed_leader_record *a, const struct fed_leader_record *b)
{
	return str_eq(a->holder, b->holder) && a->duration_s == b->duration_s &&
	       str_eq(a->acquire_time, b->acquire_time) && str_eq(a->renew_time, b->renew_time) &&
	       a->transitions == b->transitions;
}

double fed_leader_expiry(const struct fed_leader_record *r, double observed_at, double fallback_s)
{
	return observed_at + (r->duration_s > 0 ? (double)r->duration_s : fallback_s);
}

enum fed_leader_verdict fed_leader_decide(const struct fed_leader_record *r, double observed_at,
                                          double now, const char *identity, double fallback_s)
{
	if (!r->holder || !*r->holder)
		return FED_LEADER_ACQUIRE;
	if (strcmp(r->holder, identity) == 0)
		return FED_LEADER_RENEW;
	if (now < fed_leader_expiry(r, observed_at, fallback_s))
		return FED_LEADER_WAIT;
	return FED_LEADER_ACQUIRE;
}

double fed_leader_jitter(double period, double factor, double u)
{
	return period + u * factor * period;
}

int fed_leader_time_format(char *buf, size_t len, const struct timespec *ts)
{
	struct tm tm;
	int n;

	if (!gmtime_r(&ts->tv_sec, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999 ||
	    ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)
		return FED_EINVAL;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             ts->tv_nsec / 1000);
	if (n < 0 || (size_t)n >= len)
		return FED_EINVAL;
	return 0;
}

/* n decimal digits at *p into *out; advances *p */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool lit(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

int fed_leader_time_parse(const char *s, struct timespec *ts)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	long nsec = 0;
	struct tm tm;
	time_t t;

	if (!s)
		return FED_EINVAL;
	if (!digits(&p, 4, &y) || !lit(&p, '-') || !digits(&p, 2, &mo) || !lit(&p, '-') ||
	    !digits(&p, 2, &d) || !(lit(&p, 'T') || lit(&p, 't')) || !digits(&p, 2, &h) ||
	    !lit(&p, ':') || !digits(&p, 2, &mi) || !lit(&p, ':') || !digits(&p, 2, &sec))
		return FED_EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59)
		return FED_EINVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return FED_EINVAL;
	if (lit(&p, '.')) {
		int n = 0;
		long scale = 100000000L;
		while (*p >= '0' && *p <= '9') {
			if (++n > 9)
				return FED_EINVAL;
			nsec += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
		if (n == 0)
			return FED_EINVAL;
	}
	if (lit(&p, 'Z') || lit(&p, 'z')) {
		sign = 0;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!digits(&p, 2, &oh) || !lit(&p, ':') || !digits(&p, 2, &om) || oh > 23 ||
		    om > 59)
			return FED_EINVAL;
	} else {
		return FED_EINVAL;
	}
	if (*p)
		return FED_EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	ts->tv_sec = t - sign * (oh * 3600 + om * 60);
	ts->tv_nsec = nsec;
	return 0;
}
