/* A sound as the server streams it: a list of standalone Opus packets
 * (48 kHz mono), built once at start-up and shared read-only by every stream. */
#ifndef OPAL_SOUND_H
#define OPAL_SOUND_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef struct sound_packet {
  size_t offset; /* of the packet's bytes in the sound's arena */
  uint32_t size;
  uint64_t start_sample; /* position of the packet's first sample, at 48 kHz */
} sound_packet;

typedef struct sound {
  char *name; /* the file it came from, for logs */
  sound_packet *packets;
  size_t count;
  uint64_t total_samples;
  uint8_t *arena; /* every packet's bytes, back to back */
  size_t arena_used, arena_cap;
  size_t packets_cap;
} sound;

static inline const uint8_t *sound_packet_data(const sound *s, size_t i) {
  return s->arena + s->packets[i].offset;
}

/* Appends a copy of one Opus packet lasting `samples` (at 48 kHz).
 * Returns 0, or -1 when out of memory. */
int sound_append(sound *s, const uint8_t *data, size_t size, uint32_t samples);

/* Frees what `s` owns (not `s` itself) and zeroes it. */
void sound_clear(sound *s);

/* Duration in milliseconds. */
uint64_t sound_duration_ms(const sound *s);

#endif
