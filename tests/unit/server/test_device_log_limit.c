/* Per-device log rate limit: bursts, the rate after them, and the counts
 * of left-out lines, read back from what the limiter wrote to stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/device_log_limit.h"

#define MS NS_PER_MS
#define SEC NS_PER_SEC

/* stderr goes to a temporary file while a test runs, so the count lines
 * the limiter writes can be read back. */
typedef struct captured {
  FILE *file;
  int saved_fd;
  char text[8192];
} captured;

static void capture(captured *c) {
  fflush(stderr);
  c->file = tmpfile();
  assert_non_null(c->file);
  c->saved_fd = dup(STDERR_FILENO);
  assert_true(c->saved_fd >= 0);
  assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* What was written since capture (or the last read). */
static const char *captured_text(captured *c) {
  fflush(stderr);
  long end = ftell(c->file);
  rewind(c->file);
  size_t n = fread(c->text, 1, sizeof c->text - 1, c->file);
  c->text[n] = '\0';
  assert_int_equal(fseek(c->file, end, SEEK_SET), 0);
  return c->text;
}

static void release(captured *c) {
  fflush(stderr);
  dup2(c->saved_fd, STDERR_FILENO);
  close(c->saved_fd);
  fclose(c->file);
}

static int occurrences(const char *text, const char *what) {
  int n = 0;
  for (const char *p = strstr(text, what); p; p = strstr(p + 1, what)) n++;
  return n;
}

static int count_admitted(device_log_limit *l, const char *id, int lines, int64_t now) {
  int n = 0;
  for (int i = 0; i < lines; i++) n += device_log_admit(l, id, LOG_INFO, now);
  return n;
}

static void a_burst_then_the_rate(void **unused) {
  (void)unused;
  device_log_limit l;
  device_log_limit_init(&l, 10);
  captured c;
  capture(&c);
  assert_int_equal(count_admitted(&l, "a", 25, 0), 20); /* two seconds' worth */
  assert_false(device_log_admit(&l, "a", LOG_INFO, 50 * MS));
  /* One line every 100 ms after the burst; while the flood goes on, the
   * lines let through carry no count with them. */
  assert_true(device_log_admit(&l, "a", LOG_INFO, 100 * MS));
  assert_false(device_log_admit(&l, "a", LOG_INFO, 150 * MS));
  assert_true(device_log_admit(&l, "a", LOG_INFO, 200 * MS));
  assert_int_equal(occurrences(captured_text(&c), "suppressed"), 0);
  /* Quiet for a second: its next line comes after the count. */
  assert_true(device_log_admit(&l, "a", LOG_INFO, 1200 * MS));
  assert_non_null(strstr(captured_text(&c), "log device=a: 7 lines suppressed in the last 1.2 s"));
  device_log_limit_clear(&l); /* what it still owes goes to the capture too */
  release(&c);
}

static void devices_have_their_own_bucket(void **unused) {
  (void)unused;
  device_log_limit l;
  device_log_limit_init(&l, 5);
  captured c;
  capture(&c);
  assert_int_equal(count_admitted(&l, "loud", 1000, SEC), 10);
  assert_int_equal(count_admitted(&l, "calm", 3, SEC), 3);
  device_log_limit_clear(&l); /* what it still owes goes to the capture too */
  release(&c);
}

static void the_count_goes_out_once_the_device_is_quiet(void **unused) {
  (void)unused;
  device_log_limit l;
  device_log_limit_init(&l, 20);
  captured c;
  capture(&c);
  count_admitted(&l, "f", 1040, 0); /* 40 written, 1000 counted */
  device_log_limit_sweep(&l, 500 * MS);
  assert_null(strstr(captured_text(&c), "suppressed"));
  device_log_limit_sweep(&l, 1000 * MS);
  assert_non_null(strstr(captured_text(&c), "log device=f: 1000 lines suppressed in the last 1.0 s"));
  /* Said once: a later sweep has nothing to add, and forgets the device
   * once its bucket is full again. */
  device_log_limit_sweep(&l, 2500 * MS);
  assert_int_equal(occurrences(captured_text(&c), "suppressed"), 1);
  assert_int_equal(l.count, 0);
  device_log_limit_clear(&l); /* what it still owes goes to the capture too */
  release(&c);
}

static void a_steady_flood_is_counted_every_interval(void **unused) {
  (void)unused;
  device_log_limit l;
  device_log_limit_init(&l, 1);
  captured c;
  capture(&c);
  int written = 0, offered = 0;
  /* 100 lines a second for 10.5 s. */
  for (int64_t t = 0; t < 10500 * MS; t += 10 * MS, offered++)
    written += device_log_admit(&l, "s", LOG_WARN, t);
  const char *text = captured_text(&c);
  unsigned long long n = 0;
  double secs = 0;
  const char *line = strstr(text, "log device=s: ");
  assert_non_null(line);
  assert_int_equal(sscanf(line, "log device=s: %llu lines suppressed in the last %lf s", &n, &secs),
                   2);
  assert_true(secs >= 10.0 && secs < 10.5);
  assert_true(strstr(text, "warn") != NULL); /* at the level of what it counts */
  /* 2 of burst, then one a second: whatever was neither written nor in
   * this count is still being counted. */
  assert_true(written >= 11 && written <= 13);
  assert_true(n > 900 && (int)n < offered - written);
  device_log_limit_clear(&l); /* what it still owes goes to the capture too */
  release(&c);
}

static void rate_zero_writes_everything(void **unused) {
  (void)unused;
  device_log_limit l;
  device_log_limit_init(&l, 0);
  assert_int_equal(count_admitted(&l, "x", 100000, 0), 100000);
  assert_int_equal(l.count, 0);
  device_log_limit_clear(&l);
}

static void clearing_writes_what_is_owed(void **unused) {
  (void)unused;
  device_log_limit l;
  device_log_limit_init(&l, 1);
  captured c;
  capture(&c);
  int64_t now = clock_now_ns();
  count_admitted(&l, "owed", 7, now); /* 2 written, 5 counted */
  device_log_limit_clear(&l);
  assert_non_null(strstr(captured_text(&c), "log device=owed: 5 lines suppressed"));
  release(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_burst_then_the_rate),
      cmocka_unit_test(devices_have_their_own_bucket),
      cmocka_unit_test(the_count_goes_out_once_the_device_is_quiet),
      cmocka_unit_test(a_steady_flood_is_counted_every_interval),
      cmocka_unit_test(rate_zero_writes_everything),
      cmocka_unit_test(clearing_writes_what_is_owed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
