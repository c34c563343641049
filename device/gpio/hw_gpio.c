#include "gpio/hw_gpio.h"

#include <errno.h>
#include <gpiod.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpio/button_timing.h"
#include "clock.h"
#include "hw/led_threshold.h"
#include "log.h"

#define EVENT_TRUST_NS (5 * NS_PER_SEC)
#define STOP_FD BUTTON_COUNT /* index of the stop pipe in the poll set */

typedef struct gpio_hw {
  hw_backend base;
  gpio_config cfg;
  struct gpiod_chip *chip;
  /* Non-NULL once requested. */
  struct gpiod_line *leds[LED_COUNT];
  struct gpiod_line *buttons[BUTTON_COUNT];
  int led_value[LED_COUNT]; /* last value written, -1 unknown */
  bool led_failed[LED_COUNT];

  input_sink *sink;
  int stop_pipe[2];
  pthread_t thread;
  bool running;

  pthread_mutex_t lock; /* guards timing: the input thread and read_buttons */
  button_timing timing[BUTTON_COUNT];
} gpio_hw;

typedef struct pending {
  int button;
  button_timing_event ev;
} pending;

int64_t hw_gpio_event_time_ns(int64_t event_ns, int64_t mono_now_ns, int64_t real_now_ns) {
  int64_t dm = mono_now_ns - event_ns, dr = real_now_ns - event_ns;
  if (dm < 0) dm = -dm;
  if (dr < 0) dr = -dr;
  int64_t at = dm <= dr ? event_ns : mono_now_ns - (real_now_ns - event_ns);
  if (at > mono_now_ns || at < mono_now_ns - EVENT_TRUST_NS) at = mono_now_ns;
  return at;
}

/* Gets and requests one line; on failure fills `err` and returns NULL. */
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

  int e = errno ? errno : EIO;
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

static void deliver(gpio_hw *hw, pending *p, size_t n) {
  /* In time order across buttons (insertion sort keeps each button's order). */
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && p[j].ev.at_ns < p[j - 1].ev.at_ns; j--) {
      pending t = p[j];
      p[j] = p[j - 1];
      p[j - 1] = t;
    }
  for (size_t i = 0; i < n; i++) {
    device_input in = {.kind = INPUT_BUTTON,
                       .button = p[i].button,
                       .event = p[i].ev.event,
                       .at_ns = p[i].ev.at_ns};
    log_debug("gpio: button %s %s", wire_button_title(in.button),
              in.event == EVENT_PRESS  ? "PRESS"
              : in.event == EVENT_HOLD ? "HOLD"
                                    : "RELEASE");
    hw->sink->push(hw->sink, &in);
  }
}

static size_t collect(pending *out, int button, const button_timing_event *ev, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = (pending){button, ev[i]};
  return n;
}

/* Reads one edge of button `i`. False when the line can no longer be read. */
static bool read_edge(gpio_hw *hw, int i) {
  struct gpiod_line_event ev;
  if (gpiod_line_event_read(hw->buttons[i], &ev) < 0) {
    log_error(
        "gpio line %u (button %s): reading an edge failed: %s; the button is ignored from now on",
        hw->cfg.button_lines[i], wire_button_title(i), strerror(errno));
    return false;
  }
  struct timespec real;
  clock_gettime(CLOCK_REALTIME, &real);
  int64_t stamp = (int64_t)ev.ts.tv_sec * NS_PER_SEC + ev.ts.tv_nsec;
  int64_t at = hw_gpio_event_time_ns(stamp, clock_now_ns(),
                                     (int64_t)real.tv_sec * NS_PER_SEC + real.tv_nsec);
  /* The kernel reads the level back after the edge (active-low applied), so
   * a bounce may repeat a level; button_timing takes that. */
  bool pressed = ev.event_type == GPIOD_LINE_EVENT_RISING_EDGE;

  button_timing_event out[BUTTON_TIMING_MAX_EVENTS];
  pthread_mutex_lock(&hw->lock);
  size_t n = button_timing_edge(&hw->timing[i], pressed, at, out);
  pthread_mutex_unlock(&hw->lock);
  pending p[BUTTON_TIMING_MAX_EVENTS];
  deliver(hw, p, collect(p, i, out, n));
  return true;
}

