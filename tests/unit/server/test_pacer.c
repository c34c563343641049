/* Pacing: packet i is due at start + its position - lead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "devices/pacer.h"

static sound twenty_ms_packets(size_t n) {
  sound s = {0};
  uint8_t byte = 0xF8;
  for (size_t i = 0; i < n; i++) assert_int_equal(sound_append(&s, &byte, 1, 960), 0);
  return s;
}

static void due_times_follow_audio_position(void **unused) {
  (void)unused;
  sound s = twenty_ms_packets(100);
  int64_t start = 5 * NS_PER_SEC;
  assert_int_equal(pacer_due_ns(&s, 0, start, 0), start);
  assert_int_equal(pacer_due_ns(&s, 1, start, 0), start + 20 * NS_PER_MS);
  assert_int_equal(pacer_due_ns(&s, 50, start, 0), start + NS_PER_SEC);
  assert_int_equal(pacer_due_ns(&s, 50, start, 150 * NS_PER_MS), start + 850 * NS_PER_MS);
  sound_clear(&s);
}

/* How many packets a stream may have sent `elapsed` after its start. */
static size_t sendable(const sound *s, int64_t elapsed, int64_t lead) {
  size_t n = 0;
  while (n < s->count && pacer_is_due(s, n, 0, lead, elapsed)) n++;
  return n;
}

static void lead_sends_a_burst_then_real_time(void **unused) {
  (void)unused;
  sound s = twenty_ms_packets(500); /* 10 s */
  int64_t lead = 150 * NS_PER_MS;
  /* At start: packets at 0..140 ms, i.e. 8 packets (150 ms of audio ahead). */
  assert_int_equal(sendable(&s, 0, lead), 8);
  /* One second later: one second more, never the whole sound. */
  assert_int_equal(sendable(&s, NS_PER_SEC, lead), 58);
  assert_int_equal(sendable(&s, 2 * NS_PER_SEC, lead), 108);
  /* No lead: exactly real time. */
  assert_int_equal(sendable(&s, 0, 0), 1);
  assert_int_equal(sendable(&s, NS_PER_SEC - 1, 0), 50);
  /* Past the end: everything. */
  assert_int_equal(sendable(&s, 20 * NS_PER_SEC, lead), 500);
  sound_clear(&s);
}

static void variable_packet_lengths(void **unused) {
  (void)unused;
  sound s = {0};
  uint8_t byte = 0;
  sound_append(&s, &byte, 1, 480);  /* 10 ms */
  sound_append(&s, &byte, 1, 2880); /* 60 ms */
  sound_append(&s, &byte, 1, 960);
  assert_int_equal(pacer_due_ns(&s, 1, 0, 0), 10 * NS_PER_MS);
  assert_int_equal(pacer_due_ns(&s, 2, 0, 0), 70 * NS_PER_MS);
  assert_int_equal(sound_duration_ms(&s), 90);
  sound_clear(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(due_times_follow_audio_position),
      cmocka_unit_test(lead_sends_a_burst_then_real_time),
      cmocka_unit_test(variable_packet_lengths),
  };
  return cmocka_run_group_tests_name("pacer", tests, NULL, NULL);
}
