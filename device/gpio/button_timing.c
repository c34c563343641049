#include "gpio/button_timing.h"

#include "hw/hw.h"

#define MS_TO_NS INT64_C(1000000)

void button_timing_init(button_timing *bt, unsigned debounce_ms, unsigned hold_ms, bool pressed,
                        int64_t now_ns) {
  *bt = (button_timing){
      .debounce_ns = (int64_t)debounce_ms * MS_TO_NS,
      .hold_ns = (int64_t)hold_ms * MS_TO_NS,
      .last_ns = now_ns,
      .window_end_ns = now_ns,
      .raw = pressed,
      .pressed = pressed,
      .unseen = pressed,
  };
}

static void emit(button_timing_event *out, size_t *n, int event, int64_t at_ns) {
  if (*n < BUTTON_TIMING_MAX_EVENTS) out[(*n)++] = (button_timing_event){event, at_ns};
}

/* The debounced state becomes `pressed` at `at_ns`, and a new window opens. */
static void change(button_timing *bt, bool pressed, int64_t at_ns, button_timing_event *out,
                   size_t *n) {
  bt->pressed = pressed;
  bt->window_end_ns = at_ns + bt->debounce_ns;
  if (bt->unseen) { /* it was down before we started: its release is not news */
    if (!pressed) bt->unseen = false;
    return;
  }
  if (pressed) {
    bt->hold_sent = false;
    bt->hold_at_ns = at_ns + bt->hold_ns;
    emit(out, n, EVENT_PRESS, at_ns);
  } else {
    emit(out, n, EVENT_RELEASE, at_ns);
  }
}

static int64_t settle_deadline(const button_timing *bt) {
  return bt->raw != bt->pressed ? bt->window_end_ns : BUTTON_TIMING_NO_DEADLINE;
}

static int64_t hold_deadline(const button_timing *bt) {
  return bt->pressed && !bt->hold_sent && !bt->unseen ? bt->hold_at_ns : BUTTON_TIMING_NO_DEADLINE;
}

int64_t button_timing_next_deadline(const button_timing *bt) {
  int64_t settle = settle_deadline(bt), hold = hold_deadline(bt);
  return settle < hold ? settle : hold;
}

bool button_timing_pressed(const button_timing *bt) { return bt->pressed; }

/* Reports, in time order, what fell due up to `now_ns`. */
static void run_until(button_timing *bt, int64_t now_ns, button_timing_event *out, size_t *n) {
  for (;;) {
    int64_t settle = settle_deadline(bt), hold = hold_deadline(bt);
    if (settle <= hold && settle <= now_ns) {
      change(bt, bt->raw, settle, out, n); /* the contacts settled on the other level */
    } else if (hold < settle && hold <= now_ns) {
      bt->hold_sent = true;
      emit(out, n, EVENT_HOLD, hold);
    } else {
      return;
    }
  }
}

size_t button_timing_tick(button_timing *bt, int64_t now_ns,
                          button_timing_event out[BUTTON_TIMING_MAX_EVENTS]) {
  size_t n = 0;
  if (now_ns < bt->last_ns) now_ns = bt->last_ns;
  bt->last_ns = now_ns;
  run_until(bt, now_ns, out, &n);
  return n;
}

size_t button_timing_edge(button_timing *bt, bool pressed, int64_t at_ns,
                          button_timing_event out[BUTTON_TIMING_MAX_EVENTS]) {
  size_t n = button_timing_tick(bt, at_ns, out);
  at_ns = bt->last_ns;
  bt->raw = pressed;
  if (pressed != bt->pressed && at_ns >= bt->window_end_ns) change(bt, pressed, at_ns, out, &n);
  return n;
}
