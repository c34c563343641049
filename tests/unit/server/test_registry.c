/* The device registry: one record per id, kept across growth, and the rule
 * of issue 9: a device is forgotten only when that loses nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "devices/device.h"
#include "devices/forget_rule.h"
#include "devices/registry.h"

/* The check devices.c gives the registry; `ctx` points at "a persistent
 * store keeps records". */
static bool check(const device *d, void *ctx) {
  return forget_loses_nothing(d, *(const bool *)ctx);
}

static bool memory_store = false, persistent_store = true;

/* The last device the registry was about to free, by any path. */
static char last_forgotten[DEVICE_ID_MAX_LEN + 1];
static void forgetting(device *d, void *ctx) {
  (void)ctx;
  snprintf(last_forgotten, sizeof last_forgotten, "%s", d->id);
}

static void init(registry *r, size_t limit, bool *kept) {
  registry_hooks hooks = {.can_forget = check, .forgetting = forgetting, .ctx = kept};
  registry_init(r, limit, &hooks);
  last_forgotten[0] = '\0';
}

static device *add(registry *r, const char *id) {
  bool full;
  device *d = registry_add(r, id, &full);
  assert_non_null(d);
  assert_false(full);
  return d;
}

/* What devices.c does when a device's last call closes. */
static void disconnect(registry *r, device *d, bool kept, int64_t now_ns) {
  registry_offline(r, d, false, now_ns);
  if (forget_loses_nothing(d, kept)) registry_spare(r, d, now_ns);
}

static void add_creates_once(void **unused) {
  (void)unused;
  registry r;
  init(&r, 0, &memory_store);
  assert_null(registry_find(&r, "a"));
  device *a = add(&r, "a");
  assert_string_equal(a->id, "a");
  assert_int_equal(a->state.mode, 0);
  assert_false(a->offline);
  a->state.mode = 3;
  assert_ptr_equal(registry_find(&r, "a"), a);
  assert_int_equal(r.count, 1);
  registry_clear(&r);
  assert_int_equal(r.count, 0);
  assert_null(registry_find(&r, "a"));
}

static void ten_thousand_devices_come_and_go(void **unused) {
  (void)unused;
  registry r;
  init(&r, 0, &memory_store);
  char id[32];
  for (int i = 0; i < 10000; i++) {
    snprintf(id, sizeof id, "dev-%d", i);
    add(&r, id)->state.mode = (unsigned)(i % 5);
  }
  assert_int_equal(r.count, 10000);
  assert_true(r.bucket_count >= 10000);
  for (int i = 0; i < 10000; i++) {
    snprintf(id, sizeof id, "dev-%d", i);
    device *d = registry_find(&r, id);
    assert_non_null(d);
    assert_string_equal(d->id, id);
    assert_int_equal(d->state.mode, (unsigned)(i % 5));
    if (i % 10) registry_forget(&r, d);
  }
  assert_null(registry_find(&r, "dev-10000"));
  assert_int_equal(r.count, 1000);
  assert_int_equal(r.forgotten, 9000);
  registry_shrink(&r);
  assert_true(r.bucket_count <= 8 * 1000 && r.bucket_count >= 1000);
  assert_non_null(registry_find(&r, "dev-9990"));
  assert_null(registry_find(&r, "dev-9991"));
  registry_clear(&r);
}

/* --store memory: a mode other than 0 exists only here, so its device is
 * never forgotten; the registry refuses new ids instead. */
static void full_registry_keeps_a_remembered_mode(void **unused) {
  (void)unused;
  registry r;
  init(&r, 3, &memory_store);
  device *a = add(&r, "a"), *b = add(&r, "b");
  add(&r, "c");
  a->state.mode = 1;
  disconnect(&r, a, false, 1);
  disconnect(&r, b, false, 2);
  assert_false(a->spare);
  assert_true(b->spare);
  add(&r, "d"); /* b had nothing worth keeping: it made the room */
  assert_null(registry_find(&r, "b"));
  assert_string_equal(last_forgotten, "b");
  bool full;
  assert_null(registry_add(&r, "e", &full));
  assert_true(full);
  assert_ptr_equal(registry_find(&r, "a"), a);
  assert_int_equal(a->state.mode, 1);
  assert_int_equal(r.count, 3);
  assert_int_equal(r.forgotten, 1);
  registry_clear(&r);
}

