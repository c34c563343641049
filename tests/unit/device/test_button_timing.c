/* Debounce and HOLD timing: one PRESS and one RELEASE per real press, however
 * the contacts bounce; HOLD once, and only for a long press. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gpio/button_timing.h"
#include "hw/hw.h"

#define MS INT64_C(1000000)
#define T0 (INT64_C(5000) * MS) /* any start time */

/* Everything reported, in order. */
typedef struct record {
  button_timing_event ev[64];
  size_t n;
} record;

static void add(record *r, const button_timing_event *ev, size_t n) {
  assert_true(n <= BUTTON_TIMING_MAX_EVENTS);
  for (size_t i = 0; i < n; i++) {
    assert_true(r->n < 64);
    r->ev[r->n++] = ev[i];
  }
}

static void edge(button_timing *bt, record *r, bool pressed, int64_t at) {
  button_timing_event ev[BUTTON_TIMING_MAX_EVENTS];
  add(r, ev, button_timing_edge(bt, pressed, at, ev));
}

static void tick(button_timing *bt, record *r, int64_t now) {
  button_timing_event ev[BUTTON_TIMING_MAX_EVENTS];
  add(r, ev, button_timing_tick(bt, now, ev));
}

/* Ticks every millisecond up to `until`, as a poll loop might. */
static void run(button_timing *bt, record *r, int64_t from, int64_t until) {
  for (int64_t t = from; t <= until; t += MS) tick(bt, r, t);
}

static void expect(const record *r, size_t i, int event, int64_t at) {
  assert_true(i < r->n);
  assert_int_equal(r->ev[i].event, event);
  assert_int_equal(r->ev[i].at_ns, at);
}

static button_timing fresh(void) {
  button_timing bt;
  button_timing_init(&bt, 20, 800, false, T0);
  return bt;
}

static void a_clean_press_and_release(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  assert_int_equal(button_timing_next_deadline(&bt), BUTTON_TIMING_NO_DEADLINE);
  edge(&bt, &r, true, T0 + 100 * MS);
  assert_true(button_timing_pressed(&bt));
  edge(&bt, &r, false, T0 + 300 * MS);
  assert_false(button_timing_pressed(&bt));
  run(&bt, &r, T0 + 300 * MS, T0 + 2000 * MS);
  assert_int_equal(r.n, 2);
  expect(&r, 0, EVENT_PRESS, T0 + 100 * MS); /* at once: leading edge */
  expect(&r, 1, EVENT_RELEASE, T0 + 300 * MS);
}

static void bounce_storms_give_one_press_and_one_release(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  int64_t p = T0 + 100 * MS, q = T0 + 400 * MS;
  /* 7 edges over 6 ms going down, 7 coming up */
  for (int k = 0; k < 7; k++) edge(&bt, &r, k % 2 == 0, p + k * MS);
  run(&bt, &r, p + 7 * MS, q - MS);
  for (int k = 0; k < 7; k++) edge(&bt, &r, k % 2 == 1, q + k * MS);
  run(&bt, &r, q + 7 * MS, q + 2000 * MS);
  assert_int_equal(r.n, 2);
  expect(&r, 0, EVENT_PRESS, p);
  expect(&r, 1, EVENT_RELEASE, q);
}

static void hold_comes_once_after_hold_ms(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  int64_t p = T0 + 10 * MS;
  edge(&bt, &r, true, p);
  edge(&bt, &r, false, p + 2 * MS); /* a bounce */
  edge(&bt, &r, true, p + 3 * MS);
  assert_int_equal(button_timing_next_deadline(&bt), p + 800 * MS);
  tick(&bt, &r, p + 800 * MS - 1);
  assert_int_equal(r.n, 1);
  tick(&bt, &r, p + 800 * MS);
  assert_int_equal(r.n, 2);
  expect(&r, 1, EVENT_HOLD, p + 800 * MS);
  assert_int_equal(button_timing_next_deadline(&bt), BUTTON_TIMING_NO_DEADLINE);
  run(&bt, &r, p + 801 * MS, p + 5000 * MS);
  assert_int_equal(r.n, 2); /* once */
  edge(&bt, &r, false, p + 5000 * MS);
  assert_int_equal(r.n, 3);
  expect(&r, 2, EVENT_RELEASE, p + 5000 * MS);
}

