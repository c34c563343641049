/* The null and WAV outputs: a thread that pulls from a jitter buffer at
 * real time, 10 ms at a time on absolute deadlines, so buffering, stats and
 * latency behave as with a sound card. With a WAV path it also writes what
 * a sound card would have played, while a sound plays (from its first
 * sample until it has drained, silence of any underrun included; idle and
 * priming time is left out), as 48 kHz mono 16-bit PCM. Internal to
 * audio_player.c. */
#ifndef OPAL_AUDIO_OUT_PACER_H
#define OPAL_AUDIO_OUT_PACER_H

#include <stddef.h>
#include <stdint.h>

#include "audio/jitter_buffer.h"

#define PACER_CHUNK_MS 10

typedef struct pacer_out pacer_out;

/* `wav_path` NULL: the null output. NULL with one line in `err`. */
pacer_out *pacer_out_open(jitter_buffer *jb, const char *wav_path, char *err, size_t err_len);

/* Stops the thread; a WAV file is complete and valid once this returns (its
 * header is also kept up to date as it grows, so a killed process leaves a
 * readable file too). */
void pacer_out_close(pacer_out *o);

/* Frames pulled since the thread started (audio and silence). */
uint64_t pacer_out_frames(pacer_out *o);

#endif
