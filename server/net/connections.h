/* Every TCP connection the listener handed to gRPC, and the limits on
 * them: how many at once (below the file-descriptor limit, so accept never
 * fails), how many from one IP, how long one may stay without a call, how
 * many calls one may have open, and how many of its calls its client may
 * cancel in a short time (HTTP/2 rapid reset).
 *
 * The listener's thread admits connections and sweeps; the servers' loop
 * threads report calls. Every function takes the table's lock, briefly.
 * gRPC owns each socket and closes it; a connection is known to be gone
 * when its descriptor no longer names the same socket (the sweep looks).
 * A connection over a limit is ended with shutdown(2), which gRPC sees as
 * the peer leaving; only that connection's calls end. */
#ifndef OPAL_CONNECTIONS_H
#define OPAL_CONNECTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct connection_limits {
  unsigned max_connections; /* at once, every peer */
  unsigned max_per_ip;      /* at once, one IP; 0: no bound */
  unsigned max_calls;       /* open at once on one connection */
  int64_t idle_ns;          /* without an open call; 0: no bound */
  unsigned max_resets;      /* calls cancelled by the client per RESET_WINDOW; 0: no bound */
  uint64_t max_receive_rate; /* bytes a second from the client, over RESET_WINDOW; 0: no bound */
} connection_limits;

/* The window max_resets and max_receive_rate count in. */
#define CONNECTIONS_RESET_WINDOW_NS (10LL * 1000 * 1000 * 1000)

/* What was refused or ended, since the start. */
typedef struct connection_counts {
  uint64_t accepted;
  uint64_t refused_full;   /* max_connections reached */
  uint64_t refused_ip;     /* max_per_ip reached */
  uint64_t refused_no_fd;  /* the process had no descriptor left */
  uint64_t closed_idle;
  uint64_t calls_refused;  /* over max_calls */
  uint64_t closed_streams; /* far over max_calls: a flood, not a mistake */
  uint64_t closed_resets;
  uint64_t closed_bytes;   /* over max_receive_rate */
} connection_counts;

typedef struct connections connections;

/* The caller owns the table; NULL when out of memory. `fd_limit` is the
 * process's RLIMIT_NOFILE: no descriptor is ever that large. */
connections *connections_create(const connection_limits *limits, unsigned fd_limit);
void connections_destroy(connections *t);

const connection_limits *connections_limits(const connections *t);

/* Listener thread: a socket was just accepted from `peer`. True: it is
 * recorded and may be handed to gRPC. False: it is over a limit; the
 * caller closes it. */
bool connections_admit(connections *t, int fd, const struct sockaddr *peer, int64_t now_ns);

/* Counts a connection refused because accept found no descriptor. */
void connections_refused_no_fd(connections *t);

/* Loop threads: a call arrived from `peer` (gRPC's peer string). NULL:
 * admitted. Otherwise why it must be refused (RESOURCE_EXHAUSTED); the
 * connection may also have been ended. */
const char *connections_call_opened(connections *t, const char *peer, int64_t now_ns);

/* A call admitted by connections_call_opened closed; `client_cancelled`:
 * its client reset it rather than the server ending it. */
void connections_call_closed(connections *t, const char *peer, bool client_cancelled,
                             int64_t now_ns);

/* Listener thread, about once a second: forgets connections gRPC has
 * closed, ends those idle past the bound or sending too fast, and gives
 * memory back after a connection was ended. */
void connections_sweep(connections *t, int64_t now_ns);

/* Open right now, and the counts so far. */
unsigned connections_open(connections *t);
connection_counts connections_counts(connections *t);

#endif
