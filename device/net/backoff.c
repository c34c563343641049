#include "net/backoff.h"

void backoff_init(backoff *b, unsigned base_ms, unsigned cap_ms, uint64_t seed) {
  b->base_ms = base_ms;
  b->cap_ms = cap_ms;
  b->attempt = 0;
  b->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

unsigned backoff_ceiling_ms(const backoff *b) {
  uint64_t ceiling = b->base_ms;
  for (unsigned i = 0; i < b->attempt && ceiling < b->cap_ms; i++) ceiling *= 2;
  return ceiling < b->cap_ms ? (unsigned)ceiling : b->cap_ms;
}

unsigned backoff_next_ms(backoff *b) {
  unsigned ceiling = backoff_ceiling_ms(b);
  b->attempt++;
  return (unsigned)(backoff_random(&b->rng) % ((uint64_t)ceiling + 1));
}

void backoff_reset(backoff *b) { b->attempt = 0; }
