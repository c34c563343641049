/* A histogram with fixed buckets, counted by any thread (relaxed atomics,
 * a shard per thread: thread_shard.h) and read by another: Prometheus's
 * `le` buckets, its sum and count. */
#ifndef OPAL_HISTOGRAM_H
#define OPAL_HISTOGRAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/thread_shard.h"

#define HISTOGRAM_MAX_BOUNDS 16

/* One thread's counts: counts[i] holds values in (bounds[i-1], bounds[i]],
 * the last one those above every bound (+Inf). Not cumulative: one add
 * per value. */
typedef struct histogram_shard {
  _Alignas(THREAD_SHARD_ALIGN) atomic_uint_fast64_t counts[HISTOGRAM_MAX_BOUNDS + 1];
  atomic_int_fast64_t sum_ns;
} histogram_shard;

typedef struct histogram {
  /* Upper bounds in nanoseconds, ascending; set once before counting. */
  int64_t bounds_ns[HISTOGRAM_MAX_BOUNDS];
  size_t bound_count;
  histogram_shard shards[THREAD_SHARDS];
} histogram;

/* A cumulative copy, as the exposition format writes it. */
typedef struct histogram_reading {
  size_t bound_count;
  double bounds_s[HISTOGRAM_MAX_BOUNDS];
  uint64_t cumulative[HISTOGRAM_MAX_BOUNDS + 1]; /* last: +Inf, the count */
  double sum_s;
} histogram_reading;

/* Sets the buckets (at most HISTOGRAM_MAX_BOUNDS, ascending seconds) and
 * empties the histogram. Before any thread counts. */
void histogram_init(histogram *h, const double *bounds_s, size_t n);

/* Counts one value (negative values count as 0). */
void histogram_observe_ns(histogram *h, int64_t ns);

/* Reads every bucket of every shard; the count is the sum of the buckets
 * read, so the +Inf bucket and _count always agree. */
histogram_reading histogram_read(const histogram *h);

#endif
