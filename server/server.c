#include "server.h"

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calls/audio_call.h"
#include "calls/event_call.h"
#include "calls/health_call.h"
#include "calls/packet_ms.h"
#include "calls/status_call.h"
#include "clock.h"
#include "cq_loop.h"
#include "device_id.h"
#include "log.h"
#include "metadata.h"
#include "security/peer_identity.h"

/* How often the TLS files are looked at (server_tls_poll). */
#define TLS_POLL_NS (200 * NS_PER_MS)
/* Longest wait in the queue with nothing due; bounds how long a stop
 * signal waits to be noticed. */
#define IDLE_WAIT_NS (100 * NS_PER_MS)
/* After this many calls have closed, freed memory goes back to the system
 * (glibc keeps it otherwise: a flood of calls would leave the RSS high). */
#define TRIM_AFTER_CALLS 1000
#define TRIM_EVERY_NS NS_PER_SEC
/* Requests kept posted per method: calls arriving meanwhile queue up. */
#define REQUESTS_PER_METHOD 8

/* The method of a request for calls to any method not registered, and of
 * health calls (which say so in `health`). */
#define ANY_OTHER_METHOD METHOD_COUNT
/* The `health` of a request for a device call. */
#define NOT_HEALTH (-1)
/* On a stop signal, open health Watch calls are told NOT_SERVING before the
 * server closes; it waits for that at most this long. */
#define HEALTH_TELL_NS (1000 * NS_PER_MS)

/* A posted request for the next incoming call of one method (or of any
 * other method). */
typedef struct call_request {
  loop_op op;
  opal_server *server;
  wire_method method;
  int health; /* a health_method, or NOT_HEALTH */
  grpc_call *call;
  gpr_timespec deadline;
  grpc_metadata_array metadata;
  grpc_byte_buffer *payload;
  grpc_call_details details;
} call_request;

static void on_call(loop_op *op, bool ok);

static void post_request(call_request *r) {
  opal_server *s = r->server;
  r->call = NULL;
  r->payload = NULL;
  grpc_metadata_array_init(&r->metadata);
  grpc_call_error rc;
  if (r->health != NOT_HEALTH) {
    rc = grpc_server_request_registered_call(s->grpc, s->health_methods[r->health], &r->call,
                                             &r->deadline, &r->metadata, &r->payload, s->cq,
                                             s->cq, &r->op);
  } else if (r->method == ANY_OTHER_METHOD) {
    grpc_call_details_init(&r->details);
    rc = grpc_server_request_call(s->grpc, &r->call, &r->details, &r->metadata, s->cq,
                                  s->cq, &r->op);
  } else {
    rc = grpc_server_request_registered_call(
        s->grpc, s->methods[r->method], &r->call, &r->deadline, &r->metadata,
        r->method == METHOD_AUDIO ? &r->payload : NULL, s->cq, s->cq, &r->op);
  }
  if (rc != GRPC_CALL_OK) {
    log_error("cannot wait for calls: grpc error %d", (int)rc);
    abort();
  }
}

static void release_request(call_request *r) {
  grpc_metadata_array_destroy(&r->metadata);
  if (r->method == ANY_OTHER_METHOD && r->health == NOT_HEALTH)
    grpc_call_details_destroy(&r->details);
  if (r->payload) grpc_byte_buffer_destroy(r->payload);
}

/* Ends `call` with `code`; logged unless `quiet` (a limit that logs its
 * own, rate-limited, lines: connections.h). */
static void end_call(opal_server *s, grpc_call *call, wire_method method, grpc_status_code code,
                     const char *details, bool quiet) {
  rpc_call *c = rpc_call_start(&s->live_calls, sizeof(rpc_call), method, NULL, call);
  if (!quiet) log_warn("rejected call peer=%s: %s", c->peer, details);
  rpc_call_finish(c, code, details);
}

static void reject(opal_server *s, grpc_call *call, wire_method method,
                   grpc_status_code code, const char *details) {
  end_call(s, call, method, code, details, false);
}

