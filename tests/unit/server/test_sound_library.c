/* Sound loading: Ogg Opus pass-through, WAV/FLAC encoding, and every way an
 * assets folder can be wrong. Run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <ogg/ogg.h>
#include <opus/opus.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sounds/sound_library.h"

static char dir[] = "/tmp/opal-sound-test-XXXXXX";

static int make_dir(void **state) {
  (void)state;
  return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd);
}

static void clear_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -f %s/*", dir);
  assert_int_equal(system(cmd), 0);
}

static void write_file(const char *name, const void *bytes, size_t n) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, n, f), n);
  fclose(f);
}

static void copy_bundled(const char *name, const char *as) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cp assets/%s %s/%s", name, dir, as);
  assert_int_equal(system(cmd), 0);
}

/* A 440 Hz tone: `seconds` long, at `rate`, with `channels`. */
static void write_tone(const char *name, int format, int rate, int channels, double seconds) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
  SNDFILE *f = sf_open(path, SFM_WRITE, &info);
  assert_non_null(f);
  size_t frames = (size_t)(rate * seconds);
  float *pcm = calloc(frames * (size_t)channels, sizeof *pcm);
  for (size_t i = 0; i < frames; i++)
    for (int c = 0; c < channels; c++)
      pcm[i * (size_t)channels + (size_t)c] = 0.5f * sinf(2.0f * 3.14159265f * 440.0f * (float)i / (float)rate);
  assert_int_equal(sf_writef_float(f, pcm, (sf_count_t)frames), (sf_count_t)frames);
  sf_close(f);
  free(pcm);
}

/* Decodes every packet; returns the RMS of the whole sound. */
static double decode_rms(const sound *s) {
  int err;
  OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
  assert_non_null(dec);
  static float pcm[5760];
  double sum = 0;
  size_t n = 0;
  for (size_t i = 0; i < s->count; i++) {
    int got = opus_decode_float(dec, sound_packet_data(s, i), (opus_int32)s->packets[i].size, pcm, 5760, 0);
    assert_true(got > 0);
    for (int j = 0; j < got; j++) sum += (double)pcm[j] * pcm[j];
    n += (size_t)got;
  }
  opus_decoder_destroy(dec);
  assert_int_equal(n, s->total_samples);
  return sqrt(sum / (double)n);
}

static void bundled_assets_load(void **unused) {
  (void)unused;
  sound_library lib;
  char err[512] = "";
  assert_int_equal(sound_library_load(&lib, "assets", err, sizeof err), 0);
  assert_int_equal(lib.mode_count, 5);
  bool has_long = false, has_short = false;
  for (unsigned m = 0; m < lib.mode_count; m++) {
    const sound *s = &lib.sounds[m];
    assert_true(s->count > 10);
    assert_true(decode_rms(s) > 0.01); /* real, audible audio */
    has_long |= sound_duration_ms(s) >= 60000;
    has_short |= sound_duration_ms(s) < 5000;
  }
  assert_true(has_long);
  assert_true(has_short);
  sound_library_clear(&lib);
}

