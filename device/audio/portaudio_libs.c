#define _GNU_SOURCE /* dl_iterate_phdr, RTLD_NOLOAD, RTLD_NODELETE */
#include "audio/portaudio_libs.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

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

void pa_out_quiet_libraries(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, quiet_once);
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

void pa_out_pin_alsa_plugins(void) { dl_iterate_phdr(pin_one, NULL); }
