/* Terminal rendering (--sim): the LED line in each colour mode, the on/off
 * rule, the status lines and cutting to the terminal's width. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hw/hw.h"
#include "term/term_keys.h"
#include "term/term_render.h"

#define ON "\xE2\x97\x8F"  /* ● */
#define OFF "\xE2\x97\x8B" /* ○ */
#define MORE "\xE2\x80\xA6" /* … */

static const term_style truecolor = {.colour = TERM_COLOUR_TRUECOLOR};
static const term_style plain = {.colour = TERM_COLOUR_NONE};
static const term_style ascii = {.colour = TERM_COLOUR_NONE, .ascii = true};
static const term_style c256 = {.colour = TERM_COLOUR_256};

/* Mode 1 idle as the server sends it, with led_0 (power) on. */
static const uint32_t mode1_idle[LED_COUNT] = {0x00FF00FF, 0, 0xFFB000FF, 0, 0, 0};

static void on_off_rule(void **unused) {
  (void)unused;
  assert_false(term_led_on(0x00000000));
  assert_false(term_led_on(0xFFFFFF00)); /* white at intensity 0 */
  assert_false(term_led_on(0x000000FF)); /* black at full intensity */
  assert_true(term_led_on(0xFF3030FF));
  assert_true(term_led_on(0x0000FFFF)); /* the brightest channel counts, not the sum */
  /* 0x40 is the line: AA * max / 255 must be above it. */
  assert_false(term_led_on(0x40000000 | 0xFF)); /* 0x40 * 255 / 255 = 0x40 */
  assert_true(term_led_on(0x41000000 | 0xFF));
  assert_false(term_led_on(0xFF000040)); /* 255 * 0x40 / 255 = 0x40 */
  assert_true(term_led_on(0xFF000041));
  assert_false(term_led_on(0x80808080)); /* 0x80 * 0x80 / 255 = 0x40 */
  assert_true(term_led_on(0x90909090));
  /* Rounded like the gpio back end: 0x41 * 0xFE / 255 = 64.7, so 65: on. */
  assert_true(term_led_on(0xFE000041));
}

static void leds_without_colour(void **unused) {
  (void)unused;
  char buf[1024];
  size_t n = term_render_leds(buf, sizeof buf, mode1_idle, &plain, 80);
  assert_string_equal(buf, ON " led_0 (power)  " OFF " led_1  " ON " led_2  " OFF " led_3  " OFF
                           " led_4  " OFF " led_5");
  assert_int_equal(n, strlen(buf));
  assert_int_equal(term_columns(buf), 60);
  assert_null(strchr(buf, 0x1B)); /* no escape at all */
  term_render_leds(buf, sizeof buf, mode1_idle, &ascii, 80);
  assert_string_equal(buf, "# led_0 (power)  . led_1  # led_2  . led_3  . led_4  . led_5");
}

static void leds_in_truecolor(void **unused) {
  (void)unused;
  char buf[1024];
  term_render_leds(buf, sizeof buf, mode1_idle, &truecolor, 80);
  assert_string_equal(buf, "\x1B[38;2;0;255;0m" ON "\x1B[39m led_0 (power)  "
                           "\x1B[38;2;96;96;96m" OFF "\x1B[39m led_1  "
                           "\x1B[38;2;255;176;0m" ON "\x1B[39m led_2  "
                           "\x1B[38;2;96;96;96m" OFF "\x1B[39m led_3  "
                           "\x1B[38;2;96;96;96m" OFF "\x1B[39m led_4  "
                           "\x1B[38;2;96;96;96m" OFF "\x1B[39m led_5");
  assert_int_equal(term_columns(buf), 60); /* escapes take no room */
}

static void truecolor_scales_by_intensity(void **unused) {
  (void)unused;
  char buf[1024];
  /* Red at half intensity: lit (255 * 0x80 / 255 = 0x80 > 0x40), drawn at half brightness. */
  uint32_t leds[LED_COUNT] = {0xFF000080, 0xFF000030, 0, 0, 0, 0};
  term_render_leds(buf, sizeof buf, leds, &truecolor, 80);
  assert_non_null(strstr(buf, "\x1B[38;2;128;0;0m" ON "\x1B[39m led_0"));
  /* Below the line: off, whatever its colour. */
  assert_non_null(strstr(buf, "\x1B[38;2;96;96;96m" OFF "\x1B[39m led_1"));
}

