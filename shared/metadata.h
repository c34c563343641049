/* Looking up request metadata received with a call. */
#ifndef OPAL_METADATA_H
#define OPAL_METADATA_H

#include <grpc/grpc.h>
#include <stdbool.h>

/* Finds `key` in `md`. On success *value points into `md` (borrowed: valid
 * while `md` is). */
bool metadata_find(const grpc_metadata_array *md, const char *key,
                   grpc_slice *value);

#endif
