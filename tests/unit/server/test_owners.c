/* Which worker owns a device; an entry goes when its owner forgets it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "owners.h"

static void release_by_the_owner_only(void **unused) {
  (void)unused;
  owners *o = owners_create();
  assert_non_null(o);
  assert_int_equal(owners_claim(o, "a", 0), -1);
  assert_int_equal(owners_claim(o, "a", 1), 0); /* moved from worker 0 */
  owners_release(o, "a", 0);                    /* 0 forgot it, but 1 has it now */
  assert_int_equal(owners_claim(o, "a", 1), 1);
  owners_release(o, "a", 1);
  assert_int_equal(owners_claim(o, "a", 0), -1); /* nobody had it */
  owners_release(o, "never-claimed", 0);
  owners_destroy(o);
}

static void many_ids_come_and_go(void **unused) {
  (void)unused;
  owners *o = owners_create();
  char id[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(id, sizeof id, "dev-%d", i);
    assert_int_equal(owners_claim(o, id, i % 3), -1);
  }
  for (int i = 0; i < 5000; i += 2) {
    snprintf(id, sizeof id, "dev-%d", i);
    owners_release(o, id, i % 3);
  }
  for (int i = 0; i < 5000; i++) {
    snprintf(id, sizeof id, "dev-%d", i);
    assert_int_equal(owners_claim(o, id, 3), i % 2 ? i % 3 : -1);
  }
  owners_destroy(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(release_by_the_owner_only),
      cmocka_unit_test(many_ids_come_and_go),
  };
  return cmocka_run_group_tests_name("owners", tests, NULL, NULL);
}
