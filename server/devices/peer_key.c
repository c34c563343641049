#include "devices/peer_key.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "net/peer_address.h"

bool peer_key_of(const char *peer, peer_key *out) {
  peer_address a;
  struct in_addr a4;
  struct in6_addr a6;
  memset(out->key, 0, sizeof out->key);
  if (!peer_address_from_grpc(peer, &a)) {
    memset(out->key, 0xff, sizeof out->key);
    snprintf(out->text, sizeof out->text, "other");
    return false;
  }
  snprintf(out->text, sizeof out->text, "%s", a.ip); /* mapped IPv4 is IPv4 already */
  if (inet_pton(AF_INET, a.ip, &a4) == 1) {
    out->key[10] = out->key[11] = 0xff;
    memcpy(out->key + 12, &a4, 4);
  } else if (inet_pton(AF_INET6, a.ip, &a6) == 1) {
    memcpy(out->key, a6.s6_addr, 8);
  }
  return true;
}
