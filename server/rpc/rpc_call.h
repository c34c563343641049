/* One server-side gRPC call and the batches in flight on it. This layer
 * knows gRPC and nothing of what a call is for: a kind of call (calls/)
 * embeds an rpc_call as its first member and supplies a behaviour, and
 * whoever the call serves (its owner) hears of its close by callback.
 *
 * Lifetime: the call allocates itself in rpc_call_start and frees itself
 * once it has closed (RECV_CLOSE_ON_SERVER completed) and no batch is in
 * flight. Its owner must drop every pointer to it in the `closed` callback,
 * which runs before that. At most one send and one receive are in flight at
 * a time, as gRPC requires. */
#ifndef OPAL_RPC_CALL_H
#define OPAL_RPC_CALL_H

#include <grpc/grpc.h>
#include <stdbool.h>
#include <stddef.h>

#include "loop_op.h"
#include "wire.h"

typedef struct rpc_call rpc_call;

/* What a kind of call does when its operations complete. Either may be
 * NULL. When the client half-closes, the call is finished with OK without
 * asking the behaviour. Neither runs once the call has closed. */
typedef struct rpc_call_behaviour {
  /* A message arrived (borrowed; destroyed after the callback). */
  void (*received)(rpc_call *c, grpc_byte_buffer *message);
  /* The send started by rpc_call_send completed. */
  void (*sent)(rpc_call *c, bool ok);
} rpc_call_behaviour;

/* The call closed: the owner lets go of it (the call is freed soon after). */
typedef void (*rpc_call_closed_fn)(void *owner, rpc_call *c);

/* Every call not yet freed, so that shutdown can end them and wait for
 * them. The list owns nothing: each call frees itself and leaves it. */
typedef struct rpc_call_list {
  rpc_call *head;
  size_t count;
  /* Told of every call on the list as it closes, or NULL; `client_cancelled`
   * when its client reset it (rather than the server ending it). */
  void (*closed)(void *ctx, const rpc_call *c, bool client_cancelled);
  void *closed_ctx;
} rpc_call_list;

/* The fields are this layer's; others only read `method`, `peer` and `owner`. */
struct rpc_call {
  wire_method method; /* METHOD_COUNT for a call not of DeviceService (health, unknown) */
  const rpc_call_behaviour *behaviour;
  grpc_call *call;
  char *peer; /* "ipv4:127.0.0.1:5000", owned */

  void *owner; /* whom the call serves, or NULL; borrowed */
  rpc_call_closed_fn on_closed;

  int pending; /* batches started, not yet completed */
  bool closed, sending, receiving, status_sent;
  int cancelled;
  grpc_status_code status; /* the one sent, once status_sent */
  grpc_byte_buffer *send_buffer, *recv_buffer;
  loop_op close_op, meta_op, send_op, recv_op, status_op;

  rpc_call_list *live;
  rpc_call *prev, *next; /* on `live` */
};

/* Allocates `size` bytes (at least sizeof(rpc_call): a kind's struct that
 * starts with an rpc_call), puts the call on `live`, takes ownership of
 * `call`, sends its initial metadata and starts watching for its end.
 * `behaviour` may be NULL for a call that is only going to be rejected
 * with rpc_call_finish. The call owns itself: see the lifetime above. */
rpc_call *rpc_call_start(rpc_call_list *live, size_t size, wire_method method,
                         const rpc_call_behaviour *behaviour, grpc_call *call);

/* rpc_call_start, with `count` entries of initial metadata for the client
 * (copied by gRPC: they need not outlive the call). */
rpc_call *rpc_call_start_with_metadata(rpc_call_list *live, size_t size, wire_method method,
                                       const rpc_call_behaviour *behaviour, grpc_call *call,
                                       grpc_metadata *metadata, size_t count);

/* Makes `owner` the one told when the call closes; NULL, NULL lets go. */
void rpc_call_set_owner(rpc_call *c, void *owner, rpc_call_closed_fn closed);

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

/* Aborts every call on `live` (shutdown). */
void rpc_call_list_abort(rpc_call_list *live, grpc_status_code code, const char *details);

#endif
