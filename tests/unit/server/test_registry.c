/* The device registry: one record per id, kept across growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "devices/device.h"
#include "devices/registry.h"

static void get_creates_once(void **unused) {
  (void)unused;
  registry r = {0};
  assert_null(registry_find(&r, "a"));
  device *a = registry_get(&r, "a");
  assert_non_null(a);
  assert_string_equal(a->id, "a");
  assert_int_equal(a->state.mode, 0);
  assert_false(a->state.playing);
  a->state.mode = 3;
  assert_ptr_equal(registry_get(&r, "a"), a);
  assert_ptr_equal(registry_find(&r, "a"), a);
  assert_int_equal(registry_get(&r, "a")->state.mode, 3);
  assert_int_equal(r.count, 1);
  registry_clear(&r);
  assert_int_equal(r.count, 0);
}

static void ten_thousand_devices(void **unused) {
  (void)unused;
  registry r = {0};
  char id[32];
  for (int i = 0; i < 10000; i++) {
    snprintf(id, sizeof id, "dev-%d", i);
    device *d = registry_get(&r, id);
    assert_non_null(d);
    d->state.mode = (unsigned)(i % 5);
  }
  assert_int_equal(r.count, 10000);
  for (int i = 0; i < 10000; i++) {
    snprintf(id, sizeof id, "dev-%d", i);
    device *d = registry_find(&r, id);
    assert_non_null(d);
    assert_string_equal(d->id, id);
    assert_int_equal(d->state.mode, (unsigned)(i % 5));
  }
  assert_null(registry_find(&r, "dev-10000"));
  registry_clear(&r);
}

static void limit_forgets_the_longest_offline(void **unused) {
  (void)unused;
  registry r = {.limit = 3};
  device *a = registry_get(&r, "a"), *b = registry_get(&r, "b"), *c = registry_get(&r, "c");
  assert_non_null(c);
  /* All three connected: no room for a fourth. */
  assert_null(registry_get(&r, "d"));
  b->state.mode = 2;
  registry_offline(&r, b);
  registry_offline(&r, a);
  registry_online(&r, a); /* a came back: b is the one offline longest */
  registry_offline(&r, a);
  device *d = registry_get(&r, "d");
  assert_non_null(d);
  assert_null(registry_find(&r, "b"));
  assert_ptr_equal(registry_find(&r, "a"), a);
  assert_int_equal(r.count, 3);
  /* Next to go: a. A device that reconnects in time keeps its mode. */
  assert_non_null(registry_get(&r, "e"));
  assert_null(registry_find(&r, "a"));
  assert_ptr_equal(registry_find(&r, "c"), c);
  assert_null(registry_get(&r, "f"));
  registry_clear(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(get_creates_once),
      cmocka_unit_test(ten_thousand_devices),
      cmocka_unit_test(limit_forgets_the_longest_offline),
  };
  return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
