#include "store/redis_listener.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

/* How often the thread looks at `stopping` while nothing arrives. */
#define POLL_MS 200
/* How long it waits before connecting again after losing Redis. */
#define RECONNECT_MS 1000

struct redis_listener {
  char host[256], where[272], channel[128];
  int port;
  redis_message_fn fn;
  void *ctx;
  atomic_bool stopping;
  atomic_bool reachable; /* redis_listener_reachable */
  bool down; /* the outage is logged */
  pthread_t thread;
};

static const struct timeval connect_timeout = {.tv_sec = 2};

/* Connected and subscribed, or NULL with the reason in `why`. *refused:
 * Redis answered, but with an error (an ACL, say): no outage, a mistake. */
static redisContext *subscribe(redis_listener *l, char *why, size_t len, bool *refused) {
  *refused = false;
  redisContext *c = redisConnectWithTimeout(l->host, l->port, connect_timeout);
  if (!c || c->err) {
    snprintf(why, len, "%s", c ? c->errstr : "out of memory");
    redisFree(c);
    return NULL;
  }
  redisReply *r = redisCommand(c, "SUBSCRIBE %s", l->channel);
  bool ok = r && r->type == REDIS_REPLY_ARRAY;
  *refused = r && r->type == REDIS_REPLY_ERROR;
  if (!ok) snprintf(why, len, "SUBSCRIBE: %s", *refused ? r->str : c->errstr);
  freeReplyObject(r);
  if (ok) return c;
  redisFree(c);
  return NULL;
}

/* A pushed reply: ["message", channel, payload]. */
static void deliver(redis_listener *l, const redisReply *r) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
  const redisReply *kind = r->element[0], *payload = r->element[2];
  if (kind->type != REDIS_REPLY_STRING || strcmp(kind->str, "message") != 0) return;
  if (payload->type == REDIS_REPLY_STRING) l->fn(l->ctx, payload->str, payload->len);
}

/* Reads until the connection breaks or the listener stops. */
static void receive(redis_listener *l, redisContext *c) {
  while (!atomic_load(&l->stopping)) {
    void *reply = NULL;
    while (redisGetReplyFromReader(c, &reply) == REDIS_OK && reply) {
      deliver(l, reply);
      freeReplyObject(reply);
      reply = NULL;
    }
    if (c->err) return;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int n = poll(&p, 1, POLL_MS);
    if (n > 0 && redisBufferRead(c) != REDIS_OK) return;
  }
}

static void pause_ms(redis_listener *l, int ms) {
  for (int waited = 0; waited < ms && !atomic_load(&l->stopping); waited += POLL_MS)
    nanosleep(&(struct timespec){.tv_nsec = POLL_MS * 1000000L}, NULL);
}

/* An outage is the store's to log (store.c says it once, and its end);
 * here it is only debug detail. A refusal is logged: nothing else would. */
static void *listen_thread(void *arg) {
  redis_listener *l = arg;
  while (!atomic_load(&l->stopping)) {
    char why[256];
    bool refused;
    redisContext *c = subscribe(l, why, sizeof why, &refused);
    if (!c) {
      if (!l->down) {
        if (refused) log_error("redis %s: cannot listen on %s: %s; retrying every second", l->where,
                               l->channel, why);
        else log_debug("redis %s: cannot listen on %s: %s; retrying every second", l->where,
                       l->channel, why);
      }
      l->down = true;
      if (!refused) atomic_store(&l->reachable, false);
      pause_ms(l, RECONNECT_MS);
      continue;
    }
    if (l->down) log_debug("redis %s: listening on %s again", l->where, l->channel);
    l->down = false;
    atomic_store(&l->reachable, true);
    receive(l, c);
    if (!atomic_load(&l->stopping)) {
      log_debug("redis %s: lost %s: %s; retrying every second", l->where, l->channel,
                c->errstr[0] ? c->errstr : "connection closed");
      l->down = true;
      atomic_store(&l->reachable, false);
    }
    redisFree(c);
  }
  return NULL;
}

redis_listener *redis_listener_start(const char *host, int port, const char *where,
                                     const char *channel, redis_message_fn fn, void *ctx) {
  redis_listener *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  snprintf(l->host, sizeof l->host, "%s", host);
  snprintf(l->where, sizeof l->where, "%s", where);
  snprintf(l->channel, sizeof l->channel, "%s", channel);
  l->port = port;
  l->fn = fn;
  l->ctx = ctx;
  atomic_init(&l->stopping, false);
  atomic_init(&l->reachable, true);
  if (pthread_create(&l->thread, NULL, listen_thread, l) != 0) {
    free(l);
    return NULL;
  }
  return l;
}

bool redis_listener_reachable(redis_listener *l) { return atomic_load(&l->reachable); }

void redis_listener_stop(redis_listener *l) {
  if (!l) return;
  atomic_store(&l->stopping, true);
  pthread_join(l->thread, NULL);
  free(l);
}
