/* opal-device's command line. */
#ifndef OPAL_DEVICE_OPTIONS_H
#define OPAL_DEVICE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "audio/audio_player.h"
#include "cli_args.h"
#include "config_file.h"
#include "device_id.h"
#include "log.h"

#define OPAL_DEVICE_VERSION "0.1.0"
#define DEVICE_DEFAULT_SERVER "localhost:50051"

typedef enum { MODE_GPIO, MODE_SIM, MODE_SCRIPT, MODE_FLEET } device_mode;

#define DEVICE_MAX_GPIO_FLAGS 32 /* the [gpio] keys (9), then the flags */

typedef struct device_options {
  device_mode mode; /* --fleet, else --script, else --sim, else gpio */
  const char *server;
  char device_id[DEVICE_ID_MAX_LEN + 1];
  const char *script_path; /* MODE_SCRIPT, or every fleet device; "-" is stdin */
  /* TLS (all NULL: plaintext). --tls-ca is a PEM file or "system"; a single
   * device's certificate is --tls-cert and --tls-key, a fleet's are in
   * --tls-cert-dir (PREFIX-i.crt, PREFIX-i.key). Checked against each other
   * here; the files are read at start-up (tls/device_creds.h). */
  const char *tls_ca, *tls_cert, *tls_key, *tls_cert_dir, *tls_server_name;
  bool sim;
  /* --fleet */
  unsigned fleet_count;
  const char *id_prefix;
  double ramp_per_s, duration_s, play_per_min, mode_per_min, play_seconds, progress_s;
  unsigned late_ms;
  bool decode, json;
  unsigned packet_ms; /* --packet-ms: asked for on ServerAudioStream; 20 = don't ask */
  audio_config audio;
  bool list_audio_devices;
  const char *log_file; /* NULL: stderr (in --sim: discarded) */
  log_level log_level;
  /* The pin map and timings: the config file's [gpio] keys, then the flags
   * over them, in order (checked by gpio_config_flag, which names the flag
   * or key on error). */
  struct gpio_setting {
    const char *flag, *key, *value;
  } gpio[DEVICE_MAX_GPIO_FLAGS];
  size_t gpio_count;
  config_text config; /* the config file: values taken from it point here */
} device_options;

/* Parses argv over the config file (--config FILE, else device.conf in
 * $OPAL_CONFIG_DIR or /etc/opal; config_file.h); see cli_parse for what
 * the result means. */
cli_result device_options_parse(int argc, char **argv, device_options *o, FILE *out, char *err,
                                size_t err_len);

#endif
