/* opal-device: parses flags, builds the back end and the audio output,
 * runs the device until quit or SIGINT/SIGTERM. */
#include <grpc/grpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grpc_log.h"
#include "grpc_mutex_checks.h"
#include "audio/audio_player.h"
#include "clock.h"
#include "app/device_app.h"
#include "app/device_options.h"
#include "fleet/fleet.h"
#include "gpio/gpio_config.h"
#include "gpio/hw_gpio.h"
#include "term/hw_term.h"
#include "log.h"
#include "stop_signal.h"
#include "script/report.h"
#include "script/script.h"
#include "script/script_runner.h"
#include "tls/device_creds.h"
#include "tls/tls_creds.h"

/* The pin map and timings: defaults, then the config file's [gpio], then
 * the flags. */
static int load_pin_map(const device_options *o, gpio_config *cfg, char *err, size_t len) {
  gpio_config_defaults(cfg);
  for (size_t i = 0; i < o->gpio_count; i++) {
    const struct gpio_setting *g = &o->gpio[i];
    if (gpio_config_flag(cfg, g->flag, g->key, g->value, err, len) != 0) return -1;
  }
  return gpio_config_check(cfg, err, len);
}

/* Builds the back end the options ask for; NULL with `err` on failure. */
static hw_backend *make_backend(const device_options *o, reporter *rep, char *err, size_t len) {
  gpio_config pins;
  if (load_pin_map(o, &pins, err, len) != 0) return NULL;
  if (o->mode == MODE_SCRIPT) {
    script s;
    if (script_load(o->script_path, &s, err, len) != 0) return NULL;
    return script_runner_create(&s, rep);
  }
  if (o->mode == MODE_SIM) {
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
      snprintf(err, len, "%s", HW_TERM_NOT_A_TTY);
      return NULL;
    }
    hw_term_options term = hw_term_options_default();
    term.hold_ms = pins.hold_ms; /* a held key behaves like a held button */
    return hw_term_create(&term);
  }
  char described[300];
  gpio_config_describe(&pins, described, sizeof described);
  log_info("gpio: %s", described);
  return hw_gpio_create(&pins, err, len);
}

static int run_fleet(const device_options *o, const device_creds *creds) {
  script s = {0};
  char err[512];
  if (o->script_path && script_load(o->script_path, &s, err, sizeof err) != 0) {
    fprintf(stderr, "opal-device: %s\n", err);
    return 2;
  }
  fleet_config config = {
      .server = o->server,
      .creds = creds,
      .tls_server_name = o->tls_server_name,
      .id_prefix = o->id_prefix,
      .count = o->fleet_count,
      .ramp_per_s = o->ramp_per_s,
      .duration_s = o->duration_s,
      .mix = {.play_per_min = o->play_per_min,
              .mode_per_min = o->mode_per_min,
              .play_seconds = o->play_seconds},
      .script = o->script_path ? &s : NULL,
      .late_ms = o->late_ms,
      .packet_ms = o->packet_ms,
      .decode = o->decode,
      .progress_s = o->progress_s,
      .json = o->json,
  };
  int rc = fleet_run(&config, &stop_signals);
  script_free(&s);
  return rc;
}

/* What a single device runs on. Each part is NULL until it is made, so
 * close_parts undoes however much open_parts got through. */
typedef struct device_parts {
  reporter *rep;
  hw_backend *hw; /* handed to device_app_run, which destroys it */
  audio_player *audio;
} device_parts;

/* Returns 0, or the exit code (the reason is printed). */
static int open_parts(const device_options *o, device_parts *p) {
  char err[512];
  p->rep = reporter_create(o->mode == MODE_SCRIPT ? stdout : NULL, o->device_id);
  p->hw = make_backend(o, p->rep, err, sizeof err);
  if (!p->hw) {
    fprintf(stderr, "opal-device: %s\n", err);
    return 2;
  }
  p->audio = audio_player_open(&o->audio, err, sizeof err);
  if (!p->audio) {
    fprintf(stderr, "opal-device: %s\n", err);
    return 1;
  }
  /* The terminal is the screen now: logs would scribble over it. */
  if (o->mode == MODE_SIM && !o->log_file && !freopen("/dev/null", "a", stderr)) return 1;
  return 0;
}

