/* Terminal keys (--sim): bytes to buttons, and PRESS / HOLD / RELEASE from
 * autorepeat timing, driven with fake timestamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hw/hw.h"
#include "term/term_keys.h"

#define MS(x) ((int64_t)(x) * 1000000)

/* A log of every event, as "mode PRESS@0 mode RELEASE@700 ". */
typedef struct recorder {
  term_keys keys;
  char log[1024];
} recorder;

static void add(recorder *r, const term_key_event *ev, int n) {
  assert_true(n >= 0 && n <= TERM_KEYS_MAX_EVENTS);
  for (int i = 0; i < n; i++) {
    size_t len = strlen(r->log);
    snprintf(r->log + len, sizeof r->log - len, "%s %s@%lld ", wire_button_word(ev[i].button),
             wire_event_label(ev[i].event), (long long)(ev[i].at_ns / MS(1)));
  }
}

static void init(recorder *r) {
  memset(r, 0, sizeof *r);
  term_key_timing t = term_key_timing_default(0);
  term_keys_init(&r->keys, &t);
}

static void key(recorder *r, int button, int64_t at_ms) {
  term_key_event ev[TERM_KEYS_MAX_EVENTS];
  add(r, ev, term_keys_key(&r->keys, button, MS(at_ms), ev));
}

/* Calls tick at every deadline up to `until_ms`, as the input thread would. */
static void run_until(recorder *r, int64_t until_ms) {
  for (;;) {
    int64_t d = term_keys_deadline(&r->keys);
    if (d == INT64_MAX || d > MS(until_ms)) break;
    term_key_event ev[TERM_KEYS_MAX_EVENTS];
    add(r, ev, term_keys_tick(&r->keys, d, ev));
  }
}

/* Autorepeat: the key at `from_ms`, then every `every_ms` until `to_ms`. */
static void hold_key(recorder *r, int button, int64_t from_ms, int64_t first_delay_ms,
                     int64_t every_ms, int64_t to_ms) {
  key(r, button, from_ms);
  for (int64_t t = from_ms + first_delay_ms; t <= to_ms; t += every_ms) {
    run_until(r, t);
    key(r, button, t);
  }
}

static void defaults(void **unused) {
  (void)unused;
  term_key_timing t = term_key_timing_default(0);
  assert_int_equal(t.hold_ns, MS(800));
  assert_int_equal(t.first_repeat_ns, MS(700));
  assert_int_equal(t.repeat_gap_ns, MS(150));
  assert_int_equal(term_key_timing_default(1500).hold_ns, MS(1500));
}

static void tap_is_press_at_once_then_release(void **unused) {
  (void)unused;
  recorder r;
  init(&r);
  assert_int_equal(term_keys_deadline(&r.keys), INT64_MAX);
  assert_int_equal(term_keys_held(&r.keys), -1);
  key(&r, BUTTON_MODE, 1000);
  assert_string_equal(r.log, "mode PRESS@1000 "); /* at once, not after a delay */
  assert_int_equal(term_keys_held(&r.keys), BUTTON_MODE);
  assert_int_equal(term_keys_deadline(&r.keys), MS(1700));
  run_until(&r, 1699);
  assert_int_equal(term_keys_held(&r.keys), BUTTON_MODE);
  run_until(&r, 5000);
  assert_string_equal(r.log, "mode PRESS@1000 mode RELEASE@1700 ");
  assert_int_equal(term_keys_held(&r.keys), -1);
  assert_int_equal(term_keys_deadline(&r.keys), INT64_MAX);
}

static void autorepeat_longer_than_hold_gives_one_hold(void **unused) {
  (void)unused;
  recorder r;
  init(&r);
  /* Typical desktop: 500 ms delay, then 30 repeats a second, for 2 s. */
  hold_key(&r, BUTTON_PLAY, 0, 500, 33, 2000);
  assert_int_equal(term_keys_held(&r.keys), BUTTON_PLAY);
  run_until(&r, 10000);
  /* Last repeat at 500 + 45*33 = 1985; released 150 ms later. */
  assert_string_equal(r.log, "play PRESS@0 play HOLD@800 play RELEASE@2135 ");
}

static void x11_default_autorepeat_660ms_is_one_press(void **unused) {
  (void)unused;
  recorder r;
  init(&r);
  hold_key(&r, BUTTON_STOP, 0, 660, 40, 1500);
  run_until(&r, 10000);
  assert_string_equal(r.log, "stop PRESS@0 stop HOLD@800 stop RELEASE@1650 ");
}