static void wav_and_flac_are_resampled_and_encoded(void **unused) {
  (void)unused;
  clear_dir();
  write_tone("0-tone.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 1.0);
  write_tone("1-stereo.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 0.5);
  sound_library lib;
  char err[512] = "";
  assert_int_equal(sound_library_load(&lib, dir, err, sizeof err), 0);
  assert_int_equal(lib.mode_count, 2);
  /* 1 s -> 50 packets of 20 ms; 0.5 s -> 25 (the last padded). */
  assert_int_equal(lib.sounds[0].count, 50);
  assert_int_equal(lib.sounds[0].total_samples, 48000);
  assert_int_equal(lib.sounds[1].count, 25);
  assert_string_equal(lib.sounds[0].name, "0-tone.wav");
  assert_true(decode_rms(&lib.sounds[0]) > 0.2);
  assert_true(decode_rms(&lib.sounds[1]) > 0.2);
  sound_library_clear(&lib);
}

static void ogg_opus_is_passed_through(void **unused) {
  (void)unused;
  clear_dir();
  copy_bundled("0-chime.opus", "0-a.opus");
  sound_library lib;
  char err[512] = "";
  assert_int_equal(sound_library_load(&lib, dir, err, sizeof err), 0);
  /* 20 ms Ogg packets stay 20 ms packets: nothing re-framed. */
  for (size_t i = 0; i < lib.sounds[0].count; i++)
    assert_int_equal(lib.sounds[0].packets[i].start_sample, i * 960);
  sound_library_clear(&lib);
}

/* Loading must fail, leave the library empty, and name `expected` in err. */
static void expect_failure(const char *expected) {
  sound_library lib;
  char err[512] = "";
  assert_int_equal(sound_library_load(&lib, dir, err, sizeof err), -1);
  assert_int_equal(lib.mode_count, 0);
  if (!strstr(err, expected)) fail_msg("error '%s' does not mention '%s'", err, expected);
}

static void folder_problems_are_named(void **unused) {
  (void)unused;
  clear_dir();
  expect_failure("no mode sounds");

  write_tone("1-only.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 0.1);
  expect_failure("mode 0 has no sound");

  write_tone("0-a.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 0.1);
  write_tone("0-b.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 0.1);
  expect_failure("claim mode 0");

  clear_dir();
  write_tone("15-far.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 0.1);
  expect_failure("at most 15 modes");

  sound_library lib;
  char err[512] = "";
  assert_int_equal(sound_library_load(&lib, "/nonexistent/opal", err, sizeof err), -1);
  assert_non_null(strstr(err, "/nonexistent/opal"));
}

static void fifteen_modes_load(void **unused) {
  (void)unused;
  clear_dir();
  for (int m = 0; m < SOUND_LIBRARY_MAX_MODES; m++) {
    char name[32];
    snprintf(name, sizeof name, "%d-tone.wav", m);
    write_tone(name, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 0.05);
  }
  sound_library lib;
  char err[512] = "";
  if (sound_library_load(&lib, dir, err, sizeof err) != 0) fail_msg("%s", err);
  assert_int_equal(lib.mode_count, 15);
  for (int m = 0; m < 15; m++) assert_true(lib.sounds[m].count > 0);
  sound_library_clear(&lib);
}

static void undecodable_files_are_named(void **unused) {
  (void)unused;
  clear_dir();
  write_file("0-junk.opus", "this is not ogg at all", 22);
  expect_failure("0-junk.opus");

  clear_dir();
  write_file("0-junk.wav", "RIFF....WAVEjunk", 16);
  expect_failure("0-junk.wav");

  /* Real Ogg Opus files, damaged: a flipped byte, a missing tail. */
  clear_dir();
  copy_bundled("0-chime.opus", "0-flipped.opus");
  char path[256];
  snprintf(path, sizeof path, "%s/0-flipped.opus", dir);
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  fseek(f, 4000, SEEK_SET);
  int c = fgetc(f);
  fseek(f, 4000, SEEK_SET);
  fputc(c ^ 0x5A, f);
  fclose(f);
  expect_failure("0-flipped.opus: corrupt Ogg data");

  clear_dir();
  copy_bundled("0-chime.opus", "0-cut.opus");
  snprintf(path, sizeof path, "%s/0-cut.opus", dir);
  assert_int_equal(truncate(path, 10000), 0);
  expect_failure("0-cut.opus: truncated");
}

/* Writes an Ogg Opus file whose audio packets have the given sizes (a real
 * 20 ms silent packet where the size is non-zero). */
static void write_ogg_opus(const char *name, const long *sizes, int n) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  ogg_stream_state os;
  ogg_stream_init(&os, 1);
  unsigned char head[19] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 1, 0x38, 1, 0x80, 0xBB, 0, 0, 0, 0, 0};
  unsigned char tags[16] = {'O', 'p', 'u', 's', 'T', 'a', 'g', 's', 0, 0, 0, 0, 0, 0, 0, 0};
  unsigned char silence[3] = {0xF8, 0xFF, 0xFE}; /* a CELT 20 ms frame */
  ogg_packet op = {.packet = head, .bytes = sizeof head, .b_o_s = 1};
  ogg_stream_packetin(&os, &op);
  op = (ogg_packet){.packet = tags, .bytes = sizeof tags, .packetno = 1};
  ogg_stream_packetin(&os, &op);
  for (int i = 0; i < n; i++) {
    op = (ogg_packet){.packet = silence, .bytes = sizes[i], .packetno = 2 + i,
                      .granulepos = 960 * (i + 1), .e_o_s = i == n - 1};
    ogg_stream_packetin(&os, &op);
  }
  ogg_page page;
  while (ogg_stream_flush(&os, &page)) {
    fwrite(page.header, 1, (size_t)page.header_len, f);
    fwrite(page.body, 1, (size_t)page.body_len, f);
  }
  ogg_stream_clear(&os);
  fclose(f);
}

static void ogg_packets_are_checked(void **unused) {
  (void)unused;
  clear_dir();
  long good[] = {3, 3, 3};
  write_ogg_opus("0-ok.opus", good, 3);
  sound_library lib;
  char err[512] = "";
  assert_int_equal(sound_library_load(&lib, dir, err, sizeof err), 0);
  assert_int_equal(lib.sounds[0].count, 3);
  sound_library_clear(&lib);

  clear_dir();
  long with_empty[] = {3, 0, 3};
  write_ogg_opus("0-gap.opus", with_empty, 3);
  expect_failure("0-gap.opus: packet 1 is empty");

  clear_dir();
  write_tone("0-wav-in-disguise.ogg", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 0.1);
  expect_failure("0-wav-in-disguise.ogg: not an Ogg file");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bundled_assets_load),
      cmocka_unit_test(wav_and_flac_are_resampled_and_encoded),
      cmocka_unit_test(ogg_opus_is_passed_through),
      cmocka_unit_test(folder_problems_are_named),
      cmocka_unit_test(fifteen_modes_load),
      cmocka_unit_test(undecodable_files_are_named),
      cmocka_unit_test(ogg_packets_are_checked),
  };
  return cmocka_run_group_tests_name("sound_library", tests, make_dir, remove_dir);
}
