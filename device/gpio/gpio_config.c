#include "gpio/gpio_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_args.h"
#include "config_file.h"

/* The default pin map (BCM numbers): clear of I2C (2, 3), SPI0 (7-11), the
 * UART (14, 15), the HAT ID EEPROM (0, 1) and I2S (18-21, which a speaker
 * amplifier or DAC on the header uses). docs/raspberry-pi.md has the table. */
static const unsigned default_leds[LED_COUNT] = {5, 6, 12, 13, 16, 26};
static const unsigned default_buttons[BUTTON_COUNT] = {17, 27, 22, 23};

void gpio_config_defaults(gpio_config *cfg) {
  *cfg = (gpio_config){
      .chip = "gpiochip0",
      .buttons_active_low = true,
      .buttons_pull_up = true,
      .leds_active_low = false,
      .debounce_ms = 20,
      .hold_ms = 800,
      .led_threshold = 64,
  };
  memcpy(cfg->led_lines, default_leds, sizeof default_leds);
  memcpy(cfg->button_lines, default_buttons, sizeof default_buttons);
}

static const char *const keys[] = {
    "chip",
    "led_lines",
    "button_lines",
    "buttons_active_low",
    "buttons_pull_up",
    "leds_active_low",
    "debounce_ms",
    "hold_ms",
    "led_threshold",
};
#define KEY_COUNT (sizeof keys / sizeof keys[0])

static int key_index(const char *key) {
  for (size_t i = 0; i < KEY_COUNT; i++)
    if (strcmp(keys[i], key) == 0) return (int)i;
  return -1;
}

static void known_keys(char *out, size_t len) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < KEY_COUNT && used < len; i++) {
    int n = snprintf(out + used, len - used, "%s%s", i ? ", " : "", keys[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
}

/* "5,6, 13" -> exactly `count` numbers in 0..GPIO_LINE_MAX. */
static int parse_lines(const char *text, unsigned *out, size_t count, const char *example,
                       char *err, size_t err_len) {
  unsigned lines[LED_COUNT > BUTTON_COUNT ? LED_COUNT : BUTTON_COUNT];
  size_t n = 0;
  const char *p = text;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    while (len && (*p == ' ' || *p == '\t')) p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    char item[16];
    long v;
    if (len == 0) {
      snprintf(err, err_len,
               "expected %zu line numbers separated by commas, as in %s (an item is empty)", count,
               example);
      return -1;
    }
    bool too_long = len >= sizeof item;
    if (too_long) len = sizeof item - 4;
    memcpy(item, p, len);
    strcpy(item + len, too_long ? "..." : "");
    if (too_long || !cli_parse_long(item, 0, GPIO_LINE_MAX, &v)) {
      snprintf(err, err_len, "'%s' is not a line number (0..%u)", item, GPIO_LINE_MAX);
      return -1;
    }
    if (n < count) lines[n] = (unsigned)v;
    n++;
    if (!end) break;
    p = end + 1;
  }
  if (n != count) {
    snprintf(err, err_len, "expected %zu line numbers separated by commas, as in %s (got %zu)",
             count, example, n);
    return -1;
  }
  memcpy(out, lines, count * sizeof *out);
  return 0;
}

static int parse_bool(const char *text, bool *out, char *err, size_t err_len) {
  static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off",
                                                                              "0"};
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(text, yes[i]) == 0) return *out = true, 0;
    if (strcasecmp(text, no[i]) == 0) return *out = false, 0;
  }
  snprintf(err, err_len, "'%s' is not true or false (true/false, yes/no, on/off, 1/0)", text);
  return -1;
}

static int parse_number(const char *text, unsigned min, unsigned max, const char *unit,
                        unsigned *out, char *err, size_t err_len) {
  long v;
  if (!cli_parse_long(text, (long)min, (long)max, &v)) {
    snprintf(err, err_len, "'%s' is not a whole number from %u to %u%s", text, min, max, unit);
    return -1;
  }
  *out = (unsigned)v;
  return 0;
}

int gpio_config_set(gpio_config *cfg, const char *key, const char *value, char *err,
                    size_t err_len) {
  if (!value) value = "";
  switch (key_index(key)) {
    case 0: /* chip */
      if (!*value) {
        snprintf(err, err_len,
                 "the chip is empty (a name such as gpiochip0, a path, a number or a label)");
        return -1;
      }
      if (strlen(value) >= sizeof cfg->chip) {
        snprintf(err, err_len, "the chip is longer than %zu characters", sizeof cfg->chip - 1);
        return -1;
      }
      snprintf(cfg->chip, sizeof cfg->chip, "%s", value);
      return 0;
    case 1:
      return parse_lines(value, cfg->led_lines, LED_COUNT, "5,6,12,13,16,26", err, err_len);
    case 2:
      return parse_lines(value, cfg->button_lines, BUTTON_COUNT, "17,27,22,23", err, err_len);
    case 3:
      return parse_bool(value, &cfg->buttons_active_low, err, err_len);
    case 4:
      return parse_bool(value, &cfg->buttons_pull_up, err, err_len);
    case 5:
      return parse_bool(value, &cfg->leds_active_low, err, err_len);
    case 6:
      return parse_number(value, 0, GPIO_DEBOUNCE_MAX_MS, " (milliseconds)", &cfg->debounce_ms, err,
                          err_len);
    case 7:
      return parse_number(value, GPIO_HOLD_MIN_MS, GPIO_HOLD_MAX_MS, " (milliseconds)",
                          &cfg->hold_ms, err, err_len);
    case 8:
      return parse_number(value, 0, GPIO_THRESHOLD_MAX, "", &cfg->led_threshold, err, err_len);
    default: {
      char known[160];
      known_keys(known, sizeof known);
      snprintf(err, err_len, "unknown setting (known: %s)", known);
      return -1;
    }
  }
}

