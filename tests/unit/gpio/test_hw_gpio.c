/* The gpio back end against the libgpiod stand-in (fake_gpiod.h): which
 * lines it asks for and how, what it writes to the LEDs, which events come
 * out of edges (bounces included), the errors it names, and what destroy
 * puts back. */
#include <errno.h>
#include <gpiod.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "clock.h"
#include "fake_gpiod.h"
#include "gpio/gpio_config.h"
#include "gpio/gpio_input.h"
#include "gpio/hw_gpio.h"
#include "hw/led_threshold.h"
#include "log.h"

#define MS NS_PER_MS

/* The default pin map (gpio_config_defaults; gpio_config.c is not linked
 * here: the pin map is all this test needs of it). */
static const unsigned LEDS[LED_COUNT] = {5, 6, 12, 13, 16, 26};
static const unsigned BUTTONS[BUTTON_COUNT] = {17, 27, 22, 23};

static gpio_config config(void) {
  gpio_config c = {
      .chip = "gpiochip0",
      .buttons_active_low = true,
      .buttons_pull_up = true,
      .leds_active_low = false,
      .debounce_ms = 20,
      .hold_ms = 150,
      .led_threshold = LED_THRESHOLD_DEFAULT,
  };
  memcpy(c.led_lines, LEDS, sizeof LEDS);
  memcpy(c.button_lines, BUTTONS, sizeof BUTTONS);
  return c;
}

/* ---- a sink that records ---- */

typedef struct test_sink {
  input_sink base;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  device_input got[64];
  int n;
} test_sink;

static void sink_push(input_sink *base, const device_input *in) {
  test_sink *s = (test_sink *)base;
  pthread_mutex_lock(&s->mu);
  if (s->n < 64) s->got[s->n++] = *in;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void sink_init(test_sink *s) {
  memset(s, 0, sizeof *s);
  s->base.push = sink_push;
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &a);
  pthread_condattr_destroy(&a);
}

static void sink_fini(test_sink *s) {
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
}

/* Waits until the sink holds `n` inputs or `ms` passes; returns the count. */
static int sink_wait(test_sink *s, int n, int ms) {
  int64_t end = clock_now_ns() + ms * MS;
  struct timespec ts = {.tv_sec = (time_t)(end / NS_PER_SEC), .tv_nsec = (long)(end % NS_PER_SEC)};
  pthread_mutex_lock(&s->mu);
  while (s->n < n && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0) {
  }
  int got = s->n;
  pthread_mutex_unlock(&s->mu);
  return got;
}

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

static void assert_input(const device_input *in, int button, int event) {
  assert_int_equal(in->kind, INPUT_BUTTON);
  assert_int_equal(in->button, button);
  assert_int_equal(in->event, event);
}

/* A button wired to GND: pressed drives the line low, released leaves it to
 * the pull-up. */
static void press(int button, int64_t ts) { fake_gpiod_drive(BUTTONS[button], 0, ts); }
static void release(int button, int64_t ts) { fake_gpiod_drive(BUTTONS[button], -1, ts); }

/* One sink and at most one back end at a time, kept here so that a failed
 * test's back end is still destroyed (by teardown) before the next test. */
static test_sink the_sink;
static hw_backend *live;

static hw_backend *create_ok(const gpio_config *cfg) {
  char err[256] = "";
  hw_backend *hw = hw_gpio_create(cfg, err, sizeof err);
  if (!hw) fail_msg("hw_gpio_create: %s", err);
  return live = hw;
}

static void start(hw_backend *hw, test_sink *sink) {
  char err[256] = "";
  if (hw->ops->start(hw, &sink->base, err, sizeof err) != 0) fail_msg("start: %s", err);
}

static hw_backend *start_ok(const gpio_config *cfg, test_sink *sink) {
  hw_backend *hw = create_ok(cfg);
  start(hw, sink);
  return hw;
}

static void destroy(hw_backend *hw) {
  hw->ops->destroy(hw);
  live = NULL;
}

