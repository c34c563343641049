/* The gpio back end: the chip, its lines and the LEDs, and the hw_ops.
 * The input thread is gpio_input.c's. */
#include "gpio/hw_gpio.h"

#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio/gpio_input.h"
#include "hw/led_threshold.h"
#include "log.h"

typedef struct gpio_hw {
  hw_backend base;
  gpio_config cfg;
  struct gpiod_chip *chip;
  /* Non-NULL once requested. */
  struct gpiod_line *leds[LED_COUNT];
  struct gpiod_line *buttons[BUTTON_COUNT];
  int led_value[LED_COUNT]; /* last value written, -1 unknown */
  bool led_failed[LED_COUNT];
  gpio_input input;
} gpio_hw;

/* Why a request of a line the chip has failed, errno in `e`. */
static void request_error(const gpio_hw *hw, bool led, unsigned offset, const char *owner,
                          struct gpiod_line *line, int e, char *err, size_t err_len) {
  if (e == EBUSY) {
    const char *user = gpiod_line_consumer(line);
    if (user && *user)
      snprintf(err, err_len, "gpio line %u (%s) is busy (used by '%s')", offset, owner, user);
    else
      snprintf(err, err_len, "gpio line %u (%s) is busy (used by another program)", offset, owner);
  } else if (e == EINVAL && !led && hw->cfg.buttons_pull_up) {
    snprintf(
        err, err_len,
        "gpio line %u (%s) on %s: %s (asking for edge events with the internal pull-up; a kernel "
        "older than 5.5 cannot set pull-ups: use buttons_pull_up = false and external resistors)",
        offset, owner, hw->cfg.chip, strerror(e));
  } else {
    snprintf(err, err_len, "gpio line %u (%s) on %s: %s (requesting it as %s)", offset, owner,
             hw->cfg.chip, strerror(e), led ? "an output" : "an input with edge events");
  }
}

/* Gets and requests one line: an LED as an output, off; a button as an
 * input with edge events on both edges. NULL with `err` filled. */
static struct gpiod_line *request_line(gpio_hw *hw, bool led, int i, char *err, size_t err_len) {
  unsigned offset = led ? hw->cfg.led_lines[i] : hw->cfg.button_lines[i];
  char owner[32];
  gpio_line_owner(led ? i : LED_COUNT + i, owner, sizeof owner);

  struct gpiod_line *line = gpiod_chip_get_line(hw->chip, offset);
  if (!line) {
    int e = errno ? errno : EINVAL;
    unsigned n = gpiod_chip_num_lines(hw->chip);
    if (offset >= n && n > 0)
      snprintf(err, err_len, "gpio line %u on %s: %s (the chip has lines 0..%u; %s)", offset,
               hw->cfg.chip, strerror(e), n - 1, owner);
    else
      snprintf(err, err_len, "gpio line %u on %s: %s (%s)", offset, hw->cfg.chip, strerror(e),
               owner);
    return NULL;
  }

  int rc;
  if (led) {
    int flags = hw->cfg.leds_active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    rc = gpiod_line_request_output_flags(line, HW_GPIO_CONSUMER, flags, 0);
  } else {
    int flags = (hw->cfg.buttons_active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0) |
                (hw->cfg.buttons_pull_up ? GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP : 0);
    rc = gpiod_line_request_both_edges_events_flags(line, HW_GPIO_CONSUMER, flags);
  }
  if (rc == 0) return line;
  request_error(hw, led, offset, owner, line, errno ? errno : EIO, err, err_len);
  return NULL;
}

/* Puts back what `hw` holds: LEDs off, lines released, chip closed. */
static void teardown(gpio_hw *hw) {
  for (int i = 0; i < LED_COUNT; i++) {
    if (!hw->leds[i]) continue;
    if (gpiod_line_set_value(hw->leds[i], 0) < 0)
      log_warn("gpio line %u (led_%d): could not turn it off: %s", hw->cfg.led_lines[i], i,
               strerror(errno));
    gpiod_line_release(hw->leds[i]);
    hw->leds[i] = NULL;
  }
  for (int i = 0; i < BUTTON_COUNT; i++) {
    if (!hw->buttons[i]) continue;
    gpiod_line_release(hw->buttons[i]);
    hw->buttons[i] = NULL;
  }
  if (hw->chip) gpiod_chip_close(hw->chip);
  hw->chip = NULL;
}

