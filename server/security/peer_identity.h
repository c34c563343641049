/* Whether a call's client certificate (mutual TLS) names the device_id the
 * call claims: gRPC's peer identity, which is the certificate's DNS
 * subjectAltNames when it has any, else its subject CN. */
#ifndef OPAL_PEER_IDENTITY_H
#define OPAL_PEER_IDENTITY_H

#include <grpc/grpc.h>
#include <stdbool.h>
#include <stddef.h>

/* True when one of the identities of `call`'s peer is `device_id`. Else
 * false, with the identities (comma-separated, or "none") in `who`. */
bool peer_identity_is(grpc_call *call, const char *device_id, char *who, size_t who_len);

#endif