static void a_hold_is_stamped_with_its_deadline_even_when_ticked_late(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  edge(&bt, &r, true, T0);
  tick(&bt, &r, T0 + 2000 * MS);
  assert_int_equal(r.n, 2);
  expect(&r, 1, EVENT_HOLD, T0 + 800 * MS);
}

static void no_hold_on_a_short_press(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  edge(&bt, &r, true, T0);
  run(&bt, &r, T0, T0 + 200 * MS);
  edge(&bt, &r, false, T0 + 200 * MS);
  run(&bt, &r, T0 + 200 * MS, T0 + 3000 * MS);
  assert_int_equal(r.n, 2);
  expect(&r, 0, EVENT_PRESS, T0);
  expect(&r, 1, EVENT_RELEASE, T0 + 200 * MS);
}

static void a_release_just_before_hold_wins(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  edge(&bt, &r, true, T0);
  tick(&bt, &r, T0 + 800 * MS - 1);
  edge(&bt, &r, false, T0 + 800 * MS - 1);
  tick(&bt, &r, T0 + 900 * MS);
  assert_int_equal(r.n, 2);
  expect(&r, 1, EVENT_RELEASE, T0 + 800 * MS - 1);
}

/* Edges read late (the thread was busy) still come out in time order, with
 * the HOLD that fell due between them. */
static void late_edges_keep_time_order(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  edge(&bt, &r, true, T0);
  edge(&bt, &r, false, T0 + 900 * MS); /* no tick in between */
  assert_int_equal(r.n, 3);
  expect(&r, 0, EVENT_PRESS, T0);
  expect(&r, 1, EVENT_HOLD, T0 + 800 * MS);
  expect(&r, 2, EVENT_RELEASE, T0 + 900 * MS);
}

/* A tap shorter than the window: the release is reported when the window
 * closes, so every PRESS gets its RELEASE. */
static void a_tap_inside_the_window_is_released_at_its_end(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  edge(&bt, &r, true, T0);
  edge(&bt, &r, false, T0 + 5 * MS);
  assert_int_equal(r.n, 1);
  assert_int_equal(button_timing_next_deadline(&bt), T0 + 20 * MS);
  tick(&bt, &r, T0 + 19 * MS);
  assert_int_equal(r.n, 1);
  tick(&bt, &r, T0 + 20 * MS);
  assert_int_equal(r.n, 2);
  expect(&r, 1, EVENT_RELEASE, T0 + 20 * MS);
  assert_false(button_timing_pressed(&bt));
  run(&bt, &r, T0 + 20 * MS, T0 + 2000 * MS);
  assert_int_equal(r.n, 2); /* no HOLD for it */
}

/* Let go and pressed again within the window: two presses. */
static void a_quick_second_press_is_a_second_press(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  edge(&bt, &r, true, T0);
  edge(&bt, &r, false, T0 + 100 * MS);
  edge(&bt, &r, true, T0 + 110 * MS); /* inside the release's window */
  tick(&bt, &r, T0 + 120 * MS);
  edge(&bt, &r, false, T0 + 300 * MS);
  assert_int_equal(r.n, 4);
  expect(&r, 0, EVENT_PRESS, T0);
  expect(&r, 1, EVENT_RELEASE, T0 + 100 * MS);
  expect(&r, 2, EVENT_PRESS, T0 + 120 * MS);
  expect(&r, 3, EVENT_RELEASE, T0 + 300 * MS);
  run(&bt, &r, T0 + 300 * MS, T0 + 2000 * MS);
  assert_int_equal(r.n, 4);
}

/* The kernel types an edge by the level it reads after it: the same level
 * may come twice. */
static void the_same_level_twice_is_one_change(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  edge(&bt, &r, true, T0);
  edge(&bt, &r, true, T0 + 50 * MS);
  edge(&bt, &r, false, T0 + 100 * MS);
  edge(&bt, &r, false, T0 + 150 * MS);
  run(&bt, &r, T0 + 150 * MS, T0 + 2000 * MS);
  assert_int_equal(r.n, 2);
  expect(&r, 0, EVENT_PRESS, T0);
  expect(&r, 1, EVENT_RELEASE, T0 + 100 * MS);
}

