/* opal-server: parses flags, loads the sounds, serves until SIGINT/SIGTERM. */
#include <grpc/grpc.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "devices/new_devices.h"
#include "grpc_log.h"
#include "grpc_mutex_checks.h"
#include "log.h"
#include "metrics/metrics.h"
#include "metrics/metrics_http.h"
#include "net/connections.h"
#include "net/listener.h"
#include "stop_signal.h"
#include "server.h"
#include "server_options.h"
#include "sounds/sound_library.h"
#include "store/store.h"
#include "workers.h"

/* The bundled assets, found from the binary: the repository's assets/
 * folder beside a build (build/opal-server or build/asan/opal-server), or
 * PREFIX/share/opal/sounds beside an installed PREFIX/bin/opal-server
 * (relative, so a tree staged under DESTDIR or a .deb finds its own). */
static const char *bundled_assets(char *buf, size_t len) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "assets";
  exe[n] = '\0';
  const char *bin_dir = dirname(exe);
  static const char *const candidates[] = {"%s/../share/opal/sounds", "%s/../assets",
                                           "%s/../../assets"};
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
    snprintf(buf, len, candidates[i], bin_dir);
    if (access(buf, F_OK) == 0) return buf;
  }
  return "assets";
}

/* The connection table has an entry per possible descriptor. */
#define MAX_FD_LIMIT (1u << 20)
/* Descriptors the server keeps for itself (store, queues, logs), beside
 * one per connection, and more per worker. */
#define OWN_FDS 64
#define OWN_FDS_PER_WORKER 8

/* One socket per device: take every file descriptor the system allows (up
 * to MAX_FD_LIMIT). Returns the limit in force. */
static unsigned raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  rlim_t want = rl.rlim_max < MAX_FD_LIMIT ? rl.rlim_max : MAX_FD_LIMIT;
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
      log_info("open-file limit raised to %llu", (unsigned long long)rl.rlim_cur);
    else getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur < MAX_FD_LIMIT ? (unsigned)rl.rlim_cur : MAX_FD_LIMIT;
}

/* The flags' limits; --max-connections must leave the server descriptors
 * of its own. NULL with one line in `err`. */
static connections *open_connections(const server_options *opts, unsigned fd_limit, char *err,
                                     size_t err_len) {
  long own = OWN_FDS + OWN_FDS_PER_WORKER * (long)opts->workers;
  long room = (long)fd_limit - own;
  if (room < 1 || (opts->max_connections && opts->max_connections > room)) {
    snprintf(err, err_len,
             "--max-connections %ld: the open-file limit (%u) leaves room for %ld connections; "
             "raise it (ulimit -n, LimitNOFILE=) or ask for fewer",
             opts->max_connections, fd_limit, room < 0 ? 0 : room);
    return NULL;
  }
  connection_limits limits = {
      .max_connections = (unsigned)(opts->max_connections ? opts->max_connections : room),
      .max_per_ip = (unsigned)opts->max_connections_per_ip,
      .max_calls = (unsigned)opts->max_calls_per_connection,
      .idle_ns = opts->idle_timeout_s * NS_PER_SEC,
      .max_resets = (unsigned)opts->max_resets,
      .max_receive_rate = (uint64_t)opts->max_receive_rate};
  connections *c = connections_create(&limits, fd_limit);
  if (!c) abort(); /* at start-up: nothing to serve with */
  return c;
}

static void log_sounds(const sound_library *lib, unsigned max_ms) {
  for (unsigned m = 0; m < lib->mode_count; m++) {
    const sound *s = &lib->sounds[m];
    log_info("sound mode=%u file=%s packets=%zu duration_ms=%llu bytes=%zu", m, s->name,
             s->count, (unsigned long long)sound_duration_ms(s), s->arena_used);
  }
  /* What the larger packets cost (docs/protocol.md, "Larger packets"). */
  log_info("sounds: packets of 20 ms and up to %u ms for devices that ask, %zu bytes in all",
           max_ms, sound_library_bytes(lib));
}

/* The store named by --store, or the default file; one connection to it
 * per worker. NULL with one line in `err`. */
static worker_set *open_workers(const server_options *opts, char *err, size_t err_len) {
  char url[4200];
  const char *chosen = opts->store;
  if (!chosen) {
    if (store_default_url(url, sizeof url, err, err_len) != 0) return NULL;
    chosen = url;
  }
  char replica[STORE_REPLICA_MAX + 1];
  server_replica_name(opts, replica, sizeof replica);
  worker_set *set = workers_open(opts->workers, chosen, replica, err, err_len);
  if (set && strncmp(chosen, "redis://", 8) == 0) log_info("replica name=%s", replica);
  return set;
}

/* --tls-cert and --tls-key (and --client-ca), read and checked; NULL with
 * one line in `err`. */
static server_tls *open_tls(const server_options *opts, char *err, size_t err_len) {
  tls_paths paths = {.cert = opts->tls_cert, .key = opts->tls_key, .client_ca = opts->client_ca};
  return server_tls_open(&paths, &reload_signals, err, err_len);
}

