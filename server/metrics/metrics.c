#include "metrics/metrics.h"

#include <string.h>

metrics metrics_now;

/* Packets leave on the loop's 10 ms tick, so most lags are below it; the
 * upper buckets show a loop that fell behind. */
static const double pacing_lag_bounds_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1.0};
/* Play to first packet: the event's ack and the first packet go out in
 * the same loop turn, so the lower buckets are the common ones. */
static const double first_packet_bounds_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   1.0};

void metrics_init(void) {
  histogram_init(&metrics_now.pacing_lag, pacing_lag_bounds_s,
                 sizeof pacing_lag_bounds_s / sizeof *pacing_lag_bounds_s);
  histogram_init(&metrics_now.first_packet, first_packet_bounds_s,
                 sizeof first_packet_bounds_s / sizeof *first_packet_bounds_s);
}

static size_t in_range(int value, size_t count) {
  return value >= 0 && (size_t)value < count - 1 ? (size_t)value : count - 1;
}

void metrics_event(int button, int type) {
  atomic_fetch_add_explicit(
      &metrics_now.events[in_range(button, METRICS_BUTTONS)][in_range(type, METRICS_EVENT_TYPES)],
      1, memory_order_relaxed);
}

void metrics_stream_ended(const char *reason) {
  metrics_end_reason r = METRICS_END_DISCONNECT;
  if (strcmp(reason, "natural") == 0) r = METRICS_END_NATURAL;
  else if (strcmp(reason, "stop") == 0) r = METRICS_END_STOP;
  else if (strcmp(reason, "preempted") == 0) r = METRICS_END_PREEMPT;
  atomic_fetch_add_explicit(&metrics_now.stream_ends[r], 1, memory_order_relaxed);
}

void metrics_call_ended(int method, int code) {
  size_t c = code >= 0 && code < METRICS_CODES ? (size_t)code : 2; /* 2: UNKNOWN */
  atomic_fetch_add_explicit(&metrics_now.calls_ended[in_range(method, METRICS_METHODS)][c], 1,
                            memory_order_relaxed);
}

void metrics_packet_left(int64_t now_ns, int64_t due_ns, int64_t start_ns, bool first) {
  int64_t due = due_ns > start_ns ? due_ns : start_ns;
  histogram_observe_ns(&metrics_now.pacing_lag, now_ns - due);
  if (first) histogram_observe_ns(&metrics_now.first_packet, now_ns - start_ns);
}
