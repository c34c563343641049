/* AudioPacket messages built around a shared Opus packet without copying it:
 * a few bytes of protobuf framing, then the packet's bytes by reference. */
#ifndef OPAL_AUDIO_PACKET_H
#define OPAL_AUDIO_PACKET_H

#include <grpc/byte_buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A new byte buffer holding AudioPacket{is_start, is_end, data}. `data`
 * is referenced, not copied: it must outlive every send of the buffer (the
 * sound library outlives the server). The caller owns the buffer. */
grpc_byte_buffer *audio_packet_buffer(const uint8_t *data, size_t size,
                                      bool is_start, bool is_end);

#endif