/* A persistent store: a device may go once the store holds its latest
 * version, and the registry asks again before it forgets a spare one. */
static void written_devices_make_room(void **unused) {
  (void)unused;
  registry r;
  init(&r, 2, &persistent_store);
  device *a = add(&r, "a"), *b = add(&r, "b");
  a->state.mode = 1;
  a->version = 1; /* a change, not yet written */
  disconnect(&r, a, true, 1);
  disconnect(&r, b, true, 2); /* never changed: nothing to lose */
  assert_false(a->spare);
  b->version = 1; /* a late record changed it after it was judged spare */
  bool full;
  assert_null(registry_add(&r, "c", &full));
  assert_true(full);
  assert_false(b->spare); /* asked again, and moved to kept */
  a->written_version = 1; /* the store confirmed a's write */
  registry_spare(&r, a, 3);
  assert_non_null(registry_add(&r, "c", &full));
  assert_null(registry_find(&r, "a"));
  assert_ptr_equal(registry_find(&r, "b"), b);
  registry_clear(&r);
}

static void sweep_forgets_what_was_spare_long_enough(void **unused) {
  (void)unused;
  registry r;
  init(&r, 0, &persistent_store);
  device *a = add(&r, "a"), *b = add(&r, "b"), *c = add(&r, "c");
  for (int i = 0; i < 3; i++) {
    device *d = (device *[]){a, b, c}[i];
    d->version = d->written_version = 4;
    disconnect(&r, d, true, 10 * (i + 1));
  }
  b->version = 5; /* changed since it was judged spare */
  registry_online(&r, c);
  registry_offline(&r, c, true, 50); /* c came back and went again */
  assert_int_equal(registry_sweep(&r, 31), 1);
  assert_null(registry_find(&r, "a"));
  assert_string_equal(last_forgotten, "a");
  assert_ptr_equal(registry_find(&r, "b"), b);
  assert_false(b->spare);
  assert_ptr_equal(registry_find(&r, "c"), c);
  assert_int_equal(registry_sweep(&r, 51), 1);
  assert_null(registry_find(&r, "c"));
  assert_int_equal(registry_sweep(&r, 1000), 0); /* b is kept until it is written */
  assert_int_equal(r.count, 1);
  registry_clear(&r);
}

static void the_rule(void **unused) {
  (void)unused;
  device d = {.offline = true};
  assert_true(forget_at_once(&d, false));
  assert_true(forget_at_once(&d, true));
  d.state.mode = 2;
  d.version = 3;
  assert_false(forget_loses_nothing(&d, false)); /* only here */
  assert_false(forget_loses_nothing(&d, true));  /* not written */
  d.written_version = 3;
  assert_true(forget_loses_nothing(&d, true));
  assert_false(forget_at_once(&d, true)); /* it may come back soon: it stays a while */
  d.loading = true;
  assert_false(forget_loses_nothing(&d, true)); /* its record is on its way */
  d.loading = false;
  d.foreign = true;
  d.written_version = 0;
  assert_true(forget_at_once(&d, false)); /* another worker has it */
  d.offline = false;
  assert_false(forget_loses_nothing(&d, false)); /* connected */
  d = (device){.offline = true, .version = 2};
  assert_true(forget_at_once(&d, false)); /* mode 0 again, nothing kept: nothing to lose */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(add_creates_once),
      cmocka_unit_test(ten_thousand_devices_come_and_go),
      cmocka_unit_test(full_registry_keeps_a_remembered_mode),
      cmocka_unit_test(written_devices_make_room),
      cmocka_unit_test(sweep_forgets_what_was_spare_long_enough),
      cmocka_unit_test(the_rule),
  };
  return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
