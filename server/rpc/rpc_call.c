#include "rpc/rpc_call.h"

#include <grpc/support/alloc.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics/metrics.h"

static void track(rpc_call_list *live, rpc_call *c) {
  c->live = live;
  c->next = live->head;
  if (live->head) live->head->prev = c;
  live->head = c;
  live->count++;
}

static void untrack(rpc_call *c) {
  rpc_call_list *live = c->live;
  if (c->prev) c->prev->next = c->next;
  else live->head = c->next;
  if (c->next) c->next->prev = c->prev;
  live->count--;
}

/* Frees the call once it is over and gRPC holds no tag of ours. */
static void release_if_done(rpc_call *c) {
  if (!c->closed || c->pending > 0) return;
  untrack(c);
  grpc_call_unref(c->call);
  gpr_free(c->peer);
  free(c);
}

static void start_batch(rpc_call *c, const grpc_op *ops, size_t n, loop_op *tag) {
  grpc_call_error rc = grpc_call_start_batch(c->call, ops, n, tag, NULL);
  if (rc == GRPC_CALL_OK) {
    c->pending++;
    return;
  }
  /* Only a programming error gets here (two ops of a kind in flight). */
  abort();
}

static void on_close(loop_op *op, bool ok) {
  (void)ok;
  rpc_call *c = container_of(op, rpc_call, close_op);
  c->pending--;
  c->closed = true;
  metrics_call_ended((int)c->method, c->status_sent ? (int)c->status : (int)GRPC_STATUS_CANCELLED);
  log_debug("call closed peer=%s kind=%d cancelled=%d", c->peer, (int)c->method, c->cancelled);
  if (c->owner && c->on_closed) c->on_closed(c->owner, c);
  if (c->live->closed) c->live->closed(c->live->closed_ctx, c, c->cancelled && !c->status_sent);
  release_if_done(c);
}

static void on_meta(loop_op *op, bool ok) {
  (void)ok;
  rpc_call *c = container_of(op, rpc_call, meta_op);
  c->pending--;
  release_if_done(c);
}

static void on_send(loop_op *op, bool ok) {
  rpc_call *c = container_of(op, rpc_call, send_op);
  c->pending--;
  c->sending = false;
  grpc_byte_buffer_destroy(c->send_buffer);
  c->send_buffer = NULL;
  if (!c->closed && c->behaviour && c->behaviour->sent) c->behaviour->sent(c, ok);
  release_if_done(c);
}

static void on_recv(loop_op *op, bool ok) {
  rpc_call *c = container_of(op, rpc_call, recv_op);
  c->pending--;
  c->receiving = false;
  grpc_byte_buffer *message = c->recv_buffer;
  c->recv_buffer = NULL;
  /* A cancelled call also completes its receive with no message; only a
   * real half-close is reported as the end of the client's stream. */
  bool live = ok && !c->closed && !c->status_sent &&
              (message || !grpc_call_failed_before_recv_message(c->call));
  if (live && !message) rpc_call_finish(c, GRPC_STATUS_OK, "");
  else if (live && c->behaviour && c->behaviour->received) c->behaviour->received(c, message);
  if (message) grpc_byte_buffer_destroy(message);
  release_if_done(c);
}

static void on_status(loop_op *op, bool ok) {
  (void)ok;
  rpc_call *c = container_of(op, rpc_call, status_op);
  c->pending--;
  release_if_done(c);
}

rpc_call *rpc_call_start(rpc_call_list *live, size_t size, wire_method method,
                         const rpc_call_behaviour *behaviour, grpc_call *call) {
  return rpc_call_start_with_metadata(live, size, method, behaviour, call, NULL, 0);
}

rpc_call *rpc_call_start_with_metadata(rpc_call_list *live, size_t size, wire_method method,
                                       const rpc_call_behaviour *behaviour, grpc_call *call,
                                       grpc_metadata *metadata, size_t count) {
  if (size < sizeof(rpc_call)) abort(); /* a kind's struct starts with one */
  rpc_call *c = calloc(1, size);
  if (!c) abort(); /* no sensible way to serve on without memory */
  c->method = method;
  c->behaviour = behaviour;
  c->call = call;
  c->peer = grpc_call_get_peer(call);
  c->close_op.fn = on_close;
  c->meta_op.fn = on_meta;
  c->send_op.fn = on_send;
  c->recv_op.fn = on_recv;
  c->status_op.fn = on_status;
  track(live, c);

  grpc_op close = {.op = GRPC_OP_RECV_CLOSE_ON_SERVER};
  close.data.recv_close_on_server.cancelled = &c->cancelled;
  start_batch(c, &close, 1, &c->close_op);
  /* Sent even for calls about to be rejected: without it this gRPC
   * version never delivers a status sent on its own. */
  grpc_op meta = {.op = GRPC_OP_SEND_INITIAL_METADATA};
  meta.data.send_initial_metadata.count = count;
  meta.data.send_initial_metadata.metadata = metadata;
  start_batch(c, &meta, 1, &c->meta_op);
  return c;
}

void rpc_call_set_owner(rpc_call *c, void *owner, rpc_call_closed_fn closed) {
  c->owner = owner;
  c->on_closed = closed;
}

bool rpc_call_can_send(const rpc_call *c) {
  return !c->closed && !c->status_sent && !c->sending;
}

void rpc_call_send(rpc_call *c, grpc_byte_buffer *message) {
  if (c->sending) abort(); /* gRPC allows one send in flight per call */
  if (c->closed || c->status_sent) {
    grpc_byte_buffer_destroy(message);
    return;
  }
  c->sending = true;
  c->send_buffer = message;
  if (c->method == METHOD_AUDIO) metrics_audio_sent(grpc_byte_buffer_length(message));
  grpc_op op = {.op = GRPC_OP_SEND_MESSAGE};
  op.data.send_message.send_message = message;
  start_batch(c, &op, 1, &c->send_op);
}

void rpc_call_receive(rpc_call *c) {
  if (c->closed || c->status_sent || c->receiving) return;
  c->receiving = true;
  grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};
  op.data.recv_message.recv_message = &c->recv_buffer;
  start_batch(c, &op, 1, &c->recv_op);
}

void rpc_call_finish(rpc_call *c, grpc_status_code code, const char *details) {
  if (c->closed || c->status_sent) return;
  c->status_sent = true;
  c->status = code;
  grpc_slice text = grpc_slice_from_copied_string(details);
  grpc_op op = {.op = GRPC_OP_SEND_STATUS_FROM_SERVER};
  op.data.send_status_from_server.status = code;
  op.data.send_status_from_server.status_details = &text;
  start_batch(c, &op, 1, &c->status_op);
  grpc_slice_unref(text);
}

void rpc_call_abort(rpc_call *c, grpc_status_code code, const char *details) {
  if (c->closed || c->status_sent) return;
  c->status_sent = true;
  c->status = code;
  grpc_call_cancel_with_status(c->call, code, details, NULL);
}

void rpc_call_list_abort(rpc_call_list *live, grpc_status_code code, const char *details) {
  for (rpc_call *c = live->head; c; c = c->next) rpc_call_abort(c, code, details);
}
