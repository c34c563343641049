/* Waking a completion-queue loop from another thread. gRPC core has no
 * "post" call; an empty batch on a call of a lame channel completes at once
 * and delivers its tag to the loop's queue, which is what this wraps. */
#ifndef OPAL_LOOP_WAKEUP_H
#define OPAL_LOOP_WAKEUP_H

#include <grpc/grpc.h>

#include "loop_op.h"

typedef struct loop_wakeup loop_wakeup;

/* `op` fires on `cq` once per loop_wakeup_post that found no wakeup
 * pending. The caller owns the result; destroy it from the loop thread. */
loop_wakeup *loop_wakeup_create(grpc_completion_queue *cq, loop_op *op);

/* Any thread. Posts are coalesced: at most one is pending at a time. */
void loop_wakeup_post(loop_wakeup *w);

/* Loop thread, first thing in `op`'s handler: allows the next post. */
void loop_wakeup_done(loop_wakeup *w);

/* Loop thread, once every thread that posts has been joined. A wakeup
 * still pending is delivered to the queue later: drain it before freeing
 * the op. */
void loop_wakeup_destroy(loop_wakeup *w);

#endif
