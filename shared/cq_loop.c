#include "cq_loop.h"

#include <grpc/support/time.h>

#include "clock.h"
#include "loop_op.h"

bool cq_loop_run_one(grpc_completion_queue *cq, int64_t until_ns) {
  int64_t wait = until_ns - clock_now_ns();
  if (wait < 0) wait = 0;
  /* gpr's monotonic clock has its own origin: pass a relative wait. */
  gpr_timespec deadline =
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(wait, GPR_TIMESPAN));
  grpc_event ev = grpc_completion_queue_next(cq, deadline, NULL);
  if (ev.type != GRPC_OP_COMPLETE) return false;
  loop_op *op = ev.tag;
  op->fn(op, ev.success != 0);
  return true;
}

void cq_loop_destroy(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
}