static void leds_in_256_colours(void **unused) {
  (void)unused;
  char buf[1024];
  uint32_t leds[LED_COUNT] = {0xFF0000FF, 0x0000FFFF, 0, 0, 0, 0};
  term_render_leds(buf, sizeof buf, leds, &c256, 80);
  assert_non_null(strstr(buf, "\x1B[38;5;196m" ON)); /* 16 + 36*5 */
  assert_non_null(strstr(buf, "\x1B[38;5;21m" ON));  /* 16 + 5 */
  assert_non_null(strstr(buf, "\x1B[38;5;240m" OFF));
}

static void narrow_leds_go_compact_then_cut(void **unused) {
  (void)unused;
  char buf[1024];
  term_render_leds(buf, sizeof buf, mode1_idle, &plain, 59);
  assert_string_equal(buf, ON "0 " OFF "1 " ON "2 " OFF "3 " OFF "4 " OFF "5");
  term_render_leds(buf, sizeof buf, mode1_idle, &plain, 10);
  assert_string_equal(buf, ON "0 " OFF "1 " ON "2 " MORE);
  assert_int_equal(term_columns(buf), 10);
  term_render_leds(buf, sizeof buf, mode1_idle, &truecolor, 5);
  assert_int_equal(term_columns(buf), 5);
}

static void fit_counts_characters_not_bytes(void **unused) {
  (void)unused;
  char buf[64];
  assert_int_equal(term_fit(buf, sizeof buf, "abcdef", 6, false), 6);
  assert_string_equal(buf, "abcdef");
  assert_int_equal(term_fit(buf, sizeof buf, "abcdefg", 6, false), 6);
  assert_string_equal(buf, "abcde" MORE);
  assert_int_equal(term_fit(buf, sizeof buf, "abcdefg", 6, true), 6);
  assert_string_equal(buf, "abcde~");
  assert_int_equal(term_fit(buf, sizeof buf, ON ON ON, 2, false), 2);
  assert_string_equal(buf, ON MORE);
  assert_int_equal(term_fit(buf, sizeof buf, "\x1B[1mab\x1B[0m", 2, false), 2);
  assert_string_equal(buf, "\x1B[1mab\x1B[0m");
  assert_int_equal(term_fit(buf, sizeof buf, "abc", 0, false), 0);
  assert_string_equal(buf, "");
  /* A small buffer never splits a character and stays terminated. */
  assert_true(term_fit(buf, 5, ON ON ON, 3, false) <= 3);
  assert_true(strlen(buf) < 5);
  assert_int_equal(strlen(buf) % 3, 0);
}

static const device_view sample = {
    .device_id = "kitchen",
    .server = "127.0.0.1:50051",
    .connection = "connected",
    .playing = true,
    .buffered_ms = 60,
    .last_latency_ms = 23.4,
    .underruns = 1,
    .reconnects = 2,
};

static void status_lines(void **unused) {
  (void)unused;
  char l1[256], l2[256];
  term_render_status(l1, l2, sizeof l1, &sample, 80, false);
  assert_string_equal(l1, "state: connected  device: kitchen  server: 127.0.0.1:50051");
  assert_string_equal(l2, "playing  buffered 60 ms  latency 23 ms  underruns 1  reconnects 2");
  device_view v = sample;
  v.playing = false;
  v.last_latency_ms = -1;
  v.connection = "offline";
  v.device_id = NULL;
  term_render_status(l1, l2, sizeof l1, &v, 80, false);
  assert_string_equal(l1, "state: offline  device: -  server: 127.0.0.1:50051");
  assert_string_equal(l2, "idle  buffered 60 ms  latency -  underruns 1  reconnects 2");
}

