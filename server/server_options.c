#include "server_options.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "config_file.h"
#include "devices/new_devices.h"
#include "devices/device_log_limit.h"
#include "sounds/sound.h"
#include "store/store.h"

static const char usage[] =
    "Usage: opal-server [OPTIONS]\n"
    "Serves Opal devices over gRPC: per-device mode and state, LED patterns,\n"
    "and each mode's sound streamed as Opus packets.\n"
    "\n"
    "Options:\n"
    "  --listen HOST:PORT   address to serve on (default " SERVER_DEFAULT_LISTEN ";\n"
    "                       port 0 picks a free port, logged at start-up)\n"
    "  --assets DIR         folder of mode sounds, 0-*.opus, 1-*.wav, ...\n"
    "                       (default: the bundled assets/, or once installed\n"
    "                       PREFIX/share/opal/sounds)\n"
    "  --lead-ms N          how far audio runs ahead of real time, 0..5000\n"
    "                       (default 150)\n"
    "  --store URL          where device state outlives the process: sqlite:PATH,\n"
    "                       redis://HOST:PORT[/DB], or memory (nothing kept);\n"
    "                       default sqlite: in\n"
    "                       $STATE_DIRECTORY, $XDG_STATE_HOME/opal or\n"
    "                       ~/.local/state/opal (file " STORE_DEFAULT_FILE ")\n"
    "  --workers K          loops sharing the port and the devices, one thread\n"
    "                       each: 1..256, or auto (one per core; default 1)\n"
    "  --tls-cert FILE      serve TLS with this PEM certificate (chain)...\n"
    "  --tls-key FILE       ...and its PEM private key; both are read again on\n"
    "                       SIGHUP and when they change (default: plaintext)\n"
    "  --client-ca FILE     with TLS: require a client certificate signed by this\n"
    "                       PEM CA, whose identity (DNS name or CN) must be the\n"
    "                       call's device_id (mutual TLS)\n"
    "  --replica-name NAME  this server's name to the others sharing its Redis\n"
    "                       (default HOSTNAME:PORT, the port of --listen;\n"
    "                       HOSTNAME:PID with port 0)\n"
    "  --packet-ms N        the longest audio packets granted to a device that\n"
    "                       asks (call metadata opal-packet-ms): 20, 40, ... 120\n"
    "                       (default 120; 20: only 20 ms packets, as to a device\n"
    "                       that does not ask)\n"
    "Limits against hostile or broken clients (docs/security.md):\n"
    "  --max-devices N      devices remembered at once, connected or not, 1..10^8\n"
    "                       (default 100000); past it a disconnected device is\n"
    "                       forgotten only if that loses nothing (mode 0, or\n"
    "                       its mode written to the store), else new devices\n"
    "                       get RESOURCE_EXHAUSTED\n"
    "  --new-devices-per-ip RATE[/BURST]\n"
    "                       new device ids one peer address (an IPv6 /64) may\n"
    "                       bring a second, and in one burst (default 1000/2000;\n"
    "                       BURST defaults to twice RATE; 0: unlimited)\n"
    "  --max-connections N  connections at once, past it new ones are closed\n"
    "                       (default: the open-file limit less what the server\n"
    "                       needs for itself)\n"
    "  --max-connections-per-ip N  connections at once from one IP (default 0:\n"
    "                       no bound; devices behind one NAT share an IP)\n"
    "  --max-calls-per-connection N  calls open at once on one connection, 3 per\n"
    "                       device (default 16); advertised as HTTP/2's\n"
    "                       MAX_CONCURRENT_STREAMS\n"
    "  --idle-timeout S     a connection with no open call for S seconds is\n"
    "                       closed (default 60; 0: never)\n"
    "  --max-resets N       a connection whose client cancels more than N calls\n"
    "                       within 10 s is closed (default 100; 0: no bound)\n"
    "  --max-receive-rate N\n"
    "                       a connection whose client sends more than N bytes a\n"
    "                       second, over 10 s, is closed (default 1048576; a\n"
    "                       device sends a few hundred; 0: no bound)\n"
    "Overload (docs/architecture.md): past either bound, a Play that would\n"
    "start a new stream gets ack=false; the streams playing stay on time.\n"
    "  --max-streams N      sounds playing at once, 0..10^7 (default 0: no bound)\n"
    "  --max-pacing-lag-ms N  refuse new Plays while most packets have gone out\n"
    "                       more than N ms late for a second or more, 0..60000\n"
    "                       (default 50, a third of the default lead; 0: no bound)\n"
    "\n"
    "  --log-level LEVEL    debug, info, warn or error (default info)\n"
    "  --log-rate-per-device N\n"
    "                       log lines a second per device, in bursts of up to\n"
    "                       twice that; past it lines are counted, and the count\n"
    "                       logged once the device is quiet for 1 s or every 10 s\n"
    "                       (default 20; 0: no limit)\n"
    "  --config FILE        read the flags' values from FILE, an INI file of\n"
    "                       KEY = VALUE lines, KEY a long flag without --\n"
    "                       (default /etc/opal/server.conf, if it exists; the\n"
    "                       flags given here win over it)\n"
    "  --metrics HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics\n"
    "                       (default: off; port 0 picks a free port and logs it)\n"
    "  --help               show this help and exit\n"
    "  --version            show the version and exit\n";

