/* ServerAudioStream: one AudioStreamRequest out, then every AudioPacket the
 * server sends goes to the device's `audio` callback, in order. A malformed
 * packet is logged and skipped; the stream goes on. */
#ifndef OPAL_AUDIO_STREAM_H
#define OPAL_AUDIO_STREAM_H

#include "net/client_call.h"
#include "net/conn_handler.h"

typedef struct audio_stream {
  client_call call;
  const conn_handler *device; /* audio */
  void *device_ctx;
} audio_stream;

/* Starts the call with its request and waits for the first packet. */
void audio_stream_start(audio_stream *as, const client_call_setup *setup,
                        const conn_handler *device, void *device_ctx);

#endif
