#include "security/server_tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "log.h"

/* How often the files are looked at for a change. */
#define WATCH_NS (1000 * 1000000LL)
/* Workers, each with credentials of its own. */
#define MAX_FETCHERS 256

/* What identifies a file's contents without reading it. */
typedef struct file_stamp {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  bool present;
} file_stamp;

/* One gRPC server's credentials: which generation of the files it has. */
typedef struct fetcher {
  struct server_tls *tls;
  unsigned long seen;
} fetcher;

struct server_tls {
  tls_paths paths; /* borrowed from the command line */
  const volatile sig_atomic_t *reloads;
  pthread_mutex_t lock;
  /* Guarded by `lock`. */
  tls_pems pems;
  unsigned long generation; /* grows with every successful read */
  sig_atomic_t reloads_seen;
  file_stamp stamps[3]; /* cert, key, client CA, as last read */
  int64_t next_watch_ns;
  fetcher fetchers[MAX_FETCHERS];
  unsigned fetcher_count;
};

static void stamp(const char *path, file_stamp *out) {
  struct stat st;
  memset(out, 0, sizeof *out);
  if (!path || stat(path, &st) != 0) return;
  *out = (file_stamp){.dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
                      .mtime = st.st_mtim, .present = true};
}

static bool same_stamp(const file_stamp *a, const file_stamp *b) {
  return a->present == b->present && a->dev == b->dev && a->ino == b->ino &&
         a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
         a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void stamp_all(const server_tls *t, file_stamp out[3]) {
  stamp(t->paths.cert, &out[0]);
  stamp(t->paths.key, &out[1]);
  stamp(t->paths.client_ca, &out[2]);
}

static void log_loaded(const server_tls *t, const char *what) {
  const tls_pems *p = &t->pems;
  log_info("tls %s: --tls-cert %s (subject %s, valid until %s)%s%s", what, t->paths.cert,
           p->subject, p->expires, t->paths.client_ca ? ", client certificates checked against " : "",
           t->paths.client_ca ? t->paths.client_ca : "");
  if (p->expired) log_warn("tls: the server certificate %s expired on %s", t->paths.cert, p->expires);
}

/* Reads the files again; on success they are the next generation. Lock held. */
static void reload(server_tls *t, const char *why) {
  char err[512];
  tls_pems fresh;
  stamp_all(t, t->stamps); /* a failed read is not retried until they change again */
  if (tls_pems_read(&t->paths, &fresh, err, sizeof err) != 0) {
    log_error("tls: %s, but %s: keeping the current certificate", why, err);
    return;
  }
  tls_pems_free(&t->pems);
  t->pems = fresh;
  t->generation++;
  log_loaded(t, "reloaded");
}

void server_tls_poll(server_tls *t) {
  int64_t now = clock_now_ns();
  pthread_mutex_lock(&t->lock);
  sig_atomic_t asked = *t->reloads;
  if (asked != t->reloads_seen) {
    t->reloads_seen = asked;
    reload(t, "SIGHUP");
  } else if (now >= t->next_watch_ns) {
    t->next_watch_ns = now + WATCH_NS;
    file_stamp now_stamps[3];
    stamp_all(t, now_stamps);
    for (int i = 0; i < 3; i++)
      if (!same_stamp(&now_stamps[i], &t->stamps[i])) {
        reload(t, "the certificate files changed");
        break;
      }
  }
  pthread_mutex_unlock(&t->lock);
}

/* gRPC asks at each handshake; a new generation is handed over once. */
static grpc_ssl_certificate_config_reload_status fetch(void *user,
                                                       grpc_ssl_server_certificate_config **config) {
  fetcher *f = user;
  server_tls *t = f->tls;
  grpc_ssl_certificate_config_reload_status rc = GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
  pthread_mutex_lock(&t->lock);
  if (f->seen != t->generation) {
    grpc_ssl_pem_key_cert_pair pair = {.private_key = t->pems.key, .cert_chain = t->pems.cert};
    /* gRPC 1.51 asserts on a fetched config without roots, even when it
     * asks for no client certificate: then the server's own chain stands
     * in, and is never used. */
    const char *roots = t->pems.client_ca ? t->pems.client_ca : t->pems.cert;
    *config = grpc_ssl_server_certificate_config_create(roots, &pair, 1);
    f->seen = t->generation;
    rc = GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
  }
  pthread_mutex_unlock(&t->lock);
  return rc;
}

server_tls *server_tls_open(const tls_paths *paths, const volatile sig_atomic_t *reloads,
                            char *err, size_t err_len) {
  server_tls *t = calloc(1, sizeof *t);
  if (!t) abort(); /* at start-up */
  t->paths = *paths;
  t->reloads = reloads;
  t->reloads_seen = *reloads;
  if (tls_pems_read(paths, &t->pems, err, err_len) != 0) {
    free(t);
    return NULL;
  }
  stamp_all(t, t->stamps);
  t->generation = 1;
  t->next_watch_ns = clock_now_ns() + WATCH_NS;
  pthread_mutex_init(&t->lock, NULL);
  log_loaded(t, "on");
  if (!paths->client_ca)
    log_warn("tls: no --client-ca: device ids are not authenticated (any client may use any "
             "device_id; docs/security.md)");
  return t;
}

grpc_server_credentials *server_tls_credentials(server_tls *t) {
  pthread_mutex_lock(&t->lock);
  if (t->fetcher_count == MAX_FETCHERS) abort(); /* more workers than --workers allows */
  fetcher *f = &t->fetchers[t->fetcher_count++];
  pthread_mutex_unlock(&t->lock);
  f->tls = t;
  grpc_ssl_server_credentials_options *o =
      grpc_ssl_server_credentials_create_options_using_config_fetcher(
          t->paths.client_ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                             : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
          fetch, f);
  return grpc_ssl_server_credentials_create_with_options(o); /* takes `o` */
}

bool server_tls_verifies_clients(const server_tls *t) { return t->paths.client_ca != NULL; }

void server_tls_close(server_tls *t) {
  if (!t) return;
  tls_pems_free(&t->pems);
  pthread_mutex_destroy(&t->lock);
  free(t);
}
