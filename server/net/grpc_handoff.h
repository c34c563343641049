/* Hands sockets accepted by our own listener (listener.h) to a gRPC
 * server, which then serves them as if it had accepted them itself: the
 * same handshake (TLS or not), channel args and calls.
 *
 * Why: gRPC core 1.51's own listener stops accepting for good after one
 * accept4() fails with EMFILE, and it bounds nothing. gRPC core has a
 * documented way in for sockets accepted elsewhere (an "external:NAME"
 * port, what grpc++'s ExternalConnectionAcceptor is built on); unlike
 * grpc_server_add_channel_from_fd it works with TLS credentials.
 *
 * Use: grpc_handoff_arg() goes into the args of grpc_server_create, then
 * grpc_handoff_add_port() before grpc_server_start, then
 * grpc_handoff_take() for each socket once the server has started, and
 * never after its shutdown began. */
#ifndef OPAL_GRPC_HANDOFF_H
#define OPAL_GRPC_HANDOFF_H

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where gRPC puts its handler for the port; lives as long as the server. */
typedef struct grpc_handoff {
  void *handler; /* gRPC's, set by grpc_handoff_add_port */
} grpc_handoff;

/* The channel arg that lets the port find `h`. */
grpc_arg grpc_handoff_arg(grpc_handoff *h);

/* Adds the port, served with `creds` (not taken). False if gRPC refused. */
bool grpc_handoff_add_port(grpc_handoff *h, grpc_server *server, grpc_server_credentials *creds);

/* The server takes `fd` (a connected, non-blocking TCP socket) and owns it
 * from now on: it closes it when the connection ends. */
void grpc_handoff_take(grpc_handoff *h, int listen_fd, int fd);

#ifdef __cplusplus
}
#endif

#endif
