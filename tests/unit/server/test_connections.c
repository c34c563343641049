/* The connection table and its limits (server/net/connections.c), with
 * real sockets, and the peer strings gRPC gives calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "net/connections.h"
#include "net/peer_address.h"

static struct sockaddr_in ipv4(const char *ip, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

/* A socket of our own stands in for an accepted one: the table only
 * fstat()s it and, to end it, shuts it down. */
static int new_socket(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  return fd;
}

static bool admit(connections *t, int fd, const char *ip, int port) {
  struct sockaddr_in a = ipv4(ip, port);
  return connections_admit(t, fd, (struct sockaddr *)&a, clock_now_ns());
}

static void peer_strings(void **unused) {
  (void)unused;
  peer_address a;
  assert_true(peer_address_from_grpc("ipv4:127.0.0.1:5000", &a));
  assert_string_equal(a.ip, "127.0.0.1");
  assert_int_equal(a.port, 5000);
  assert_true(peer_address_from_grpc("ipv6:%5B::1%5D:6000", &a));
  assert_string_equal(a.ip, "::1");
  assert_int_equal(a.port, 6000);
  assert_true(peer_address_from_grpc("ipv6:[::ffff:10.0.0.1]:7", &a));
  assert_string_equal(a.ip, "10.0.0.1"); /* the way an accepted socket names it */
  assert_false(peer_address_from_grpc("unix:/tmp/x", &a));
  assert_false(peer_address_from_grpc("ipv4:127.0.0.1", &a));
  assert_false(peer_address_from_grpc("ipv4:nowhere:80", &a));
  struct sockaddr_in in = ipv4("192.0.2.7", 4242);
  assert_true(peer_address_from_sockaddr((struct sockaddr *)&in, &a));
  assert_string_equal(a.ip, "192.0.2.7");
  assert_int_equal(a.port, 4242);
}

static void bounds_and_gone_connections(void **unused) {
  (void)unused;
  connection_limits limits = {.max_connections = 3, .max_per_ip = 2, .max_calls = 4};
  connections *t = connections_create(&limits, 4096);
  assert_non_null(t);
  int a = new_socket(), b = new_socket(), c = new_socket(), d = new_socket();
  assert_true(admit(t, a, "10.0.0.1", 1));
  assert_true(admit(t, b, "10.0.0.1", 2));
  assert_false(admit(t, c, "10.0.0.1", 3)); /* per IP */
  assert_true(admit(t, c, "10.0.0.2", 3));
  assert_false(admit(t, d, "10.0.0.3", 4)); /* in all */
  connection_counts n = connections_counts(t);
  assert_int_equal(n.refused_ip, 1);
  assert_int_equal(n.refused_full, 1);
  /* gRPC closes one: the next sweep forgets it, and there is room again. */
  close(b);
  connections_sweep(t, clock_now_ns());
  assert_int_equal(connections_open(t), 2);
  assert_true(admit(t, d, "10.0.0.1", 4));
  close(a);
  close(c);
  close(d);
  connections_sweep(t, clock_now_ns());
  assert_int_equal(connections_open(t), 0);
  connections_destroy(t);
}

static void calls_past_the_limit_are_refused(void **unused) {
  (void)unused;
  connection_limits limits = {.max_connections = 10, .max_calls = 3};
  connections *t = connections_create(&limits, 4096);
  int fd = new_socket();
  assert_true(admit(t, fd, "10.0.0.1", 50));
  const char *peer = "ipv4:10.0.0.1:50";
  for (int i = 0; i < 3; i++) assert_null(connections_call_opened(t, peer, clock_now_ns()));
  const char *why = connections_call_opened(t, peer, clock_now_ns());
  assert_non_null(why);
  assert_non_null(strstr(why, "too many calls"));
  connections_call_closed(t, peer, false, clock_now_ns()); /* the refused one */
  connections_call_closed(t, peer, false, clock_now_ns());
  assert_null(connections_call_opened(t, peer, clock_now_ns()));
  /* A call from a peer the table does not know (not through the listener). */
  assert_null(connections_call_opened(t, "ipv4:10.9.9.9:1", clock_now_ns()));
  assert_int_equal(connections_counts(t).calls_refused, 1);
  close(fd);
  connections_destroy(t);
}

static void resets_past_the_limit_end_the_connection(void **unused) {
  (void)unused;
  connection_limits limits = {.max_connections = 10, .max_calls = 8, .max_resets = 5};
  connections *t = connections_create(&limits, 4096);
  int fd = new_socket();
  assert_true(admit(t, fd, "10.0.0.1", 60));
  const char *peer = "ipv4:10.0.0.1:60";
  for (int i = 0; i < 6; i++) {
    assert_null(connections_call_opened(t, peer, clock_now_ns()));
    connections_call_closed(t, peer, true, clock_now_ns());
  }
  assert_int_equal(connections_counts(t).closed_resets, 1);
  /* Calls gRPC had read before the end are refused at once. */
  assert_non_null(connections_call_opened(t, peer, clock_now_ns()));
  close(fd);
  connections_destroy(t);
}

static void idle_connections_end(void **unused) {
  (void)unused;
  connection_limits limits = {.max_connections = 10, .max_calls = 8, .idle_ns = NS_PER_SEC};
  connections *t = connections_create(&limits, 4096);
  int idle = new_socket(), busy = new_socket();
  int64_t t0 = clock_now_ns();
  assert_true(admit(t, idle, "10.0.0.1", 70));
  assert_true(admit(t, busy, "10.0.0.1", 71));
  assert_null(connections_call_opened(t, "ipv4:10.0.0.1:71", t0));
  connections_sweep(t, t0 + NS_PER_SEC / 2);
  assert_int_equal(connections_counts(t).closed_idle, 0);
  connections_sweep(t, t0 + 2 * NS_PER_SEC);
  assert_int_equal(connections_counts(t).closed_idle, 1); /* the one without a call */
  close(idle);
  close(busy);
  connections_destroy(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(peer_strings),
      cmocka_unit_test(bounds_and_gone_connections),
      cmocka_unit_test(calls_past_the_limit_are_refused),
      cmocka_unit_test(resets_past_the_limit_end_the_connection),
      cmocka_unit_test(idle_connections_end),
  };
  return cmocka_run_group_tests_name("connections", tests, NULL, NULL);
}
