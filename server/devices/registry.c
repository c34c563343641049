#include "devices/registry.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"

static int grow(registry *r) {
  size_t n = r->bucket_count ? r->bucket_count * 2 : 64;
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

void registry_offline(registry *r, device *d) {
  if (d->offline || d->offline_prev || r->offline_head == d) return;
  d->offline = true;
  d->offline_prev = r->offline_tail;
  if (r->offline_tail) r->offline_tail->offline_next = d;
  else r->offline_head = d;
  r->offline_tail = d;
}

void registry_online(registry *r, device *d) {
  if (!d->offline) return;
  d->offline = false;
  if (d->offline_prev) d->offline_prev->offline_next = d->offline_next;
  else r->offline_head = d->offline_next;
  if (d->offline_next) d->offline_next->offline_prev = d->offline_prev;
  else r->offline_tail = d->offline_prev;
  d->offline_prev = d->offline_next = NULL;
}

/* Forgets the device disconnected longest; false if every one is online. */
static bool evict_one(registry *r) {
  device *victim = r->offline_head;
  if (!victim) return false;
  registry_online(r, victim);
  device **link = &r->buckets[device_id_hash(victim->id) & (r->bucket_count - 1)];
  while (*link != victim) link = &(*link)->hash_next;
  *link = victim->hash_next;
  r->count--;
  free(victim);
  return true;
}

device *registry_get(registry *r, const char *id) {
  device *d = registry_find(r, id);
  if (d) return d;
  if (r->limit && r->count >= r->limit && !evict_one(r)) return NULL;
  if (r->count >= r->bucket_count && grow(r) != 0) return NULL;
  d = calloc(1, sizeof *d);
  if (!d) return NULL;
  snprintf(d->id, sizeof d->id, "%s", id);
  size_t b = device_id_hash(id) & (r->bucket_count - 1);
  d->hash_next = r->buckets[b];
  r->buckets[b] = d;
  r->count++;
  return d;
}

void registry_clear(registry *r) {
  for (size_t i = 0; i < r->bucket_count; i++) {
    device *d = r->buckets[i];
    while (d) {
      device *next = d->hash_next;
      free(d);
      d = next;
    }
  }
  free(r->buckets);
  size_t limit = r->limit;
  memset(r, 0, sizeof *r);
  r->limit = limit;
}
