#include "net/peer_address.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ::ffff:a.b.c.d is the IPv4 peer a.b.c.d on a dual-stack socket; gRPC
 * names it that way too. */
static void ipv6_text(const struct in6_addr *a, char *out) {
  if (IN6_IS_ADDR_V4MAPPED(a)) inet_ntop(AF_INET, &a->s6_addr[12], out, INET6_ADDRSTRLEN);
  else inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN);
}

bool peer_address_from_sockaddr(const struct sockaddr *sa, peer_address *out) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, out->ip, sizeof out->ip);
    out->port = ntohs(in->sin_port);
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    ipv6_text(&in6->sin6_addr, out->ip);
    out->port = ntohs(in6->sin6_port);
    return true;
  }
  return false;
}

/* Copies `in` without brackets and with %5B/%5D decoded (gRPC's URI form). */
static void unbracket(const char *in, size_t len, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < len && o + 1 < cap; i++) {
    if (in[i] == '[' || in[i] == ']') continue;
    if (in[i] == '%' && i + 2 < len && in[i + 1] == '5' && (in[i + 2] == 'B' || in[i + 2] == 'D')) {
      i += 2;
      continue;
    }
    out[o++] = in[i];
  }
  out[o] = '\0';
}

bool peer_address_from_grpc(const char *peer, peer_address *out) {
  if (strncmp(peer, "ipv4:", 5) != 0 && strncmp(peer, "ipv6:", 5) != 0) return false;
  const char *host = peer + 5;
  const char *colon = strrchr(host, ':');
  if (!colon || colon == host) return false;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535) return false;
  char text[INET6_ADDRSTRLEN + 8];
  unbracket(host, (size_t)(colon - host), text, sizeof text);
  /* Normalised the way the accepted socket's address is. */
  struct in6_addr a6;
  struct in_addr a4;
  if (inet_pton(AF_INET, text, &a4) == 1) inet_ntop(AF_INET, &a4, out->ip, sizeof out->ip);
  else if (inet_pton(AF_INET6, text, &a6) == 1) ipv6_text(&a6, out->ip);
  else return false;
  out->port = (int)port;
  return true;
}
