#include "devices/token_bucket.h"

/* The tokens at `now_ns`, at most a burst. */
static double tokens_at(const token_bucket *b, const token_rate *rate, int64_t now_ns) {
  if (b->at_ns == 0) return rate->burst;
  double elapsed_s = now_ns > b->at_ns ? (double)(now_ns - b->at_ns) / 1e9 : 0.0;
  double t = b->tokens + elapsed_s * rate->per_s;
  return t < rate->burst ? t : rate->burst;
}

bool token_bucket_take(token_bucket *b, const token_rate *rate, int64_t now_ns) {
  if (rate->per_s <= 0) return true;
  double t = tokens_at(b, rate, now_ns);
  if (now_ns > b->at_ns || b->at_ns == 0) b->at_ns = now_ns;
  bool taken = t >= 1.0;
  b->tokens = taken ? t - 1.0 : t;
  return taken;
}

bool token_bucket_idle(const token_bucket *b, const token_rate *rate, int64_t now_ns) {
  return rate->per_s <= 0 || tokens_at(b, rate, now_ns) >= rate->burst;
}
