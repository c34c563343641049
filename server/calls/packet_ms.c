#include "calls/packet_ms.h"

/* Digits only, at most 9 of them (no overflow); 0 when anything else. */
static unsigned long parse_ms(const char *value, size_t len) {
  if (len == 0 || len > 9) return 0;
  unsigned long n = 0;
  for (size_t i = 0; i < len; i++) {
    if (value[i] < '0' || value[i] > '9') return 0;
    n = n * 10 + (unsigned long)(value[i] - '0');
  }
  return n;
}

unsigned packet_ms_grant(const char *value, size_t len, unsigned cap) {
  unsigned long asked = parse_ms(value, len);
  if (asked == 0) return PACKET_MS_DEFAULT;
  unsigned long most = asked < cap ? asked : cap;
  if (most > SOUND_MAX_PACKET_MS) most = SOUND_MAX_PACKET_MS;
  unsigned long granted = most / SOUND_PACKET_MS_STEP * SOUND_PACKET_MS_STEP;
  return granted < PACKET_MS_DEFAULT ? PACKET_MS_DEFAULT : (unsigned)granted;
}
