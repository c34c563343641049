#include "calls/audio_call.h"

#include <stddef.h>
#include <stdio.h>

#include "comms.pb-c.h"
#include "calls/packet_ms.h"
#include "pb_buffer.h"
#include "sounds/audio_packet.h"

struct audio_call {
  rpc_call rpc; /* first: rpc_call_start allocates the whole struct */
  audio_call_free_fn free_to_send;
  unsigned packet_ms;
};
_Static_assert(offsetof(audio_call, rpc) == 0, "rpc_call frees the call from its rpc member");

const char *audio_call_check_request(grpc_byte_buffer *request, grpc_status_code *code) {
  /* gRPC 1.51 hands over no payload both when the client sent none and when
   * its stream ended inside a message (truncated, or a length prefix such
   * as 4 GiB that the rest never filled). Both break the method's one
   * request, which gRPC answers with INTERNAL (the spec for a bad frame;
   * grpc++ says "No payload"). */
  *code = GRPC_STATUS_INTERNAL;
  if (!request)
    return "ServerAudioStream got no whole AudioStreamRequest (none sent, or the stream "
           "ended inside the message)";
  *code = GRPC_STATUS_INVALID_ARGUMENT;
  Com__Opalcamera__Test__AudioStreamRequest *req =
      (Com__Opalcamera__Test__AudioStreamRequest *)pb_buffer_unpack(
          &com__opalcamera__test__audio_stream_request__descriptor, request);
  if (!req) return "malformed AudioStreamRequest message";
  bool start = req->start;
  protobuf_c_message_free_unpacked(&req->base, NULL);
  return start ? NULL : "AudioStreamRequest.start must be true";
}

static void sent(rpc_call *base, bool ok) {
  audio_call *c = container_of(base, audio_call, rpc);
  if (ok && base->owner && c->free_to_send) c->free_to_send(base->owner);
}

static const rpc_call_behaviour behaviour = {.sent = sent};

audio_call *audio_call_start(rpc_call_list *live, grpc_call *call, unsigned packet_ms,
                             bool announce) {
  char text[16];
  snprintf(text, sizeof text, "%u", packet_ms);
  grpc_metadata granted = {.key = grpc_slice_from_static_string(PACKET_MS_HEADER),
                           .value = grpc_slice_from_copied_string(text)};
  rpc_call *base = rpc_call_start_with_metadata(live, sizeof(audio_call), METHOD_AUDIO,
                                                &behaviour, call, &granted, announce ? 1 : 0);
  grpc_slice_unref(granted.value); /* gRPC took its own reference */
  audio_call *c = container_of(base, audio_call, rpc);
  c->packet_ms = packet_ms;
  return c;
}

unsigned audio_call_packet_ms(const audio_call *c) { return c->packet_ms; }

rpc_call *audio_call_rpc(audio_call *c) { return &c->rpc; }

void audio_call_open(audio_call *c, audio_call_free_fn free_to_send) {
  c->free_to_send = free_to_send;
}

bool audio_call_can_send(const audio_call *c) { return rpc_call_can_send(&c->rpc); }

void audio_call_send_packet(audio_call *c, const uint8_t *data, size_t size, bool is_start,
                            bool is_end) {
  rpc_call_send(&c->rpc, audio_packet_buffer(data, size, is_start, is_end));
}
