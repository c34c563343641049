#include "app/device_options.h"

#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "config_file.h"
#include "gpio/gpio_config.h"
#include "net/audio_stream.h"

static const char usage[] =
    "Usage: opal-device [OPTIONS]\n"
    "The Opal device: LEDs and buttons on GPIO (default), in a terminal (--sim),\n"
    "or driven by a script (--script); sound through PortAudio. With --fleet N,\n"
    "one process simulates N devices for load tests.\n"
    "\n"
    "Options:\n"
    "Connection:\n"
    "  --server HOST:PORT       server to use (default " DEVICE_DEFAULT_SERVER ")\n"
    "  --device-id ID           device_id, 1-64 printable characters (default: hostname)\n"
    "  --packet-ms N            ask the server for Opus packets of up to N ms, 20..120;\n"
    "                           20 asks for nothing (default 120; also every --fleet device)\n"
    "TLS (default: plaintext; see docs/device.md):\n"
    "  --tls-ca FILE|system     use TLS; the server's certificate must chain to this\n"
    "                           CA (PEM), or with 'system' to the system's roots\n"
    "  --tls-cert FILE          the device's certificate (PEM), for mutual TLS, with\n"
    "  --tls-key FILE           its private key (PEM, unencrypted); both need --tls-ca\n"
    "  --tls-server-name NAME   the name the server's certificate carries, when it\n"
    "                           is not the host of --server\n"
    "Front end:\n"
    "  --sim                    the terminal is the device: keys c m p s q, LEDs drawn\n"
    "  --script FILE|-          run commands from FILE (- = stdin), print JSON lines\n"
    "Audio:\n"
    "  --buffer-ms N            jitter buffer before playback starts, 10..2000 (default 60)\n"
    "  --audio-out OUT          portaudio (default), null, or wav:FILE\n"
    "  --audio-device NAME|N    PortAudio output device (see --list-audio-devices)\n"
    "  --list-audio-devices     list PortAudio output devices and exit\n"
    "GPIO (Raspberry Pi; see docs/raspberry-pi.md):\n"
    "  --config FILE            config file: KEY = VALUE lines, KEY a long flag\n"
    "                           without --, and a [gpio] section of pins and\n"
    "                           timings (default /etc/opal/device.conf, if it\n"
    "                           exists; the flags given here win over it)\n"
    "  --gpio-chip CHIP         gpio chip name, path, number or label (default gpiochip0)\n"
    "  --led-lines L0,..,L5     six line offsets for led_0..led_5\n"
    "  --button-lines B1,..,B4  four line offsets: Connect, Mode, Stop, Play\n"
    "  --buttons-active-low     buttons read 0 when pressed (default)\n"
    "  --buttons-active-high    buttons read 1 when pressed\n"
    "  --debounce-ms N          button debounce, 0..1000 (default 20)\n"
    "  --hold-ms N              press length that sends HOLD, 50..10000 (default 800)\n"
    "Fleet (many simulated devices in one process; see docs/fleet.md):\n"
    "  --fleet N                N devices, ids PREFIX-0 .. PREFIX-(N-1), 1..100000\n"
    "  --id-prefix PREFIX       (default fleet)\n"
    "  --ramp R                 connections started per second (default 1000)\n"
    "  --duration S             seconds of activity after the ramp (default 10)\n"
    "  --play-rate P            Play presses per device per minute (default 6)\n"
    "  --play-seconds L         Stop L s after each Play; 0 = never (default 3)\n"
    "  --mode-rate M            Mode presses per device per minute (default 2)\n"
    "  --script FILE            every device runs FILE instead of the random mix\n"
    "  --late-ms T              a packet is late T ms after its place in time (default 60)\n"
    "  --decode                 decode the audio (default: check it only)\n"
    "  --progress S             print a summary every S seconds\n"
    "  --json                   summaries as JSON lines\n"
    "  --tls-cert-dir DIR       device i presents DIR/PREFIX-i.crt and DIR/PREFIX-i.key\n"
    "                           (scripts/opal-certs devices makes them); needs --tls-ca\n"
    "Other:\n"
    "  --log-level LEVEL        debug, info, warn or error (default info)\n"
    "  --log-file FILE          write logs to FILE instead of stderr\n"
    "  --help, --version\n";

