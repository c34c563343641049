#include "fleet/fleet_mix.h"

#include <math.h>

#include "net/backoff.h"
#include "wire.h"

void fleet_mix_init(fleet_mix *m, uint64_t seed) { *m = (fleet_mix){.rng = seed}; }

/* In [0, 1), from the top 53 bits: every double there equally likely. */
static double uniform(fleet_mix *m) {
  return (double)(backoff_random(&m->rng) >> 11) / (double)(1ULL << 53);
}

/* The wait until the next event of a Poisson process with `per_min`. */
static int64_t exponential_ns(fleet_mix *m, double per_min) {
  double u = uniform(m);
  return (int64_t)(-log(1.0 - u) * 60.0 / per_min * 1e9);
}

void fleet_mix_step(fleet_mix *m, const mix_rates *rates, int64_t now_ns, mix_press_fn press,
                    void *ctx) {
  /* Play and Mode together are one process at the summed rate; each of its
   * events is a Play with probability play / (play + mode). */
  double rate = rates->play_per_min + rates->mode_per_min;
  if (rate <= 0) return;
  if (m->stop_at_ns && now_ns >= m->stop_at_ns) {
    m->stop_at_ns = 0;
    press(ctx, BUTTON_STOP, now_ns);
  }
  if (!m->next_press_ns) m->next_press_ns = now_ns + exponential_ns(m, rate);
  if (now_ns < m->next_press_ns) return;
  m->next_press_ns = now_ns + exponential_ns(m, rate);
  if (uniform(m) * rate < rates->play_per_min) {
    press(ctx, BUTTON_PLAY, now_ns);
    if (rates->play_seconds > 0) m->stop_at_ns = now_ns + (int64_t)(rates->play_seconds * 1e9);
  } else {
    press(ctx, BUTTON_MODE, now_ns);
  }
}
