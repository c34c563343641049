/* A stand-in for server/rpc/rpc_call.c with the same header: the server's
 * calls (server/calls/) and devices (server/devices/) run unchanged on it,
 * while the harness plays gRPC and the client. It keeps rpc_call.c's rules
 * (one send and one receive in flight, nothing reported once closed, a
 * second send in flight aborts) so that the harnesses find the project's
 * mistakes, not the fake's. Operations complete only when the harness says
 * so, in the order it chooses. */
#ifndef OPAL_FAKE_RPC_CALL_H
#define OPAL_FAKE_RPC_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc_call.h"

/* Told of every message a call accepts for sending (borrowed). */
typedef void (*fake_rpc_send_fn)(rpc_call *c, grpc_byte_buffer *message);
void fake_rpc_watch_sends(fake_rpc_send_fn fn);

/* Told of every call just before it is freed (after its owner heard of
 * the close): the harness drops what it knew of it. */
typedef void (*fake_rpc_close_fn)(rpc_call *c);
void fake_rpc_watch_closes(fake_rpc_close_fn fn);

/* The peer the next rpc_call_start gives its call ("ipv4:..."); copied. */
void fake_rpc_set_peer(const char *peer);

/* The send in flight completes (`ok`: it reached the client). False when
 * none was in flight. */
bool fake_rpc_complete_send(rpc_call *c, bool ok);

/* The receive asked for completes with a copy of `data`, or with the end of
 * the client's stream when `data` is NULL. False when none was asked for. */
bool fake_rpc_deliver(rpc_call *c, const uint8_t *data, size_t len);

/* The call closes (its status went out, it was cancelled, or the client
 * went away): the owner is told, the operations in flight complete as
 * failed, and the call is freed. `c` is gone afterwards. */
void fake_rpc_close(rpc_call *c);

/* Closes every call whose status went out (rpc_call_finish, _abort), as
 * gRPC does soon after. */
void fake_rpc_close_finished(rpc_call_list *live);

/* Closes every call. */
void fake_rpc_close_all(rpc_call_list *live);

/* The status the call was finished or aborted with; -1 if none yet. */
int fake_rpc_status(const rpc_call *c);

#endif