static void close_parts(device_parts *p) {
  if (p->hw) p->hw->ops->destroy(p->hw);
  audio_player_close(p->audio);
  reporter_destroy(p->rep);
}

static int run_device(const device_options *o, const device_creds *creds) {
  device_parts parts = {0};
  int rc = open_parts(o, &parts);
  if (rc == 0) {
    device_app_config config = {
        .conn = {.target = o->server,
                 .device_id = o->device_id,
                 .security = {.creds = device_creds_get(creds, 0),
                              .client_cert = device_creds_client_cert(creds),
                              .server_name = o->tls_server_name},
                 .backoff_base_ms = CONN_BACKOFF_BASE_MS,
                 .backoff_cap_ms = CONN_BACKOFF_CAP_MS,
                 .seed = (uint64_t)clock_now_ns() ^ (uint64_t)getpid(),
                 .packet_ms = o->packet_ms},
        .connect_at_start = o->mode != MODE_SCRIPT,
    };
    rc = device_app_run(&config, parts.hw, parts.audio, parts.rep, &stop_signals);
    parts.hw = NULL; /* destroyed by device_app_run */
  }
  close_parts(&parts);
  return rc;
}

/* How the connection is secured, once at start-up. */
static void log_tls(const device_options *o) {
  if (!o->tls_ca) return;
  const char *who = o->tls_cert ? o->tls_cert : o->tls_cert_dir;
  log_info("tls on: the server's certificate checked against %s%s%s%s%s%s",
           strcmp(o->tls_ca, TLS_CA_SYSTEM) == 0 ? "the system's roots" : o->tls_ca,
           o->tls_server_name ? " for the name " : "", o->tls_server_name ? o->tls_server_name : "",
           who ? "; presenting " : "; no client certificate", who ? who : "",
           o->tls_cert_dir ? " (PREFIX-i.crt each)" : "");
}

int main(int argc, char **argv) {
  device_options opts;
  char err[512];
  switch (device_options_parse(argc, argv, &opts, stdout, err, sizeof err)) {
  case CLI_DONE:
    return 0;
  case CLI_BAD:
    fprintf(stderr, "opal-device: %s\n", err);
    return 2;
  case CLI_RUN:
    break;
  }
  if (opts.list_audio_devices) return audio_list_devices(stdout) == 0 ? 0 : 1;
  log_set_level(opts.log_level);
  if (opts.log_file) {
    if (!freopen(opts.log_file, "a", stderr)) {
      fprintf(stdout, "opal-device: --log-file %s: cannot open it\n", opts.log_file);
      return 2;
    }
    /* A reopened stderr is fully buffered: line buffering keeps the file
     * current for `tail -f`, and a killed device loses no lines. */
    setvbuf(stderr, NULL, _IOLBF, 0);
  }
  stop_signal_install(false);
  grpc_log_route();
  grpc_mutex_checks_off();
  grpc_init();
  /* The TLS files are read and checked before anything else starts; like
   * a bad flag, a bad file is one line and exit 2. */
  device_creds *creds = device_creds_open(
      &(tls_flags){.ca = opts.tls_ca, .cert = opts.tls_cert, .key = opts.tls_key,
                   .cert_dir = opts.tls_cert_dir},
      opts.id_prefix, opts.mode == MODE_FLEET ? opts.fleet_count : 1, err, sizeof err);
  if (!creds) {
    fprintf(stderr, "opal-device: %s\n", err);
    grpc_shutdown();
    return 2;
  }
  log_tls(&opts);
  int rc = opts.mode == MODE_FLEET ? run_fleet(&opts, creds) : run_device(&opts, creds);
  device_creds_close(creds); /* every connection is gone */
  grpc_shutdown();
  /* The last line of the log says how the program ended, so that a device
   * left behind by a closed SSH session or a service manager can be told
   * from one that crashed. */
  if (stop_signal_first)
    log_info("stopped on %s (exit %d)", stop_signal_name(stop_signal_first), rc);
  else
    log_info("stopped (exit %d)", rc);
  return rc;
}