enum {
  OPT_SERVER = 1, OPT_ID, OPT_SIM, OPT_SCRIPT, OPT_BUFFER, OPT_OUT, OPT_DEVICE, OPT_LIST,
  OPT_CONFIG, OPT_CHIP, OPT_LEDS, OPT_BUTTONS, OPT_LOW, OPT_HIGH, OPT_DEBOUNCE, OPT_HOLD,
  OPT_LOG, OPT_LOG_FILE, OPT_HELP, OPT_VERSION, OPT_FLEET, OPT_PREFIX, OPT_RAMP, OPT_DURATION,
  OPT_PLAY_RATE, OPT_PLAY_SECONDS, OPT_MODE_RATE, OPT_LATE, OPT_DECODE, OPT_PROGRESS, OPT_JSON,
  OPT_TLS_CA, OPT_TLS_CERT, OPT_TLS_KEY, OPT_TLS_CERT_DIR, OPT_TLS_NAME, OPT_PACKET_MS,
};

static const struct option long_options[] = {
    {"server", required_argument, NULL, OPT_SERVER},
    {"device-id", required_argument, NULL, OPT_ID},
    {"packet-ms", required_argument, NULL, OPT_PACKET_MS},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-cert-dir", required_argument, NULL, OPT_TLS_CERT_DIR},
    {"tls-server-name", required_argument, NULL, OPT_TLS_NAME},
    {"sim", no_argument, NULL, OPT_SIM},
    {"script", required_argument, NULL, OPT_SCRIPT},
    {"buffer-ms", required_argument, NULL, OPT_BUFFER},
    {"audio-out", required_argument, NULL, OPT_OUT},
    {"audio-device", required_argument, NULL, OPT_DEVICE},
    {"list-audio-devices", no_argument, NULL, OPT_LIST},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"gpio-chip", required_argument, NULL, OPT_CHIP},
    {"led-lines", required_argument, NULL, OPT_LEDS},
    {"button-lines", required_argument, NULL, OPT_BUTTONS},
    {"buttons-active-low", no_argument, NULL, OPT_LOW},
    {"buttons-active-high", no_argument, NULL, OPT_HIGH},
    {"debounce-ms", required_argument, NULL, OPT_DEBOUNCE},
    {"hold-ms", required_argument, NULL, OPT_HOLD},
    {"log-level", required_argument, NULL, OPT_LOG},
    {"log-file", required_argument, NULL, OPT_LOG_FILE},
    {"fleet", required_argument, NULL, OPT_FLEET},
    {"id-prefix", required_argument, NULL, OPT_PREFIX},
    {"ramp", required_argument, NULL, OPT_RAMP},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"play-rate", required_argument, NULL, OPT_PLAY_RATE},
    {"play-seconds", required_argument, NULL, OPT_PLAY_SECONDS},
    {"mode-rate", required_argument, NULL, OPT_MODE_RATE},
    {"late-ms", required_argument, NULL, OPT_LATE},
    {"decode", no_argument, NULL, OPT_DECODE},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static cli_result take_audio_out(const char *arg, device_options *o, char *err, size_t len) {
  if (strcmp(arg, "portaudio") == 0) {
    o->audio.kind = AUDIO_OUT_PORTAUDIO;
  } else if (strcmp(arg, "null") == 0) {
    o->audio.kind = AUDIO_OUT_NULL;
  } else if (strncmp(arg, "wav:", 4) == 0 && arg[4]) {
    o->audio.kind = AUDIO_OUT_WAV;
    o->audio.wav_path = arg + 4;
  } else {
    return cli_bad(err, len, "--audio-out", "expected portaudio, null or wav:FILE", arg);
  }
  return CLI_RUN;
}

