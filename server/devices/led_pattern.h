/* What led_1..led_5 show for a (mode, activity) pair. See docs/leds.md.
 *
 * Each mode owns a set of LEDs, its mark: one LED for modes 0-4 (mode k
 * owns led_(k+1)), two for modes 5-14 (neighbours first, then wider gaps).
 * Idle lights only the mark; playing lights everything but the mark. So on
 * plain on/off LEDs fewer than half lit means idle, more than half means
 * playing, and where the odd ones out sit is the mode; colour adds the
 * mode's hue. */
#ifndef OPAL_LED_PATTERN_H
#define OPAL_LED_PATTERN_H

#include <stdbool.h>
#include <stdint.h>

#define LED_PATTERN_COUNT 5      /* led_1 .. led_5; led_0 belongs to the device */
#define LED_PATTERN_MAX_MODES 15 /* 5 single LEDs + 10 pairs */
#define LED_OFF UINT32_C(0x00000000)

/* Fills leds[0..4] (led_1..led_5) with 0xRRGGBBAA values. `mode` must be
 * below LED_PATTERN_MAX_MODES. */
void led_pattern(unsigned mode, bool playing, uint32_t leds[LED_PATTERN_COUNT]);

/* The mode's mark: bit i set = led_(i+1) belongs to the mode. */
unsigned led_pattern_mark(unsigned mode);

#endif
