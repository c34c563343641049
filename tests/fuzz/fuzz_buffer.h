/* The fuzz input as gRPC would hand it over: a byte buffer of one slice. */
#ifndef OPAL_FUZZ_BUFFER_H
#define OPAL_FUZZ_BUFFER_H

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>
#include <stddef.h>
#include <stdint.h>

static inline grpc_byte_buffer *fuzz_buffer(const uint8_t *data, size_t size) {
  grpc_slice slice = grpc_slice_from_copied_buffer((const char *)data, size);
  grpc_byte_buffer *buffer = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
  return buffer;
}

#endif
