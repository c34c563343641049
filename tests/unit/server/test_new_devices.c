/* The rate of new devices per peer: the token bucket, the peer addresses
 * gRPC writes, and the table that puts them together. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "devices/new_devices.h"
#include "devices/peer_key.h"
#include "devices/token_bucket.h"

#define S 1000000000LL

static void bucket_gives_a_burst_then_the_rate(void **unused) {
  (void)unused;
  token_rate rate = {.per_s = 10, .burst = 20};
  token_bucket b = {0};
  int64_t t = 5 * S;
  for (int i = 0; i < 20; i++) assert_true(token_bucket_take(&b, &rate, t));
  assert_false(token_bucket_take(&b, &rate, t));
  assert_false(token_bucket_idle(&b, &rate, t));
  t += S / 10; /* one token back */
  assert_true(token_bucket_take(&b, &rate, t));
  assert_false(token_bucket_take(&b, &rate, t));
  int admitted = 0;
  for (int ms = 0; ms < 1000; ms++) admitted += token_bucket_take(&b, &rate, t + ms * 1000000LL);
  assert_in_range(admitted, 9, 10); /* 10/s over a second */
  assert_true(token_bucket_idle(&b, &rate, t + 3 * S)); /* full again */
  assert_false(token_bucket_take(&b, &rate, t - S)); /* time went back: nothing refilled */
}

static void zero_rate_is_unlimited(void **unused) {
  (void)unused;
  token_rate rate = {0};
  token_bucket b = {0};
  for (int i = 0; i < 100000; i++) assert_true(token_bucket_take(&b, &rate, S));
}

static void peers_as_grpc_writes_them(void **unused) {
  (void)unused;
  peer_key a, b;
  assert_true(peer_key_of("ipv4:127.0.0.1:5000", &a));
  assert_string_equal(a.text, "127.0.0.1");
  /* gRPC 1.51's IPv6 peer, brackets percent-encoded, and the plain form */
  assert_true(peer_key_of("ipv6:%5B::1%5D:38190", &a));
  assert_string_equal(a.text, "::1");
  assert_true(peer_key_of("ipv6:[::1]:1", &b));
  assert_memory_equal(a.key, b.key, 16);
  /* one /64 is one peer */
  assert_true(peer_key_of("ipv6:%5B2001:db8:1:2::1%5D:5", &a));
  assert_true(peer_key_of("ipv6:%5B2001:db8:1:2:ffff::9%5D:6", &b));
  assert_memory_equal(a.key, b.key, 16);
  assert_true(peer_key_of("ipv6:%5B2001:db8:1:3::1%5D:5", &b));
  assert_memory_not_equal(a.key, b.key, 16);
  /* an IPv4 client of a dual-stack listener is its IPv4 address */
  assert_true(peer_key_of("ipv6:%5B::ffff:10.0.0.7%5D:5", &a));
  assert_string_equal(a.text, "10.0.0.7");
  assert_true(peer_key_of("ipv4:10.0.0.7:9", &b));
  assert_memory_equal(a.key, b.key, 16);
  assert_false(peer_key_of("unix:/run/opal.sock", &a));
  assert_false(peer_key_of("ipv4:not-an-address:1", &b));
  assert_memory_equal(a.key, b.key, 16);
  assert_string_equal(a.text, "other");
}

static void each_peer_has_its_own_rate(void **unused) {
  (void)unused;
  token_rate rate = {.per_s = 5, .burst = 10};
  new_devices *nd = new_devices_create(&rate);
  char why[200] = "";
  int64_t t = S;
  for (int i = 0; i < 10; i++) assert_true(new_devices_take(nd, "ipv4:10.1.1.1:1", t, why, sizeof why));
  assert_false(new_devices_take(nd, "ipv4:10.1.1.1:2", t, why, sizeof why));
  assert_non_null(strstr(why, "new devices from 10.1.1.1 arrive faster than 5/s"));
  assert_true(new_devices_take(nd, "ipv4:10.1.1.2:1", t, why, sizeof why));
  assert_true(new_devices_take(nd, "ipv6:%5B::1%5D:1", t, why, sizeof why));
  assert_true(new_devices_take(nd, "ipv4:10.1.1.1:3", t + S / 5, why, sizeof why));
  new_devices_free(nd);
  assert_true(new_devices_take(NULL, "ipv4:10.1.1.1:3", t, why, sizeof why));
}

/* Far more peers than slots: the table stays its size, and a peer that
 * finds no slot of its own is still limited. */
static void many_peers_bounded(void **unused) {
  (void)unused;
  token_rate rate = {.per_s = 1, .burst = 1};
  new_devices *nd = new_devices_create(&rate);
  char peer[64], why[200];
  int admitted = 0;
  for (int i = 0; i < 100000; i++) {
    snprintf(peer, sizeof peer, "ipv4:10.%d.%d.%d:1", i >> 16, (i >> 8) & 255, i & 255);
    admitted += new_devices_take(nd, peer, S, why, sizeof why);
  }
  assert_in_range(admitted, 1, 8192 * 4); /* at most a token per slot at once */
  new_devices_free(nd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bucket_gives_a_burst_then_the_rate),
      cmocka_unit_test(zero_rate_is_unlimited),
      cmocka_unit_test(peers_as_grpc_writes_them),
      cmocka_unit_test(each_peer_has_its_own_rate),
      cmocka_unit_test(many_peers_bounded),
  };
  return cmocka_run_group_tests_name("new_devices", tests, NULL, NULL);
}
