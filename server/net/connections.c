#include "net/connections.h"

#include <linux/tcp.h> /* tcpi_bytes_received, newer than glibc's netinet/tcp.h */
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "log_throttle.h"
#include "net/peer_address.h"

#define IP_BUCKETS 4096
#define PORTS 65536
/* At a bound, gone connections are looked for at most this often. */
#define FORGET_GONE_EVERY_NS (100 * NS_PER_MS)
/* A flood of calls past max_calls times this ends the connection. */
#define FLOOD_FACTOR 4

typedef struct ip_entry {
  struct ip_entry *next;
  unsigned count;
  char ip[INET6_ADDRSTRLEN];
} ip_entry;

typedef struct connection {
  bool used, shut;
  dev_t dev; /* the socket the descriptor named when accepted */
  ino_t ino;
  peer_address peer;
  ip_entry *ip;
  int next_same_port; /* descriptor of the next one on the port's chain, or -1 */
  unsigned open_index; /* in open_fds */
  unsigned calls_open;
  unsigned calls_refused; /* in this reset window */
  int64_t idle_since_ns;
  unsigned resets;
  int64_t reset_window_ns;
  uint64_t received_before; /* tcpi_bytes_received when the byte window began */
  int64_t byte_window_ns;
} connection;

/* Sweeps after a connection was ended before memory goes back: gRPC frees
 * its buffers on its own thread once it sees the end. */
#define TRIM_AFTER_SWEEPS 2

enum { R_FULL, R_IP, R_NO_FD, R_IDLE, R_CALLS, R_STREAMS, R_RESETS, R_BYTES, R_COUNT };

struct connections {
  pthread_mutex_t mu;
  connection_limits limits;
  unsigned fd_limit;
  connection *by_fd; /* fd_limit entries */
  int *by_port;      /* PORTS chains of descriptors */
  int *open_fds;     /* the used entries, for sweeps */
  unsigned open;
  ip_entry *ips[IP_BUCKETS];
  connection_counts counts;
  int64_t next_forget_ns;
  log_throttle reports[R_COUNT]; /* each limit's lines: the first at once, then one a period */
  int trim_in; /* sweeps until malloc_trim; 0: none due */
};

static unsigned ip_hash(const char *ip) {
  unsigned h = 2166136261u;
  for (; *ip; ip++) h = (h ^ (unsigned char)*ip) * 16777619u;
  return h % IP_BUCKETS;
}

static ip_entry **ip_slot(connections *t, const char *ip) {
  ip_entry **p = &t->ips[ip_hash(ip)];
  while (*p && strcmp((*p)->ip, ip) != 0) p = &(*p)->next;
  return p;
}

static unsigned ip_count(connections *t, const char *ip) {
  ip_entry *e = *ip_slot(t, ip);
  return e ? e->count : 0;
}

static ip_entry *ip_add(connections *t, const char *ip) {
  ip_entry **p = ip_slot(t, ip);
  if (!*p) {
    if (!(*p = calloc(1, sizeof **p))) return NULL;
    memcpy((*p)->ip, ip, sizeof (*p)->ip);
  }
  (*p)->count++;
  return *p;
}

static void ip_remove(connections *t, ip_entry *e) {
  if (--e->count > 0) return;
  ip_entry **p = ip_slot(t, e->ip);
  *p = e->next;
  free(e);
}

/* Logs `what` now if its kind has been quiet, else counts it for later. */
static void report_event(connections *t, int kind, int64_t now, const char *what) {
  uint64_t n;
  if (!log_throttle_due(&t->reports[kind], now, &n)) return;
  if (n > 1) log_warn("%s (and %llu more like it in the last %lld s)", what,
                      (unsigned long long)(n - 1), (long long)(LOG_THROTTLE_PERIOD_NS / NS_PER_SEC));
  else log_warn("%s", what);
}

static void flush_reports(connections *t, int64_t now) {
  uint64_t n;
  for (int k = 0; k < R_COUNT; k++)
    if (log_throttle_overdue(&t->reports[k], now, &n))
      log_warn("connections: %llu more refused or ended by the same limit as the last line",
               (unsigned long long)n);
}

