#include "gpio/gpio_config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_args.h"

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

/* Loading. inih calls the handler without a line number, so the reader
 * counts lines: the handler runs for the line the reader gave last. */
typedef struct load_state {
  gpio_config *cfg;
  FILE *file;
  int line;          /* lines read so far = the line being handled */
  int too_long_line; /* a line longer than inih's buffer, or 0 */
  int err_line;      /* first error found by the handler, or 0 */
  char why[320];     /* its text: "key: reason" */
  int key_line[KEY_COUNT];
} load_state;

static char *read_line(char *str, int num, void *stream) {
  load_state *s = stream;
  if (s->too_long_line || !fgets(str, num, s->file)) return NULL;
  s->line++;
  size_t len = strlen(str);
  if (len && str[len - 1] != '\n') {
    int c = getc(s->file);
    if (c != EOF) { /* the line did not fit: stop here rather than misread it */
      s->too_long_line = s->line;
      return NULL;
    }
  }
  return str;
}

static int on_pair(void *user, const char *section, const char *name, const char *value) {
  load_state *s = user;
  if (s->err_line) return 0; /* only the first error is reported */
  char why[256];
  int k = key_index(name);
  if (!*section) {
    snprintf(why, sizeof why, "outside any section: put it under [gpio]");
  } else if (strcmp(section, "gpio") != 0) {
    snprintf(why, sizeof why, "in unknown section [%s]: this file has only a [gpio] section",
             section);
  } else if (k < 0) {
    char known[160];
    known_keys(known, sizeof known);
    snprintf(why, sizeof why, "unknown key in [gpio] (known: %s)", known);
  } else if (s->key_line[k]) {
    snprintf(why, sizeof why, "given twice (first on line %d)", s->key_line[k]);
  } else if (gpio_config_set(s->cfg, name, value, why, sizeof why) == 0) {
    s->key_line[k] = s->line;
    return 1;
  }
  s->err_line = s->line;
  snprintf(s->why, sizeof s->why, "%s: %s", name, why);
  return 0;
}

int gpio_config_load(gpio_config *cfg, const char *path, char *err, size_t err_len) {
  load_state s = {.cfg = cfg};
  s.file = fopen(path, "r");
  if (!s.file) {
    snprintf(err, err_len, "%s: %s", path, strerror(errno));
    return -1;
  }
  /* Settings change only if the whole file is good. */
  gpio_config staged = *cfg;
  s.cfg = &staged;
  int rc = ini_parse_stream(read_line, &s, on_pair, &s);
  bool read_error = ferror(s.file);
  fclose(s.file);

  /* The first problem by line: a syntax error inih found, a bad pair, or a
   * line too long (which ended the reading, so nothing after it counts). */
  int syntax_line = rc > 0 ? rc : 0;
  int first = 0;
  const char *what = NULL;
  if (syntax_line) first = syntax_line, what = "expected 'key = value' or '[section]'";
  if (s.err_line && (!first || s.err_line <= first)) first = s.err_line, what = s.why;
  if (s.too_long_line && (!first || s.too_long_line < first)) {
    first = s.too_long_line;
    what = "the line is too long";
  }
  if (first) {
    snprintf(err, err_len, "%s:%d: %s", path, first, what);
    return -1;
  }
  if (read_error || rc < 0) {
    snprintf(err, err_len, "%s: could not be read", path);
    return -1;
  }
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
