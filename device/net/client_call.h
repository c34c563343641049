/* One client call of the DeviceService and the batches in flight on it:
 * start, send, receive, status. It knows what a call is, not what its
 * messages mean (its kind, `client_call_behaviour`) nor who holds it (its
 * holder, `client_call_holder`); it tells each through callbacks.
 *
 * Lifetime: the holder provides the memory (usually embedded in a stream)
 * and starts the call; the call asks for its status at once. Once the
 * status is in and no batch is in flight, the call lets go of its gRPC
 * objects and says `released`, its last word: the memory is the holder's
 * again. A call is live until its status arrives or it is cancelled; only a
 * live call reports messages and sends, and on a call that is over a send
 * is dropped and a receive is not asked for. gRPC allows one send and one
 * receive in flight per call; starting a second is a programming error
 * and aborts. */
#ifndef OPAL_CLIENT_CALL_H
#define OPAL_CLIENT_CALL_H

#include <grpc/grpc.h>
#include <stdbool.h>

#include "loop_op.h"
#include "wire.h"

typedef struct client_call client_call;

/* What a kind of call does with what arrives. Runs only while it is live. */
typedef struct client_call_behaviour {
  /* A receive (or exchange) completed: the message, borrowed (destroyed
   * after the callback), or NULL when none came: the stream ended or the
   * batch failed, and the call's status will follow. */
  void (*received)(client_call *cc, grpc_byte_buffer *message);
  /* A send completed; !ok when it failed. May be NULL. */
  void (*sent)(client_call *cc, bool ok);
  /* The opening batch completed: the server's initial metadata, if it sent
   * any, is in cc->initial_md. May be NULL. */
  void (*opened)(client_call *cc);
} client_call_behaviour;

/* What the call tells whoever holds it; `ctx` is client_call_setup.holder_ctx. */
typedef struct client_call_holder {
  /* A message arrived from the server. Said before the kind acts on it, so
   * the holder can count the server as reached first. */
  void (*heard)(void *ctx);
  /* The call's status arrived: the call is over. */
  void (*finished)(void *ctx, wire_method method, grpc_status_code status, const char *details);
  /* The kind gave up on the call with client_call_fail: the call is over. */
  void (*failed)(void *ctx, const char *why);
  /* gRPC holds nothing of the call any more; nothing else is reported. */
  void (*released)(void *ctx);
} client_call_holder;

/* Where a call runs and who holds it: the same for every call of a channel. */
typedef struct client_call_setup {
  grpc_channel *channel;
  grpc_completion_queue *cq;
  const grpc_metadata *metadata; /* sent as initial metadata; must outlive the call */
  size_t metadata_count;
  const client_call_holder *holder;
  void *holder_ctx;
} client_call_setup;

struct client_call {
  wire_method method;
  const client_call_behaviour *behaviour;
  const client_call_holder *holder;
  void *holder_ctx;
  grpc_call *call; /* NULL once released */
  int pending;     /* batches started, not yet completed */
  bool finished;   /* its status has arrived */
  bool cancelled;  /* client_call_cancel or client_call_fail */
  bool sending, receiving;
  grpc_metadata_array initial_md, trailing_md;
  grpc_status_code status;
  grpc_slice details;
  grpc_byte_buffer *send_buf, *recv_buf;
  loop_op start_op, finish_op, send_op, recv_op, exchange_op;
};

/* Creates the call to `method` and starts it: initial metadata out and in,
 * and the request for its status. `request`, if not NULL, is the call's only
 * message (a server-streaming call): it is sent, owned, and the client's
 * side closed in the same batch. */
void client_call_start(client_call *cc, const client_call_setup *setup, wire_method method,
                       const client_call_behaviour *behaviour, grpc_byte_buffer *request);

/* Sends `message`, taking ownership of it. */
void client_call_send(client_call *cc, grpc_byte_buffer *message);
/* Asks for the next message; the behaviour's `received` gets it. */
void client_call_receive(client_call *cc);
/* Sends `message` (owned) and asks for the reply in one batch, which
 * completes with the reply: `received` gets it, `sent` is not called. */
void client_call_exchange(client_call *cc, grpc_byte_buffer *message);

/* True until the status arrives or the call is cancelled. */
bool client_call_live(const client_call *cc);
/* Cancels a live call; its status (CANCELLED) still arrives. */
void client_call_cancel(client_call *cc);
/* Cancels a live call for a reason of the device's own (the server broke
 * the protocol) and tells the holder `failed` with `why`. */
void client_call_fail(client_call *cc, const char *why);

#endif
