/* The fleet's random mix: each connected device presses Play and Mode as
 * two Poisson processes at their rates per minute, and Stop a fixed time
 * after each Play. One fleet_mix per device; it only decides, the device
 * presses. */
#ifndef OPAL_FLEET_MIX_H
#define OPAL_FLEET_MIX_H

#include <stdint.h>

typedef struct mix_rates {
  double play_per_min, mode_per_min;
  double play_seconds; /* Stop this long after Play; 0 = never */
} mix_rates;

typedef struct fleet_mix {
  uint64_t rng;
  int64_t next_press_ns; /* the next Play or Mode; 0 until the first step */
  int64_t stop_at_ns;    /* the Stop due after a Play; 0 when none is */
} fleet_mix;

/* Presses `button` (BUTTON_PLAY, BUTTON_MODE, BUTTON_STOP) at `now_ns`. */
typedef void (*mix_press_fn)(void *ctx, int button, int64_t now_ns);

void fleet_mix_init(fleet_mix *m, uint64_t seed);

/* Makes the presses due by `now_ns`. Call it while the device is
 * connected; time spent offline only delays the presses. */
void fleet_mix_step(fleet_mix *m, const mix_rates *rates, int64_t now_ns, mix_press_fn press,
                    void *ctx);

#endif
