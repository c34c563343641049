/* The server's listening sockets and the thread that accepts on them.
 * Each accepted socket is checked against the connection limits
 * (connections.h) and either handed on with `take` or closed at once.
 *
 * It keeps accepting whatever happens: when the process is out of file
 * descriptors it frees a spare one, accepts the waiting connection and
 * closes it, so the queue drains and the listener stays alive (gRPC 1.51's
 * own listener stops for good on the first EMFILE). */
#ifndef OPAL_LISTENER_H
#define OPAL_LISTENER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "net/connections.h"

#define LISTENER_MAX_SOCKETS 8

/* Takes the accepted `fd` (it owns it from now on). Listener thread. */
typedef void (*listener_take_fn)(void *ctx, int listen_fd, int fd);

typedef struct listener {
  int fds[LISTENER_MAX_SOCKETS];
  unsigned count;
  int port;       /* the port bound (port 0 asks for a free one) */
  int wake_fd;    /* eventfd: stop */
  int spare_fd;   /* held to be given up when descriptors run out */
  connections *connections;
  listener_take_fn take;
  void *take_ctx;
  pthread_t thread;
  pthread_mutex_t stop_lock;
  bool running;
} listener;

/* Binds and listens on every address of `listen` (HOST:PORT). Returns 0,
 * or -1 with one line in `err` naming --listen and the reason. */
int listener_open(listener *l, const char *listen, char *err, size_t err_len);

/* Starts the thread; `connections` (borrowed) must outlive it. */
void listener_start(listener *l, connections *connections, listener_take_fn take, void *ctx);

/* Any thread, any number of times: when it returns, no `take` runs and
 * none will. */
void listener_stop(listener *l);

/* Stops, and closes the sockets. */
void listener_close(listener *l);

#endif