static int setup(void **unused) {
  (void)unused;
  fake_gpiod_reset();
  sink_init(&the_sink);
  return 0;
}

/* Whatever a test did, nothing libgpiod would refuse, nothing left held. */
static int teardown(void **unused) {
  (void)unused;
  if (live) destroy(live); /* a test that failed half-way */
  sink_fini(&the_sink);
  assert_int_equal(fake_gpiod_misuse(), 0);
  assert_int_equal(fake_gpiod_requested_count(), 0);
  assert_int_equal(fake_gpiod_open_chips(), 0);
  return 0;
}

/* ---- lines and flags ---- */

static void requests_leds_as_outputs_and_buttons_as_edge_events(void **unused) {
  (void)unused;
  gpio_config cfg = config();
  hw_backend *hw = create_ok(&cfg);
  assert_int_equal(fake_gpiod_count("open_lookup gpiochip0"), 1);
  assert_int_equal(fake_gpiod_requested_count(), LED_COUNT + BUTTON_COUNT);
  for (int i = 0; i < LED_COUNT; i++) {
    fake_line l = fake_gpiod_line(LEDS[i]);
    assert_int_equal(l.direction, FAKE_OUTPUT);
    assert_int_equal(l.flags, 0);
    assert_string_equal(l.consumer, HW_GPIO_CONSUMER);
    assert_int_equal(l.level, 0); /* off from the start */
  }
  for (int i = 0; i < BUTTON_COUNT; i++) {
    fake_line l = fake_gpiod_line(BUTTONS[i]);
    assert_int_equal(l.direction, FAKE_EVENTS);
    assert_int_equal(l.event_type, GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES);
    assert_int_equal(l.flags,
                     GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW | GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP);
    assert_string_equal(l.consumer, HW_GPIO_CONSUMER);
    assert_int_equal(l.level, 1); /* pulled up: not pressed */
  }
  bool pressed[BUTTON_COUNT] = {true, true, true, true};
  hw->ops->read_buttons(hw, pressed);
  for (int i = 0; i < BUTTON_COUNT; i++) assert_false(pressed[i]);
  assert_null(hw->ops->show_view);
  destroy(hw);
}

static void polarity_and_bias_follow_the_config(void **unused) {
  (void)unused;
  gpio_config cfg = config();
  cfg.leds_active_low = true;
  cfg.buttons_active_low = false;
  cfg.buttons_pull_up = false;
  hw_backend *hw = create_ok(&cfg);
  for (int i = 0; i < LED_COUNT; i++) {
    fake_line l = fake_gpiod_line(LEDS[i]);
    assert_int_equal(l.flags, GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW);
    assert_int_equal(l.level, 1); /* off = high when active-low */
  }
  for (int i = 0; i < BUTTON_COUNT; i++) assert_int_equal(fake_gpiod_line(BUTTONS[i]).flags, 0);

  /* An active-high button (wired to 3V3) reads pressed when driven high. */
  test_sink *sink = &the_sink;
  char err[256];
  assert_int_equal(hw->ops->start(hw, &sink->base, err, sizeof err), 0);
  int64_t t = clock_now_ns();
  fake_gpiod_drive(BUTTONS[BUTTON_STOP], 1, t);
  assert_int_equal(sink_wait(sink, 1, 1000), 1);
  assert_input(&sink->got[0], BUTTON_STOP, EVENT_PRESS);
  fake_gpiod_drive(BUTTONS[BUTTON_STOP], -1, t + 40 * MS);
  assert_int_equal(sink_wait(sink, 2, 1000), 2);
  assert_input(&sink->got[1], BUTTON_STOP, EVENT_RELEASE);

  uint32_t on[LED_COUNT] = {0xFF3030FF, 0, 0, 0, 0, 0};
  hw->ops->show_leds(hw, on);
  assert_int_equal(fake_gpiod_line(LEDS[0]).level, 0); /* lit = low */
  assert_int_equal(fake_gpiod_line(LEDS[1]).level, 1);
  destroy(hw);
  assert_int_equal(fake_gpiod_line(LEDS[0]).level, 1); /* left dark */
}

