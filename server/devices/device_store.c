#include "devices/device_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

void device_store_init(device_store *ds, store *st) {
  memset(ds, 0, sizeof *ds);
  ds->store = st && store_keeps_state(st) ? st : NULL;
  item_array_init(&ds->batch, sizeof(store_write));
  ds->batch_gen = 1; /* device records start at 0: in no batch */
}

void device_store_clear(device_store *ds) {
  item_array_free(&ds->batch);
  free(ds->loads);
  memset(ds, 0, sizeof *ds);
}

static void push_load(device_store *ds, const char *id, int64_t deadline_ns) {
  if (ds->loads_len == ds->loads_cap) {
    size_t cap = ds->loads_cap ? ds->loads_cap * 2 : 64;
    pending_load *grown = malloc(cap * sizeof *grown);
    if (!grown) abort(); /* the loop cannot go on without its queues */
    for (size_t i = 0; i < ds->loads_len; i++)
      grown[i] = ds->loads[(ds->loads_head + i) % ds->loads_cap];
    free(ds->loads);
    ds->loads = grown;
    ds->loads_cap = cap;
    ds->loads_head = 0;
  }
  pending_load *p = &ds->loads[(ds->loads_head + ds->loads_len++) % ds->loads_cap];
  snprintf(p->id, sizeof p->id, "%s", id);
  p->deadline_ns = deadline_ns;
}

void device_store_begin_wait(device_store *ds, device *d, int64_t now_ns) {
  d->loading = true;
  d->load_started_ns = now_ns;
  push_load(ds, d->id, now_ns + DEVICE_STORE_LOAD_WAIT_NS);
}

void device_store_begin_load(device_store *ds, device *d, int64_t now_ns) {
  if (!ds->store) return;
  device_store_begin_wait(ds, d, now_ns);
  store_load(ds->store, d->id);
}

void device_store_changed(device_store *ds, device *d, int64_t now_ns) {
  d->version++; /* counted even when nothing is kept: a hand-over carries it */
  device_store_rewrite(ds, d, now_ns);
}

void device_store_rewrite(device_store *ds, device *d, int64_t now_ns) {
  if (!ds->store) return;
  if (d->batch_gen != ds->batch_gen) {
    store_write w = {0};
    snprintf(w.id, sizeof w.id, "%s", d->id);
    d->batch_gen = ds->batch_gen;
    d->batch_index = ds->batch.len;
    item_array_append(&ds->batch, &w, 1);
  }
  store_write *w = item_array_at(&ds->batch, d->batch_index);
  w->record = (store_record){.mode = d->state.mode, .version = d->version};
  if (!ds->flush_at_ns) ds->flush_at_ns = now_ns + DEVICE_STORE_FLUSH_NS;
}

void device_store_flush(device_store *ds) {
  if (!ds->store || ds->batch.len == 0) return;
  store_save(ds->store, ds->batch.items, ds->batch.len);
  ds->batch.len = 0; /* the room is kept for the next batch */
  ds->batch_gen++;
  ds->flush_at_ns = 0;
}

typedef struct written_ctx {
  registry *r;
  device_ready_fn written;
} written_ctx;

/* store_written_fn */
static void on_written(void *ctx, const char *id, uint64_t version) {
  const written_ctx *w = ctx;
  device *d = registry_find(w->r, id);
  if (!d || d->foreign || version <= d->written_version) return;
  d->written_version = version;
  w->written(d);
}

void device_store_take_written(device_store *ds, registry *r, device_ready_fn written) {
  if (!ds->store) return;
  written_ctx w = {.r = r, .written = written};
  store_take_written(ds->store, on_written, &w);
}

/* A record whose mode the sounds no longer have starts over at mode 0. */
static uint32_t usable_mode(const device *d, const store_record *record, unsigned mode_count) {
  if (record->mode < mode_count) return record->mode;
  log_warn("store: device=%s had mode %u, but only %u modes are loaded: mode 0", d->id,
           record->mode, mode_count);
  return 0;
}

/* A record that came after the device stopped waiting for it. Newer than
 * what it is served, and nothing changed since: the record is the truth (a
 * slow store, or a slow replica's hand-over), and is written on. Else the
 * served mode stays and is written over the record. */
static void late_record(device_store *ds, device *d, const store_record *record,
                        unsigned mode_count, device_ready_fn changed) {
  long long after_ms = (long long)((clock_now_ns() - d->load_started_ns) / NS_PER_MS);
  if (record->version > d->version && d->version == d->ready_version) {
    log_warn("store: device=%s record came after %lld ms: mode %u (was serving mode %u)", d->id,
             after_ms, record->mode, d->state.mode);
    d->state.mode = usable_mode(d, record, mode_count);
    d->version = record->version;
    device_store_changed(ds, d, clock_now_ns());
    changed(d);
    return;
  }
  if (record->mode != d->state.mode)
    log_warn("store: device=%s record came after %lld ms (mode %u); serving mode %u and "
             "keeping it", d->id, after_ms, record->mode, d->state.mode);
  if (record->version >= d->version) {
    d->version = record->version;
    device_store_changed(ds, d, clock_now_ns());
  }
}

void device_store_loaded(device_store *ds, registry *r, const char *id,
                         const store_record *record, unsigned mode_count, device_ready_fn ready,
                         device_ready_fn changed) {
  device *d = registry_find(r, id);
  if (d && d->foreign) return; /* another worker serves it now */
  if (!d || !record) {
    if (d && d->loading) {
      d->loading = false;
      ready(d);
    }
    return;
  }
  if (d->loading) {
    d->state.mode = usable_mode(d, record, mode_count);
    d->version = record->version;
    d->loading = false;
    ready(d);
    return;
  }
  late_record(ds, d, record, mode_count, changed);
}

/* Loads past their bound: the device is served from a fresh record. */
static void expire_loads(device_store *ds, registry *r, int64_t now_ns, device_ready_fn ready) {
  while (ds->loads_len && ds->loads[ds->loads_head].deadline_ns <= now_ns) {
    pending_load *p = &ds->loads[ds->loads_head];
    device *d = registry_find(r, p->id);
    /* The same device, not one made again since under the same id. */
    if (d && d->loading && d->load_started_ns + DEVICE_STORE_LOAD_WAIT_NS == p->deadline_ns) {
      log_warn("store: no record for device=%s within %lld ms: serving mode %u", p->id,
               (long long)(DEVICE_STORE_LOAD_WAIT_NS / NS_PER_MS), d->state.mode);
      d->ready_version = d->version;
      d->loading = false;
      ready(d);
    }
    ds->loads_head = (ds->loads_head + 1) % ds->loads_cap;
    ds->loads_len--;
  }
}

void device_store_work(device_store *ds, registry *r, int64_t now_ns, device_ready_fn ready) {
  if (ds->flush_at_ns && now_ns >= ds->flush_at_ns) device_store_flush(ds);
  expire_loads(ds, r, now_ns, ready);
}

int64_t device_store_deadline(const device_store *ds) {
  int64_t t = ds->flush_at_ns ? ds->flush_at_ns : INT64_MAX;
  if (ds->loads_len && ds->loads[ds->loads_head].deadline_ns < t)
    t = ds->loads[ds->loads_head].deadline_ns;
  return t;
}
