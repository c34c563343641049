/* The due-time heap: items come out in due order, move and leave from
 * anywhere, and the heap agrees with a brute-force scan after thousands
 * of random changes. Also the pacing lag's window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "devices/due_queue.h"
#include "devices/pacing_lag.h"

static void pops_in_due_order_only_when_due(void **unused) {
  (void)unused;
  due_queue q;
  due_queue_init(&q);
  due_item items[5];
  int64_t due[5] = {50, 10, 40, 20, 30};
  for (int i = 0; i < 5; i++) {
    items[i] = (due_item){0};
    assert_true(due_queue_set(&q, &items[i], due[i]));
  }
  assert_int_equal(due_queue_next_ns(&q), 10);
  assert_null(due_queue_pop_due(&q, 9));
  assert_ptr_equal(due_queue_pop_due(&q, 25), &items[1]);
  assert_ptr_equal(due_queue_pop_due(&q, 25), &items[3]);
  assert_null(due_queue_pop_due(&q, 25));
  assert_false(due_item_queued(&items[1]));
  assert_ptr_equal(due_queue_pop_due(&q, 100), &items[4]);
  assert_ptr_equal(due_queue_pop_due(&q, 100), &items[2]);
  assert_ptr_equal(due_queue_pop_due(&q, 100), &items[0]);
  assert_null(due_queue_pop_due(&q, INT64_MAX));
  assert_int_equal(due_queue_next_ns(&q), INT64_MAX);
  due_queue_clear(&q);
}

static void moves_and_removals_keep_the_order(void **unused) {
  (void)unused;
  due_queue q;
  due_queue_init(&q);
  due_item a = {0}, b = {0}, c = {0};
  due_queue_set(&q, &a, 10);
  due_queue_set(&q, &b, 20);
  due_queue_set(&q, &c, 30);
  due_queue_set(&q, &a, 40); /* later: no longer first */
  assert_ptr_equal(due_queue_first(&q), &b);
  due_queue_set(&q, &c, 5); /* earlier: first now */
  assert_ptr_equal(due_queue_first(&q), &c);
  due_queue_remove(&q, &c);
  due_queue_remove(&q, &c); /* not queued any more: nothing happens */
  assert_int_equal(q.count, 2);
  assert_ptr_equal(due_queue_first(&q), &b);
  due_queue_clear(&q);
  assert_false(due_item_queued(&a)); /* clear leaves items marked free */
  assert_false(due_item_queued(&b));
}

/* The index each item keeps is its place, and every parent is due first. */
static void assert_heap(const due_queue *q) {
  for (size_t i = 0; i < q->count; i++) {
    assert_int_equal(q->heap[i]->slot, i + 1);
    if (i > 0) assert_true(q->heap[(i - 1) / 2]->due_ns <= q->heap[i]->due_ns);
  }
}

static void random_changes_match_a_scan(void **unused) {
  (void)unused;
  enum { N = 300 };
  due_queue q;
  due_queue_init(&q);
  due_item items[N];
  for (int i = 0; i < N; i++) items[i] = (due_item){0};
  srand(7);
  for (int step = 0; step < 20000; step++) {
    due_item *it = &items[rand() % N];
    if (rand() % 4 == 0) due_queue_remove(&q, it);
    else assert_true(due_queue_set(&q, it, rand() % 1000));
    if (step % 97 == 0) {
      assert_heap(&q);
      int64_t least = INT64_MAX;
      for (int i = 0; i < N; i++)
        if (due_item_queued(&items[i]) && items[i].due_ns < least) least = items[i].due_ns;
      assert_int_equal(due_queue_next_ns(&q), least);
    }
  }
  /* Draining by ever later deadlines gives every item once, in order. */
  int64_t last = -1;
  size_t left = q.count, popped = 0;
  due_item *it;
  while ((it = due_queue_pop_due(&q, INT64_MAX))) {
    assert_true(it->due_ns >= last);
    last = it->due_ns;
    popped++;
  }
  assert_int_equal(popped, left);
  due_queue_clear(&q);
}

static void reserve_makes_room_ahead(void **unused) {
  (void)unused;
  due_queue q;
  due_queue_init(&q);
  assert_true(due_queue_reserve(&q, 1000));
  assert_true(q.capacity >= 1000);
  due_queue_clear(&q);
}

static void lag_counts_when_most_packets_are_late_for_a_while(void **unused) {
  (void)unused;
  const int64_t ms = 1000000, s = 1000 * ms, bound = 50 * ms;
  int64_t worst;
  pacing_lag l = {.window_start_ns = 0};
  assert_false(pacing_lag_over(&l, 10 * ms, &worst));
  /* Window 1: 3 of 4 packets late. Not lasting yet. */
  pacing_lag_note(&l, 80 * ms, bound, 100 * ms);
  pacing_lag_note(&l, 60 * ms, bound, 200 * ms);
  pacing_lag_note(&l, 70 * ms, bound, 300 * ms);
  pacing_lag_note(&l, 1 * ms, bound, 400 * ms);
  assert_false(pacing_lag_over(&l, 500 * ms, &worst));
  /* A new window with nothing sent yet: the last whole one speaks. */
  assert_true(pacing_lag_over(&l, s + 100 * ms, &worst));
  assert_int_equal(worst, 80 * ms);
  /* Late in this window too: still over. */
  pacing_lag_note(&l, 90 * ms, bound, s + 200 * ms);
  assert_true(pacing_lag_over(&l, s + 300 * ms, &worst));
  assert_int_equal(worst, 90 * ms);
  /* Mostly on time again: over at once. */
  pacing_lag_note(&l, 2 * ms, bound, s + 400 * ms);
  pacing_lag_note(&l, 3 * ms, bound, s + 500 * ms);
  assert_false(pacing_lag_over(&l, s + 600 * ms, &worst));
}

static void a_few_late_packets_among_many_do_not_count(void **unused) {
  (void)unused;
  const int64_t ms = 1000000, s = 1000 * ms, bound = 50 * ms;
  int64_t worst;
  pacing_lag l = {.window_start_ns = 0};
  for (int w = 0; w < 3; w++)
    for (int i = 0; i < 100; i++) /* one slow stream's packets among 100 */
      pacing_lag_note(&l, i < 10 ? 900 * ms : ms, bound, w * s + i * ms);
  assert_false(pacing_lag_over(&l, 2 * s + 500 * ms, &worst));
  assert_int_equal(worst, 900 * ms);
  /* A long quiet forgets everything. */
  assert_false(pacing_lag_over(&l, 9 * s, &worst));
  assert_int_equal(worst, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pops_in_due_order_only_when_due),
      cmocka_unit_test(moves_and_removals_keep_the_order),
      cmocka_unit_test(random_changes_match_a_scan),
      cmocka_unit_test(reserve_makes_room_ahead),
      cmocka_unit_test(lag_counts_when_most_packets_are_late_for_a_while),
      cmocka_unit_test(a_few_late_packets_among_many_do_not_count),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
