/* One server-side gRPC call and the batches in flight on it.
 *
 * Lifetime: the call object is created when gRPC delivers a call and is
 * freed by itself once the call has closed (RECV_CLOSE_ON_SERVER completed)
 * and no batch is in flight, so code holding an rpc_call pointer must drop
 * it in the `closed` callback. At most one send and one receive are in
 * flight at a time, as gRPC requires. */
#ifndef OPAL_RPC_CALL_H
#define OPAL_RPC_CALL_H

#include <grpc/grpc.h>
#include <stdbool.h>

#include "loop_op.h"

typedef enum { CALL_STATUS, CALL_EVENT, CALL_AUDIO, CALL_KIND_COUNT, CALL_UNKNOWN } call_kind;

struct opal_server;
struct device;
typedef struct rpc_call rpc_call;

/* What a kind of call does when its operations complete. Either may be
 * NULL. When the client half-closes, the call is finished with OK; when a
 * call is over, it is detached from its device: neither needs a callback. */
typedef struct rpc_call_behaviour {
  /* A message arrived (borrowed; destroyed after the callback). */
  void (*received)(rpc_call *c, grpc_byte_buffer *message);
  /* The send started by rpc_call_send completed. */
  void (*sent)(rpc_call *c, bool ok);
} rpc_call_behaviour;

struct rpc_call {
  call_kind kind;
  const rpc_call_behaviour *behaviour;
  grpc_call *call;
  struct opal_server *server;
  struct device *device; /* NULL when rejected or detached */
  char *peer;            /* "ipv4:127.0.0.1:5000", owned */

  int pending; /* batches started, not yet completed */
  bool closed, sending, receiving, status_sent;
  int cancelled;
  grpc_byte_buffer *send_buffer, *recv_buffer;
  loop_op close_op, meta_op, send_op, recv_op, status_op;

  /* Per-kind state. */
  bool get_owed, set_owed; /* CALL_STATUS: requests not yet sent */

  rpc_call *prev, *next; /* the server's list of live calls */
};

/* Takes ownership of `call`, sends its initial metadata and starts
 * watching for its end. `behaviour` may be NULL for a call that is only
 * going to be rejected with rpc_call_finish. */
rpc_call *rpc_call_start(struct opal_server *server, call_kind kind,
                         const rpc_call_behaviour *behaviour, grpc_call *call);

/* True when a send can start now. */
bool rpc_call_can_send(const rpc_call *c);

/* Sends `message`, taking ownership of it. A send already in flight is a
 * programming error (check rpc_call_can_send); on a call that has ended the
 * message is dropped. */
void rpc_call_send(rpc_call *c, grpc_byte_buffer *message);

/* Asks for the next message; the behaviour's `received` gets it. */
void rpc_call_receive(rpc_call *c);

/* Ends the call with `code` and `details`, once; later calls do nothing. */
void rpc_call_finish(rpc_call *c, grpc_status_code code, const char *details);

/* Ends the call at once, even with operations in flight (takeover,
 * shutdown); the peer sees `code` and `details`. */
void rpc_call_abort(rpc_call *c, grpc_status_code code, const char *details);

#endif
