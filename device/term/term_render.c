#include "term/term_render.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hw/led_threshold.h"
#include "term/term_keys.h"

#define LINE_CAP 2048

/* ---- choosing a style ---- */

bool term_colour_parse(const char *text, term_colour *out) {
  static const struct { const char *name; term_colour colour; } names[] = {
      {"auto", TERM_COLOUR_AUTO}, {"truecolor", TERM_COLOUR_TRUECOLOR},
      {"24bit", TERM_COLOUR_TRUECOLOR}, {"256", TERM_COLOUR_256}, {"none", TERM_COLOUR_NONE},
  };
  for (size_t i = 0; text && i < sizeof names / sizeof *names; i++) {
    if (strcmp(text, names[i].name) == 0) {
      *out = names[i].colour;
      return true;
    }
  }
  return false;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

term_colour term_colour_resolve(term_colour requested, const char *no_color,
                                const char *colorterm, const char *term) {
  if (requested != TERM_COLOUR_AUTO) return requested;
  if (no_color && *no_color) return TERM_COLOUR_NONE;
  if (colorterm && (strcmp(colorterm, "truecolor") == 0 || strcmp(colorterm, "24bit") == 0))
    return TERM_COLOUR_TRUECOLOR;
  if (term && ends_with(term, "256color")) return TERM_COLOUR_256;
  return TERM_COLOUR_NONE;
}

bool term_utf8_resolve(const char *lc_all, const char *lc_ctype, const char *lang) {
  const char *vars[] = {lc_all, lc_ctype, lang};
  for (int i = 0; i < 3; i++) {
    const char *v = vars[i];
    if (!v || !*v) continue;
    for (const char *p = v; *p; p++)
      if (strncasecmp(p, "utf-8", 5) == 0 || strncasecmp(p, "utf8", 4) == 0) return true;
    return false;
  }
  return true;
}

bool term_led_on(uint32_t rgba) { return led_is_on(rgba, TERM_LED_ON_THRESHOLD); }

/* ---- text builder ---- */

typedef struct sbuf {
  char *buf;
  size_t cap, len;
  bool overflow;
} sbuf;

static void sb_init(sbuf *s, char *buf, size_t cap) {
  *s = (sbuf){.buf = buf, .cap = cap};
  if (cap) buf[0] = '\0';
}

static void sb_add(sbuf *s, const char *text, size_t n) {
  if (s->overflow || s->len + n + 1 > s->cap) {
    s->overflow = true;
    return;
  }
  memcpy(s->buf + s->len, text, n);
  s->len += n;
  s->buf[s->len] = '\0';
}

static void sb_puts(sbuf *s, const char *text) { sb_add(s, text, strlen(text)); }

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *s, const char *fmt, ...) {
  char tmp[LINE_CAP];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof tmp) {
    s->overflow = true;
    return;
  }
  sb_add(s, tmp, (size_t)n);
}

/* ---- columns ---- */

/* The length in bytes of the unit starting at p (an escape sequence, or a
 * character with its UTF-8 continuation bytes) and its columns. */
static size_t unit_at(const char *p, int *cols) {
  const unsigned char *u = (const unsigned char *)p;
  size_t n = 1;
  if (u[0] == 0x1B && u[1] == '[') {
    n = 2;
    while (u[n] && (u[n] < 0x40 || u[n] > 0x7E)) n++;
    if (u[n]) n++;
    *cols = 0;
    return n;
  }
  while ((u[n] & 0xC0) == 0x80) n++;
  *cols = 1;
  return n;
}

int term_columns(const char *text) {
  int total = 0, c;
  for (const char *p = text; *p;) {
    p += unit_at(p, &c);
    total += c;
  }
  return total;
}

