#include "led_pattern.h"

/* One hue per mode, full intensity: red, amber, green, cyan, violet. */
static const uint32_t mode_colour[LED_PATTERN_COUNT] = {
    0xFF3030FF, 0xFFB000FF, 0x30E030FF, 0x20C0FFFF, 0xB040FFFF,
};

void led_pattern(unsigned mode, bool playing, uint32_t leds[LED_PATTERN_COUNT]) {
  uint32_t colour = mode_colour[mode % LED_PATTERN_COUNT];
  for (unsigned i = 0; i < LED_PATTERN_COUNT; i++) {
    bool lit = (i == mode) != playing;
    leds[i] = lit ? colour : LED_OFF;
  }
}
