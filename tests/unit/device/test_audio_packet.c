/* audio_packet_read against protobuf-c's own unpack of the same bytes: the
 * same verdict and the same fields, on packets protobuf-c packs and on
 * hand-made edge cases of the wire format (the fuzz harness
 * tests/fuzz/device_audio_packet.c searches for more). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "comms.pb-c.h"
#include "net/audio_packet.h"

/* Reads `bytes` both ways and checks that they agree; returns the verdict. */
static bool read_both(const uint8_t *bytes, size_t size) {
  audio_packet_view v;
  bool ours = audio_packet_read(bytes, size, &v);
  Com__Opalcamera__Test__AudioPacket *p =
      com__opalcamera__test__audio_packet__unpack(NULL, size, bytes);
  assert_int_equal(ours, p != NULL);
  if (p) {
    assert_int_equal(v.is_start, (bool)p->is_start);
    assert_int_equal(v.is_end, (bool)p->is_end);
    assert_int_equal(v.len, p->data.len);
    if (v.len) assert_memory_equal(v.data, p->data.data, v.len);
    com__opalcamera__test__audio_packet__free_unpacked(p, NULL);
  }
  return ours;
}

static void packed_packets(void **state) {
  (void)state;
  uint8_t opus[300], wire[400];
  for (size_t i = 0; i < sizeof opus; i++) opus[i] = (uint8_t)(i * 7);
  for (int flags = 0; flags < 4; flags++) {
    for (size_t len = 0; len <= sizeof opus; len += 150) {
      Com__Opalcamera__Test__AudioPacket p = COM__OPALCAMERA__TEST__AUDIO_PACKET__INIT;
      p.is_start = flags & 1;
      p.is_end = (flags >> 1) & 1;
      p.data.data = opus;
      p.data.len = len;
      size_t n = com__opalcamera__test__audio_packet__pack(&p, wire);
      assert_true(read_both(wire, n));
    }
  }
  assert_true(read_both(NULL, 0)); /* the empty message: all defaults */
}

static void edge_cases(void **state) {
  (void)state;
  static const struct {
    const char *what;
    uint8_t bytes[16];
    size_t size;
    bool parses;
  } cases[] = {
      {"unknown varint field 9", {0x48, 0x05, 0x08, 0x01}, 4, true},
      {"unknown 64-bit field", {0x21, 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 0x01}, 11, true},
      {"unknown 32-bit field", {0x25, 1, 2, 3, 4}, 5, true},
      {"bool as a 32-bit value", {0x0d, 0, 0, 0x80, 0}, 5, true},
      {"bool as a 32-bit value with a bit", {0x0d, 0, 0, 0x01, 0}, 5, true},
      {"bool as length-prefixed", {0x12, 0x01, 0x00}, 3, true},
      {"bool varint 0x80 0x00 (false)", {0x08, 0x80, 0x00}, 3, true},
      {"data as a varint", {0x18, 0x01}, 2, false},
      {"data twice: the last wins", {0x1a, 0x01, 0xaa, 0x1a, 0x02, 0xbb, 0xcc}, 7, true},
      {"data cut short", {0x1a, 0x05, 0x01}, 3, false},
      {"tag 0", {0x00, 0x01}, 2, false},
      {"tag 0 in two bytes", {0x80, 0x00, 0x00}, 3, true},
      {"field 1 in a 5-byte tag", {0x88, 0x80, 0x80, 0x80, 0x00, 0x01}, 6, true},
      {"a 6-byte tag", {0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01}, 7, false},
      {"group start", {0x0b, 0x0c}, 2, false},
      {"wire type 7", {0x0f}, 1, false},
      {"varint of 11 bytes", {0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
       12, false},
      {"unterminated varint", {0x08, 0x80}, 2, false},
      {"length prefix of 6 bytes", {0x1a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 7, false},
      {"length over INT_MAX", {0x1a, 0x80, 0x80, 0x80, 0x80, 0x08}, 6, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bool got = read_both(cases[i].bytes, cases[i].size);
    if (got != cases[i].parses) fail_msg("%s: read %s", cases[i].what, got ? "ok" : "failed");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(packed_packets),
      cmocka_unit_test(edge_cases),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
