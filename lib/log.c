#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fed/log.h"

int fed_log_level_current = FED_LOG_INFO;
static bool log_json;

static const char *level_names[] = {"error", "warn", "info", "debug", "trace"};

void fed_log_setup(int level, bool json)
{
	if (level < FED_LOG_ERROR)
		level = FED_LOG_ERROR;
	if (level > FED_LOG_TRACE)
		level = FED_LOG_TRACE;
	fed_log_level_current = level;
	log_json = json;
}

bool fed_log_allow(struct fed_log_limit *lim, unsigned *dropped)
{
	struct timespec ts;
	double now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	*dropped = 0;
	if (lim->logged == 0 || now - lim->start >= lim->window) {
		lim->start = now;
		lim->logged = 0;
	}
	if (lim->logged >= lim->burst) {
		lim->dropped++;
		return false;
	}
	lim->logged++;
	*dropped = lim->dropped;
	lim->dropped = 0;
	return true;
}

int fed_log_level_parse(const char *s)
{
	int i;

	if (!s)
		return -1;
	if (s[0] >= '0' && s[0] <= '4' && s[1] == '\0')
		return s[0] - '0';
	for (i = 0; i <= FED_LOG_TRACE; i++)
		if (!strcasecmp(s, level_names[i]))
			return i;
	return -1;
}

/* Overwrite the run of token characters at p with '*' (keeps length so the
 * reader sees that something was there), returns the end of the run. */
static char *mask_run(char *p)
{
	char *start = p;

	while (*p && !isspace((unsigned char)*p) && *p != '"' && *p != '\'' && *p != ',' &&
	       *p != '}')
		p++;
	if (p - start > 0) {
		size_t n = (size_t)(p - start);
		/* "[redacted]" is 10 chars; shorter secrets are just starred */
		if (n >= 10) {
			memcpy(start, "[redacted]", 10);
			memmove(start + 10, p, strlen(p) + 1);
			return start + 10;
		}
		memset(start, '*', n);
	}
	return p;
}

char *fed_log_redact(char *s)
{
	static const char *keys[] = {"bearer ", "token\":\"", "token\": \"",      "token: ",
	                             "token=",  "password: ", "client-key-data: "};
	char *p;
	size_t i;

	if (!s)
		return s;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t kl = strlen(keys[i]);
		for (p = s; (p = strcasestr(p, keys[i])) != NULL;)
			p = mask_run(p + kl);
	}
	/* PEM blocks: keep the BEGIN line, drop the body. */
	for (p = s; (p = strstr(p, "-----BEGIN ")) != NULL;) {
		char *body = strstr(p + 11, "-----");
		char *end;
		if (!body)
			break;
		body += 5;
		end = strstr(body, "-----END");
		if (!end) {
			*body = '\0';
			break;
		}
		memmove(body, end, strlen(end) + 1);
		p = body + 8;
	}
	return s;
}

static void json_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

void fed_log_write(int level, const char *cluster, const char *file, int line, const char *fmt, ...)
{
	char msg[4096];
	char ts[64];
	struct timespec now;
	struct tm tm;
	va_list ap;
	const char *base;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fed_log_redact(msg);

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (int)(now.tv_nsec / 1000000));
	base = strrchr(file, '/');
	base = base ? base + 1 : file;
	if (level < 0 || level > FED_LOG_TRACE)
		level = FED_LOG_ERROR;

	flockfile(stderr);
	if (log_json) {
		fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"src\":\"%s:%d\"", ts,
		        level_names[level], base, line);
		if (cluster) {
			fputs(",\"cluster\":\"", stderr);
			json_escape(stderr, cluster);
			fputc('"', stderr);
		}
		fputs(",\"msg\":\"", stderr);
		json_escape(stderr, msg);
		fputs("\"}\n", stderr);
	} else if (cluster) {
		fprintf(stderr, "%s %-5s [%s] %s\n", ts, level_names[level], cluster, msg);
	} else {
		fprintf(stderr, "%s %-5s %s\n", ts, level_names[level], msg);
	}
	funlockfile(stderr);
}
