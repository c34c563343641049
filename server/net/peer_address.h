/* A TCP peer as "IP" and port, from an accepted socket's address or from
 * the peer string gRPC gives a call ("ipv4:127.0.0.1:5000",
 * "ipv6:%5B::1%5D:5000"), so the two can be matched. */
#ifndef OPAL_PEER_ADDRESS_H
#define OPAL_PEER_ADDRESS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

typedef struct peer_address {
  char ip[INET6_ADDRSTRLEN]; /* "127.0.0.1", "::1"; IPv4-mapped IPv6 as IPv4 */
  int port;
} peer_address;

/* False for a family other than IPv4/IPv6. */
bool peer_address_from_sockaddr(const struct sockaddr *sa, peer_address *out);

/* False when `peer` is not an ipv4:/ipv6: peer string. */
bool peer_address_from_grpc(const char *peer, peer_address *out);

#endif
