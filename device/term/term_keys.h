/* Keys for the terminal back end (--sim): which byte is which button, and
 * PRESS / HOLD / RELEASE from a terminal that reports no key-up. Pure: time
 * comes in as arguments, so tests drive it with fake timestamps.
 *
 * A terminal sends a byte when a key goes down and then, while it stays
 * down, the same byte again and again (autorepeat: a first delay of about
 * 250-660 ms, then 25-40 repeats a second). It never says when the key goes
 * up. So, for the one key considered held:
 *
 *   - its first byte is a PRESS, sent at once;
 *   - a byte of another key releases it (RELEASE) and presses that key;
 *   - with no second byte within `first_repeat_ns` (700 ms) of the PRESS it is
 *     released: the key was tapped (autorepeat would have started by then);
 *   - a second byte followed by a third within `repeat_gap_ns` (150 ms) means
 *     autorepeat: the key is down. Once it has been down for `hold_ns`
 *     (800 ms by default) since its PRESS, with the repeats still coming, a
 *     HOLD goes out, once. When the repeats stop (no byte for
 *     `repeat_gap_ns`) it is released;
 *   - a second byte that nothing follows within `repeat_gap_ns` was not
 *     autorepeat but a second tap: RELEASE and PRESS go out then, dated
 *     when that byte came (so they are `repeat_gap_ns` late).
 *
 * Limits: taps of one key faster than `repeat_gap_ns` apart look like
 * autorepeat (three quick m's are one long Mode press); an autorepeat
 * slower than one repeat per `repeat_gap_ns` looks like taps; with
 * autorepeat off a key is never held. */
#ifndef OPAL_TERM_KEYS_H
#define OPAL_TERM_KEYS_H

#include <stdbool.h>
#include <stdint.h>

/* What a byte means; buttons are the BUTTON_* values (0..3). */
#define TERM_KEY_NONE (-1) /* not a key of ours (or part of an escape sequence) */
#define TERM_KEY_QUIT (-2) /* q, Q, Ctrl-D */

/* Splits input bytes into keys, skipping escape sequences (arrows, F-keys,
 * Alt+key), so that ESC O P (F1) is not a P. Zero-initialise. */
typedef struct term_decoder {
  int state;
  int64_t esc_at;
} term_decoder;

/* An escape sequence not finished within this long is abandoned (a lone Esc). */
#define TERM_ESC_TIMEOUT_NS (100 * INT64_C(1000000))

int term_decode_byte(term_decoder *d, unsigned char byte, int64_t now_ns);

typedef struct term_key_timing {
  int64_t hold_ns;         /* HOLD once autorepeat has lasted this long since the PRESS */
  int64_t first_repeat_ns; /* no second byte this long after the PRESS: released */
  int64_t repeat_gap_ns;   /* autorepeat has stopped when no byte came this long */
} term_key_timing;

#define TERM_DEFAULT_HOLD_MS 800
#define TERM_DEFAULT_FIRST_REPEAT_MS 700
#define TERM_DEFAULT_REPEAT_GAP_MS 150

typedef struct term_key_event {
  int button; /* BUTTON_* */
  int event;  /* EVENT_PRESS, EVENT_HOLD, EVENT_RELEASE */
  int64_t at_ns;
} term_key_event;

/* The most events one call can produce. */
#define TERM_KEYS_MAX_EVENTS 4

typedef struct term_keys {
  term_key_timing timing;
  int button; /* the key considered held, or -1 */
  int phase;  /* internal */
  int64_t pressed_at, last_at;
  bool hold_sent;
} term_keys;

/* Default timings, with `hold_ms` for HOLD (0 = TERM_DEFAULT_HOLD_MS). */
term_key_timing term_key_timing_default(unsigned hold_ms);

void term_keys_init(term_keys *k, const term_key_timing *timing);

/* A byte for `button` came at `now_ns`. Writes the events it causes (and any
 * that fell due before it) to `out`, oldest first; returns their count. */
int term_keys_key(term_keys *k, int button, int64_t now_ns,
                  term_key_event out[TERM_KEYS_MAX_EVENTS]);

/* Time has reached `now_ns`: writes the HOLDs and RELEASEs due by then. */
int term_keys_tick(term_keys *k, int64_t now_ns, term_key_event out[TERM_KEYS_MAX_EVENTS]);

/* When term_keys_tick must next be called, or INT64_MAX when nothing is pending. */
int64_t term_keys_deadline(const term_keys *k);

/* The button considered held down now, or -1. */
int term_keys_held(const term_keys *k);

#endif
