#include "store/store_sqlite.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Schema changes, oldest first: a database whose user_version is N has had
 * the first N applied. A later session migrates by appending a step; never
 * edit or reorder one that has shipped. */
static const char *const migrations[] = {
    /* 1: one row per device, looked up only by id, hence WITHOUT ROWID. */
    "CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, mode INTEGER NOT NULL,"
    " version INTEGER NOT NULL) WITHOUT ROWID",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* How long a statement waits for another connection's lock (a reader's
 * checkpoint, a second server opening the file) before failing. */
#define BUSY_TIMEOUT_MS 5000

typedef struct sqlite_engine {
  store_engine base; /* first: the store_engine * we hand out is this */
  sqlite3 *db;
  char *path; /* owned copy, named in every error */
  /* Prepared once at open, reset after each use. */
  sqlite3_stmt *select, *upsert, *begin, *commit, *rollback;
} sqlite_engine;

/* Every error line starts "sqlite WHERE: ". */
#define fail(err, err_len, path, ...) store_engine_fail(err, err_len, "sqlite", path, __VA_ARGS__)

/* SQLite says only "unable to open database file"; a look at the path
 * usually tells why. "" when nothing cheap explains it. */
static const char *why_cannot_open(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode)) return " (it is a folder)";
    return access(path, R_OK | W_OK) != 0 ? " (no permission)" : "";
  }
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
  if (!dir) return "";
  const char *why = "";
  if (stat(dir, &st) != 0)
    why = errno == ENOENT ? " (folder does not exist)" : errno == ENOTDIR ? " (a parent is not a folder)" : "";
  else if (!S_ISDIR(st.st_mode))
    why = " (its folder is a file)";
  else if (access(dir, W_OK | X_OK) != 0)
    why = " (no permission to create it)";
  free(dir);
  return why;
}

static int open_db(sqlite_engine *e, char *err, size_t err_len) {
  /* NOMUTEX: only the store thread ever uses this connection. */
  int rc = sqlite3_open_v2(e->path, &e->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           NULL);
  if (rc != SQLITE_OK) {
    fail(err, err_len, e->path, "%s%s", e->db ? sqlite3_errmsg(e->db) : "out of memory",
         rc == SQLITE_CANTOPEN ? why_cannot_open(e->path) : "");
    return -1;
  }
  /* SQLite quietly opens a write-protected file read-only; say so now, not
   * at the first save. */
  if (sqlite3_db_readonly(e->db, "main") == 1) {
    fail(err, err_len, e->path, "file is read-only (no permission to write it)");
    return -1;
  }
  sqlite3_busy_timeout(e->db, BUSY_TIMEOUT_MS);
  return 0;
}

static int exec(sqlite_engine *e, const char *sql, char *err, size_t err_len) {
  if (sqlite3_exec(e->db, sql, NULL, NULL, NULL) == SQLITE_OK) return 0;
  fail(err, err_len, e->path, "%s", sqlite3_errmsg(e->db));
  return -1;
}

/* Runs `sql`, which yields at most one row, and copies that row's first
 * column as text to `out` ("" when there is no row). 0 or -1. This is also
 * the first read of the file, where a file that is not a database fails. */