connections *connections_create(const connection_limits *limits, unsigned fd_limit) {
  connections *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->limits = *limits;
  t->fd_limit = fd_limit;
  t->by_fd = calloc(fd_limit, sizeof *t->by_fd);
  t->by_port = malloc(PORTS * sizeof *t->by_port);
  t->open_fds = calloc(fd_limit, sizeof *t->open_fds);
  if (!t->by_fd || !t->by_port || !t->open_fds) {
    connections_destroy(t);
    return NULL;
  }
  for (int p = 0; p < PORTS; p++) t->by_port[p] = -1;
  pthread_mutex_init(&t->mu, NULL);
  return t;
}

void connections_destroy(connections *t) {
  if (!t) return;
  for (int b = 0; b < IP_BUCKETS; b++)
    for (ip_entry *e = t->ips[b], *next; e; e = next) {
      next = e->next;
      free(e);
    }
  if (t->by_port) pthread_mutex_destroy(&t->mu);
  free(t->by_fd);
  free(t->by_port);
  free(t->open_fds);
  free(t);
}

const connection_limits *connections_limits(const connections *t) { return &t->limits; }

/* ---- the table ---- */

static void forget(connections *t, int fd) {
  connection *c = &t->by_fd[fd];
  int *p = &t->by_port[c->peer.port];
  while (*p != fd) p = &t->by_fd[*p].next_same_port;
  *p = c->next_same_port;
  if (c->ip) ip_remove(t, c->ip);
  int last = t->open_fds[--t->open];
  t->open_fds[c->open_index] = last;
  t->by_fd[last].open_index = c->open_index;
  memset(c, 0, sizeof *c);
}

/* gRPC closed it: the descriptor is free, or names another file now. */
static bool gone(const connection *c, int fd) {
  struct stat st;
  return fstat(fd, &st) != 0 || st.st_ino != c->ino || st.st_dev != c->dev;
}

static void forget_gone(connections *t) {
  for (unsigned i = 0; i < t->open;) {
    int fd = t->open_fds[i];
    if (gone(&t->by_fd[fd], fd)) forget(t, fd); /* moves the last one to i */
    else i++;
  }
}

/* Before refusing at a bound, count only connections that still exist. */
static void forget_gone_soon(connections *t, int64_t now) {
  if (now < t->next_forget_ns) return;
  forget_gone(t);
  t->next_forget_ns = now + FORGET_GONE_EVERY_NS;
}

static connection *find(connections *t, const char *grpc_peer) {
  peer_address a;
  if (!peer_address_from_grpc(grpc_peer, &a)) return NULL;
  for (int fd = t->by_port[a.port]; fd >= 0; fd = t->by_fd[fd].next_same_port)
    if (strcmp(t->by_fd[fd].peer.ip, a.ip) == 0) return &t->by_fd[fd];
  return NULL;
}

/* Ends `c`'s connection; gRPC notices and closes its descriptor. The
 * descriptor is checked first so that one gRPC has just closed, and the
 * kernel handed to someone else, is never touched. */
static void end_connection(connections *t, connection *c) {
  int fd = (int)(c - t->by_fd);
  if (c->shut || gone(c, fd)) return;
  shutdown(fd, SHUT_RDWR);
  c->shut = true;
  t->trim_in = TRIM_AFTER_SWEEPS;
}

static bool record(connections *t, int fd, const peer_address *peer, int64_t now) {
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  ip_entry *ip = ip_add(t, peer->ip);
  if (!ip) return false;
  connection *c = &t->by_fd[fd];
  *c = (connection){.used = true, .dev = st.st_dev, .ino = st.st_ino, .peer = *peer, .ip = ip,
                    .next_same_port = t->by_port[peer->port], .open_index = t->open,
                    .idle_since_ns = now, .byte_window_ns = now};
  t->by_port[peer->port] = fd;
  t->open_fds[t->open++] = fd;
  return true;
}

/* ---- admission ---- */

