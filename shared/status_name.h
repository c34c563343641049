/* gRPC status codes by name, for logs and reports. */
#ifndef OPAL_STATUS_NAME_H
#define OPAL_STATUS_NAME_H

#include <grpc/status.h>

#define STATUS_NAME_COUNT (GRPC_STATUS_UNAUTHENTICATED + 1)

/* "UNAVAILABLE" for GRPC_STATUS_UNAVAILABLE; "UNKNOWN" outside the range. */
const char *status_name(grpc_status_code code);

#endif
