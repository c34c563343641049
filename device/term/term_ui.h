/* The terminal back end's UI thread and the state it shares with the
 * device loop. The thread reads the keys (term_keys.h turns them into
 * PRESS, HOLD and RELEASE), delivers them to the sink and does all the
 * drawing (term_frame.h); the device loop only hands it LEDs and views,
 * so a slow or stalled terminal (SSH, a paused tmux pane) never blocks it. */
#ifndef OPAL_TERM_UI_H
#define OPAL_TERM_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"
#include "term/term_keys.h"
#include "term/term_render.h"

typedef struct term_ui term_ui;

/* Keys from `in_fd`, frames to `out_fd`. NULL when out of memory. */
term_ui *term_ui_create(int in_fd, int out_fd, const term_style *style,
                        const term_key_timing *timing);
/* Stops the thread and closes the pipe if still open, then frees. */
void term_ui_free(term_ui *u);

/* Makes the pipe that wakes the thread; -1 with one line in `err`. */
int term_ui_open(term_ui *u, char *err, size_t err_len);
/* Its write end, non-blocking, for a signal handler to wake the thread. */
int term_ui_wake_fd(const term_ui *u);
void term_ui_close(term_ui *u);

/* Starts the thread (after term_ui_open), which draws at once and pushes
 * input to `sink`; -1 with one line in `err`. */
int term_ui_start(term_ui *u, input_sink *sink, char *err, size_t err_len);
/* Stops it and waits for it; nothing is drawn after. */
void term_ui_stop(term_ui *u);

/* Device loop: what to show next. Copied; the thread redraws soon after. */
void term_ui_show_leds(term_ui *u, const uint32_t leds[LED_COUNT]);
void term_ui_show_view(term_ui *u, const device_view *view);

/* The button considered held down, or -1. Any thread. */
int term_ui_held(const term_ui *u);

#endif