/* What the limits refused and ended, for the last lines of the log. */
static void log_connection_counts(connections *conns) {
  connection_counts n = connections_counts(conns);
  log_info("connections: %llu accepted; refused %llu at --max-connections, %llu at "
           "--max-connections-per-ip, %llu with no descriptor left; closed %llu idle, %llu for "
           "call floods, %llu for resets, %llu for sending too fast; %llu calls refused",
           (unsigned long long)n.accepted, (unsigned long long)n.refused_full,
           (unsigned long long)n.refused_ip, (unsigned long long)n.refused_no_fd,
           (unsigned long long)n.closed_idle, (unsigned long long)n.closed_streams,
           (unsigned long long)n.closed_resets, (unsigned long long)n.closed_bytes,
           (unsigned long long)n.calls_refused);
}

/* --metrics: the HTTP thread, or NULL when off. False with one line in
 * `err` when the address cannot be served. */
static bool start_metrics(const server_options *opts, connections *conns, metrics_http **out,
                          char *err, size_t err_len) {
  *out = NULL;
  if (!opts->metrics) return true;
  metrics_init();
  metrics_page_sources src = {.version = OPAL_VERSION, .connections = conns};
  if (!(*out = metrics_http_start(opts->metrics, &src, err, err_len))) return false;
  char where[300];
  metrics_http_bound(*out, where, sizeof where);
  log_info("metrics on http://%s/metrics", where);
  return true;
}

/* Serves with `set` and `sounds` on `l` until a stop signal. The exit code. */
static int serve(const server_options *opts, worker_set *set, const sound_library *sounds,
                 server_tls *tls, listener *l, connections *conns) {
  const connection_limits *limits = connections_limits(conns);
  log_info("connections: at most %u at once%s, %u calls each, closed after %lld s without a call",
           limits->max_connections, limits->max_per_ip ? " (bounded per IP)" : "",
           limits->max_calls, (long long)(limits->idle_ns / NS_PER_SEC));
  stop_signal_install(true);
  grpc_log_route();
  grpc_mutex_checks_off();
  grpc_init();
  new_devices *rate = opts->new_devices_per_ip.per_s > 0
                          ? new_devices_create(&opts->new_devices_per_ip)
                          : NULL;
  server_config config = {.listen = opts->listen,
                          .lead_ns = opts->lead_ms * NS_PER_MS,
                          .sounds = sounds,
                          .tls = tls,
                          .max_devices = (size_t)opts->max_devices,
                          .new_devices = rate,
                          .log_rate_per_device = opts->log_rate_per_device,
                          .packet_ms = opts->packet_ms,
                          .max_streams = (size_t)opts->max_streams,
                          .max_pacing_lag_ns = opts->max_pacing_lag_ms * NS_PER_MS};
  int rc = workers_run(set, &config, l, conns);
  listener_close(l);
  log_connection_counts(conns);
  grpc_shutdown();
  new_devices_free(rate);
  return rc;
}

int main(int argc, char **argv) {
  server_options opts;
  char err[512], assets_buf[4200];
  switch (server_options_parse(argc, argv, &opts, stdout, err, sizeof err)) {
  case CLI_DONE:
    return 0;
  case CLI_BAD:
    fprintf(stderr, "opal-server: %s\n", err);
    return 2;
  case CLI_RUN:
    break;
  }
  log_set_level(opts.log_level);
  const char *assets = opts.assets ? opts.assets : bundled_assets(assets_buf, sizeof assets_buf);
  connections *conns = open_connections(&opts, raise_fd_limit(), err, sizeof err);
  if (!conns) {
    fprintf(stderr, "opal-server: %s\n", err);
    return 2;
  }
  listener l;
  if (listener_open(&l, opts.listen, err, sizeof err) != 0) {
    fprintf(stderr, "opal-server: %s\n", err);
    connections_destroy(conns);
    return 1;
  }
  /* The store first: a bad --store is one line, before any sound is read. */
  worker_set *set = open_workers(&opts, err, sizeof err);
  if (!set) {
    fprintf(stderr, "opal-server: %s\n", err);
    listener_close(&l);
    connections_destroy(conns);
    return 2;
  }
  server_tls *tls = NULL;
  if (opts.tls_cert && !(tls = open_tls(&opts, err, sizeof err))) {
    fprintf(stderr, "opal-server: %s\n", err);
    workers_free(set);
    listener_close(&l);
    connections_destroy(conns);
    return 2;
  }
  sound_library sounds;
  if (sound_library_load(&sounds, assets, err, sizeof err) != 0 ||
      sound_library_add_larger_packets(&sounds, opts.packet_ms, err, sizeof err) != 0) {
    fprintf(stderr, "opal-server: %s\n", err);
    sound_library_clear(&sounds);
    workers_free(set);
    server_tls_close(tls);
    listener_close(&l);
    connections_destroy(conns);
    return 1;
  }
  log_sounds(&sounds, opts.packet_ms);
  log_info("store %s", workers_store_name(set));
  metrics_http *metrics;
  if (!start_metrics(&opts, conns, &metrics, err, sizeof err)) {
    fprintf(stderr, "opal-server: %s\n", err);
    workers_free(set);
    server_tls_close(tls);
    sound_library_clear(&sounds);
    listener_close(&l);
    connections_destroy(conns);
    return 1;
  }
  int rc = serve(&opts, set, &sounds, tls, &l, conns);
  metrics_http_stop(metrics);
  connections_destroy(conns);
  workers_free(set);
  server_tls_close(tls);
  sound_library_clear(&sounds);
  return rc;
}
