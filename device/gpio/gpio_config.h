/* The gpio back end's pin map and timings: defaults, command-line values
 * and the [gpio] section of device.conf (docs/raspberry-pi.md).
 *
 * Order of use: gpio_config_defaults, then gpio_config_set for each [gpio]
 * key of the config file (app/device_options.c reads it), then
 * gpio_config_flag for each flag given (flags win over the file), then
 * gpio_config_check once everything is in, then hw_gpio_create.
 *
 * Every function that can fail returns 0, or -1 with one line in `err`. */
#ifndef OPAL_GPIO_CONFIG_H
#define OPAL_GPIO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "hw/hw.h"

#define GPIO_CHIP_MAX 128  /* longest chip text + 1 */
#define GPIO_LINE_MAX 511u /* highest line offset accepted */
#define GPIO_DEBOUNCE_MAX_MS 1000u
#define GPIO_HOLD_MIN_MS 50u
#define GPIO_HOLD_MAX_MS 10000u
#define GPIO_THRESHOLD_MAX 254u

typedef struct gpio_config {
  /* The chip, as gpiod_chip_open_lookup takes it: a name ("gpiochip0"), a
   * path ("/dev/gpiochip0"), a number ("0") or a label ("pinctrl-bcm2711"). */
  char chip[GPIO_CHIP_MAX];
  unsigned led_lines[LED_COUNT];       /* line offsets (BCM numbers on a Pi) */
  unsigned button_lines[BUTTON_COUNT]; /* Connect, Mode, Stop, Play */
  bool buttons_active_low;                /* a pressed button reads low (wired to GND) */
  bool buttons_pull_up;                   /* ask for the SoC's internal pull-up on buttons */
  bool leds_active_low;                   /* an LED lights when its line is low */
  unsigned debounce_ms;                   /* 0..GPIO_DEBOUNCE_MAX_MS */
  unsigned hold_ms;       /* HOLD after this long down: GPIO_HOLD_MIN_MS..MAX_MS, > debounce_ms */
  unsigned led_threshold; /* an LED lights when its intensity is above this */
} gpio_config;

/* chip gpiochip0; LEDs on 5,6,12,13,16,26, active-high; buttons on
 * 17,27,22,23, active-low with pull-up; debounce 20 ms; hold 800 ms;
 * threshold 64. */
void gpio_config_defaults(gpio_config *cfg);

/* Sets one setting by its INI key (chip, led_lines, button_lines,
 * buttons_active_low, buttons_pull_up, leds_active_low, debounce_ms,
 * hold_ms, led_threshold) from its text. On error `err` says what is wrong
 * with the value, without naming the key or flag: callers prefix that. */
int gpio_config_set(gpio_config *cfg, const char *key, const char *value, char *err,
                    size_t err_len);

/* gpio_config_set for a command-line flag: the error line starts with the
 * flag, e.g. gpio_config_flag(cfg, "--led-lines", "led_lines", optarg, ...)
 * -> "--led-lines: expected 6 line numbers separated by commas (got 5)". */
int gpio_config_flag(gpio_config *cfg, const char *flag, const char *key, const char *value,
                     char *err, size_t err_len);

/* Reads a file of a [gpio] section alone over `cfg` (keys it leaves out
 * keep their values), with shared/config_file.c as device.conf is read:
 * the [gpio] rules on their own, for tests and the fuzz harness. Unknown
 * sections and keys, a key given twice and bad values are errors, and
 * leave `cfg` as it was: "opal.ini:4: [gpio] key 'led_lines': expected 6
 * line numbers ...". */
int gpio_config_load(gpio_config *cfg, const char *path, char *err, size_t err_len);

/* Checks what single settings cannot: no line used twice, hold_ms longer
 * than debounce_ms. */
int gpio_config_check(const gpio_config *cfg, char *err, size_t err_len);

/* What line number `i` of the pin map is for: 0..5 are "led_0".."led_5",
 * 6..9 "button Connect".."button Play". */
void gpio_line_owner(int i, char *out, size_t out_len);

/* One line for the log: chip, lines, polarity, timings. */
void gpio_config_describe(const gpio_config *cfg, char *out, size_t out_len);

#endif
