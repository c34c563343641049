#include "devices/device_machine.h"

#include <stddef.h>

static device_outcome refuse(const char *why) {
  return (device_outcome){.ack = false, .effects = 0, .note = why};
}

static device_outcome accept(unsigned effects) {
  return (device_outcome){.ack = true, .effects = effects, .note = NULL};
}

static device_outcome press(device_state *s, int button, unsigned mode_count,
                            const char *no_play) {
  switch (button) {
  case BUTTON_MODE:
    /* The sound keeps playing; the next Play decides what plays. */
    s->mode = (s->mode + 1) % mode_count;
    return accept(EFFECT_LEDS);
  case BUTTON_PLAY:
    if (no_play) return refuse(no_play);
    if (s->playing) return accept(EFFECT_END_SOUND | EFFECT_START_SOUND);
    s->playing = true;
    return accept(EFFECT_LEDS | EFFECT_START_SOUND);
  case BUTTON_STOP:
    if (!s->playing) return accept(0);
    s->playing = false;
    return accept(EFFECT_LEDS | EFFECT_END_SOUND);
  case BUTTON_CONNECT:
    /* Connect is handled on the device itself; nothing to do here. */
    return accept(0);
  default:
    return refuse("unknown button");
  }
}

device_outcome device_machine_button(device_state *s, int button, int event,
                                     unsigned mode_count, const char *no_play) {
  if (button < BUTTON_CONNECT || button > BUTTON_PLAY) return refuse("unknown button");
  switch (event) {
  case EVENT_PRESS:
    return press(s, button, mode_count, no_play);
  case EVENT_HOLD:
  case EVENT_RELEASE:
    /* Buttons act on PRESS; HOLD and RELEASE are acknowledged and ignored. */
    return accept(0);
  default:
    return refuse("unknown event type");
  }
}

device_outcome device_machine_sound_over(device_state *s) {
  if (!s->playing) return accept(0);
  s->playing = false;
  return accept(EFFECT_LEDS);
}