static int query_one(sqlite_engine *e, const char *sql, char *out, size_t out_len, char *err,
                     size_t err_len) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(e->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  out[0] = '\0';
  if (rc == SQLITE_ROW) {
    const unsigned char *text = sqlite3_column_text(st, 0);
    snprintf(out, out_len, "%s", text ? (const char *)text : "");
    rc = SQLITE_DONE;
  }
  if (rc != SQLITE_DONE) fail(err, err_len, e->path, "%s", sqlite3_errmsg(e->db));
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* A file written by a newer server may hold what we would misread or
 * damage: refused, not opened. */
static int read_schema_version(sqlite_engine *e, int *version, char *err, size_t err_len) {
  char text[24];
  if (query_one(e, "PRAGMA user_version", text, sizeof text, err, err_len) != 0) return -1;
  *version = atoi(text);
  if (*version > SCHEMA_VERSION) {
    fail(err, err_len, e->path, "schema version %d is newer than this server knows (%d); use a newer opal-server",
         *version, SCHEMA_VERSION);
    return -1;
  }
  if (*version < 0) {
    fail(err, err_len, e->path, "schema version %d is not one of Opal's", *version);
    return -1;
  }
  return 0;
}

/* WAL: other processes (a backup, the sqlite3 shell) read while the server
 * writes, neither blocking the other. synchronous=NORMAL: in WAL mode a
 * COMMIT has written the transaction to the -wal file (the OS holds it)
 * before it returns, so a committed save survives a crash or kill -9 of the
 * server, which is what we need; only an OS crash or power loss may lose
 * the last commits (never corrupting the file). FULL would add an fsync to
 * every commit to cover that too. */
static int use_wal(sqlite_engine *e, char *err, size_t err_len) {
  char mode[16];
  if (query_one(e, "PRAGMA journal_mode=WAL", mode, sizeof mode, err, err_len) != 0) return -1;
  if (strcmp(mode, "wal") != 0) {
    fail(err, err_len, e->path, "cannot use a WAL journal (journal mode stays %s)", mode);
    return -1;
  }
  return exec(e, "PRAGMA synchronous=NORMAL", err, err_len);
}

/* Brings the schema up to SCHEMA_VERSION in one transaction. IMMEDIATE and
 * the version read again inside it: two servers opening a new file at
 * once do not both migrate. */
static int migrate(sqlite_engine *e, char *err, size_t err_len) {
  int version;
  if (exec(e, "BEGIN IMMEDIATE", err, err_len) != 0) return -1;
  if (read_schema_version(e, &version, err, err_len) != 0) goto rollback;
  for (int v = version; v < SCHEMA_VERSION; v++)
    if (exec(e, migrations[v], err, err_len) != 0) goto rollback;
  if (version < SCHEMA_VERSION) {
    char sql[40];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
    if (exec(e, sql, err, err_len) != 0) goto rollback;
  }
  if (exec(e, "COMMIT", err, err_len) == 0) return 0;
rollback:
  sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL);
  return -1;
}

static int prepare(sqlite_engine *e, const char *sql, sqlite3_stmt **out, char *err, size_t err_len) {
  /* PERSISTENT: these live as long as the engine. */
  if (sqlite3_prepare_v3(e->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) == SQLITE_OK) return 0;
  fail(err, err_len, e->path, "preparing \"%s\": %s", sql, sqlite3_errmsg(e->db));
  return -1;
}

static int prepare_statements(sqlite_engine *e, char *err, size_t err_len) {
  /* The WHERE keeps a stored record that is as new or newer. */
  static const char upsert[] =
      "INSERT INTO devices(id,mode,version) VALUES(?,?,?) ON CONFLICT(id) DO UPDATE SET "
      "mode=excluded.mode, version=excluded.version WHERE excluded.version > devices.version";
  if (prepare(e, "SELECT mode, version FROM devices WHERE id = ?", &e->select, err, err_len) != 0 ||
      prepare(e, upsert, &e->upsert, err, err_len) != 0 ||
      prepare(e, "BEGIN IMMEDIATE", &e->begin, err, err_len) != 0 ||
      prepare(e, "COMMIT", &e->commit, err, err_len) != 0 ||
      prepare(e, "ROLLBACK", &e->rollback, err, err_len) != 0)
    return -1;
  return 0;
}

/* Steps `st`, which yields no row, and resets it for the next use. On
 * error, `what` and SQLite's reason go to `err` (when not NULL). */
static int step_done(sqlite_engine *e, sqlite3_stmt *st, const char *what, char *err, size_t err_len) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) fail(err, err_len, e->path, "%s: %s", what, sqlite3_errmsg(e->db));
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

