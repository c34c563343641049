#include "loop_mailbox.h"

#include <pthread.h>
#include <stdlib.h>

#include "item_array.h"
#include "loop_wakeup.h"

struct loop_mailbox {
  pthread_mutex_t lock;
  loop_wakeup *wakeup;
  item_array waiting; /* guarded by lock, like closed */
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
  item_array_init(&m->waiting, size);
  pthread_mutex_init(&m->lock, NULL);
  return m;
}

bool loop_mailbox_post(loop_mailbox *m, const void *msg) {
  pthread_mutex_lock(&m->lock);
  bool ok = !m->closed;
  if (ok) {
    item_array_append(&m->waiting, msg, 1);
    /* Posted under the lock, so close cannot destroy the wakeup meanwhile. */
    loop_wakeup_post(m->wakeup);
  }
  pthread_mutex_unlock(&m->lock);
  return ok;
}

void loop_mailbox_take(loop_mailbox *m, void (*each)(void *ctx, const void *msg), void *ctx) {
  loop_wakeup_done(m->wakeup);
  item_array taken;
  pthread_mutex_lock(&m->lock);
  item_array_take(&m->waiting, &taken);
  pthread_mutex_unlock(&m->lock);
  for (size_t i = 0; i < taken.len; i++) each(ctx, item_array_at(&taken, i));
  item_array_free(&taken);
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
  item_array_free(&m->waiting);
  free(m);
}
