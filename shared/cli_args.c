#include "cli_args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool cli_parse_long(const char *text, long min, long max, long *out) {
  if (!text || !*text) return false;
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || *end || v < min || v > max) return false;
  *out = v;
  return true;
}

const char *cli_split_host_port(const char *text, char *host, size_t host_len, int *port) {
  const char *colon = strrchr(text, ':');
  if (!colon) return "expected HOST:PORT";
  const char *h = text;
  size_t n = (size_t)(colon - text);
  if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
    h++;
    n -= 2;
  } else if (memchr(h, ':', n)) {
    return "an IPv6 host needs brackets, as in [::1]:50051";
  }
  if (n == 0) return "the host is empty";
  if (n >= host_len) return "the host is too long";
  long p;
  if (!cli_parse_long(colon + 1, 0, 65535, &p)) return "the port must be a number from 0 to 65535";
  memcpy(host, h, n);
  host[n] = '\0';
  *port = (int)p;
  return NULL;
}