int term_fit(char *dst, size_t cap, const char *src, int width, bool ascii) {
  if (!cap) return 0;
  dst[0] = '\0';
  if (width <= 0) return 0;
  const char *more = ascii ? "~" : "\xE2\x80\xA6"; /* U+2026 … */
  bool cut = term_columns(src) > width;
  int limit = cut ? width - 1 : width, used = 0, c;
  size_t len = 0, reserve = (cut ? strlen(more) : 0) + 1;
  for (const char *p = src; *p;) {
    size_t n = unit_at(p, &c);
    if (used + c > limit || len + n + reserve > cap) {
      cut = true; /* out of room in the buffer counts as cut too */
      break;
    }
    memcpy(dst + len, p, n);
    len += n;
    used += c;
    p += n;
  }
  if (cut && used < width && len + strlen(more) + 1 <= cap) {
    memcpy(dst + len, more, strlen(more));
    len += strlen(more);
    used++;
  }
  dst[len] = '\0';
  return used;
}

/* ---- LEDs ---- */

static void led_glyph(sbuf *s, uint32_t rgba, const term_style *st) {
  bool on = term_led_on(rgba);
  const char *glyph = on ? (st->ascii ? "#" : "\xE2\x97\x8F")  /* ● */
                         : (st->ascii ? "." : "\xE2\x97\x8B"); /* ○ */
  unsigned a = rgba & 0xFF;
  unsigned r = (rgba >> 24) * a / 255, g = ((rgba >> 16) & 0xFF) * a / 255,
           b = ((rgba >> 8) & 0xFF) * a / 255;
  switch (st->colour) {
  case TERM_COLOUR_TRUECOLOR:
    if (on) sb_printf(s, "\x1B[38;2;%u;%u;%um%s\x1B[39m", r, g, b, glyph);
    else sb_printf(s, "\x1B[38;2;96;96;96m%s\x1B[39m", glyph);
    break;
  case TERM_COLOUR_256:
    if (on)
      sb_printf(s, "\x1B[38;5;%um%s\x1B[39m",
                16 + 36 * ((r * 5 + 127) / 255) + 6 * ((g * 5 + 127) / 255) + (b * 5 + 127) / 255,
                glyph);
    else sb_printf(s, "\x1B[38;5;240m%s\x1B[39m", glyph);
    break;
  default:
    sb_puts(s, glyph);
    break;
  }
}

size_t term_render_leds(char *buf, size_t cap, const uint32_t leds[LED_COUNT],
                        const term_style *style, int width) {
  char full[LINE_CAP], compact[LINE_CAP];
  sbuf f, c;
  sb_init(&f, full, sizeof full);
  sb_init(&c, compact, sizeof compact);
  for (int i = 0; i < LED_COUNT; i++) {
    if (i) {
      sb_puts(&f, "  ");
      sb_puts(&c, " ");
    }
    led_glyph(&f, leds[i], style);
    sb_printf(&f, " led_%d%s", i, i == 0 ? " (power)" : "");
    led_glyph(&c, leds[i], style);
    sb_printf(&c, "%d", i);
  }
  if (!cap) return 0;
  term_fit(buf, cap, term_columns(full) <= width ? full : compact, width, style->ascii);
  return strlen(buf);
}

/* ---- status ---- */

static void clean(char *dst, size_t cap, const char *src) {
  if (!src || !*src) src = "-";
  size_t i = 0;
  for (; src[i] && i + 1 < cap; i++)
    dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7F ? '?' : src[i];
  dst[i] = '\0';
}

void term_render_status(char *line1, char *line2, size_t cap, const device_view *v, int width,
                        bool ascii) {
  char id[256], server[256], state[64], latency[32], text[LINE_CAP];
  clean(id, sizeof id, v->device_id);
  clean(server, sizeof server, v->server);
  clean(state, sizeof state, v->connection);
  if (v->last_latency_ms >= 0) snprintf(latency, sizeof latency, "%.0f ms", v->last_latency_ms);
  else snprintf(latency, sizeof latency, "-");

  snprintf(text, sizeof text, "state: %s  device: %s  server: %s", state, id, server);
  term_fit(line1, cap, text, width, ascii);
  snprintf(text, sizeof text, "%s  buffered %u ms  latency %s  underruns %u  reconnects %u",
           v->playing ? "playing" : "idle", v->buffered_ms, latency, v->underruns, v->reconnects);
  term_fit(line2, cap, text, width, ascii);
}

