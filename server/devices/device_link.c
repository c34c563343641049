#include "devices/device_link.h"

#include <stdio.h>
#include <string.h>

/* "ipv4:10.0.0.2:41000" → "ipv4:10.0.0.2"; "ipv6:[::1]:5000" → "ipv6:[::1]". */
static void host_of(const char *peer, char out[DEVICE_LINK_HOST_MAX]) {
  const char *colon = strrchr(peer, ':');
  const char *bracket = strrchr(peer, ']');
  size_t len = colon && (!bracket || colon > bracket) ? (size_t)(colon - peer) : strlen(peer);
  snprintf(out, DEVICE_LINK_HOST_MAX, "%.*s", (int)len, peer);
}

bool device_link_same(const device_link *link, const call_origin *from, bool peer_open,
                      bool kind_open, int64_t now_ns) {
  char host[DEVICE_LINK_HOST_MAX];
  host_of(from->peer, host);
  bool same_host = strcmp(host, link->host) == 0;
  /* A proxy that names connections is believed, both ways. */
  if (from->via[0] || link->via[0]) return same_host && strcmp(from->via, link->via) == 0;
  if (peer_open) return true;
  return same_host && !kind_open && now_ns - link->joined_ns <= DEVICE_LINK_JOIN_NS;
}

void device_link_update(device_link *link, const call_origin *from, int64_t now_ns) {
  host_of(from->peer, link->host);
  snprintf(link->via, sizeof link->via, "%s", from->via);
  link->joined_ns = now_ns;
}

void device_link_via(const char *value, size_t len, char out[DEVICE_LINK_VIA_MAX + 1]) {
  out[0] = '\0';
  if (len == 0 || len > DEVICE_LINK_VIA_MAX) return;
  for (size_t i = 0; i < len; i++)
    if (value[i] < 0x21 || value[i] > 0x7e) return;
  memcpy(out, value, len);
  out[len] = '\0';
}