static void a_button_down_at_start_is_ignored_until_released(void **unused) {
  (void)unused;
  button_timing bt;
  button_timing_init(&bt, 20, 800, true, T0);
  record r = {0};
  assert_true(button_timing_pressed(&bt));
  assert_int_equal(button_timing_next_deadline(&bt), BUTTON_TIMING_NO_DEADLINE);
  run(&bt, &r, T0, T0 + 2000 * MS);
  edge(&bt, &r, false, T0 + 2000 * MS);
  edge(&bt, &r, true, T0 + 2001 * MS); /* bounces of the release */
  edge(&bt, &r, false, T0 + 2002 * MS);
  run(&bt, &r, T0 + 2001 * MS, T0 + 2100 * MS);
  assert_int_equal(r.n, 0);
  assert_false(button_timing_pressed(&bt));
  edge(&bt, &r, true, T0 + 3000 * MS);
  edge(&bt, &r, false, T0 + 3100 * MS);
  assert_int_equal(r.n, 2);
  expect(&r, 0, EVENT_PRESS, T0 + 3000 * MS);
  expect(&r, 1, EVENT_RELEASE, T0 + 3100 * MS);
}

static void time_never_runs_backwards(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  tick(&bt, &r, T0 + 100 * MS);
  edge(&bt, &r, true, T0 + 50 * MS); /* older than what was already seen */
  assert_int_equal(r.n, 1);
  expect(&r, 0, EVENT_PRESS, T0 + 100 * MS);
  edge(&bt, &r, false, T0 + 10 * MS);
  tick(&bt, &r, T0 + 120 * MS);
  assert_int_equal(r.n, 2);
  expect(&r, 1, EVENT_RELEASE, T0 + 120 * MS);
}

static void zero_debounce_reports_every_change(void **unused) {
  (void)unused;
  button_timing bt;
  button_timing_init(&bt, 0, 500, false, T0);
  record r = {0};
  for (int k = 0; k < 6; k++) edge(&bt, &r, k % 2 == 0, T0 + k * MS);
  assert_int_equal(r.n, 6);
  for (int k = 0; k < 6; k++) expect(&r, (size_t)k, k % 2 ? EVENT_RELEASE : EVENT_PRESS, T0 + k * MS);
}

static void deadlines_say_when_to_wake(void **unused) {
  (void)unused;
  button_timing bt = fresh();
  record r = {0};
  edge(&bt, &r, true, T0);
  assert_int_equal(button_timing_next_deadline(&bt), T0 + 800 * MS);
  edge(&bt, &r, false, T0 + 5 * MS); /* bounce: settles at the window's end */
  assert_int_equal(button_timing_next_deadline(&bt), T0 + 20 * MS);
  edge(&bt, &r, true, T0 + 6 * MS);
  assert_int_equal(button_timing_next_deadline(&bt), T0 + 800 * MS);
  edge(&bt, &r, false, T0 + 400 * MS);
  assert_int_equal(button_timing_next_deadline(&bt), BUTTON_TIMING_NO_DEADLINE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_clean_press_and_release),
      cmocka_unit_test(bounce_storms_give_one_press_and_one_release),
      cmocka_unit_test(hold_comes_once_after_hold_ms),
      cmocka_unit_test(a_hold_is_stamped_with_its_deadline_even_when_ticked_late),
      cmocka_unit_test(no_hold_on_a_short_press),
      cmocka_unit_test(a_release_just_before_hold_wins),
      cmocka_unit_test(late_edges_keep_time_order),
      cmocka_unit_test(a_tap_inside_the_window_is_released_at_its_end),
      cmocka_unit_test(a_quick_second_press_is_a_second_press),
      cmocka_unit_test(the_same_level_twice_is_one_change),
      cmocka_unit_test(a_button_down_at_start_is_ignored_until_released),
      cmocka_unit_test(time_never_runs_backwards),
      cmocka_unit_test(zero_debounce_reports_every_change),
      cmocka_unit_test(deadlines_say_when_to_wake),
  };
  return cmocka_run_group_tests_name("button_timing", tests, NULL, NULL);
}