static cli_result take_id(const char *arg, device_options *o, char *err, size_t len) {
  const char *why = device_id_problem(arg, strlen(arg));
  if (why) return cli_bad(err, len, "--device-id", why, arg);
  snprintf(o->device_id, sizeof o->device_id, "%s", arg);
  return CLI_RUN;
}

/* One number of a fleet flag: (flag, field, min, max). */
static cli_result fleet_number(const char *flag, const char *arg, double *field, double min,
                               double max, char *err, size_t len) {
  if (cli_parse_double(arg, min, max, field)) return CLI_RUN;
  char why[96];
  snprintf(why, sizeof why, "expected a number from %g to %g", min, max);
  return cli_bad(err, len, flag, why, arg);
}

static cli_result take_fleet(int opt, const char *arg, device_options *o, char *err, size_t len) {
  long v;
  switch (opt) {
  case OPT_FLEET:
    if (!cli_parse_long(arg, 1, 100000, &v))
      return cli_bad(err, len, "--fleet", "expected a number of devices from 1 to 100000", arg);
    o->fleet_count = (unsigned)v;
    return CLI_RUN;
  case OPT_PREFIX: {
    /* The longest id, PREFIX-99999, must still be a valid device_id. */
    size_t n = strlen(arg);
    if (n == 0 || n > DEVICE_ID_MAX_LEN - 6 || device_id_problem(arg, n))
      return cli_bad(err, len, "--id-prefix", "expected 1-58 printable characters", arg);
    o->id_prefix = arg;
    return CLI_RUN;
  }
  case OPT_LATE:
    if (!cli_parse_long(arg, 0, 60000, &v))
      return cli_bad(err, len, "--late-ms", "expected milliseconds from 0 to 60000", arg);
    o->late_ms = (unsigned)v;
    return CLI_RUN;
  case OPT_RAMP: return fleet_number("--ramp", arg, &o->ramp_per_s, 0.1, 1e6, err, len);
  case OPT_DURATION: return fleet_number("--duration", arg, &o->duration_s, 0, 86400, err, len);
  case OPT_PLAY_RATE: return fleet_number("--play-rate", arg, &o->play_per_min, 0, 6000, err, len);
  case OPT_PLAY_SECONDS:
    return fleet_number("--play-seconds", arg, &o->play_seconds, 0, 86400, err, len);
  case OPT_MODE_RATE: return fleet_number("--mode-rate", arg, &o->mode_per_min, 0, 6000, err, len);
  default: return fleet_number("--progress", arg, &o->progress_s, 0.1, 86400, err, len);
  }
}

/* A TLS flag's value: a file, a folder or a name, never empty. */
static cli_result take_tls(int opt, const char *arg, device_options *o, char *err, size_t len) {
  static const char *const flags[] = {"--tls-ca", "--tls-cert", "--tls-key", "--tls-cert-dir",
                                      "--tls-server-name"};
  const char **fields[] = {&o->tls_ca, &o->tls_cert, &o->tls_key, &o->tls_cert_dir,
                           &o->tls_server_name};
  int i = opt - OPT_TLS_CA;
  if (!*arg) return cli_bad(err, len, flags[i], "expected a value", arg);
  *fields[i] = arg;
  return CLI_RUN;
}

static cli_result tls_bad(char *err, size_t len, const char *flag, const char *why) {
  snprintf(err, len, "%s: %s", flag, why);
  return CLI_BAD;
}

/* The TLS flags against each other and the mode: what one needs, and what
 * does not go together. */
