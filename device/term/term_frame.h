/* Putting frames on the terminal for the terminal back end's UI thread:
 * the whole screen is rendered each time (term_render.h), but only a frame
 * that differs from the last one written is sent, so an idle device costs
 * the terminal (and an SSH link) nothing. A terminal that stalls gets the
 * rest of that frame dropped rather than blocking the thread, and the next
 * frame is drawn from a cleared screen. */
#ifndef OPAL_TERM_FRAME_H
#define OPAL_TERM_FRAME_H

#include <stdbool.h>
#include <stddef.h>

#include "term/term_render.h"

typedef struct term_frame {
  int out_fd;
  term_style style;
  char *frame, *last_frame; /* owned: term_frame_init allocates, term_frame_free frees */
  size_t last_len;
  int width, height; /* of the last measure; 0 before the first */
  bool garbled;      /* a frame was cut short: the next one redraws everything */
} term_frame;

/* False when out of memory (then `f` holds nothing to free). */
bool term_frame_init(term_frame *f, int out_fd, const term_style *style);
void term_frame_free(term_frame *f);

/* Reads the terminal's size (80x24 when it cannot be read). True when the
 * next frame must be drawn in full: the size changed, or the last frame
 * was cut short. */
bool term_frame_measure(term_frame *f);

/* Renders `screen` at the measured size and writes it unless it equals the
 * last frame written; `full` clears the screen first and writes it anyway. */
void term_frame_show(term_frame *f, const term_screen *screen, bool full);

/* Writes all of `buf`, waiting up to a second at a time for a terminal that
 * is not taking output. False when it stalled or failed before the end. */
bool term_write_all(int fd, const char *buf, size_t len);

#endif
