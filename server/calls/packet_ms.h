/* The packet duration a ServerAudioStream client asks for with call
 * metadata `opal-packet-ms: N`, and what the server grants it
 * (docs/protocol.md, "Larger packets"). */
#ifndef OPAL_PACKET_MS_H
#define OPAL_PACKET_MS_H

#include <stddef.h>

#include "sounds/sound.h"

/* Request metadata from the client, and the same key in the server's
 * initial metadata with the duration granted. */
#define PACKET_MS_HEADER "opal-packet-ms"
/* What a client that does not ask, or asks for nonsense, gets: as before
 * the header existed. */
#define PACKET_MS_DEFAULT SOUND_PACKET_MS_STEP

/* The packet duration granted to a client whose header says `value` (`len`
 * bytes, not NUL-terminated), under the server's `cap` (--packet-ms): the
 * largest multiple of 20 ms within both. Anything but a whole number of
 * milliseconds from 1 gets the default. */
unsigned packet_ms_grant(const char *value, size_t len, unsigned cap);

#endif
