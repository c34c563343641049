#include "net/audio_stream.h"

#include <grpc/byte_buffer_reader.h>
#include <stdlib.h>
#include <string.h>

#include "comms.pb-c.h"
#include "log.h"
#include "metadata.h"
#include "net/audio_packet.h"
#include "pb_buffer.h"

static void deliver(const audio_stream *as, const uint8_t *bytes, size_t size) {
  audio_packet_view p;
  if (!audio_packet_read(bytes, size, &p)) {
    log_warn("audio: a malformed AudioPacket was skipped");
    return;
  }
  if (as->device->audio) as->device->audio(as->device_ctx, p.data, p.len, p.is_start, p.is_end);
}

/* A message gRPC hands over in one slice (the usual case: one packet is a
 * few hundred bytes) is read where it lies; one in several is gathered. */
static void play(const audio_stream *as, grpc_byte_buffer *message) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, message)) {
    log_warn("audio: a malformed AudioPacket was skipped");
    return;
  }
  size_t size = grpc_byte_buffer_length(reader.buffer_out);
  grpc_slice *first = NULL;
  if (size == 0 || !grpc_byte_buffer_reader_peek(&reader, &first)) {
    deliver(as, NULL, 0);
  } else if (GRPC_SLICE_LENGTH(*first) == size) {
    deliver(as, GRPC_SLICE_START_PTR(*first), size);
  } else {
    grpc_byte_buffer_reader_destroy(&reader);
    grpc_byte_buffer_reader_init(&reader, message);
    grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
    deliver(as, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all));
    grpc_slice_unref(all);
  }
  grpc_byte_buffer_reader_destroy(&reader);
}

static void received(client_call *cc, grpc_byte_buffer *packet) {
  if (!packet) return; /* the stream is over; its status follows */
  play(container_of(cc, audio_stream, call), packet);
  client_call_receive(cc);
}

/* The server's `opal-packet-ms`: what it grants; absent, it sends 20 ms. */
static unsigned granted_packet_ms(const client_call *cc) {
  grpc_slice value;
  if (!metadata_find(&cc->initial_md, AUDIO_PACKET_MS_KEY, &value)) return AUDIO_BASE_PACKET_MS;
  char text[16] = "";
  size_t n = GRPC_SLICE_LENGTH(value);
  if (n < sizeof text) memcpy(text, GRPC_SLICE_START_PTR(value), n), text[n] = '\0';
  char *end;
  unsigned long ms = strtoul(text, &end, 10);
  if (n == 0 || n >= sizeof text || *end || ms < 1 || ms > AUDIO_MAX_PACKET_MS) {
    log_warn("audio: the server's %s is not a packet length in ms (1..%d): taken as %d",
             AUDIO_PACKET_MS_KEY, AUDIO_MAX_PACKET_MS, AUDIO_BASE_PACKET_MS);
    return AUDIO_BASE_PACKET_MS;
  }
  return (unsigned)ms;
}

static void opened(client_call *cc) {
  audio_stream *as = container_of(cc, audio_stream, call);
  unsigned ms = granted_packet_ms(cc);
  log_debug("audio: the server sends packets of up to %u ms", ms);
  if (as->device->packets_granted) as->device->packets_granted(as->device_ctx, ms);
}

static const client_call_behaviour audio_behaviour = {.received = received, .opened = opened};

void audio_stream_start(audio_stream *as, const client_call_setup *setup,
                        const conn_handler *device, void *device_ctx) {
  as->device = device;
  as->device_ctx = device_ctx;
  Com__Opalcamera__Test__AudioStreamRequest req = COM__OPALCAMERA__TEST__AUDIO_STREAM_REQUEST__INIT;
  req.start = 1;
  client_call_start(&as->call, setup, METHOD_AUDIO, &audio_behaviour, pb_buffer_pack(&req.base));
  client_call_receive(&as->call);
}
