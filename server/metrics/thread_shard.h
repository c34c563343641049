/* Which shard of a counter the calling thread adds to. Each loop thread
 * (--workers K) takes the next shard the first time it counts, so two
 * workers never add to the same cache line on the streaming path; a scrape
 * sums the shards. */
#ifndef OPAL_THREAD_SHARD_H
#define OPAL_THREAD_SHARD_H

/* Shards of each hot counter; more threads than this share some. */
#define THREAD_SHARDS 16
/* A shard on a cache line of its own. */
#define THREAD_SHARD_ALIGN 64

/* The calling thread's shard, 0 .. THREAD_SHARDS - 1, the same for its life. */
unsigned thread_shard(void);

#endif
