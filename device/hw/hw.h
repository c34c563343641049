/* A hardware back end: where button presses come from, and where the LEDs
 * and the status go. Three exist: gpio (libgpiod, a Raspberry Pi), term
 * (--sim, an interactive terminal) and script (--script, for tests).
 *
 * Threads: `start` may start a thread of the back end's own that reads
 * input and calls `sink->push`; every other operation is called from the
 * device's loop thread, except `read_buttons`, which any thread may call.
 *
 * Also here, below the connection code so that the single device and the
 * fleet share them: the two rules of the device's own, led_0 and Connect. */
#ifndef OPAL_HW_H
#define OPAL_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"


typedef enum {
  INPUT_BUTTON,     /* `button`, `event`: a button changed */
  INPUT_CONNECT,    /* open the connection (script; see connect_press_input) */
  INPUT_DISCONNECT, /* close it (script; see connect_press_input) */
  INPUT_QUIT,       /* end the program */
} input_kind;

/* led_0 is the device's power LED: this colour while connected, dark
 * otherwise. The server sets only led_1 .. led_5. */
#define POWER_LED_ON UINT32_C(0x00FF00FF)

/* Connect is the device's own button: a press switches the connection,
 * so it amounts to INPUT_DISCONNECT while the connection is wanted and to
 * INPUT_CONNECT while it is not. */
static inline input_kind connect_press_input(bool connection_wanted) {
  return connection_wanted ? INPUT_DISCONNECT : INPUT_CONNECT;
}

typedef struct device_input {
  input_kind kind;
  int button;
  int event;
  int64_t at_ns; /* clock_now_ns() when the input happened */
} device_input;

/* Where a back end delivers input; `push` is safe from any thread. */
typedef struct input_sink input_sink;
struct input_sink {
  void (*push)(input_sink *sink, const device_input *input);
};

/* What the status line shows. */
typedef struct device_view {
  const char *device_id;
  const char *server;
  const char *connection; /* "connected", "connecting", "offline", ... */
  bool playing;
  unsigned buffered_ms;
  double last_latency_ms; /* press to first sample; < 0 when none yet */
  unsigned underruns;
  unsigned reconnects;
} device_view;

/* What the device loop saw happen, as `observe` tells the back end. These
 * are also the events a script's wait-for waits for (script.h names them). */
typedef enum {
  WATCH_CONNECTED,
  WATCH_DISCONNECTED,
  WATCH_STREAM_START,
  WATCH_STREAM_END,
  WATCH_ACK,
  WATCH_LEDS,
  WATCH_COUNT
} device_watch;

typedef struct hw_backend hw_backend;

typedef struct hw_ops {
  /* Starts delivering input to `sink`. Returns 0, or -1 with one line in
   * `err` naming what is missing (a gpio chip or line, a terminal). */
  int (*start)(hw_backend *hw, input_sink *sink, char *err, size_t err_len);
  /* led_0 .. led_5 as 0xRRGGBBAA. */
  void (*show_leds)(hw_backend *hw, const uint32_t leds[LED_COUNT]);
  /* Called when the view changes, at most a few times a second. May be NULL. */
  void (*show_view)(hw_backend *hw, const device_view *view);
  /* pressed[i] is true while BUTTON_(i+1) is held down. Any thread. */
  void (*read_buttons)(hw_backend *hw, bool pressed[BUTTON_COUNT]);
  /* Called after the device reported `what` (a script's wait-for waits on
   * these). May be NULL: the back end does not care. */
  void (*observe)(hw_backend *hw, device_watch what);
  /* Called once input has ended, before `destroy`: true if the back end
   * judges the run failed (a script's wait-for timed out), which makes the
   * program exit 1. May be NULL: the back end never fails a run. */
  bool (*failed)(hw_backend *hw);
  /* Stops input and puts back whatever it changed (terminal modes, lines),
   * then frees the back end. */
  void (*destroy)(hw_backend *hw);
} hw_ops;

/* Each back end embeds this as its first member. */
struct hw_backend {
  const hw_ops *ops;
};

#endif
