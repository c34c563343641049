/* Monotonic time in nanoseconds: the one clock pacing and latency use. */
#ifndef OPAL_CLOCK_H
#define OPAL_CLOCK_H

#include <stdint.h>

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_SEC INT64_C(1000000000)

int64_t clock_now_ns(void);

#endif