static void status_cut_to_width(void **unused) {
  (void)unused;
  char l1[256], l2[256];
  term_render_status(l1, l2, sizeof l1, &sample, 30, false);
  assert_string_equal(l1, "state: connected  device: kit" MORE);
  assert_string_equal(l2, "playing  buffered 60 ms  late" MORE);
  assert_int_equal(term_columns(l1), 30);
  term_render_status(l1, l2, sizeof l1, &sample, 30, true);
  assert_string_equal(l2, "playing  buffered 60 ms  late~");
  /* A long id, and control bytes in it: cut, and no escape gets through. */
  device_view v = sample;
  v.device_id = "\x1B[2Jevil\nname-that-goes-on-and-on-and-on-and-on-and-on-and-on";
  term_render_status(l1, l2, sizeof l1, &v, 80, false);
  assert_null(strchr(l1, 0x1B));
  assert_null(strchr(l1, '\n'));
  assert_int_equal(term_columns(l1), 80);
  assert_true(strncmp(l1, "state: connected  device: ?[2Jevil?name", 39) == 0);
  /* Every width from 0 to 100 gives at most that many columns. */
  for (int w = 0; w <= 100; w++) {
    term_render_status(l1, l2, sizeof l1, &sample, w, false);
    assert_true(term_columns(l1) <= w);
    assert_true(term_columns(l2) <= w);
  }
}

static void colour_choice(void **unused) {
  (void)unused;
  assert_int_equal(term_colour_resolve(TERM_COLOUR_AUTO, NULL, "truecolor", "xterm"),
                   TERM_COLOUR_TRUECOLOR);
  assert_int_equal(term_colour_resolve(TERM_COLOUR_AUTO, NULL, "24bit", NULL),
                   TERM_COLOUR_TRUECOLOR);
  assert_int_equal(term_colour_resolve(TERM_COLOUR_AUTO, "1", "truecolor", "xterm-256color"),
                   TERM_COLOUR_NONE); /* NO_COLOR wins */
  assert_int_equal(term_colour_resolve(TERM_COLOUR_AUTO, "", "truecolor", NULL),
                   TERM_COLOUR_TRUECOLOR); /* an empty NO_COLOR is unset */
  assert_int_equal(term_colour_resolve(TERM_COLOUR_AUTO, NULL, NULL, "tmux-256color"),
                   TERM_COLOUR_256);
  assert_int_equal(term_colour_resolve(TERM_COLOUR_AUTO, NULL, NULL, "xterm"), TERM_COLOUR_NONE);
  assert_int_equal(term_colour_resolve(TERM_COLOUR_AUTO, NULL, NULL, NULL), TERM_COLOUR_NONE);
  assert_int_equal(term_colour_resolve(TERM_COLOUR_TRUECOLOR, "1", NULL, NULL),
                   TERM_COLOUR_TRUECOLOR); /* asked for explicitly */
  term_colour c;
  assert_true(term_colour_parse("none", &c));
  assert_int_equal(c, TERM_COLOUR_NONE);
  assert_true(term_colour_parse("24bit", &c));
  assert_int_equal(c, TERM_COLOUR_TRUECOLOR);
  assert_false(term_colour_parse("rainbow", &c));
  assert_true(term_utf8_resolve(NULL, NULL, "en_US.UTF-8"));
  assert_true(term_utf8_resolve("", NULL, "C.utf8"));
  assert_false(term_utf8_resolve("C", NULL, "en_US.UTF-8")); /* LC_ALL first */
  assert_false(term_utf8_resolve(NULL, NULL, "POSIX"));
  assert_true(term_utf8_resolve(NULL, NULL, NULL));
}

/* Strips a frame's escapes and reports the text of row `row` (1-based). */
static void row_text(const char *frame, int row, char *out, size_t cap) {
  char want[32];
  snprintf(want, sizeof want, "\x1B[%d;1H\x1B[2K", row);
  const char *p = strstr(frame, want);
  out[0] = '\0';
  if (!p) return;
  p += strlen(want);
  size_t n = 0;
  while (*p && n + 1 < cap) {
    if (p[0] == 0x1B && p[1] == '[') { /* skip it; a cursor move ends the row */
      p += 2;
      while (*p && (*p < 0x40 || *p > 0x7E)) p++;
      if (*p == 'H') break;
      if (*p) p++;
      continue;
    }
    out[n++] = *p++;
  }
  out[n] = '\0';
}