/* Copies a valid device_id out of the metadata into `id`, or says why not. */
static const char *take_device_id(const grpc_metadata_array *md,
                                  char id[DEVICE_ID_MAX_LEN + 1]) {
  grpc_slice value;
  if (!metadata_find(md, "device_id", &value)) return "device_id metadata is missing";
  const char *start = (const char *)GRPC_SLICE_START_PTR(value);
  size_t len = GRPC_SLICE_LENGTH(value);
  const char *problem = device_id_problem(start, len);
  if (problem) return problem;
  memcpy(id, start, len);
  id[len] = '\0';
  return NULL;
}

/* Mutual TLS: the call's device_id must be its certificate's identity. */
static bool identity_ok(opal_server *s, call_request *r, const char *id) {
  char who[256], why[400];
  if (!s->config.tls || !server_tls_verifies_clients(s->config.tls)) return true;
  if (peer_identity_is(r->call, id, who, sizeof who)) return true;
  snprintf(why, sizeof why, "device_id %s is not the identity of the client certificate (%s)", id,
           who);
  reject(s, r->call, r->method, GRPC_STATUS_PERMISSION_DENIED, why);
  return false;
}

/* The proxy's name for the client connection (device_link.h), or "". */
static void take_via(const grpc_metadata_array *md, char via[DEVICE_LINK_VIA_MAX + 1]) {
  grpc_slice value;
  via[0] = '\0';
  if (metadata_find(md, DEVICE_LINK_HEADER, &value))
    device_link_via((const char *)GRPC_SLICE_START_PTR(value), GRPC_SLICE_LENGTH(value), via);
}

/* An audio call in the packet size its client asked for (opal-packet-ms),
 * within --packet-ms; a client that did not ask gets 20 ms, and no header. */
static audio_call *start_audio_call(opal_server *s, call_request *r) {
  grpc_slice value;
  bool asked = metadata_find(&r->metadata, PACKET_MS_HEADER, &value);
  unsigned ms = asked ? packet_ms_grant((const char *)GRPC_SLICE_START_PTR(value),
                                        GRPC_SLICE_LENGTH(value), s->config.packet_ms)
                      : PACKET_MS_DEFAULT;
  return audio_call_start(&s->live_calls, r->call, ms, asked);
}

static void admit(opal_server *s, call_request *r) {
  char id[DEVICE_ID_MAX_LEN + 1];
  const char *problem = take_device_id(&r->metadata, id);
  if (problem) {
    reject(s, r->call, r->method, GRPC_STATUS_INVALID_ARGUMENT, problem);
    return;
  }
  if (!identity_ok(s, r, id)) return;
  grpc_status_code code;
  if (r->method == METHOD_AUDIO && (problem = audio_call_check_request(r->payload, &code))) {
    reject(s, r->call, r->method, code, problem);
    return;
  }
  char via[DEVICE_LINK_VIA_MAX + 1], why[300];
  take_via(&r->metadata, via);
  char *peer = grpc_call_get_peer(r->call);
  device *d = devices_get(&s->devices, id, peer, why, sizeof why);
  gpr_free(peer);
  if (!d) {
    /* Quiet: devices_get logs these once in a while, since a flood of
     * ids must not write a line per call. */
    end_call(s, r->call, r->method, GRPC_STATUS_RESOURCE_EXHAUSTED, why, true);
    return;
  }
  switch (r->method) {
  case METHOD_STATUS:
    devices_attach_status(d, status_call_start(&s->live_calls, r->call), via);
    break;
  case METHOD_EVENT:
    devices_attach_event(d, event_call_start(&s->live_calls, r->call), via);
    break;
  case METHOD_AUDIO:
  default: /* on_call admits only the registered methods */
    devices_attach_audio(d, start_audio_call(s, r), via);
  }
}

/* The call's connection is within its limits (connections.h), else why not. */
static const char *connection_problem(opal_server *s, grpc_call *call) {
  if (!s->config.connections) return NULL;
  char *peer = grpc_call_get_peer(call);
  const char *why = connections_call_opened(s->config.connections, peer, clock_now_ns());
  gpr_free(peer);
  return why;
}