static cli_result check_tls(const device_options *o, char *err, size_t len) {
  if (o->tls_cert && !o->tls_key) return tls_bad(err, len, "--tls-key", "needed with --tls-cert");
  if (o->tls_key && !o->tls_cert) return tls_bad(err, len, "--tls-cert", "needed with --tls-key");
  if (o->tls_cert && o->fleet_count)
    return tls_bad(err, len, "--tls-cert",
                   "not with --fleet, whose devices each have their own: --tls-cert-dir");
  if (o->tls_cert_dir && !o->fleet_count)
    return tls_bad(err, len, "--tls-cert-dir",
                   "only with --fleet (one device takes --tls-cert and --tls-key)");
  const char *needs_ca = o->tls_cert ? "--tls-cert" : o->tls_cert_dir ? "--tls-cert-dir"
                         : o->tls_server_name ? "--tls-server-name" : NULL;
  if (needs_ca && !o->tls_ca)
    return tls_bad(err, len, needs_ca,
                   "needs --tls-ca (the CA of the server's certificate, or system)");
  return CLI_RUN;
}

/* Keeps a pin-map flag for later: it applies over the --config file. */
static cli_result gpio_flag(device_options *o, const char *flag, const char *key,
                                       const char *value, char *err, size_t len) {
  if (o->gpio_count == DEVICE_MAX_GPIO_FLAGS) {
    snprintf(err, len, "%s: too many gpio flags", flag);
    return CLI_BAD;
  }
  o->gpio[o->gpio_count++] = (struct gpio_setting){flag, key, value};
  return CLI_RUN;
}

static cli_result take(int opt, const char *arg, void *ctx, FILE *out, char *err,
                       size_t len) {
  device_options *o = ctx;
  char host[256];
  int port;
  const char *why;
  long v;
  switch (opt) {
  case OPT_SERVER:
    if ((why = cli_split_host_port(arg, host, sizeof host, &port)))
      return cli_bad(err, len, "--server", why, arg);
    o->server = arg;
    break;
  case OPT_ID: return take_id(arg, o, err, len);
  case OPT_SIM: o->sim = true; break;
  case OPT_SCRIPT: o->script_path = arg; break;
  case OPT_FLEET: return take_fleet(opt, arg, o, err, len);
  case OPT_PREFIX: case OPT_RAMP: case OPT_DURATION: case OPT_PLAY_RATE:
  case OPT_PLAY_SECONDS: case OPT_MODE_RATE: case OPT_LATE: case OPT_PROGRESS:
    return take_fleet(opt, arg, o, err, len);
  case OPT_TLS_CA: case OPT_TLS_CERT: case OPT_TLS_KEY: case OPT_TLS_CERT_DIR: case OPT_TLS_NAME:
    return take_tls(opt, arg, o, err, len);
  case OPT_DECODE: o->decode = true; break;
  case OPT_JSON: o->json = true; break;
  case OPT_BUFFER:
    if (!cli_parse_long(arg, 10, 2000, &v))
      return cli_bad(err, len, "--buffer-ms", "expected milliseconds from 10 to 2000", arg);
    o->audio.buffer_ms = (unsigned)v;
    break;
  case OPT_PACKET_MS:
    if (!cli_parse_long(arg, AUDIO_BASE_PACKET_MS, AUDIO_MAX_PACKET_MS, &v))
      return cli_bad(err, len, "--packet-ms", "expected milliseconds from 20 to 120", arg);
    o->packet_ms = (unsigned)v;
    break;
  case OPT_OUT: return take_audio_out(arg, o, err, len);
  case OPT_DEVICE: o->audio.device = arg; break;
  case OPT_LIST: o->list_audio_devices = true; break;
  case OPT_CHIP: return gpio_flag(o, "--gpio-chip", "chip", arg, err, len);
  case OPT_LEDS: return gpio_flag(o, "--led-lines", "led_lines", arg, err, len);
  case OPT_BUTTONS: return gpio_flag(o, "--button-lines", "button_lines", arg, err, len);
  case OPT_LOW: return gpio_flag(o, "--buttons-active-low", "buttons_active_low", "true", err, len);
  case OPT_HIGH: return gpio_flag(o, "--buttons-active-high", "buttons_active_low", "false", err, len);
  case OPT_DEBOUNCE: return gpio_flag(o, "--debounce-ms", "debounce_ms", arg, err, len);
  case OPT_HOLD: return gpio_flag(o, "--hold-ms", "hold_ms", arg, err, len);
  case OPT_LOG:
    if (!log_level_parse(arg, &o->log_level))
      return cli_bad(err, len, "--log-level", "expected debug, info, warn or error", arg);
    break;
  case OPT_LOG_FILE: o->log_file = arg; break;
  case OPT_HELP:
    fputs(usage, out);
    return CLI_DONE;
  default:
    fprintf(out, "opal-device %s\n", OPAL_DEVICE_VERSION);
    return CLI_DONE;
  }
  return CLI_RUN;
}

