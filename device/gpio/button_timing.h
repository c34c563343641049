/* Debounce and long-press timing for one button, from raw level changes.
 *
 * Pure: no clock, no I/O. The caller feeds raw levels with their times
 * (button_timing_edge) and the passing of time (button_timing_tick), and
 * gets back PRESS, HOLD and RELEASE (EVENT_PRESS, EVENT_HOLD, EVENT_RELEASE) with the
 * time each happened. Times are nanoseconds on one monotonic clock.
 *
 * Leading-edge debounce. A change of level is reported at once, at the time
 * of its first edge, and the button is then deaf for `debounce` to the
 * bounces that follow. When that window closes, the level the contacts
 * settled on is compared with the reported state; if they differ (a tap
 * shorter than the window, a release that landed inside it) the difference
 * is reported then, as of the window's end. Why leading edge: a press is the
 * start of everything the user waits for (a sound over the network), so it
 * should cost no added latency; waiting for the level to be stable for
 * `debounce` first would add that much to every press. The price is that a
 * lone spike on an idle line reads as a short press (PRESS, then RELEASE
 * one window later); with the internal pull-up and short wires that does
 * not happen in practice.
 *
 * HOLD comes once, `hold` after the PRESS, if the button is still down
 * (as debounced) then. RELEASE always follows a PRESS; HOLD comes between
 * them or not at all.
 *
 * A button already down when timing starts is not reported: neither a
 * PRESS nor, when it is let go, a RELEASE (nobody saw it go down). */
#ifndef OPAL_BUTTON_TIMING_H
#define OPAL_BUTTON_TIMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most events one call can return: a settle at a window's end, a HOLD
 * that fell due before the edge, and the edge's own change. */
#define BUTTON_TIMING_MAX_EVENTS 4

/* No deadline pending. */
#define BUTTON_TIMING_NO_DEADLINE INT64_MAX

typedef struct button_timing_event {
  int event;     /* EVENT_PRESS, EVENT_HOLD or EVENT_RELEASE */
  int64_t at_ns; /* when it happened */
} button_timing_event;

typedef struct button_timing {
  int64_t debounce_ns;
  int64_t hold_ns;
  int64_t last_ns;       /* latest time seen; earlier times are taken as this */
  int64_t window_end_ns; /* edges before this are bounces */
  int64_t hold_at_ns;    /* when HOLD falls due, while pressed and not yet sent */
  bool raw;              /* the level as last seen (true = pressed) */
  bool pressed;          /* the debounced state */
  bool hold_sent;
  bool unseen; /* down since before start: report nothing until up */
} button_timing;

/* Starts timing at `now_ns` with the button's current level. debounce_ms may
 * be 0 (no debounce); hold_ms should be larger than debounce_ms. */
void button_timing_init(button_timing *bt, unsigned debounce_ms, unsigned hold_ms, bool pressed,
                        int64_t now_ns);

/* The raw level became `pressed` at `at_ns` (the same level twice in a row
 * is fine: edges that read back the level after the fact do that). Reports
 * first whatever fell due before `at_ns`, then the change if any. Returns the
 * number of events written to `out`. */
size_t button_timing_edge(button_timing *bt, bool pressed, int64_t at_ns,
                          button_timing_event out[BUTTON_TIMING_MAX_EVENTS]);

/* Time has reached `now_ns`: reports what fell due (a settle, a HOLD). */
size_t button_timing_tick(button_timing *bt, int64_t now_ns,
                          button_timing_event out[BUTTON_TIMING_MAX_EVENTS]);

/* When button_timing_tick next has something to do, or
 * BUTTON_TIMING_NO_DEADLINE. */
int64_t button_timing_next_deadline(const button_timing *bt);

/* The debounced state: true between a PRESS and its RELEASE, and while a
 * button that was down at start stays down. */
bool button_timing_pressed(const button_timing *bt);

#endif
