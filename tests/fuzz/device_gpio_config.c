/* The device's pin map from a config file (gpio_config_load: a [gpio]
 * section read by shared/config_file.c, the reader of device.conf and
 * server.conf): the input is a whole INI file, read over the defaults as
 * the program does, then checked. A file it accepts leaves every setting in its
 * documented range (docs/raspberry-pi.md); a refused one changes nothing
 * and its error names the file. */
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_file.h"
#include "gpio/gpio_config.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  log_set_level(LOG_ERROR);
  return 0;
}

static void check_ranges(const gpio_config *cfg) {
  FUZZ_CHECK(memchr(cfg->chip, '\0', sizeof cfg->chip) != NULL);
  for (int i = 0; i < LED_COUNT; i++) FUZZ_CHECK(cfg->led_lines[i] <= GPIO_LINE_MAX);
  for (int i = 0; i < BUTTON_COUNT; i++) FUZZ_CHECK(cfg->button_lines[i] <= GPIO_LINE_MAX);
  FUZZ_CHECK(cfg->debounce_ms <= GPIO_DEBOUNCE_MAX_MS);
  FUZZ_CHECK(cfg->hold_ms >= GPIO_HOLD_MIN_MS && cfg->hold_ms <= GPIO_HOLD_MAX_MS);
  FUZZ_CHECK(cfg->led_threshold <= GPIO_THRESHOLD_MAX);
}

/* What gpio_config_check promises on top: no line twice, hold > debounce. */
static void check_whole(const gpio_config *cfg) {
  unsigned lines[LED_COUNT + BUTTON_COUNT];
  memcpy(lines, cfg->led_lines, sizeof cfg->led_lines);
  memcpy(lines + LED_COUNT, cfg->button_lines, sizeof cfg->button_lines);
  for (int i = 0; i < LED_COUNT + BUTTON_COUNT; i++)
    for (int j = i + 1; j < LED_COUNT + BUTTON_COUNT; j++) FUZZ_CHECK(lines[i] != lines[j]);
  FUZZ_CHECK(cfg->hold_ms > cfg->debounce_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gpio_config defaults, cfg;
  memset(&defaults, 0, sizeof defaults); /* padding too: the configs are compared whole */
  gpio_config_defaults(&defaults);
  cfg = defaults;
  char err[512] = "", line[512];
  const char *path = fuzz_file(data, size);
  if (gpio_config_load(&cfg, path, err, sizeof err) != 0) {
    FUZZ_CHECK(memcmp(&cfg, &defaults, sizeof cfg) == 0);
    FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':');
    return 0;
  }
  check_ranges(&cfg);
  if (gpio_config_check(&cfg, err, sizeof err) == 0) check_whole(&cfg);
  else FUZZ_CHECK(err[0] != '\0');
  gpio_config_describe(&cfg, line, sizeof line);
  FUZZ_CHECK(line[0] != '\0');
  return 0;
}
