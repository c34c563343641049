#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "item_array.h"
#include "log.h"
#include "metrics/metrics.h"
#include "store/store_redis.h"
#include "store/store_sqlite.h"
#include "store/store_stats.h"

/* A failed write is tried again this often; at close, for this long at most
 * before what is left is given up (and said so). */
#define RETRY_NS (1000 * 1000000LL)
#define CLOSE_PATIENCE_TRIES 5
/* Changes queued while the engine fails, at most; past this the oldest are
 * dropped (and counted in the log), so an outage cannot eat the memory. */
#define MAX_QUEUED_WRITES 200000
/* How long a claim waits for the replica that owned the device to hand its
 * record over, before the stored one is used. Shorter than the loop's own
 * wait for a record (DEVICE_STORE_LOAD_WAIT_NS), so a live replica's record
 * arrives while the device's calls still wait for it. */
#define HANDOVER_WAIT_NS (150 * 1000000LL)

typedef struct load_result {
  char id[DEVICE_ID_MAX_LEN + 1];
  bool found;
  store_record record;
} load_result;

/* Another replica took a device: the loop lets go of it. */
typedef struct release_note {
  char id[DEVICE_ID_MAX_LEN + 1];
  char by[STORE_REPLICA_MAX + 1];
} release_note;

/* A claim waiting for the old owner's record; `record` is the stored one. */
typedef struct handover_wait {
  char id[DEVICE_ID_MAX_LEN + 1];
  /* While the claim itself runs (the old owner may answer before it
   * returns): a record handed meanwhile is kept here. */
  bool claiming, handed;
  store_record handed_record;
  bool found;
  store_record record; /* the stored one */
  int64_t deadline_ns; /* INT64_MAX while claiming */
} handover_wait;

/* A record going to the replica that claimed the device from us. */
typedef struct handover_send {
  char id[DEVICE_ID_MAX_LEN + 1];
  char to[STORE_REPLICA_MAX + 1];
  store_record record;
} handover_send;

struct store {
  char name[4200];
  store_engine *engine; /* NULL for "memory" */
  store_notify_fn notify;
  void *ctx;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  /* Guarded by `lock`. */
  item_array loads;   /* char[DEVICE_ID_MAX_LEN + 1] each */
  item_array results; /* load_result */
  item_array writes;  /* store_write */
  int64_t writes_since_ns; /* when the oldest of `writes` was handed over */
  item_array releases; /* release_note, for the loop */
  item_array waits;    /* handover_wait */
  item_array sends;    /* handover_send */
  item_array written;  /* store_write: what the engine holds, for the loop */
  bool closing;
  unsigned long long lost; /* writes dropped past MAX_QUEUED_WRITES */
  /* The store's thread only: writes are failing. Loads then answer "no
   * record" at once rather than each waiting for the engine to fail. */
  bool failing;
  store_stats stats; /* the store's thread only */
};

/* ---- the store's thread ---- */

static handover_wait *find_wait(store *s, const char *id, size_t *index) {
  for (size_t i = 0; i < s->waits.len; i++) {
    handover_wait *w = item_array_at(&s->waits, i);
    if (strcmp(w->id, id) == 0) {
      *index = i;
      return w;
    }
  }
  return NULL;
}

/* The engine holds `record` of `id`: the loop hears of it. Lock held. */
static void held(store *s, const char *id, const store_record *record) {
  store_write h = {.record = *record};
  memcpy(h.id, id, sizeof h.id);
  item_array_append(&s->written, &h, 1);
}

/* A claim's answer: the newer of the stored and the handed record. A handed
 * one that is newer is written too: the old owner's last changes may not
 * have reached the engine, and its writes are refused now. Lock held; the
 * wait at `index` goes. */
static void answer_wait(store *s, size_t index) {
  handover_wait *w = item_array_at(&s->waits, index);
  load_result r = {.found = w->found || w->handed, .record = w->record};
  memcpy(r.id, w->id, sizeof r.id);
  if (w->handed && (!w->found || w->handed_record.version > w->record.version)) {
    r.record = w->handed_record;
    store_write write = {.record = w->handed_record};
    memcpy(write.id, w->id, sizeof write.id);
    if (s->writes.len == 0) s->writes_since_ns = clock_now_ns();
    item_array_append(&s->writes, &write, 1);
  } else if (r.found) {
    held(s, w->id, &r.record);
  }
  item_array_append(&s->results, &r, 1);
  item_array_remove(&s->waits, index);
}

