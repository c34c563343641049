/* A stand-in for device/net/client_call.c with the same header: the
 * device's streams (device/net/status_stream.c, audio_stream.c) run unchanged on it while the
 * harness plays the server. It keeps client_call.c's rules: one send and
 * one receive in flight (a second aborts), nothing reported once the call
 * is over. */
#ifndef OPAL_FAKE_CLIENT_CALL_H
#define OPAL_FAKE_CLIENT_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/client_call.h"

/* Told of every message the device sends on a live call (borrowed), and of
 * the request a call starts with. */
typedef void (*fake_client_send_fn)(client_call *cc, grpc_byte_buffer *message);
void fake_client_watch_sends(fake_client_send_fn fn);

/* The send in flight completes; false when none was in flight. */
bool fake_client_complete_send(client_call *cc, bool ok);

/* The server's next message arrives (a copy of `data`); false when the
 * device asked for none. */
bool fake_client_deliver(client_call *cc, const uint8_t *data, size_t len);

/* Ends the call and drops what is in flight (the harness's end of input). */
void fake_client_end(client_call *cc);

#endif
