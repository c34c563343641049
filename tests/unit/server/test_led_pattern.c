/* LED patterns: distinct for every (mode, state), readable on on/off LEDs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "led_pattern.h"

/* The pattern as plain on/off LEDs see it: bit i = led_(i+1) lit. */
static unsigned on_off(unsigned mode, bool playing) {
  uint32_t leds[LED_PATTERN_COUNT];
  led_pattern(mode, playing, leds);
  unsigned bits = 0;
  for (int i = 0; i < LED_PATTERN_COUNT; i++)
    if (leds[i] & 0xFF) bits |= 1u << i; /* lit = non-zero intensity */
  return bits;
}

static void idle_lights_only_the_mode_led(void **unused) {
  (void)unused;
  for (unsigned m = 0; m < LED_PATTERN_COUNT; m++) assert_int_equal(on_off(m, false), 1u << m);
}

static void playing_lights_all_but_the_mode_led(void **unused) {
  (void)unused;
  for (unsigned m = 0; m < LED_PATTERN_COUNT; m++)
    assert_int_equal(on_off(m, true), 0x1Fu & ~(1u << m));
}

static void every_pair_is_distinct_on_plain_leds(void **unused) {
  (void)unused;
  unsigned seen[2 * LED_PATTERN_COUNT];
  int n = 0;
  for (int playing = 0; playing < 2; playing++)
    for (unsigned m = 0; m < LED_PATTERN_COUNT; m++) {
      unsigned p = on_off(m, playing);
      for (int j = 0; j < n; j++) assert_int_not_equal(seen[j], p);
      seen[n++] = p;
    }
  assert_int_equal(n, 10);
}

static void off_is_black_and_lit_is_the_mode_colour(void **unused) {
  (void)unused;
  uint32_t colour[LED_PATTERN_COUNT];
  for (unsigned m = 0; m < LED_PATTERN_COUNT; m++) {
    uint32_t leds[LED_PATTERN_COUNT];
    led_pattern(m, false, leds);
    colour[m] = leds[m];
    assert_int_equal(colour[m] & 0xFF, 0xFF); /* full intensity */
    for (unsigned i = 0; i < LED_PATTERN_COUNT; i++)
      if (i != m) assert_int_equal(leds[i], LED_OFF);
    led_pattern(m, true, leds);
    for (unsigned i = 0; i < LED_PATTERN_COUNT; i++)
      assert_int_equal(leds[i], i == m ? LED_OFF : colour[m]);
  }
  for (unsigned a = 0; a < LED_PATTERN_COUNT; a++)
    for (unsigned b = a + 1; b < LED_PATTERN_COUNT; b++) assert_int_not_equal(colour[a], colour[b]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(idle_lights_only_the_mode_led),
      cmocka_unit_test(playing_lights_all_but_the_mode_led),
      cmocka_unit_test(every_pair_is_distinct_on_plain_leds),
      cmocka_unit_test(off_is_black_and_lit_is_the_mode_colour),
  };
  return cmocka_run_group_tests_name("led_pattern", tests, NULL, NULL);
}
