/* ServerAudioStream: the sink a device's sounds are paced into. The call
 * sends one AudioPacket at a time and tells its owner when it is free for
 * the next. */
#ifndef OPAL_AUDIO_CALL_H
#define OPAL_AUDIO_CALL_H

#include <grpc/grpc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc_call.h"

typedef struct audio_call audio_call;

/* The packet sent last went out: the owner may send the next. */
typedef void (*audio_call_free_fn)(void *owner);

/* Checks the AudioStreamRequest that opened the call (NULL if no whole
 * message came). Returns NULL if it is acceptable, else the reason to
 * reject the call, with the status to reject it with in *code. */
const char *audio_call_check_request(grpc_byte_buffer *request, grpc_status_code *code);

/* A new ServerAudioStream call on `live`; it owns itself, as every
 * rpc_call does. Its sounds go out in packets of up to `packet_ms`
 * (packet_ms.h); `announce`: the client asked, and is told `packet_ms` in
 * the call's initial metadata (a client that did not ask sees none). */
audio_call *audio_call_start(rpc_call_list *live, grpc_call *call, unsigned packet_ms,
                             bool announce);

/* The packet duration granted to the call's client, in ms. */
unsigned audio_call_packet_ms(const audio_call *c);

rpc_call *audio_call_rpc(audio_call *c);

/* Once the call has an owner: `free_to_send` runs after each packet. */
void audio_call_open(audio_call *c, audio_call_free_fn free_to_send);

/* True when a packet can be sent now. */
bool audio_call_can_send(const audio_call *c);

/* Sends AudioPacket{is_start, is_end, data}. `data` is referenced, not
 * copied: it must outlive the send (sounds outlive the server). */
void audio_call_send_packet(audio_call *c, const uint8_t *data, size_t size, bool is_start,
                            bool is_end);

#endif
