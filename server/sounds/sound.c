#include "sounds/sound.h"

#include <stdlib.h>
#include <string.h>

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
  s->packets[s->count] = (sound_packet){
      .offset = s->arena_used,
      .size = (uint32_t)size,
      .start_sample = s->total_samples,
  };
  s->count++;
  s->arena_used += size;
  s->total_samples += samples;
  return 0;
}

void sound_clear(sound *s) {
  free(s->name);
  free(s->packets);
  free(s->arena);
  memset(s, 0, sizeof *s);
}

uint64_t sound_duration_ms(const sound *s) {
  return s->total_samples * 1000 / WIRE_SAMPLE_RATE;
}
