#include "loop_mailbox.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "loop_wakeup.h"

struct loop_mailbox {
  pthread_mutex_t lock;
  loop_wakeup *wakeup;
  size_t size;
  unsigned char *items; /* guarded by lock, like len, cap and closed */
  size_t len, cap;
  bool closed;
};

loop_mailbox *loop_mailbox_create(grpc_completion_queue *cq, loop_op *op, size_t size) {
  loop_mailbox *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->wakeup = loop_wakeup_create(cq, op);
  if (!m->wakeup) {
    free(m);
    return NULL;
  }
  m->size = size;
  pthread_mutex_init(&m->lock, NULL);
  return m;
}

bool loop_mailbox_post(loop_mailbox *m, const void *msg) {
  pthread_mutex_lock(&m->lock);
  bool ok = !m->closed;
  if (ok && m->len == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 16;
    unsigned char *grown = realloc(m->items, cap * m->size);
    if (!grown) abort(); /* a lost message would leave a device waiting forever */
    m->items = grown;
    m->cap = cap;
  }
  if (ok) {
    memcpy(m->items + m->len++ * m->size, msg, m->size);
    /* Posted under the lock, so close cannot destroy the wakeup meanwhile. */
    loop_wakeup_post(m->wakeup);
  }
  pthread_mutex_unlock(&m->lock);
  return ok;
}

void loop_mailbox_take(loop_mailbox *m, void (*each)(void *ctx, const void *msg), void *ctx) {
  loop_wakeup_done(m->wakeup);
  pthread_mutex_lock(&m->lock);
  unsigned char *items = m->items;
  size_t len = m->len;
  m->items = NULL;
  m->len = m->cap = 0;
  pthread_mutex_unlock(&m->lock);
  for (size_t i = 0; i < len; i++) each(ctx, items + i * m->size);
  free(items);
}

void loop_mailbox_close(loop_mailbox *m) {
  pthread_mutex_lock(&m->lock);
  m->closed = true;
  loop_wakeup_destroy(m->wakeup); /* under the lock: no post is using it */
  m->wakeup = NULL;
  pthread_mutex_unlock(&m->lock);
}

void loop_mailbox_free(loop_mailbox *m) {
  if (!m) return;
  if (m->wakeup) loop_wakeup_destroy(m->wakeup);
  pthread_mutex_destroy(&m->lock);
  free(m->items);
  free(m);
}
