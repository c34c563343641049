/* PortAudio output; see audio_out_portaudio.h and the design notes at the
 * top of audio_player.c. */
#include "audio/audio_out_portaudio.h"

#include <ctype.h>
#include <portaudio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "audio/portaudio_libs.h"
#include "clock.h"
#include "log.h"
#include "wire.h"

#define NO_DEVICE_HINT "use --audio-out null or --audio-out wav:FILE"
#define STEREO_CHUNK 512 /* frames converted at a time for a stereo-only device */

struct pa_out {
  PaStream *stream;
  jitter_buffer *jb;
  int channels; /* 1, or 2 when the device cannot do mono (samples duplicated) */
  _Atomic uint64_t frames;
  _Atomic unsigned host_underflows; /* paOutputUnderflow flags seen */
  bool initialized;
};

/* ---- the callback: never blocks, never allocates ---- */

static int pa_callback(const void *input, void *output, unsigned long frames,
                       const PaStreamCallbackTimeInfo *time_info,
                       PaStreamCallbackFlags flags, void *user) {
  (void)input;
  (void)time_info;
  pa_out *o = user;
  int64_t now = clock_now_ns();
  int16_t *out = output;
  if (flags & paOutputUnderflow)
    atomic_fetch_add_explicit(&o->host_underflows, 1, memory_order_relaxed);
  if (o->channels == 1) {
    jb_read(o->jb, out, frames, now);
  } else {
    int16_t mono[STEREO_CHUNK];
    unsigned long done = 0;
    while (done < frames) {
      size_t n = frames - done < STEREO_CHUNK ? frames - done : STEREO_CHUNK;
      jb_read(o->jb, mono, n, now);
      for (size_t i = 0; i < n; i++) out[2 * (done + i)] = out[2 * (done + i) + 1] = mono[i];
      done += n;
    }
  }
  atomic_fetch_add_explicit(&o->frames, frames, memory_order_relaxed);
  return paContinue;
}

/* ---- choosing a device ---- */

static bool is_output(PaDeviceIndex i) {
  const PaDeviceInfo *info = Pa_GetDeviceInfo(i);
  return info && info->maxOutputChannels > 0;
}

static bool all_digits(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return false;
  return true;
}

static PaDeviceIndex find_device(const char *device, char *err, size_t err_len) {
  int count = Pa_GetDeviceCount();
  if (count < 0) {
    snprintf(err, err_len, "no usable sound device (PortAudio: %s); " NO_DEVICE_HINT,
             Pa_GetErrorText(count));
    return paNoDevice;
  }
  bool any = false;
  for (PaDeviceIndex i = 0; i < count; i++) any = any || is_output(i);
  if (!any) {
    snprintf(err, err_len, "no usable sound device (PortAudio found none); " NO_DEVICE_HINT);
    return paNoDevice;
  }
  if (!device || !*device || strcmp(device, "default") == 0) {
    PaDeviceIndex d = Pa_GetDefaultOutputDevice();
    if (d == paNoDevice || !is_output(d))
      snprintf(err, err_len,
               "no usable sound device (PortAudio has no default output device); "
               "name one with --audio-device, or " NO_DEVICE_HINT);
    return d;
  }
  if (all_digits(device)) {
    long i = strtol(device, NULL, 10);
    if (i < count && is_output((PaDeviceIndex)i)) return (PaDeviceIndex)i;
    snprintf(err, err_len,
             "sound device %s: no such PortAudio output device (see --list-audio-devices)",
             device);
    return paNoDevice;
  }
  for (PaDeviceIndex i = 0; i < count; i++)
    if (is_output(i) && strcmp(Pa_GetDeviceInfo(i)->name, device) == 0) return i;
  for (PaDeviceIndex i = 0; i < count; i++)
    if (is_output(i) && strstr(Pa_GetDeviceInfo(i)->name, device)) return i;
  snprintf(err, err_len,
           "sound device \"%s\": no PortAudio output device has that name "
           "(see --list-audio-devices)",
           device);
  return paNoDevice;
}

static PaStreamParameters params_for(PaDeviceIndex d, int channels) {
  const PaDeviceInfo *info = Pa_GetDeviceInfo(d);
  PaStreamParameters p = {
      .device = d,
      .channelCount = channels,
      .sampleFormat = paInt16,
      /* Low latency, but not below 20 ms: the callback runs the jitter
       * buffer, which already absorbs network jitter; the device buffer
       * only has to cover scheduling. */
      .suggestedLatency = info->defaultLowOutputLatency > 0.02 ? info->defaultLowOutputLatency
                                                                 : 0.02,
      .hostApiSpecificStreamInfo = NULL,
  };
  return p;
}

/* Mono when the device takes it, else stereo with the samples duplicated
 * (some ALSA hardware devices have no mono mode). */