/* Loads (or claims) one id; the answer goes to s->results, or, when a live
 * replica had it, waits in s->waits for its record. The wait is there
 * before the claim runs, since that replica may answer before the claim
 * returns. Lock not held. */
static void load_one(store *s, const char *id) {
  char err[512];
  const store_engine_ops *ops = s->engine->ops;
  handover_wait fresh = {.claiming = true, .deadline_ns = INT64_MAX};
  snprintf(fresh.id, sizeof fresh.id, "%s", id);
  pthread_mutex_lock(&s->lock);
  if (ops->claim) item_array_append(&s->waits, &fresh, 1);
  pthread_mutex_unlock(&s->lock);
  /* During an outage (logged once, when writes began to fail) a load
   * answers at once and says nothing. */
  store_record record = {0};
  int rc = -1;
  bool asked = false;
  if (!s->failing)
    rc = ops->claim ? ops->claim(s->engine, fresh.id, &record, &asked, err, sizeof err)
                    : ops->load(s->engine, fresh.id, &record, err, sizeof err);
  metrics_store_loaded(rc < 0);
  if (rc < 0 && !s->failing)
    log_warn("store %s: cannot load device=%s: %s (serving a fresh record)", s->name, fresh.id, err);
  pthread_mutex_lock(&s->lock);
  size_t i;
  handover_wait *w = ops->claim ? find_wait(s, fresh.id, &i) : NULL;
  if (w) {
    w->claiming = false;
    w->found = rc == 1;
    w->record = record;
    w->deadline_ns = clock_now_ns() + HANDOVER_WAIT_NS;
    if (!asked || w->handed) answer_wait(s, i);
  } else {
    load_result r = {.found = rc == 1, .record = record};
    memcpy(r.id, fresh.id, sizeof r.id);
    if (r.found) held(s, r.id, &r.record);
    item_array_append(&s->results, &r, 1);
  }
  pthread_mutex_unlock(&s->lock);
}

static void wait_ns(store *s, int64_t ns) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += (time_t)(ns / 1000000000LL);
  until.tv_nsec += (long)(ns % 1000000000LL);
  if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
  pthread_cond_timedwait(&s->wake, &s->lock, &until);
}

/* Puts a failed batch back in front of what came meanwhile, within bounds. */
static void requeue(store *s, item_array *batch, int64_t batch_since_ns) {
  s->writes_since_ns = batch_since_ns;
  item_array_append(batch, s->writes.items, s->writes.len);
  item_array_free(&s->writes);
  s->writes = *batch;
  item_array_init(batch, sizeof(store_write));
  if (s->writes.len > MAX_QUEUED_WRITES) {
    size_t excess = s->writes.len - MAX_QUEUED_WRITES;
    item_array_drop_front(&s->writes, excess);
    s->lost += excess;
    metrics_store_dropped(excess);
    log_error("store %s: %zu queued changes dropped (%llu so far): the queue is full", s->name,
              excess, s->lost);
  }
}

/* Writes `batch` (lock held on entry and exit, released while writing).
 * True when it is written; else it is back on the queue. */
static bool write_batch(store *s, item_array *batch, int64_t since_ns) {
  char err[512];
  store_stats_queued(&s->stats, batch->len);
  pthread_mutex_unlock(&s->lock);
  int rc = s->engine->ops->save(s->engine, batch->items, batch->len, err, sizeof err);
  pthread_mutex_lock(&s->lock);
  if (rc == 0) {
    if (s->failing) log_info("store %s: writing again (%zu changes written)", s->name, batch->len);
    s->failing = false;
    int64_t now = clock_now_ns();
    store_stats_written(&s->stats, batch->len, (double)(now - since_ns) / 1e6);
    metrics_store_written(batch->len);
    store_stats_report(&s->stats, s->name, now, 0);
    item_array_append(&s->written, batch->items, batch->len);
    item_array_free(batch);
    return true;
  }
  metrics_store_write_failed();
  if (!s->failing) log_error("store %s: cannot write: %s; retrying every second", s->name, err);
  s->failing = true;
  requeue(s, batch, since_ns);
  return false;
}

