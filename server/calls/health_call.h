/* The calls of the standard gRPC health service (grpc.health.v1.Health,
 * proto/health.proto): Check answers once with the status now; Watch sends
 * the status at once and then each change, until its client goes or the
 * server ends it. A service the server does not know is NOT_FOUND to Check
 * and SERVICE_UNKNOWN to Watch (which stays open), as the standard says. */
#ifndef OPAL_HEALTH_CALL_H
#define OPAL_HEALTH_CALL_H

#include <grpc/grpc.h>

#include "health/health_state.h"
#include "rpc/rpc_call.h"

typedef enum { HEALTH_CHECK, HEALTH_WATCH, HEALTH_METHOD_COUNT } health_method;

/* "/grpc.health.v1.Health/Check", ... */
const char *health_method_path(health_method m);

/* A new call of `m` on `live` with its one request, `request` (borrowed;
 * NULL when the client sent none). It owns itself, as every rpc_call does;
 * a Watch of a known service watches `state` (which must outlive the
 * server's calls) until it closes. */
void health_call_start(rpc_call_list *live, grpc_call *call, health_method m,
                       grpc_byte_buffer *request, health_state *state);

#endif
