/* AudioPacket { bool is_start = 1; bool is_end = 2; bytes data = 3; } read
 * field by field, as protobuf-c 1.4.1's protobuf_c_message_unpack scans and
 * parses a message, including its leniencies: a tag of up to 5 bytes, a
 * bool whose value is "any of its bytes has a bit in 0x7f" whatever its
 * wire type, and a length prefix of up to 5 bytes, at most INT_MAX. */
#include "net/audio_packet.h"

#include <limits.h>

enum { WIRE_VARINT = 0, WIRE_64BIT = 1, WIRE_LENGTH_PREFIXED = 2, WIRE_32BIT = 5 };
enum { FIELD_IS_START = 1, FIELD_IS_END = 2, FIELD_DATA = 3 };

/* One field as scanned: its value's bytes, the length prefix included. */
typedef struct field {
  uint32_t tag;
  unsigned wire_type;
  const uint8_t *at;
  size_t len;        /* bytes of the value, prefix included */
  size_t prefix_len; /* of a length-prefixed value */
} field;

/* The tag and wire type; the bytes they took, 0 when malformed. */
static size_t read_tag(const uint8_t *p, size_t rem, uint32_t *tag, unsigned *wire_type) {
  if ((p[0] & 0xf8) == 0) return 0; /* field number 0 in one byte */
  *wire_type = p[0] & 7;
  uint32_t t = (p[0] & 0x7f) >> 3;
  if ((p[0] & 0x80) == 0) {
    *tag = t;
    return 1;
  }
  size_t max = rem > 5 ? 5 : rem;
  unsigned shift = 4;
  for (size_t i = 1; i < max; i++) {
    t |= (uint32_t)(p[i] & 0x7f) << shift;
    if ((p[i] & 0x80) == 0) {
      *tag = t;
      return i + 1;
    }
    shift += 7;
  }
  return 0;
}

/* A length-prefixed value's total size (prefix included), 0 when malformed. */
static size_t read_length_prefixed(const uint8_t *p, size_t rem, size_t *prefix_len) {
  size_t max = rem < 5 ? rem : 5, val = 0, i;
  for (i = 0; i < max; i++) {
    val |= ((size_t)p[i] & 0x7f) << (7 * i);
    if ((p[i] & 0x80) == 0) break;
  }
  if (i == max || val > INT_MAX) return 0;
  *prefix_len = i + 1;
  if (*prefix_len + val > rem) return 0;
  return *prefix_len + val;
}

/* The size of the value after a tag, 0 when malformed or of a wire type
 * protobuf-c does not take (groups, 6 and 7). */
static size_t value_len(unsigned wire_type, const uint8_t *p, size_t rem, size_t *prefix_len) {
  *prefix_len = 0;
  switch (wire_type) {
  case WIRE_VARINT: {
    size_t max = rem < 10 ? rem : 10;
    for (size_t i = 0; i < max; i++)
      if ((p[i] & 0x80) == 0) return i + 1;
    return 0;
  }
  case WIRE_64BIT: return rem < 8 ? 0 : 8;
  case WIRE_32BIT: return rem < 4 ? 0 : 4;
  case WIRE_LENGTH_PREFIXED: return read_length_prefixed(p, rem, prefix_len);
  default: return 0;
  }
}

static bool any_value_bit(const field *f) {
  for (size_t i = 0; i < f->len; i++)
    if (f->at[i] & 0x7f) return true;
  return false;
}

static bool apply(const field *f, audio_packet_view *out) {
  switch (f->tag) {
  case FIELD_IS_START: out->is_start = any_value_bit(f); return true;
  case FIELD_IS_END: out->is_end = any_value_bit(f); return true;
  case FIELD_DATA:
    if (f->wire_type != WIRE_LENGTH_PREFIXED) return false;
    out->len = f->len - f->prefix_len;
    out->data = out->len ? f->at + f->prefix_len : NULL;
    return true;
  default: return true; /* an unknown field */
  }
}

bool audio_packet_read(const uint8_t *bytes, size_t size, audio_packet_view *out) {
  *out = (audio_packet_view){0};
  const uint8_t *p = bytes;
  size_t rem = size;
  while (rem > 0) {
    field f;
    size_t used = read_tag(p, rem, &f.tag, &f.wire_type);
    if (used == 0) return false;
    p += used;
    rem -= used;
    f.at = p;
    f.len = value_len(f.wire_type, p, rem, &f.prefix_len);
    if (f.len == 0 || !apply(&f, out)) return false;
    p += f.len;
    rem -= f.len;
  }
  return true;
}