static void finish_loads(store *s) {
  item_array ids;
  item_array_take(&s->loads, &ids);
  pthread_mutex_unlock(&s->lock);
  for (size_t i = 0; i < ids.len; i++) load_one(s, item_array_at(&ids, i));
  item_array_free(&ids);
  s->notify(s->ctx);
  pthread_mutex_lock(&s->lock);
}

/* Claims whose old owner did not answer in time: the stored record it is
 * (it was away, or is too slow to count on). Lock held. */
static bool expire_waits(store *s) {
  int64_t now = clock_now_ns();
  bool any = false;
  for (size_t i = 0; i < s->waits.len;) {
    handover_wait *w = item_array_at(&s->waits, i);
    if (w->deadline_ns > now) { /* INT64_MAX while claiming */
      i++;
      continue;
    }
    log_warn("store %s: no hand-over of device=%s within %lld ms: serving its stored record",
             s->name, w->id, (long long)(HANDOVER_WAIT_NS / 1000000));
    answer_wait(s, i);
    any = true;
  }
  return any;
}

/* The earliest wait's deadline, INT64_MAX for none. Lock held. */
static int64_t next_deadline(const store *s) {
  int64_t t = INT64_MAX;
  for (size_t i = 0; i < s->waits.len; i++) {
    const handover_wait *w = item_array_at(&s->waits, i);
    if (w->deadline_ns < t) t = w->deadline_ns;
  }
  return t;
}

/* Sends the records the loop handed over (lock held on entry and exit). */
static void send_handovers(store *s) {
  item_array sends;
  char err[512];
  item_array_take(&s->sends, &sends);
  pthread_mutex_unlock(&s->lock);
  for (size_t i = 0; i < sends.len; i++) {
    const handover_send *h = item_array_at(&sends, i);
    if (s->engine->ops->hand_over(s->engine, h->to, h->id, &h->record, err, sizeof err) != 0)
      log_warn("store %s: cannot hand device=%s over to replica=%s: %s", s->name, h->id, h->to,
               err);
  }
  item_array_free(&sends);
  pthread_mutex_lock(&s->lock);
}

static void wait_for_work(store *s) {
  while (!s->closing && s->loads.len == 0 && s->writes.len == 0 && s->sends.len == 0) {
    if (s->waits.len == 0) {
      pthread_cond_wait(&s->wake, &s->lock);
      continue;
    }
    int64_t left = next_deadline(s) - clock_now_ns();
    if (left > 0) wait_ns(s, left);
    if (expire_waits(s)) {
      pthread_mutex_unlock(&s->lock);
      s->notify(s->ctx);
      pthread_mutex_lock(&s->lock);
    }
  }
}

/* Hand-overs and loads first: a device is waiting for each. Then writes, a
 * batch at a time. */
