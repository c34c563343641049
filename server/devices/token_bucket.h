/* A token bucket: `burst` tokens at most, refilled at `per_s` a second.
 * Plain data and pure functions; whoever holds a bucket locks it. */
#ifndef OPAL_TOKEN_BUCKET_H
#define OPAL_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct token_rate {
  double per_s; /* 0: unlimited */
  double burst; /* at least 1 when per_s > 0 */
} token_rate;

typedef struct token_bucket {
  double tokens;
  int64_t at_ns; /* when `tokens` was right; 0: never used, so full */
} token_bucket;

/* Takes one token at `now_ns` if there is one. Time that runs backwards
 * (a clock set back) refills nothing and takes nothing away. */
bool token_bucket_take(token_bucket *b, const token_rate *rate, int64_t now_ns);

/* True when the bucket would be full at `now_ns`: it then says nothing a
 * fresh bucket would not, and may be dropped. */
bool token_bucket_idle(const token_bucket *b, const token_rate *rate, int64_t now_ns);

#endif
