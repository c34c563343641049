/* The channel of one connection attempt: plaintext, or TLS with the
 * credentials the device made at start-up (tls/tls_creds.h), and the
 * arguments every attempt shares (our own backoff, keepalive) plus the
 * name the server's certificate must carry when it is not the host of the
 * target. */
#ifndef OPAL_CHANNEL_H
#define OPAL_CHANNEL_H

#include <grpc/grpc.h>
#include <stdbool.h>

typedef struct channel_security {
  /* NULL: plaintext. Borrowed: gRPC takes its own reference. */
  grpc_channel_credentials *creds;
  bool client_cert; /* the credentials present a certificate (mutual TLS) */
  /* The name to check the server's certificate against instead of the
   * host of the target (GRPC_SSL_TARGET_NAME_OVERRIDE_ARG); NULL: the host. */
  const char *server_name;
} channel_security;

/* A new channel to `target` (HOST:PORT); the caller destroys it. */
grpc_channel *channel_create(const char *target, const channel_security *security);

#endif