/* ---- LEDs ---- */

static void led_levels_follow_the_threshold(void **unused) {
  (void)unused;
  static const uint32_t colours[] = {
      0x00000000, 0x000000FF, 0xFF3030FF, 0xFFB000FF, 0x30E030FF, 0x20C0FFFF, 0xB040FFFF,
      0xFFFFFF20, 0xFFFFFF40, 0xFFFFFF41, 0x404040FF, 0x414141FF, 0xFF000080, 0x0000FF01,
  };
  size_t count = sizeof colours / sizeof colours[0];
  for (unsigned threshold = 0; threshold <= 0x80; threshold += 0x40) {
    gpio_config cfg = config();
    cfg.led_threshold = threshold;
    hw_backend *hw = create_ok(&cfg);
    for (size_t start = 0; start < count; start++) {
      uint32_t leds[LED_COUNT];
      for (int i = 0; i < LED_COUNT; i++) leds[i] = colours[(start + (size_t)i) % count];
      hw->ops->show_leds(hw, leds);
      for (int i = 0; i < LED_COUNT; i++)
        assert_int_equal(fake_gpiod_line(LEDS[i]).level, led_is_on(leds[i], threshold));
    }
    destroy(hw);
  }
}

static void unchanged_leds_are_not_rewritten(void **unused) {
  (void)unused;
  gpio_config cfg = config();
  hw_backend *hw = create_ok(&cfg);
  uint32_t leds[LED_COUNT] = {0xFF3030FF, 0, 0xFF3030FF, 0, 0, 0};
  hw->ops->show_leds(hw, leds);
  assert_int_equal(fake_gpiod_count("set_value"), 2);
  leds[2] = 0x30E030FF; /* another colour, still on */
  hw->ops->show_leds(hw, leds);
  assert_int_equal(fake_gpiod_count("set_value"), 2);
  leds[0] = 0;
  hw->ops->show_leds(hw, leds);
  assert_int_equal(fake_gpiod_count("set_value"), 3);
  assert_int_equal(fake_gpiod_line(LEDS[0]).level, 0);
  destroy(hw);
}

/* ---- buttons ---- */

static void a_bounce_storm_is_one_press_and_one_release(void **unused) {
  (void)unused;
  test_sink *sink = &the_sink;
  gpio_config cfg = config();
  cfg.hold_ms = 300;
  hw_backend *hw = create_ok(&cfg);
  /* The edges are all in the kernel's queue when the thread starts, as after
   * a busy moment. (A real queue never gets an edge older than one the
   * thread has already seen, so the test does not write edges behind the
   * thread's back; nor older than the request.) */
  int64_t base = clock_now_ns();
  sleep_ms(120);
  for (int k = 0; k < 5; k++) /* down, up, down, up, down within 4 ms */
    (k % 2 ? release : press)(BUTTON_MODE, base + k * MS);
  for (int k = 0; k < 5; k++) /* up, down, up, down, up, 100 ms later */
    (k % 2 ? press : release)(BUTTON_MODE, base + 100 * MS + k * MS);
  start(hw, sink);
  assert_int_equal(sink_wait(sink, 2, 1000), 2);
  assert_int_equal(sink_wait(sink, 3, 200), 2); /* and nothing more */
  assert_input(&sink->got[0], BUTTON_MODE, EVENT_PRESS);
  assert_input(&sink->got[1], BUTTON_MODE, EVENT_RELEASE);
  assert_int_equal(sink->got[0].at_ns, base);            /* the first edge's time */
  assert_int_equal(sink->got[1].at_ns, base + 100 * MS); /* no debounce delay */
  destroy(hw);
}

