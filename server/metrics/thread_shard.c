#include "metrics/thread_shard.h"

#include <stdatomic.h>

static atomic_uint next_shard;
static _Thread_local unsigned my_shard_plus_one; /* 0: not chosen yet */

unsigned thread_shard(void) {
  if (!my_shard_plus_one)
    my_shard_plus_one =
        atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % THREAD_SHARDS + 1;
  return my_shard_plus_one - 1;
}