static bool admit_locked(connections *t, int fd, const peer_address *peer, int64_t now) {
  char what[200];
  if (fd < 0 || (unsigned)fd >= t->fd_limit) return false;
  if (t->by_fd[fd].used) forget(t, fd); /* its old socket is closed: the number is reused */
  if (t->open >= t->limits.max_connections) forget_gone_soon(t, now);
  if (t->open >= t->limits.max_connections) {
    t->counts.refused_full++;
    snprintf(what, sizeof what, "refused connection peer=%s:%d: %u connections open (--max-connections)",
             peer->ip, peer->port, t->open);
    report_event(t, R_FULL, now, what);
    return false;
  }
  if (t->limits.max_per_ip && ip_count(t, peer->ip) >= t->limits.max_per_ip) forget_gone_soon(t, now);
  if (t->limits.max_per_ip && ip_count(t, peer->ip) >= t->limits.max_per_ip) {
    t->counts.refused_ip++;
    snprintf(what, sizeof what,
             "refused connection peer=%s:%d: %u connections open from %s (--max-connections-per-ip)",
             peer->ip, peer->port, t->limits.max_per_ip, peer->ip);
    report_event(t, R_IP, now, what);
    return false;
  }
  if (!record(t, fd, peer, now)) return false;
  t->counts.accepted++;
  return true;
}

bool connections_admit(connections *t, int fd, const struct sockaddr *sa, int64_t now) {
  peer_address peer;
  if (!peer_address_from_sockaddr(sa, &peer)) return false;
  pthread_mutex_lock(&t->mu);
  bool ok = admit_locked(t, fd, &peer, now);
  pthread_mutex_unlock(&t->mu);
  return ok;
}

void connections_refused_no_fd(connections *t) {
  pthread_mutex_lock(&t->mu);
  t->counts.refused_no_fd++;
  report_event(t, R_NO_FD, clock_now_ns(),
               "refused a connection: the process has no file descriptor left (raise LimitNOFILE, "
               "or lower --max-connections)");
  pthread_mutex_unlock(&t->mu);
}

/* ---- calls ---- */

/* Starts a new window for resets and refusals when the last one is over. */
static void roll_window(connection *c, int64_t now) {
  if (now - c->reset_window_ns <= CONNECTIONS_RESET_WINDOW_NS) return;
  c->reset_window_ns = now;
  c->resets = 0;
  c->calls_refused = 0;
}

static const char *too_many_calls(connections *t, connection *c, int64_t now) {
  static _Thread_local char why[160];
  snprintf(why, sizeof why, "too many calls on one connection (at most %u open at once)",
           t->limits.max_calls);
  t->counts.calls_refused++;
  roll_window(c, now);
  char what[240];
  /* A client that obeys MAX_CONCURRENT_STREAMS is refused a few calls at
   * most, before it has read it; a flood is refused call after call. */
  if (++c->calls_refused > FLOOD_FACTOR * t->limits.max_calls && !c->shut) {
    t->counts.closed_streams++;
    snprintf(what, sizeof what,
             "closed connection peer=%s:%d: %u calls refused within %lld s (at most %u open at once)",
             c->peer.ip, c->peer.port, c->calls_refused,
             (long long)(CONNECTIONS_RESET_WINDOW_NS / NS_PER_SEC), t->limits.max_calls);
    report_event(t, R_STREAMS, now, what);
    end_connection(t, c);
  } else {
    snprintf(what, sizeof what, "refused call peer=%s:%d: %s", c->peer.ip, c->peer.port, why);
    report_event(t, R_CALLS, now, what);
  }
  return why;
}

const char *connections_call_opened(connections *t, const char *peer, int64_t now) {
  pthread_mutex_lock(&t->mu);
  const char *why = NULL;
  connection *c = find(t, peer);
  if (c) {
    /* gRPC may still hand over calls it read before the end: they go at
     * once, for less than a device's admission costs. */
    if (c->shut) why = "connection closed by the server (over a limit)";
    else if (c->calls_open >= t->limits.max_calls) why = too_many_calls(t, c, now);
    c->calls_open++; /* refused calls too: each closes through call_closed */
  }
  pthread_mutex_unlock(&t->mu);
  return why;
}

