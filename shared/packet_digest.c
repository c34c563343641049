#include "packet_digest.h"

#include <stdio.h>

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t mix(uint64_t h, uint8_t byte) { return (h ^ byte) * FNV_PRIME; }

void packet_digest_init(packet_digest *d) {
  d->hash = FNV_OFFSET;
  d->packets = 0;
  d->bytes = 0;
}

void packet_digest_add(packet_digest *d, const uint8_t *data, size_t len) {
  /* The length goes in first, so packet boundaries count: [ab][c] != [a][bc]. */
  for (int i = 0; i < 4; i++) d->hash = mix(d->hash, (uint8_t)(len >> (8 * i)));
  for (size_t i = 0; i < len; i++) d->hash = mix(d->hash, data[i]);
  d->packets++;
  d->bytes += len;
}

void packet_digest_hex(const packet_digest *d, char out[PACKET_DIGEST_HEX_LEN]) {
  snprintf(out, PACKET_DIGEST_HEX_LEN, "%016llx", (unsigned long long)d->hash);
}