static bool choose_channels(pa_out *o, PaDeviceIndex d, PaStreamParameters *p, char *err,
                            size_t err_len) {
  const PaDeviceInfo *info = Pa_GetDeviceInfo(d);
  *p = params_for(d, 1);
  o->channels = 1;
  PaError mono = Pa_IsFormatSupported(NULL, p, WIRE_SAMPLE_RATE);
  if (mono == paNoError) return true;
  PaStreamParameters p2 = params_for(d, 2);
  PaError stereo = info->maxOutputChannels >= 2 ? Pa_IsFormatSupported(NULL, &p2, WIRE_SAMPLE_RATE)
                                                : paInvalidChannelCount;
  if (stereo != paNoError) {
    if (mono == paInvalidSampleRate || stereo == paInvalidSampleRate)
      snprintf(err, err_len,
               "sound device \"%s\" cannot play 48 kHz (its default rate is %.0f Hz); "
               "pick a device that converts rates, such as \"default\" or \"pulse\"",
               info->name, info->defaultSampleRate);
    else
      snprintf(err, err_len, "sound device \"%s\" cannot play 48 kHz 16-bit mono or stereo (%s)",
               info->name, Pa_GetErrorText(mono));
    return false;
  }
  o->channels = 2;
  *p = p2;
  log_info("audio: \"%s\" does not take mono, playing the mono signal on both channels",
           info->name);
  return true;
}

/* Opened and started at once: the stream runs for the player's whole life. */
static bool start_stream(pa_out *o, PaDeviceIndex d, const PaStreamParameters *p, char *err,
                         size_t err_len) {
  PaError e = Pa_OpenStream(&o->stream, NULL, p, WIRE_SAMPLE_RATE, paFramesPerBufferUnspecified,
                            paClipOff, pa_callback, o);
  if (e == paNoError) {
    e = Pa_StartStream(o->stream);
    if (e != paNoError) {
      Pa_CloseStream(o->stream);
      o->stream = NULL;
    }
  }
  if (e != paNoError) {
    snprintf(err, err_len, "no usable sound device (cannot open \"%s\": %s); " NO_DEVICE_HINT,
             Pa_GetDeviceInfo(d)->name, Pa_GetErrorText(e));
    return false;
  }
  return true;
}

static void log_opened(const pa_out *o, PaDeviceIndex d) {
  const PaDeviceInfo *info = Pa_GetDeviceInfo(d);
  const PaHostApiInfo *api = Pa_GetHostApiInfo(info->hostApi);
  const PaStreamInfo *si = Pa_GetStreamInfo(o->stream);
  log_info("audio: PortAudio device %d \"%s\" (%s), 48 kHz %s 16-bit, output latency %.0f ms",
           d, info->name, api ? api->name : "?", o->channels == 1 ? "mono" : "stereo",
           si ? si->outputLatency * 1000.0 : -1.0);
}

/* A pa_out with PortAudio initialised for it; NULL with `err` filled. */
static pa_out *new_out(jitter_buffer *jb, char *err, size_t err_len) {
  pa_out *o = calloc(1, sizeof *o);
  if (!o) {
    snprintf(err, err_len, "out of memory");
    return NULL;
  }
  o->jb = jb;
  atomic_init(&o->frames, 0);
  atomic_init(&o->host_underflows, 0);
  PaError e = Pa_Initialize();
  if (e != paNoError) {
    snprintf(err, err_len, "no usable sound device (PortAudio cannot start: %s); " NO_DEVICE_HINT,
             Pa_GetErrorText(e));
    free(o);
    return NULL;
  }
  o->initialized = true;
  return o;
}

pa_out *pa_out_open(const char *device, jitter_buffer *jb, char *err, size_t err_len) {
  pa_out_quiet_libraries();
  pa_out *o = new_out(jb, err, err_len);
  if (!o) return NULL;
  PaStreamParameters p;
  PaDeviceIndex d = find_device(device, err, err_len);
  if (d == paNoDevice || !choose_channels(o, d, &p, err, err_len) ||
      !start_stream(o, d, &p, err, err_len)) {
    pa_out_pin_alsa_plugins();
    Pa_Terminate();
    free(o);
    return NULL;
  }
  pa_out_pin_alsa_plugins(); /* opening may have loaded more */
  log_opened(o, d);
  return o;
}

uint64_t pa_out_frames(pa_out *o) { return atomic_load(&o->frames); }

void pa_out_close(pa_out *o) {
  if (!o) return;
  if (o->stream) {
    /* Pa_StopStream waits for the last callback and lets what the device
     * holds play out; Pa_AbortStream would cut it. */
    Pa_StopStream(o->stream);
    Pa_CloseStream(o->stream);
  }
  unsigned under = atomic_load(&o->host_underflows);
  if (under) log_info("audio: the sound device reported %u underflows", under);
  pa_out_pin_alsa_plugins();
  if (o->initialized) Pa_Terminate();
  free(o);
}

int pa_out_list_devices(FILE *out) {
  pa_out_quiet_libraries();
  PaError e = Pa_Initialize();
  if (e != paNoError) {
    fprintf(out, "PortAudio cannot start: %s\n", Pa_GetErrorText(e));
    return -1;
  }
  pa_out_pin_alsa_plugins();
  int count = Pa_GetDeviceCount();
  PaDeviceIndex def = Pa_GetDefaultOutputDevice();
  int shown = 0;
  fprintf(out, "PortAudio output devices:\n");
  for (PaDeviceIndex i = 0; i < count; i++) {
    const PaDeviceInfo *info = Pa_GetDeviceInfo(i);
    if (!info || info->maxOutputChannels <= 0) continue;
    const PaHostApiInfo *api = Pa_GetHostApiInfo(info->hostApi);
    fprintf(out, "  %c%3d  %-40s %-6s %2d ch  %6.0f Hz\n", i == def ? '*' : ' ', i, info->name,
            api ? api->name : "?", info->maxOutputChannels, info->defaultSampleRate);
    shown++;
  }
  if (!shown) fprintf(out, "  (none)\n");
  else fprintf(out, "  * = default\n");
  Pa_Terminate();
  return 0;
}
