/* The server's Ogg Opus reader (server/sounds/ogg_opus_reader.c), the
 * parser of every .opus/.ogg mode sound it loads at start-up: the input is
 * a whole file. A file it accepts has audio, and every packet it keeps is
 * non-empty, lies inside the sound's arena, decodes, and starts where the
 * one before it ended. A refusal says why. */
#include <opus/opus.h>
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_file.h"
#include "sounds/ogg_opus_reader.h"

static OpusDecoder *decoder;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  int err;
  decoder = opus_decoder_create(WIRE_SAMPLE_RATE, 1, &err);
  FUZZ_CHECK(decoder != NULL);
  return 0;
}

static void check_sound(const sound *s) {
  static opus_int16 pcm[5760];
  FUZZ_CHECK(s->count > 0 && s->count <= s->packets_cap && s->arena_used <= s->arena_cap);
  opus_decoder_ctl(decoder, OPUS_RESET_STATE);
  uint64_t at = 0;
  for (size_t i = 0; i < s->count; i++) {
    const sound_packet *p = &s->packets[i];
    FUZZ_CHECK(p->size > 0 && p->offset + p->size <= s->arena_used);
    FUZZ_CHECK(p->start_sample == at);
    int samples = opus_decode(decoder, sound_packet_data(s, i), (opus_int32)p->size, pcm, 5760, 0);
    FUZZ_CHECK(samples > 0);
    at += (uint64_t)samples;
  }
  FUZZ_CHECK(at == s->total_samples);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sound s;
  memset(&s, 0, sizeof s);
  char err[256] = "";
  if (ogg_opus_read(fuzz_file(data, size), &s, err, sizeof err) == 0) check_sound(&s);
  else FUZZ_CHECK(err[0] != '\0');
  sound_clear(&s);
  return 0;
}
