/* The metrics: the text writer (exposition lines, escapes), histograms
 * (cumulative buckets, shards summed), the counters' label folding, and a
 * shard per thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics/histogram.h"
#include "metrics/metrics.h"
#include "metrics/prom_text.h"
#include "metrics/thread_shard.h"

static char *written(prom_text *t) {
  size_t len;
  char *text = prom_text_take(t, &len);
  assert_non_null(text);
  assert_int_equal(strlen(text), len);
  return text;
}

static void family_and_samples(void **unused) {
  (void)unused;
  prom_text t;
  prom_text_init(&t);
  prom_text_family(&t, "opal_x_total", "counter", "Line one\nback\\slash");
  prom_label labels[] = {{"button", "play"}, {"note", "say \"hi\"\\\n"}};
  prom_text_sample_u64(&t, "opal_x_total", labels, 2, 42);
  prom_text_sample(&t, "opal_y", NULL, 0, 0.42);
  prom_text_sample(&t, "opal_y", NULL, 0, 1e-6);
  char *text = written(&t);
  assert_string_equal(text, "# HELP opal_x_total Line one\\nback\\\\slash\n"
                            "# TYPE opal_x_total counter\n"
                            "opal_x_total{button=\"play\",note=\"say \\\"hi\\\"\\\\\\n\"} 42\n"
                            "opal_y 0.42\n"
                            "opal_y 1e-06\n");
  free(text);
}

static void histogram_is_cumulative(void **unused) {
  (void)unused;
  histogram h;
  const double bounds[] = {0.001, 0.01};
  histogram_init(&h, bounds, 2);
  histogram_observe_ns(&h, -5);        /* counts as 0 */
  histogram_observe_ns(&h, 1000000);   /* exactly 1 ms: le="0.001" */
  histogram_observe_ns(&h, 5000000);
  histogram_observe_ns(&h, 2000000000);
  histogram_reading r = histogram_read(&h);
  assert_int_equal(r.cumulative[0], 2);
  assert_int_equal(r.cumulative[1], 3);
  assert_int_equal(r.cumulative[2], 4);
  prom_text t;
  prom_text_init(&t);
  prom_text_histogram(&t, "opal_lag_seconds", "Lag.", &r);
  char *text = written(&t);
  assert_string_equal(text, "# HELP opal_lag_seconds Lag.\n"
                            "# TYPE opal_lag_seconds histogram\n"
                            "opal_lag_seconds_bucket{le=\"0.001\"} 2\n"
                            "opal_lag_seconds_bucket{le=\"0.01\"} 3\n"
                            "opal_lag_seconds_bucket{le=\"+Inf\"} 4\n"
                            "opal_lag_seconds_sum 2.006\n"
                            "opal_lag_seconds_count 4\n");
  free(text);
}

static void out_of_range_values_fold_into_unknown(void **unused) {
  (void)unused;
  metrics_event(3, 0);
  metrics_event(99, -1);
  metrics_event(-1, 7);
  assert_int_equal(metrics_now.events[3][0], 1);
  assert_int_equal(metrics_now.events[METRICS_BUTTONS - 1][METRICS_EVENT_TYPES - 1], 2);
  metrics_call_ended(1, 10);
  metrics_call_ended(42, 99);
  assert_int_equal(metrics_now.calls_ended[1][10], 1);
  assert_int_equal(metrics_now.calls_ended[METRICS_METHODS - 1][2], 1);
  metrics_stream_ended("preempted");
  metrics_stream_ended("audio stream closed");
  assert_int_equal(metrics_now.stream_ends[METRICS_END_PREEMPT], 1);
  assert_int_equal(metrics_now.stream_ends[METRICS_END_DISCONNECT], 1);
}

static void lag_counts_from_the_later_of_due_and_start(void **unused) {
  (void)unused;
  metrics_init();
  /* A lead packet due 100 ms before Play, sent 2 ms after it: 2 ms late. */
  metrics_packet_left(1002000000, 900000000, 1000000000, true);
  histogram_reading lag = histogram_read(&metrics_now.pacing_lag);
  histogram_reading first = histogram_read(&metrics_now.first_packet);
  assert_int_equal(lag.cumulative[lag.bound_count], 1);
  assert_true(lag.sum_s > 0.0019 && lag.sum_s < 0.0021);
  assert_int_equal(first.cumulative[first.bound_count], 1);
}

static void *count_on_a_thread(void *arg) {
  histogram_observe_ns(arg, 3000000);
  unsigned *shard = malloc(sizeof *shard);
  *shard = thread_shard();
  return shard;
}

static void threads_add_to_their_own_shards(void **unused) {
  (void)unused;
  histogram h;
  const double bounds[] = {0.001};
  histogram_init(&h, bounds, 1);
  histogram_observe_ns(&h, 3000000);
  unsigned mine = thread_shard();
  assert_int_equal(thread_shard(), mine);
  pthread_t other;
  assert_int_equal(pthread_create(&other, NULL, count_on_a_thread, &h), 0);
  void *result;
  pthread_join(other, &result);
  unsigned theirs = *(unsigned *)result;
  free(result);
  assert_int_not_equal(mine, theirs);
  assert_int_equal(h.shards[mine].counts[1], 1);
  assert_int_equal(h.shards[theirs].counts[1], 1);
  histogram_reading r = histogram_read(&h);
  assert_int_equal(r.cumulative[0], 0);
  assert_int_equal(r.cumulative[1], 2);
  assert_true(r.sum_s > 0.0059 && r.sum_s < 0.0061);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(family_and_samples),
      cmocka_unit_test(histogram_is_cumulative),
      cmocka_unit_test(out_of_range_values_fold_into_unknown),
      cmocka_unit_test(lag_counts_from_the_later_of_due_and_start),
      cmocka_unit_test(threads_add_to_their_own_shards),
  };
  return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