/* ---- screen ---- */

static void render_buttons(sbuf *s, const term_screen *scr, const term_style *st) {
  static const int order[BUTTON_COUNT] = {BUTTON_CONNECT, BUTTON_MODE, BUTTON_PLAY,
                                             BUTTON_STOP};
  sb_puts(s, "buttons:");
  for (int i = 0; i < BUTTON_COUNT; i++) {
    int b = order[i];
    if (b == scr->held)
      sb_printf(s, " %s[%s]%s", st->colour == TERM_COLOUR_NONE ? "" : "\x1B[7m",
                wire_button_word(b), st->colour == TERM_COLOUR_NONE ? "" : "\x1B[27m");
    else sb_printf(s, "  %s ", wire_button_word(b));
  }
  if (scr->last_button >= 0)
    sb_printf(s, "   last: %s %s", wire_button_word(scr->last_button),
              wire_event_label(scr->last_event));
  else sb_puts(s, "   last: -");
}

enum { ROW_TITLE, ROW_LEDS, ROW_STATUS1, ROW_STATUS2, ROW_BUTTONS, ROW_HELP, ROW_COUNT };

size_t term_render_screen(char *buf, size_t cap, const term_screen *scr, const term_style *st,
                          int width, int height) {
  char text[ROW_COUNT][LINE_CAP], tmp[LINE_CAP];
  sbuf s;
  if (width < 1 || height < 1) {
    if (cap) buf[0] = '\0';
    return 0;
  }
  int inner = width - 1; /* one column of margin on the left */

  snprintf(text[ROW_TITLE], LINE_CAP, "%s", TERM_TITLE);
  term_render_leds(text[ROW_LEDS], LINE_CAP, scr->leds, st, inner);
  device_view none = {.last_latency_ms = -1};
  term_render_status(text[ROW_STATUS1], text[ROW_STATUS2], LINE_CAP,
                     scr->have_view ? &scr->view : &none, inner, st->ascii);
  sb_init(&s, tmp, sizeof tmp);
  render_buttons(&s, scr, st);
  term_fit(text[ROW_BUTTONS], LINE_CAP, tmp, inner, st->ascii);
  term_fit(text[ROW_HELP], LINE_CAP, TERM_HELP, inner, st->ascii);

  /* Rows: spaced out when there is room, else packed, most important first. */
  static const int spaced[] = {ROW_TITLE, -1, ROW_LEDS, -1, ROW_STATUS1, ROW_STATUS2,
                               -1, ROW_BUTTONS, -1, ROW_HELP};
  static const int packed[] = {ROW_LEDS, ROW_STATUS1, ROW_STATUS2, ROW_BUTTONS, ROW_HELP,
                               ROW_TITLE};
  const int *rows = packed;
  int nrows = (int)(sizeof packed / sizeof *packed);
  if (height >= (int)(sizeof spaced / sizeof *spaced)) {
    rows = spaced;
    nrows = (int)(sizeof spaced / sizeof *spaced);
  }
  if (nrows > height) nrows = height;

  sb_init(&s, buf, cap);
  for (int i = 0; i < nrows; i++) {
    sb_printf(&s, "\x1B[%d;1H\x1B[2K", i + 1);
    if (rows[i] < 0) continue;
    if (rows[i] == ROW_TITLE) {
      term_fit(tmp, sizeof tmp, text[ROW_TITLE], inner, st->ascii);
      sb_printf(&s, " \x1B[1m%s\x1B[0m", tmp);
    } else {
      sb_printf(&s, " %s\x1B[0m", text[rows[i]]);
    }
  }
  if (nrows < height) sb_printf(&s, "\x1B[%d;1H\x1B[J", nrows + 1);
  return s.overflow ? 0 : s.len;
}
