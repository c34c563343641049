/* gRPC core's own log lines, routed through log.h: they carry raw header
 * values from peers, so they get the same escaping (no forged records) and
 * the same format and destination as ours. */
#ifndef OPAL_GRPC_LOG_H
#define OPAL_GRPC_LOG_H

/* From now on gRPC logs through log_write ("grpc: FILE:LINE: message"):
 * its errors as warnings, except failed TLS handshakes, and the rest as
 * debug. Call before grpc_init. */
void grpc_log_route(void);

#endif
