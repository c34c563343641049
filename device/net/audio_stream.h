/* ServerAudioStream: one AudioStreamRequest out, then every AudioPacket the
 * server sends goes to the device's `audio` callback, in order. A malformed
 * packet is logged and skipped; the stream goes on.
 *
 * Packet size: the call may ask for Opus packets longer than 20 ms with the
 * `opal-packet-ms: N` request metadata (the session adds it); a server that
 * negotiates says what it grants in its initial metadata under the same
 * key, which goes to the device's `packets_granted`. Without the header the
 * server sends 20 ms packets, as to any client. */
#ifndef OPAL_AUDIO_STREAM_H
#define OPAL_AUDIO_STREAM_H

#include "net/client_call.h"
#include "net/conn_handler.h"

#define AUDIO_PACKET_MS_KEY "opal-packet-ms"
#define AUDIO_BASE_PACKET_MS 20     /* what a server sends to a client that does not ask */
#define AUDIO_DEFAULT_PACKET_MS 120 /* what devices ask for: Opus's longest packet */
#define AUDIO_MAX_PACKET_MS 120

typedef struct audio_stream {
  client_call call;
  const conn_handler *device; /* audio, packets_granted */
  void *device_ctx;
} audio_stream;

/* Starts the call with its request and waits for the first packet. */
void audio_stream_start(audio_stream *as, const client_call_setup *setup,
                        const conn_handler *device, void *device_ctx);

#endif
