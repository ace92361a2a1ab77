/* Logging: levels, a per-cluster prefix, text or JSON lines on stderr.
 * Messages pass through fed_log_redact() so that a bearer token or a PEM
 * block slipping into a message is masked before it is written. */
#ifndef FED_LOG_H
#define FED_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum fed_log_level {
	FED_LOG_ERROR = 0,
	FED_LOG_WARN = 1,
	FED_LOG_INFO = 2,
	FED_LOG_DEBUG = 3,
	FED_LOG_TRACE = 4,
};

extern int fed_log_level_current;

void fed_log_setup(int level, bool json);
/* Parse "error|warn|info|debug|trace" or a digit 0-4; -1 if unknown. */
int fed_log_level_parse(const char *s);

void fed_log_write(int level, const char *cluster, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Mask secrets in place: "Bearer <x>" and "token: <x>"-like values, and
 * PEM bodies. Returns s. */
char *fed_log_redact(char *s);

#define FED_LOG(lvl, cluster, ...)                                                                 \
	do {                                                                                       \
		if ((lvl) <= fed_log_level_current)                                                \
			fed_log_write((lvl), (cluster), __FILE__, __LINE__, __VA_ARGS__);          \
	} while (0)

/* A budget for lines that a peer can cause at will (refusals of
 * strangers): at most `burst` lines per `window` seconds per call site.
 * The first line logged after some were dropped is preceded by one that
 * says how many. Declare one per call site: static struct fed_log_limit
 * lim = FED_LOG_LIMIT(10, 10); */
struct fed_log_limit {
	unsigned burst;
	double window;
	double start;
	unsigned logged, dropped;
};
/* clang-format off */
#define FED_LOG_LIMIT(burst, window) {(burst), (window), 0, 0, 0}
/* clang-format on */

/* Whether a line may be logged now; *dropped is set to the lines dropped
 * since the last one logged. */
bool fed_log_allow(struct fed_log_limit *lim, unsigned *dropped);

#define FED_LOG_LIMITED(lvl, lim, cluster, ...)                                                    \
	do {                                                                                       \
		unsigned fed_dropped_;                                                             \
		if ((lvl) <= fed_log_level_current && fed_log_allow((lim), &fed_dropped_)) {       \
			if (fed_dropped_)                                                          \
				fed_log_write((lvl), (cluster), __FILE__, __LINE__,                \
				              "(%u similar lines not logged)", fed_dropped_);      \
			fed_log_write((lvl), (cluster), __FILE__, __LINE__, __VA_ARGS__);          \
		}                                                                                  \
	} while (0)

#define FED_LOG_ERR(cluster, ...)   FED_LOG(FED_LOG_ERROR, cluster, __VA_ARGS__)
#define FED_LOG_WARN(cluster, ...)  FED_LOG(FED_LOG_WARN, cluster, __VA_ARGS__)
#define FED_LOG_INFO(cluster, ...)  FED_LOG(FED_LOG_INFO, cluster, __VA_ARGS__)
#define FED_LOG_DEBUG(cluster, ...) FED_LOG(FED_LOG_DEBUG, cluster, __VA_ARGS__)
#define FED_LOG_TRACE(cluster, ...) FED_LOG(FED_LOG_TRACE, cluster, __VA_ARGS__)

#endif
