#include "workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop_mailbox.h"
#include "owners.h"
#include "stop_signal.h"

/* What workers tell each other about a device. */
typedef enum {
  MSG_RELEASE, /* you had it; let go and send me what you knew */
  MSG_RECORD,  /* here it is */
  MSG_NONE,    /* I did not have it: ask the store */
} worker_msg_kind;

typedef struct worker_msg {
  worker_msg_kind kind;
  unsigned from;
  char id[DEVICE_ID_MAX_LEN + 1];
  store_record record;
} worker_msg;

typedef struct worker {
  opal_server server; /* the store's notify points here: never moves */
  worker_set *set;
  unsigned index;
  store *store; /* until server_start takes it over */
  loop_mailbox *mailbox;
  loop_op mail_op;
  char log_tag[32];
  pthread_t thread;
} worker;

struct worker_set {
  worker *workers;
  unsigned count;
  unsigned next_taker; /* the listener's thread's alone */
  owners *owners; /* NULL with one worker */
};

/* ---- hand-over ---- */

/* False when worker `to` has stopped: it takes no mail any more. */
static bool send_to(worker *from, unsigned to, worker_msg_kind kind, const char *id,
                    const store_record *record) {
  worker_msg m = {.kind = kind, .from = from->index};
  snprintf(m.id, sizeof m.id, "%s", id);
  if (record) m.record = *record;
  return loop_mailbox_post(from->set->workers[to].mailbox, &m);
}

/* devices_owner_hooks.release */
static void release(void *ctx, const char *id) {
  worker *w = ctx;
  owners_release(w->set->owners, id, (int)w->index);
}

/* devices_owner_hooks.claim */
static bool claim(void *ctx, const char *id) {
  worker *w = ctx;
  int before = owners_claim(w->set->owners, id, (int)w->index);
  if (before < 0 || (unsigned)before == w->index) return false;
  return send_to(w, (unsigned)before, MSG_RELEASE, id, NULL);
}

static void on_message(void *ctx, const void *msg) {
  worker *w = ctx;
  const worker_msg *m = msg;
  devices *ds = &w->server.devices;
  store_record record;
  switch (m->kind) {
  case MSG_RELEASE:
    if (devices_release(ds, m->id, "a new connection (on another worker)", &record)) {
      log_info("handover device=%s from worker=%u to worker=%u mode=%u", m->id, w->index,
               m->from, record.mode);
      send_to(w, m->from, MSG_RECORD, m->id, &record); /* an asker that stopped waits no more */
    } else {
      send_to(w, m->from, MSG_NONE, m->id, NULL);
    }
    break;
  case MSG_RECORD:
    devices_handed(ds, m->id, &m->record);
    break;
  case MSG_NONE:
    devices_handover_none(ds, m->id);
    break;
  }
}

static void on_mail(loop_op *op, bool ok) {
  (void)ok;
  worker *w = container_of(op, worker, mail_op);
  loop_mailbox_take(w->mailbox, on_message, w);
}

/* server_config.closing: no more mail once the queue goes. */
static void close_mailbox(void *ctx) {
  worker *w = ctx;
  loop_mailbox_close(w->mailbox);
}

/* ---- set-up and the threads ---- */

worker_set *workers_open(unsigned count, const char *url, const char *replica, char *err,
                         size_t err_len) {
  worker_set *set = calloc(1, sizeof *set);
  if (!set || !(set->workers = calloc(count, sizeof *set->workers))) abort(); /* at start-up */
  set->count = count;
  if (count > 1 && !(set->owners = owners_create())) abort();
  for (unsigned i = 0; i < count; i++) {
    worker *w = &set->workers[i];
    w->set = set;
    w->index = i;
    w->store = store_open(url, replica, server_store_notify, &w->server, err, err_len);
    if (!w->store) {
      workers_free(set);
      return NULL;
    }
  }
  return set;
}

const char *workers_store_name(const worker_set *set) {
  return store_name(set->workers[0].store);
}

static int start_worker(worker *w, const server_config *base) {
  server_config config = *base;
  config.store = w->store;
  config.worker = w->index;
  config.workers = w->set->count;
  if (w->set->count > 1) {
    config.closing = close_mailbox;
    config.closing_ctx = w;
  }
  char err[512];
  if (server_start(&w->server, &config, err, sizeof err) != 0) {
    fprintf(stderr, "opal-server: %s\n", err);
    return -1;
  }
  w->store = NULL; /* the server's now */
  if (w->set->count > 1) {
    w->mail_op.fn = on_mail;
    w->mailbox = loop_mailbox_create(w->server.cq, &w->mail_op, sizeof(worker_msg));
    if (!w->mailbox) abort(); /* at start-up: nothing to serve with */
    snprintf(w->log_tag, sizeof w->log_tag, " worker=%u", w->index);
    devices_owner_hooks hooks = {.ctx = w, .claim = claim, .release = release};
    devices_set_owner(&w->server.devices, &hooks, w->log_tag);
  }
  return 0;
}

static void *worker_thread(void *arg) {
  worker *w = arg;
  server_run(&w->server, &stop_signals);
  return NULL;
}

/* listener_take_fn: each connection to the next worker. */
static void take_connection(void *ctx, int listen_fd, int fd) {
  worker_set *set = ctx;
  worker *w = &set->workers[set->next_taker++ % set->count];
  server_take_connection(&w->server, listen_fd, fd);
}

/* server_config.stop_accepting */
static void stop_listener(void *ctx) { listener_stop(ctx); }

int workers_run(worker_set *set, const server_config *base, listener *listener,
                connections *connections) {
  server_config config = *base;
  config.port = listener->port;
  config.connections = connections;
  config.stop_accepting = stop_listener;
  config.stop_accepting_ctx = listener;
  unsigned started = 0;
  for (; started < set->count; started++)
    if (start_worker(&set->workers[started], &config) != 0) break;
  if (started == set->count) listener_start(listener, connections, take_connection, set);
  if (started < set->count) {
    /* A worker that could not start: the others stop at once. */
    if (!stop_signals) stop_signals = 1;
  } else if (set->count > 1) {
    server_announce(&set->workers[0].server, set->count);
  }
  for (unsigned i = 1; i < started; i++)
    if (pthread_create(&set->workers[i].thread, NULL, worker_thread, &set->workers[i]) != 0)
      abort();
  if (started > 0) server_run(&set->workers[0].server, &stop_signals);
  for (unsigned i = 1; i < started; i++) pthread_join(set->workers[i].thread, NULL);
  if (set->count > 1) log_info("stopped");
  return started == set->count ? 0 : 1;
}

void workers_free(worker_set *set) {
  if (!set) return;
  for (unsigned i = 0; i < set->count; i++) {
    store_close(set->workers[i].store); /* one never handed to a server */
    loop_mailbox_free(set->workers[i].mailbox);
  }
  owners_destroy(set->owners);
  free(set->workers);
  free(set);
}
