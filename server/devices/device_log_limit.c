#include "devices/device_log_limit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_id.h"

#define FIRST_BUCKETS 64

/* One device that logged lately. The bucket is kept as the time it is full
 * again (the generic cell rate algorithm): one number, no refill step. */
struct device_log_entry {
  device_log_entry *next;
  int64_t full_ns;  /* the bucket is full again at this time */
  int64_t since_ns; /* the first line of the current count */
  int64_t last_ns;  /* the latest line counted */
  uint64_t suppressed;
  log_level worst; /* the count is written at the level of its worst line */
  char id[DEVICE_ID_MAX_LEN + 1];
};

void device_log_limit_init(device_log_limit *l, unsigned rate) {
  memset(l, 0, sizeof *l);
  l->rate = rate > DEVICE_LOG_MAX_RATE ? DEVICE_LOG_MAX_RATE : rate;
  if (!l->rate) return;
  l->interval_ns = NS_PER_SEC / l->rate;
  l->tolerance_ns = (int64_t)(DEVICE_LOG_BURST_SECONDS * l->rate - 1) * l->interval_ns;
}

static void report(device_log_entry *e, int64_t now_ns) {
  log_write(e->worst, "log device=%s: %llu lines suppressed in the last %.1f s", e->id,
            (unsigned long long)e->suppressed, (double)(now_ns - e->since_ns) / NS_PER_SEC);
  e->suppressed = 0;
}

/* A bigger table when it fills; if there is no memory for one, the chains
 * just get longer. */
static void grow(device_log_limit *l) {
  size_t n = l->bucket_count ? l->bucket_count * 2 : FIRST_BUCKETS;
  device_log_entry **buckets = calloc(n, sizeof *buckets);
  if (!buckets) return;
  for (size_t i = 0; i < l->bucket_count; i++) {
    for (device_log_entry *e = l->buckets[i], *next; e; e = next) {
      next = e->next;
      size_t b = device_id_hash(e->id) & (n - 1);
      e->next = buckets[b];
      buckets[b] = e;
    }
  }
  free(l->buckets);
  l->buckets = buckets;
  l->bucket_count = n;
}

static device_log_entry *find_or_add(device_log_limit *l, const char *id, int64_t now_ns) {
  if (l->count >= l->bucket_count) grow(l);
  if (!l->bucket_count) return NULL;
  device_log_entry **head = &l->buckets[device_id_hash(id) & (l->bucket_count - 1)];
  for (device_log_entry *e = *head; e; e = e->next)
    if (strcmp(e->id, id) == 0) return e;
  device_log_entry *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  snprintf(e->id, sizeof e->id, "%s", id);
  e->full_ns = now_ns;
  e->next = *head;
  *head = e;
  l->count++;
  return e;
}

static void count(device_log_entry *e, log_level level, int64_t now_ns) {
  if (!e->suppressed) {
    e->since_ns = now_ns;
    e->worst = level;
  }
  if (level > e->worst) e->worst = level;
  e->suppressed++;
  e->last_ns = now_ns;
}

bool device_log_admit(device_log_limit *l, const char *id, log_level level, int64_t now_ns) {
  if (!l || !l->rate) return true;
  device_log_entry *e = find_or_add(l, id, now_ns);
  /* Without memory to count in, the line is written: a limit must not
   * lose what it cannot account for. */
  if (!e) return true;
  /* A device quiet again has its count written before its next line. A
   * flood's lines that are let through do not write it: that would double
   * what a flood puts in the log. */
  if (e->suppressed && now_ns - e->last_ns >= DEVICE_LOG_QUIET_NS) report(e, now_ns);
  if (e->full_ns - now_ns <= l->tolerance_ns) {
    e->full_ns = (e->full_ns > now_ns ? e->full_ns : now_ns) + l->interval_ns;
    return true;
  }
  count(e, level, now_ns);
  if (now_ns - e->since_ns >= DEVICE_LOG_REPORT_NS) report(e, now_ns);
  return false;
}

/* True when the entry can go: nothing owed, and a full bucket, which a
 * new entry would have too. */
static bool settle(device_log_entry *e, int64_t now_ns) {
  if (e->suppressed && (now_ns - e->last_ns >= DEVICE_LOG_QUIET_NS ||
                        now_ns - e->since_ns >= DEVICE_LOG_REPORT_NS))
    report(e, now_ns);
  return !e->suppressed && e->full_ns <= now_ns;
}

void device_log_limit_sweep(device_log_limit *l, int64_t now_ns) {
  if (!l->rate || now_ns < l->next_sweep_ns) return;
  l->next_sweep_ns = now_ns + DEVICE_LOG_QUIET_NS / 4;
  for (size_t i = 0; i < l->bucket_count; i++) {
    device_log_entry **link = &l->buckets[i];
    while (*link) {
      device_log_entry *e = *link;
      if (!settle(e, now_ns)) {
        link = &e->next;
        continue;
      }
      *link = e->next;
      free(e);
      l->count--;
    }
  }
}

void device_log_limit_clear(device_log_limit *l) {
  int64_t now_ns = clock_now_ns();
  for (size_t i = 0; i < l->bucket_count; i++) {
    for (device_log_entry *e = l->buckets[i], *next; e; e = next) {
      next = e->next;
      if (e->suppressed) report(e, now_ns);
      free(e);
    }
  }
  free(l->buckets);
  device_log_limit_init(l, l->rate);
}
