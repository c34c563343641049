/* The server's counters, gauges and histograms for --metrics: one set for
 * the process, incremented where things happen, by any loop thread, and
 * read by the metrics HTTP thread at scrape time (metrics_page.c).
 *
 * Every value is a C11 atomic updated with relaxed order: each figure is
 * exact on its own, and a scrape is not a snapshot across figures (a
 * device may be counted as known an instant before it is counted
 * connected). Nothing here allocates or locks. What is counted per packet
 * (packets, bytes, pacing lag) has a shard per thread (thread_shard.h), so
 * workers on different cores never share its cache lines. This header
 * includes only the metrics' own, so every layer may call it. */
#ifndef OPAL_METRICS_H
#define OPAL_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/histogram.h"
#include "metrics/thread_shard.h"

/* Why a sound ended, as opal_stream_ends_total's `reason` label. */
typedef enum {
  METRICS_END_NATURAL,    /* its last packet went out */
  METRICS_END_STOP,       /* Stop */
  METRICS_END_PREEMPT,    /* Play while playing */
  METRICS_END_DISCONNECT, /* its audio stream went away */
  METRICS_END_COUNT
} metrics_end_reason;

/* Why a new device was refused (devices.h, devices_counts). */
typedef enum {
  METRICS_REFUSED_FULL,   /* --max-devices, nothing could be forgotten */
  METRICS_REFUSED_RATE,   /* --new-devices-per-ip */
  METRICS_REFUSED_MEMORY, /* out of memory */
  METRICS_REFUSED_COUNT
} metrics_refusal;

/* Why a Play that would start a new stream got ack=false (devices.c,
 * "Overload"). */
typedef enum {
  METRICS_PLAY_REFUSED_STREAMS, /* --max-streams (or no memory for a stream) */
  METRICS_PLAY_REFUSED_LAG,     /* --max-pacing-lag-ms */
  METRICS_PLAY_REFUSED_COUNT
} metrics_play_refusal;

/* Button and event values beyond the wire's (shared/wire.h) are counted
 * in one extra row and column, "unknown". */
#define METRICS_BUTTONS 5
#define METRICS_EVENT_TYPES 4
/* Methods (wire_method) plus one for calls to an unregistered method. */
#define METRICS_METHODS 4
/* gRPC status codes 0..16. */
#define METRICS_CODES 17

/* AudioPackets handed to gRPC by one thread. */
typedef struct metrics_sent {
  _Alignas(THREAD_SHARD_ALIGN) atomic_uint_fast64_t packets;
  atomic_uint_fast64_t bytes;
} metrics_sent;

typedef struct metrics {
  atomic_int_fast64_t devices_known;   /* in a registry */
  atomic_int_fast64_t devices_offline; /* in a registry with no open call */
  atomic_uint_fast64_t devices_refused[METRICS_REFUSED_COUNT];
  atomic_uint_fast64_t events[METRICS_BUTTONS][METRICS_EVENT_TYPES];
  atomic_uint_fast64_t stream_starts;
  atomic_uint_fast64_t plays_refused[METRICS_PLAY_REFUSED_COUNT];
  atomic_uint_fast64_t stream_ends[METRICS_END_COUNT];
  atomic_uint_fast64_t takeovers;
  atomic_uint_fast64_t calls_ended[METRICS_METHODS][METRICS_CODES];
  metrics_sent audio[THREAD_SHARDS]; /* summed at scrape time */
  histogram pacing_lag;    /* seconds a packet left after it was due */
  histogram first_packet;  /* seconds from Play to the sound's first packet */
  atomic_uint_fast64_t store_loads, store_load_errors;
  atomic_uint_fast64_t store_batches, store_changes_written, store_write_errors;
  atomic_uint_fast64_t store_changes_dropped;
  atomic_int_fast64_t store_queued; /* changes handed to a store, not yet written */
} metrics;

/* The process's one set; zero (static storage) until metrics_init sets
 * the histograms' buckets. Read it only through the functions below and
 * metrics_page.c. */
extern metrics metrics_now;

/* Sets the histograms' buckets; once, before any thread counts. Counting
 * before it (or without --metrics) is harmless: the buckets are empty. */
void metrics_init(void);

