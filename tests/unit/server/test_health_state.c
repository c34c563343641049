/* The server's health: SERVING needs the store reachable and no shutdown;
 * watchers hear each change once; shutdown's wait ends when all are told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "health/health_state.h"

typedef struct recorder {
  health_watcher w; /* first: the callback gets it back */
  int calls;
  health_status last;
} recorder;

static void record(health_watcher *w, health_status now) {
  recorder *r = (recorder *)w;
  r->calls++;
  r->last = now;
}

static void serving_needs_the_store_and_no_shutdown(void **unused) {
  (void)unused;
  health_state h;
  health_state_init(&h);
  assert_int_equal(health_state_status(&h), HEALTH_NOT_SERVING);
  health_state_set_store(&h, true);
  assert_int_equal(health_state_status(&h), HEALTH_SERVING);
  health_state_set_store(&h, false);
  assert_int_equal(health_state_status(&h), HEALTH_NOT_SERVING);
  health_state_set_store(&h, true);
  health_state_set_stopping(&h);
  assert_int_equal(health_state_status(&h), HEALTH_NOT_SERVING);
  /* Once stopping, a store that comes back changes nothing. */
  health_state_set_store(&h, false);
  health_state_set_store(&h, true);
  assert_int_equal(health_state_status(&h), HEALTH_NOT_SERVING);
}

static void watchers_hear_each_change_once(void **unused) {
  (void)unused;
  health_state h;
  health_state_init(&h);
  health_state_set_store(&h, true);
  recorder a = {.w.changed = record}, b = {.w.changed = record};
  health_state_watch(&h, &a.w);
  health_state_watch(&h, &b.w);
  health_state_set_store(&h, true); /* no change: nobody told */
  assert_int_equal(a.calls, 0);
  health_state_set_store(&h, false);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.last, HEALTH_NOT_SERVING);
  assert_int_equal(b.calls, 1);
  health_state_unwatch(&h, &a.w);
  health_state_set_store(&h, true);
  assert_int_equal(a.calls, 1);
  assert_int_equal(b.calls, 2);
  assert_int_equal(b.last, HEALTH_SERVING);
  /* Stopping while the store is away: already NOT_SERVING, nothing new. */
  health_state_set_store(&h, false);
  health_state_set_stopping(&h);
  assert_int_equal(b.calls, 3);
  health_state_unwatch(&h, &b.w);
  assert_null(h.watchers);
  assert_int_equal(h.watcher_count, 0);
}

static void all_told_when_every_watcher_was_sent_the_status(void **unused) {
  (void)unused;
  health_state h;
  health_state_init(&h);
  health_state_set_store(&h, true);
  assert_true(health_state_all_told(&h)); /* nobody to tell */
  recorder a = {.w.changed = record}, b = {.w.changed = record};
  health_state_watch(&h, &a.w);
  health_state_watch(&h, &b.w);
  a.w.told = b.w.told = HEALTH_SERVING;
  assert_true(health_state_all_told(&h));
  health_state_set_stopping(&h);
  assert_false(health_state_all_told(&h));
  a.w.told = HEALTH_NOT_SERVING;
  assert_false(health_state_all_told(&h));
  b.w.told = HEALTH_NOT_SERVING;
  assert_true(health_state_all_told(&h));
  health_state_unwatch(&h, &a.w);
  health_state_unwatch(&h, &b.w);
}

static void known_services(void **unused) {
  (void)unused;
  assert_true(health_service_known(""));
  assert_true(health_service_known("com.opalcamera.test.DeviceService"));
  assert_string_equal(health_device_service_name(), "com.opalcamera.test.DeviceService");
  assert_false(health_service_known("com.opalcamera.test.DeviceServic"));
  assert_false(health_service_known("grpc.health.v1.Health"));
  assert_false(health_service_known("DeviceService"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(serving_needs_the_store_and_no_shutdown),
      cmocka_unit_test(watchers_hear_each_change_once),
      cmocka_unit_test(all_told_when_every_watcher_was_sent_the_status),
      cmocka_unit_test(known_services),
  };
  return cmocka_run_group_tests_name("health_state", tests, NULL, NULL);
}
