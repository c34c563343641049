#include "fake_rpc_call.h"

#include <grpc/byte_buffer.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_buffer.h"
#include "fuzz_check.h"

static fake_rpc_send_fn watch_send;
static fake_rpc_close_fn watch_close;
static char next_peer[128] = "ipv4:127.0.0.1:40000";

void fake_rpc_watch_sends(fake_rpc_send_fn fn) { watch_send = fn; }

void fake_rpc_watch_closes(fake_rpc_close_fn fn) { watch_close = fn; }

void fake_rpc_set_peer(const char *peer) {
  size_t n = strlen(peer);
  FUZZ_CHECK(n < sizeof next_peer);
  memcpy(next_peer, peer, n + 1);
}

/* The status code lives in `cancelled`, which the fake has no other use for
 * (the real one is gRPC's report of a cancelled call); -1 is "none". */
int fake_rpc_status(const rpc_call *c) { return c->status_sent ? c->cancelled : -1; }

static void untrack(rpc_call *c) {
  if (c->prev) c->prev->next = c->next;
  else c->live->head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->live->count--;
}

rpc_call *rpc_call_start_with_metadata(rpc_call_list *live, size_t size, wire_method method,
                                       const rpc_call_behaviour *behaviour, grpc_call *call,
                                       grpc_metadata *metadata, size_t count) {
  (void)metadata;
  (void)count;
  return rpc_call_start(live, size, method, behaviour, call);
}

rpc_call *rpc_call_start(rpc_call_list *live, size_t size, wire_method method,
                         const rpc_call_behaviour *behaviour, grpc_call *call) {
  FUZZ_CHECK(size >= sizeof(rpc_call));
  rpc_call *c = calloc(1, size);
  FUZZ_CHECK(c != NULL);
  c->method = method;
  c->behaviour = behaviour;
  c->call = call;
  c->peer = strdup(next_peer);
  FUZZ_CHECK(c->peer != NULL);
  c->live = live;
  c->next = live->head;
  if (live->head) live->head->prev = c;
  live->head = c;
  live->count++;
  return c;
}

void rpc_call_set_owner(rpc_call *c, void *owner, rpc_call_closed_fn closed) {
  c->owner = owner;
  c->on_closed = closed;
}

bool rpc_call_can_send(const rpc_call *c) { return !c->closed && !c->status_sent && !c->sending; }

void rpc_call_send(rpc_call *c, grpc_byte_buffer *message) {
  /* rpc_call.c aborts here too: two sends in flight break gRPC's rule. */
  FUZZ_CHECK(!c->sending);
  if (c->closed || c->status_sent) {
    grpc_byte_buffer_destroy(message);
    return;
  }
  if (watch_send) watch_send(c, message);
  c->sending = true;
  c->send_buffer = message;
}

void rpc_call_receive(rpc_call *c) {
  if (c->closed || c->status_sent || c->receiving) return;
  c->receiving = true;
}

void rpc_call_finish(rpc_call *c, grpc_status_code code, const char *details) {
  (void)details;
  if (c->closed || c->status_sent) return;
  c->status_sent = true;
  c->cancelled = (int)code;
}

void rpc_call_abort(rpc_call *c, grpc_status_code code, const char *details) {
  rpc_call_finish(c, code, details);
}

void rpc_call_list_abort(rpc_call_list *live, grpc_status_code code, const char *details) {
  for (rpc_call *c = live->head; c; c = c->next) rpc_call_abort(c, code, details);
}

bool fake_rpc_complete_send(rpc_call *c, bool ok) {
  if (!c->sending) return false;
  c->sending = false;
  grpc_byte_buffer_destroy(c->send_buffer);
  c->send_buffer = NULL;
  if (!c->closed && c->behaviour && c->behaviour->sent) c->behaviour->sent(c, ok);
  return true;
}

bool fake_rpc_deliver(rpc_call *c, const uint8_t *data, size_t len) {
  if (!c->receiving) return false;
  c->receiving = false;
  if (c->closed || c->status_sent) return true;
  if (!data) {
    rpc_call_finish(c, GRPC_STATUS_OK, "");
    return true;
  }
  grpc_byte_buffer *message = fuzz_buffer(data, len);
  if (c->behaviour && c->behaviour->received) c->behaviour->received(c, message);
  grpc_byte_buffer_destroy(message);
  return true;
}

void fake_rpc_close(rpc_call *c) {
  c->closed = true;
  if (c->owner && c->on_closed) c->on_closed(c->owner, c);
  fake_rpc_complete_send(c, false);
  c->receiving = false;
  if (watch_close) watch_close(c);
  untrack(c);
  free(c->peer);
  free(c);
}

void fake_rpc_close_finished(rpc_call_list *live) {
  rpc_call *c = live->head;
  while (c) {
    rpc_call *next = c->next;
    if (c->status_sent) {
      fake_rpc_close(c);
      /* Closing may have closed or started others: start over. */
      next = live->head;
    }
    c = next;
  }
}

void fake_rpc_close_all(rpc_call_list *live) {
  while (live->head) fake_rpc_close(live->head);
}