/* rpc_call_list.closed */
static void on_call_closed(void *ctx, const rpc_call *c, bool client_cancelled) {
  opal_server *s = ctx;
  s->calls_closed_untrimmed++;
  if (s->config.connections)
    connections_call_closed(s->config.connections, c->peer, client_cancelled, clock_now_ns());
}

static void on_call(loop_op *op, bool ok) {
  call_request *r = container_of(op, call_request, op);
  opal_server *s = r->server;
  const char *crowded = ok ? connection_problem(s, r->call) : NULL;
  if (crowded) {
    end_call(s, r->call, r->method, GRPC_STATUS_RESOURCE_EXHAUSTED, crowded, true);
  } else if (ok && s->stopping) {
    reject(s, r->call, r->method, GRPC_STATUS_UNAVAILABLE, "server shutting down");
  } else if (ok && r->health != NOT_HEALTH) {
    /* No device_id: a probe is no device. */
    health_call_start(&s->live_calls, r->call, (health_method)r->health, r->payload, &s->health);
  } else if (ok && r->method == ANY_OTHER_METHOD) {
    char what[300];
    int len = (int)GRPC_SLICE_LENGTH(r->details.method);
    snprintf(what, sizeof what, "method %.*s is not implemented", len > 256 ? 256 : len,
             (const char *)GRPC_SLICE_START_PTR(r->details.method));
    reject(s, r->call, r->method, GRPC_STATUS_UNIMPLEMENTED, what);
  } else if (ok) {
    admit(s, r);
  }
  release_request(r);
  /* A request fails on its own only at shutdown; if it ever did otherwise,
   * giving up would leave the method unserved, so it is posted again. */
  if (!ok && !s->stopping) log_warn("a call request failed; posting it again");
  if (!s->stopping) post_request(r);
  else free(r);
}

static void add_requests(opal_server *s, wire_method method, int health, int n) {
  for (int i = 0; i < n; i++) {
    call_request *r = calloc(1, sizeof *r);
    if (!r) abort(); /* at start-up: nothing to serve with */
    r->op.fn = on_call;
    r->server = s;
    r->method = method;
    r->health = health;
    post_request(r);
  }
}

static void on_shutdown(loop_op *op, bool ok) {
  (void)ok;
  opal_server *s = container_of(op, opal_server, shutdown_op);
  s->shutdown_done = true;
}

static grpc_server *create_grpc_server(opal_server *s) {
  int max_calls = s->config.connections
                      ? (int)connections_limits(s->config.connections)->max_calls
                      : 100; /* gRPC's own default */
  grpc_arg args[] = {
      grpc_handoff_arg(&s->handoff),
      {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = SERVER_MAX_RECEIVE_BYTES}},
      /* Find devices that vanished without closing their connection; an
       * idle device gets no data from us, so pings must not stop for that. */
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = 60000}},
      {GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, {.integer = 0}},
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = 20000}},
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, {.integer = 1}},
      /* Devices may ping every 10 s to keep NAT paths open. */
      {GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, {.integer = 10000}},
      /* A device needs three streams. Clients that obey it never open more;
       * connections_call_opened holds the rest to it, also before the
       * client has acknowledged it (gRPC core does not). */
      {GRPC_ARG_INTEGER, GRPC_ARG_MAX_CONCURRENT_STREAMS, {.integer = max_calls}},
  };
  grpc_channel_args channel_args = {sizeof args / sizeof args[0], args};
  return grpc_server_create(&channel_args, NULL); /* it copies the args */
}

void server_store_notify(void *server) {
  opal_server *s = server;
  loop_wakeup_post(s->store_wakeup);
}

/* store_released_fn: another replica claimed the device; what this one
 * knew goes to it. */
static void on_released(void *ctx, const char *id, const char *by) {
  opal_server *s = ctx;
  char who[STORE_REPLICA_MAX + 16];
  snprintf(who, sizeof who, "replica %s", by);
  store_record record;
  if (!devices_release(&s->devices, id, who, &record)) return;
  log_info("handover device=%s to replica=%s mode=%u", id, by, record.mode);
  store_hand_over(s->config.store, id, by, &record);
}

