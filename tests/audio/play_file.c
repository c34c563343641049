/* Plays an Ogg Opus file through the device's audio path (audio_player),
 * feeding its packets the way the server streams them: the first `lead`
 * milliseconds at once, then each packet `lead` ms before it is due. Used by
 * tests/audio/test_portaudio.py; handy by hand too.
 *
 *   play_file [--out portaudio|null|wav:FILE] [--device NAME] [--buffer-ms N]
 *             [--lead-ms N] [--settle-ms N] FILE.opus
 *   play_file --list
 *
 * Prints one JSON line to stdout with what happened; exits 0 when the whole
 * sound was handed to the output, 1 when not, 2 when the output would not
 * open (its one-line reason on stderr). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audio/audio_player.h"
#include "clock.h"
#include "log.h"
#include "sounds/ogg_opus_reader.h"
#include "sounds/sound.h"

static void sleep_ns(int64_t ns) {
  if (ns <= 0) return;
  struct timespec ts = {.tv_sec = (time_t)(ns / NS_PER_SEC), .tv_nsec = (long)(ns % NS_PER_SEC)};
  nanosleep(&ts, NULL);
}

static int usage(void) {
  fprintf(stderr, "usage: play_file [--out portaudio|null|wav:FILE] [--device NAME] "
                  "[--buffer-ms N] [--lead-ms N] [--settle-ms N] FILE.opus | play_file --list\n");
  return 2;
}

int main(int argc, char **argv) {
  audio_config cfg = {.kind = AUDIO_OUT_PORTAUDIO, .buffer_ms = AUDIO_DEFAULT_BUFFER_MS};
  int lead_ms = 150, settle_ms = 200;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    if (strcmp(a, "--list") == 0) return audio_list_devices(stdout) == 0 ? 0 : 1;
    if (strcmp(a, "--out") == 0 && more) {
      const char *o = argv[++i];
      if (strcmp(o, "portaudio") == 0) cfg.kind = AUDIO_OUT_PORTAUDIO;
      else if (strcmp(o, "null") == 0) cfg.kind = AUDIO_OUT_NULL;
      else if (strncmp(o, "wav:", 4) == 0) {
        cfg.kind = AUDIO_OUT_WAV;
        cfg.wav_path = o + 4;
      } else return usage();
    } else if (strcmp(a, "--device") == 0 && more) {
      cfg.device = argv[++i];
    } else if (strcmp(a, "--buffer-ms") == 0 && more) {
      cfg.buffer_ms = (unsigned)atoi(argv[++i]);
    } else if (strcmp(a, "--settle-ms") == 0 && more) {
      settle_ms = atoi(argv[++i]);
    } else if (strcmp(a, "--lead-ms") == 0 && more) {
      lead_ms = atoi(argv[++i]);
    } else if (a[0] != '-' && !path) {
      path = a;
    } else {
      return usage();
    }
  }
  if (!path) return usage();

  sound snd = {0};
  char err[256];
  if (ogg_opus_read(path, &snd, err, sizeof err) != 0) {
    fprintf(stderr, "play_file: %s: %s\n", path, err);
    return 2;
  }
  audio_player *p = audio_player_open(&cfg, err, sizeof err);
  if (!p) {
    fprintf(stderr, "play_file: %s\n", err);
    sound_clear(&snd);
    return 2;
  }
  /* A stream that has just started may not call back at once (PulseAudio's
   * null sink can hold a new stream for up to 2 s): wait until the output
   * has pulled 200 ms, as a device's stream has long before anyone presses
   * Play, so that what is measured is a running stream's latency. */
  int64_t opened = clock_now_ns();
  audio_stats st;
  for (;;) {
    audio_player_stats(p, &st);
    int64_t waited = clock_now_ns() - opened;
    if (waited >= settle_ms * NS_PER_MS && st.output_frames >= WIRE_SAMPLE_RATE / 5) break;
    if (waited > 5 * NS_PER_SEC) {
      fprintf(stderr, "play_file: the output pulled only %llu frames in 5 s\n",
              (unsigned long long)st.output_frames);
      break;
    }
    sleep_ns(NS_PER_MS);
  }
  double settled_ms = (double)(clock_now_ns() - opened) / 1e6;

  audio_player_stats(p, &st);
  uint64_t played_before = st.samples_played;
  int64_t t0 = clock_now_ns(); /* the first packet goes in now */
  int64_t first_sample = 0, drained_at = 0;
  uint64_t frames_at_first = 0, frames_at_drain = 0;
  int decode_errors = 0;

  audio_player_begin(p);
  size_t next = 0;
  int64_t deadline = t0 + (int64_t)(snd.total_samples * NS_PER_SEC / WIRE_SAMPLE_RATE) + 5 * NS_PER_SEC;
  bool ended = false;
  for (;;) {
    int64_t now = clock_now_ns();
    /* Everything due within the lead goes now, as the server's pacer does. */
    while (next < snd.count) {
      int64_t due = t0 + (int64_t)(snd.packets[next].start_sample * NS_PER_SEC / WIRE_SAMPLE_RATE) -
                    lead_ms * NS_PER_MS;
      if (due > now) break;
      if (audio_player_packet(p, sound_packet_data(&snd, next), snd.packets[next].size) < 0)
        decode_errors++;
      next++;
    }
    if (next == snd.count && !ended) {
      audio_player_end(p);
      ended = true;
    }
    audio_player_stats(p, &st);
    if (!first_sample && st.first_sample_ns) {
      first_sample = st.first_sample_ns;
      frames_at_first = st.output_frames;
    }
    if (ended && !st.playing) {
      drained_at = clock_now_ns();
      frames_at_drain = st.output_frames;
      break;
    }
    if (now > deadline) break;
    sleep_ns(NS_PER_MS);
  }
  audio_player_stats(p, &st);
  uint64_t played = st.samples_played - played_before;
  bool whole = drained_at && played == snd.total_samples;

  printf("{\"output_settled_ms\": %.1f, \"packets\": %zu, \"sound_ms\": %.1f, \"decode_errors\": %d, \"played_samples\": %llu, "
         "\"total_samples\": %llu, \"first_packet_to_first_sample_ms\": %.2f, "
         "\"first_sample_to_drain_ms\": %.1f, \"output_frames_ms\": %.1f, \"underruns\": %u, "
         "\"dropped\": %llu, \"complete\": %s}\n",
         settled_ms, snd.count, (double)snd.total_samples * 1000.0 / WIRE_SAMPLE_RATE, decode_errors,
         (unsigned long long)played, (unsigned long long)snd.total_samples,
         first_sample ? (double)(first_sample - t0) / 1e6 : -1.0,
         first_sample && drained_at ? (double)(drained_at - first_sample) / 1e6 : -1.0,
         (double)(frames_at_drain - frames_at_first) * 1000.0 / WIRE_SAMPLE_RATE, st.underruns,
         (unsigned long long)st.samples_dropped, whole ? "true" : "false");
  fflush(stdout);
  /* The device still holds its last buffer or so: let it play out before
   * closing, so a recording gets the tail. */
  sleep_ns(300 * NS_PER_MS);
  audio_player_close(p);
  sound_clear(&snd);
  return whole && decode_errors == 0 ? 0 : 1;
}
