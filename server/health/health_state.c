#include "health/health_state.h"

#include <string.h>

#include "comms.pb-c.h"
#include "log.h"

void health_state_init(health_state *h) { memset(h, 0, sizeof *h); }

health_status health_state_status(const health_state *h) {
  return h->store_reachable && !h->stopping ? HEALTH_SERVING : HEALTH_NOT_SERVING;
}

static void tell_watchers(health_state *h) {
  health_status now = health_state_status(h);
  /* A watcher may not leave from inside `changed`, so `next` stays valid. */
  for (health_watcher *w = h->watchers; w; w = w->next) w->changed(w, now);
}

/* Applies a change of either input: logs and tells only a change of status. */
static void update(health_state *h, bool store_reachable, bool stopping) {
  health_status before = health_state_status(h);
  h->store_reachable = store_reachable;
  h->stopping = stopping;
  health_status now = health_state_status(h);
  if (now == before) return;
  log_info("health %s (store %s%s), %zu watchers told",
           now == HEALTH_SERVING ? "SERVING" : "NOT_SERVING",
           store_reachable ? "reachable" : "unreachable", stopping ? ", shutting down" : "",
           h->watcher_count);
  tell_watchers(h);
}

void health_state_set_store(health_state *h, bool reachable) {
  if (reachable != h->store_reachable) update(h, reachable, h->stopping);
}

void health_state_set_stopping(health_state *h) {
  if (!h->stopping) update(h, h->store_reachable, true);
}

/* From the generated descriptor: proto/comms.proto is the one place the
 * name is written. */
const char *health_device_service_name(void) {
  return com__opalcamera__test__device_service__descriptor.name;
}

bool health_service_known(const char *name) {
  return name[0] == '\0' || strcmp(name, health_device_service_name()) == 0;
}

void health_state_watch(health_state *h, health_watcher *w) {
  w->prev = NULL;
  w->next = h->watchers;
  if (h->watchers) h->watchers->prev = w;
  h->watchers = w;
  h->watcher_count++;
}

void health_state_unwatch(health_state *h, health_watcher *w) {
  if (w->prev) w->prev->next = w->next;
  else h->watchers = w->next;
  if (w->next) w->next->prev = w->prev;
  w->prev = w->next = NULL;
  h->watcher_count--;
}

bool health_state_all_told(const health_state *h) {
  health_status now = health_state_status(h);
  for (const health_watcher *w = h->watchers; w; w = w->next)
    if (w->told != now) return false;
  return true;
}
