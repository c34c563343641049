#include "net/session.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "net/audio_stream.h"
#include "net/channel.h"
#include "net/client_call.h"
#include "net/event_stream.h"
#include "net/status_stream.h"
#include "status_name.h"

struct session {
  const session_owner *owner;
  void *owner_ctx;
  grpc_channel *channel;
  grpc_metadata device_id; /* every call's initial metadata */
  /* ServerAudioStream's: device_id, then the packet size asked for, if any. */
  grpc_metadata audio_md[2];
  size_t audio_md_count;
  status_stream status;
  event_stream events;
  audio_stream audio;
  int live; /* calls not yet released */
  bool reached, ended;
  bool tls, client_cert; /* for loss_reason_of */
  int ready_asks;        /* session_check_channel found it ready this many times in a row */
};

static void note_reached(session *s) {
  if (s->reached) return;
  s->reached = true;
  s->owner->reached(s->owner_ctx, s);
}

static void end_for(session *s, int status, loss_reason reason, const char *why) {
  if (s->ended) return; /* the other calls' statuses, after the first */
  s->ended = true;
  client_call_cancel(&s->status.call);
  client_call_cancel(&s->events.call);
  client_call_cancel(&s->audio.call);
  s->owner->ended(s->owner_ctx, s, &(conn_loss){.status = status, .reason = reason, .why = why});
}

void session_end(session *s, int status, const char *why) {
  end_for(s, status, LOSS_UNCLASSIFIED, why);
}

/* ---- what the calls say ---- */

/* Only a live call hears, and a live call means the session has not ended. */
static void call_heard(void *ctx) { note_reached(ctx); }

/* The first call to end says why the session ends: in words first when
 * loss_reason_of knows them, gRPC's text after. */
static void call_finished(void *ctx, wire_method method, grpc_status_code status,
                          const char *details) {
  session *s = ctx;
  if (s->ended) return;
  loss_context seen = {.tls = s->tls, .client_cert = s->client_cert, .reached = s->reached};
  loss_reason reason = loss_reason_of((int)status, details, &seen);
  const char *words = loss_reason_words(reason);
  char why[512];
  snprintf(why, sizeof why, "%s%s%s ended: %s%s%s%s", words ? words : "", words ? " (" : "",
           wire_method_name(method), status_name(status), *details ? ": " : "", details,
           words ? ")" : "");
  end_for(s, (int)status, reason, why);
}

static void call_failed(void *ctx, const char *why) { session_end(ctx, CONN_NO_STATUS, why); }

static void call_released(void *ctx) {
  session *s = ctx;
  if (--s->live > 0) return;
  grpc_channel_destroy(s->channel);
  grpc_slice_unref(s->device_id.value);
  if (s->audio_md_count > 1) grpc_slice_unref(s->audio_md[1].value);
  const session_owner *owner = s->owner;
  void *owner_ctx = s->owner_ctx;
  free(s);
  owner->released(owner_ctx);
}

static const client_call_holder session_holder = {
    .heard = call_heard, .finished = call_finished, .failed = call_failed,
    .released = call_released};

/* ---- starting ---- */

/* The audio call asks for packets of `packet_ms` (the server grants what it
 * can, up to that); at AUDIO_BASE_PACKET_MS or below it asks for nothing,
 * and the server sends its 20 ms packets as to any client. */
static void set_audio_metadata(session *s, unsigned packet_ms) {
  s->audio_md[0] = s->device_id;
  s->audio_md_count = 1;
  if (packet_ms <= AUDIO_BASE_PACKET_MS) return;
  char value[16];
  snprintf(value, sizeof value, "%u", packet_ms);
  s->audio_md[1].key = grpc_slice_from_static_string(AUDIO_PACKET_MS_KEY);
  s->audio_md[1].value = grpc_slice_from_copied_string(value);
  s->audio_md_count = 2;
}

session *session_start(const session_config *config) {
  session *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->owner = config->owner;
  s->owner_ctx = config->owner_ctx;
  s->channel = channel_create(config->target, config->security);
  s->tls = config->security->creds != NULL;
  s->client_cert = s->tls && config->security->client_cert;
  s->device_id.key = grpc_slice_from_static_string("device_id");
  s->device_id.value = grpc_slice_ref(config->device_id);
  const client_call_setup setup = {.channel = s->channel, .cq = config->cq,
                                   .metadata = &s->device_id, .metadata_count = 1,
                                   .holder = &session_holder, .holder_ctx = s};
  set_audio_metadata(s, config->packet_ms);
  client_call_setup audio_setup = setup;
  audio_setup.metadata = s->audio_md;
  audio_setup.metadata_count = s->audio_md_count;
  s->live = METHOD_COUNT;
  status_stream_start(&s->status, &setup, config->device, config->device_ctx);
  event_stream_start(&s->events, &setup, config->device, config->device_ctx);
  audio_stream_start(&s->audio, &audio_setup, config->device, config->device_ctx);
  return s;
}

/* Ready at two asks in a row: a server that refuses the calls outright
 * (PERMISSION_DENIED once the TLS handshake is done: the device_id is not
 * the certificate's) has said so by the second, so the device does not
 * count as connected for an instant, nor reset its backoff, at each try. */
void session_check_channel(session *s) {
  assert(!s->ended);
  bool ready = grpc_channel_check_connectivity_state(s->channel, 0) == GRPC_CHANNEL_READY;
  s->ready_asks = ready ? s->ready_asks + 1 : 0;
  if (s->ready_asks >= 2) note_reached(s);
}

bool session_send_event(session *s, int button, int event, int64_t at_ns) {
  assert(!s->ended);
  return event_stream_send(&s->events, button, event, at_ns);
}