static void hold_comes_once_after_hold_ms(void **unused) {
  (void)unused;
  test_sink *sink = &the_sink;
  gpio_config cfg = config(); /* hold 150 ms */
  hw_backend *hw = start_ok(&cfg, sink);
  int64_t t0 = clock_now_ns();
  press(BUTTON_PLAY, t0);
  press(BUTTON_PLAY, t0); /* no change: no edge */
  assert_int_equal(sink_wait(sink, 1, 1000), 1);
  bool pressed[BUTTON_COUNT];
  hw->ops->read_buttons(hw, pressed);
  assert_true(pressed[BUTTON_PLAY]);
  assert_false(pressed[BUTTON_STOP]);
  assert_int_equal(sink_wait(sink, 2, 1000), 2);
  int64_t seen = clock_now_ns();
  assert_input(&sink->got[1], BUTTON_PLAY, EVENT_HOLD);
  assert_int_equal(sink->got[1].at_ns - sink->got[0].at_ns, 150 * MS);
  assert_true(seen >= t0 + 150 * MS); /* not early */
  sleep_ms(200);                      /* still held: no second HOLD */
  assert_int_equal(sink_wait(sink, 3, 0), 2);
  release(BUTTON_PLAY, clock_now_ns());
  assert_int_equal(sink_wait(sink, 3, 1000), 3);
  assert_input(&sink->got[2], BUTTON_PLAY, EVENT_RELEASE);
  hw->ops->read_buttons(hw, pressed);
  assert_false(pressed[BUTTON_PLAY]);
  assert_int_equal(sink_wait(sink, 4, 200), 3);
  destroy(hw);
}

static void a_short_press_has_no_hold(void **unused) {
  (void)unused;
  test_sink *sink = &the_sink;
  gpio_config cfg = config();
  cfg.hold_ms = 400; /* room for a slow machine between press and release */
  hw_backend *hw = start_ok(&cfg, sink);
  int64_t t0 = clock_now_ns();
  press(BUTTON_STOP, t0);
  assert_int_equal(sink_wait(sink, 1, 1000), 1);
  sleep_ms(60);
  release(BUTTON_STOP, clock_now_ns());
  assert_int_equal(sink_wait(sink, 2, 1000), 2);
  assert_int_equal(sink_wait(sink, 3, 500), 2); /* past hold_ms: nothing */
  assert_input(&sink->got[0], BUTTON_STOP, EVENT_PRESS);
  assert_input(&sink->got[1], BUTTON_STOP, EVENT_RELEASE);
  destroy(hw);
}

static void each_line_is_its_button(void **unused) {
  (void)unused;
  test_sink *sink = &the_sink;
  gpio_config cfg = config();
  hw_backend *hw = start_ok(&cfg, sink);
  int64_t base = clock_now_ns() - 500 * MS;
  for (int b = 0; b < BUTTON_COUNT; b++) {
    press(b, base + b * 100 * MS);
    release(b, base + b * 100 * MS + 50 * MS);
    assert_int_equal(sink_wait(sink, 2 * (b + 1), 1000), 2 * (b + 1));
  }
  for (int b = 0; b < BUTTON_COUNT; b++) {
    assert_input(&sink->got[2 * b], b, EVENT_PRESS);
    assert_input(&sink->got[2 * b + 1], b, EVENT_RELEASE);
  }
  destroy(hw);
}

/* The kernel types an edge by reading the level after it, so a bounce can
 * give two RISING in a row; that is one press. */
