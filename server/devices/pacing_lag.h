/* How late the loop sends due packets, as a lateness that lasted: the
 * worst of the current 1 s window and the worst of the one before, and the
 * smaller of the two. A loop that falls behind under load is late in
 * every window; a single late wake-up (a noisy neighbour, a page fault)
 * is late in one, and does not count. Plain data, one thread. */
#ifndef OPAL_PACING_LAG_H
#define OPAL_PACING_LAG_H

#include <stdbool.h>
#include <stdint.h>

#define PACING_LAG_WINDOW_NS (1000 * 1000000LL)

typedef struct pacing_lag {
  int64_t window_start_ns;
  int64_t current_max_ns;  /* in the window that started at window_start_ns */
  bool current_noted;      /* a packet went out in it */
  int64_t previous_max_ns; /* in the window before it, if it just ended */
} pacing_lag;

/* Starts a new window once the current one is over. */
static inline void pacing_lag_roll(pacing_lag *l, int64_t now_ns) {
  int64_t age = now_ns - l->window_start_ns;
  if (age < PACING_LAG_WINDOW_NS) return;
  l->previous_max_ns = age < 2 * PACING_LAG_WINDOW_NS ? l->current_max_ns : 0;
  l->current_max_ns = 0;
  l->current_noted = false;
  l->window_start_ns = now_ns;
}

/* A packet due at `due_ns` went out at `now_ns`. */
static inline void pacing_lag_note(pacing_lag *l, int64_t due_ns, int64_t now_ns) {
  pacing_lag_roll(l, now_ns);
  int64_t late = now_ns - due_ns;
  if (late > l->current_max_ns) l->current_max_ns = late;
  l->current_noted = true;
}

/* The lateness that lasted through the previous window and the current
 * one (the previous alone while nothing went out in the current yet). */
static inline int64_t pacing_lag_recent(pacing_lag *l, int64_t now_ns) {
  pacing_lag_roll(l, now_ns);
  if (!l->current_noted) return l->previous_max_ns;
  return l->current_max_ns < l->previous_max_ns ? l->current_max_ns : l->previous_max_ns;
}

#endif
