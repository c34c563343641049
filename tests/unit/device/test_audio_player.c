/* audio_player end to end with the outputs that need no sound card: null
 * and WAV (real-time pacing, latency, drain, underruns, preemption, the WAV
 * file's contents), bad packets, and PortAudio's one-line failures. The
 * real PortAudio path is tested in tests/audio/test_portaudio.py. */
#include <math.h>
#include <opus/opus.h>
#include <setjmp.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audio/audio_player.h"
#include "clock.h"
#include "log.h"

#define FRAME 960 /* 20 ms */
#define PI 3.14159265358979323846
#define MAX_PACKETS 100

typedef struct packets {
  uint8_t data[MAX_PACKETS][400];
  int len[MAX_PACKETS];
  int count;
} packets;

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* `count` packets of a 440 Hz tone, amplitude 10000. */
static void make_tone(packets *out, int count) {
  int e;
  OpusEncoder *enc = opus_encoder_create(WIRE_SAMPLE_RATE, 1, OPUS_APPLICATION_AUDIO, &e);
  assert_non_null(enc);
  assert_true(count <= MAX_PACKETS);
  int16_t pcm[FRAME];
  for (int p = 0; p < count; p++) {
    for (int i = 0; i < FRAME; i++)
      pcm[i] = (int16_t)(10000 * sin(2 * PI * 440 * (double)(p * FRAME + i) / WIRE_SAMPLE_RATE));
    out->len[p] = opus_encode(enc, pcm, FRAME, out->data[p], sizeof out->data[p]);
    assert_true(out->len[p] > 0);
  }
  out->count = count;
  opus_encoder_destroy(enc);
}

static void feed(audio_player *p, const packets *s, int from, int to) {
  for (int i = from; i < to; i++)
    assert_int_equal(audio_player_packet(p, s->data[i], (size_t)s->len[i]), FRAME);
}

static audio_stats stats(audio_player *p) {
  audio_stats st;
  audio_player_stats(p, &st);
  return st;
}

/* Waits up to `ms` for the sound to drain; returns when it did. */
static int64_t wait_drained(audio_player *p, int ms) {
  for (int i = 0; i < ms; i++) {
    if (!stats(p).playing) return clock_now_ns();
    sleep_ms(1);
  }
  fail_msg("still playing after %d ms", ms);
  return 0;
}

static audio_player *open_null(unsigned buffer_ms) {
  audio_config cfg = {.kind = AUDIO_OUT_NULL, .buffer_ms = buffer_ms};
  char err[256] = "";
  audio_player *p = audio_player_open(&cfg, err, sizeof err);
  assert_non_null(p);
  return p;
}

static void null_output_plays_at_real_time(void **state) {
  (void)state;
  packets *s = malloc(sizeof *s);
  make_tone(s, 15); /* 300 ms */
  audio_player *p = open_null(0);
  audio_stats st = stats(p);
  assert_false(st.playing);
  assert_int_equal(st.first_sample_ns, 0);
  sleep_ms(30);
  assert_true(stats(p).output_frames > 0); /* the output clock runs while idle */

  int64_t t0 = clock_now_ns();
  audio_player_begin(p);
  feed(p, s, 0, s->count);
  audio_player_end(p);
  st = stats(p);
  assert_true(st.playing);
  int64_t drained = wait_drained(p, 2000);
  st = stats(p);
  double latency_ms = (double)(st.first_sample_ns - t0) / 1e6;
  double play_ms = (double)(drained - st.first_sample_ns) / 1e6;
  print_message("      null: first packet -> first sample %.1f ms, played for %.0f ms\n",
                latency_ms, play_ms);
  assert_true(st.first_sample_ns >= t0);
  assert_true(latency_ms < 60); /* one 10 ms tick, plus scheduling slack */
  assert_int_equal(st.samples_played, 15 * FRAME);
  assert_int_equal(st.underruns, 0);
  assert_int_equal(st.samples_dropped, 0);
  assert_int_equal(st.buffered_ms, 0);
  /* 300 ms of audio take about 300 ms to play, not a burst. */
  assert_true(play_ms > 250 && play_ms < 450);
  audio_player_close(p);
  free(s);
}

static void short_sound_and_underrun(void **state) {
  (void)state;
  packets *s = malloc(sizeof *s);
  make_tone(s, 10);
  audio_player *p = open_null(100); /* 100 ms threshold */

  /* 40 ms, less than the threshold: plays once the end arrives. */
  audio_player_begin(p);
  feed(p, s, 0, 2);
  sleep_ms(50);
  assert_int_equal(stats(p).first_sample_ns, 0);
  assert_int_equal(stats(p).buffered_ms, 40);
  audio_player_end(p);
  wait_drained(p, 1000);
  audio_stats st = stats(p);
  assert_int_equal(st.samples_played, 2 * FRAME);
  assert_true(st.first_sample_ns > 0);
  assert_int_equal(st.underruns, 0);

  /* 120 ms and then nothing, no end: it starts, runs dry, counts one underrun. */
  audio_player_begin(p);
  assert_int_equal(stats(p).first_sample_ns, 0); /* a new sound's, not the last one's */
  feed(p, s, 0, 6);
  sleep_ms(250);
  st = stats(p);
  assert_true(st.playing);
  assert_int_equal(st.underruns, 1);
  /* The rest comes late, with the end: it drains, no more underruns. */
  feed(p, s, 6, 10);
  audio_player_end(p);
  wait_drained(p, 1000);
  sleep_ms(50);
  st = stats(p);
  assert_int_equal(st.underruns, 1);
  assert_int_equal(st.samples_played, 12 * FRAME);
  audio_player_close(p);
  free(s);
}

