/* Leveled logging to stderr, one line per record, with a UTC timestamp. */
#ifndef OPAL_LOG_H
#define OPAL_LOG_H

#include <stdbool.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_set_level(log_level level);
bool log_enabled(log_level level);

/* Parses "debug", "info", "warn" or "error"; false for anything else. */
bool log_level_parse(const char *text, log_level *out);

void log_write(log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