enum { OPT_LISTEN = 1, OPT_ASSETS, OPT_LEAD, OPT_STORE, OPT_WORKERS, OPT_REPLICA, OPT_TLS_CERT,
       OPT_TLS_KEY, OPT_CLIENT_CA, OPT_MAX_CONNECTIONS, OPT_MAX_PER_IP, OPT_MAX_CALLS, OPT_IDLE,
       OPT_MAX_RESETS, OPT_MAX_RECEIVE, OPT_MAX_DEVICES, OPT_NEW_DEVICES, OPT_LOG_RATE, OPT_LOG, OPT_HELP,
       OPT_VERSION, OPT_CONFIG, OPT_METRICS, OPT_PACKET_MS, OPT_MAX_STREAMS, OPT_MAX_PACING_LAG };

static const struct option long_options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"assets", required_argument, NULL, OPT_ASSETS},
    {"lead-ms", required_argument, NULL, OPT_LEAD},
    {"store", required_argument, NULL, OPT_STORE},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"replica-name", required_argument, NULL, OPT_REPLICA},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"client-ca", required_argument, NULL, OPT_CLIENT_CA},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-connections-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
    {"max-calls-per-connection", required_argument, NULL, OPT_MAX_CALLS},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"max-resets", required_argument, NULL, OPT_MAX_RESETS},
    {"max-receive-rate", required_argument, NULL, OPT_MAX_RECEIVE},
    {"log-level", required_argument, NULL, OPT_LOG},
    {"max-devices", required_argument, NULL, OPT_MAX_DEVICES},
    {"new-devices-per-ip", required_argument, NULL, OPT_NEW_DEVICES},
    {"log-rate-per-device", required_argument, NULL, OPT_LOG_RATE},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"max-streams", required_argument, NULL, OPT_MAX_STREAMS},
    {"max-pacing-lag-ms", required_argument, NULL, OPT_MAX_PACING_LAG},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"packet-ms", required_argument, NULL, OPT_PACKET_MS},
    {NULL, 0, NULL, 0},
};

/* "auto" is one worker per online core. */
static cli_result take_workers(const char *arg, server_options *o, char *err, size_t len) {
  long k;
  if (strcmp(arg, "auto") == 0) {
    k = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = k < 1 ? 1 : k > SERVER_MAX_WORKERS ? SERVER_MAX_WORKERS : (unsigned)k;
    return CLI_RUN;
  }
  if (!cli_parse_long(arg, 1, SERVER_MAX_WORKERS, &k))
    return cli_bad(err, len, "--workers", "expected 1 to 256, or auto", arg);
  o->workers = (unsigned)k;
  return CLI_RUN;
}

/* RATE[/BURST]: RATE 0 is no limit; BURST defaults to twice RATE. */
static cli_result take_new_devices(const char *arg, server_options *o, char *err, size_t len) {
  static const char expected[] = "expected RATE[/BURST]: new devices a second, 0 to 1000000 "
                                 "(0: unlimited), and a burst of 1 to 10000000";
  char rate[64];
  const char *slash = strchr(arg, '/');
  size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
  double per_s, burst;
  if (n >= sizeof rate) return cli_bad(err, len, "--new-devices-per-ip", expected, arg);
  memcpy(rate, arg, n);
  rate[n] = '\0';
  if (!cli_parse_double(rate, 0, 1e6, &per_s) ||
      (slash && !cli_parse_double(slash + 1, 1, 1e7, &burst)))
    return cli_bad(err, len, "--new-devices-per-ip", expected, arg);
  if (!slash) burst = per_s * 2 < 1 ? 1 : per_s * 2;
  o->new_devices_per_ip = (token_rate){.per_s = per_s, .burst = burst};
  return CLI_RUN;
}

/* Printable, no spaces or braces: it is part of a Redis channel name. */
static const char *replica_name_problem(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len > STORE_REPLICA_MAX) return "expected 1 to 64 characters";
  for (const char *c = name; *c; c++)
    if (*c <= ' ' || *c > '~' || *c == '{' || *c == '}')
      return "only printable characters, without spaces, { or }";
  return NULL;
}

