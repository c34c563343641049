/* The device's sound path: Opus packets in, decoded at once into a jitter
 * buffer, played through an output (PortAudio, null, or a WAV file).
 *
 * Threads: begin/packet/end are called from the device loop thread; the
 * output pulls from the buffer on a thread of its own (PortAudio's
 * callback, or a real-time pacing thread for null and WAV); stats may be
 * read from any thread. */
#ifndef OPAL_AUDIO_PLAYER_H
#define OPAL_AUDIO_PLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wire.h"

#define AUDIO_DEFAULT_BUFFER_MS 60

typedef enum {
  AUDIO_OUT_PORTAUDIO, /* `device`: a PortAudio device name or index; NULL = default */
  AUDIO_OUT_NULL,      /* consumes samples at real time, plays nothing */
  AUDIO_OUT_WAV,       /* writes what would be played to `wav_path`, at real time */
} audio_out_kind;

typedef struct audio_config {
  audio_out_kind kind;
  const char *device;
  const char *wav_path;
  unsigned buffer_ms; /* start playing once this much is buffered;
                         0 = AUDIO_DEFAULT_BUFFER_MS */
} audio_config;

typedef struct audio_stats {
  bool playing;            /* a sound is in progress (begun, not yet drained) */
  unsigned buffered_ms;    /* decoded audio waiting to be played */
  unsigned underruns;      /* times the output wanted audio the buffer lacked, mid-sound */
  int64_t first_sample_ns; /* clock_now_ns() when the current sound's first sample
                              was handed to the output; 0 until then */
  int64_t silent_ns;       /* when the current sound's last sample has been
                              played, once it has drained (not playing); else 0 */
  uint64_t samples_played; /* in total, at 48 kHz */
  uint64_t samples_dropped; /* in total: decoded audio that found the buffer full
                               (only if the output stalls for seconds) */
  uint64_t output_frames;   /* frames the output has pulled since it opened,
                               audio and silence: the output's own clock */
} audio_stats;

typedef struct audio_player audio_player;

/* Opens the output. With AUDIO_OUT_PORTAUDIO and no usable sound device,
 * fails with one line in `err` saying so and suggesting --audio-out null or
 * --audio-out wav:FILE. The caller owns the player. */
audio_player *audio_player_open(const audio_config *config, char *err, size_t err_len);

/* A sound starts (is_start): drop anything left of the previous one. */
void audio_player_begin(audio_player *p);

/* Decodes one Opus packet into the buffer. Returns the number of samples,
 * or a negative libopus error (the packet is then skipped). Playback starts
 * once `buffer_ms` is buffered, never waiting for the end. */
int audio_player_packet(audio_player *p, const uint8_t *data, size_t len);

/* The sound ends (is_end): what is buffered plays out, then output stops. */
void audio_player_end(audio_player *p);

void audio_player_stats(audio_player *p, audio_stats *out);

/* Stops the output and frees everything. NULL is allowed. */
void audio_player_close(audio_player *p);

/* Prints PortAudio's output devices (index, name, channels, default rate)
 * to `out`. Returns 0, or -1 if PortAudio cannot start. */
int audio_list_devices(FILE *out);

#endif