static void repeated_edge_types_are_taken_as_levels(void **unused) {
  (void)unused;
  test_sink *sink = &the_sink;
  gpio_config cfg = config();
  hw_backend *hw = start_ok(&cfg, sink);
  unsigned line = BUTTONS[BUTTON_CONNECT];
  int64_t base = clock_now_ns() - 300 * MS;
  fake_gpiod_inject(line, GPIOD_LINE_EVENT_RISING_EDGE, base);
  fake_gpiod_inject(line, GPIOD_LINE_EVENT_RISING_EDGE, base + 1 * MS);
  fake_gpiod_inject(line, GPIOD_LINE_EVENT_FALLING_EDGE, base + 60 * MS);
  fake_gpiod_inject(line, GPIOD_LINE_EVENT_FALLING_EDGE, base + 61 * MS);
  assert_int_equal(sink_wait(sink, 2, 1000), 2);
  assert_int_equal(sink_wait(sink, 3, 200), 2);
  assert_input(&sink->got[0], BUTTON_CONNECT, EVENT_PRESS);
  assert_input(&sink->got[1], BUTTON_CONNECT, EVENT_RELEASE);
  destroy(hw);
}

/* Kernels before 5.7 stamp edges with CLOCK_REALTIME. */
static void realtime_stamps_are_moved_to_the_monotonic_clock(void **unused) {
  (void)unused;
  test_sink *sink = &the_sink;
  gpio_config cfg = config();
  hw_backend *hw = start_ok(&cfg, sink);
  sleep_ms(50); /* edges come after the lines were requested */
  struct timespec real;
  clock_gettime(CLOCK_REALTIME, &real);
  int64_t mono = clock_now_ns();
  int64_t stamp = (int64_t)real.tv_sec * NS_PER_SEC + real.tv_nsec - 30 * MS;
  press(BUTTON_MODE, stamp);
  assert_int_equal(sink_wait(sink, 1, 1000), 1);
  int64_t at = sink->got[0].at_ns;
  assert_true(at >= mono - 40 * MS && at <= mono - 20 * MS);
  release(BUTTON_MODE, stamp + 50 * MS);
  assert_int_equal(sink_wait(sink, 2, 1000), 2);
  destroy(hw);
}

static void event_time_conversion(void **unused) {
  (void)unused;
  int64_t mono = 1000 * NS_PER_SEC, real = INT64_C(1700000000) * NS_PER_SEC;
  assert_int_equal(gpio_input_edge_time_ns(mono - 7 * MS, mono, real), mono - 7 * MS);
  assert_int_equal(gpio_input_edge_time_ns(real - 7 * MS, mono, real), mono - 7 * MS);
  assert_int_equal(gpio_input_edge_time_ns(mono + 1 * MS, mono, real), mono);         /* future */
  assert_int_equal(gpio_input_edge_time_ns(mono - 9 * NS_PER_SEC, mono, real), mono); /* stale */
  assert_int_equal(gpio_input_edge_time_ns(0, mono, real), mono);
}

static void a_button_down_at_start_is_not_reported(void **unused) {
  (void)unused;
  test_sink *sink = &the_sink;
  gpio_config cfg = config();
  press(BUTTON_STOP, 0); /* held before we open the line */
  hw_backend *hw = start_ok(&cfg, sink);
  bool pressed[BUTTON_COUNT];
  hw->ops->read_buttons(hw, pressed);
  assert_true(pressed[BUTTON_STOP]);
  release(BUTTON_STOP, clock_now_ns());
  assert_int_equal(sink_wait(sink, 1, 300), 0); /* neither HOLD nor RELEASE */
  hw->ops->read_buttons(hw, pressed);
  assert_false(pressed[BUTTON_STOP]);
  press(BUTTON_STOP, clock_now_ns()); /* the next press counts */
  assert_int_equal(sink_wait(sink, 1, 1000), 1);
  assert_input(&sink->got[0], BUTTON_STOP, EVENT_PRESS);
  release(BUTTON_STOP, clock_now_ns() + 30 * MS);
  destroy(hw);
}

/* ---- errors ---- */

static void expect_error(const gpio_config *cfg, const char *want) {
  char err[256] = "";
  live = hw_gpio_create(cfg, err, sizeof err);
  assert_null(live);
  if (!strstr(err, want)) fail_msg("error '%s' does not contain '%s'", err, want);
  assert_null(strchr(err, '\n'));
}

