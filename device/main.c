/* opal-device: parses flags, builds the back end and the audio output,
 * runs the device until quit or SIGINT/SIGTERM. */
#include <grpc/grpc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audio_player.h"
#include "clock.h"
#include "device_app.h"
#include "device_options.h"
#include "log.h"
#include "report.h"
#include "script.h"
#include "script_runner.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void handle_signals(void) {
  struct sigaction sa = {.sa_handler = on_stop_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* Builds the back end the options ask for; NULL with `err` on failure. */
static hw_backend *make_backend(const device_options *o, reporter *rep, char *err, size_t len) {
  if (o->mode == MODE_SCRIPT) {
    script s;
    if (script_load(o->script_path, &s, err, len) != 0) return NULL;
    return script_runner_create(&s, rep);
  }
  snprintf(err, len, "this build has no %s back end yet", o->mode == MODE_SIM ? "--sim" : "gpio");
  return NULL;
}

static int run(const device_options *o) {
  char err[512];
  reporter *rep = reporter_create(o->mode == MODE_SCRIPT ? stdout : NULL, o->device_id);
  hw_backend *hw = make_backend(o, rep, err, sizeof err);
  if (!hw) {
    fprintf(stderr, "opal-device: %s\n", err);
    reporter_destroy(rep);
    return 2;
  }
  audio_player *audio = audio_player_open(&o->audio, err, sizeof err);
  if (!audio) {
    fprintf(stderr, "opal-device: %s\n", err);
    hw->ops->destroy(hw);
    reporter_destroy(rep);
    return 1;
  }
  device_app_config config = {
      .conn = {.target = o->server,
               .device_id = o->device_id,
               .backoff_base_ms = 100,
               .backoff_cap_ms = 3000,
               .seed = (uint64_t)clock_now_ns() ^ (uint64_t)getpid()},
      .connect_at_start = o->mode != MODE_SCRIPT,
      .script_mode = o->mode == MODE_SCRIPT,
  };
  bool script_failed = false;
  int rc = device_app_run(&config, hw, audio, rep, &stop_requested, &script_failed);
  audio_player_close(audio);
  reporter_destroy(rep);
  return rc != 0 ? rc : script_failed ? 1 : 0;
}

int main(int argc, char **argv) {
  device_options opts;
  char err[512];
  switch (device_options_parse(argc, argv, &opts, stdout, err, sizeof err)) {
  case DEVICE_OPTIONS_DONE:
    return 0;
  case DEVICE_OPTIONS_BAD:
    fprintf(stderr, "opal-device: %s\n", err);
    return 2;
  case DEVICE_OPTIONS_RUN:
    break;
  }
  if (opts.list_audio_devices) return audio_list_devices(stdout) == 0 ? 0 : 1;
  log_set_level(opts.log_level);
  if (opts.log_file && !freopen(opts.log_file, "a", stderr)) {
    fprintf(stdout, "opal-device: --log-file %s: cannot open it\n", opts.log_file);
    return 2;
  }
  handle_signals();
  grpc_init();
  int rc = run(&opts);
  grpc_shutdown();
  return rc;
}
