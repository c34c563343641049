/* What the store's thread reports of its writes, so an operator (and make
 * bench) can see whether the store keeps up: how long a change waits from
 * the loop's hand-over until it is written, and how deep the queue gets.
 * One log line per period with writes, and one at close. Store thread only. */
#ifndef OPAL_STORE_STATS_H
#define OPAL_STORE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "latency_samples.h"

#define STORE_STATS_PERIOD_NS (60 * 1000000000LL)

typedef struct store_stats {
  latency_samples wait_ms; /* per batch: its oldest change, handed → written */
  size_t records, batches, queue_max;
  int64_t since_ns;
} store_stats;

void store_stats_init(store_stats *st, int64_t now_ns);

/* A batch of `records` was written; its oldest change was handed over
 * `wait_ms` before. */
void store_stats_written(store_stats *st, size_t records, double wait_ms);

/* `queued` changes are waiting to be written. */
void store_stats_queued(store_stats *st, size_t queued);

/* Logs the period's line ("store NAME: ...") if it is over, or if `final`
 * and anything was written, and starts the next period. */
void store_stats_report(store_stats *st, const char *name, int64_t now_ns, int final);

void store_stats_free(store_stats *st);

#endif
