#include "store/store_stats.h"

#include <string.h>

#include "log.h"

void store_stats_init(store_stats *st, int64_t now_ns) {
  memset(st, 0, sizeof *st);
  st->since_ns = now_ns;
}

void store_stats_written(store_stats *st, size_t records, double wait_ms) {
  st->records += records;
  st->batches++;
  latency_add(&st->wait_ms, wait_ms);
}

void store_stats_queued(store_stats *st, size_t queued) {
  if (queued > st->queue_max) st->queue_max = queued;
}

void store_stats_report(store_stats *st, const char *name, int64_t now_ns, int final) {
  if (!final && now_ns - st->since_ns < STORE_STATS_PERIOD_NS) return;
  if (st->batches) {
    latency_summary s = latency_summarise(&st->wait_ms);
    log_info("store %s: %zu changes written in %zu batches over %lld s; change handed to "
             "written p50 %.2f ms p99 %.2f ms max %.2f ms; queue max %zu",
             name, st->records, st->batches, (long long)((now_ns - st->since_ns) / 1000000000LL),
             s.p50, s.p99, s.max, st->queue_max);
  }
  latency_free(&st->wait_ms);
  store_stats_init(st, now_ns);
}

void store_stats_free(store_stats *st) { latency_free(&st->wait_ms); }
