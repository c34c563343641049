/* On/off LEDs from colours: intensity = alpha scaled by the brightest of
 * R, G, B; lit when above the threshold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hw/led_threshold.h"

static void the_documented_examples(void **unused) {
  (void)unused;
  assert_false(led_is_on(0x00000000, LED_THRESHOLD_DEFAULT)); /* off */
  assert_false(led_is_on(0x000000FF, LED_THRESHOLD_DEFAULT)); /* black at full alpha */
  assert_true(led_is_on(0xFF3030FF, LED_THRESHOLD_DEFAULT));
  assert_false(led_is_on(0xFFFFFF00, LED_THRESHOLD_DEFAULT)); /* white at zero alpha */
  assert_false(led_is_on(0xFFFFFF20, LED_THRESHOLD_DEFAULT)); /* dim */
  assert_int_equal(LED_THRESHOLD_DEFAULT, 0x40);
}

/* Every colour the server's patterns use (docs/leds.md) lights; its off
 * value does not. */
static void the_server_patterns_read_right(void **unused) {
  (void)unused;
  static const uint32_t lit[] = {0xFF3030FF, 0xFFB000FF, 0x30E030FF, 0x20C0FFFF, 0xB040FFFF};
  for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++) {
    assert_true(led_is_on(lit[i], LED_THRESHOLD_DEFAULT));
    assert_true(led_intensity(lit[i]) >= 0xE0);
  }
}

static void intensity_is_alpha_times_the_brightest_channel(void **unused) {
  (void)unused;
  assert_int_equal(led_intensity(0xFFFFFFFF), 255);
  assert_int_equal(led_intensity(0x00000080), 0);
  assert_int_equal(led_intensity(0xFF000080), 128);
  assert_int_equal(led_intensity(0x00FF0080), 128);
  assert_int_equal(led_intensity(0x0000FF80), 128);
  assert_int_equal(led_intensity(0x808080FF), 128);
  assert_int_equal(led_intensity(0x10208040), 32); /* 0x80 * 0x40 / 255 = 32.1 */
  assert_int_equal(led_intensity(0x01000001), 0);  /* 1/255 rounds to 0 */
  for (unsigned a = 0; a <= 255; a++) assert_int_equal(led_intensity(0x0000FF00u | a), a);
}

static void above_not_at_the_threshold(void **unused) {
  (void)unused;
  assert_false(led_is_on(0xFFFFFF40, 0x40));
  assert_true(led_is_on(0xFFFFFF41, 0x40));
  assert_false(led_is_on(0x404040FF, 0x40));
  assert_true(led_is_on(0x414141FF, 0x40));
  assert_true(led_is_on(0x0000FF01, 0)); /* threshold 0: anything visible */
  assert_false(led_is_on(0x00000000, 0));
  assert_false(led_is_on(0xFFFFFFFF, 255)); /* 255: never */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_documented_examples),
      cmocka_unit_test(the_server_patterns_read_right),
      cmocka_unit_test(intensity_is_alpha_times_the_brightest_channel),
      cmocka_unit_test(above_not_at_the_threshold),
  };
  return cmocka_run_group_tests_name("led_threshold", tests, NULL, NULL);
}
