/* The gpio pin map: defaults, flag values, the INI file (with errors that
 * name the file, the line and the key), and the whole-config checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gpio/gpio_config.h"

static char path[64];

/* Writes `text` to a fresh temporary file, named in `path`. */
static const char *ini(const char *text) {
  snprintf(path, sizeof path, "/tmp/opal-gpio-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static int remove_file(void **unused) {
  (void)unused;
  if (path[0]) unlink(path);
  path[0] = '\0';
  return 0;
}

static void expect_text(const char *got, const char *want) {
  if (strcmp(got, want) != 0) fail_msg("got  '%s'\nwant '%s'", got, want);
}

/* Loads `text` over the defaults; expects the error "<path>:<rest>". */
static void load_fails(const char *text, const char *rest) {
  gpio_config cfg, before;
  gpio_config_defaults(&cfg);
  before = cfg;
  char err[512] = "", want[512];
  assert_int_equal(gpio_config_load(&cfg, ini(text), err, sizeof err), -1);
  snprintf(want, sizeof want, "%s%s", path, rest);
  expect_text(err, want);
  assert_memory_equal(&cfg, &before, sizeof cfg); /* all or nothing */
  remove_file(NULL);
}

static void defaults(void **unused) {
  (void)unused;
  gpio_config cfg;
  gpio_config_defaults(&cfg);
  assert_string_equal(cfg.chip, "gpiochip0");
  static const unsigned leds[LED_COUNT] = {5, 6, 12, 13, 16, 26};
  static const unsigned buttons[BUTTON_COUNT] = {17, 27, 22, 23};
  assert_memory_equal(cfg.led_lines, leds, sizeof leds);
  assert_memory_equal(cfg.button_lines, buttons, sizeof buttons);
  assert_true(cfg.buttons_active_low);
  assert_true(cfg.buttons_pull_up);
  assert_false(cfg.leds_active_low);
  assert_int_equal(cfg.debounce_ms, 20);
  assert_int_equal(cfg.hold_ms, 800);
  assert_int_equal(cfg.led_threshold, 64);
  char err[256];
  assert_int_equal(gpio_config_check(&cfg, err, sizeof err), 0);
  /* clear of I2C, SPI0, UART, the ID EEPROM and I2S */
  static const unsigned reserved[] = {0, 1, 2, 3, 7, 8, 9, 10, 11, 14, 15, 18, 19, 20, 21};
  for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++) {
    for (int i = 0; i < LED_COUNT; i++) assert_int_not_equal(cfg.led_lines[i], reserved[r]);
    for (int i = 0; i < BUTTON_COUNT; i++)
      assert_int_not_equal(cfg.button_lines[i], reserved[r]);
  }
}