static void *store_thread(void *arg) {
  store *s = arg;
  int close_tries = 0;
  pthread_mutex_lock(&s->lock);
  for (;;) {
    wait_for_work(s);
    if (s->sends.len) {
      send_handovers(s);
      continue;
    }
    if (s->loads.len) {
      finish_loads(s);
      continue;
    }
    if (s->writes.len) {
      item_array batch;
      int64_t since = s->writes_since_ns;
      item_array_take(&s->writes, &batch);
      if (write_batch(s, &batch, since)) continue;
      if (s->closing && ++close_tries >= CLOSE_PATIENCE_TRIES) break;
      wait_ns(s, RETRY_NS);
      continue;
    }
    break; /* closing, and nothing left */
  }
  if (s->writes.len)
    log_error("store %s: %zu changes not written (the store kept failing)", s->name,
              s->writes.len);
  store_stats_report(&s->stats, s->name, clock_now_ns(), 1);
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* ---- the loop's side ---- */

void store_load(store *s, const char *id) {
  char key[DEVICE_ID_MAX_LEN + 1];
  snprintf(key, sizeof key, "%s", id);
  pthread_mutex_lock(&s->lock);
  item_array_append(&s->loads, key, 1);
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
}

void store_save(store *s, const store_write *writes, size_t n) {
  if (n == 0) return;
  pthread_mutex_lock(&s->lock);
  if (s->writes.len == 0) s->writes_since_ns = clock_now_ns();
  item_array_append(&s->writes, writes, n);
  metrics_store_queued(n);
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
}

void store_hand_over(store *s, const char *id, const char *to, const store_record *record) {
  if (!s->engine || !s->engine->ops->hand_over) return;
  handover_send h = {.record = *record};
  snprintf(h.id, sizeof h.id, "%s", id);
  snprintf(h.to, sizeof h.to, "%s", to);
  pthread_mutex_lock(&s->lock);
  item_array_append(&s->sends, &h, 1);
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
}

void store_take_written(store *s, store_written_fn written, void *ctx) {
  item_array news;
  pthread_mutex_lock(&s->lock);
  item_array_take(&s->written, &news);
  pthread_mutex_unlock(&s->lock);
  for (size_t i = 0; i < news.len; i++) {
    const store_write *w = item_array_at(&news, i);
    written(ctx, w->id, w->record.version);
  }
  item_array_free(&news);
}

void store_drain(store *s, store_loaded_fn loaded, store_released_fn released, void *ctx) {
  item_array results, releases;
  pthread_mutex_lock(&s->lock);
  item_array_take(&s->results, &results);
  item_array_take(&s->releases, &releases);
  pthread_mutex_unlock(&s->lock);
  for (size_t i = 0; i < releases.len; i++) {
    const release_note *n = item_array_at(&releases, i);
    released(ctx, n->id, n->by);
  }
  for (size_t i = 0; i < results.len; i++) {
    const load_result *r = item_array_at(&results, i);
    loaded(ctx, r->id, r->found ? &r->record : NULL);
  }
  item_array_free(&results);
  item_array_free(&releases);
}

/* ---- what the other replicas say (an engine's threads) ---- */

/* store_engine_events.released */
static void on_released(void *ctx, const char *id, const char *by) {
  store *s = ctx;
  release_note n;
  snprintf(n.id, sizeof n.id, "%s", id);
  snprintf(n.by, sizeof n.by, "%s", by);
  pthread_mutex_lock(&s->lock);
  item_array_append(&s->releases, &n, 1);
  pthread_mutex_unlock(&s->lock);
  s->notify(s->ctx);
}

/* store_engine_events.handed: the record answers its claim (answer_wait),
 * also when it comes before the claim returned. One that comes after the
 * claim stopped waiting still goes to the loop, as a late record. */
static void on_handed(void *ctx, const char *id, const store_record *record) {
  store *s = ctx;
  size_t i;
  bool notify = true;
  pthread_mutex_lock(&s->lock);
  handover_wait *w = find_wait(s, id, &i);
  if (w && w->claiming) { /* answered before the claim returned: load_one ends it */
    w->handed = true;
    w->handed_record = *record;
    notify = false;
  } else if (w) {
    w->handed = true;
    w->handed_record = *record;
    answer_wait(s, i);
  } else { /* late, or another worker's claim: the loop knows which */
    load_result r = {.found = true, .record = *record};
    snprintf(r.id, sizeof r.id, "%s", id);
    item_array_append(&s->results, &r, 1);
  }
  pthread_cond_signal(&s->wake); /* a handed record may have to be written */
  pthread_mutex_unlock(&s->lock);
  if (notify) s->notify(s->ctx);
}

const char *store_name(const store *s) { return s->name; }

bool store_keeps_state(const store *s) { return s->engine != NULL; }

/* ---- opening and closing ---- */

/* mkdir -p for the folder part of `path`. */
static int make_folders(char *path, char *err, size_t err_len) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    int rc = mkdir(path, 0700);
    int e = errno;
    *p = '/';
    if (rc != 0 && e != EEXIST) {
      snprintf(err, err_len, "cannot make the state folder for %s: %s", path, strerror(e));
      return -1;
    }
  }
  return 0;
}