static void begin_cuts_the_previous_sound(void **state) {
  (void)state;
  packets *s = malloc(sizeof *s);
  make_tone(s, 50); /* 1 s */
  audio_player *p = open_null(0);
  audio_player_begin(p);
  feed(p, s, 0, 50);
  for (int i = 0; i < 500 && !stats(p).first_sample_ns; i++) sleep_ms(1);
  assert_true(stats(p).first_sample_ns > 0);
  sleep_ms(100);
  /* Preempted: no end for the first sound, a new one starts. */
  audio_player_begin(p);
  feed(p, s, 0, 5); /* 100 ms */
  audio_player_end(p);
  int64_t t = clock_now_ns();
  wait_drained(p, 1000);
  double ms = (double)(clock_now_ns() - t) / 1e6;
  audio_stats st = stats(p);
  print_message("      preempted: the new 100 ms sound drained after %.0f ms\n", ms);
  assert_true(ms < 300); /* not after the rest of the first second */
  assert_true(st.samples_played < 50 * FRAME);
  assert_int_equal(st.underruns, 0);
  audio_player_close(p);
  free(s);
}

static void bad_packets_are_skipped(void **state) {
  (void)state;
  packets *s = malloc(sizeof *s);
  make_tone(s, 5);
  audio_player *p = open_null(0);
  audio_player_begin(p);
  const uint8_t bad[] = {0x03, 0x00}; /* code 3 with no frames: invalid */
  assert_true(audio_player_packet(p, bad, sizeof bad) < 0);
  assert_int_equal(audio_player_packet(p, NULL, 0), 0); /* an empty is_end packet */
  feed(p, s, 0, 5);
  audio_player_end(p);
  wait_drained(p, 1000);
  assert_int_equal(stats(p).samples_played, 5 * FRAME);
  /* A packet without a begin starts a sound of its own. */
  feed(p, s, 0, 5);
  audio_player_end(p);
  wait_drained(p, 1000);
  assert_int_equal(stats(p).samples_played, 10 * FRAME);
  audio_player_close(p);
  free(s);
}

static void wav_output_holds_what_played(void **state) {
  (void)state;
  char path[] = "/tmp/opal-test-audio-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  packets *s = malloc(sizeof *s);
  make_tone(s, 10); /* 200 ms */
  audio_config cfg = {.kind = AUDIO_OUT_WAV, .wav_path = path, .buffer_ms = 60};
  char err[256] = "";
  audio_player *p = audio_player_open(&cfg, err, sizeof err);
  assert_non_null(p);
  sleep_ms(50); /* idle time: not written */
  for (int round = 0; round < 2; round++) {
    audio_player_begin(p);
    feed(p, s, 0, 10);
    audio_player_end(p);
    wait_drained(p, 1000);
    sleep_ms(30);
  }
  audio_player_close(p);

  SF_INFO info = {0};
  SNDFILE *f = sf_open(path, SFM_READ, &info);
  assert_non_null(f);
  assert_int_equal(info.samplerate, WIRE_SAMPLE_RATE);
  assert_int_equal(info.channels, 1);
  assert_int_equal(info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  assert_int_equal(info.frames, 20 * FRAME); /* both sounds, nothing else */
  int16_t *pcm = malloc(sizeof *pcm * (size_t)info.frames);
  assert_int_equal(sf_read_short(f, pcm, info.frames), info.frames);
  sf_close(f);
  double acc = 0;
  for (sf_count_t i = FRAME; i < 10 * FRAME; i++) acc += (double)pcm[i] * pcm[i];
  double rms = sqrt(acc / (9 * FRAME));
  print_message("      wav: %lld frames, tone RMS %.0f (expected about 7071)\n",
                (long long)info.frames, rms);
  assert_true(rms > 5000 && rms < 9000);
  free(pcm);
  free(s);
  unlink(path);
}

static void wav_output_reports_bad_path(void **state) {
  (void)state;
  audio_config cfg = {.kind = AUDIO_OUT_WAV, .wav_path = "/nonexistent-dir/x.wav"};
  char err[256] = "";
  assert_null(audio_player_open(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "/nonexistent-dir/x.wav"));
  assert_null(strchr(err, '\n'));
  cfg.wav_path = NULL;
  assert_null(audio_player_open(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "wav:FILE"));
}

static void portaudio_unknown_device_fails_in_one_line(void **state) {
  (void)state;
  audio_config cfg = {.kind = AUDIO_OUT_PORTAUDIO, .device = "no-such-opal-device"};
  char err[256] = "";
  assert_null(audio_player_open(&cfg, err, sizeof err));
  print_message("      %s\n", err);
  /* With no sound device at all it says so; with some, that none has the name. */
  assert_true(strstr(err, "no-such-opal-device") ||
              strstr(err, "no usable sound device (PortAudio found none); use --audio-out null "
                          "or --audio-out wav:FILE"));
  assert_null(strchr(err, '\n'));
  audio_player_close(NULL);
}

int main(void) {
  log_set_level(LOG_WARN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(null_output_plays_at_real_time),
      cmocka_unit_test(short_sound_and_underrun),
      cmocka_unit_test(begin_cuts_the_previous_sound),
      cmocka_unit_test(bad_packets_are_skipped),
      cmocka_unit_test(wav_output_holds_what_played),
      cmocka_unit_test(wav_output_reports_bad_path),
      cmocka_unit_test(portaudio_unknown_device_fails_in_one_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
