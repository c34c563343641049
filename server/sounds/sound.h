/* A sound as the server streams it: a list of standalone Opus packets
 * (48 kHz mono), built once at start-up and shared read-only by every stream.
 * A mode's sound may also own the same audio in larger packets
 * (sound_repacketize.h), for clients that ask for them (docs/protocol.md). */
#ifndef OPAL_SOUND_H
#define OPAL_SOUND_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef struct sound_packet {
  size_t offset; /* of the packet's bytes in the sound's arena */
  uint32_t size;
  uint64_t start_sample; /* position of the packet's first sample, at 48 kHz */
  /* The packet_digest hash of packets 0 to this one. A stream sends a
   * sound's packets in order from the first, so what it has sent is always
   * such a prefix: its digest is read here, not hashed byte by byte per
   * stream (the hashing was the largest cost of our own per packet). */
  uint64_t digest_after;
} sound_packet;

typedef struct sound {
  char *name; /* the file it came from, for logs */
  sound_packet *packets;
  size_t count;
  uint64_t total_samples;
  uint8_t *arena; /* every packet's bytes, back to back */
  size_t arena_used, arena_cap;
  size_t packets_cap;
  /* The same audio in larger packets, owned: larger[k] holds packets of up
   * to (k + 2) * SOUND_PACKET_MS_STEP ms; larger_count may be 0. */
  struct sound *larger;
  size_t larger_count;
} sound;

/* Packet durations clients may be granted: 20, 40, ... 120 ms (the most one
 * Opus packet may carry). */
#define SOUND_PACKET_MS_STEP 20
#define SOUND_MAX_PACKET_MS 120

static inline const uint8_t *sound_packet_data(const sound *s, size_t i) {
  return s->arena + s->packets[i].offset;
}

/* Appends a copy of one Opus packet lasting `samples` (at 48 kHz).
 * Returns 0, or -1 when out of memory. */
int sound_append(sound *s, const uint8_t *data, size_t size, uint32_t samples);

/* Gives back the room `s` grew for packets it did not get (kept for long). */
void sound_fit(sound *s);

/* `s` or its variant with the largest packets of at most `packet_ms`
 * (borrowed from `s`); `s` itself for 20 ms or less. */
const sound *sound_with_packets(const sound *s, unsigned packet_ms);

/* Nominal packet duration of `s` as sound_with_packets picked it: 20 for a
 * sound's own packets, 40 for larger[0], ... */
unsigned sound_packet_ms(const sound *base, const sound *variant);

/* Bytes `s` holds for its packets, with its larger variants. */
size_t sound_bytes(const sound *s);

/* Frees what `s` owns (its variants too, not `s` itself) and zeroes it. */
void sound_clear(sound *s);

/* Duration in milliseconds. */
uint64_t sound_duration_ms(const sound *s);

#endif