int store_default_url(char *out, size_t out_len, char *err, size_t err_len) {
  const char *state = getenv("STATE_DIRECTORY"), *xdg = getenv("XDG_STATE_HOME");
  const char *home = getenv("HOME");
  char path[4096];
  /* systemd may list several folders, separated by ':': the first is ours. */
  if (state && *state) snprintf(path, sizeof path, "%.*s/%s", (int)strcspn(state, ":"), state,
                                STORE_DEFAULT_FILE);
  else if (xdg && *xdg) snprintf(path, sizeof path, "%s/opal/%s", xdg, STORE_DEFAULT_FILE);
  else if (home && *home)
    snprintf(path, sizeof path, "%s/.local/state/opal/%s", home, STORE_DEFAULT_FILE);
  else {
    snprintf(err, err_len, "no state folder: set STATE_DIRECTORY, XDG_STATE_HOME or HOME, "
                           "or give --store");
    return -1;
  }
  if (make_folders(path, err, err_len) != 0) return -1;
  snprintf(out, out_len, "sqlite:%s", path);
  return 0;
}

const char *store_url_problem(const char *url) {
  if (strcmp(url, "memory") == 0) return NULL;
  if (strncmp(url, "redis://", 8) == 0) return store_redis_url_problem(url);
  if (strncmp(url, "sqlite:", 7) != 0) return "expected memory, sqlite:PATH or redis://HOST:PORT[/DB]";
  return url[7] ? NULL : "sqlite: needs a file path";
}

static store_engine *open_engine(store *s, const char *url, const char *replica, char *err,
                                 size_t err_len) {
  store_engine_events events = {.ctx = s, .released = on_released, .handed = on_handed};
  if (strncmp(url, "redis://", 8) == 0) return store_redis_open(url, replica, &events, err, err_len);
  return store_sqlite_open(url + 7, err, err_len);
}

store *store_open(const char *url, const char *replica, store_notify_fn notify, void *ctx,
                  char *err, size_t err_len) {
  const char *problem = store_url_problem(url);
  if (problem) {
    snprintf(err, err_len, "--store: %s (got '%s')", problem, url);
    return NULL;
  }
  store *s = calloc(1, sizeof *s);
  if (!s) abort(); /* at start-up: nothing to serve with */
  snprintf(s->name, sizeof s->name, "%s", url);
  s->notify = notify;
  s->ctx = ctx;
  item_array_init(&s->loads, DEVICE_ID_MAX_LEN + 1);
  item_array_init(&s->results, sizeof(load_result));
  item_array_init(&s->writes, sizeof(store_write));
  item_array_init(&s->releases, sizeof(release_note));
  item_array_init(&s->waits, sizeof(handover_wait));
  item_array_init(&s->sends, sizeof(handover_send));
  item_array_init(&s->written, sizeof(store_write));
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->wake, NULL);
  store_stats_init(&s->stats, clock_now_ns());
  /* The engine's events may come as soon as it is open: `s` is ready. */
  if (strcmp(url, "memory") != 0 && !(s->engine = open_engine(s, url, replica, err, err_len))) {
    store_close(s);
    return NULL;
  }
  if (s->engine && pthread_create(&s->thread, NULL, store_thread, s) != 0) abort();
  return s;
}

bool store_reachable(const store *s) {
  if (!s || !s->engine || !s->engine->ops->reachable) return true;
  return s->engine->ops->reachable(s->engine);
}

void store_close(store *s) {
  if (!s) return;
  if (s->engine) {
    pthread_mutex_lock(&s->lock);
    s->closing = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    s->engine->ops->close(s->engine);
  }
  item_array_free(&s->loads);
  item_array_free(&s->results);
  item_array_free(&s->writes);
  item_array_free(&s->releases);
  item_array_free(&s->waits);
  item_array_free(&s->sends);
  item_array_free(&s->written);
  store_stats_free(&s->stats);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->wake);
  free(s);
}
