/* A store engine: where device records live between runs (SQLite or Redis).
 * Synchronous and single-threaded: only the store's own thread
 * (store/store.c) calls an engine, so an engine may block and needs no
 * lock. Every failure is one line in `err` that names the engine and what
 * went wrong ("sqlite /var/lib/opal/opal.db: disk I/O error"). */
#ifndef OPAL_STORE_ENGINE_H
#define OPAL_STORE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device_id.h"

/* What the server keeps of a device across restarts. `version` grows by
 * one with every change, so a write never replaces a newer record. */
typedef struct store_record {
  uint32_t mode;
  uint64_t version;
} store_record;

/* One pending write: the device's latest record. */
typedef struct store_write {
  char id[DEVICE_ID_MAX_LEN + 1];
  store_record record;
} store_write;

typedef struct store_engine store_engine;

/* A replica's name (--replica-name): 1-64 printable bytes, no spaces. */
#define STORE_REPLICA_MAX 64

/* What an engine shared by several replicas (Redis) reports by itself.
 * Called on any of the engine's threads, never with a lock of the
 * engine's held. */
typedef struct store_engine_events {
  void *ctx;
  /* Replica `by` owns `id` now: this one must let go of it (it claimed the
   * device, or refused a write of ours to it). */
  void (*released)(void *ctx, const char *id, const char *by);
  /* The replica we claimed `id` from handed us its record. */
  void (*handed)(void *ctx, const char *id, const store_record *record);
} store_engine_events;

typedef struct store_engine_ops {
  /* 1 and *out set when `id` has a record, 0 when it has none, -1 on error. */
  int (*load)(store_engine *e, const char *id, store_record *out, char *err, size_t err_len);
  /* Writes all `n` records as one transaction: all or none. A record whose
   * stored version is already >= its version is left as it is. 0 or -1. */
  int (*save)(store_engine *e, const store_write *writes, size_t n, char *err, size_t err_len);
  /* Optional (NULL: one server per store). Loads `id` like `load` and
   * makes this replica its owner. *asked is true when a live replica owned
   * it: that one has been asked to let go, and its record comes through
   * events.handed. */
  int (*claim)(store_engine *e, const char *id, store_record *out, bool *asked, char *err,
               size_t err_len);
  /* Optional, with claim: sends `record` of `id` to replica `to`, which
   * claimed it from us. 0 or -1. */
  int (*hand_over)(store_engine *e, const char *to, const char *id, const store_record *record,
                   char *err, size_t err_len);
  /* Optional (NULL: always true). Any thread, without waiting: false while
   * the engine is known to be out of reach (health/health_state.h). */
  bool (*reachable)(store_engine *e);
  /* Closes and frees the engine. */
  void (*close)(store_engine *e);
} store_engine_ops;

/* Each engine embeds this as its first member. */
struct store_engine {
  const store_engine_ops *ops;
};

/* Writes "ENGINE WHERE: " and the formatted reason to `err`, the shape of
 * every engine's error line ("sqlite /var/lib/opal/opal.db: disk I/O
 * error"). NULL or empty `err` writes nothing. */
void store_engine_fail(char *err, size_t err_len, const char *engine, const char *where,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