/* Brings the timing of every button not in `skip` up to `now`. */
static void tick_buttons(gpio_hw *hw, const bool skip[BUTTON_COUNT], int64_t now) {
  pending p[BUTTON_COUNT * BUTTON_TIMING_MAX_EVENTS];
  size_t n = 0;
  pthread_mutex_lock(&hw->lock);
  for (int i = 0; i < BUTTON_COUNT; i++) {
    if (skip[i]) continue;
    button_timing_event out[BUTTON_TIMING_MAX_EVENTS];
    size_t k = button_timing_tick(&hw->timing[i], now, out);
    n += collect(p + n, i, out, k);
  }
  pthread_mutex_unlock(&hw->lock);
  deliver(hw, p, n);
}

static int poll_timeout_ms(gpio_hw *hw) {
  int64_t deadline = BUTTON_TIMING_NO_DEADLINE;
  pthread_mutex_lock(&hw->lock);
  for (int i = 0; i < BUTTON_COUNT; i++) {
    int64_t d = button_timing_next_deadline(&hw->timing[i]);
    if (d < deadline) deadline = d;
  }
  pthread_mutex_unlock(&hw->lock);
  if (deadline == BUTTON_TIMING_NO_DEADLINE) return -1;
  int64_t left = deadline - clock_now_ns();
  if (left <= 0) return 0;
  int64_t ms = (left + NS_PER_MS - 1) / NS_PER_MS; /* round up: wake at or after it */
  return ms > 60000 ? 60000 : (int)ms;
}

static void *input_thread(void *arg) {
  gpio_hw *hw = arg;
  struct pollfd fds[BUTTON_COUNT + 1];
  for (int i = 0; i < BUTTON_COUNT; i++)
    fds[i] = (struct pollfd){.fd = gpiod_line_event_get_fd(hw->buttons[i]), .events = POLLIN};
  fds[STOP_FD] = (struct pollfd){.fd = hw->stop_pipe[0], .events = POLLIN};

  /* Edges are handled as they come. A button's timing is brought up to the
   * clock (tick) only when none of its edges is waiting, so a deadline never
   * jumps ahead of an older edge still queued (an edge brings its button's
   * timing up to its own time first). */
  bool busy = false;
  for (;;) {
    int n = poll(fds, BUTTON_COUNT + 1, busy ? 0 : poll_timeout_ms(hw));
    if (n < 0) {
      if (errno == EINTR) continue; /* not expected: signals are blocked */
      log_error("gpio: waiting for buttons failed: %s; buttons are ignored from now on",
                strerror(errno));
      break;
    }
    if (fds[STOP_FD].revents) break;
    bool queued[BUTTON_COUNT] = {false};
    busy = false;
    for (int i = 0; i < BUTTON_COUNT; i++) {
      short r = fds[i].revents;
      if (r & POLLIN) {
        queued[i] = busy = true;
        if (!read_edge(hw, i)) fds[i].fd = -1;
      } else if (r & (POLLERR | POLLHUP | POLLNVAL)) {
        log_error(
            "gpio line %u (button %s): its event file failed; the button is ignored from now on",
            hw->cfg.button_lines[i], wire_button_title(i));
        fds[i].fd = -1; /* poll skips it */
      }
    }
    tick_buttons(hw, queued, clock_now_ns());
  }
  return NULL;
}