/* ---- Hooks, one line each where the thing happens ---- */

/* The registry (devices/registry.c): a device added, removed (`offline`:
 * it had no open call), gone offline (no open call) and back online. */
static inline void metrics_device_added(void) {
  atomic_fetch_add_explicit(&metrics_now.devices_known, 1, memory_order_relaxed);
}
static inline void metrics_device_removed(bool offline) {
  atomic_fetch_sub_explicit(&metrics_now.devices_known, 1, memory_order_relaxed);
  if (offline) atomic_fetch_sub_explicit(&metrics_now.devices_offline, 1, memory_order_relaxed);
}
static inline void metrics_device_offline(void) {
  atomic_fetch_add_explicit(&metrics_now.devices_offline, 1, memory_order_relaxed);
}
static inline void metrics_device_online(void) {
  atomic_fetch_sub_explicit(&metrics_now.devices_offline, 1, memory_order_relaxed);
}
static inline void metrics_device_refused(metrics_refusal why) {
  atomic_fetch_add_explicit(&metrics_now.devices_refused[why], 1, memory_order_relaxed);
}

/* A ButtonEvent arrived (wire values; others count as "unknown"). */
void metrics_event(int button, int type);

/* A sound started; a sound ended, `reason` being playback.c's word for it
 * ("natural", "stop", "preempted", else its stream went away). */
static inline void metrics_stream_started(void) {
  atomic_fetch_add_explicit(&metrics_now.stream_starts, 1, memory_order_relaxed);
}
void metrics_stream_ended(const char *reason);

/* A Play was refused for load. */
static inline void metrics_play_refused(metrics_play_refusal why) {
  atomic_fetch_add_explicit(&metrics_now.plays_refused[why], 1, memory_order_relaxed);
}

/* A new connection took a device's calls over. */
static inline void metrics_takeover(void) {
  atomic_fetch_add_explicit(&metrics_now.takeovers, 1, memory_order_relaxed);
}

/* A call of `method` (wire_method; METRICS_METHODS - 1 or more: not
 * registered) ended with gRPC status `code`. */
void metrics_call_ended(int method, int code);

/* An AudioPacket of `bytes` (serialized) was handed to gRPC. */
static inline void metrics_audio_sent(size_t bytes) {
  metrics_sent *s = &metrics_now.audio[thread_shard()];
  atomic_fetch_add_explicit(&s->packets, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->bytes, bytes, memory_order_relaxed);
}

/* A packet left at `now_ns`, due at `due_ns`, of a sound that started
 * (Play) at `start_ns`: the lag is measured from the later of due and
 * start, since the lead's first packets are due before Play and leave at
 * once on time. The first packet (`first`) also times Play to packet. */
void metrics_packet_left(int64_t now_ns, int64_t due_ns, int64_t start_ns, bool first);

/* The store (store/store.c): a load (failed or not), a batch written or
 * failed, changes queued, dropped from a full queue. */
static inline void metrics_store_loaded(bool failed) {
  atomic_fetch_add_explicit(&metrics_now.store_loads, 1, memory_order_relaxed);
  if (failed) atomic_fetch_add_explicit(&metrics_now.store_load_errors, 1, memory_order_relaxed);
}
static inline void metrics_store_written(size_t changes) {
  atomic_fetch_add_explicit(&metrics_now.store_batches, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&metrics_now.store_changes_written, changes, memory_order_relaxed);
  atomic_fetch_sub_explicit(&metrics_now.store_queued, (int_fast64_t)changes, memory_order_relaxed);
}
static inline void metrics_store_write_failed(void) {
  atomic_fetch_add_explicit(&metrics_now.store_write_errors, 1, memory_order_relaxed);
}
static inline void metrics_store_queued(size_t changes) {
  atomic_fetch_add_explicit(&metrics_now.store_queued, (int_fast64_t)changes, memory_order_relaxed);
}
static inline void metrics_store_dropped(size_t changes) {
  atomic_fetch_add_explicit(&metrics_now.store_changes_dropped, changes, memory_order_relaxed);
  atomic_fetch_sub_explicit(&metrics_now.store_queued, (int_fast64_t)changes, memory_order_relaxed);
}

#endif
