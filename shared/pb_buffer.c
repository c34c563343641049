#include "pb_buffer.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>

grpc_byte_buffer *pb_buffer_pack(const ProtobufCMessage *msg) {
  size_t size = protobuf_c_message_get_packed_size(msg);
  grpc_slice slice = grpc_slice_malloc(size);
  protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
  grpc_byte_buffer *buffer = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
  return buffer;
}

ProtobufCMessage *pb_buffer_unpack(const ProtobufCMessageDescriptor *descriptor,
                                   grpc_byte_buffer *buffer) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, buffer)) return NULL;
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  ProtobufCMessage *msg = protobuf_c_message_unpack(
      descriptor, NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
  grpc_slice_unref(all);
  grpc_byte_buffer_reader_destroy(&reader);
  return msg;
}
