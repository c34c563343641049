/* PortAudio output; see audio_out_portaudio.h and the design notes at the
 * top of audio_player.c. */
#define _GNU_SOURCE /* dl_iterate_phdr, RTLD_NOLOAD, RTLD_NODELETE: see pin_alsa_plugins */
#include "audio/audio_out_portaudio.h"

#include <ctype.h>
#include <dlfcn.h>
#include <link.h>
#include <portaudio.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio_player.h"
#include "clock.h"
#include "log.h"

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

/* ---- keeping ALSA's and JACK's probing noise off stderr ----
 *
 * Pa_Initialize probes every ALSA PCM and tries to reach a JACK server;
 * both libraries print each failure to stderr (dozens of "ALSA lib ...
 * cannot find card" lines on a machine without a sound card), which look
 * like errors in a normal run. Both let a program replace that printer.
 * They are PortAudio's own dependencies, so already loaded: dlopen finds
 * them without our linking them, and we route their messages to the debug
 * log. If either is missing, nothing happens. */

typedef void (*alsa_error_fn)(const char *file, int line, const char *function, int err,
                              const char *fmt, ...);
typedef void (*jack_msg_fn)(const char *msg);

static void alsa_to_debug(const char *file, int line, const char *function, int err,
                          const char *fmt, ...) {
  (void)file;
  (void)line;
  (void)err;
  if (!log_enabled(LOG_DEBUG)) return;
  char text[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  log_debug("alsa: %s: %s", function ? function : "?", text);
}

static void jack_to_debug(const char *msg) {
  if (log_enabled(LOG_DEBUG)) log_debug("jack: %s", msg ? msg : "");
}

/* dlsym's object pointer into a function pointer, without a cast ISO C lacks. */
static void symbol(void *lib, const char *name, void *fn, size_t fn_size) {
  void *sym = dlsym(lib, name);
  memset(fn, 0, fn_size);
  if (sym && fn_size == sizeof sym) memcpy(fn, &sym, sizeof sym);
}

static void quiet_once(void) {
  void *alsa = dlopen("libasound.so.2", RTLD_LAZY);
  if (alsa) {
    int (*set_handler)(alsa_error_fn);
    symbol(alsa, "snd_lib_error_set_handler", &set_handler, sizeof set_handler);
    if (set_handler) set_handler(alsa_to_debug);
    /* The handle stays open: the library must not go away under the handler. */
  }
  void *jack = dlopen("libjack.so.0", RTLD_LAZY);
  if (jack) {
    void (*set_error)(jack_msg_fn);
    void (*set_info)(jack_msg_fn);
    symbol(jack, "jack_set_error_function", &set_error, sizeof set_error);
    symbol(jack, "jack_set_info_function", &set_info, sizeof set_info);
    if (set_error) set_error(jack_to_debug);
    if (set_info) set_info(jack_to_debug);
  }
}

/* ---- keeping ALSA's plugins loaded ----
 *
 * While probing, ALSA loads its plugins (pcm_pulse, pcm_a52, ...) and their
 * libraries; Pa_Terminate has ALSA unload them again. Some of those
 * libraries allocate in their constructors and keep the pointer in a global
 * (libgomp and libpixman, via pcm_a52's libavcodec, on Debian 12): once
 * unloaded, LeakSanitizer no longer sees the globals and reports those
 * blocks as leaks of ours, failing every ASan run that touches PortAudio.
 * Marking the plugins RTLD_NODELETE keeps them mapped until exit, which
 * costs nothing (they are loaded already) and leaves the blocks reachable. */

static int pin_one(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  (void)data;
  if (info->dlpi_name && strstr(info->dlpi_name, "/libasound_module_")) {
    void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
    if (h) dlclose(h); /* the flag stays; the reference does not */
  }
  return 0;
}

static void pin_alsa_plugins(void) { dl_iterate_phdr(pin_one, NULL); }

void pa_out_quiet_libraries(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, quiet_once);
}

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

pa_out *pa_out_open(const char *device, jitter_buffer *jb, char *err, size_t err_len) {
  pa_out_quiet_libraries();
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

  PaDeviceIndex d = find_device(device, err, err_len);
  if (d == paNoDevice) goto fail;
  const PaDeviceInfo *info = Pa_GetDeviceInfo(d);
  const char *api = Pa_GetHostApiInfo(info->hostApi) ? Pa_GetHostApiInfo(info->hostApi)->name
                                                      : "?";

  PaStreamParameters p = params_for(d, 1);
  PaError mono = Pa_IsFormatSupported(NULL, &p, WIRE_SAMPLE_RATE);
  o->channels = 1;
  if (mono != paNoError) {
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
      goto fail;
    }
    o->channels = 2;
    p = p2;
    log_info("audio: \"%s\" does not take mono, playing the mono signal on both channels",
             info->name);
  }

  e = Pa_OpenStream(&o->stream, NULL, &p, WIRE_SAMPLE_RATE, paFramesPerBufferUnspecified, paClipOff,
                    pa_callback, o);
  if (e == paNoError) {
    e = Pa_StartStream(o->stream);
    if (e != paNoError) {
      Pa_CloseStream(o->stream);
      o->stream = NULL;
    }
  }
  if (e != paNoError) {
    snprintf(err, err_len, "no usable sound device (cannot open \"%s\": %s); " NO_DEVICE_HINT,
             info->name, Pa_GetErrorText(e));
    goto fail;
  }
  pin_alsa_plugins(); /* opening may have loaded more */
  const PaStreamInfo *si = Pa_GetStreamInfo(o->stream);
  log_info("audio: PortAudio device %d \"%s\" (%s), 48 kHz %s 16-bit, output latency %.0f ms",
           d, info->name, api, o->channels == 1 ? "mono" : "stereo",
           si ? si->outputLatency * 1000.0 : -1.0);
  return o;

fail:
  pin_alsa_plugins();
  Pa_Terminate();
  free(o);
  return NULL;
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
  pin_alsa_plugins();
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
  pin_alsa_plugins();
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