static void a_missing_chip_is_named(void **unused) {
  (void)unused;
  gpio_config cfg = config();
  snprintf(cfg.chip, sizeof cfg.chip, "gpiochip7");
  expect_error(&cfg, "gpio chip 'gpiochip7' not found (No such file or directory)");
  fake_gpiod_remove_chip();
  cfg = config();
  expect_error(&cfg, "gpio chip 'gpiochip0' not found (No such file or directory)");
}

static void the_chip_opens_by_name_path_number_or_label(void **unused) {
  (void)unused;
  static const char *const ways[] = {"gpiochip0", "/dev/gpiochip0", "0", "pinctrl-bcm2711"};
  for (size_t i = 0; i < 4; i++) {
    gpio_config cfg = config();
    snprintf(cfg.chip, sizeof cfg.chip, "%s", ways[i]);
    hw_backend *hw = create_ok(&cfg);
    destroy(hw);
  }
}

static void a_chip_we_may_not_open_says_so(void **unused) {
  (void)unused;
  fake_gpiod_fail_open(EACCES);
  gpio_config cfg = config();
  expect_error(&cfg, "gpio chip 'gpiochip0': Permission denied (is the user in the 'gpio' group?)");
}

static void a_line_the_chip_lacks_is_named(void **unused) {
  (void)unused;
  fake_gpiod_set_chip("gpiochip0", "pinctrl-bcm2835", 54);
  gpio_config cfg = config();
  cfg.button_lines[2] = 60;
  expect_error(
      &cfg, "gpio line 60 on gpiochip0: Invalid argument (the chip has lines 0..53; button Stop)");
  /* the LEDs and buttons already requested went back, the chip closed */
  assert_int_equal(fake_gpiod_requested_count(), 0);
  assert_int_equal(fake_gpiod_open_chips(), 0);
  cfg = config();
  cfg.led_lines[0] = 99;
  fake_gpiod_set_chip("gpiochip0", "pinctrl-bcm2835", 64);
  expect_error(&cfg, "gpio line 99 on gpiochip0: Invalid argument");
}

static void a_busy_line_is_named(void **unused) {
  (void)unused;
  gpio_config cfg = config();
  fake_gpiod_hold_line(27, "");
  expect_error(&cfg, "gpio line 27 (button Mode) is busy (used by another program)");
  fake_gpiod_reset();
  fake_gpiod_hold_line(13, "sysfs");
  expect_error(&cfg, "gpio line 13 (led_3) is busy (used by 'sysfs')");
  assert_int_equal(fake_gpiod_requested_count(), 0);
}

static void a_kernel_without_bias_gets_a_hint(void **unused) {
  (void)unused;
  gpio_config cfg = config();
  fake_gpiod_fail_request(17, EINVAL);
  expect_error(&cfg,
               "gpio line 17 (button Connect) on gpiochip0: Invalid argument (asking for edge "
               "events with the internal pull-up");
  fake_gpiod_reset();
  fake_gpiod_fail_request(5, EIO);
  expect_error(&cfg,
               "gpio line 5 (led_0) on gpiochip0: Input/output error (requesting it as an output)");
}

static void a_line_given_twice_is_refused_before_opening(void **unused) {
  (void)unused;
  gpio_config cfg = config();
  cfg.button_lines[3] = cfg.led_lines[1];
  expect_error(&cfg, "gpio line 6 is given twice: for led_1 and for button Play");
  assert_int_equal(fake_gpiod_count("open_lookup"), 0);
}

/* ---- destroy ---- */

