/* LED patterns: distinct for every (mode, state), readable on on/off LEDs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "devices/led_pattern.h"

#define ALL_LEDS 0x1Fu

/* The pattern as plain on/off LEDs see it: bit i = led_(i+1) lit. */
static unsigned on_off(unsigned mode, bool playing) {
  uint32_t leds[LED_PATTERN_COUNT];
  led_pattern(mode, playing, leds);
  unsigned bits = 0;
  for (int i = 0; i < LED_PATTERN_COUNT; i++)
    if (leds[i] & 0xFF) bits |= 1u << i; /* lit = non-zero intensity */
  return bits;
}

static int lit_count(unsigned bits) { return __builtin_popcount(bits); }

static void modes_0_to_4_own_one_led(void **unused) {
  (void)unused;
  for (unsigned m = 0; m < LED_PATTERN_COUNT; m++) {
    assert_int_equal(on_off(m, false), 1u << m);
    assert_int_equal(on_off(m, true), ALL_LEDS & ~(1u << m));
  }
}

/* The table of docs/leds.md, as bits (led_1 = bit 0). */
static void modes_5_to_14_own_a_pair_neighbours_first(void **unused) {
  (void)unused;
  static const unsigned pairs[10] = {
      0x03, 0x06, 0x0C, 0x18, /* gap 1: led_1+2, 2+3, 3+4, 4+5 */
      0x05, 0x0A, 0x14,       /* gap 2: led_1+3, 2+4, 3+5 */
      0x09, 0x12,             /* gap 3: led_1+4, 2+5 */
      0x11,                   /* gap 4: led_1+5 */
  };
  for (unsigned m = 5; m < LED_PATTERN_MAX_MODES; m++) {
    assert_int_equal(led_pattern_mark(m), pairs[m - 5]);
    assert_int_equal(on_off(m, false), pairs[m - 5]);
    assert_int_equal(on_off(m, true), ALL_LEDS & ~pairs[m - 5]);
  }
}

/* Fewer than half lit is idle, more than half is playing: the state reads
 * off a count, whatever the mode. */
static void the_state_reads_off_the_count(void **unused) {
  (void)unused;
  for (unsigned m = 0; m < LED_PATTERN_MAX_MODES; m++) {
    assert_true(lit_count(on_off(m, false)) <= 2);
    assert_true(lit_count(on_off(m, true)) >= 3);
  }
}

static void every_pair_is_distinct_on_plain_leds(void **unused) {
  (void)unused;
  unsigned seen[2 * LED_PATTERN_MAX_MODES];
  int n = 0;
  for (int playing = 0; playing < 2; playing++)
    for (unsigned m = 0; m < LED_PATTERN_MAX_MODES; m++) {
      unsigned p = on_off(m, playing);
      for (int j = 0; j < n; j++) assert_int_not_equal(seen[j], p);
      seen[n++] = p;
    }
  assert_int_equal(n, 30);
}

static void off_is_black_and_lit_is_the_mode_colour(void **unused) {
  (void)unused;
  uint32_t colour[LED_PATTERN_MAX_MODES];
  for (unsigned m = 0; m < LED_PATTERN_MAX_MODES; m++) {
    unsigned mark = led_pattern_mark(m);
    uint32_t leds[LED_PATTERN_COUNT];
    led_pattern(m, false, leds);
    colour[m] = leds[__builtin_ctz(mark)];
    assert_int_equal(colour[m] & 0xFF, 0xFF); /* full intensity */
    for (unsigned i = 0; i < LED_PATTERN_COUNT; i++)
      assert_int_equal(leds[i], (mark >> i) & 1u ? colour[m] : LED_OFF);
    led_pattern(m, true, leds);
    for (unsigned i = 0; i < LED_PATTERN_COUNT; i++)
      assert_int_equal(leds[i], (mark >> i) & 1u ? LED_OFF : colour[m]);
  }
  /* Modes 0-4 each have a hue of their own; the rest reuse them in turn. */
  for (unsigned a = 0; a < LED_PATTERN_COUNT; a++)
    for (unsigned b = a + 1; b < LED_PATTERN_COUNT; b++) assert_int_not_equal(colour[a], colour[b]);
  for (unsigned m = LED_PATTERN_COUNT; m < LED_PATTERN_MAX_MODES; m++)
    assert_int_equal(colour[m], colour[m % LED_PATTERN_COUNT]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(modes_0_to_4_own_one_led),
      cmocka_unit_test(modes_5_to_14_own_a_pair_neighbours_first),
      cmocka_unit_test(the_state_reads_off_the_count),
      cmocka_unit_test(every_pair_is_distinct_on_plain_leds),
      cmocka_unit_test(off_is_black_and_lit_is_the_mode_colour),
  };
  return cmocka_run_group_tests_name("led_pattern", tests, NULL, NULL);
}
