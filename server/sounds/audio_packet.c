#include "sounds/audio_packet.h"

#include <grpc/slice.h>

/* Field keys of AudioPacket: (number << 3) | wire type. */
enum { KEY_IS_START = 0x08, KEY_IS_END = 0x10, KEY_DATA = 0x1a };

static size_t put_varint(uint8_t *out, uint64_t v) {
  size_t n = 0;
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    out[n++] = byte | (v ? 0x80 : 0);
  } while (v);
  return n;
}

grpc_byte_buffer *audio_packet_buffer(const uint8_t *data, size_t size,
                                      bool is_start, bool is_end) {
  uint8_t head[16];
  size_t n = 0;
  if (is_start) {
    head[n++] = KEY_IS_START;
    head[n++] = 1;
  }
  if (is_end) {
    head[n++] = KEY_IS_END;
    head[n++] = 1;
  }
  head[n++] = KEY_DATA;
  n += put_varint(head + n, size);

  grpc_slice parts[2] = {
      grpc_slice_from_copied_buffer((const char *)head, n),
      grpc_slice_from_static_buffer(data, size),
  };
  grpc_byte_buffer *buffer = grpc_raw_byte_buffer_create(parts, 2);
  grpc_slice_unref(parts[0]);
  grpc_slice_unref(parts[1]);
  return buffer;
}
