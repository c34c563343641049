#include "calls/audio_call.h"

#include "comms.pb-c.h"
#include "devices/device.h"
#include "pb_buffer.h"
#include "devices/playback.h"

const char *audio_call_check_request(grpc_byte_buffer *request) {
  if (!request) return "ServerAudioStream needs an AudioStreamRequest";
  Com__Opalcamera__Test__AudioStreamRequest *req =
      (Com__Opalcamera__Test__AudioStreamRequest *)pb_buffer_unpack(
          &com__opalcamera__test__audio_stream_request__descriptor, request);
  if (!req) return "malformed AudioStreamRequest message";
  bool start = req->start;
  protobuf_c_message_free_unpacked(&req->base, NULL);
  return start ? NULL : "AudioStreamRequest.start must be true";
}

static void sent(rpc_call *c, bool ok) {
  if (ok && c->device) playback_pump(c->device);
}

const rpc_call_behaviour audio_call_behaviour = {.sent = sent};
