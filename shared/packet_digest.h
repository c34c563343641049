/* A digest of a run of Opus packets, printed by the server for what it sent
 * and by the device for what it received, so tests can compare them. */
#ifndef OPAL_PACKET_DIGEST_H
#define OPAL_PACKET_DIGEST_H

#include <stddef.h>
#include <stdint.h>

typedef struct packet_digest {
  uint64_t hash; /* FNV-1a over each packet's length and bytes */
  uint64_t packets;
  uint64_t bytes;
} packet_digest;

void packet_digest_init(packet_digest *d);
void packet_digest_add(packet_digest *d, const uint8_t *data, size_t len);

/* 16 hex digits and a NUL. */
#define PACKET_DIGEST_HEX_LEN 17
void packet_digest_hex(const packet_digest *d, char out[PACKET_DIGEST_HEX_LEN]);

#endif
