/* When each packet of a sound is due: at its position in real time, minus
 * the lead, so that the device always holds `lead` of audio in hand. */
#ifndef OPAL_PACER_H
#define OPAL_PACER_H

#include <stdbool.h>
#include <stdint.h>

#include "sounds/sound.h"

/* The monotonic time at which packet `index` of `s` is due, for a stream
 * that started at `start_ns` and runs `lead_ns` ahead. */
int64_t pacer_due_ns(const sound *s, size_t index, int64_t start_ns, int64_t lead_ns);

/* True when packet `index` may be sent at `now_ns`. */
bool pacer_is_due(const sound *s, size_t index, int64_t start_ns, int64_t lead_ns,
                  int64_t now_ns);

#endif