/* store_loaded_fn */
static void on_loaded(void *ctx, const char *id, const store_record *record) {
  opal_server *s = ctx;
  devices_loaded(&s->devices, id, record);
}

static void on_store_results(loop_op *op, bool ok) {
  (void)ok;
  opal_server *s = container_of(op, opal_server, store_op);
  loop_wakeup_done(s->store_wakeup);
  store_drain(s->config.store, on_loaded, on_released, s);
}

void server_announce(const opal_server *s, unsigned workers) {
  char where[300], count[32] = "";
  server_bound_address(s, where, sizeof where);
  if (workers > 1) snprintf(count, sizeof count, ", %u workers", workers);
  log_info("listening on %s (lead %lld ms, %u modes%s)", where,
           (long long)(s->config.lead_ns / NS_PER_MS), s->config.sounds->mode_count, count);
}

void server_bound_address(const opal_server *s, char *out, size_t len) {
  const char *listen = s->config.listen;
  const char *colon = strrchr(listen, ':');
  int host_len = colon ? (int)(colon - listen) : (int)strlen(listen);
  snprintf(out, len, "%.*s:%d", host_len, listen, s->config.port);
}

void server_take_connection(opal_server *s, int listen_fd, int fd) {
  grpc_handoff_take(&s->handoff, listen_fd, fd);
}

