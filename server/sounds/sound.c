#include "sounds/sound.h"

#include <stdlib.h>
#include <string.h>

#include "packet_digest.h"

static int grow(void **buf, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t cap2 = *cap ? *cap : 64;
  while (cap2 < need) cap2 *= 2;
  void *p = realloc(*buf, cap2 * elem);
  if (!p) return -1;
  *buf = p;
  *cap = cap2;
  return 0;
}

int sound_append(sound *s, const uint8_t *data, size_t size, uint32_t samples) {
  if (grow((void **)&s->arena, &s->arena_cap, s->arena_used + size, 1) != 0 ||
      grow((void **)&s->packets, &s->packets_cap, s->count + 1,
           sizeof *s->packets) != 0)
    return -1;
  memcpy(s->arena + s->arena_used, data, size);
  packet_digest prefix;
  packet_digest_init(&prefix);
  if (s->count > 0) prefix.hash = s->packets[s->count - 1].digest_after;
  packet_digest_add(&prefix, data, size);
  s->packets[s->count] = (sound_packet){
      .offset = s->arena_used,
      .size = (uint32_t)size,
      .start_sample = s->total_samples,
      .digest_after = prefix.hash,
  };
  s->count++;
  s->arena_used += size;
  s->total_samples += samples;
  return 0;
}

void sound_fit(sound *s) {
  if (s->count == 0) return;
  uint8_t *arena = realloc(s->arena, s->arena_used);
  sound_packet *packets = realloc(s->packets, s->count * sizeof *s->packets);
  /* A failed shrink keeps the larger block, which is still good. */
  if (arena) {
    s->arena = arena;
    s->arena_cap = s->arena_used;
  }
  if (packets) {
    s->packets = packets;
    s->packets_cap = s->count;
  }
}

const sound *sound_with_packets(const sound *s, unsigned packet_ms) {
  size_t k = packet_ms / SOUND_PACKET_MS_STEP;
  if (k < 2) return s;
  if (k - 2 >= s->larger_count) k = s->larger_count + 1;
  return k < 2 ? s : &s->larger[k - 2];
}

unsigned sound_packet_ms(const sound *base, const sound *variant) {
  for (size_t k = 0; k < base->larger_count; k++)
    if (variant == &base->larger[k]) return (unsigned)(k + 2) * SOUND_PACKET_MS_STEP;
  return SOUND_PACKET_MS_STEP;
}

static size_t own_bytes(const sound *s) {
  return s->arena_cap + s->packets_cap * sizeof *s->packets;
}

size_t sound_bytes(const sound *s) {
  size_t n = own_bytes(s) + s->larger_count * sizeof *s->larger;
  for (size_t k = 0; k < s->larger_count; k++) n += own_bytes(&s->larger[k]);
  return n;
}

void sound_clear(sound *s) {
  for (size_t k = 0; k < s->larger_count; k++) sound_clear(&s->larger[k]);
  free(s->larger);
  free(s->name);
  free(s->packets);
  free(s->arena);
  memset(s, 0, sizeof *s);
}

uint64_t sound_duration_ms(const sound *s) {
  return s->total_samples * 1000 / WIRE_SAMPLE_RATE;
}
