/* Messages for a completion-queue loop from other threads: a queue of
 * fixed-size messages and a loop_wakeup that tells the loop to take them.
 * After loop_mailbox_close, posts are refused, so a sender never touches a
 * loop that has gone; the mailbox itself lives on until loop_mailbox_free,
 * once no thread can post any more.
 *
 * Threads: post from any thread; take and close from the loop's thread. */
#ifndef OPAL_LOOP_MAILBOX_H
#define OPAL_LOOP_MAILBOX_H

#include <grpc/grpc.h>
#include <stdbool.h>
#include <stddef.h>

#include "loop_op.h"

typedef struct loop_mailbox loop_mailbox;

/* `op` runs on `cq` when messages of `size` bytes are waiting. The caller
 * owns the result and ends it with loop_mailbox_close. */
loop_mailbox *loop_mailbox_create(grpc_completion_queue *cq, loop_op *op, size_t size);

/* Copies `msg` in. False when the mailbox is closed (nothing was sent). */
bool loop_mailbox_post(loop_mailbox *m, const void *msg);

/* In `op`'s handler: calls `each` for every message waiting, in order. */
void loop_mailbox_take(loop_mailbox *m, void (*each)(void *ctx, const void *msg), void *ctx);

/* Refuses further posts and lets go of the queue. Call it before the
 * queue is destroyed (a wakeup may still be on it, and is dropped). */
void loop_mailbox_close(loop_mailbox *m);

/* Frees the mailbox and what still waits in it, once every thread that
 * posts to it has been joined. NULL does nothing. */
void loop_mailbox_free(loop_mailbox *m);

#endif