static void short_autorepeat_gives_no_hold(void **unused) {
  (void)unused;
  recorder r;
  init(&r);
  /* Held just past the autorepeat delay, let go at about 600 ms. */
  hold_key(&r, BUTTON_MODE, 0, 400, 40, 600);
  run_until(&r, 10000);
  assert_string_equal(r.log, "mode PRESS@0 mode RELEASE@750 ");
}

static void hold_right_at_the_end_of_the_repeats(void **unused) {
  (void)unused;
  recorder r;
  init(&r);
  /* Repeats until 700; 700 + 150 > 800, so the key was still down at 800. */
  hold_key(&r, BUTTON_MODE, 0, 300, 50, 700);
  run_until(&r, 10000);
  assert_string_equal(r.log, "mode PRESS@0 mode HOLD@800 mode RELEASE@850 ");
  /* Repeats until 600: let go by 750, before 800: no HOLD. */
  init(&r);
  hold_key(&r, BUTTON_MODE, 0, 300, 50, 600);
  run_until(&r, 10000);
  assert_string_equal(r.log, "mode PRESS@0 mode RELEASE@750 ");
}

static void late_tick_still_orders_hold_before_release(void **unused) {
  (void)unused;
  recorder r;
  init(&r);
  /* Repeats from 500 to 770 with no tick in between; the next tick comes
   * long after HOLD (800) and RELEASE (920) were due. */
  for (int64_t t = 0; t <= 770; t += t ? 30 : 500) key(&r, BUTTON_PLAY, t);
  term_key_event ev[TERM_KEYS_MAX_EVENTS];
  add(&r, ev, term_keys_tick(&r.keys, MS(3000), ev));
  assert_string_equal(r.log, "play PRESS@0 play HOLD@800 play RELEASE@920 ");
}

static void other_key_releases_the_held_one(void **unused) {
  (void)unused;
  recorder r;
  init(&r);
  key(&r, BUTTON_MODE, 0);
  key(&r, BUTTON_PLAY, 100);
  assert_int_equal(term_keys_held(&r.keys), BUTTON_PLAY);
  run_until(&r, 10000);
  assert_string_equal(r.log, "mode PRESS@0 mode RELEASE@100 play PRESS@100 play RELEASE@800 ");
  /* While one is held by autorepeat too. */
  init(&r);
  hold_key(&r, BUTTON_PLAY, 0, 400, 40, 1000);
  key(&r, BUTTON_STOP, 1020);
  run_until(&r, 10000);
  assert_string_equal(r.log, "play PRESS@0 play HOLD@800 play RELEASE@1020 stop PRESS@1020 "
                             "stop RELEASE@1720 ");
}

static void lone_second_byte_is_a_second_tap(void **unused) {
  (void)unused;
  recorder r;
  init(&r);
  key(&r, BUTTON_MODE, 0);
  key(&r, BUTTON_MODE, 300); /* autorepeat starting? */
  assert_string_equal(r.log, "mode PRESS@0 ");
  assert_int_equal(term_keys_deadline(&r.keys), MS(450));
  run_until(&r, 10000); /* nothing followed: it was a tap, dated when it came */
  assert_string_equal(r.log,
                      "mode PRESS@0 mode RELEASE@300 mode PRESS@300 mode RELEASE@1000 ");
}

static void second_tap_then_other_key(void **unused) {
  (void)unused;
  recorder r;
  init(&r);
  key(&r, BUTTON_MODE, 0);
  key(&r, BUTTON_MODE, 300);
  key(&r, BUTTON_PLAY, 350); /* before the 150 ms were up */
  assert_string_equal(r.log, "mode PRESS@0 mode RELEASE@300 mode PRESS@300 mode RELEASE@350 "
                             "play PRESS@350 ");
}

static void steady_taps_each_press(void **unused) {
  (void)unused;
  recorder r;
  init(&r);
  for (int i = 0; i < 4; i++) {
    run_until(&r, i * 400);
    key(&r, BUTTON_MODE, i * 400);
  }
  run_until(&r, 10000);
  assert_string_equal(r.log, "mode PRESS@0 mode RELEASE@400 mode PRESS@400 mode RELEASE@800 "
                             "mode PRESS@800 mode RELEASE@1200 mode PRESS@1200 "
                             "mode RELEASE@1900 ");
}

static void taps_after_release_are_new_presses(void **unused) {
  (void)unused;
  recorder r;
  init(&r);
  key(&r, BUTTON_STOP, 0);
  run_until(&r, 800);
  key(&r, BUTTON_STOP, 800);
  /* A key byte with no tick before it still lets the due RELEASE out first. */
  key(&r, BUTTON_STOP, 2000);
  assert_string_equal(r.log, "stop PRESS@0 stop RELEASE@700 stop PRESS@800 stop RELEASE@1500 "
                             "stop PRESS@2000 ");
}

