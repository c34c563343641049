/* The terminal back end (--sim): the hw_ops, and the order in which start
 * and destroy take and give back the terminal. The UI thread (term_ui.c)
 * reads the keys and draws; term_restore.c puts the terminal back on a
 * crash or exit too. */
#include "term/hw_term.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "term/term_keys.h"
#include "term/term_restore.h"
#include "term/term_ui.h"

typedef struct hw_term {
  hw_backend base;
  hw_term_options opts;
  bool started;
  term_ui *ui; /* owned */
} hw_term;

/* Both fds must be terminals; `saved` gets the settings to put back. */
static int check_terminal(const hw_term *t, struct termios *saved, char *err, size_t err_len) {
  if (t->started) {
    snprintf(err, err_len, "the terminal back end is already started");
    return -1;
  }
  if (!isatty(t->opts.in_fd)) {
    snprintf(err, err_len, "%s", HW_TERM_NOT_A_TTY);
    return -1;
  }
  if (!isatty(t->opts.out_fd)) {
    snprintf(err, err_len, "--sim needs a terminal on stdout; use --script for non-interactive runs");
    return -1;
  }
  if (tcgetattr(t->opts.in_fd, saved) != 0) {
    snprintf(err, err_len, "cannot read the terminal's settings: %s", strerror(errno));
    return -1;
  }
  return 0;
}

/* The handlers are armed before the terminal changes, so no moment exists
 * in which a crash would leave it changed. */
static int term_start(hw_backend *hw, input_sink *sink, char *err, size_t err_len) {
  hw_term *t = (hw_term *)hw;
  struct termios saved;
  if (check_terminal(t, &saved, err, err_len) != 0) return -1;
  if (!term_restore_claim()) {
    snprintf(err, err_len, "another terminal back end is running");
    return -1;
  }
  if (term_ui_open(t->ui, err, err_len) != 0) goto fail_pipe;
  term_restore_arm(t->opts.in_fd, t->opts.out_fd, &saved, term_ui_wake_fd(t->ui));
  if (term_restore_enter(err, err_len) != 0) goto fail_mode;
  t->started = true;
  if (term_ui_start(t->ui, sink, err, err_len) != 0) {
    t->started = false;
    term_restore_now();
    goto fail_mode;
  }
  return 0;

fail_mode:
  term_restore_disarm();
  term_ui_close(t->ui);
fail_pipe:
  term_restore_unclaim();
  return -1;
}

static void term_show_leds(hw_backend *hw, const uint32_t leds[LED_COUNT]) {
  term_ui_show_leds(((hw_term *)hw)->ui, leds);
}

static void term_show_view(hw_backend *hw, const device_view *view) {
  term_ui_show_view(((hw_term *)hw)->ui, view);
}

static void term_read_buttons(hw_backend *hw, bool pressed[BUTTON_COUNT]) {
  int held = term_ui_held(((hw_term *)hw)->ui);
  for (int i = 0; i < BUTTON_COUNT; i++) pressed[i] = i == held;
}

/* The reverse of term_start: nothing draws once the terminal is back. */
static void term_destroy(hw_backend *hw) {
  hw_term *t = (hw_term *)hw;
  if (!t) return;
  if (t->started) {
    term_ui_stop(t->ui);
    term_restore_now();
    term_restore_disarm();
    term_ui_close(t->ui);
    term_restore_unclaim();
  }
  term_ui_free(t->ui);
  free(t);
}

static const hw_ops term_ops = {
    .start = term_start,
    .show_leds = term_show_leds,
    .show_view = term_show_view,
    .read_buttons = term_read_buttons,
    .destroy = term_destroy,
};

hw_term_options hw_term_options_default(void) {
  return (hw_term_options){.in_fd = 0, .out_fd = 1, .colour = TERM_COLOUR_AUTO,
                           .glyphs = TERM_GLYPHS_AUTO, .hold_ms = TERM_DEFAULT_HOLD_MS};
}

static term_style style_from_environment(const hw_term_options *opts) {
  term_style style;
  style.colour =
      term_colour_resolve(opts->colour, getenv("NO_COLOR"), getenv("COLORTERM"), getenv("TERM"));
  style.ascii = opts->glyphs == TERM_GLYPHS_ASCII ||
                (opts->glyphs == TERM_GLYPHS_AUTO &&
                 !term_utf8_resolve(getenv("LC_ALL"), getenv("LC_CTYPE"), getenv("LANG")));
  return style;
}

hw_backend *hw_term_create(const hw_term_options *opts) {
  hw_term *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->base.ops = &term_ops;
  t->opts = opts ? *opts : hw_term_options_default();
  term_style style = style_from_environment(&t->opts);
  term_key_timing timing = term_key_timing_default(t->opts.hold_ms);
  t->ui = term_ui_create(t->opts.in_fd, t->opts.out_fd, &style, &timing);
  if (!t->ui) {
    free(t);
    return NULL;
  }
  return &t->base;
}
