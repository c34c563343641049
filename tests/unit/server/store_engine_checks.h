/* What every store engine (server/store/store_engine.h) must do, checked the
 * same way for each: test_store_sqlite.c and test_store_redis.c include this
 * and keep only what is their engine's own (how to open one, how to count
 * what it stored, their extra cases).
 *
 * A header of `static` functions rather than a .c of its own: the Makefile
 * links each unit test from its single .c (build/tests/server/test_X from
 * test_X.o and the libraries), so a shared .c would never be linked in. Each
 * test gets its own copy; a test file must use every function here, or
 * -Werror=unused-function stops the build. */
#ifndef OPAL_TESTS_STORE_ENGINE_CHECKS_H
#define OPAL_TESTS_STORE_ENGINE_CHECKS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "store/store_engine.h"

/* The size of the batch check_thousand_in_one_batch() saves. */
enum { CHECK_BATCH_N = 1000 };

typedef store_engine *store_open_fn(const char *where, char *err, size_t err_len);

/* An engine `open` made of `where` (a path, a URL), which must not fail nor
 * leave anything in err. */
static store_engine *open_engine(store_open_fn *open, const char *where) {
  char err[256] = "";
  store_engine *e = open(where, err, sizeof err);
  if (!e) fail_msg("open %s: %s", where, err);
  assert_string_equal(err, "");
  return e;
}

static void save_one(store_engine *e, const char *id, uint32_t mode, uint64_t version) {
  store_write w = {.record = {.mode = mode, .version = version}};
  snprintf(w.id, sizeof w.id, "%s", id);
  char err[256] = "";
  int rc = e->ops->save(e, &w, 1, err, sizeof err);
  if (rc != 0) fail_msg("save %s: %d %s", id, rc, err);
}

static void expect_record(store_engine *e, const char *id, uint32_t mode, uint64_t version) {
  store_record r = {0};
  char err[256] = "";
  int rc = e->ops->load(e, id, &r, err, sizeof err);
  if (rc != 1) fail_msg("load %s: %d %s", id, rc, err);
  assert_int_equal(r.mode, mode);
  assert_int_equal(r.version, version);
}

static void expect_absent(store_engine *e, const char *id) {
  store_record r = {0};
  char err[256] = "";
  int rc = e->ops->load(e, id, &r, err, sizeof err);
  if (rc != 0) fail_msg("load %s: %d %s", id, rc, err);
}

/* On an empty engine: three records in one save, each loaded back as it was
 * (the largest mode, a version past 2^32), "cellar" absent, and an empty
 * save is no error. Leaves kitchen 1/1, hall 2/7 and garden stored. */
static void check_three_records(store_engine *e) {
  store_write w[3] = {{"kitchen", {1, 1}}, {"hall", {2, 7}}, {"garden", {UINT32_MAX, 1ULL << 40}}};
  char err[256] = "";
  assert_int_equal(e->ops->save(e, w, 3, err, sizeof err), 0);
  expect_record(e, "kitchen", 1, 1);
  expect_record(e, "hall", 2, 7);
  expect_record(e, "garden", UINT32_MAX, 1ULL << 40);
  expect_absent(e, "cellar");
  assert_int_equal(e->ops->save(e, w, 0, err, sizeof err), 0); /* nothing to do */
}

/* On an empty engine: a write of an older or equal version leaves the stored
 * record as it is, one by one and within one batch. Uses ids "a" and "b". */
static void check_versions_never_go_back(store_engine *e) {
  save_one(e, "a", 1, 5);
  save_one(e, "a", 2, 5); /* equal: kept */
  expect_record(e, "a", 1, 5);
  save_one(e, "a", 3, 4); /* older: kept */
  expect_record(e, "a", 1, 5);
  save_one(e, "a", 4, 6); /* newer: replaced */
  expect_record(e, "a", 4, 6);
  /* Within one batch too: the later, older write does not win. */
  store_write w[2] = {{"b", {7, 9}}, {"b", {8, 3}}};
  char err[256] = "";
  assert_int_equal(e->ops->save(e, w, 2, err, sizeof err), 0);
  expect_record(e, "b", 7, 9);
}

/* On an empty engine: CHECK_BATCH_N records dev-0... in one save, each loaded
 * back; dev-CHECK_BATCH_N absent. The caller counts what is stored. */
static void check_thousand_in_one_batch(store_engine *e) {
  store_write *w = calloc(CHECK_BATCH_N, sizeof *w);
  assert_non_null(w);
  for (int i = 0; i < CHECK_BATCH_N; i++) {
    snprintf(w[i].id, sizeof w[i].id, "dev-%d", i);
    w[i].record = (store_record){.mode = (uint32_t)(i % 5), .version = (uint64_t)i + 1};
  }
  char err[256] = "", past[32];
  assert_int_equal(e->ops->save(e, w, CHECK_BATCH_N, err, sizeof err), 0);
  for (int i = 0; i < CHECK_BATCH_N; i++) expect_record(e, w[i].id, (uint32_t)(i % 5), (uint64_t)i + 1);
  snprintf(past, sizeof past, "dev-%d", (int)CHECK_BATCH_N);
  expect_absent(e, past);
  free(w);
}

#endif
