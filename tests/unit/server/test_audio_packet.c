/* The hand-framed AudioPacket must be exactly what protobuf-c parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <string.h>

#include "sounds/audio_packet.h"
#include "comms.pb-c.h"
#include "pb_buffer.h"

static void round_trip(size_t size, bool is_start, bool is_end) {
  static uint8_t data[70000];
  for (size_t i = 0; i < size; i++) data[i] = (uint8_t)(i * 7 + size);
  grpc_byte_buffer *bb = audio_packet_buffer(data, size, is_start, is_end);
  Com__Opalcamera__Test__AudioPacket *p = (Com__Opalcamera__Test__AudioPacket *)pb_buffer_unpack(
      &com__opalcamera__test__audio_packet__descriptor, bb);
  assert_non_null(p);
  assert_int_equal(p->is_start, is_start);
  assert_int_equal(p->is_end, is_end);
  assert_int_equal(p->data.len, size);
  assert_memory_equal(p->data.data, data, size);

  /* Byte for byte what protobuf-c itself would pack. */
  size_t packed_size = protobuf_c_message_get_packed_size(&p->base);
  assert_int_equal(grpc_byte_buffer_length(bb), packed_size);
  protobuf_c_message_free_unpacked(&p->base, NULL);
  grpc_byte_buffer_destroy(bb);
}

static void flags_and_sizes_round_trip(void **unused) {
  (void)unused;
  size_t sizes[] = {1, 3, 127, 128, 200, 1275, 16383, 16384, 65000};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
    for (int start = 0; start < 2; start++)
      for (int end = 0; end < 2; end++) round_trip(sizes[i], start, end);
}

static void data_is_referenced_not_copied(void **unused) {
  (void)unused;
  static const uint8_t data[300] = {1, 2, 3};
  grpc_byte_buffer *bb = audio_packet_buffer(data, sizeof data, false, false);
  assert_int_equal(bb->data.raw.slice_buffer.count, 2);
  grpc_slice body = bb->data.raw.slice_buffer.slices[1];
  assert_ptr_equal(GRPC_SLICE_START_PTR(body), data);
  grpc_byte_buffer_destroy(bb);
}

int main(void) {
  grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(flags_and_sizes_round_trip),
      cmocka_unit_test(data_is_referenced_not_copied),
  };
  int rc = cmocka_run_group_tests_name("audio_packet", tests, NULL, NULL);
  grpc_shutdown();
  return rc;
}