static cli_result take_tls_file(int opt, const char *arg, server_options *o, char *err,
                                size_t len) {
  const char *flag = opt == OPT_TLS_CERT ? "--tls-cert" : opt == OPT_TLS_KEY ? "--tls-key" : "--client-ca";
  if (!*arg) return cli_bad(err, len, flag, "expected a PEM file", arg);
  if (opt == OPT_TLS_CERT) o->tls_cert = arg;
  else if (opt == OPT_TLS_KEY) o->tls_key = arg;
  else o->client_ca = arg;
  return CLI_RUN;
}

/* The limits' flags: whole numbers in a range. */
static cli_result take_limit(int opt, const char *arg, server_options *o, char *err, size_t len) {
  static const struct {
    int opt;
    const char *flag, *expected;
    long min, max;
  } limits[] = {
      {OPT_MAX_CONNECTIONS, "--max-connections", "expected 1 to 10000000", 1, 10000000},
      {OPT_MAX_PER_IP, "--max-connections-per-ip", "expected 0 (no bound) to 10000000", 0, 10000000},
      {OPT_MAX_CALLS, "--max-calls-per-connection", "expected 3 to 10000", 3, 10000},
      {OPT_IDLE, "--idle-timeout", "expected seconds from 0 (never) to 604800", 0, 604800},
      {OPT_MAX_RESETS, "--max-resets", "expected 0 (no bound) to 10000000", 0, 10000000},
      {OPT_MAX_RECEIVE, "--max-receive-rate", "expected bytes a second, 0 (no bound) to 10^10", 0,
       10000000000},
  };
  long *fields[] = {&o->max_connections, &o->max_connections_per_ip, &o->max_calls_per_connection,
                    &o->idle_timeout_s, &o->max_resets, &o->max_receive_rate};
  for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
    if (limits[i].opt != opt) continue;
    if (!cli_parse_long(arg, limits[i].min, limits[i].max, fields[i]))
      return cli_bad(err, len, limits[i].flag, limits[i].expected, arg);
    return CLI_RUN;
  }
  return CLI_BAD; /* not a limit's flag: a bug in take() */
}

static cli_result take_log_rate(const char *arg, server_options *o, char *err, size_t len) {
  long n;
  if (!cli_parse_long(arg, 0, DEVICE_LOG_MAX_RATE, &n))
    return cli_bad(err, len, "--log-rate-per-device", "expected lines a second, 0 to 1000000",
                   arg);
  o->log_rate_per_device = (unsigned)n;
  return CLI_RUN;
}

/* The sounds have packets in steps of 20 ms, up to 120 (one Opus packet's most). */
static cli_result take_packet_ms(const char *arg, server_options *o, char *err, size_t len) {
  long ms;
  if (!cli_parse_long(arg, SOUND_PACKET_MS_STEP, SOUND_MAX_PACKET_MS, &ms) ||
      ms % SOUND_PACKET_MS_STEP != 0)
    return cli_bad(err, len, "--packet-ms", "expected 20, 40, 60, 80, 100 or 120", arg);
  o->packet_ms = (unsigned)ms;
  return CLI_RUN;
}

