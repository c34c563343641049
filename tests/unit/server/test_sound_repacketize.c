/* Larger packets: every bundled sound's variants decode to exactly the
 * samples of its 20 ms packets (the repacketizer moves frames, it does not
 * encode them again), in packets one Opus decoder takes, of at most the
 * variant's duration. Run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <opus/opus.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/packet_ms.h"
#include "packet_digest.h"
#include "sounds/sound_library.h"
#include "sounds/sound_repacketize.h"

#define MAX_PACKET_SAMPLES (SOUND_MAX_PACKET_MS * WIRE_SAMPLE_RATE / 1000)

static sound_library lib;

static int load_bundled(void **state) {
  (void)state;
  char err[512];
  if (sound_library_load(&lib, "assets", err, sizeof err) != 0 ||
      sound_library_add_larger_packets(&lib, SOUND_MAX_PACKET_MS, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int clear_bundled(void **state) {
  (void)state;
  sound_library_clear(&lib);
  return 0;
}

/* Every packet of `s` decoded in order by one fresh decoder: a new array of
 * s->total_samples samples (the caller frees it). */
static opus_int16 *decode_all(const sound *s) {
  int rc;
  OpusDecoder *dec = opus_decoder_create(WIRE_SAMPLE_RATE, 1, &rc);
  assert_int_equal(rc, OPUS_OK);
  opus_int16 *pcm = malloc(s->total_samples * sizeof *pcm + 1);
  assert_non_null(pcm);
  uint64_t at = 0;
  for (size_t i = 0; i < s->count; i++) {
    assert_int_equal(s->packets[i].start_sample, at);
    int n = opus_decode(dec, sound_packet_data(s, i), (opus_int32)s->packets[i].size, pcm + at,
                        (int)(s->total_samples - at), 0);
    assert_true(n > 0);
    at += (uint64_t)n;
  }
  assert_int_equal(at, s->total_samples);
  opus_decoder_destroy(dec);
  return pcm;
}

/* Each packet of `v` is one Opus packet of at most `ms` (or one of the
 * sound's own packets, if that alone is longer), and they add up. */
static void check_packets(const sound *base, const sound *v, unsigned ms) {
  uint64_t limit = (uint64_t)ms * WIRE_SAMPLE_RATE / 1000, total = 0, longest_own = 0;
  for (size_t i = 0; i < base->count; i++) {
    int n = opus_packet_get_nb_samples(sound_packet_data(base, i), (opus_int32)base->packets[i].size,
                                       WIRE_SAMPLE_RATE);
    if ((uint64_t)n > longest_own) longest_own = (uint64_t)n;
  }
  if (longest_own > limit) limit = longest_own;
  for (size_t i = 0; i < v->count; i++) {
    int n = opus_packet_get_nb_samples(sound_packet_data(v, i), (opus_int32)v->packets[i].size,
                                       WIRE_SAMPLE_RATE);
    assert_true(n > 0);
    assert_true((uint64_t)n <= limit);
    assert_true(n <= MAX_PACKET_SAMPLES);
    total += (uint64_t)n;
  }
  assert_int_equal(total, base->total_samples);
  assert_int_equal(v->total_samples, base->total_samples);
  assert_true(v->count <= base->count);
}

static void variants_decode_to_the_same_samples(void **unused) {
  (void)unused;
  assert_int_equal(lib.mode_count, 5);
  for (unsigned m = 0; m < lib.mode_count; m++) {
    const sound *base = &lib.sounds[m];
    assert_int_equal(base->larger_count, SOUND_MAX_PACKET_MS / SOUND_PACKET_MS_STEP - 1);
    opus_int16 *want = decode_all(base);
    for (size_t k = 0; k < base->larger_count; k++) {
      const sound *v = &base->larger[k];
      unsigned ms = (unsigned)(k + 2) * SOUND_PACKET_MS_STEP;
      check_packets(base, v, ms);
      opus_int16 *got = decode_all(v);
      assert_memory_equal(got, want, base->total_samples * sizeof *got);
      free(got);
      printf("# %s: %u ms packets: %zu packets (%zu at 20 ms), %zu bytes\n", base->name, ms,
             v->count, base->count, v->arena_used);
    }
    free(want);
    size_t own = base->arena_cap + base->packets_cap * sizeof *base->packets;
    printf("# %s: %zu bytes as 20 ms packets, %zu with its variants (+%zu)\n", base->name, own,
           sound_bytes(base), sound_bytes(base) - own);
  }
}

/* What a stream that sent packets 0..i has sent: the digest each packet
 * keeps equals hashing the packets in order, for the 20 ms packets and
 * every variant (playback.c reads it instead of hashing). */
static void check_prefix_digests(const sound *s) {
  packet_digest d;
  packet_digest_init(&d);
  for (size_t i = 0; i < s->count; i++) {
    packet_digest_add(&d, sound_packet_data(s, i), s->packets[i].size);
    assert_int_equal(s->packets[i].digest_after, d.hash);
  }
}

