/* Turns any file libsndfile reads (WAV, FLAC, ...) into Opus packets:
 * decode, mix to mono, resample to 48 kHz, encode in 20 ms frames. */
#ifndef OPAL_PCM_ENCODER_H
#define OPAL_PCM_ENCODER_H

#include <stddef.h>

#include "sounds/sound.h"

#define PCM_ENCODER_FRAME_SAMPLES 960 /* 20 ms at 48 kHz */
#define PCM_ENCODER_BITRATE 32000

/* Appends the encoded packets of the file at `path` to `out`.
 * Returns 0, or -1 with a one-line reason in `err`
 * (the caller names the file). On failure `out` may hold some packets:
 * the caller clears it.. */
int pcm_file_encode(const char *path, sound *out, char *err, size_t err_len);

/* Encodes `count` mono samples at 48 kHz (the last frame padded with
 * silence). Returns 0, or -1 with a reason in `err`. */
int pcm_encode_48k(const float *pcm, size_t count, sound *out, char *err,
                   size_t err_len);

#endif
