/* One log line per period for an event that may come thousands of times a
 * second (a refusal): the first at once, then at most one a period, each
 * with how many came since the line before. Plain data; whoever holds it
 * locks it. */
#ifndef OPAL_LOG_THROTTLE_H
#define OPAL_LOG_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#define LOG_THROTTLE_PERIOD_NS (10 * 1000000000LL)

typedef struct log_throttle {
  int64_t next_ns; /* no line before this */
  uint64_t held;   /* events since the last line */
} log_throttle;

/* Counts one event at `now_ns`. True when a line is due: *count is then
 * the events it speaks for (this one included), and the count starts over. */
static inline bool log_throttle_due(log_throttle *t, int64_t now_ns, uint64_t *count) {
  t->held++;
  if (now_ns < t->next_ns) return false;
  *count = t->held;
  t->held = 0;
  t->next_ns = now_ns + LOG_THROTTLE_PERIOD_NS;
  return true;
}

/* A line is due for events that were held back and have had no line
 * since the period ended: *count is how many, and the count starts over. */
static inline bool log_throttle_overdue(log_throttle *t, int64_t now_ns, uint64_t *count) {
  if (t->held == 0 || now_ns < t->next_ns) return false;
  *count = t->held;
  t->held = 0;
  t->next_ns = now_ns + LOG_THROTTLE_PERIOD_NS;
  return true;
}

#endif
