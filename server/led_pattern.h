/* What led_1..led_5 show for a (mode, activity) pair. See docs/leds.md.
 *
 * Idle: only the mode's own LED is lit (mode k lights led_(k+1)).
 * Playing: the inverse, every LED but the mode's own is lit.
 * So on plain on/off LEDs one lit LED means idle, one dark LED means
 * playing, and its position is the mode; colour adds the mode's hue. */
#ifndef OPAL_LED_PATTERN_H
#define OPAL_LED_PATTERN_H

#include <stdbool.h>
#include <stdint.h>

#define LED_PATTERN_COUNT 5 /* led_1 .. led_5; led_0 belongs to the device */
#define LED_OFF UINT32_C(0x00000000)

/* Fills leds[0..4] (led_1..led_5) with 0xRRGGBBAA values. `mode` must be
 * below LED_PATTERN_COUNT. */
void led_pattern(unsigned mode, bool playing, uint32_t leds[LED_PATTERN_COUNT]);

#endif
