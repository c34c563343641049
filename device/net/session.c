#include "net/session.h"

#include <assert.h>
#include <grpc/grpc_security.h>
#include <stdio.h>
#include <stdlib.h>

#include "net/audio_stream.h"
#include "net/client_call.h"
#include "net/event_stream.h"
#include "net/status_stream.h"
#include "status_name.h"

struct session {
  const session_owner *owner;
  void *owner_ctx;
  grpc_channel *channel;
  grpc_metadata device_id; /* every call's initial metadata */
  status_stream status;
  event_stream events;
  audio_stream audio;
  int live; /* calls not yet released */
  bool reached, ended;
};

static void note_reached(session *s) {
  if (s->reached) return;
  s->reached = true;
  s->owner->reached(s->owner_ctx, s);
}

void session_end(session *s, int status, const char *why) {
  if (s->ended) return; /* the other calls' statuses, after the first */
  s->ended = true;
  client_call_cancel(&s->status.call);
  client_call_cancel(&s->events.call);
  client_call_cancel(&s->audio.call);
  s->owner->ended(s->owner_ctx, s, &(conn_loss){.status = status, .why = why});
}

/* ---- what the calls say ---- */

/* Only a live call hears, and a live call means the session has not ended. */
static void call_heard(void *ctx) { note_reached(ctx); }

static void call_finished(void *ctx, wire_method method, grpc_status_code status,
                          const char *details) {
  char why[256];
  snprintf(why, sizeof why, "%s ended: %s%s%s", wire_method_name(method), status_name(status),
           *details ? ": " : "", details);
  session_end(ctx, (int)status, why);
}

static void call_failed(void *ctx, const char *why) { session_end(ctx, CONN_NO_STATUS, why); }

static void call_released(void *ctx) {
  session *s = ctx;
  if (--s->live > 0) return;
  grpc_channel_destroy(s->channel);
  grpc_slice_unref(s->device_id.value);
  const session_owner *owner = s->owner;
  void *owner_ctx = s->owner_ctx;
  free(s);
  owner->released(owner_ctx);
}

static const client_call_holder session_holder = {
    .heard = call_heard, .finished = call_finished, .failed = call_failed,
    .released = call_released};

/* ---- starting ---- */

static grpc_channel *make_channel(const char *target) {
  static grpc_arg args[] = {
      /* Our own backoff decides when to retry: a fresh subchannel per
       * attempt carries no backoff state of gRPC's. */
      {GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}},
      /* Notice a server that vanished without closing the connection. */
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = 20000}},
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = 10000}},
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, {.integer = 1}},
      {GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, {.integer = 0}},
  };
  static const grpc_channel_args channel_args = {sizeof args / sizeof args[0], args};
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(target, creds, &channel_args);
  grpc_channel_credentials_release(creds);
  return ch;
}

session *session_start(const session_config *config) {
  session *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->owner = config->owner;
  s->owner_ctx = config->owner_ctx;
  s->channel = make_channel(config->target);
  s->device_id.key = grpc_slice_from_static_string("device_id");
  s->device_id.value = grpc_slice_ref(config->device_id);
  const client_call_setup setup = {.channel = s->channel, .cq = config->cq,
                                   .metadata = &s->device_id, .metadata_count = 1,
                                   .holder = &session_holder, .holder_ctx = s};
  s->live = METHOD_COUNT;
  status_stream_start(&s->status, &setup, config->device, config->device_ctx);
  event_stream_start(&s->events, &setup, config->device, config->device_ctx);
  audio_stream_start(&s->audio, &setup, config->device, config->device_ctx);
  return s;
}

void session_check_channel(session *s) {
  assert(!s->ended);
  if (grpc_channel_check_connectivity_state(s->channel, 0) == GRPC_CHANNEL_READY) note_reached(s);
}

bool session_send_event(session *s, int button, int event, int64_t at_ns) {
  assert(!s->ended);
  return event_stream_send(&s->events, button, event, at_ns);
}