int server_start(opal_server *s, const server_config *config, char *err, size_t err_len) {
  memset(s, 0, sizeof *s);
  s->config = *config;
  s->shutdown_op.fn = on_shutdown;
  /* Each worker remembers its share: the flag bounds the process. */
  size_t workers = config->workers > 1 ? config->workers : 1;
  devices_init(&s->devices, config->sounds, config->lead_ns,
               (config->max_devices + workers - 1) / workers, config->store, config->new_devices);
  devices_limit_logs(&s->devices, config->log_rate_per_device);
  health_state_init(&s->health);
  health_state_set_store(&s->health, store_reachable(config->store));
  devices_limit_streams(&s->devices,
                        (config->max_streams + workers - 1) / workers, config->max_pacing_lag_ns);
  s->live_calls.closed = on_call_closed;
  s->live_calls.closed_ctx = s;
  s->grpc = create_grpc_server(s);
  s->cq = grpc_completion_queue_create_for_next(NULL);
  s->store_op.fn = on_store_results;
  s->store_wakeup = loop_wakeup_create(s->cq, &s->store_op);
  if (!s->store_wakeup) abort(); /* at start-up: nothing to serve with */
  grpc_server_register_completion_queue(s->grpc, s->cq, NULL);
  for (int m = 0; m < METHOD_COUNT; m++) {
    s->methods[m] = grpc_server_register_method(
        s->grpc, wire_method_path((wire_method)m), NULL,
        m == METHOD_AUDIO ? GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER : GRPC_SRM_PAYLOAD_NONE, 0);
    if (!s->methods[m]) abort(); /* only a duplicate path fails: a bug here */
  }
  for (int m = 0; m < HEALTH_METHOD_COUNT; m++) {
    s->health_methods[m] =
        grpc_server_register_method(s->grpc, health_method_path((health_method)m), NULL,
                                    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    if (!s->health_methods[m]) abort(); /* as above */
  }
  grpc_server_credentials *creds = config->tls ? server_tls_credentials(config->tls)
                                               : grpc_insecure_server_credentials_create();
  bool port_added = grpc_handoff_add_port(&s->handoff, s->grpc, creds);
  grpc_server_credentials_release(creds);
  if (!port_added) {
    snprintf(err, err_len, "--listen %s: gRPC refused to serve the listener's connections",
             config->listen);
    loop_wakeup_destroy(s->store_wakeup);
    grpc_server_destroy(s->grpc);
    cq_loop_destroy(s->cq);
    devices_clear(&s->devices);
    return -1;
  }
  grpc_server_start(s->grpc);
  for (int m = 0; m < METHOD_COUNT; m++)
    add_requests(s, (wire_method)m, NOT_HEALTH, REQUESTS_PER_METHOD);
  add_requests(s, ANY_OTHER_METHOD, NOT_HEALTH, 1);
  for (int m = 0; m < HEALTH_METHOD_COUNT; m++) add_requests(s, ANY_OTHER_METHOD, m, 1);
  /* Several workers are announced once, when all listen (workers.c). */
  if (config->workers <= 1) server_announce(s, 1);
  return 0;
}

static void begin_shutdown(opal_server *s) {
  log_info("shutting down: ending %zu calls", s->live_calls.count);
  s->stopping = true;
  /* gRPC must not be handed a socket once its listeners are going. */
  if (s->config.stop_accepting) s->config.stop_accepting(s->config.stop_accepting_ctx);
  rpc_call_list_abort(&s->live_calls, GRPC_STATUS_UNAVAILABLE, "server shutting down");
  grpc_server_shutdown_and_notify(s->grpc, s->cq, &s->shutdown_op);
  grpc_server_cancel_all_calls(s->grpc);
}

/* A stop signal: NOT_SERVING first, so that load balancers watching the
 * health service send no new devices here. */
static void begin_telling(opal_server *s) {
  s->telling = true;
  s->told_by_ns = clock_now_ns() + HEALTH_TELL_NS;
  health_state_set_stopping(&s->health);
}

/* Every open Watch has been sent NOT_SERVING, or the wait is over. */
static bool told(opal_server *s) {
  return health_state_all_told(&s->health) || clock_now_ns() >= s->told_by_ns;
}

void server_run(opal_server *s, volatile sig_atomic_t *stop_requested) {
  while (!(s->stopping && s->shutdown_done && s->live_calls.count == 0)) {
    /* Asleep until the earliest due packet (devices/due_queue.h), not on
     * a fixed tick: an idle stream costs nothing between its packets. */
    int64_t wake = clock_now_ns() + IDLE_WAIT_NS;
    int64_t due = devices_next_due_ns(&s->devices);
    int64_t store_due = devices_store_deadline(&s->devices);
    if (due < wake) wake = due;
    cq_loop_run_one(s->cq, store_due < wake ? store_due : wake);
    if (*stop_requested && !s->telling) begin_telling(s);
    if (s->telling && !s->stopping && told(s)) begin_shutdown(s);
    health_state_set_store(&s->health, store_reachable(s->config.store));
    if (*stop_requested > 1) {
      /* A second signal: the user will not wait for calls to close. */
      log_warn("second stop signal: exiting without waiting for %zu calls", s->live_calls.count);
      _exit(1);
    }
    /* Checked after every event, so a busy queue cannot starve pacing;
     * with nothing due it only looks at the earliest. */
    devices_tick(&s->devices);
    int64_t now = clock_now_ns();
    if (now >= devices_store_deadline(&s->devices)) devices_store_work(&s->devices, now);
    devices_log_work(&s->devices, now);
    if (s->calls_closed_untrimmed >= TRIM_AFTER_CALLS && now >= s->next_trim_ns) {
      malloc_trim(0);
      s->calls_closed_untrimmed = 0;
      s->next_trim_ns = now + TRIM_EVERY_NS;
    }
    if (s->config.tls && s->config.worker == 0 && now >= s->next_tls_poll_ns) {
      server_tls_poll(s->config.tls);
      s->next_tls_poll_ns = now + TLS_POLL_NS;
    }
  }
  /* Every change reaches the store before the process goes, and the
   * store's thread is gone before the queue it wakes. */
  devices_store_flush(&s->devices);
  store_close(s->config.store);
  if (s->config.closing) s->config.closing(s->config.closing_ctx);
  loop_wakeup_destroy(s->store_wakeup);
  grpc_server_destroy(s->grpc);
  cq_loop_destroy(s->cq);
  devices_clear(&s->devices);
  if (s->config.workers <= 1) log_info("stopped"); /* else once, by workers.c */
}
