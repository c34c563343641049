/* Larger packets of a sound, made from its own packets by libopus's
 * repacketizer: the same frames under fewer packet headers, nothing encoded
 * again, so they decode to the very same samples. */
#ifndef OPAL_SOUND_REPACKETIZE_H
#define OPAL_SOUND_REPACKETIZE_H

#include <stddef.h>

#include "sounds/sound.h"

/* Appends to `out` the packets of `in` merged into packets of at most
 * `max_ms`: consecutive packets join while their total stays within
 * `max_ms` and the repacketizer takes them (it refuses a packet coded
 * differently, which then starts a new one). A packet longer than `max_ms`
 * stays as it is. Returns 0, or -1 with a reason in `err`. */
int sound_repacketize(const sound *in, unsigned max_ms, sound *out, char *err, size_t err_len);

/* Gives `s` its variants with packets of up to 40, 60, ... `max_ms` ms
 * (s->larger; none for max_ms below 40). Returns 0, or -1 with a reason in
 * `err`; `s` then has no variants. */
int sound_add_larger_packets(sound *s, unsigned max_ms, char *err, size_t err_len);

#endif
