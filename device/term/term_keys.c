#include "term/term_keys.h"

#include "clock.h"
#include "hw/hw.h"

/* ---- bytes to keys ---- */

enum { DEC_GROUND, DEC_ESC, DEC_CSI, DEC_SS3 };

int term_decode_byte(term_decoder *d, unsigned char byte, int64_t now_ns) {
  if (d->state != DEC_GROUND && now_ns - d->esc_at > TERM_ESC_TIMEOUT_NS) d->state = DEC_GROUND;
  switch (d->state) {
  case DEC_ESC:
    /* ESC [ starts a CSI sequence, ESC O an SS3 one; ESC x is Alt+x: ignored. */
    d->state = byte == '[' ? DEC_CSI : byte == 'O' ? DEC_SS3 : DEC_GROUND;
    if (byte == 0x1B) d->state = DEC_ESC, d->esc_at = now_ns;
    return TERM_KEY_NONE;
  case DEC_CSI:
    /* Parameters and intermediates 0x20-0x3F; a final byte 0x40-0x7E ends it. */
    if (byte < 0x20 || byte > 0x3F) d->state = DEC_GROUND;
    return TERM_KEY_NONE;
  case DEC_SS3:
    d->state = DEC_GROUND;
    return TERM_KEY_NONE;
  default:
    break;
  }
  switch (byte) {
  case 0x1B:
    d->state = DEC_ESC;
    d->esc_at = now_ns;
    return TERM_KEY_NONE;
  case 'c': case 'C': return BUTTON_CONNECT;
  case 'm': case 'M': return BUTTON_MODE;
  case 'p': case 'P': return BUTTON_PLAY;
  case 's': case 'S': return BUTTON_STOP;
  case 'q': case 'Q': case 0x04: return TERM_KEY_QUIT;
  default: return TERM_KEY_NONE;
  }
}

/* ---- press, hold, release ---- */

enum {
  PH_IDLE,      /* no key held */
  PH_PRESSED,   /* PRESS sent, no second byte yet */
  PH_MAYBE,     /* one more byte at last_at: autorepeat starting, or a second tap */
  PH_REPEATING, /* autorepeat: the key is down */
};

term_key_timing term_key_timing_default(unsigned hold_ms) {
  term_key_timing t = {
      .hold_ns = (int64_t)(hold_ms ? hold_ms : TERM_DEFAULT_HOLD_MS) * NS_PER_MS,
      .first_repeat_ns = TERM_DEFAULT_FIRST_REPEAT_MS * NS_PER_MS,
      .repeat_gap_ns = TERM_DEFAULT_REPEAT_GAP_MS * NS_PER_MS,
  };
  return t;
}

void term_keys_init(term_keys *k, const term_key_timing *timing) {
  *k = (term_keys){.timing = timing ? *timing : term_key_timing_default(0), .button = -1};
}

static void emit(term_key_event *out, int *n, int button, int event, int64_t at) {
  out[(*n)++] = (term_key_event){.button = button, .event = event, .at_ns = at};
}

static void press(term_keys *k, int button, int64_t at, term_key_event *out, int *n) {
  emit(out, n, button, EVENT_PRESS, at);
  k->button = button;
  k->phase = PH_PRESSED;
  k->pressed_at = k->last_at = at;
  k->hold_sent = false;
}

static void release(term_keys *k, int64_t at, term_key_event *out, int *n) {
  emit(out, n, k->button, EVENT_RELEASE, at);
  k->button = -1;
  k->phase = PH_IDLE;
}

/* HOLD is due when the repeats were still coming at pressed_at + hold_ns. */
static void check_hold(term_keys *k, int64_t now, term_key_event *out, int *n) {
  int64_t hold_at = k->pressed_at + k->timing.hold_ns;
  if (k->phase == PH_REPEATING && !k->hold_sent && now >= hold_at &&
      hold_at < k->last_at + k->timing.repeat_gap_ns) {
    emit(out, n, k->button, EVENT_HOLD, hold_at);
    k->hold_sent = true;
  }
}

int term_keys_tick(term_keys *k, int64_t now, term_key_event out[TERM_KEYS_MAX_EVENTS]) {
  int n = 0;
  if (k->phase == PH_MAYBE && now >= k->last_at + k->timing.repeat_gap_ns) {
    /* A lone second byte: a second tap, not autorepeat. */
    int button = k->button;
    int64_t at = k->last_at;
    release(k, at, out, &n);
    press(k, button, at, out, &n);
  }
  if (k->phase == PH_PRESSED && now >= k->pressed_at + k->timing.first_repeat_ns)
    release(k, k->pressed_at + k->timing.first_repeat_ns, out, &n);
  if (k->phase == PH_REPEATING) {
    check_hold(k, now, out, &n);
    if (now >= k->last_at + k->timing.repeat_gap_ns)
      release(k, k->last_at + k->timing.repeat_gap_ns, out, &n);
  }
  return n;
}

int term_keys_key(term_keys *k, int button, int64_t now, term_key_event out[TERM_KEYS_MAX_EVENTS]) {
  int n = term_keys_tick(k, now, out);
  if (k->phase != PH_IDLE && k->button != button) {
    if (k->phase == PH_MAYBE) { /* the pending byte was a second tap */
      int held = k->button;
      release(k, k->last_at, out, &n);
      press(k, held, k->last_at, out, &n);
    }
    release(k, now, out, &n);
  }
  switch (k->phase) {
  case PH_IDLE:
    press(k, button, now, out, &n);
    break;
  case PH_PRESSED:
    k->phase = PH_MAYBE;
    k->last_at = now;
    break;
  default: /* PH_MAYBE, PH_REPEATING: autorepeat */
    k->phase = PH_REPEATING;
    k->last_at = now;
    check_hold(k, now, out, &n);
    break;
  }
  return n;
}

int64_t term_keys_deadline(const term_keys *k) {
  switch (k->phase) {
  case PH_PRESSED:
    return k->pressed_at + k->timing.first_repeat_ns;
  case PH_MAYBE:
    return k->last_at + k->timing.repeat_gap_ns;
  case PH_REPEATING: {
    int64_t release_at = k->last_at + k->timing.repeat_gap_ns;
    int64_t hold_at = k->pressed_at + k->timing.hold_ns;
    return !k->hold_sent && hold_at < release_at ? hold_at : release_at;
  }
  default:
    return INT64_MAX;
  }
}

int term_keys_held(const term_keys *k) { return k->button; }
