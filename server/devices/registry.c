#include "devices/registry.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "metrics/metrics.h"

#define MIN_BUCKETS 64

void registry_init(registry *r, size_t limit, const registry_hooks *hooks) {
  memset(r, 0, sizeof *r);
  r->limit = limit;
  r->hooks = *hooks;
}

/* Moves every device into a table of `n` buckets. -1 when out of memory
 * (the old table stays). */
static int rehash(registry *r, size_t n) {
  device **buckets = calloc(n, sizeof *buckets);
  if (!buckets) return -1;
  for (size_t i = 0; i < r->bucket_count; i++) {
    device *d = r->buckets[i];
    while (d) {
      device *next = d->hash_next;
      size_t b = device_id_hash(d->id) & (n - 1);
      d->hash_next = buckets[b];
      buckets[b] = d;
      d = next;
    }
  }
  free(r->buckets);
  r->buckets = buckets;
  r->bucket_count = n;
  return 0;
}

device *registry_find(const registry *r, const char *id) {
  if (!r->bucket_count) return NULL;
  device *d = r->buckets[device_id_hash(id) & (r->bucket_count - 1)];
  while (d && strcmp(d->id, id) != 0) d = d->hash_next;
  return d;
}

static device_list *list_of(registry *r, const device *d) { return d->spare ? &r->spare : &r->kept; }

static void list_append(device_list *l, device *d) {
  d->offline_next = NULL;
  d->offline_prev = l->tail;
  if (l->tail) l->tail->offline_next = d;
  else l->head = d;
  l->tail = d;
}

static void list_remove(device_list *l, device *d) {
  if (d->offline_prev) d->offline_prev->offline_next = d->offline_next;
  else l->head = d->offline_next;
  if (d->offline_next) d->offline_next->offline_prev = d->offline_prev;
  else l->tail = d->offline_prev;
  d->offline_prev = d->offline_next = NULL;
}

void registry_offline(registry *r, device *d, bool spare, int64_t now_ns) {
  if (d->offline) return;
  d->offline = true;
  metrics_device_offline();
  d->spare = spare;
  d->listed_ns = now_ns;
  list_append(list_of(r, d), d);
}

void registry_spare(registry *r, device *d, int64_t now_ns) {
  if (!d->offline || d->spare) return;
  list_remove(&r->kept, d);
  d->spare = true;
  d->listed_ns = now_ns;
  list_append(&r->spare, d);
}

/* A spare device that may not be forgotten after all. */
static void keep(registry *r, device *d) {
  list_remove(&r->spare, d);
  d->spare = false;
  list_append(&r->kept, d);
}

void registry_online(registry *r, device *d) {
  if (!d->offline) return;
  list_remove(list_of(r, d), d);
  d->offline = d->spare = false;
  metrics_device_online();
}

void registry_forget(registry *r, device *d) {
  r->hooks.forgetting(d, r->hooks.ctx);
  registry_online(r, d);
  device **link = &r->buckets[device_id_hash(d->id) & (r->bucket_count - 1)];
  while (*link != d) link = &(*link)->hash_next;
  *link = d->hash_next;
  r->count--;
  r->forgotten++;
  metrics_device_removed(false);
  free(d);
}

/* Forgets the spare device listed longest that may be forgotten; spare
 * devices ahead of it that may not move to `kept`. False for none. */
static bool make_room(registry *r) {
  while (r->spare.head) {
    device *d = r->spare.head;
    if (r->hooks.can_forget(d, r->hooks.ctx)) {
      registry_forget(r, d);
      return true;
    }
    keep(r, d);
  }
  return false;
}

device *registry_add(registry *r, const char *id, bool *full) {
  *full = false;
  if (r->limit && r->count >= r->limit && !make_room(r)) {
    *full = true;
    return NULL;
  }
  if (r->count >= r->bucket_count &&
      rehash(r, r->bucket_count ? r->bucket_count * 2 : MIN_BUCKETS) != 0)
    return NULL;
  device *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  snprintf(d->id, sizeof d->id, "%s", id);
  size_t b = device_id_hash(id) & (r->bucket_count - 1);
  d->hash_next = r->buckets[b];
  r->buckets[b] = d;
  r->count++;
  metrics_device_added();
  return d;
}

size_t registry_sweep(registry *r, int64_t before_ns) {
  size_t forgotten = 0;
  while (r->spare.head && r->spare.head->listed_ns < before_ns) {
    device *d = r->spare.head;
    if (r->hooks.can_forget(d, r->hooks.ctx)) {
      registry_forget(r, d);
      forgotten++;
    } else {
      keep(r, d);
    }
  }
  return forgotten;
}

void registry_shrink(registry *r) {
  size_t n = r->bucket_count;
  while (n > MIN_BUCKETS && r->count * 8 < n) n /= 2;
  if (n != r->bucket_count) rehash(r, n); /* out of memory: the bigger table still works */
}

void registry_clear(registry *r) {
  for (size_t i = 0; i < r->bucket_count; i++) {
    device *d = r->buckets[i];
    while (d) {
      device *next = d->hash_next;
      metrics_device_removed(d->offline);
      free(d);
      d = next;
    }
  }
  free(r->buckets);
  registry_hooks hooks = r->hooks;
  registry_init(r, r->limit, &hooks);
}
