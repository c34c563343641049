#include "device_id.h"

#include <stdint.h>

const char *device_id_problem(const char *id, size_t len) {
  if (len == 0) return "device_id is empty";
  if (len > DEVICE_ID_MAX_LEN) return "device_id is longer than 64 bytes";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)id[i];
    /* Printable ASCII only: ids end up in logs and terminals. */
    if (c < 0x20 || c > 0x7e) return "device_id has a non-printable character";
  }
  return NULL;
}

size_t device_id_hash(const char *id) {
  uint64_t h = 1469598103934665603ULL;
  for (; *id; id++) h = (h ^ (unsigned char)*id) * 1099511628211ULL;
  return (size_t)h;
}