static void destroy_turns_leds_off_and_releases_everything(void **unused) {
  (void)unused;
  test_sink *sink = &the_sink;
  gpio_config cfg = config();
  hw_backend *hw = start_ok(&cfg, sink);
  uint32_t all_on[LED_COUNT];
  for (int i = 0; i < LED_COUNT; i++) all_on[i] = 0xFFFFFFFF;
  hw->ops->show_leds(hw, all_on);
  for (int i = 0; i < LED_COUNT; i++) assert_int_equal(fake_gpiod_line(LEDS[i]).level, 1);
  press(BUTTON_PLAY, clock_now_ns()); /* the thread is busy with a HOLD deadline */
  assert_int_equal(sink_wait(sink, 1, 1000), 1);

  int mark = fake_gpiod_log_size();
  destroy(hw);
  char call[64];
  for (int i = 0; i < LED_COUNT; i++) {
    fake_line l = fake_gpiod_line(LEDS[i]);
    assert_int_equal(l.level, 0);
    assert_int_equal(l.direction, FAKE_FREE);
    assert_int_equal(l.releases, 1);
    snprintf(call, sizeof call, "set_value %u 0", LEDS[i]);
    int off = fake_gpiod_find(call, mark);
    snprintf(call, sizeof call, "release %u", LEDS[i]);
    int rel = fake_gpiod_find(call, mark);
    assert_true(off >= 0 && rel > off); /* off first, then let go */
  }
  for (int i = 0; i < BUTTON_COUNT; i++) {
    snprintf(call, sizeof call, "release %u", BUTTONS[i]);
    assert_true(fake_gpiod_find(call, mark) >= 0);
  }
  int closed = fake_gpiod_find("chip_close", mark);
  assert_true(closed >= 0);
  assert_int_equal(closed, fake_gpiod_log_size() - 1); /* last, and nothing by chip_close */
  assert_int_equal(fake_gpiod_count("release 5 (by chip_close)"), 0);
}

static void destroy_without_start(void **unused) {
  (void)unused;
  gpio_config cfg = config();
  hw_backend *hw = create_ok(&cfg);
  destroy(hw);
  assert_int_equal(fake_gpiod_count("release"), LED_COUNT + BUTTON_COUNT);
}

int main(void) {
  log_set_level(LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(requests_leds_as_outputs_and_buttons_as_edge_events, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(polarity_and_bias_follow_the_config, setup, teardown),
      cmocka_unit_test_setup_teardown(led_levels_follow_the_threshold, setup, teardown),
      cmocka_unit_test_setup_teardown(unchanged_leds_are_not_rewritten, setup, teardown),
      cmocka_unit_test_setup_teardown(a_bounce_storm_is_one_press_and_one_release, setup, teardown),
      cmocka_unit_test_setup_teardown(hold_comes_once_after_hold_ms, setup, teardown),
      cmocka_unit_test_setup_teardown(a_short_press_has_no_hold, setup, teardown),
      cmocka_unit_test_setup_teardown(each_line_is_its_button, setup, teardown),
      cmocka_unit_test_setup_teardown(repeated_edge_types_are_taken_as_levels, setup, teardown),
      cmocka_unit_test_setup_teardown(realtime_stamps_are_moved_to_the_monotonic_clock, setup,
                                      teardown),
      cmocka_unit_test(event_time_conversion),
      cmocka_unit_test_setup_teardown(a_button_down_at_start_is_not_reported, setup, teardown),
      cmocka_unit_test_setup_teardown(a_missing_chip_is_named, setup, teardown),
      cmocka_unit_test_setup_teardown(the_chip_opens_by_name_path_number_or_label, setup, teardown),
      cmocka_unit_test_setup_teardown(a_chip_we_may_not_open_says_so, setup, teardown),
      cmocka_unit_test_setup_teardown(a_line_the_chip_lacks_is_named, setup, teardown),
      cmocka_unit_test_setup_teardown(a_busy_line_is_named, setup, teardown),
      cmocka_unit_test_setup_teardown(a_kernel_without_bias_gets_a_hint, setup, teardown),
      cmocka_unit_test_setup_teardown(a_line_given_twice_is_refused_before_opening, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(destroy_turns_leds_off_and_releases_everything, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(destroy_without_start, setup, teardown),
  };
  return cmocka_run_group_tests_name("hw_gpio", tests, NULL, NULL);
}
