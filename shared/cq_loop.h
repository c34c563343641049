/* The two things every completion-queue loop here does with its queue:
 * wait for one completion and run its loop_op, and tear the queue down. */
#ifndef OPAL_CQ_LOOP_H
#define OPAL_CQ_LOOP_H

#include <grpc/grpc.h>
#include <stdbool.h>
#include <stdint.h>

/* Waits until `until_ns` (clock_now_ns time; the past means "don't wait")
 * for one completion and runs its loop_op. True if one ran. */
bool cq_loop_run_one(grpc_completion_queue *cq, int64_t until_ns);

/* Shuts `cq` down, drains it and destroys it. Whatever is still queued is
 * dropped unrun: call it once every owner of a tag has gone. */
void cq_loop_destroy(grpc_completion_queue *cq);

#endif
