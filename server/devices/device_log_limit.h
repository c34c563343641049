/* A rate limit on log lines per device. A device that floods (thousands
 * of events a second, each worth a line) must not fill the disk or bury
 * what other devices log: past its rate, a device's lines are counted
 * instead of written, and the count goes out as one line, e.g.
 *
 *   log device=X: 1234 lines suppressed in the last 10.0 s
 *
 * once the device has been quiet for DEVICE_LOG_QUIET_NS (before its next
 * line, if that comes first), and every DEVICE_LOG_REPORT_NS while the
 * flood goes on.
 *
 * The rate is a token bucket: `rate` lines a second on average, bursts of
 * DEVICE_LOG_BURST_SECONDS * rate. One limiter per worker: only that
 * worker's loop thread uses it (as it alone touches its devices), so there
 * is no lock; with several workers a device's limit is per worker. */
#ifndef OPAL_DEVICE_LOG_LIMIT_H
#define OPAL_DEVICE_LOG_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "log.h"

/* Lines per device per second (--log-rate-per-device; 0: no limit). A
 * device in normal use writes a few a second: connect, a press, a sound. */
#define DEVICE_LOG_DEFAULT_RATE 20
#define DEVICE_LOG_MAX_RATE 1000000
#define DEVICE_LOG_BURST_SECONDS 2
#define DEVICE_LOG_QUIET_NS (1 * NS_PER_SEC)
#define DEVICE_LOG_REPORT_NS (10 * NS_PER_SEC)

typedef struct device_log_entry device_log_entry;

typedef struct device_log_limit {
  unsigned rate;
  int64_t interval_ns;  /* one line's worth of the rate */
  int64_t tolerance_ns; /* how far ahead of the rate a burst may run */
  device_log_entry **buckets; /* devices that logged lately, by id */
  size_t bucket_count, count;
  int64_t next_sweep_ns;
} device_log_limit;

/* What a device's lines are labelled and limited by; the device's own. */
typedef struct device_log {
  device_log_limit *limit;
  const char *id;
} device_log;

/* `rate` lines a second per device, 0 for no limit. */
void device_log_limit_init(device_log_limit *l, unsigned rate);

/* Writes the counts still owed and frees everything. */
void device_log_limit_clear(device_log_limit *l);

/* True when a line at `level` about device `id` is to be written at
 * `now_ns`; otherwise counts it. May first write the device's count. */
bool device_log_admit(device_log_limit *l, const char *id, log_level level, int64_t now_ns);

/* Writes the counts of devices now quiet (or flooding for a report
 * interval) and forgets devices whose bucket is full again. Cheap when
 * called often: it works at most every DEVICE_LOG_QUIET_NS / 4. */
void device_log_limit_sweep(device_log_limit *l, int64_t now_ns);

/* A line about the device `who` (NULL: unlimited), e.g.
 * DEVICE_LOG(&d->log, LOG_INFO, "event device=%s ...", d->id, ...). */
#define DEVICE_LOG(who, level, ...)                                                          \
  do {                                                                                     \
    const device_log *who_ = (who);                                                        \
    if (log_enabled(level) &&                                                              \
        (!who_ || device_log_admit(who_->limit, who_->id, (level), clock_now_ns())))       \
      log_write((level), __VA_ARGS__);                                                     \
  } while (0)

#endif
