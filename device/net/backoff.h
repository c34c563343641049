/* Reconnect delays: exponential backoff with full jitter (a random delay
 * between 0 and min(cap, base * 2^attempt)), so a fleet of devices that lost
 * the same server does not come back in lockstep. */
#ifndef OPAL_BACKOFF_H
#define OPAL_BACKOFF_H

#include <stdint.h>

#define BACKOFF_DEFAULT_BASE_MS 100
#define BACKOFF_DEFAULT_CAP_MS 3000

typedef struct backoff {
  unsigned base_ms, cap_ms;
  unsigned attempt; /* failures since the last success */
  uint64_t rng;     /* xorshift state, never 0 */
} backoff;

/* xorshift64: a fast, good-enough generator for jitter and simulated
 * users. `state` must not be 0. */
static inline uint64_t backoff_random(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

void backoff_init(backoff *b, unsigned base_ms, unsigned cap_ms, uint64_t seed);

/* The delay before the next attempt; counts one more failure. */
unsigned backoff_next_ms(backoff *b);

/* The upper bound the next delay is drawn from. */
unsigned backoff_ceiling_ms(const backoff *b);

/* A connection succeeded: start again from `base_ms`. */
void backoff_reset(backoff *b);

#endif
