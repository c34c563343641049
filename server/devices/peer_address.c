#include "devices/peer_address.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* Copies the host of "HOST:PORT" (HOST maybe in [ ] or %5B %5D) into
 * `host`; false when it does not fit. */
static bool take_host(const char *rest, char *host, size_t len) {
  const char *end = strrchr(rest, ':');
  if (!end) return false;
  size_t n = (size_t)(end - rest);
  if (n >= 2 && rest[0] == '[' && rest[n - 1] == ']') rest++, n -= 2;
  else if (n >= 6 && strncmp(rest, "%5B", 3) == 0 && strncmp(rest + n - 3, "%5D", 3) == 0)
    rest += 3, n -= 6;
  if (n == 0 || n >= len) return false;
  memcpy(host, rest, n);
  host[n] = '\0';
  return true;
}

static void from_ipv4(const struct in_addr *a, peer_address *out) {
  memset(out->key, 0, sizeof out->key);
  out->key[10] = out->key[11] = 0xff;
  memcpy(out->key + 12, a, 4);
  inet_ntop(AF_INET, a, out->text, sizeof out->text);
}

static bool parse_ipv6(const char *host, peer_address *out) {
  struct in6_addr a;
  if (inet_pton(AF_INET6, host, &a) != 1) return false;
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    from_ipv4((const struct in_addr *)(const void *)(a.s6_addr + 12), out);
    return true;
  }
  inet_ntop(AF_INET6, &a, out->text, sizeof out->text);
  memcpy(out->key, a.s6_addr, 8);
  memset(out->key + 8, 0, 8);
  return true;
}

bool peer_address_parse(const char *peer, peer_address *out) {
  char host[PEER_ADDRESS_TEXT_MAX];
  struct in_addr a4;
  if (strncmp(peer, "ipv4:", 5) == 0 && take_host(peer + 5, host, sizeof host) &&
      inet_pton(AF_INET, host, &a4) == 1) {
    from_ipv4(&a4, out);
    return true;
  }
  if (strncmp(peer, "ipv6:", 5) == 0 && take_host(peer + 5, host, sizeof host) &&
      parse_ipv6(host, out))
    return true;
  memset(out->key, 0xff, sizeof out->key);
  snprintf(out->text, sizeof out->text, "other");
  return false;
}