static void every_sequence_stays_within_max_events(void **unused) {
  (void)unused;
  /* Pseudo-random keys and gaps; add() checks the count, and presses and
   * releases must alternate per button. */
  recorder r;
  init(&r);
  uint32_t seed = 12345;
  int64_t now = 0;
  int down = -1;
  for (int i = 0; i < 5000; i++) {
    seed = seed * 1103515245u + 12345u;
    now += (seed >> 16) % 400;
    int b = (int)((seed >> 8) % 2);
    term_key_event ev[TERM_KEYS_MAX_EVENTS];
    int n = (seed >> 4) % 3 == 0 ? term_keys_key(&r.keys, b, MS(now), ev)
                                 : term_keys_tick(&r.keys, MS(now), ev);
    assert_true(n >= 0 && n <= TERM_KEYS_MAX_EVENTS);
    for (int j = 0; j < n; j++) {
      if (ev[j].event == EVENT_PRESS) {
        assert_int_equal(down, -1);
        down = ev[j].button;
      } else {
        assert_int_equal(ev[j].button, down);
        if (ev[j].event == EVENT_RELEASE) down = -1;
      }
      assert_true(ev[j].at_ns <= MS(now));
    }
    assert_int_equal(term_keys_held(&r.keys), down);
  }
}

static void decoder_maps_keys(void **unused) {
  (void)unused;
  term_decoder d = {0};
  assert_int_equal(term_decode_byte(&d, 'c', 0), BUTTON_CONNECT);
  assert_int_equal(term_decode_byte(&d, 'm', 0), BUTTON_MODE);
  assert_int_equal(term_decode_byte(&d, 'p', 0), BUTTON_PLAY);
  assert_int_equal(term_decode_byte(&d, 's', 0), BUTTON_STOP);
  assert_int_equal(term_decode_byte(&d, 'M', 0), BUTTON_MODE); /* caps lock */
  assert_int_equal(term_decode_byte(&d, 'q', 0), TERM_KEY_QUIT);
  assert_int_equal(term_decode_byte(&d, 0x04, 0), TERM_KEY_QUIT); /* Ctrl-D */
  assert_int_equal(term_decode_byte(&d, 'x', 0), TERM_KEY_NONE);
  assert_int_equal(term_decode_byte(&d, ' ', 0), TERM_KEY_NONE);
  assert_int_equal(term_decode_byte(&d, 0xC3, 0), TERM_KEY_NONE); /* é */
  assert_int_equal(term_decode_byte(&d, 0xA9, 0), TERM_KEY_NONE);
}

static int decode_all(term_decoder *d, const char *bytes, int64_t at, int *out) {
  int n = 0;
  for (const char *p = bytes; *p; p++) {
    int k = term_decode_byte(d, (unsigned char)*p, at);
    if (k != TERM_KEY_NONE) out[n++] = k;
  }
  return n;
}

static void decoder_skips_escape_sequences(void **unused) {
  (void)unused;
  term_decoder d = {0};
  int keys[16];
  /* F1 (ESC O P), F4 in xterm (ESC O S), up arrow, Alt+m, F5 (ESC [15~), then m. */
  assert_int_equal(decode_all(&d, "\x1BOP\x1BOS\x1B[A\x1Bm\x1B[15~\x1B[1;5Pm", 0, keys), 1);
  assert_int_equal(keys[0], BUTTON_MODE);
  /* A lone Esc is forgotten after a while: the m that comes later is a key. */
  assert_int_equal(decode_all(&d, "\x1B", MS(0), keys), 0);
  assert_int_equal(decode_all(&d, "m", MS(500), keys), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults),
      cmocka_unit_test(tap_is_press_at_once_then_release),
      cmocka_unit_test(autorepeat_longer_than_hold_gives_one_hold),
      cmocka_unit_test(x11_default_autorepeat_660ms_is_one_press),
      cmocka_unit_test(short_autorepeat_gives_no_hold),
      cmocka_unit_test(hold_right_at_the_end_of_the_repeats),
      cmocka_unit_test(late_tick_still_orders_hold_before_release),
      cmocka_unit_test(other_key_releases_the_held_one),
      cmocka_unit_test(lone_second_byte_is_a_second_tap),
      cmocka_unit_test(second_tap_then_other_key),
      cmocka_unit_test(steady_taps_each_press),
      cmocka_unit_test(taps_after_release_are_new_presses),
      cmocka_unit_test(every_sequence_stays_within_max_events),
      cmocka_unit_test(decoder_maps_keys),
      cmocka_unit_test(decoder_skips_escape_sequences),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
