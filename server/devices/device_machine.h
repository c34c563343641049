/* The per-device state machine: what each button does in each state.
 * Pure logic, no I/O: the caller carries out the returned effects. */
#ifndef OPAL_DEVICE_MACHINE_H
#define OPAL_DEVICE_MACHINE_H

#include <stdbool.h>

#include "wire.h"

typedef struct device_state {
  unsigned mode;
  bool playing;
} device_state;

enum device_effect {
  EFFECT_LEDS = 1 << 0,       /* send the new LED pattern */
  EFFECT_END_SOUND = 1 << 1,  /* end the sound now playing (is_end) */
  EFFECT_START_SOUND = 1 << 2 /* start the current mode's sound (is_start) */
};

typedef struct device_outcome {
  bool ack;         /* the DeviceEventResponse.ack value */
  unsigned effects; /* enum device_effect bits, applied in the order above */
  const char *note; /* why ack is false, for the log; NULL when ack is true */
} device_outcome;

/* Applies one button event. `mode_count` is how many modes have sounds;
 * `no_play` is NULL when Play may start a sound, else why it may not (no
 * audio stream open, the server at capacity): Play is then refused with
 * that note. Unknown button or event values are refused (ack=false),
 * never applied. */
device_outcome device_machine_button(device_state *s, int button, int event,
                                     unsigned mode_count, const char *no_play);

/* The sound ended by itself, or its stream went away. */
device_outcome device_machine_sound_over(device_state *s);

#endif