static void screen_80x24(void **unused) {
  (void)unused;
  static char frame[32768];
  term_screen s = {.view = sample, .have_view = true, .held = BUTTON_PLAY,
                   .last_button = BUTTON_PLAY, .last_event = EVENT_HOLD};
  memcpy(s.leds, mode1_idle, sizeof s.leds);
  size_t n = term_render_screen(frame, sizeof frame, &s, &plain, 80, 24);
  assert_true(n > 0);
  assert_int_equal(n, strlen(frame));
  char row[512];
  row_text(frame, 1, row, sizeof row);
  assert_string_equal(row, " " TERM_TITLE);
  row_text(frame, 3, row, sizeof row);
  assert_string_equal(row, " " ON " led_0 (power)  " OFF " led_1  " ON " led_2  " OFF " led_3  "
                           OFF " led_4  " OFF " led_5");
  row_text(frame, 5, row, sizeof row);
  assert_string_equal(row, " state: connected  device: kitchen  server: 127.0.0.1:50051");
  row_text(frame, 6, row, sizeof row);
  assert_string_equal(row, " playing  buffered 60 ms  latency 23 ms  underruns 1  reconnects 2");
  row_text(frame, 8, row, sizeof row);
  assert_string_equal(row, " buttons:  connect   mode  [play]  stop    last: play HOLD");
  row_text(frame, 10, row, sizeof row);
  assert_string_equal(row, " " TERM_HELP);
  assert_non_null(strstr(frame, "\x1B[11;1H\x1B[J")); /* the rest cleared */
  assert_null(strstr(frame, "\x1B[12;1H"));
}

static void screen_fits_small_terminals(void **unused) {
  (void)unused;
  static char frame[32768];
  term_screen s = {.view = sample, .have_view = true, .held = -1, .last_button = -1};
  memcpy(s.leds, mode1_idle, sizeof s.leds);
  for (int w = 1; w <= 90; w += 7) {
    for (int h = 1; h <= 12; h++) {
      assert_true(term_render_screen(frame, sizeof frame, &s, &truecolor, w, h) > 0);
      char want[32];
      snprintf(want, sizeof want, "\x1B[%d;1H", h + 1);
      assert_null(strstr(frame, want)); /* nothing below the last row */
      for (int r = 1; r <= h; r++) {
        char row[2048];
        row_text(frame, r, row, sizeof row);
        assert_true(term_columns(row) <= w);
      }
    }
  }
  /* Packed when short: the LEDs come first. */
  term_render_screen(frame, sizeof frame, &s, &plain, 80, 3);
  char row[512];
  row_text(frame, 1, row, sizeof row);
  assert_non_null(strstr(row, "led_0 (power)"));
  row_text(frame, 3, row, sizeof row);
  assert_non_null(strstr(row, "idle") || strstr(row, "playing"));
  /* No view yet. */
  s.have_view = false;
  term_render_screen(frame, sizeof frame, &s, &plain, 80, 24);
  row_text(frame, 5, row, sizeof row);
  assert_string_equal(row, " state: -  device: -  server: -");
  row_text(frame, 8, row, sizeof row);
  assert_string_equal(row, " buttons:  connect   mode   play   stop    last: -");
  /* Too small a buffer: 0, not a partial frame. */
  assert_int_equal(term_render_screen(frame, 100, &s, &plain, 80, 24), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(on_off_rule),
      cmocka_unit_test(leds_without_colour),
      cmocka_unit_test(leds_in_truecolor),
      cmocka_unit_test(truecolor_scales_by_intensity),
      cmocka_unit_test(leds_in_256_colours),
      cmocka_unit_test(narrow_leds_go_compact_then_cut),
      cmocka_unit_test(fit_counts_characters_not_bytes),
      cmocka_unit_test(status_lines),
      cmocka_unit_test(status_cut_to_width),
      cmocka_unit_test(colour_choice),
      cmocka_unit_test(screen_80x24),
      cmocka_unit_test(screen_fits_small_terminals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
