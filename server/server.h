/* opal-server: the gRPC server, its completion queue, and the one thread
 * that owns every device's state, drains the queue and paces audio. */
#ifndef OPAL_SERVER_H
#define OPAL_SERVER_H

#include <grpc/grpc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "calls/health_call.h"
#include "devices/devices.h"
#include "health/health_state.h"
#include "loop_op.h"
#include "loop_wakeup.h"
#include "net/connections.h"
#include "net/grpc_handoff.h"
#include "rpc/rpc_call.h"
#include "security/server_tls.h"
#include "sounds/sound_library.h"
#include "store/store.h"
#include "wire.h"

/* Messages the server accepts; anything larger fails its call with
 * RESOURCE_EXHAUSTED. The largest legal message is a DeviceStatus (~80 B). */
#define SERVER_MAX_RECEIVE_BYTES (64 * 1024)
typedef struct server_config {
  const char *listen;          /* HOST:PORT, as given */
  int port;                    /* the port the listener bound */
  /* The listener's table (borrowed, outlives the server): every call is
   * counted against its connection's limits. */
  connections *connections;
  /* Stops the listener handing connections to this server; called before
   * the server's shutdown starts. */
  void (*stop_accepting)(void *ctx);
  void *stop_accepting_ctx;
  int64_t lead_ns;             /* how far audio runs ahead of real time */
  const sound_library *sounds; /* borrowed, outlives the server */
  server_tls *tls;             /* borrowed, outlives the server; NULL: plaintext */
  unsigned log_rate_per_device; /* log lines a second per device; 0: no limit */
  /* Opened with server_store_notify and this server as its context. The
   * server takes it over when it starts, and server_run closes it. */
  store *store;
  /* Several workers (server/workers.h): this one's index and how many share
   * the port; 0 workers means one server alone. Only worker 0 announces. */
  unsigned worker, workers;
  /* Called on the loop thread at the last moment anything may still post
   * to the queue (before it is destroyed), or NULL. */
  void (*closing)(void *ctx);
  void *closing_ctx;
  /* Devices remembered at once by the whole process (--max-devices; each
   * of K workers remembers its share), and the rate of new devices per
   * peer (--new-devices-per-ip; borrowed, shared by the workers, NULL: no
   * limit). devices/devices.h says what happens past either. */
  size_t max_devices;
  new_devices *new_devices;
  /* The longest audio packets a client may be granted, in ms (--packet-ms;
   * the sounds hold variants up to it); 0 or 20: only 20 ms packets. */
  unsigned packet_ms;
  /* Overload (devices_limit_streams): sounds playing at once in the whole
   * process (--max-streams; each of K workers carries its share, rounded
   * up), and how late pacing may run before new Plays are refused
   * (--max-pacing-lag-ms). 0: no bound. */
  size_t max_streams;
  int64_t max_pacing_lag_ns;
} server_config;

typedef struct opal_server {
  server_config config;
  grpc_server *grpc;
  grpc_completion_queue *cq;
  void *methods[METHOD_COUNT]; /* registered method handles */
  void *health_methods[HEALTH_METHOD_COUNT]; /* grpc.health.v1.Health's Check and Watch */
  health_state health;
  grpc_handoff handoff;        /* how the listener's sockets reach gRPC */

  devices devices;
  rpc_call_list live_calls; /* every call not yet freed */

  bool telling; /* a stop signal came: health watchers hear NOT_SERVING */
  int64_t told_by_ns; /* then shutdown begins, told or not */
  bool stopping;
  bool shutdown_done;
  loop_op shutdown_op;
  loop_wakeup *store_wakeup; /* the store's thread has loads for the loop */
  loop_op store_op;
  int64_t next_tls_poll_ns; /* worker 0 looks at the TLS files */
  unsigned calls_closed_untrimmed; /* since memory last went back (malloc_trim) */
  int64_t next_trim_ns;
} opal_server;

/* Logs "listening on HOST:PORT (lead …, N modes[, K workers])": the line
 * that says the server takes calls. */
void server_announce(const opal_server *s, unsigned workers);

/* HOST:PORT with the port actually bound (port 0 asks for a free one). */
void server_bound_address(const opal_server *s, char *out, size_t len);

/* The store's notify callback (store_notify_fn); `server` is the
 * opal_server that will be started with the store. Any thread. */
void server_store_notify(void *server);

/* Serves `fd`, accepted by the listener on `listen_fd` (it owns `fd` now).
 * Listener thread, between server_start and the config's stop_accepting. */
void server_take_connection(opal_server *s, int listen_fd, int fd);

/* Starts serving. Returns 0, or -1 with one line in `err`.
 * On failure nothing is left to clean up, and the store is the caller's. */
int server_start(opal_server *s, const server_config *config, char *err,
                 size_t err_len);

/* Runs the loop until `*stop_requested` becomes non-zero, then reports
 * NOT_SERVING to the health service's watchers (waiting up to a second for
 * them to be sent it), then ends every
 * call with UNAVAILABLE, writes every change to the store and closes it,
 * and frees everything server_start made. If it reaches 2 (a second
 * signal) before that is done, the process exits. */
void server_run(opal_server *s, volatile sig_atomic_t *stop_requested);

#endif
