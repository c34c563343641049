/* Reconnect backoff: exponential ceiling, full jitter, capped, reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/backoff.h"

static void ceiling_doubles_up_to_the_cap(void **unused) {
  (void)unused;
  backoff b;
  backoff_init(&b, 100, 3000, 42);
  unsigned expected[] = {100, 200, 400, 800, 1600, 3000, 3000, 3000};
  for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
    assert_int_equal(backoff_ceiling_ms(&b), expected[i]);
    unsigned d = backoff_next_ms(&b);
    assert_true(d <= expected[i]);
  }
}

static void delays_are_spread_over_the_whole_range(void **unused) {
  (void)unused;
  backoff b;
  backoff_init(&b, 100, 3000, 7);
  unsigned low = 0, high = 0;
  for (int i = 0; i < 2000; i++) {
    b.attempt = 10; /* at the cap */
    unsigned d = backoff_next_ms(&b);
    assert_true(d <= 3000);
    low += d < 1000;
    high += d > 2000;
  }
  /* Full jitter: roughly a third in each part of [0, 3000]. */
  assert_in_range(low, 500, 830);
  assert_in_range(high, 500, 830);
}

static void different_seeds_disagree(void **unused) {
  (void)unused;
  backoff a, b;
  backoff_init(&a, 100, 3000, 1);
  backoff_init(&b, 100, 3000, 2);
  int same = 0;
  for (int i = 0; i < 20; i++) {
    a.attempt = b.attempt = 5;
    same += backoff_next_ms(&a) == backoff_next_ms(&b);
  }
  assert_true(same < 5);
}

static void reset_starts_again(void **unused) {
  (void)unused;
  backoff b;
  backoff_init(&b, 100, 3000, 0); /* 0 is replaced: xorshift needs a non-zero state */
  for (int i = 0; i < 6; i++) backoff_next_ms(&b);
  assert_int_equal(backoff_ceiling_ms(&b), 3000);
  backoff_reset(&b);
  assert_int_equal(backoff_ceiling_ms(&b), 100);
  assert_true(backoff_next_ms(&b) <= 100);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ceiling_doubles_up_to_the_cap),
      cmocka_unit_test(delays_are_spread_over_the_whole_range),
      cmocka_unit_test(different_seeds_disagree),
      cmocka_unit_test(reset_starts_again),
  };
  return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
