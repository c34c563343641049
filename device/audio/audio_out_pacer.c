/* Null and WAV outputs; see audio_out_pacer.h. */
#include "audio/audio_out_pacer.h"

#include <errno.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "wire.h"

#define CHUNK (WIRE_SAMPLE_RATE / 1000 * PACER_CHUNK_MS)
/* Further behind than this (the machine was suspended, or the thread starved):
 * start the schedule again from now instead of bursting to catch up. */
#define MAX_BEHIND_NS (200 * NS_PER_MS)

struct pacer_out {
  jitter_buffer *jb;
  SNDFILE *wav;
  char *wav_path;
  pthread_t thread;
  bool thread_started;
  atomic_bool stop;
  _Atomic uint64_t frames;
  uint64_t wav_frames;
  bool wav_failed;
};

static void sleep_until(int64_t deadline_ns) {
  struct timespec ts = {
      .tv_sec = (time_t)(deadline_ns / NS_PER_SEC),
      .tv_nsec = (long)(deadline_ns % NS_PER_SEC),
  };
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

static void *pacer_thread(void *arg) {
  pacer_out *o = arg;
  int16_t buf[CHUNK];
  int64_t deadline = clock_now_ns();
  while (!atomic_load(&o->stop)) {
    int64_t now = clock_now_ns();
    if (now - deadline > MAX_BEHIND_NS) deadline = now;
    jb_read_result got = jb_read(o->jb, buf, CHUNK, now);
    atomic_fetch_add_explicit(&o->frames, CHUNK, memory_order_relaxed);
    if (o->wav && got.live > 0 && !o->wav_failed) {
      sf_count_t n = sf_write_short(o->wav, buf, (sf_count_t)got.live);
      if (n != (sf_count_t)got.live) {
        log_error("audio: writing %s failed: %s", o->wav_path, sf_strerror(o->wav));
        o->wav_failed = true;
      } else {
        o->wav_frames += (uint64_t)n;
      }
    }
    deadline += PACER_CHUNK_MS * NS_PER_MS;
    sleep_until(deadline);
  }
  return NULL;
}

pacer_out *pacer_out_open(jitter_buffer *jb, const char *wav_path, char *err, size_t err_len) {
  pacer_out *o = calloc(1, sizeof *o);
  if (!o) {
    snprintf(err, err_len, "out of memory");
    return NULL;
  }
  o->jb = jb;
  atomic_init(&o->stop, false);
  atomic_init(&o->frames, 0);
  if (wav_path) {
    o->wav_path = strdup(wav_path);
    SF_INFO info = {.samplerate = WIRE_SAMPLE_RATE, .channels = 1,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    o->wav = o->wav_path ? sf_open(wav_path, SFM_WRITE, &info) : NULL;
    if (!o->wav) {
      snprintf(err, err_len, "cannot write WAV file %s: %s", wav_path,
               o->wav_path ? sf_strerror(NULL) : "out of memory");
      free(o->wav_path);
      free(o);
      return NULL;
    }
    /* Rewrite the header after every write: the file stays valid even if
     * the process is killed (100 small writes a second at most). */
    sf_command(o->wav, SFC_SET_UPDATE_HEADER_AUTO, NULL, SF_TRUE);
  }
  int e = pthread_create(&o->thread, NULL, pacer_thread, o);
  if (e != 0) {
    snprintf(err, err_len, "cannot start the audio thread: %s", strerror(e));
    pacer_out_close(o);
    return NULL;
  }
  o->thread_started = true;
  if (wav_path)
    log_info("audio: writing what plays to %s (48 kHz mono 16-bit)", wav_path);
  else
    log_info("audio: null output (consumes audio at real time, plays nothing)");
  return o;
}

uint64_t pacer_out_frames(pacer_out *o) { return atomic_load(&o->frames); }

void pacer_out_close(pacer_out *o) {
  if (!o) return;
  if (o->thread_started) {
    atomic_store(&o->stop, true);
    pthread_join(o->thread, NULL);
  }
  if (o->wav) {
    int e = sf_close(o->wav);
    if (e != 0) log_error("audio: closing %s failed: %s", o->wav_path, sf_error_number(e));
    else log_info("audio: wrote %s (%.2f s)", o->wav_path, (double)o->wav_frames / WIRE_SAMPLE_RATE);
  }
  free(o->wav_path);
  free(o);
}
