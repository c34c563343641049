#include "fake_client_call.h"

#include <grpc/byte_buffer.h>
#include <string.h>

#include "fuzz_buffer.h"
#include "fuzz_check.h"

static fake_client_send_fn watch_send;

void fake_client_watch_sends(fake_client_send_fn fn) { watch_send = fn; }

void client_call_start(client_call *cc, const client_call_setup *setup, wire_method method,
                       const client_call_behaviour *behaviour, grpc_byte_buffer *request) {
  memset(cc, 0, sizeof *cc);
  cc->method = method;
  cc->behaviour = behaviour;
  cc->holder = setup->holder;
  cc->holder_ctx = setup->holder_ctx;
  if (request) {
    if (watch_send) watch_send(cc, request);
    grpc_byte_buffer_destroy(request);
  }
}

bool client_call_live(const client_call *cc) { return !cc->finished && !cc->cancelled; }

void client_call_send(client_call *cc, grpc_byte_buffer *message) {
  FUZZ_CHECK(!cc->sending); /* client_call.c aborts: one send in flight */
  if (!client_call_live(cc)) {
    grpc_byte_buffer_destroy(message);
    return;
  }
  if (watch_send) watch_send(cc, message);
  cc->sending = true;
  cc->send_buf = message;
}

void client_call_receive(client_call *cc) {
  FUZZ_CHECK(!cc->receiving); /* client_call.c aborts: one receive in flight */
  if (client_call_live(cc)) cc->receiving = true;
}

void client_call_exchange(client_call *cc, grpc_byte_buffer *message) {
  FUZZ_CHECK(!cc->receiving);
  bool live = client_call_live(cc);
  client_call_send(cc, message);
  if (live) cc->receiving = true;
}

void client_call_cancel(client_call *cc) { cc->cancelled = true; }

void client_call_fail(client_call *cc, const char *why) {
  if (!client_call_live(cc)) return;
  cc->cancelled = true;
  if (cc->holder && cc->holder->failed) cc->holder->failed(cc->holder_ctx, why);
}

bool fake_client_complete_send(client_call *cc, bool ok) {
  if (!cc->sending) return false;
  cc->sending = false;
  grpc_byte_buffer_destroy(cc->send_buf);
  cc->send_buf = NULL;
  if (client_call_live(cc) && cc->behaviour->sent) cc->behaviour->sent(cc, ok);
  return true;
}

bool fake_client_deliver(client_call *cc, const uint8_t *data, size_t len) {
  if (!cc->receiving) return false;
  cc->receiving = false;
  if (!client_call_live(cc)) return true;
  if (cc->holder && cc->holder->heard) cc->holder->heard(cc->holder_ctx);
  grpc_byte_buffer *message = fuzz_buffer(data, len);
  cc->behaviour->received(cc, message);
  grpc_byte_buffer_destroy(message);
  return true;
}

void fake_client_end(client_call *cc) {
  cc->finished = true;
  fake_client_complete_send(cc, false);
  cc->receiving = false;
}
