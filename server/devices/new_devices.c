#include "devices/new_devices.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log_throttle.h"
#include "devices/peer_key.h"
#include "log.h"

/* 8,192 slots of 40 bytes: 320 KiB, whatever the peers. */
#define SLOTS 8192
/* A peer may use this many slots from where its hash points. */
#define PROBES 4

typedef struct slot {
  uint8_t key[16];
  bool used;
  token_bucket bucket;
} slot;

struct new_devices {
  token_rate rate;
  uint64_t seed; /* keys the hash */
  pthread_mutex_t lock;
  log_throttle refusals; /* under `lock` */
  slot slots[SLOTS];
};

new_devices *new_devices_create(const token_rate *rate) {
  new_devices *nd = calloc(1, sizeof *nd);
  if (!nd) abort();
  nd->rate = *rate;
  if (getrandom(&nd->seed, sizeof nd->seed, 0) != sizeof nd->seed)
    nd->seed = (uint64_t)(uintptr_t)nd ^ 0x9e3779b97f4a7c15ULL; /* still not a constant */
  pthread_mutex_init(&nd->lock, NULL);
  return nd;
}

void new_devices_free(new_devices *nd) {
  if (!nd) return;
  pthread_mutex_destroy(&nd->lock);
  free(nd);
}

/* FNV-1a over the key, started from the seed. */
static size_t slot_of(const new_devices *nd, const uint8_t key[16]) {
  uint64_t h = 0xcbf29ce484222325ULL ^ nd->seed;
  for (int i = 0; i < 16; i++) h = (h ^ key[i]) * 0x100000001b3ULL;
  return (size_t)(h ^ (h >> 29)) & (SLOTS - 1);
}

/* The peer's slot: its own, else a free or idle one (taken over), else
 * the first it may use (shared). Lock held. */
static token_bucket *bucket_of(new_devices *nd, const uint8_t key[16], int64_t now_ns) {
  size_t first = slot_of(nd, key);
  slot *spare = NULL;
  for (size_t i = 0; i < PROBES; i++) {
    slot *s = &nd->slots[(first + i) & (SLOTS - 1)];
    if (s->used && memcmp(s->key, key, 16) == 0) return &s->bucket;
    if (!spare && (!s->used || token_bucket_idle(&s->bucket, &nd->rate, now_ns))) spare = s;
  }
  if (!spare) return &nd->slots[first].bucket;
  memcpy(spare->key, key, 16);
  spare->used = true;
  spare->bucket = (token_bucket){0};
  return &spare->bucket;
}

bool new_devices_take(new_devices *nd, const char *peer, int64_t now_ns, char *why,
                      size_t why_len) {
  if (!nd || nd->rate.per_s <= 0) return true;
  peer_key who;
  peer_key_of(peer, &who);
  pthread_mutex_lock(&nd->lock);
  bool ok = token_bucket_take(bucket_of(nd, who.key, now_ns), &nd->rate, now_ns);
  uint64_t count = 0;
  bool say = !ok && log_throttle_due(&nd->refusals, now_ns, &count);
  pthread_mutex_unlock(&nd->lock);
  if (ok) return true;
  snprintf(why, why_len, "new devices from %s arrive faster than %g/s (--new-devices-per-ip)",
           who.text, nd->rate.per_s);
  if (say)
    log_warn("refused %llu new device(s) since the last such line: %s",
             (unsigned long long)count, why);
  return false;
}
