/* Whether this server serves, in the terms of the standard gRPC health
 * service (grpc.health.v1, proto/health.proto), and the Watch calls to tell
 * when that changes. SERVING needs the store reachable and the server not
 * shutting down; the sounds are loaded before a server starts at all.
 * Loop thread only. */
#ifndef OPAL_HEALTH_STATE_H
#define OPAL_HEALTH_STATE_H

#include <stdbool.h>
#include <stddef.h>

/* HealthCheckResponse.ServingStatus, the wire values. */
typedef enum {
  HEALTH_UNKNOWN = 0,
  HEALTH_SERVING = 1,
  HEALTH_NOT_SERVING = 2,
  HEALTH_SERVICE_UNKNOWN = 3, /* Watch on a service this server does not know */
} health_status;

typedef struct health_watcher health_watcher;

/* One who is told each change (a Watch call embeds it). */
struct health_watcher {
  /* The status is `now`; called on every change while watching. */
  void (*changed)(health_watcher *w, health_status now);
  /* The watcher's to set: the last status its client has been sent
   * (HEALTH_UNKNOWN before the first). Shutdown waits for it to be the
   * current one (health_state_all_told). */
  health_status told;
  health_watcher *prev, *next; /* the state's */
};

typedef struct health_state {
  bool store_reachable;
  bool stopping;
  health_watcher *watchers; /* borrowed; each leaves before it goes */
  size_t watcher_count;
} health_state;

/* Not serving until health_state_set_store says the store is reachable. */
void health_state_init(health_state *h);

/* SERVING or NOT_SERVING. */
health_status health_state_status(const health_state *h);

/* The store is (or is not) reachable now; logged and told when it changes. */
void health_state_set_store(health_state *h, bool reachable);

/* The server is shutting down: NOT_SERVING from now on. */
void health_state_set_stopping(health_state *h);

/* True for the names this server answers for: "" (the whole server) and
 * the service of proto/comms.proto (com.opalcamera.test.DeviceService). */
bool health_service_known(const char *name);

/* "com.opalcamera.test.DeviceService", from proto/comms.proto. */
const char *health_device_service_name(void);

/* `w` is told every change until health_state_unwatch; the caller sets
 * w->changed and keeps `w` alive meanwhile. */
void health_state_watch(health_state *h, health_watcher *w);
void health_state_unwatch(health_state *h, health_watcher *w);

/* True when every watcher has been told the current status. */
bool health_state_all_told(const health_state *h);

#endif