static void line_lists_from_flags(void **unused) {
  (void)unused;
  gpio_config cfg;
  gpio_config_defaults(&cfg);
  char err[256] = "";
  assert_int_equal(
      gpio_config_flag(&cfg, "--led-lines", "led_lines", "5,6,13,19,26,21", err, sizeof err), 0);
  static const unsigned leds[LED_COUNT] = {5, 6, 13, 19, 26, 21};
  assert_memory_equal(cfg.led_lines, leds, sizeof leds);
  assert_int_equal(
      gpio_config_flag(&cfg, "--button-lines", "button_lines", " 4, 17 ,27,511", err, sizeof err),
      0);
  static const unsigned buttons[BUTTON_COUNT] = {4, 17, 27, 511};
  assert_memory_equal(cfg.button_lines, buttons, sizeof buttons);

  static const struct {
    const char *key, *flag, *value, *err;
  } bad[] = {
      {"led_lines", "--led-lines", "5,6,13,19,26",
       "--led-lines: expected 6 line numbers separated by commas, as in 5,6,12,13,16,26 (got 5)"},
      {"led_lines", "--led-lines", "1,2,3,4,5,6,7",
       "--led-lines: expected 6 line numbers separated by commas, as in 5,6,12,13,16,26 (got 7)"},
      {"button_lines", "--button-lines", "17,27,22",
       "--button-lines: expected 4 line numbers separated by commas, as in 17,27,22,23 (got 3)"},
      {"button_lines", "--button-lines", "17,27,,23",
       "--button-lines: expected 4 line numbers separated by commas, as in 17,27,22,23 (an item is "
       "empty)"},
      {"button_lines", "--button-lines", "",
       "--button-lines: expected 4 line numbers separated by commas, as in 17,27,22,23 (an item is "
       "empty)"},
      {"button_lines", "--button-lines", "17,27,22,512",
       "--button-lines: '512' is not a line number (0..511)"},
      {"button_lines", "--button-lines", "17,-1,22,23",
       "--button-lines: '-1' is not a line number (0..511)"},
      {"button_lines", "--button-lines", "17,GPIO27,22,23",
       "--button-lines: 'GPIO27' is not a line number (0..511)"},
      {"button_lines", "--button-lines", "17,0000000000000000027,22,23",
       "--button-lines: '000000000000...' is not a line number (0..511)"},
      {"button_lines", "--button-lines", "17;27;22;23",
       "--button-lines: '17;27;22;23' is not a line number (0..511)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    gpio_config before = cfg;
    assert_int_equal(gpio_config_flag(&cfg, bad[i].flag, bad[i].key, bad[i].value, err, sizeof err),
                     -1);
    expect_text(err, bad[i].err);
    assert_memory_equal(&cfg, &before, sizeof cfg); /* left as it was */
  }
}

static void other_settings_from_flags(void **unused) {
  (void)unused;
  gpio_config cfg;
  gpio_config_defaults(&cfg);
  char err[256] = "";
  assert_int_equal(
      gpio_config_flag(&cfg, "--gpio-chip", "chip", "pinctrl-bcm2711", err, sizeof err), 0);
  assert_string_equal(cfg.chip, "pinctrl-bcm2711");
  assert_int_equal(gpio_config_set(&cfg, "buttons_active_low", "No", err, sizeof err), 0);
  assert_false(cfg.buttons_active_low);
  assert_int_equal(gpio_config_set(&cfg, "leds_active_low", "on", err, sizeof err), 0);
  assert_true(cfg.leds_active_low);
  assert_int_equal(gpio_config_set(&cfg, "buttons_pull_up", "0", err, sizeof err), 0);
  assert_false(cfg.buttons_pull_up);
  assert_int_equal(gpio_config_set(&cfg, "debounce_ms", "0", err, sizeof err), 0);
  assert_int_equal(cfg.debounce_ms, 0);
  assert_int_equal(gpio_config_set(&cfg, "hold_ms", "1500", err, sizeof err), 0);
  assert_int_equal(cfg.hold_ms, 1500);
  assert_int_equal(gpio_config_set(&cfg, "led_threshold", "0", err, sizeof err), 0);
  assert_int_equal(cfg.led_threshold, 0);

  assert_int_equal(gpio_config_flag(&cfg, "--gpio-chip", "chip", "", err, sizeof err), -1);
  expect_text(
      err,
      "--gpio-chip: the chip is empty (a name such as gpiochip0, a path, a number or a label)");
  assert_int_equal(gpio_config_flag(&cfg, "--hold-ms", "hold_ms", "0", err, sizeof err), -1);
  expect_text(err, "--hold-ms: '0' is not a whole number from 50 to 10000 (milliseconds)");
  assert_int_equal(gpio_config_flag(&cfg, "--debounce-ms", "debounce_ms", "20ms", err, sizeof err),
                   -1);
  expect_text(err, "--debounce-ms: '20ms' is not a whole number from 0 to 1000 (milliseconds)");
  assert_int_equal(
      gpio_config_flag(&cfg, "--led-threshold", "led_threshold", "255", err, sizeof err), -1);
  expect_text(err, "--led-threshold: '255' is not a whole number from 0 to 254");
  assert_int_equal(gpio_config_set(&cfg, "buttons_active_low", "maybe", err, sizeof err), -1);
  expect_text(err, "'maybe' is not true or false (true/false, yes/no, on/off, 1/0)");
  assert_int_equal(gpio_config_set(&cfg, "colour", "red", err, sizeof err), -1);
  assert_non_null(strstr(err, "unknown setting (known: chip, led_lines, button_lines"));
  char long_chip[GPIO_CHIP_MAX + 1];
  memset(long_chip, 'x', GPIO_CHIP_MAX);
  long_chip[GPIO_CHIP_MAX] = '\0';
  assert_int_equal(gpio_config_set(&cfg, "chip", long_chip, err, sizeof err), -1);
}

static void the_documented_file_loads(void **unused) {
  (void)unused;
  gpio_config cfg;
  gpio_config_defaults(&cfg);
  char err[512] = "";
  int rc = gpio_config_load(&cfg,
                            ini("; opal-device pin map\n"
                                "# BCM numbers\n"
                                "\n"
                                "[gpio]\n"
                                "chip = /dev/gpiochip4\n"
                                "led_lines = 5,6,13,19,26,21\n"
                                "button_lines = 17, 27, 22, 23   ; Connect Mode Stop Play\n"
                                "buttons_active_low = true\n"
                                "buttons_pull_up = false\n"
                                "leds_active_low = yes\n"
                                "debounce_ms = 30\n"
                                "hold_ms = 1000\n"
                                "led_threshold = 100\n"),
                            err, sizeof err);
  if (rc) fail_msg("%s", err);
  assert_string_equal(cfg.chip, "/dev/gpiochip4");
  static const unsigned leds[LED_COUNT] = {5, 6, 13, 19, 26, 21};
  static const unsigned buttons[BUTTON_COUNT] = {17, 27, 22, 23};
  assert_memory_equal(cfg.led_lines, leds, sizeof leds);
  assert_memory_equal(cfg.button_lines, buttons, sizeof buttons);
  assert_true(cfg.buttons_active_low);
  assert_false(cfg.buttons_pull_up);
  assert_true(cfg.leds_active_low);
  assert_int_equal(cfg.debounce_ms, 30);
  assert_int_equal(cfg.hold_ms, 1000);
  assert_int_equal(cfg.led_threshold, 100);
}

static void a_partial_file_keeps_the_rest(void **unused) {
  (void)unused;
  gpio_config cfg, want;
  gpio_config_defaults(&cfg);
  gpio_config_defaults(&want);
  snprintf(want.chip, sizeof want.chip, "gpiochip1");
  cfg.hold_ms = 1234; /* as if set before */
  want.hold_ms = 1234;
  char err[512] = "";
  assert_int_equal(gpio_config_load(&cfg, ini("[gpio]\nchip=gpiochip1\n"), err, sizeof err), 0);
  assert_memory_equal(&cfg, &want, sizeof cfg);
  remove_file(NULL);
  assert_int_equal(gpio_config_load(&cfg, ini(""), err, sizeof err), 0); /* empty is fine */
  assert_memory_equal(&cfg, &want, sizeof cfg);
}

static void file_errors_name_file_line_and_key(void **unused) {
  (void)unused;
  load_fails(
      "[gpio]\nchip = gpiochip0\nled_lines = 5,6,13\n",
      ":3: [gpio] key 'led_lines': expected 6 line numbers separated by commas, as in 5,6,12,13,16,26 (got 3)");
  load_fails("[gpio]\n\n; colour\ncolour = red\n",
             ":4: [gpio] key 'colour': unknown setting (known: chip, led_lines, button_lines, "
             "buttons_active_low, "
             "buttons_pull_up, leds_active_low, debounce_ms, hold_ms, led_threshold)");
  load_fails("[gpio]\nchip = gpiochip0\n[audio]\ndevice = hw:0\n",
             ":3: unknown section [audio]");
  load_fails("chip = gpiochip0\n[gpio]\n", ":1: unknown key 'chip'");
  load_fails("[gpio]\nhold_ms = 500\nchip = x\nhold_ms = 600\n",
             ":4: key 'hold_ms' given twice (first on line 2)");
  load_fails(
      "[gpio]\nbuttons_active_low = sometimes\n",
      ":2: [gpio] key 'buttons_active_low': 'sometimes' is not true or false (true/false, yes/no, on/off, 1/0)");
  load_fails("[gpio]\ndebounce_ms = 5000\n",
             ":2: [gpio] key 'debounce_ms': '5000' is not a whole number from 0 to 1000 (milliseconds)");
  load_fails("[gpio]\nchip =\n",
             ":2: [gpio] key 'chip': the chip is empty (a name such as gpiochip0, a path, a number or a label)");
}

static void syntax_errors_name_the_line(void **unused) {
  (void)unused;
  load_fails("[gpio]\nchip = gpiochip0\nled_lines 5,6,12,13,16,26\n",
             ":3: expected 'key = value', '[section]' or a # comment");
  load_fails("[gpio\nchip = gpiochip0\n", ":1: expected '[section]'");
  /* the first problem wins, syntax or value */
  load_fails("[gpio]\nhold_ms = x\nnonsense\n",
             ":2: [gpio] key 'hold_ms': 'x' is not a whole number from 50 to 10000 (milliseconds)");
  load_fails("[gpio]\nnonsense\nhold_ms = x\n",
             ":2: expected 'key = value', '[section]' or a # comment");
  char text[600];
  snprintf(text, sizeof text, "[gpio]\nchip = %0500d\n", 7);
  load_fails(text, ":2: [gpio] key 'chip': the chip is longer than 127 characters");
}

static void a_missing_file_is_named(void **unused) {
  (void)unused;
  gpio_config cfg;
  gpio_config_defaults(&cfg);
  char err[512] = "";
  assert_int_equal(gpio_config_load(&cfg, "/nonexistent/opal.ini", err, sizeof err), -1);
  expect_text(err, "/nonexistent/opal.ini: No such file or directory");
}

static void check_catches_what_single_settings_cannot(void **unused) {
  (void)unused;
  gpio_config cfg;
  gpio_config_defaults(&cfg);
  char err[256] = "";
  cfg.button_lines[1] = cfg.led_lines[3];
  assert_int_equal(gpio_config_check(&cfg, err, sizeof err), -1);
  expect_text(err, "gpio line 13 is given twice: for led_3 and for button Mode");
  gpio_config_defaults(&cfg);
  cfg.led_lines[5] = cfg.led_lines[0];
  assert_int_equal(gpio_config_check(&cfg, err, sizeof err), -1);
  expect_text(err, "gpio line 5 is given twice: for led_0 and for led_5");
  gpio_config_defaults(&cfg);
  cfg.button_lines[3] = cfg.button_lines[2];
  assert_int_equal(gpio_config_check(&cfg, err, sizeof err), -1);
  expect_text(err, "gpio line 22 is given twice: for button Stop and for button Play");
  gpio_config_defaults(&cfg);
  cfg.debounce_ms = 100;
  cfg.hold_ms = 100;
  assert_int_equal(gpio_config_check(&cfg, err, sizeof err), -1);
  expect_text(err, "hold_ms (100) must be longer than debounce_ms (100)");
}

static void describe_is_one_line(void **unused) {
  (void)unused;
  gpio_config cfg;
  gpio_config_defaults(&cfg);
  char out[512];
  gpio_config_describe(&cfg, out, sizeof out);
  expect_text(out,
              "gpio chip gpiochip0: LEDs on lines 5,6,12,13,16,26 (active-high), buttons "
              "Connect,Mode,Stop,Play on lines 17,27,22,23 (active-low, pull-up), debounce 20 ms, "
              "hold 800 ms, LED threshold 64");
  assert_string_equal(wire_button_title(BUTTON_CONNECT), "Connect");
  assert_string_equal(wire_button_title(BUTTON_PLAY), "Play");
  assert_string_equal(wire_button_title(4), "?");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults),
      cmocka_unit_test(line_lists_from_flags),
      cmocka_unit_test(other_settings_from_flags),
      cmocka_unit_test_teardown(the_documented_file_loads, remove_file),
      cmocka_unit_test_teardown(a_partial_file_keeps_the_rest, remove_file),
      cmocka_unit_test_teardown(file_errors_name_file_line_and_key, remove_file),
      cmocka_unit_test_teardown(syntax_errors_name_the_line, remove_file),
      cmocka_unit_test(a_missing_file_is_named),
      cmocka_unit_test(check_catches_what_single_settings_cannot),
      cmocka_unit_test(describe_is_one_line),
  };
  return cmocka_run_group_tests_name("gpio_config", tests, NULL, NULL);
}
