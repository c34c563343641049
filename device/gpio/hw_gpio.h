/* The gpio back end: a Raspberry Pi's LEDs and buttons through libgpiod
 * (the 1.6 API). docs/raspberry-pi.md has the wiring.
 *
 * hw_gpio_create opens the chip and requests every line at once, so a
 * wrong chip, a missing line or a line another program holds is reported
 * before anything else starts: LED lines become outputs, off; button lines
 * become inputs with edge events on both edges (active-low and pull-up as
 * configured). `start` starts the input thread: it waits (poll) on the
 * buttons' event fds, the next HOLD or debounce deadline and a stop pipe,
 * and turns edges into PRESS, HOLD and RELEASE (button_timing.h) pushed to
 * the sink, stamped with the kernel's time of the edge. `show_leds` lights
 * led_i iff led_is_on(rgba, led_threshold). `read_buttons` gives the
 * debounced state, the one the events report. `destroy` stops the thread,
 * turns the LEDs off, releases the lines and closes the chip. */
#ifndef OPAL_HW_GPIO_H
#define OPAL_HW_GPIO_H

#include <stddef.h>
#include <stdint.h>

#include "gpio/gpio_config.h"
#include "hw/hw.h"

/* The consumer name other programs (gpioinfo) see on our lines. */
#define HW_GPIO_CONSUMER "opal-device"

/* NULL with one line in `err` on failure, e.g.
 *   gpio chip 'gpiochip7' not found (No such file or directory)
 *   gpio line 99 on gpiochip0: Invalid argument (the chip has lines 0..53; led_0)
 *   gpio line 17 (button Connect) is busy (used by another program)
 * `cfg` should have passed gpio_config_check; it is copied. */
hw_backend *hw_gpio_create(const gpio_config *cfg, char *err, size_t err_len);

#endif
