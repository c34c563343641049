/* What the terminal back end (--sim) draws: pure functions from state to
 * text (with escape sequences), so tests can check them without a terminal.
 *
 * Screen (80x24; narrower and shorter terminals get a compact form, and
 * every line is cut to the width):
 *
 *    Opal device simulator
 *
 *    ● led_0 (power)  ○ led_1  ● led_2  ○ led_3  ○ led_4  ○ led_5
 *
 *    state: connected  device: kitchen  server: 127.0.0.1:50051
 *    idle  buffered 0 ms  latency 12 ms  underruns 0  reconnects 0
 *
 *    buttons: [connect] [mode] [play] [stop]   last: mode PRESS
 *
 *    c connect/disconnect  m mode  p play  s stop  q quit (hold a key for HOLD)
 */
#ifndef OPAL_TERM_RENDER_H
#define OPAL_TERM_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"
#include "hw/led_threshold.h"

typedef enum {
  TERM_COLOUR_AUTO,      /* resolved by term_colour_resolve */
  TERM_COLOUR_TRUECOLOR, /* 24-bit: ESC[38;2;R;G;Bm */
  TERM_COLOUR_256,       /* the 6x6x6 cube of 256-colour terminals */
  TERM_COLOUR_NONE,      /* no colour: on/off glyphs only */
} term_colour;

/* "auto", "truecolor" (or "24bit"), "256", "none"; false for anything else. */
bool term_colour_parse(const char *text, term_colour *out);

/* AUTO becomes: NONE when NO_COLOR is set and not empty; TRUECOLOR when
 * COLORTERM is "truecolor" or "24bit"; 256 when TERM ends in "256color";
 * else NONE. Any other request is returned unchanged. Arguments are the
 * environment variables' values (NULL when unset). */
term_colour term_colour_resolve(term_colour requested, const char *no_color,
                                const char *colorterm, const char *term);

/* Whether the locale can show UTF-8 glyphs: the first of LC_ALL, LC_CTYPE,
 * LANG that is set and not empty decides (it must name UTF-8); when none is
 * set, UTF-8 is assumed. */
bool term_utf8_resolve(const char *lc_all, const char *lc_ctype, const char *lang);

typedef struct term_style {
  term_colour colour; /* never AUTO here */
  bool ascii;         /* '#' and '.' instead of '●' and '○', '~' for '…' */
} term_style;

/* The on/off rule for an LED without colour, the same as the gpio back
 * end's (led_threshold.h): lit when its intensity AA, scaled by the
 * brightest of R, G and B, is above 0x40:
 * round(AA * max(R,G,B) / 255) > 0x40. */
#define TERM_LED_ON_THRESHOLD LED_THRESHOLD_DEFAULT
bool term_led_on(uint32_t rgba);

/* Cuts `src` to `width` columns into `dst` (always NUL-terminated), ending
 * it with '…' ('~' when ascii) when something was cut. A UTF-8 character
 * counts one column, escape sequences none. Returns the columns used. */
int term_fit(char *dst, size_t cap, const char *src, int width, bool ascii);

/* The columns `text` takes, as term_fit counts them. */
int term_columns(const char *text);

/* The LED line, cut to `width`: "● led_0 (power)  ● led_1 ..." when it fits,
 * else "●0 ●1 ●2 ●3 ●4 ●5". Lit LEDs are the glyph in the LED's colour
 * scaled by its intensity (truecolor, 256) or just the lit glyph (none);
 * off LEDs are the dim glyph. Returns strlen of the result. */
size_t term_render_leds(char *buf, size_t cap, const uint32_t leds[LED_COUNT],
                        const term_style *style, int width);

/* The two status lines, each cut to `width`:
 *   "state: connected  device: ID  server: HOST:PORT"
 *   "playing  buffered 60 ms  latency 23 ms  underruns 0  reconnects 1"
 * (latency "-" when there is none yet). Control bytes in the strings
 * become '?'. NULL strings show as "-". */
void term_render_status(char *line1, char *line2, size_t cap, const device_view *view,
                        int width, bool ascii);

/* Everything on the screen. */
typedef struct term_screen {
  uint32_t leds[LED_COUNT];
  device_view view; /* its strings must outlive the call */
  bool have_view;
  int held;              /* button shown as held, or -1 */
  int last_button;       /* the last event sent, or -1 when none */
  int last_event;
} term_screen;

#define TERM_HELP "c connect/disconnect  m mode  p play  s stop  q quit (hold a key for HOLD)"
#define TERM_TITLE "Opal device simulator"

/* The whole frame for a `width` x `height` terminal: every line addressed
 * with ESC[row;1H, cleared, drawn, attributes reset; nothing written past
 * the width or below the height. Returns strlen, or 0 when `cap` was too
 * small (the buffer then holds nothing useful). */
size_t term_render_screen(char *buf, size_t cap, const term_screen *screen,
                          const term_style *style, int width, int height);

#endif
