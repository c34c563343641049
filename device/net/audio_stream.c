#include "net/audio_stream.h"

#include "comms.pb-c.h"
#include "log.h"
#include "pb_buffer.h"

static void play(const audio_stream *as, grpc_byte_buffer *message) {
  Com__Opalcamera__Test__AudioPacket *p = (Com__Opalcamera__Test__AudioPacket *)pb_buffer_unpack(
      &com__opalcamera__test__audio_packet__descriptor, message);
  if (!p) {
    log_warn("audio: a malformed AudioPacket was skipped");
    return;
  }
  if (as->device->audio)
    as->device->audio(as->device_ctx, p->data.data, p->data.len, p->is_start, p->is_end);
  protobuf_c_message_free_unpacked(&p->base, NULL);
}

static void received(client_call *cc, grpc_byte_buffer *packet) {
  if (!packet) return; /* the stream is over; its status follows */
  play(container_of(cc, audio_stream, call), packet);
  client_call_receive(cc);
}

static const client_call_behaviour audio_behaviour = {.received = received};

void audio_stream_start(audio_stream *as, const client_call_setup *setup,
                        const conn_handler *device, void *device_ctx) {
  as->device = device;
  as->device_ctx = device_ctx;
  Com__Opalcamera__Test__AudioStreamRequest req = COM__OPALCAMERA__TEST__AUDIO_STREAM_REQUEST__INIT;
  req.start = 1;
  client_call_start(&as->call, setup, METHOD_AUDIO, &audio_behaviour, pb_buffer_pack(&req.base));
  client_call_receive(&as->call);
}