static int sqlite_load(store_engine *base, const char *id, store_record *out, char *err, size_t err_len) {
  sqlite_engine *e = (sqlite_engine *)base;
  int found = -1;
  /* STATIC: `id` outlives the step; the binding is cleared before return. */
  int rc = sqlite3_bind_text(e->select, 1, id, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(e->select);
  if (rc == SQLITE_ROW) {
    sqlite3_int64 mode = sqlite3_column_int64(e->select, 0), version = sqlite3_column_int64(e->select, 1);
    if (mode < 0 || mode > UINT32_MAX || version < 0) {
      fail(err, err_len, e->path, "device %s: stored record out of range (mode %lld, version %lld)", id,
           (long long)mode, (long long)version);
    } else {
      out->mode = (uint32_t)mode;
      out->version = (uint64_t)version;
      found = 1;
    }
  } else if (rc == SQLITE_DONE) {
    found = 0;
  } else {
    fail(err, err_len, e->path, "loading device %s: %s", id, sqlite3_errmsg(e->db));
  }
  sqlite3_reset(e->select);
  sqlite3_clear_bindings(e->select);
  return found;
}

static int upsert(sqlite_engine *e, const store_write *w, char *err, size_t err_len) {
  /* The id array may be full (no NUL): never read past it. */
  int id_len = (int)strnlen(w->id, sizeof w->id);
  char what[32 + sizeof w->id];
  snprintf(what, sizeof what, "saving device %.*s", id_len, w->id);
  /* SQLite integers are signed 64-bit: a larger version would be stored
   * negative and then never replaced again. */
  if (w->record.version > INT64_MAX) {
    fail(err, err_len, e->path, "%s: version %" PRIu64 " is too large", what, w->record.version);
    return -1;
  }
  int rc = sqlite3_bind_text(e->upsert, 1, w->id, id_len, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(e->upsert, 2, w->record.mode);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(e->upsert, 3, (sqlite3_int64)w->record.version);
  int result = -1;
  if (rc != SQLITE_OK) fail(err, err_len, e->path, "%s: %s", what, sqlite3_errmsg(e->db));
  else result = step_done(e, e->upsert, what, err, err_len);
  sqlite3_clear_bindings(e->upsert);
  return result;
}

static int sqlite_save(store_engine *base, const store_write *writes, size_t n, char *err, size_t err_len) {
  sqlite_engine *e = (sqlite_engine *)base;
  if (n == 0) return 0;
  /* IMMEDIATE: take the write lock now (waiting up to the busy timeout),
   * not halfway through the batch. */
  if (step_done(e, e->begin, "starting a save", err, err_len) != 0) return -1;
  for (size_t i = 0; i < n; i++)
    if (upsert(e, &writes[i], err, err_len) != 0) goto rollback;
  if (step_done(e, e->commit, "committing a save", err, err_len) == 0) return 0;
rollback:
  /* All or none. Some errors end the transaction themselves; a failed
   * COMMIT (busy) leaves it open. The first error stays in `err`. */
  if (!sqlite3_get_autocommit(e->db)) step_done(e, e->rollback, "rolling back", NULL, 0);
  return -1;
}

static void sqlite_close(store_engine *base) {
  sqlite_engine *e = (sqlite_engine *)base;
  if (!e) return;
  sqlite3_finalize(e->select);
  sqlite3_finalize(e->upsert);
  sqlite3_finalize(e->begin);
  sqlite3_finalize(e->commit);
  sqlite3_finalize(e->rollback);
  /* Every statement is finalized, so this closes now; the last connection
   * to the file checkpoints the WAL into it. */
  sqlite3_close(e->db);
  free(e->path);
  free(e);
}

static const store_engine_ops sqlite_ops = {
    .load = sqlite_load,
    .save = sqlite_save,
    .close = sqlite_close,
};

store_engine *store_sqlite_open(const char *path, char *err, size_t err_len) {
  sqlite_engine *e = calloc(1, sizeof *e);
  if (!e || !(e->path = strdup(path))) {
    fail(err, err_len, path, "out of memory");
    free(e);
    return NULL;
  }
  e->base.ops = &sqlite_ops;
  int version;
  /* The schema version is read before anything is written, so a file we
   * refuse is left as it was (not even switched to WAL). */
  if (open_db(e, err, err_len) != 0 || read_schema_version(e, &version, err, err_len) != 0 ||
      use_wal(e, err, err_len) != 0 || migrate(e, err, err_len) != 0 || prepare_statements(e, err, err_len) != 0) {
    sqlite_close(&e->base);
    return NULL;
  }
  return &e->base;
}
