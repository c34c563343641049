#include "devices/led_pattern.h"

/* One hue per mode, full intensity: red, amber, green, cyan, violet; modes
 * 5-14 reuse them in turn (their two-LED mark already tells them apart). */
static const uint32_t mode_colour[LED_PATTERN_COUNT] = {
    0xFF3030FF, 0xFFB000FF, 0x30E030FF, 0x20C0FFFF, 0xB040FFFF,
};

unsigned led_pattern_mark(unsigned mode) {
  if (mode < LED_PATTERN_COUNT) return 1u << mode;
  /* Pairs ordered by the gap between their LEDs, then by position: the
   * four neighbouring pairs first, the two ends (led_1 + led_5) last. */
  unsigned j = mode - LED_PATTERN_COUNT, gap = 1;
  while (gap < LED_PATTERN_COUNT && j >= LED_PATTERN_COUNT - gap) {
    j -= LED_PATTERN_COUNT - gap;
    gap++;
  }
  return (1u << j) | (1u << (j + gap));
}

void led_pattern(unsigned mode, bool playing, uint32_t leds[LED_PATTERN_COUNT]) {
  uint32_t colour = mode_colour[mode % LED_PATTERN_COUNT];
  unsigned mark = led_pattern_mark(mode);
  for (unsigned i = 0; i < LED_PATTERN_COUNT; i++) {
    bool lit = ((mark >> i) & 1u) != playing;
    leds[i] = lit ? colour : LED_OFF;
  }
}
