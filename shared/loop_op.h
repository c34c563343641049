/* A completion-queue tag: every tag the server hands to gRPC is a loop_op
 * embedded in the struct that owns the operation, so the loop can dispatch
 * a completion without knowing what it belongs to. */
#ifndef OPAL_LOOP_OP_H
#define OPAL_LOOP_OP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct loop_op loop_op;
typedef void (*loop_op_fn)(loop_op *op, bool ok);

struct loop_op {
  loop_op_fn fn;
};

#define container_of(ptr, type, member) \
  ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
