/* The Prometheus text exposition format, version 0.0.4: families with
 * their HELP and TYPE lines, samples with labels, histograms. Written into
 * a growing buffer that the caller takes and frees. */
#ifndef OPAL_PROM_TEXT_H
#define OPAL_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/histogram.h"

#define PROM_TEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct prom_text {
  char *buf; /* NUL-terminated; owned until prom_text_take */
  size_t len, cap;
  bool failed; /* out of memory: prom_text_take returns NULL */
} prom_text;

/* A label, name="value"; a sample takes up to PROM_TEXT_MAX_LABELS. */
typedef struct prom_label {
  const char *name, *value;
} prom_label;
#define PROM_TEXT_MAX_LABELS 4

void prom_text_init(prom_text *t);

/* The # HELP and # TYPE lines ("counter", "gauge", "histogram"). */
void prom_text_family(prom_text *t, const char *name, const char *type, const char *help);

/* One sample line: name{labels} value. `labels` may be NULL when `n` is 0. */
void prom_text_sample(prom_text *t, const char *name, const prom_label *labels, size_t n,
                      double value);
void prom_text_sample_u64(prom_text *t, const char *name, const prom_label *labels, size_t n,
                          uint64_t value);

/* A whole histogram family: HELP, TYPE, name_bucket{le=...}, _sum, _count. */
void prom_text_histogram(prom_text *t, const char *name, const char *help,
                         const histogram_reading *r);

/* The text (the caller frees it) and its length; NULL when memory ran out.
 * The writer is empty again afterwards. */
char *prom_text_take(prom_text *t, size_t *len);

/* Frees what was written (after a failure, or instead of taking it). */
void prom_text_free(prom_text *t);

#endif
