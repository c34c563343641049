#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static log_level current_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level level) { current_level = level; }

bool log_enabled(log_level level) { return level >= current_level; }

bool log_level_parse(const char *text, log_level *out) {
  for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
    if (strcmp(text, level_names[i]) == 0) {
      *out = (log_level)i;
      return true;
    }
  }
  return false;
}

void log_write(log_level level, const char *fmt, ...) {
  if (!log_enabled(level)) return;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm utc;
  gmtime_r(&now.tv_sec, &utc);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);

  /* One fprintf per record keeps lines whole when several threads log. */
  char message[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof message, fmt, args);
  va_end(args);
  fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, now.tv_nsec / 1000000L,
          level_names[level], message);
}
