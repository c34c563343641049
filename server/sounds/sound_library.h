/* The mode sounds: one per mode, loaded from a folder at start-up.
 * A file named "<mode>-<anything>.<ext>" is that mode's sound; modes run
 * contiguously from 0. ".opus"/".ogg" files are passed through packet by
 * packet; anything else is decoded by libsndfile and encoded to Opus. */
#ifndef OPAL_SOUND_LIBRARY_H
#define OPAL_SOUND_LIBRARY_H

#include <stddef.h>

#include "sounds/sound.h"

/* As many modes as the LED patterns tell apart (led_pattern.h). */
#define SOUND_LIBRARY_MAX_MODES 15

typedef struct sound_library {
  sound sounds[SOUND_LIBRARY_MAX_MODES];
  unsigned mode_count;
} sound_library;

/* Loads every mode sound in `dir` into `lib`. Returns 0, or -1 with one
 * line in `err` naming the folder or file at fault; `lib` is then empty. */
int sound_library_load(sound_library *lib, const char *dir, char *err,
                       size_t err_len);

/* Gives every sound its variants in larger packets, up to `max_ms`
 * (sound_repacketize.h). Returns 0, or -1 with one line in `err` naming the
 * sound at fault. */
int sound_library_add_larger_packets(sound_library *lib, unsigned max_ms, char *err,
                                     size_t err_len);

/* Bytes the sounds hold, their variants included. */
size_t sound_library_bytes(const sound_library *lib);

void sound_library_clear(sound_library *lib);

#endif