static cli_result take(int opt, const char *arg, void *ctx, FILE *out, char *err,
                       size_t len) {
  server_options *o = ctx;
  char host[256];
  int port;
  const char *why;
  switch (opt) {
  case OPT_LISTEN:
    if ((why = cli_split_host_port(arg, host, sizeof host, &port)))
      return cli_bad(err, len, "--listen", why, arg);
    o->listen = arg;
    return CLI_RUN;
  case OPT_METRICS:
    if ((why = cli_split_host_port(arg, host, sizeof host, &port)))
      return cli_bad(err, len, "--metrics", why, arg);
    o->metrics = arg;
    return CLI_RUN;
  case OPT_ASSETS:
    if (!*arg) return cli_bad(err, len, "--assets", "expected a folder", arg);
    o->assets = arg;
    return CLI_RUN;
  case OPT_LEAD:
    if (!cli_parse_long(arg, 0, SERVER_MAX_LEAD_MS, &o->lead_ms))
      return cli_bad(err, len, "--lead-ms", "expected milliseconds from 0 to 5000", arg);
    return CLI_RUN;
  case OPT_STORE:
    if ((why = store_url_problem(arg))) return cli_bad(err, len, "--store", why, arg);
    o->store = arg;
    return CLI_RUN;
  case OPT_WORKERS:
    return take_workers(arg, o, err, len);
  case OPT_TLS_CERT:
  case OPT_TLS_KEY:
  case OPT_CLIENT_CA:
    return take_tls_file(opt, arg, o, err, len);
  case OPT_REPLICA:
    if ((why = replica_name_problem(arg))) return cli_bad(err, len, "--replica-name", why, arg);
    o->replica_name = arg;
    return CLI_RUN;
  case OPT_MAX_CONNECTIONS:
  case OPT_MAX_PER_IP:
  case OPT_MAX_CALLS:
  case OPT_IDLE:
  case OPT_MAX_RESETS:
  case OPT_MAX_RECEIVE:
    return take_limit(opt, arg, o, err, len);
  case OPT_MAX_DEVICES:
    if (!cli_parse_long(arg, 1, SERVER_MAX_MAX_DEVICES, &o->max_devices))
      return cli_bad(err, len, "--max-devices", "expected 1 to 100000000", arg);
    return CLI_RUN;
  case OPT_NEW_DEVICES:
    return take_new_devices(arg, o, err, len);
  case OPT_LOG:
    if (!log_level_parse(arg, &o->log_level))
      return cli_bad(err, len, "--log-level", "expected debug, info, warn or error", arg);
    return CLI_RUN;
  case OPT_LOG_RATE:
    return take_log_rate(arg, o, err, len);
  case OPT_PACKET_MS:
    return take_packet_ms(arg, o, err, len);
  case OPT_MAX_STREAMS:
    if (!cli_parse_long(arg, 0, SERVER_MAX_MAX_STREAMS, &o->max_streams))
      return cli_bad(err, len, "--max-streams", "expected 0 (no bound) to 10000000", arg);
    return CLI_RUN;
  case OPT_MAX_PACING_LAG:
    if (!cli_parse_long(arg, 0, SERVER_MAX_MAX_PACING_LAG_MS, &o->max_pacing_lag_ms))
      return cli_bad(err, len, "--max-pacing-lag-ms",
                     "expected milliseconds from 0 (no bound) to 60000", arg);
    return CLI_RUN;
  case OPT_HELP:
    fputs(usage, out);
    return CLI_DONE;
  default:
    fprintf(out, "opal-server %s\n", OPAL_VERSION);
    return CLI_DONE;
  }
}

void server_replica_name(const server_options *o, char *out, size_t len) {
  if (o->replica_name) {
    snprintf(out, len, "%s", o->replica_name);
    return;
  }
  char host[256] = "opal", listen_host[256];
  int port = 0;
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  cli_split_host_port(o->listen, listen_host, sizeof listen_host, &port);
  /* Port 0 is a new port each run: the pid tells runs apart instead. */
  snprintf(out, len, "%.40s:%d", host, port ? port : (int)getpid());
  for (char *c = out; *c; c++)
    if (*c <= ' ' || *c > '~' || *c == '{' || *c == '}') *c = '_';
}

static void set_defaults(void *ctx) {
  server_options *o = ctx;
  *o = (server_options){.listen = SERVER_DEFAULT_LISTEN,
                        .lead_ms = SERVER_DEFAULT_LEAD_MS,
                        .workers = 1,
                        .max_connections = 0, /* from the open-file limit */
                        .max_calls_per_connection = SERVER_DEFAULT_MAX_CALLS,
                        .idle_timeout_s = SERVER_DEFAULT_IDLE_S,
                        .max_resets = SERVER_DEFAULT_MAX_RESETS,
                        .max_receive_rate = SERVER_DEFAULT_MAX_RECEIVE_RATE,
                        .log_level = LOG_INFO,
                        .max_devices = SERVER_DEFAULT_MAX_DEVICES,
                        .new_devices_per_ip = {.per_s = NEW_DEVICES_DEFAULT_PER_S,
                                               .burst = NEW_DEVICES_DEFAULT_BURST},
                        .log_rate_per_device = DEVICE_LOG_DEFAULT_RATE,
                        .packet_ms = SERVER_DEFAULT_PACKET_MS,
                        .max_pacing_lag_ms = SERVER_DEFAULT_MAX_PACING_LAG_MS};
}

static const config_program program = {
    .default_file = "server.conf",
    .options = long_options,
    .take = take,
    .reset = set_defaults,
};

cli_result server_options_parse(int argc, char **argv, server_options *o, FILE *out,
                                    char *err, size_t err_len) {
  cli_result rc =
      config_parse_command_line(&program, argc, argv, o, &o->config, out, err, err_len);
  if (rc != CLI_RUN) return rc;
  /* The TLS flags go together. */
  const char *missing = o->tls_cert && !o->tls_key   ? "--tls-key: needed with --tls-cert"
                        : o->tls_key && !o->tls_cert ? "--tls-cert: needed with --tls-key"
                        : o->client_ca && !o->tls_cert ? "--client-ca: needs --tls-cert and --tls-key"
                                                       : NULL;
  if (!missing) return CLI_RUN;
  snprintf(err, err_len, "%s", missing);
  return CLI_BAD;
}
