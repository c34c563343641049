/* The SQLite store engine, each test on a database in its own temp folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store_engine.h"
#include "store/store_sqlite.h"
#include "store_engine_checks.h"

typedef struct fixture {
  char dir[64];
  char db[128]; /* dir/opal.db, not created by the fixture */
} fixture;

static int make_dir(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  snprintf(f->dir, sizeof f->dir, "/tmp/opal-store-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->db, sizeof f->db, "%s/opal.db", f->dir);
  *state = f;
  return 0;
}

/* Removes the folder with whatever the test left in it (db, -wal, -shm). */
static int remove_dir(void **state) {
  fixture *f = *state;
  DIR *d = opendir(f->dir);
  if (!d) return -1;
  for (struct dirent *ent; (ent = readdir(d));)
    if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..")) unlinkat(dirfd(d), ent->d_name, 0);
  closedir(d);
  int rc = rmdir(f->dir);
  free(f);
  return rc;
}

static store_engine *open_ok(const char *path) { return open_engine(store_sqlite_open, path); }

/* The first column of the one row `sql` yields, read by a plain connection. */
static void raw_query(const char *path, const char *sql, char *out, size_t out_len) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  snprintf(out, out_len, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void new_db_is_empty_wal_and_versioned(void **state) {
  fixture *f = *state;
  store_engine *e = open_ok(f->db);
  expect_absent(e, "a");
  e->ops->close(e);
  char text[32];
  raw_query(f->db, "PRAGMA journal_mode", text, sizeof text);
  assert_string_equal(text, "wal");
  raw_query(f->db, "PRAGMA user_version", text, sizeof text);
  assert_true(atoi(text) >= 1);
  raw_query(f->db, "SELECT count(*) FROM devices", text, sizeof text);
  assert_string_equal(text, "0");
}

static void save_three_then_load_each(void **state) {
  fixture *f = *state;
  store_engine *e = open_ok(f->db);
  check_three_records(e);
  e->ops->close(e);
}

static void records_survive_reopen(void **state) {
  fixture *f = *state;
  store_engine *e = open_ok(f->db);
  save_one(e, "a", 3, 1);
  save_one(e, "b", 4, 2);
  e->ops->close(e);
  e = open_ok(f->db);
  expect_record(e, "a", 3, 1);
  expect_record(e, "b", 4, 2);
  e->ops->close(e);
}

/* WAL + synchronous=NORMAL: a committed save survives kill -9 of its
 * process, which never got to close the database. */
static void records_survive_kill(void **state) {
  fixture *f = *state;
  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    store_engine *e = store_sqlite_open(f->db, NULL, 0);
    store_write w = {"killed", {5, 9}};
    if (!e || e->ops->save(e, &w, 1, NULL, 0) != 0) _exit(1);
    if (write(ready[1], "s", 1) != 1) _exit(1); /* saved: kill me now */
    for (;;) pause();
  }
  close(ready[1]);
  char saved = 0;
  assert_int_equal(read(ready[0], &saved, 1), 1);
  close(ready[0]);
  assert_int_equal(kill(pid, SIGKILL), 0);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  store_engine *e = open_ok(f->db);
  expect_record(e, "killed", 5, 9);
  e->ops->close(e);
}

static void older_or_equal_version_keeps_newer(void **state) {
  fixture *f = *state;
  store_engine *e = open_ok(f->db);
  check_versions_never_go_back(e);
  e->ops->close(e);
}

static void thousand_in_one_batch(void **state) {
  fixture *f = *state;
  store_engine *e = open_ok(f->db);
  check_thousand_in_one_batch(e);
  e->ops->close(e);
  char text[32];
  raw_query(f->db, "SELECT count(*) FROM devices", text, sizeof text);
  assert_string_equal(text, "1000"); /* CHECK_BATCH_N */
}

/* A batch that fails halfway leaves nothing of itself behind. */
static void failed_batch_saves_nothing(void **state) {
  fixture *f = *state;
  store_engine *e = open_ok(f->db);
  save_one(e, "old", 1, 1);
  store_write w[3] = {{"new", {2, 1}}, {"old", {3, 2}}, {"bad", {4, UINT64_MAX}}};
  char err[256] = "";
  assert_int_equal(e->ops->save(e, w, 3, err, sizeof err), -1);
  assert_non_null(strstr(err, f->db));
  assert_non_null(strstr(err, "bad"));
  assert_non_null(strstr(err, "too large"));
  expect_absent(e, "new");
  expect_record(e, "old", 1, 1);
  expect_absent(e, "bad");
  save_one(e, "new", 2, 1); /* the engine still works afterwards */
  expect_record(e, "new", 2, 1);
  e->ops->close(e);
}

static void missing_folder_fails(void **state) {
  fixture *f = *state;
  char path[192], err[256] = "";
  snprintf(path, sizeof path, "%s/nowhere/opal.db", f->dir);
  assert_null(store_sqlite_open(path, err, sizeof err));
  assert_non_null(strstr(err, "sqlite "));
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "folder does not exist"));
  assert_null(strchr(err, '\n'));
}

static void text_file_fails_and_is_left_alone(void **state) {
  fixture *f = *state;
  static const char text[] = "not a database, just some notes\nsecond line\n";
  FILE *fp = fopen(f->db, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
  char err[256] = "";
  assert_null(store_sqlite_open(f->db, err, sizeof err));
  assert_non_null(strstr(err, f->db));
  assert_non_null(strstr(err, "file is not a database"));
  char back[sizeof text + 16] = "";
  fp = fopen(f->db, "r");
  assert_non_null(fp);
  size_t n = fread(back, 1, sizeof back - 1, fp);
  fclose(fp);
  assert_int_equal(n, sizeof text - 1);
  assert_string_equal(back, text);
}

static void too_new_schema_fails(void **state) {
  fixture *f = *state;
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  char err[256] = "";
  assert_null(store_sqlite_open(f->db, err, sizeof err));
  assert_non_null(strstr(err, f->db));
  assert_non_null(strstr(err, "schema version 99 is newer"));
  char text[32];
  raw_query(f->db, "PRAGMA user_version", text, sizeof text);
  assert_string_equal(text, "99");
  raw_query(f->db, "PRAGMA journal_mode", text, sizeof text);
  assert_string_equal(text, "delete"); /* refused before anything was changed */
}

/* WAL: a second connection opens and reads while the first is open, and
 * each sees what the other committed. */
static void two_engines_share_file(void **state) {
  fixture *f = *state;
  store_engine *a = open_ok(f->db);
  save_one(a, "x", 1, 1);
  store_engine *b = open_ok(f->db);
  expect_record(b, "x", 1, 1);
  save_one(a, "x", 2, 2);
  expect_record(b, "x", 2, 2);
  expect_record(a, "x", 2, 2);
  save_one(b, "y", 3, 1);
  expect_record(a, "y", 3, 1);
  a->ops->close(a);
  expect_record(b, "y", 3, 1);
  b->ops->close(b);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, make_dir, remove_dir)
  const struct CMUnitTest tests[] = {
      T(new_db_is_empty_wal_and_versioned),
      T(save_three_then_load_each),
      T(records_survive_reopen),
      T(records_survive_kill),
      T(older_or_equal_version_keeps_newer),
      T(thousand_in_one_batch),
      T(failed_batch_saves_nothing),
      T(missing_folder_fails),
      T(text_file_fails_and_is_left_alone),
      T(too_new_schema_fails),
      T(two_engines_share_file),
  };
#undef T
  return cmocka_run_group_tests_name("store_sqlite", tests, NULL, NULL);
}
