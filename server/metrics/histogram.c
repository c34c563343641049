#include "metrics/histogram.h"

#include <string.h>

void histogram_init(histogram *h, const double *bounds_s, size_t n) {
  if (n > HISTOGRAM_MAX_BOUNDS) n = HISTOGRAM_MAX_BOUNDS;
  memset(h, 0, sizeof *h);
  for (size_t i = 0; i < n; i++) h->bounds_ns[i] = (int64_t)(bounds_s[i] * 1e9 + 0.5);
  h->bound_count = n;
}

void histogram_observe_ns(histogram *h, int64_t ns) {
  if (ns < 0) ns = 0;
  size_t i = 0;
  while (i < h->bound_count && ns > h->bounds_ns[i]) i++;
  histogram_shard *s = &h->shards[thread_shard()];
  atomic_fetch_add_explicit(&s->counts[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->sum_ns, ns, memory_order_relaxed);
}

histogram_reading histogram_read(const histogram *h) {
  histogram_reading r = {.bound_count = h->bound_count};
  uint64_t total = 0;
  int64_t sum_ns = 0;
  for (size_t i = 0; i <= h->bound_count; i++) {
    for (size_t s = 0; s < THREAD_SHARDS; s++)
      total += atomic_load_explicit(&h->shards[s].counts[i], memory_order_relaxed);
    r.cumulative[i] = total;
    if (i < h->bound_count) r.bounds_s[i] = (double)h->bounds_ns[i] / 1e9;
  }
  for (size_t s = 0; s < THREAD_SHARDS; s++)
    sum_ns += atomic_load_explicit(&h->shards[s].sum_ns, memory_order_relaxed);
  r.sum_s = (double)sum_ns / 1e9;
  return r;
}
