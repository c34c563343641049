#include "script/report.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct reporter {
  FILE *out;
  char device[160];
  int64_t start_ns;
  pthread_mutex_t lock;
};

reporter *reporter_create(FILE *out, const char *device_id) {
  reporter *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->out = out;
  report_quote(device_id, r->device, sizeof r->device);
  r->start_ns = clock_now_ns();
  pthread_mutex_init(&r->lock, NULL);
  return r;
}

void reporter_destroy(reporter *r) {
  if (!r) return;
  pthread_mutex_destroy(&r->lock);
  free(r);
}

void report_quote(const char *text, char *out, size_t out_len) {
  size_t n = 0;
  if (out_len < 3) return;
  out[n++] = '"';
  for (const unsigned char *p = (const unsigned char *)text; *p && n + 8 < out_len; p++) {
    if (*p == '"' || *p == '\\') {
      out[n++] = '\\';
      out[n++] = (char)*p;
    } else if (*p < 0x20) {
      n += (size_t)snprintf(out + n, out_len - n, "\\u%04x", *p);
    } else {
      out[n++] = (char)*p;
    }
  }
  out[n++] = '"';
  out[n] = '\0';
}

void report(reporter *r, const char *event, const char *fields_fmt, ...) {
  if (!r || !r->out) return;
  char fields[1024] = "";
  if (fields_fmt) {
    fields[0] = ',';
    va_list args;
    va_start(args, fields_fmt);
    vsnprintf(fields + 1, sizeof fields - 1, fields_fmt, args);
    va_end(args);
  }
  double t_ms = (double)(clock_now_ns() - r->start_ns) / 1e6;
  pthread_mutex_lock(&r->lock);
  fprintf(r->out, "{\"t_ms\":%.1f,\"device\":%s,\"event\":\"%s\"%s}\n", t_ms, r->device, event,
          fields);
  fflush(r->out);
  pthread_mutex_unlock(&r->lock);
}
