#include "loop_wakeup.h"

#include <grpc/support/time.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct loop_wakeup {
  grpc_channel *channel;
  grpc_call *call;
  loop_op *op;
  pthread_mutex_t lock; /* gRPC wants batches on one call serialised */
  bool pending;
};

loop_wakeup *loop_wakeup_create(grpc_completion_queue *cq, loop_op *op) {
  loop_wakeup *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->channel = grpc_lame_client_channel_create("wakeup", GRPC_STATUS_UNAVAILABLE, "wakeup");
  w->call = grpc_channel_create_call(w->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                     grpc_slice_from_static_string("/wakeup"), NULL,
                                     gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  w->op = op;
  pthread_mutex_init(&w->lock, NULL);
  return w;
}

void loop_wakeup_post(loop_wakeup *w) {
  pthread_mutex_lock(&w->lock);
  if (!w->pending) {
    w->pending = true;
    /* An empty batch cannot fail but for misuse, which would lose every
     * later wakeup: stop loudly instead. */
    if (grpc_call_start_batch(w->call, NULL, 0, w->op, NULL) != GRPC_CALL_OK) abort();
  }
  pthread_mutex_unlock(&w->lock);
}

void loop_wakeup_done(loop_wakeup *w) {
  pthread_mutex_lock(&w->lock);
  w->pending = false;
  pthread_mutex_unlock(&w->lock);
}

void loop_wakeup_destroy(loop_wakeup *w) {
  if (!w) return;
  grpc_call_unref(w->call);
  grpc_channel_destroy(w->channel);
  pthread_mutex_destroy(&w->lock);
  free(w);
}
