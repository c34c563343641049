/* The server's Ogg Opus reader (server/sounds/ogg_opus_reader.c), the
 * parser of every .opus/.ogg mode sound it loads at start-up: the input is
 * a whole file. A file it accepts has audio, and every packet it keeps is
 * non-empty, lies inside the sound's arena, decodes, and starts where the
 * one before it ended. A refusal says why.
 *
 * libogg drops every page whose checksum is wrong, and a mutation almost
 * always makes it wrong, so the mutator below puts the checksum of each
 * whole page back: the mutations then reach the reader's own checks. */
#include <opus/opus.h>
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_file.h"
#include "sounds/ogg_opus_reader.h"

static OpusDecoder *decoder;

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial value 0. */
static uint32_t ogg_crc(const uint8_t *p, size_t n) {
  uint32_t crc = 0;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint32_t)p[i] << 24;
    for (int bit = 0; bit < 8; bit++) crc = crc & 0x80000000u ? (crc << 1) ^ 0x04c11db7u : crc << 1;
  }
  return crc;
}

/* The length of the page at `p` ("OggS", header, lacing, body), or 0 when
 * it does not fit in `n` bytes. */
static size_t page_length(const uint8_t *p, size_t n) {
  if (n < 27 || memcmp(p, "OggS", 4) != 0 || n < 27u + p[26]) return 0;
  size_t len = 27u + p[26];
  for (int i = 0; i < p[26]; i++) len += p[27 + i];
  return len <= n ? len : 0;
}

static void fix_checksums(uint8_t *data, size_t size) {
  size_t at = 0;
  while (at + 27 <= size) {
    size_t len = page_length(data + at, size - at);
    if (len == 0) {
      at++;
      continue;
    }
    memset(data + at + 22, 0, 4);
    uint32_t crc = ogg_crc(data + at, len);
    for (int i = 0; i < 4; i++) data[at + 22 + i] = (uint8_t)(crc >> (8 * i));
    at += len;
  }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed) {
  (void)seed;
  size = LLVMFuzzerMutate(data, size, max_size);
  fix_checksums(data, size);
  return size;
}

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
