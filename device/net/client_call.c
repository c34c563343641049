#include "net/client_call.h"

#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdlib.h>

bool client_call_live(const client_call *cc) { return !cc->finished && !cc->cancelled; }

static void start_batch(client_call *cc, const grpc_op *ops, size_t n, loop_op *tag) {
  /* Only a programming error gets here (two sends or receives in flight). */
  if (grpc_call_start_batch(cc->call, ops, n, tag, NULL) != GRPC_CALL_OK) abort();
  cc->pending++;
}

/* Lets go of the call once its status is in and gRPC holds no tag of ours.
 * Every batch that took a buffer has completed and destroyed it by then. */
static void release_if_done(client_call *cc) {
  if (!cc->finished || cc->pending > 0) return;
  grpc_call_unref(cc->call);
  cc->call = NULL;
  grpc_metadata_array_destroy(&cc->initial_md);
  grpc_metadata_array_destroy(&cc->trailing_md);
  grpc_slice_unref(cc->details);
  cc->holder->released(cc->holder_ctx); /* last: the holder may free `cc` */
}

/* A batch that carried a message completed: the message is spent. */
static void drop_sent(client_call *cc) {
  if (cc->send_buf) grpc_byte_buffer_destroy(cc->send_buf);
  cc->send_buf = NULL;
  cc->sending = false;
}

/* A batch that received completed: the message goes to the holder and the
 * kind while the call is live, then is destroyed. */
static void deliver_received(client_call *cc, bool ok) {
  grpc_byte_buffer *message = cc->recv_buf;
  cc->recv_buf = NULL;
  cc->receiving = false;
  if (client_call_live(cc)) {
    if (ok && message) cc->holder->heard(cc->holder_ctx);
    cc->behaviour->received(cc, ok ? message : NULL);
  }
  if (message) grpc_byte_buffer_destroy(message);
}

static void on_start(loop_op *op, bool ok) {
  client_call *cc = container_of(op, client_call, start_op);
  cc->pending--;
  drop_sent(cc);
  /* A failed opening fails the call too, whose status says why. */
  if (ok && client_call_live(cc) && cc->behaviour->opened) cc->behaviour->opened(cc);
  release_if_done(cc);
}

static void on_finish(loop_op *op, bool ok) {
  (void)ok; /* a status always arrives, if only CANCELLED */
  client_call *cc = container_of(op, client_call, finish_op);
  cc->pending--;
  cc->finished = true;
  char *details = grpc_slice_to_c_string(cc->details);
  cc->holder->finished(cc->holder_ctx, cc->method, cc->status, details);
  gpr_free(details);
  release_if_done(cc);
}

static void on_send(loop_op *op, bool ok) {
  client_call *cc = container_of(op, client_call, send_op);
  cc->pending--;
  drop_sent(cc);
  if (client_call_live(cc) && cc->behaviour->sent) cc->behaviour->sent(cc, ok);
  release_if_done(cc);
}

static void on_receive(loop_op *op, bool ok) {
  client_call *cc = container_of(op, client_call, recv_op);
  cc->pending--;
  deliver_received(cc, ok);
  release_if_done(cc);
}

static void on_exchange(loop_op *op, bool ok) {
  client_call *cc = container_of(op, client_call, exchange_op);
  cc->pending--;
  drop_sent(cc);
  deliver_received(cc, ok);
  release_if_done(cc);
}

/* The first batch: metadata both ways and, for a server-streaming call, its
 * one request and the close of the client's side. */
static void start_opening(client_call *cc, const client_call_setup *setup,
                          grpc_byte_buffer *request) {
  grpc_op ops[4] = {{.op = GRPC_OP_SEND_INITIAL_METADATA}, {.op = GRPC_OP_RECV_INITIAL_METADATA}};
  ops[0].data.send_initial_metadata.count = setup->metadata_count;
  ops[0].data.send_initial_metadata.metadata = (grpc_metadata *)setup->metadata;
  ops[1].data.recv_initial_metadata.recv_initial_metadata = &cc->initial_md;
  size_t n = 2;
  if (request) {
    cc->send_buf = request;
    cc->sending = true;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = request;
    ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  }
  start_batch(cc, ops, n, &cc->start_op);
}

void client_call_start(client_call *cc, const client_call_setup *setup, wire_method method,
                       const client_call_behaviour *behaviour, grpc_byte_buffer *request) {
  *cc = (client_call){.method = method, .behaviour = behaviour, .holder = setup->holder,
                      .holder_ctx = setup->holder_ctx};
  cc->start_op.fn = on_start;
  cc->finish_op.fn = on_finish;
  cc->send_op.fn = on_send;
  cc->recv_op.fn = on_receive;
  cc->exchange_op.fn = on_exchange;
  grpc_metadata_array_init(&cc->initial_md);
  grpc_metadata_array_init(&cc->trailing_md);
  cc->details = grpc_empty_slice();
  cc->call = grpc_channel_create_call(setup->channel, NULL, GRPC_PROPAGATE_DEFAULTS, setup->cq,
                                      grpc_slice_from_static_string(wire_method_path(method)),
                                      NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  start_opening(cc, setup, request);

  grpc_op finish = {.op = GRPC_OP_RECV_STATUS_ON_CLIENT};
  finish.data.recv_status_on_client.trailing_metadata = &cc->trailing_md;
  finish.data.recv_status_on_client.status = &cc->status;
  finish.data.recv_status_on_client.status_details = &cc->details;
  start_batch(cc, &finish, 1, &cc->finish_op);
}

/* Takes `message` for a batch that sends it; false (and the message
 * destroyed) when the call is over. */
static bool take_for_send(client_call *cc, grpc_byte_buffer *message) {
  if (cc->sending) abort(); /* gRPC allows one send in flight per call */
  if (!client_call_live(cc)) {
    grpc_byte_buffer_destroy(message);
    return false;
  }
  cc->send_buf = message;
  cc->sending = true;
  return true;
}

void client_call_send(client_call *cc, grpc_byte_buffer *message) {
  if (!take_for_send(cc, message)) return;
  grpc_op op = {.op = GRPC_OP_SEND_MESSAGE};
  op.data.send_message.send_message = message;
  start_batch(cc, &op, 1, &cc->send_op);
}

void client_call_receive(client_call *cc) {
  if (cc->receiving) abort(); /* gRPC allows one receive in flight per call */
  if (!client_call_live(cc)) return;
  cc->receiving = true;
  grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};
  op.data.recv_message.recv_message = &cc->recv_buf;
  start_batch(cc, &op, 1, &cc->recv_op);
}

void client_call_exchange(client_call *cc, grpc_byte_buffer *message) {
  if (cc->receiving) abort();
  if (!take_for_send(cc, message)) return;
  cc->receiving = true;
  grpc_op ops[2] = {{.op = GRPC_OP_SEND_MESSAGE}, {.op = GRPC_OP_RECV_MESSAGE}};
  ops[0].data.send_message.send_message = message;
  ops[1].data.recv_message.recv_message = &cc->recv_buf;
  start_batch(cc, ops, 2, &cc->exchange_op);
}

void client_call_cancel(client_call *cc) {
  if (!client_call_live(cc)) return;
  cc->cancelled = true;
  grpc_call_cancel(cc->call, NULL);
}

void client_call_fail(client_call *cc, const char *why) {
  if (!client_call_live(cc)) return;
  client_call_cancel(cc);
  cc->holder->failed(cc->holder_ctx, why);
}