static int gpio_start(hw_backend *base, input_sink *sink, char *err, size_t err_len) {
  gpio_hw *hw = (gpio_hw *)base;
  if (hw->running) {
    snprintf(err, err_len, "gpio: input is already started");
    return -1;
  }
  for (int i = 0; i < BUTTON_COUNT; i++)
    if (gpiod_line_event_get_fd(hw->buttons[i]) < 0) {
      snprintf(err, err_len, "gpio line %u (button %s): no event file: %s", hw->cfg.button_lines[i],
               wire_button_title(i), strerror(errno));
      return -1;
    }
  if (pipe(hw->stop_pipe) < 0) {
    snprintf(err, err_len, "gpio: could not make a pipe: %s", strerror(errno));
    return -1;
  }
  hw->sink = sink;
  /* The thread takes no signals: they stay with the program's own threads. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&hw->thread, NULL, input_thread, hw);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) {
    snprintf(err, err_len, "gpio: could not start the input thread: %s", strerror(rc));
    close(hw->stop_pipe[0]);
    close(hw->stop_pipe[1]);
    return -1;
  }
  hw->running = true;
  return 0;
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

static void gpio_read_buttons(hw_backend *base, bool pressed[BUTTON_COUNT]) {
  gpio_hw *hw = (gpio_hw *)base;
  pthread_mutex_lock(&hw->lock);
  for (int i = 0; i < BUTTON_COUNT; i++) pressed[i] = button_timing_pressed(&hw->timing[i]);
  pthread_mutex_unlock(&hw->lock);
}

static void gpio_destroy(hw_backend *base) {
  gpio_hw *hw = (gpio_hw *)base;
  if (!hw) return;
  if (hw->running) {
    char b = 'q';
    while (write(hw->stop_pipe[1], &b, 1) < 0 && errno == EINTR) {
    }
    pthread_join(hw->thread, NULL);
    close(hw->stop_pipe[0]);
    close(hw->stop_pipe[1]);
    hw->running = false;
  }
  teardown(hw);
  pthread_mutex_destroy(&hw->lock);
  free(hw);
}

static const hw_ops gpio_ops = {
    .start = gpio_start,
    .show_leds = gpio_show_leds,
    .show_view = NULL,
    .read_buttons = gpio_read_buttons,
    .destroy = gpio_destroy,
};

hw_backend *hw_gpio_create(const gpio_config *cfg, char *err, size_t err_len) {
  if (gpio_config_check(cfg, err, err_len) != 0) return NULL;
  gpio_hw *hw = calloc(1, sizeof *hw);
  if (!hw) {
    snprintf(err, err_len, "gpio: out of memory");
    return NULL;
  }
  hw->base.ops = &gpio_ops;
  hw->cfg = *cfg;
  hw->stop_pipe[0] = hw->stop_pipe[1] = -1;
  for (int i = 0; i < LED_COUNT; i++) hw->led_value[i] = 0; /* requested off */
  pthread_mutex_init(&hw->lock, NULL);

  errno = 0;
  hw->chip = gpiod_chip_open_lookup(cfg->chip);
  if (!hw->chip) {
    int e = errno ? errno : ENOENT;
    if (e == ENOENT || e == ENODEV)
      snprintf(err, err_len, "gpio chip '%s' not found (%s)", cfg->chip, strerror(e));
    else if (e == EACCES || e == EPERM)
      snprintf(err, err_len, "gpio chip '%s': %s (is the user in the 'gpio' group?)", cfg->chip,
               strerror(e));
    else
      snprintf(err, err_len, "gpio chip '%s' could not be opened (%s)", cfg->chip, strerror(e));
    goto fail;
  }

  for (int i = 0; i < LED_COUNT; i++) {
    errno = 0;
    if (!(hw->leds[i] = request_line(hw, true, i, err, err_len))) goto fail;
  }
  for (int i = 0; i < BUTTON_COUNT; i++) {
    errno = 0;
    if (!(hw->buttons[i] = request_line(hw, false, i, err, err_len))) goto fail;
  }

  int64_t now = clock_now_ns();
  for (int i = 0; i < BUTTON_COUNT; i++) {
    int v = gpiod_line_get_value(hw->buttons[i]);
    if (v < 0) {
      snprintf(err, err_len, "gpio line %u (button %s): could not read it: %s",
               cfg->button_lines[i], wire_button_title(i), strerror(errno));
      goto fail;
    }
    if (v == 1)
      log_warn(
          "gpio line %u (button %s) reads pressed at start; if nobody holds it, check "
          "buttons_active_low and the wiring",
          cfg->button_lines[i], wire_button_title(i));
    button_timing_init(&hw->timing[i], cfg->debounce_ms, cfg->hold_ms, v == 1, now);
  }
  log_info("gpio: %s (%s): LEDs on lines %u,%u,%u,%u,%u,%u, buttons on lines %u,%u,%u,%u",
           gpiod_chip_name(hw->chip), gpiod_chip_label(hw->chip), cfg->led_lines[0],
           cfg->led_lines[1], cfg->led_lines[2], cfg->led_lines[3], cfg->led_lines[4],
           cfg->led_lines[5], cfg->button_lines[0], cfg->button_lines[1], cfg->button_lines[2],
           cfg->button_lines[3]);
  return &hw->base;

fail:
  teardown(hw);
  pthread_mutex_destroy(&hw->lock);
  free(hw);
  return NULL;
}
