/* Latency samples and their percentiles: the fleet's press and packet
 * figures, the store's write times. */
#ifndef OPAL_LATENCY_SAMPLES_H
#define OPAL_LATENCY_SAMPLES_H

#include <stddef.h>

/* A growing list of latency samples, in milliseconds. */
typedef struct latency_samples {
  double *ms;
  size_t count, cap;
} latency_samples;

void latency_add(latency_samples *l, double ms);
void latency_free(latency_samples *l);

typedef struct latency_summary {
  size_t n;
  double p50, p95, p99, max; /* 0 when n is 0 */
} latency_summary;

/* Nearest-rank percentiles: pN is the smallest sample with at least N % of
 * the samples at or below it. */
latency_summary latency_summarise(const latency_samples *l);

#endif
