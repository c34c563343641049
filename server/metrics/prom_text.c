#include "metrics/prom_text.h"

#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_text_init(prom_text *t) { memset(t, 0, sizeof *t); }

static bool reserve(prom_text *t, size_t more) {
  if (t->failed) return false;
  if (t->len + more + 1 <= t->cap) return true;
  size_t cap = t->cap ? t->cap : 4096;
  while (cap < t->len + more + 1) cap *= 2;
  char *buf = realloc(t->buf, cap);
  if (!buf) {
    t->failed = true;
    return false;
  }
  t->buf = buf;
  t->cap = cap;
  return true;
}

static void append(prom_text *t, const char *s, size_t n) {
  if (!reserve(t, n)) return;
  memcpy(t->buf + t->len, s, n);
  t->len += n;
  t->buf[t->len] = '\0';
}

static void append_str(prom_text *t, const char *s) { append(t, s, strlen(s)); }

static void appendf(prom_text *t, const char *fmt, ...) {
  char small[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    append(t, small, (size_t)n);
    return;
  }
  if (!reserve(t, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

/* The format's escapes: backslash and newline in HELP, and the double
 * quote too in a label value. */
static void append_escaped(prom_text *t, const char *s, bool quote) {
  for (; *s; s++) {
    if (*s == '\\') append_str(t, "\\\\");
    else if (*s == '\n') append_str(t, "\\n");
    else if (quote && *s == '"') append_str(t, "\\\"");
    else append(t, s, 1);
  }
}

void prom_text_family(prom_text *t, const char *name, const char *type, const char *help) {
  appendf(t, "# HELP %s ", name);
  append_escaped(t, help, false);
  appendf(t, "\n# TYPE %s %s\n", name, type);
}

static void sample_name(prom_text *t, const char *name, const prom_label *labels, size_t n) {
  append_str(t, name);
  if (n == 0) return;
  append_str(t, "{");
  for (size_t i = 0; i < n; i++) {
    appendf(t, "%s%s=\"", i ? "," : "", labels[i].name);
    append_escaped(t, labels[i].value, true);
    append_str(t, "\"");
  }
  append_str(t, "}");
}

/* The shortest %g that reads back as the same double (0.42, not
 * 0.41999999999999998), as Prometheus's own clients write floats. */
static void append_double(prom_text *t, double v) {
  if (v != v) {
    append_str(t, "NaN");
  } else if (v > DBL_MAX || v < -DBL_MAX) {
    append_str(t, v > 0 ? "+Inf" : "-Inf");
  } else {
    char text[32];
    for (int digits = 15; digits <= 17; digits++) {
      snprintf(text, sizeof text, "%.*g", digits, v);
      if (strtod(text, NULL) == v) break;
    }
    append_str(t, text);
  }
}

void prom_text_sample(prom_text *t, const char *name, const prom_label *labels, size_t n,
                      double value) {
  sample_name(t, name, labels, n);
  append_str(t, " ");
  append_double(t, value);
  append_str(t, "\n");
}

void prom_text_sample_u64(prom_text *t, const char *name, const prom_label *labels, size_t n,
                          uint64_t value) {
  sample_name(t, name, labels, n);
  appendf(t, " %llu\n", (unsigned long long)value);
}

void prom_text_histogram(prom_text *t, const char *name, const char *help,
                         const histogram_reading *r) {
  prom_text_family(t, name, "histogram", help);
  char series[128], le[32];
  snprintf(series, sizeof series, "%s_bucket", name);
  for (size_t i = 0; i <= r->bound_count; i++) {
    if (i < r->bound_count) snprintf(le, sizeof le, "%g", r->bounds_s[i]);
    else snprintf(le, sizeof le, "+Inf");
    prom_label label = {"le", le};
    prom_text_sample_u64(t, series, &label, 1, r->cumulative[i]);
  }
  snprintf(series, sizeof series, "%s_sum", name);
  prom_text_sample(t, series, NULL, 0, r->sum_s);
  snprintf(series, sizeof series, "%s_count", name);
  prom_text_sample_u64(t, series, NULL, 0, r->cumulative[r->bound_count]);
}

char *prom_text_take(prom_text *t, size_t *len) {
  if (t->failed || !reserve(t, 0)) {
    prom_text_free(t);
    return NULL;
  }
  char *text = t->buf;
  *len = t->len;
  prom_text_init(t);
  return text;
}

void prom_text_free(prom_text *t) {
  free(t->buf);
  prom_text_init(t);
}
