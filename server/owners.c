#include "owners.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_id.h"

typedef struct owner_entry {
  char id[DEVICE_ID_MAX_LEN + 1];
  int worker;
  struct owner_entry *next;
} owner_entry;

struct owners {
  pthread_mutex_t lock;
  owner_entry **buckets;
  size_t bucket_count; /* a power of two */
  size_t count;
};

owners *owners_create(void) {
  owners *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->bucket_count = 1024;
  o->buckets = calloc(o->bucket_count, sizeof *o->buckets);
  if (!o->buckets) {
    free(o);
    return NULL;
  }
  pthread_mutex_init(&o->lock, NULL);
  return o;
}

void owners_destroy(owners *o) {
  if (!o) return;
  for (size_t i = 0; i < o->bucket_count; i++) {
    owner_entry *e = o->buckets[i];
    while (e) {
      owner_entry *next = e->next;
      free(e);
      e = next;
    }
  }
  free(o->buckets);
  pthread_mutex_destroy(&o->lock);
  free(o);
}

/* Doubles the table once it holds as many entries as buckets. */
static void grow(owners *o) {
  size_t count = o->bucket_count * 2;
  owner_entry **buckets = calloc(count, sizeof *buckets);
  if (!buckets) return; /* longer chains, still correct */
  for (size_t i = 0; i < o->bucket_count; i++) {
    owner_entry *e = o->buckets[i];
    while (e) {
      owner_entry *next = e->next;
      size_t b = device_id_hash(e->id) & (count - 1);
      e->next = buckets[b];
      buckets[b] = e;
      e = next;
    }
  }
  free(o->buckets);
  o->buckets = buckets;
  o->bucket_count = count;
}

int owners_claim(owners *o, const char *id, int worker) {
  pthread_mutex_lock(&o->lock);
  size_t b = device_id_hash(id) & (o->bucket_count - 1);
  owner_entry *e = o->buckets[b];
  while (e && strcmp(e->id, id) != 0) e = e->next;
  int before = -1;
  if (e) {
    before = e->worker;
    e->worker = worker;
  } else if ((e = calloc(1, sizeof *e))) {
    snprintf(e->id, sizeof e->id, "%s", id);
    e->worker = worker;
    e->next = o->buckets[b];
    o->buckets[b] = e;
    if (++o->count >= o->bucket_count) grow(o);
  } /* out of memory: unowned, so the next claim hands nothing over */
  pthread_mutex_unlock(&o->lock);
  return before;
}

void owners_release(owners *o, const char *id, int worker) {
  pthread_mutex_lock(&o->lock);
  owner_entry **link = &o->buckets[device_id_hash(id) & (o->bucket_count - 1)];
  while (*link && strcmp((*link)->id, id) != 0) link = &(*link)->next;
  owner_entry *e = *link;
  if (e && e->worker == worker) {
    *link = e->next;
    o->count--;
    free(e);
  }
  pthread_mutex_unlock(&o->lock);
}
