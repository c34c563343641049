/* The listener (server/net/listener.c) with real sockets: it binds, hands
 * on what it accepts, closes what is over a limit, and keeps accepting
 * after the process ran out of file descriptors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/listener.h"

/* What `take` was given: kept open, as gRPC keeps a connection it serves. */
static int kept[64];
static atomic_int taken;

static void take(void *ctx, int listen_fd, int fd) {
  (void)ctx;
  (void)listen_fd;
  int n = atomic_load(&taken);
  if (n < 64) kept[n] = fd;
  else close(fd);
  atomic_fetch_add(&taken, 1);
}

static void close_kept(void) {
  int n = atomic_load(&taken);
  for (int i = 0; i < n && i < 64; i++) close(kept[i]);
  atomic_store(&taken, 0);
}

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* True when the server side closed `fd` within `ms`. */
static bool closed_within(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, ms) != 1) return false;
  char c;
  return recv(fd, &c, 1, 0) <= 0;
}

static bool taken_within(int n, int ms) {
  for (int i = 0; i < ms / 10 && atomic_load(&taken) < n; i++) poll(NULL, 0, 10);
  return atomic_load(&taken) >= n;
}

static void binds_and_reports_errors(void **unused) {
  (void)unused;
  listener l, other;
  char err[256];
  assert_int_equal(listener_open(&l, "127.0.0.1:0", err, sizeof err), 0);
  assert_true(l.port > 0);
  char where[64];
  snprintf(where, sizeof where, "127.0.0.1:%d", l.port);
  assert_int_equal(listener_open(&other, where, err, sizeof err), -1);
  assert_non_null(strstr(err, "already in use"));
  assert_int_equal(listener_open(&other, "no-such-host.invalid:1", err, sizeof err), -1);
  assert_non_null(strstr(err, "--listen no-such-host.invalid:1: cannot resolve"));
  listener_close(&l);
}

static void over_the_bound_is_closed(void **unused) {
  (void)unused;
  atomic_store(&taken, 0);
  connection_limits limits = {.max_connections = 1000, .max_per_ip = 2, .max_calls = 16};
  connections *t = connections_create(&limits, 4096);
  listener l;
  char err[256];
  assert_int_equal(listener_open(&l, "127.0.0.1:0", err, sizeof err), 0);
  listener_start(&l, t, take, NULL);
  int a = connect_to(l.port), b = connect_to(l.port);
  assert_true(taken_within(2, 2000));
  int c = connect_to(l.port); /* a third from 127.0.0.1 */
  assert_true(closed_within(c, 2000));
  assert_int_equal(atomic_load(&taken), 2);
  assert_int_equal(connections_counts(t).refused_ip, 1);
  listener_stop(&l);
  close_kept();
  close(a);
  close(b);
  close(c);
  connections_destroy(t);
  listener_close(&l);
}

/* The process runs out of descriptors; connections keep being accepted
 * (and closed) instead of the listener stopping, and once descriptors are
 * free again they are handed on as before. */
static void out_of_descriptors_and_back(void **unused) {
  (void)unused;
  atomic_store(&taken, 0);
  connection_limits limits = {.max_connections = 1000, .max_calls = 16};
  connections *t = connections_create(&limits, 4096);
  listener l;
  char err[256];
  assert_int_equal(listener_open(&l, "127.0.0.1:0", err, sizeof err), 0);
  listener_start(&l, t, take, NULL);
  int early = connect_to(l.port);
  assert_true(taken_within(1, 2000));
  /* Fill the descriptor table, then let one client in. */
  struct rlimit saved;
  getrlimit(RLIMIT_NOFILE, &saved);
  int client = connect_to(l.port); /* before the table is full: its own end needs one */
  assert_true(taken_within(2, 2000));
  int waiting = socket(AF_INET, SOCK_STREAM, 0);
  int fillers[512], filled = 0;
  struct rlimit low = {.rlim_cur = 256, .rlim_max = saved.rlim_max};
  setrlimit(RLIMIT_NOFILE, &low);
  while (filled < 512 && (fillers[filled] = open("/dev/null", O_RDONLY)) >= 0) filled++;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)l.port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  bool connected = connect(waiting, (struct sockaddr *)&a, sizeof a) == 0;
  bool refused = connected && closed_within(waiting, 2000);
  for (int i = 0; i < filled; i++) close(fillers[i]);
  setrlimit(RLIMIT_NOFILE, &saved); /* before any assertion: the sanitizers need descriptors */
  assert_true(filled > 0);
  assert_true(refused); /* refused with the spare, not left waiting */
  assert_true(connections_counts(t).refused_no_fd >= 1);
  int after = connect_to(l.port);
  assert_true(taken_within(3, 2000)); /* the listener is still alive */
  listener_stop(&l);
  close_kept();
  close(early);
  close(client);
  close(waiting);
  close(after);
  connections_destroy(t);
  listener_close(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(binds_and_reports_errors),
      cmocka_unit_test(over_the_bound_is_closed),
      cmocka_unit_test(out_of_descriptors_and_back),
  };
  return cmocka_run_group_tests_name("listener", tests, NULL, NULL);
}
