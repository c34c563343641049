/* Who a call comes from, as new devices are counted (new_devices.h): the
 * address of gRPC's peer string without its port.
 *
 * gRPC 1.51 writes "ipv4:127.0.0.1:5000" and, for IPv6, percent-encodes
 * the brackets: "ipv6:%5B::1%5D:5000" (seen in tests/security/
 * test_registry.py); "ipv6:[::1]:5000" is read too. An IPv4 address mapped
 * into IPv6 (a dual-stack listener) is its IPv4 address. An IPv6 peer
 * counts by its /64, since one host usually has the whole /64 and could
 * otherwise take a new address per device. Anything else (a Unix socket)
 * is one peer. */
#ifndef OPAL_PEER_ADDRESS_H
#define OPAL_PEER_ADDRESS_H

#include <stdbool.h>
#include <stdint.h>

#define PEER_ADDRESS_TEXT_MAX 48 /* INET6_ADDRSTRLEN and a NUL */

typedef struct peer_address {
  uint8_t key[16];                  /* IPv4 as ::ffff:a.b.c.d; IPv6 its /64 */
  char text[PEER_ADDRESS_TEXT_MAX]; /* "127.0.0.1", "::1", for messages */
} peer_address;

/* Fills *out from `peer`; false (and one key for every such peer, with
 * text "other") when it is not an IP address. */
bool peer_address_parse(const char *peer, peer_address *out);

#endif