static void gpio_show_leds(hw_backend *base, const uint32_t leds[LED_COUNT]) {
  gpio_hw *hw = (gpio_hw *)base;
  for (int i = 0; i < LED_COUNT; i++) {
    int on = led_is_on(leds[i], hw->cfg.led_threshold);
    if (on == hw->led_value[i]) continue;
    if (gpiod_line_set_value(hw->leds[i], on) == 0) {
      hw->led_value[i] = on;
      hw->led_failed[i] = false;
    } else if (!hw->led_failed[i]) { /* say it once, not on every frame */
      hw->led_failed[i] = true;
      log_warn("gpio line %u (led_%d): could not set it: %s", hw->cfg.led_lines[i], i,
               strerror(errno));
    }
  }
}

static int gpio_start(hw_backend *base, input_sink *sink, char *err, size_t err_len) {
  return gpio_input_start(&((gpio_hw *)base)->input, sink, err, err_len);
}

static void gpio_read_buttons(hw_backend *base, bool pressed[BUTTON_COUNT]) {
  gpio_input_pressed(&((gpio_hw *)base)->input, pressed);
}

static void gpio_destroy(hw_backend *base) {
  gpio_hw *hw = (gpio_hw *)base;
  if (!hw) return;
  gpio_input_stop(&hw->input); /* it reads the button lines teardown releases */
  teardown(hw);
  gpio_input_free(&hw->input);
  free(hw);
}

static const hw_ops gpio_ops = {
    .start = gpio_start,
    .show_leds = gpio_show_leds,
    .show_view = NULL,
    .read_buttons = gpio_read_buttons,
    .destroy = gpio_destroy,
};

static int open_chip(gpio_hw *hw, char *err, size_t err_len) {
  const char *name = hw->cfg.chip;
  errno = 0;
  hw->chip = gpiod_chip_open_lookup(name);
  if (hw->chip) return 0;
  int e = errno ? errno : ENOENT;
  if (e == ENOENT || e == ENODEV)
    snprintf(err, err_len, "gpio chip '%s' not found (%s)", name, strerror(e));
  else if (e == EACCES || e == EPERM)
    snprintf(err, err_len, "gpio chip '%s': %s (is the user in the 'gpio' group?)", name,
             strerror(e));
  else
    snprintf(err, err_len, "gpio chip '%s' could not be opened (%s)", name, strerror(e));
  return -1;
}

/* Every line at once, so a wrong or busy one is reported before anything
 * starts. */
static int request_lines(gpio_hw *hw, char *err, size_t err_len) {
  for (int i = 0; i < LED_COUNT; i++) {
    errno = 0;
    if (!(hw->leds[i] = request_line(hw, true, i, err, err_len))) return -1;
  }
  for (int i = 0; i < BUTTON_COUNT; i++) {
    errno = 0;
    if (!(hw->buttons[i] = request_line(hw, false, i, err, err_len))) return -1;
  }
  return 0;
}

static void log_lines(const gpio_hw *hw) {
  const gpio_config *cfg = &hw->cfg;
  log_info("gpio: %s (%s): LEDs on lines %u,%u,%u,%u,%u,%u, buttons on lines %u,%u,%u,%u",
           gpiod_chip_name(hw->chip), gpiod_chip_label(hw->chip), cfg->led_lines[0],
           cfg->led_lines[1], cfg->led_lines[2], cfg->led_lines[3], cfg->led_lines[4],
           cfg->led_lines[5], cfg->button_lines[0], cfg->button_lines[1], cfg->button_lines[2],
           cfg->button_lines[3]);
}

hw_backend *hw_gpio_create(const gpio_config *cfg, char *err, size_t err_len) {
  if (gpio_config_check(cfg, err, err_len) != 0) return NULL;
  gpio_hw *hw = calloc(1, sizeof *hw);
  if (!hw) {
    snprintf(err, err_len, "gpio: out of memory");
    return NULL;
  }
  hw->base.ops = &gpio_ops;
  hw->cfg = *cfg;
  for (int i = 0; i < LED_COUNT; i++) hw->led_value[i] = 0; /* requested off */
  gpio_input_init(&hw->input);
  if (open_chip(hw, err, err_len) != 0 || request_lines(hw, err, err_len) != 0 ||
      gpio_input_prepare(&hw->input, hw->buttons, cfg, err, err_len) != 0) {
    teardown(hw);
    gpio_input_free(&hw->input);
    free(hw);
    return NULL;
  }
  log_lines(hw);
  return &hw->base;
}