/* The default device id: this machine's name, if it is a valid id. */
static void default_id(device_options *o) {
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0 || device_id_problem(host, strlen(host)))
    strcpy(host, "opal-device");
  /* device_id_problem rejected anything longer than the id buffer holds. */
  memcpy(o->device_id, host, strlen(host) + 1);
}

static void set_defaults(void *ctx) {
  device_options *o = ctx;
  *o = (device_options){
      .mode = MODE_GPIO,
      .server = DEVICE_DEFAULT_SERVER,
      .audio = {.kind = AUDIO_OUT_PORTAUDIO, .buffer_ms = AUDIO_DEFAULT_BUFFER_MS},
      .log_level = LOG_INFO,
      .id_prefix = "fleet",
      .ramp_per_s = 1000,
      .duration_s = 10,
      .play_per_min = 6,
      .mode_per_min = 2,
      .play_seconds = 3,
      .late_ms = 60,
      .packet_ms = AUDIO_DEFAULT_PACKET_MS,
  };
  default_id(o);
}

/* A [gpio] key of the config file: checked now, so that a bad value is an
 * error naming the file's line, and kept to apply before the flags. */
static int take_gpio_key(void *ctx, const char *key, const char *value, char *why,
                         size_t why_len) {
  device_options *o = ctx;
  gpio_config scratch;
  gpio_config_defaults(&scratch);
  if (gpio_config_set(&scratch, key, value, why, why_len) != 0) return -1;
  return gpio_flag(o, key, key, value, why, why_len) == CLI_RUN ? 0 : -1;
}

static const config_section sections[] = {{"gpio", take_gpio_key}, {NULL, NULL}};

/* The pin map's flags have their keys in [gpio], which the file uses. */
static const config_flag_only flag_only[] = {
    {"list-audio-devices", "an action for the command line only"},
    {"gpio-chip", "set chip in the [gpio] section"},
    {"led-lines", "set led_lines in the [gpio] section"},
    {"button-lines", "set button_lines in the [gpio] section"},
    {"buttons-active-low", "set buttons_active_low = true in the [gpio] section"},
    {"buttons-active-high", "set buttons_active_low = false in the [gpio] section"},
    {"debounce-ms", "set debounce_ms in the [gpio] section"},
    {"hold-ms", "set hold_ms in the [gpio] section"},
    {NULL, NULL},
};

static const config_program program = {
    .default_file = "device.conf",
    .options = long_options,
    .take = take,
    .flag_only = flag_only,
    .sections = sections,
    .reset = set_defaults,
};

cli_result device_options_parse(int argc, char **argv, device_options *o, FILE *out,
                                           char *err, size_t err_len) {
  cli_result r = config_parse_command_line(&program, argc, argv, o, &o->config, out, err, err_len);
  if (r != CLI_RUN) return r;
  if ((r = check_tls(o, err, err_len)) != CLI_RUN) return r;
  o->mode = o->fleet_count ? MODE_FLEET : o->script_path ? MODE_SCRIPT : o->sim ? MODE_SIM : MODE_GPIO;
  return CLI_RUN;
}