static void packets_keep_the_digest_of_their_prefix(void **unused) {
  (void)unused;
  for (unsigned m = 0; m < lib.mode_count; m++) {
    check_prefix_digests(&lib.sounds[m]);
    for (size_t k = 0; k < lib.sounds[m].larger_count; k++) check_prefix_digests(&lib.sounds[m].larger[k]);
  }
}

static uint64_t samples_of(const sound *s, size_t i) {
  uint64_t end = i + 1 < s->count ? s->packets[i + 1].start_sample : s->total_samples;
  return end - s->packets[i].start_sample;
}

/* A variant's packet ends before its duration only where it must: the next
 * of the sound's packets would not fit, or is coded differently (its TOC's
 * configuration differs, which the repacketizer refuses). */
static void variants_fill_their_packets(void **unused) {
  (void)unused;
  for (unsigned m = 0; m < lib.mode_count; m++) {
    const sound *base = &lib.sounds[m];
    for (size_t k = 0; k < base->larger_count; k++) {
      const sound *v = &base->larger[k];
      uint64_t limit = (uint64_t)(k + 2) * SOUND_PACKET_MS_STEP * WIRE_SAMPLE_RATE / 1000;
      size_t j = 0; /* the sound's packet where v's packet i + 1 starts */
      for (size_t i = 0; i + 1 < v->count; i++) {
        while (base->packets[j].start_sample < v->packets[i + 1].start_sample) j++;
        assert_int_equal(base->packets[j].start_sample, v->packets[i + 1].start_sample);
        bool full = samples_of(v, i) + samples_of(base, j) > limit;
        bool other_coding = (sound_packet_data(v, i)[0] & 0xFC) !=
                            (sound_packet_data(base, j)[0] & 0xFC);
        assert_true(full || other_coding);
      }
    }
  }
}

static void picking_a_variant(void **unused) {
  (void)unused;
  const sound *s = &lib.sounds[0];
  assert_ptr_equal(sound_with_packets(s, 0), s);
  assert_ptr_equal(sound_with_packets(s, 20), s);
  assert_ptr_equal(sound_with_packets(s, 39), s);
  assert_ptr_equal(sound_with_packets(s, 40), &s->larger[0]);
  assert_ptr_equal(sound_with_packets(s, 120), &s->larger[4]);
  assert_ptr_equal(sound_with_packets(s, 1000), &s->larger[4]);
  assert_int_equal(sound_packet_ms(s, s), 20);
  assert_int_equal(sound_packet_ms(s, &s->larger[2]), 80);
}

/* Variants only up to the cap; none at 20 ms. */
static void variants_stop_at_the_cap(void **unused) {
  (void)unused;
  char err[256];
  sound s = {0};
  const sound *src = &lib.sounds[0];
  for (size_t i = 0; i < src->count; i++) {
    uint64_t end = i + 1 < src->count ? src->packets[i + 1].start_sample : src->total_samples;
    assert_int_equal(sound_append(&s, sound_packet_data(src, i), src->packets[i].size,
                                  (uint32_t)(end - src->packets[i].start_sample)),
                     0);
  }
  assert_int_equal(sound_add_larger_packets(&s, 20, err, sizeof err), 0);
  assert_int_equal(s.larger_count, 0);
  assert_ptr_equal(sound_with_packets(&s, 120), &s);
  assert_int_equal(sound_add_larger_packets(&s, 60, err, sizeof err), 0);
  assert_int_equal(s.larger_count, 2);
  assert_ptr_equal(sound_with_packets(&s, 120), &s.larger[1]);
  sound_clear(&s);
}

static unsigned grant(const char *value, unsigned cap) {
  return packet_ms_grant(value, strlen(value), cap);
}

static void grants(void **unused) {
  (void)unused;
  assert_int_equal(grant("120", 120), 120);
  assert_int_equal(grant("60", 120), 60);
  assert_int_equal(grant("70", 120), 60);
  assert_int_equal(grant("1000", 120), 120);
  assert_int_equal(grant("120", 20), 20);
  assert_int_equal(grant("120", 80), 80);
  assert_int_equal(grant("120", 0), 20);
  assert_int_equal(grant("10", 120), 20);
  /* Nonsense: as if not asked. */
  assert_int_equal(grant("", 120), 20);
  assert_int_equal(grant("0", 120), 20);
  assert_int_equal(grant("-120", 120), 20);
  assert_int_equal(grant("120ms", 120), 20);
  assert_int_equal(grant(" 120", 120), 20);
  assert_int_equal(grant("99999999999999999999", 120), 20);
  assert_int_equal(packet_ms_grant("120", 2, 120), 20); /* "12": only len bytes count */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(variants_decode_to_the_same_samples),
      cmocka_unit_test(variants_fill_their_packets),
      cmocka_unit_test(packets_keep_the_digest_of_their_prefix),
      cmocka_unit_test(picking_a_variant),
      cmocka_unit_test(variants_stop_at_the_cap),
      cmocka_unit_test(grants),
  };
  return cmocka_run_group_tests(tests, load_bundled, clear_bundled);
}
