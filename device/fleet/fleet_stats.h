/* Figures a fleet run reports: latency percentiles and the late-packet rule. */
#ifndef OPAL_FLEET_STATS_H
#define OPAL_FLEET_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* A packet is late when it arrives after the moment it should be playing:
 * the stream's first packet arrival + the audio before it in the stream +
 * a tolerance (what a device's buffer absorbs). */
bool packet_is_late(int64_t arrival_ns, int64_t first_arrival_ns, uint64_t position_samples,
                    int64_t tolerance_ns);

#endif
