/* The server's store: what it keeps of each device between runs (today,
 * the mode). All I/O runs on a thread of the store's own, so the loop
 * never waits for a disk: the loop asks for a record (store_load) and hears
 * back later (store_drain), and hands over changed records (store_save),
 * which the thread writes at once, a batch per transaction.
 *
 * Threads: store_open and store_close on the main thread; every other call
 * on the loop thread, except the `notify` callback, which the store's thread
 * calls. */
#ifndef OPAL_STORE_H
#define OPAL_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store_engine.h"

/* The default store's file name, in the folder store_default_url picks. */
#define STORE_DEFAULT_FILE "opal-server.db"

typedef struct store store;

/* Store thread: finished loads are waiting; the loop should store_drain.
 * Called once per batch of results, never with a lock of the store held. */
typedef void (*store_notify_fn)(void *ctx);

/* Loop thread: one finished load. `record` is NULL when the device has no
 * record (or the load failed, which the store has logged). */
typedef void (*store_loaded_fn)(void *ctx, const char *id, const store_record *record);

/* Loop thread: replica `by` owns `id` now (replicas sharing a Redis). The
 * loop lets go of the device and hands what it knew to `by` with
 * store_hand_over. */
typedef void (*store_released_fn)(void *ctx, const char *id, const char *by);

/* "sqlite:" and the default file: $STATE_DIRECTORY/opal-server.db (systemd),
 * else $XDG_STATE_HOME/opal/, else $HOME/.local/state/opal/ (the folders
 * are made). 0, or -1 with one line in `err`. */
int store_default_url(char *out, size_t out_len, char *err, size_t err_len);

/* NULL when `url` is "memory", "sqlite:" and a path, or a redis:// URL;
 * else a static sentence saying what is wrong with it. */
const char *store_url_problem(const char *url);

/* Opens `url`: "memory" (nothing is kept), "sqlite:PATH" or
 * "redis://HOST:PORT[/DB]" (reached at once: a Redis that does not answer
 * is an error here), as the replica named `replica` (what replicas sharing
 * a Redis call each other; copied). NULL with one line in `err` naming
 * --store, the path or the Redis. The caller owns the result and ends it
 * with store_close. */
store *store_open(const char *url, const char *replica, store_notify_fn notify, void *ctx,
                  char *err, size_t err_len);

/* "memory" or "sqlite:PATH", for the log. */
const char *store_name(const store *s);

/* False for "memory": nothing is loaded or saved, and the calls below
 * must not be made. */
bool store_keeps_state(const store *s);

/* Asks for `id`'s record; the answer comes through store_drain. With
 * Redis this also claims the device for this replica: a live replica that
 * had it is asked to let go, and its record answers (waited for at most
 * 150 ms, else the stored one does). */
void store_load(store *s, const char *id);

/* Hands over `n` changed records (copied) to be written. */
void store_save(store *s, const store_write *writes, size_t n);

/* After store_released_fn: sends what this replica knew of `id` to the
 * replica `to` that claimed it. Does nothing for a store without replicas. */
void store_hand_over(store *s, const char *id, const char *to, const store_record *record);

/* Loop thread: the engine holds `id`'s record at `version` (a batch with
 * it was written, or a load found it there). */
typedef void (*store_written_fn)(void *ctx, const char *id, uint64_t version);

/* Delivers what the engine was found to hold since the last call, so the
 * loop knows which devices it may forget without losing a change (issue
 * 9). Polled by the loop (it needs the news only when it sweeps or is
 * full), so the store does not wake it for this. */
void store_take_written(store *s, store_written_fn written, void *ctx);

/* Delivers the releases and the loads finished so far. */
void store_drain(store *s, store_loaded_fn loaded, store_released_fn released, void *ctx);

/* Any thread, without waiting: false while the engine is known to be out
 * of reach (Redis: its always-open listening connection is lost and not
 * yet back). "memory" and SQLite (opened by store_open) are always
 * reachable. NULL is reachable. */
bool store_reachable(const store *s);

/* Writes everything handed over (retrying for a while if the engine
 * fails), stops the thread and frees the store. NULL does nothing. */
void store_close(store *s);

#endif
