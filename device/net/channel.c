#include "net/channel.h"

#include <grpc/grpc_security.h>

/* The arguments every attempt's channel has. */
static const grpc_arg base_args[] = {
    /* Our own backoff decides when to retry: a fresh subchannel per
     * attempt carries no backoff state of gRPC's. */
    {GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}},
    /* Notice a server that vanished without closing the connection. */
    {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = 20000}},
    {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = 10000}},
    {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, {.integer = 1}},
    {GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, {.integer = 0}},
};
#define BASE_ARGS (sizeof base_args / sizeof base_args[0])

grpc_channel *channel_create(const char *target, const channel_security *security) {
  grpc_arg args[BASE_ARGS + 1];
  size_t n = 0;
  for (; n < BASE_ARGS; n++) args[n] = base_args[n];
  if (security->creds && security->server_name)
    args[n++] = (grpc_arg){GRPC_ARG_STRING, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
                           {.string = (char *)security->server_name}};
  const grpc_channel_args channel_args = {n, args};
  if (security->creds) return grpc_channel_create(target, security->creds, &channel_args);
  grpc_channel_credentials *plain = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(target, plain, &channel_args);
  grpc_channel_credentials_release(plain);
  return ch;
}
