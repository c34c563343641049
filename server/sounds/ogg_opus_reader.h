/* Reads an Ogg Opus file packet by packet, without re-encoding. */
#ifndef OPAL_OGG_OPUS_READER_H
#define OPAL_OGG_OPUS_READER_H

#include <stddef.h>

#include "sounds/sound.h"

/* Appends every audio packet of the Ogg Opus file at `path` to `out`, each
 * checked by decoding it. Returns 0, or -1 with a one-line reason in `err`
 * (the caller names the file). On failure `out` may hold some packets:
 * the caller clears it.. */
int ogg_opus_read(const char *path, sound *out, char *err, size_t err_len);

#endif
