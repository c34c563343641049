/* Plain on/off LEDs from 0xRRGGBBAA colours.
 *
 * A GPIO line can only light an LED or not, so each colour is reduced to one
 * number, its intensity: the alpha byte (the contract's intensity) scaled by
 * the brightest of red, green and blue, so that black at full alpha is as
 * dark as anything at zero alpha. intensity = round(AA * max(R, G, B) / 255),
 * 0..255. The LED is on when the intensity is above the threshold.
 *
 *   0x00000000  off (intensity 0)      0x000000FF  off (black: intensity 0)
 *   0xFF3030FF  on  (intensity 255)    0xFFFFFF20  off with 0x40 (0x20)
 */
#ifndef OPAL_LED_THRESHOLD_H
#define OPAL_LED_THRESHOLD_H

#include <stdbool.h>
#include <stdint.h>

#define LED_THRESHOLD_DEFAULT 0x40u

/* round(AA * max(R, G, B) / 255), 0..255. */
unsigned led_intensity(uint32_t rgba);

/* True when led_intensity(rgba) > threshold. A threshold of 255 or more never
 * lights. */
bool led_is_on(uint32_t rgba, unsigned threshold);

#endif
