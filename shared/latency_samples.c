#include "latency_samples.h"

#include <stdlib.h>
#include <string.h>


void latency_add(latency_samples *l, double ms) {
  if (l->count == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 256;
    double *p = realloc(l->ms, cap * sizeof *p);
    if (!p) return; /* a sample lost is better than a run lost */
    l->ms = p;
    l->cap = cap;
  }
  l->ms[l->count++] = ms;
}

void latency_free(latency_samples *l) {
  free(l->ms);
  memset(l, 0, sizeof *l);
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double rank(const double *sorted, size_t n, unsigned percent) {
  size_t r = (n * percent + 99) / 100; /* ceil(n * p / 100), 1-based */
  return sorted[r ? r - 1 : 0];
}

latency_summary latency_summarise(const latency_samples *l) {
  latency_summary s = {.n = l->count};
  if (l->count == 0) return s;
  double *sorted = malloc(l->count * sizeof *sorted);
  if (!sorted) return s;
  memcpy(sorted, l->ms, l->count * sizeof *sorted);
  qsort(sorted, l->count, sizeof *sorted, by_value);
  s.p50 = rank(sorted, l->count, 50);
  s.p95 = rank(sorted, l->count, 95);
  s.p99 = rank(sorted, l->count, 99);
  s.max = sorted[l->count - 1];
  free(sorted);
  return s;
}