int gpio_config_flag(gpio_config *cfg, const char *flag, const char *key, const char *value,
                     char *err, size_t err_len) {
  char why[256];
  if (gpio_config_set(cfg, key, value, why, sizeof why) == 0) return 0;
  snprintf(err, err_len, "%s: %s", flag, why);
  return -1;
}

/* Loading a file of [gpio] alone: shared/config_file.c reads it, as it
 * reads device.conf, with no top-level keys. */
static int take_gpio_key(void *staged, const char *key, const char *value, char *why,
                         size_t why_len) {
  return gpio_config_set(staged, key, value, why, why_len);
}

static cli_result no_flag(int opt, const char *arg, void *ctx, FILE *out, char *err, size_t len) {
  (void)opt, (void)arg, (void)ctx, (void)out, (void)err, (void)len;
  return CLI_BAD; /* never called: there are no flags */
}

int gpio_config_load(gpio_config *cfg, const char *path, char *err, size_t err_len) {
  static const struct option no_flags[] = {{NULL, 0, NULL, 0}};
  static const config_section sections[] = {{"gpio", take_gpio_key}, {NULL, NULL}};
  const config_program program = {.options = no_flags, .take = no_flag, .sections = sections};
  config_text *text = malloc(sizeof *text); /* 64 KiB: not for the stack */
  if (!text) {
    snprintf(err, err_len, "%s: out of memory", path);
    return -1;
  }
  /* Settings change only if the whole file is good. */
  gpio_config staged = *cfg;
  cli_result rc = config_file_read(&program, path, true, &staged, text, err, err_len);
  free(text); /* gpio_config_set copied what it kept */
  if (rc != CLI_RUN) return -1;
  *cfg = staged;
  return 0;
}

void gpio_line_owner(int i, char *out, size_t len) {
  if (i < LED_COUNT)
    snprintf(out, len, "led_%d", i);
  else
    snprintf(out, len, "button %s", wire_button_title(i - LED_COUNT));
}

int gpio_config_check(const gpio_config *cfg, char *err, size_t err_len) {
  unsigned all[LED_COUNT + BUTTON_COUNT];
  memcpy(all, cfg->led_lines, sizeof cfg->led_lines);
  memcpy(all + LED_COUNT, cfg->button_lines, sizeof cfg->button_lines);
  for (int i = 0; i < LED_COUNT + BUTTON_COUNT; i++)
    for (int j = i + 1; j < LED_COUNT + BUTTON_COUNT; j++)
      if (all[i] == all[j]) {
        char a[24], b[24];
        gpio_line_owner(i, a, sizeof a);
        gpio_line_owner(j, b, sizeof b);
        snprintf(err, err_len, "gpio line %u is given twice: for %s and for %s", all[i], a, b);
        return -1;
      }
  if (cfg->hold_ms <= cfg->debounce_ms) {
    snprintf(err, err_len, "hold_ms (%u) must be longer than debounce_ms (%u)", cfg->hold_ms,
             cfg->debounce_ms);
    return -1;
  }
  if (!cfg->chip[0]) {
    snprintf(err, err_len, "the gpio chip is empty");
    return -1;
  }
  return 0;
}

void gpio_config_describe(const gpio_config *cfg, char *out, size_t out_len) {
  const unsigned *l = cfg->led_lines, *b = cfg->button_lines;
  snprintf(
      out, out_len,
      "gpio chip %s: LEDs on lines %u,%u,%u,%u,%u,%u (active-%s), buttons Connect,Mode,Stop,Play "
      "on lines %u,%u,%u,%u (active-%s%s), debounce %u ms, hold %u ms, LED threshold %u",
      cfg->chip, l[0], l[1], l[2], l[3], l[4], l[5], cfg->leds_active_low ? "low" : "high", b[0],
      b[1], b[2], b[3], cfg->buttons_active_low ? "low" : "high",
      cfg->buttons_pull_up ? ", pull-up" : "", cfg->debounce_ms, cfg->hold_ms, cfg->led_threshold);
}
