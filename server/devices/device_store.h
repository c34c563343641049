/* Devices' records in the store (store/store.h): a new device's record is
 * loaded before its calls start, waiting at most DEVICE_STORE_LOAD_WAIT_NS,
 * and every change is written behind: changes are collected for
 * DEVICE_STORE_FLUSH_NS, so a burst of changes to one device is one write,
 * and kill -9 loses at most that window (plus the write itself).
 *
 * Loop thread only. A device is told it is ready through the `ready`
 * callback its owner (devices.c) passes in. */
#ifndef OPAL_DEVICE_STORE_H
#define OPAL_DEVICE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"
#include "item_array.h"
#include "devices/registry.h"
#include "store/store.h"

#define DEVICE_STORE_FLUSH_NS (50 * 1000000LL)
#define DEVICE_STORE_LOAD_WAIT_NS (250 * 1000000LL)

/* A load being waited for; the device is looked up again by id when it
 * ends, since an offline device may be forgotten meanwhile. */
typedef struct pending_load {
  char id[DEVICE_ID_MAX_LEN + 1];
  int64_t deadline_ns;
} pending_load;

typedef struct device_store {
  store *store; /* borrowed; NULL when nothing is kept */
  item_array batch; /* store_write: changes since the last flush, one per device */
  uint64_t batch_gen; /* a device is in the batch when its batch_gen is this */
  int64_t flush_at_ns; /* 0 when the batch is empty */
  pending_load *loads; /* a ring, oldest first: they all wait as long */
  size_t loads_head, loads_len, loads_cap;
} device_store;

/* Told of a device; it may forget the device (registry_forget): the
 * caller touches it no more. */
typedef void (*device_ready_fn)(device *d);

/* `st` may be NULL or a "memory" store: then nothing is loaded or kept. */
void device_store_init(device_store *ds, store *st);

/* A new device: asks for its record and marks it loading (its calls wait
 * for device_ready). Does nothing when nothing is kept. */
void device_store_begin_load(device_store *ds, device *d, int64_t now_ns);

/* The device's record comes from elsewhere (another worker hands it over,
 * through device_store_loaded): mark it loading and wait as for a load. */
void device_store_begin_wait(device_store *ds, device *d, int64_t now_ns);

/* The device's mode changed: a new version goes into the next write. */
void device_store_changed(device_store *ds, device *d, int64_t now_ns);

/* The device's record, as it is, goes into the next write: it came from
 * elsewhere (another worker), and this set's own store connection must
 * confirm it before the device may be forgotten. */
void device_store_rewrite(device_store *ds, device *d, int64_t now_ns);

/* Records the store confirmed it holds (store_take_written) since the
 * last call: each device still served here learns its written_version,
 * and `written` is told. */
void device_store_take_written(device_store *ds, registry *r, device_ready_fn written);

/* A finished load. A device still loading takes the record and is ready.
 * One that stopped waiting takes a newer record if it has not changed
 * since (`changed` is told: its LEDs must say so); else it keeps what it
 * serves, and the disagreement is logged and written over. */
void device_store_loaded(device_store *ds, registry *r, const char *id,
                         const store_record *record, unsigned mode_count, device_ready_fn ready,
                         device_ready_fn changed);

/* Flushes the batch when due, and gives up on loads past their bound (a
 * fresh record is served). */
void device_store_work(device_store *ds, registry *r, int64_t now_ns, device_ready_fn ready);

/* When device_store_work next has something to do; INT64_MAX for never. */
int64_t device_store_deadline(const device_store *ds);

/* True when records are kept (a store other than "memory"). */
static inline bool device_store_keeps(const device_store *ds) { return ds->store != NULL; }

/* Hands every collected change to the store now (shutdown). */
void device_store_flush(device_store *ds);

/* Frees what device_store_init made (not the store). */
void device_store_clear(device_store *ds);

#endif
