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

/* Text from peers (status strings, method names) ends up in records: a
 * newline in it must not be able to forge a record of its own. */
static void escape(const char *in, char *out, size_t len) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p && n + 5 < len; p++) {
    if (*p >= 0x20 && *p != 0x7f) out[n++] = (char)*p;
    else n += (size_t)snprintf(out + n, len - n, "\\x%02x", *p);
  }
  out[n] = '\0';
}

void log_write(log_level level, const char *fmt, ...) {
  if (!log_enabled(level)) return;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm utc;
  gmtime_r(&now.tv_sec, &utc);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);

  char raw[1024], message[1024 * 4];
  va_list args;
  va_start(args, fmt);
  vsnprintf(raw, sizeof raw, fmt, args);
  va_end(args);
  escape(raw, message, sizeof message);
  /* One fprintf per record keeps lines whole when several threads log. */
  fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, now.tv_nsec / 1000000L,
          level_names[level], message);
}
