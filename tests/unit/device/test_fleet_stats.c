/* Fleet figures: percentile maths and the late-packet rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "fleet/fleet_stats.h"

static void percentiles_of_one_to_a_hundred(void **unused) {
  (void)unused;
  latency_samples l = {0};
  for (int i = 100; i >= 1; i--) latency_add(&l, i); /* order must not matter */
  latency_summary s = latency_summarise(&l);
  assert_int_equal(s.n, 100);
  assert_true(s.p50 == 50 && s.p95 == 95 && s.p99 == 99 && s.max == 100);
  latency_free(&l);
}

static void percentiles_of_few_samples(void **unused) {
  (void)unused;
  latency_samples l = {0};
  latency_summary s = latency_summarise(&l);
  assert_int_equal(s.n, 0);
  assert_true(s.p99 == 0 && s.max == 0);
  latency_add(&l, 7.5);
  s = latency_summarise(&l);
  assert_true(s.p50 == 7.5 && s.p99 == 7.5 && s.max == 7.5);
  latency_add(&l, 1.0);
  latency_add(&l, 3.0);
  s = latency_summarise(&l); /* 1, 3, 7.5 */
  assert_true(s.p50 == 3.0);  /* rank ceil(1.5) = 2 */
  assert_true(s.p95 == 7.5 && s.p99 == 7.5);
  latency_free(&l);
}

static void one_outlier_in_a_thousand(void **unused) {
  (void)unused;
  latency_samples l = {0};
  for (int i = 0; i < 999; i++) latency_add(&l, 1.0);
  latency_add(&l, 500.0);
  latency_summary s = latency_summarise(&l);
  assert_true(s.p99 == 1.0); /* 1 in 1000 is beyond p99 */
  assert_true(s.max == 500.0);
  for (int i = 0; i < 10; i++) latency_add(&l, 500.0); /* now 11 in 1010 */
  s = latency_summarise(&l);
  assert_true(s.p99 == 500.0);
  latency_free(&l);
}

static void late_packets(void **unused) {
  (void)unused;
  int64_t first = 10 * NS_PER_SEC, tolerance = 60 * NS_PER_MS;
  /* Packet 50 (1 s in) may arrive up to 1.06 s after the first. */
  assert_false(packet_is_late(first + NS_PER_SEC, first, 48000, tolerance));
  assert_false(packet_is_late(first + 1060 * NS_PER_MS, first, 48000, tolerance));
  assert_true(packet_is_late(first + 1061 * NS_PER_MS, first, 48000, tolerance));
  /* Early is never late: the server runs ahead by its lead. */
  assert_false(packet_is_late(first + 850 * NS_PER_MS, first, 48000, tolerance));
  /* The first packet defines the clock. */
  assert_false(packet_is_late(first, first, 0, 0));
  /* Long streams: an hour in, no overflow. */
  uint64_t hour = 3600ULL * 48000;
  assert_false(packet_is_late(first + 3600 * NS_PER_SEC, first, hour, tolerance));
  assert_true(packet_is_late(first + 3600 * NS_PER_SEC + tolerance + 1, first, hour, tolerance));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(percentiles_of_one_to_a_hundred),
      cmocka_unit_test(percentiles_of_few_samples),
      cmocka_unit_test(one_outlier_in_a_thousand),
      cmocka_unit_test(late_packets),
  };
  return cmocka_run_group_tests_name("fleet_stats", tests, NULL, NULL);
}
