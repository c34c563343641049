/* Whether the loop is lastingly late: most packets of the current 1 s
 * window and of the one before went out later than the bound. A loop that
 * falls behind is late for every stream in every window; a single late
 * wake-up (a noisy neighbour) is late in one window, and a slow client,
 * whose packets wait for its own TCP window, is a few streams among many:
 * neither counts. Plain data, one thread. */
#ifndef OPAL_PACING_LAG_H
#define OPAL_PACING_LAG_H

#include <stdbool.h>
#include <stdint.h>

#define PACING_LAG_WINDOW_NS (1000 * 1000000LL)

typedef struct pacing_lag {
  int64_t window_start_ns;
  uint64_t sent, late; /* the current window's packets, and those later than the bound */
  int64_t worst_ns;    /* the current window's worst lateness */
  bool previous_late;  /* most of the previous window's packets were late */
  int64_t previous_worst_ns;
} pacing_lag;

static inline bool pacing_lag_mostly_late(uint64_t sent, uint64_t late) {
  return sent > 0 && late * 2 > sent;
}

/* Starts a new window once the current one is over. */
static inline void pacing_lag_roll(pacing_lag *l, int64_t now_ns) {
  int64_t age = now_ns - l->window_start_ns;
  if (age < PACING_LAG_WINDOW_NS) return;
  bool just_ended = age < 2 * PACING_LAG_WINDOW_NS;
  l->previous_late = just_ended && pacing_lag_mostly_late(l->sent, l->late);
  l->previous_worst_ns = just_ended ? l->worst_ns : 0;
  l->sent = l->late = 0;
  l->worst_ns = 0;
  l->window_start_ns = now_ns;
}

/* A packet went out at `now_ns`, `late_ns` after it was due; `bound_ns`
 * is how late counts as late. */
static inline void pacing_lag_note(pacing_lag *l, int64_t late_ns, int64_t bound_ns,
                                   int64_t now_ns) {
  pacing_lag_roll(l, now_ns);
  l->sent++;
  if (late_ns > bound_ns) l->late++;
  if (late_ns > l->worst_ns) l->worst_ns = late_ns;
}

/* True when the lateness lasted through the previous window and the
 * current one (the previous alone while nothing went out in the current
 * yet); *worst_ns is then the worst lateness of the two. */
static inline bool pacing_lag_over(pacing_lag *l, int64_t now_ns, int64_t *worst_ns) {
  pacing_lag_roll(l, now_ns);
  bool over = l->previous_late && (l->sent == 0 || pacing_lag_mostly_late(l->sent, l->late));
  *worst_ns = l->worst_ns > l->previous_worst_ns ? l->worst_ns : l->previous_worst_ns;
  return over;
}

#endif
