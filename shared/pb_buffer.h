/* Moving protobuf-c messages in and out of gRPC byte buffers. */
#ifndef OPAL_PB_BUFFER_H
#define OPAL_PB_BUFFER_H

#include <grpc/byte_buffer.h>
#include <protobuf-c/protobuf-c.h>

/* Packs `msg` into a new byte buffer. The caller owns the result (a send
 * consumes it; grpc_byte_buffer_destroy it afterwards). */
grpc_byte_buffer *pb_buffer_pack(const ProtobufCMessage *msg);

/* Unpacks `buffer` as a `descriptor` message. The caller owns the result and
 * frees it with protobuf_c_message_free_unpacked. NULL if it does not parse.
 * `buffer` stays owned by the caller. */
ProtobufCMessage *pb_buffer_unpack(const ProtobufCMessageDescriptor *descriptor,
                                   grpc_byte_buffer *buffer);

#endif
