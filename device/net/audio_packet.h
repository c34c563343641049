/* An AudioPacket read straight from its wire bytes: the fleet and the
 * device receive one every 20 to 120 ms per stream, and protobuf-c's unpack
 * costs two allocations and two copies per packet for three fields. */
#ifndef OPAL_AUDIO_PACKET_READ_H
#define OPAL_AUDIO_PACKET_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What one AudioPacket says; `data` points into the bytes read (NULL when
 * the packet carries no audio). */
typedef struct audio_packet_view {
  bool is_start, is_end;
  const uint8_t *data;
  size_t len;
} audio_packet_view;

/* Reads an AudioPacket's wire bytes. False when they do not parse. It
 * accepts and rejects exactly what protobuf-c 1.4's unpack does (unknown
 * fields skipped, the last value of a field wins, a bool read from any
 * wire type), which the fuzz harness tests/fuzz/device_audio_packet.c
 * checks against protobuf-c itself. */
bool audio_packet_read(const uint8_t *bytes, size_t size, audio_packet_view *out);

#endif
