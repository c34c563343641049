/* The terminal back end (--sim): the terminal is the device. Keys are the
 * buttons (c Connect, m Mode, p Play, s Stop; q or Ctrl-D quits), LEDs are
 * coloured glyphs, and a status line shows the connection and the audio.
 * See docs/simulator.md, term_keys.h (how PRESS, HOLD and RELEASE come out
 * of a terminal without key-up events) and term_render.h (the screen).
 *
 * `start` fails unless both fds are terminals. It then puts the terminal in
 * its mode (no echo, no line editing, Ctrl-C still raises SIGINT, Ctrl-Z
 * disabled), switches to the alternate screen, hides the cursor and starts
 * the input thread. `destroy` undoes all of it. The terminal is also put
 * back on exit() (atexit) and on a crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGABRT, SIGQUIT: put back, then the signal's previous action). SIGINT,
 * SIGTERM and SIGHUP are the program's: it should quit cleanly and call
 * `destroy`.
 *
 * While started, nothing else may write to the terminal: the program must
 * send its logs (stderr) elsewhere.
 *
 * One terminal back end may be started at a time in a process. */
#ifndef OPAL_HW_TERM_H
#define OPAL_HW_TERM_H

#include "hw/hw.h"
#include "term/term_render.h"

typedef enum {
  TERM_GLYPHS_AUTO,    /* UTF-8 unless the locale says otherwise (term_utf8_resolve) */
  TERM_GLYPHS_UNICODE, /* ● ○ */
  TERM_GLYPHS_ASCII,   /* # . */
} term_glyphs;

typedef struct hw_term_options {
  int in_fd;          /* keys come from here; default 0 */
  int out_fd;         /* the screen goes here; default 1 */
  term_colour colour; /* default AUTO: see term_colour_resolve (NO_COLOR, COLORTERM, TERM) */
  term_glyphs glyphs; /* default AUTO */
  unsigned hold_ms;   /* a key autorepeating this long is a HOLD; 0 = 800 */
} hw_term_options;

/* The defaults: fds 0 and 1, AUTO, AUTO, 800 ms. */
hw_term_options hw_term_options_default(void);

/* A terminal back end; `opts` NULL means the defaults. The environment
 * (NO_COLOR, COLORTERM, TERM, LC_ALL, LC_CTYPE, LANG) is read here. Returns
 * NULL only when out of memory. Nothing touches the terminal before `start`. */
hw_backend *hw_term_create(const hw_term_options *opts);

/* The message `start` gives when stdin is not a terminal. */
#define HW_TERM_NOT_A_TTY "--sim needs a terminal on stdin and stdout; use --script for non-interactive runs"

#endif
