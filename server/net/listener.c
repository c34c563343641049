/* accept4 */
#define _GNU_SOURCE
#include "net/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli_args.h"
#include "clock.h"
#include "log.h"

/* How often connections are swept (connections_sweep). */
#define SWEEP_EVERY_MS 1000
/* A connection's kernel receive buffer (see hand_on). */
#define RECEIVE_BUFFER_BYTES 16384
/* Accepts in a row before the stop flag and the sweep get a look. */
#define ACCEPT_BATCH 256

/* ---- binding ---- */

static int bind_one(const struct addrinfo *ai, int port) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) return -errno;
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* [::] takes IPv4 too, whatever the host's default. */
  if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  struct sockaddr_storage sa;
  memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
  /* Every address listens on the port the first one got. */
  if (sa.ss_family == AF_INET) ((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)port);
  else ((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)port);
  if (bind(fd, (struct sockaddr *)&sa, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

static int bound_port(int fd) {
  struct sockaddr_storage sa;
  socklen_t len = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) return -1;
  return sa.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&sa)->sin_port)
                                 : ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
}

static void close_sockets(listener *l) {
  for (unsigned i = 0; i < l->count; i++) close(l->fds[i]);
  l->count = 0;
}

static int bind_all(listener *l, const struct addrinfo *list, int port, const char *listen,
                    char *err, size_t err_len) {
  for (const struct addrinfo *ai = list; ai && l->count < LISTENER_MAX_SOCKETS; ai = ai->ai_next) {
    int fd = bind_one(ai, port);
    /* A dual-stack [::] bound first already takes 0.0.0.0's connections. */
    if (fd == -EADDRINUSE && l->count > 0) continue;
    if (fd == -EADDRINUSE) {
      snprintf(err, err_len, "--listen %s: port %d is already in use", listen, port);
      close_sockets(l);
      l->port = -EADDRINUSE; /* no other address is worth a try */
      return -1;
    }
    if (fd < 0) {
      /* An address family the host lacks (IPv6 off) is no reason to fail
       * while another address listens. */
      if (ai->ai_next || l->count) continue;
      snprintf(err, err_len, "--listen %s: cannot listen there (%s)", listen, strerror(-fd));
      close_sockets(l);
      return -1;
    }
    l->fds[l->count++] = fd;
    if (port == 0) port = bound_port(fd);
  }
  l->port = port;
  return 0;
}

/* Binds every address `host` resolves to. */
static int bind_host(listener *l, const char *host, int port, const char *listen, char *err,
                     size_t err_len) {
  char port_text[8];
  snprintf(port_text, sizeof port_text, "%d", port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *list;
  int gai = getaddrinfo(host, port_text, &hints, &list);
  if (gai != 0) {
    snprintf(err, err_len, "--listen %s: cannot resolve %s (%s)", listen, host, gai_strerror(gai));
    return -1;
  }
  int rc = bind_all(l, list, port, listen, err, err_len);
  freeaddrinfo(list);
  return rc;
}

int listener_open(listener *l, const char *listen, char *err, size_t err_len) {
  memset(l, 0, sizeof *l);
  l->wake_fd = l->spare_fd = -1;
  char host[256];
  int port;
  const char *why = cli_split_host_port(listen, host, sizeof host, &port);
  if (why) {
    snprintf(err, err_len, "--listen %s: %s", listen, why);
    return -1;
  }
  /* Any address, as gRPC means it: one dual-stack [::] socket, or IPv4
   * alone on a host without IPv6. */
  bool any = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
  int rc = bind_host(l, any ? "::" : host, port, listen, err, err_len);
  if (rc != 0 && any && l->port != -EADDRINUSE) rc = bind_host(l, "0.0.0.0", port, listen, err, err_len);
  if (rc != 0) return -1;
  l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pthread_mutex_init(&l->stop_lock, NULL);
  return 0;
}

/* ---- accepting ---- */

/* Out of descriptors: the spare one makes room to accept the oldest
 * waiting connection and close it, so the queue moves. False if even that
 * failed (then the next poll tries again). */
static bool refuse_one(listener *l, int listen_fd) {
  if (l->spare_fd < 0) return false;
  close(l->spare_fd);
  int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd >= 0) {
    connections_refused_no_fd(l->connections);
    close(fd);
  }
  l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd >= 0;
}

static void hand_on(listener *l, int listen_fd, int fd, const struct sockaddr_storage *peer) {
  int one = 1;
  /* Audio packets go out as they are written, not batched by Nagle. */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* gRPC core reads all a socket holds before the server hears of any
   * call in it: a small buffer keeps a flood's burst (thousands of streams
   * opened and reset) to what the limits can stop in time. Devices send
   * a few bytes a second; the kernel doubles it. */
  int receive_buffer = RECEIVE_BUFFER_BYTES;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  if (!connections_admit(l->connections, fd, (const struct sockaddr *)peer, clock_now_ns())) {
    close(fd);
    return;
  }
  l->take(l->take_ctx, listen_fd, fd);
}

/* Accepts what waits on `listen_fd`, up to a batch. */
static void accept_batch(listener *l, int listen_fd) {
  for (int n = 0; n < ACCEPT_BATCH; n++) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd = accept4(listen_fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      hand_on(l, listen_fd, fd, &peer);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if ((errno == EMFILE || errno == ENFILE) && refuse_one(l, listen_fd)) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      /* ENOBUFS, ENOMEM, a dry descriptor table: wait a little, never stop. */
      log_debug("accept on port %d: %s", l->port, strerror(errno));
      poll(NULL, 0, 10);
    }
    return;
  }
}

static void *accept_thread(void *arg) {
  listener *l = arg;
  struct pollfd pfd[LISTENER_MAX_SOCKETS + 1];
  for (unsigned i = 0; i < l->count; i++) pfd[i] = (struct pollfd){.fd = l->fds[i], .events = POLLIN};
  pfd[l->count] = (struct pollfd){.fd = l->wake_fd, .events = POLLIN};
  int64_t next_sweep = clock_now_ns();
  for (;;) {
    int n = poll(pfd, l->count + 1, SWEEP_EVERY_MS);
    if (pfd[l->count].revents) break;
    for (unsigned i = 0; n > 0 && i < l->count; i++)
      if (pfd[i].revents) accept_batch(l, l->fds[i]);
    int64_t now = clock_now_ns();
    if (now >= next_sweep) {
      connections_sweep(l->connections, now);
      next_sweep = now + SWEEP_EVERY_MS * NS_PER_MS;
    }
  }
  return NULL;
}

void listener_start(listener *l, connections *connections, listener_take_fn take, void *ctx) {
  l->connections = connections;
  l->take = take;
  l->take_ctx = ctx;
  if (pthread_create(&l->thread, NULL, accept_thread, l) != 0) abort(); /* at start-up */
  l->running = true;
}

void listener_stop(listener *l) {
  pthread_mutex_lock(&l->stop_lock);
  if (l->running) {
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof one) != sizeof one) abort(); /* an eventfd cannot refuse */
    pthread_join(l->thread, NULL);
    l->running = false;
  }
  pthread_mutex_unlock(&l->stop_lock);
}

void listener_close(listener *l) {
  listener_stop(l);
  close_sockets(l);
  if (l->wake_fd >= 0) close(l->wake_fd);
  if (l->spare_fd >= 0) close(l->spare_fd);
  pthread_mutex_destroy(&l->stop_lock);
}