static void count_reset(connections *t, connection *c, int64_t now) {
  if (!t->limits.max_resets) return;
  roll_window(c, now);
  if (++c->resets <= t->limits.max_resets || c->shut) return;
  t->counts.closed_resets++;
  char what[200];
  snprintf(what, sizeof what,
           "closed connection peer=%s:%d: its client cancelled more than %u calls within %lld s",
           c->peer.ip, c->peer.port, t->limits.max_resets,
           (long long)(CONNECTIONS_RESET_WINDOW_NS / NS_PER_SEC));
  report_event(t, R_RESETS, now, what);
  end_connection(t, c);
}

void connections_call_closed(connections *t, const char *peer, bool client_cancelled, int64_t now) {
  pthread_mutex_lock(&t->mu);
  connection *c = find(t, peer);
  if (c && c->calls_open > 0) {
    if (--c->calls_open == 0) c->idle_since_ns = now;
    if (client_cancelled) count_reset(t, c, now);
  }
  pthread_mutex_unlock(&t->mu);
}

/* ---- sweeps ---- */

static void end_idle(connections *t, int64_t now) {
  if (!t->limits.idle_ns) return;
  for (unsigned i = 0; i < t->open; i++) {
    connection *c = &t->by_fd[t->open_fds[i]];
    if (c->calls_open || c->shut || now - c->idle_since_ns < t->limits.idle_ns) continue;
    t->counts.closed_idle++;
    char what[200];
    snprintf(what, sizeof what, "closed connection peer=%s:%d: no call for %lld s (--idle-timeout)",
             c->peer.ip, c->peer.port, (long long)(t->limits.idle_ns / NS_PER_SEC));
    report_event(t, R_IDLE, now, what);
    end_connection(t, c);
  }
}

/* What the client has sent on `fd` since the connection began. */
static bool bytes_received(int fd, uint64_t *out) {
  struct tcp_info info;
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received)
    return false; /* a kernel older than 4.1 */
  *out = info.tcpi_bytes_received;
  return true;
}

static void end_fast_senders(connections *t, int64_t now) {
  uint64_t per_window = t->limits.max_receive_rate * (CONNECTIONS_RESET_WINDOW_NS / NS_PER_SEC);
  if (!per_window) return;
  for (unsigned i = 0; i < t->open; i++) {
    connection *c = &t->by_fd[t->open_fds[i]];
    uint64_t received;
    if (c->shut || !bytes_received(t->open_fds[i], &received)) continue;
    if (now - c->byte_window_ns > CONNECTIONS_RESET_WINDOW_NS) {
      c->byte_window_ns = now;
      c->received_before = received;
    }
    if (received - c->received_before <= per_window) continue;
    t->counts.closed_bytes++;
    char what[220];
    snprintf(what, sizeof what,
             "closed connection peer=%s:%d: its client sent %llu bytes within %lld s "
             "(--max-receive-rate %llu)",
             c->peer.ip, c->peer.port, (unsigned long long)(received - c->received_before),
             (long long)(CONNECTIONS_RESET_WINDOW_NS / NS_PER_SEC),
             (unsigned long long)t->limits.max_receive_rate);
    report_event(t, R_BYTES, now, what);
    end_connection(t, c);
  }
}

/* A flood leaves gRPC's freed buffers in glibc's arenas: true when they
 * should go back now. */
static bool trim_due(connections *t) {
  return t->trim_in > 0 && --t->trim_in == 0;
}

void connections_sweep(connections *t, int64_t now) {
  pthread_mutex_lock(&t->mu);
  forget_gone(t);
  end_idle(t, now);
  end_fast_senders(t, now);
  flush_reports(t, now);
  bool trim = trim_due(t);
  pthread_mutex_unlock(&t->mu);
  if (trim) malloc_trim(0); /* milliseconds: not under the lock the loops take */
}

unsigned connections_open(connections *t) {
  pthread_mutex_lock(&t->mu);
  unsigned n = t->open;
  pthread_mutex_unlock(&t->mu);
  return n;
}

connection_counts connections_counts(connections *t) {
  pthread_mutex_lock(&t->mu);
  connection_counts c = t->counts;
  pthread_mutex_unlock(&t->mu);
  return c;
}
