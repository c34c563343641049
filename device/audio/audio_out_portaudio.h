/* The PortAudio output: a stream that stays open and running for the
 * player's whole life, its callback pulling from a jitter buffer (silence
 * when idle). Internal to audio_player.c. */
#ifndef OPAL_AUDIO_OUT_PORTAUDIO_H
#define OPAL_AUDIO_OUT_PORTAUDIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audio/jitter_buffer.h"

typedef struct pa_out pa_out;

/* `device`: NULL, "" or "default" for the default output device, a number
 * for a PortAudio device index, or a name (exact match first, then the
 * first device whose name contains it). NULL with one line in `err`. */
pa_out *pa_out_open(const char *device, jitter_buffer *jb, char *err, size_t err_len);
void pa_out_close(pa_out *o);

/* Frames the device has pulled since the stream started (audio and silence). */
uint64_t pa_out_frames(pa_out *o);

int pa_out_list_devices(FILE *out);

#endif
