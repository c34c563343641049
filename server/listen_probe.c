#include "listen_probe.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli_args.h"

static int try_bind(const struct addrinfo *ai) {
  int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
  if (fd < 0) return errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
  close(fd);
  return rc;
}

int listen_probe(const char *listen, char *err, size_t err_len) {
  char host[256], port_text[8];
  int port;
  const char *why = cli_split_host_port(listen, host, sizeof host, &port);
  if (why) {
    snprintf(err, err_len, "--listen %s: %s", listen, why);
    return -1;
  }
  snprintf(port_text, sizeof port_text, "%d", port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *list;
  int gai = getaddrinfo(host, port_text, &hints, &list);
  if (gai != 0) {
    snprintf(err, err_len, "--listen %s: cannot resolve %s (%s)", listen, host,
             gai_strerror(gai));
    return -1;
  }
  int rc = try_bind(list);
  freeaddrinfo(list);
  if (rc == EADDRINUSE) {
    snprintf(err, err_len, "--listen %s: port %d is already in use", listen, port);
    return -1;
  }
  if (rc != 0) {
    snprintf(err, err_len, "--listen %s: cannot listen there (%s)", listen, strerror(rc));
    return -1;
  }
  return 0;
}
