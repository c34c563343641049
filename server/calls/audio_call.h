/* ServerAudioStream: the sink a device's sounds are paced into. */
#ifndef OPAL_AUDIO_CALL_H
#define OPAL_AUDIO_CALL_H

#include <grpc/grpc.h>

#include "rpc/rpc_call.h"

extern const rpc_call_behaviour audio_call_behaviour;

/* Checks the AudioStreamRequest that opened the call (NULL if none came).
 * Returns NULL if it is acceptable, else the reason to reject the call. */
const char *audio_call_check_request(grpc_byte_buffer *request);

#endif
