/* Who a call comes from, as new devices are counted (new_devices.h): the
 * address of gRPC's peer string (net/peer_address.h reads it) without its
 * port. An IPv4 address mapped into IPv6 (a dual-stack listener) is its
 * IPv4 address. An IPv6 peer counts by its /64, since one host usually has
 * the whole /64 and could otherwise take a new address per device.
 * Anything else (a Unix socket) is one peer. */
#ifndef OPAL_PEER_KEY_H
#define OPAL_PEER_KEY_H

#include <stdbool.h>
#include <stdint.h>

#define PEER_KEY_TEXT_MAX 48 /* INET6_ADDRSTRLEN and a NUL */

typedef struct peer_key {
  uint8_t key[16];             /* IPv4 as ::ffff:a.b.c.d; IPv6 its /64 */
  char text[PEER_KEY_TEXT_MAX]; /* "127.0.0.1", "::1", for messages */
} peer_key;

/* Fills *out from `peer`; false (and one key for every such peer, with
 * text "other") when it is not an IP address. */
bool peer_key_of(const char *peer, peer_key *out);

#endif
