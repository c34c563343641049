/* opal-server: parses flags, loads the sounds, serves until SIGINT/SIGTERM. */
#include <grpc/grpc.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "grpc_log.h"
#include "listen_probe.h"
#include "log.h"
#include "stop_signal.h"
#include "server.h"
#include "server_options.h"
#include "sounds/sound_library.h"
#include "store/store.h"
#include "workers.h"

/* The bundled assets: the repository's assets/ folder, found from the
 * binary (build/opal-server or build/asan/opal-server). */
static const char *bundled_assets(char *buf, size_t len) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "assets";
  exe[n] = '\0';
  const char *bin_dir = dirname(exe);
  static const char *const candidates[] = {"%s/../assets", "%s/../../assets"};
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
    snprintf(buf, len, candidates[i], bin_dir);
    if (access(buf, F_OK) == 0) return buf;
  }
  return "assets";
}

/* One socket per device: take every file descriptor the system allows. */
static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max) return;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
    log_info("open-file limit raised to %llu", (unsigned long long)rl.rlim_cur);
}

static void log_sounds(const sound_library *lib) {
  for (unsigned m = 0; m < lib->mode_count; m++) {
    const sound *s = &lib->sounds[m];
    log_info("sound mode=%u file=%s packets=%zu duration_ms=%llu bytes=%zu", m, s->name,
             s->count, (unsigned long long)sound_duration_ms(s), s->arena_used);
  }
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

/* Serves with `set` and `sounds` until a stop signal. The exit code. */
static int serve(const server_options *opts, worker_set *set, const sound_library *sounds,
                 server_tls *tls) {
  raise_fd_limit();
  stop_signal_install(true);
  grpc_log_route();
  grpc_init();
  server_config config = {.listen = opts->listen,
                           .lead_ns = opts->lead_ms * NS_PER_MS,
                           .sounds = sounds,
                           .tls = tls,
                           .log_rate_per_device = opts->log_rate_per_device};
  int rc = workers_run(set, &config);
  grpc_shutdown();
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
  if (listen_probe(opts.listen, err, sizeof err) != 0) {
    fprintf(stderr, "opal-server: %s\n", err);
    return 1;
  }
  /* The store first: a bad --store is one line, before any sound is read. */
  worker_set *set = open_workers(&opts, err, sizeof err);
  if (!set) {
    fprintf(stderr, "opal-server: %s\n", err);
    return 2;
  }
  server_tls *tls = NULL;
  if (opts.tls_cert && !(tls = open_tls(&opts, err, sizeof err))) {
    fprintf(stderr, "opal-server: %s\n", err);
    workers_free(set);
    return 2;
  }
  sound_library sounds;
  if (sound_library_load(&sounds, assets, err, sizeof err) != 0) {
    fprintf(stderr, "opal-server: %s\n", err);
    workers_free(set);
    server_tls_close(tls);
    return 1;
  }
  log_sounds(&sounds);
  log_info("store %s", workers_store_name(set));
  int rc = serve(&opts, set, &sounds, tls);
  workers_free(set);
  server_tls_close(tls);
  sound_library_clear(&sounds);
  return rc;
}
