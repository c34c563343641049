/* The Redis store engine against a redis-server of its own: started on a
 * free loopback port in a temp folder by the group setup, emptied before
 * each test, killed by the group teardown (also after a failed test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store_engine.h"
#include "store/store_redis.h"
#include "store_engine_checks.h"

#ifndef REDIS_SERVER /* -DREDIS_SERVER='"/nowhere"' tries the skip */
#define REDIS_SERVER "/usr/bin/redis-server"
#endif

typedef struct server {
  char dir[64];
  int port;
  pid_t pid; /* 0 while not running */
  char url[64]; /* redis://127.0.0.1:PORT */
} server;

static bool have_redis;

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A port nothing listens on now: the kernel's pick for port 0. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

/* True when the server on `port` answers PING with PONG. */
static bool answers_ping(int port) {
  redisContext *c = redisConnectWithTimeout("127.0.0.1", port, (struct timeval){0, 200000});
  bool ok = false;
  if (c && !c->err) {
    redisReply *r = redisCommand(c, "PING");
    ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    freeReplyObject(r);
  }
  redisFree(c);
  return ok;
}

static void stop_server(server *s) {
  if (s->pid <= 0) return;
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  s->pid = 0;
}

/* Starts redis-server on s->port (its output in s->dir/redis.log) and waits
 * until it answers. 0 or -1. */
static int start_server(server *s) {
  char port[8], log[96];
  snprintf(port, sizeof port, "%d", s->port);
  snprintf(log, sizeof log, "%s/redis.log", s->dir);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (!freopen(log, "a", stdout) || !freopen(log, "a", stderr)) _exit(126);
    execl(REDIS_SERVER, "redis-server", "--save", "", "--appendonly", "no", "--dir", s->dir, "--port", port,
          "--bind", "127.0.0.1", "--daemonize", "no", (char *)NULL);
    _exit(127);
  }
  s->pid = pid;
  for (int i = 0; i < 100; i++) { /* 10 s */
    if (answers_ping(s->port)) return 0;
    if (waitpid(pid, NULL, WNOHANG) == pid) { /* died: port taken, bad option... */
      s->pid = 0;
      return -1;
    }
    sleep_ms(100);
  }
  stop_server(s);
  return -1;
}

static int remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  for (struct dirent *ent; (ent = readdir(d));)
    if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..")) unlinkat(dirfd(d), ent->d_name, 0);
  closedir(d);
  return rmdir(dir);
}

static int group_teardown(void **state) {
  server *s = *state;
  if (!s) return 0;
  stop_server(s);
  int rc = s->dir[0] ? remove_dir(s->dir) : 0;
  free(s);
  return rc;
}

static int group_setup(void **state) {
  /* As the server does (shared/stop_signal.c): a write to a Redis that went
   * away must be an error, not the end of the process. */
  signal(SIGPIPE, SIG_IGN);
  have_redis = access(REDIS_SERVER, X_OK) == 0;
  if (!have_redis) {
    print_message("SKIP: " REDIS_SERVER " is not installed (apt-get install redis-server)\n");
    *state = NULL;
    return 0;
  }
  server *s = calloc(1, sizeof *s);
  if (!s) return -1;
  *state = s;
  snprintf(s->dir, sizeof s->dir, "/tmp/opal-redis-XXXXXX");
  if (!mkdtemp(s->dir)) {
    s->dir[0] = '\0';
    return -1;
  }
  /* The port may be taken between free_port() and redis binding it. */
  for (int tries = 0; tries < 5; tries++) {
    s->port = free_port();
    if (s->port > 0 && start_server(s) == 0) {
      snprintf(s->url, sizeof s->url, "redis://127.0.0.1:%d", s->port);
      return 0;
    }
  }
  print_error("cannot start %s (see %s/redis.log)\n", REDIS_SERVER, s->dir);
  return -1;
}

/* A raw command on database `db` of the test's server; the reply is checked
 * to be no error and returned (freeReplyObject it). */
static redisReply *raw(server *s, int db, const char *fmt, ...) {
  redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, (struct timeval){2, 0});
  assert_true(c && !c->err);
  redisReply *r = redisCommand(c, "SELECT %d", db);
  assert_non_null(r);
  freeReplyObject(r);
  va_list ap;
  va_start(ap, fmt);
  r = redisvCommand(c, fmt, ap);
  va_end(ap);
  redisFree(c);
  assert_non_null(r);
  if (r->type == REDIS_REPLY_ERROR) fail_msg("raw %s: %s", fmt, r->str);
  return r;
}

static int flush_all(void **state) {
  server *s = *state;
  if (!s) return 0; /* the test skips itself */
  freeReplyObject(raw(s, 0, "FLUSHALL"));
  return 0;
}

static server *need_server(void **state) {
  if (!have_redis) skip();
  return *state;
}

/* What the engine reported by itself (its listener thread, or a save). */
typedef struct heard {
  pthread_mutex_t lock;
  int released, handed;
  char id[DEVICE_ID_MAX_LEN + 1], by[STORE_REPLICA_MAX + 1];
  store_record record;
} heard;

static heard events_heard = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void heard_released(void *ctx, const char *id, const char *by) {
  heard *h = ctx;
  pthread_mutex_lock(&h->lock);
  h->released++;
  snprintf(h->id, sizeof h->id, "%s", id);
  snprintf(h->by, sizeof h->by, "%s", by);
  pthread_mutex_unlock(&h->lock);
}

static void heard_handed(void *ctx, const char *id, const store_record *record) {
  heard *h = ctx;
  pthread_mutex_lock(&h->lock);
  h->handed++;
  snprintf(h->id, sizeof h->id, "%s", id);
  h->record = *record;
  pthread_mutex_unlock(&h->lock);
}

/* The engine as replica `replica`, reporting to events_heard. */
static store_engine *redis_open_as(const char *url, const char *replica, char *err, size_t err_len) {
  store_engine_events ev = {.ctx = &events_heard, .released = heard_released, .handed = heard_handed};
  return store_redis_open(url, replica, &ev, err, err_len);
}

static store_engine *redis_open(const char *url, char *err, size_t err_len) {
  return redis_open_as(url, "unit", err, err_len);
}

static store_engine *open_ok(const char *url) { return open_engine(redis_open, url); }

static void expect_field(server *s, int db, const char *key, const char *field, const char *value) {
  redisReply *r = raw(s, db, "HGET %s %s", key, field);
  assert_int_equal(r->type, REDIS_REPLY_STRING);
  assert_string_equal(r->str, value);
  freeReplyObject(r);
}

static void absent_is_zero(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  expect_absent(e, "nobody");
  e->ops->close(e);
}

static void save_three_then_load_each(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  check_three_records(e);
  /* The layout other tools rely on: one hash per device. */
  expect_field(s, 0, "opal:device:{hall}", "mode", "2");
  expect_field(s, 0, "opal:device:{hall}", "version", "7");
  e->ops->close(e);
}

/* Ids are arguments, not command text: spaces, quotes, braces, 64 bytes. */
static void odd_ids_are_kept_apart(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  char long_id[DEVICE_ID_MAX_LEN + 1];
  memset(long_id, 'x', DEVICE_ID_MAX_LEN);
  long_id[DEVICE_ID_MAX_LEN] = '\0';
  save_one(e, "a b \"c\" %s {d}", 1, 1);
  save_one(e, long_id, 2, 2);
  save_one(e, "a", 3, 3);
  expect_record(e, "a b \"c\" %s {d}", 1, 1);
  expect_record(e, long_id, 2, 2);
  expect_record(e, "a", 3, 3);
  expect_absent(e, "a b");
  expect_field(s, 0, "opal:device:{a b \"c\" %s {d}}", "mode", "1");
  e->ops->close(e);
}

static void older_or_equal_version_keeps_newer(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  check_versions_never_go_back(e);
  /* Beyond 2^53, where Lua's doubles would call these equal. */
  save_one(e, "big", 1, UINT64_MAX - 1);
  save_one(e, "big", 2, UINT64_MAX - 2);
  expect_record(e, "big", 1, UINT64_MAX - 1);
  save_one(e, "big", 3, UINT64_MAX);
  expect_record(e, "big", 3, UINT64_MAX);
  /* A version stored by hand with leading zeros still compares as a number. */
  freeReplyObject(raw(s, 0, "HSET opal:device:{z} mode 1 version 0010"));
  save_one(e, "z", 2, 9);
  expect_record(e, "z", 1, 10);
  save_one(e, "z", 3, 11);
  expect_record(e, "z", 3, 11);
  e->ops->close(e);
}

static void thousand_in_one_batch(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  check_thousand_in_one_batch(e);
  e->ops->close(e);
  redisReply *r = raw(s, 0, "DBSIZE");
  assert_int_equal(r->integer, CHECK_BATCH_N);
  freeReplyObject(r);
}

static void databases_are_apart(void **state) {
  server *s = need_server(state);
  char url1[80], url2[80];
  snprintf(url1, sizeof url1, "%s/1", s->url);
  snprintf(url2, sizeof url2, "%s/2", s->url);
  store_engine *one = open_ok(url1), *two = open_ok(url2), *none = open_ok(s->url);
  save_one(one, "a", 1, 1);
  expect_record(one, "a", 1, 1);
  expect_absent(two, "a");
  expect_absent(none, "a"); /* no /DB: database 0 */
  save_one(two, "a", 2, 1);
  expect_record(one, "a", 1, 1);
  expect_record(two, "a", 2, 1);
  expect_field(s, 1, "opal:device:{a}", "mode", "1");
  one->ops->close(one);
  two->ops->close(two);
  none->ops->close(none);
  char err[256] = "", url[80];
  snprintf(url, sizeof url, "%s/99999", s->url);
  assert_null(redis_open(url, err, sizeof err));
  assert_non_null(strstr(err, "selecting database 99999"));
}

static void expect_problem(const char *url, const char *words) {
  const char *problem = store_redis_url_problem(url);
  if (!problem || !strstr(problem, words)) fail_msg("%s: %s", url, problem ? problem : "(no problem)");
  char err[256] = "";
  assert_null(redis_open(url, err, sizeof err));
  assert_non_null(strstr(err, problem));
  assert_non_null(strstr(err, url));
}

/* Needs no server. */
static void url_problems(void **state) {
  (void)state;
  expect_problem("redis://", "no host");
  expect_problem("redis://host", "no :PORT");
  expect_problem("redis://host:99999", "port must be a number from 1 to 65535");
  expect_problem("redis://host:0", "port must be");
  expect_problem("redis://host:1/x", "database");
  expect_problem("redis://host:1/", "database");
  expect_problem("redis://host:1x", "only /DB");
  expect_problem("http://x", "expected redis://");
  expect_problem("redis://[::1:6379", "not closed");
  expect_problem("redis://[nope]:6379", "IPv6");
  expect_problem("redis://a@b:6379", "the host may hold only");
  assert_non_null(store_redis_url_problem(NULL));
  assert_null(store_redis_url_problem("redis://localhost:6379"));
  assert_null(store_redis_url_problem("redis://10.0.0.1:6379/15"));
  assert_null(store_redis_url_problem("redis://[::1]:6379/0"));
  assert_null(store_redis_url_problem("redis://redis-1.example_net:1"));
}

/* Needs no server either. */
static void nothing_listening_fails(void **state) {
  (void)state;
  int port = free_port();
  assert_true(port > 0);
  char url[64], where[40], err[256] = "";
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
  snprintf(where, sizeof where, "redis 127.0.0.1:%d: ", port);
  assert_null(redis_open(url, err, sizeof err));
  assert_non_null(strstr(err, where));
  assert_non_null(strstr(err, "refused"));
  assert_null(strchr(err, '\n'));
}

static void ipv6_host_is_named_in_errors(void **state) {
  server *s = need_server(state);
  /* The server binds 127.0.0.1 only: [::1] reaches nothing, and says so. */
  char url[64], err[256] = "";
  snprintf(url, sizeof url, "redis://[::1]:%d", s->port);
  assert_null(redis_open(url, err, sizeof err));
  char where[40];
  snprintf(where, sizeof where, "redis [::1]:%d: ", s->port);
  assert_non_null(strstr(err, where));
}

/* Down: a save fails naming the server. Back: the next save connects again. */
static void restarted_redis_is_reconnected(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  save_one(e, "a", 1, 1);
  stop_server(s);
  assert_int_equal(start_server(s), 0);
  save_one(e, "a", 2, 2); /* the old connection is dead: found out, made again */
  expect_record(e, "a", 2, 2);
  stop_server(s);
  store_write w = {"b", {3, 1}};
  char err[256] = "", where[40];
  snprintf(where, sizeof where, "redis 127.0.0.1:%d: ", s->port);
  assert_int_equal(e->ops->save(e, &w, 1, err, sizeof err), -1);
  assert_non_null(strstr(err, where));
  store_record r;
  err[0] = '\0';
  assert_int_equal(e->ops->load(e, "a", &r, err, sizeof err), -1);
  assert_non_null(strstr(err, "refused"));
  assert_int_equal(start_server(s), 0);
  save_one(e, "b", 3, 1);
  expect_record(e, "b", 3, 1);
  expect_absent(e, "a"); /* the server keeps nothing across restarts (--save '') */
  e->ops->close(e);
}

/* A Redis that stops answering makes a call fail after the timeout. */
static void hung_redis_times_out(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  assert_int_equal(kill(s->pid, SIGSTOP), 0);
  store_record r;
  char err[256] = "";
  time_t start = time(NULL);
  int rc = e->ops->load(e, "a", &r, err, sizeof err);
  time_t took = time(NULL) - start;
  assert_int_equal(kill(s->pid, SIGCONT), 0);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(err, "timed out"));
  assert_true(took <= 4);
  expect_absent(e, "a"); /* and works again once Redis does */
  e->ops->close(e);
}

/* SCRIPT FLUSH (or a restart behind our back): NOSCRIPT, then EVAL. */
static void lost_script_falls_back_to_eval(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  freeReplyObject(raw(s, 0, "SCRIPT FLUSH"));
  save_one(e, "a", 1, 1);
  expect_record(e, "a", 1, 1);
  save_one(e, "a", 2, 2); /* EVAL cached it again: EVALSHA works */
  expect_record(e, "a", 2, 2);
  e->ops->close(e);
}

static void malformed_value_fails_load(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  save_one(e, "bad", 1, 1);
  freeReplyObject(raw(s, 0, "HSET %s %s %s", "opal:device:{bad}", "mode", "abc"));
  store_record r;
  char err[256] = "";
  assert_int_equal(e->ops->load(e, "bad", &r, err, sizeof err), -1);
  assert_non_null(strstr(err, "opal:device:{bad}"));
  assert_non_null(strstr(err, "mode"));
  freeReplyObject(raw(s, 0, "HSET opal:device:{bad} mode 1 version abc"));
  assert_int_equal(e->ops->load(e, "bad", &r, err, sizeof err), -1);
  assert_non_null(strstr(err, "stored version is not a decimal number"));
  freeReplyObject(raw(s, 0, "HDEL opal:device:{bad} version"));
  assert_int_equal(e->ops->load(e, "bad", &r, err, sizeof err), -1);
  assert_non_null(strstr(err, "stored version is missing"));
  freeReplyObject(raw(s, 0, "HSET opal:device:{bad} version 99999999999999999999")); /* > 2^64 */
  assert_int_equal(e->ops->load(e, "bad", &r, err, sizeof err), -1);
  /* A save replaces the damaged record rather than failing forever. */
  freeReplyObject(raw(s, 0, "HSET opal:device:{bad} version abc"));
  save_one(e, "bad", 2, 1);
  expect_record(e, "bad", 2, 1);
  e->ops->close(e);
}

/* A key of another type: load and save fail with Redis's reason; the other
 * records of the batch are still written. */
static void wrong_type_fails_with_reason(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  freeReplyObject(raw(s, 0, "SET opal:device:{str} x"));
  store_record r;
  char err[256] = "";
  assert_int_equal(e->ops->load(e, "str", &r, err, sizeof err), -1);
  assert_non_null(strstr(err, "WRONGTYPE"));
  store_write w[3] = {{"ok1", {1, 1}}, {"str", {2, 1}}, {"ok2", {3, 1}}};
  assert_int_equal(e->ops->save(e, w, 3, err, sizeof err), -1);
  assert_non_null(strstr(err, "saving device str"));
  assert_non_null(strstr(err, "WRONGTYPE"));
  expect_record(e, "ok1", 1, 1); /* each record is atomic, the batch is not */
  expect_record(e, "ok2", 3, 1);
  e->ops->close(e);
}

static void reset_heard(void) {
  pthread_mutex_lock(&events_heard.lock);
  events_heard.released = events_heard.handed = 0;
  events_heard.id[0] = events_heard.by[0] = '\0';
  pthread_mutex_unlock(&events_heard.lock);
}

/* Waits up to 3 s for *count to reach `n`. */
static bool heard_reach(const int *count, int n) {
  for (int i = 0; i < 300; i++) {
    pthread_mutex_lock(&events_heard.lock);
    bool ok = *count >= n;
    pthread_mutex_unlock(&events_heard.lock);
    if (ok) return true;
    sleep_ms(10);
  }
  return false;
}

static int claim(store_engine *e, const char *id, store_record *r, bool *asked) {
  char err[256] = "";
  int rc = e->ops->claim(e, id, r, asked, err, sizeof err);
  if (rc < 0) fail_msg("claim %s: %s", id, err);
  return rc;
}

/* A subscriber on `channel`; the caller reads messages with next_message. */
static redisContext *subscribe_raw(server *s, const char *channel) {
  redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, (struct timeval){2, 0});
  assert_true(c && !c->err);
  redisSetTimeout(c, (struct timeval){3, 0});
  redisReply *r = redisCommand(c, "SUBSCRIBE %s", channel);
  assert_non_null(r);
  freeReplyObject(r);
  return c;
}

static void next_message(redisContext *c, const char *expected) {
  redisReply *r = NULL;
  assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
  assert_int_equal(r->type, REDIS_REPLY_ARRAY);
  assert_int_equal(r->elements, 3);
  assert_string_equal(r->element[2]->str, expected);
  freeReplyObject(r);
}

/* A claim reads the record and makes this replica the owner in one step. */
static void claim_takes_ownership(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  store_record r;
  bool asked = true;
  assert_int_equal(claim(e, "new", &r, &asked), 0);
  assert_false(asked);
  expect_field(s, 0, "opal:device:{new}", "owner", "unit");
  save_one(e, "new", 3, 1);
  assert_int_equal(claim(e, "new", &r, &asked), 1);
  assert_int_equal(r.mode, 3);
  assert_false(asked); /* our own */
  /* An owner nobody listens for (a replica that died): taken, nobody asked. */
  freeReplyObject(raw(s, 0, "HSET opal:device:{new} owner gone:1"));
  assert_int_equal(claim(e, "new", &r, &asked), 1);
  assert_false(asked);
  expect_field(s, 0, "opal:device:{new}", "owner", "unit");
  e->ops->close(e);
}

/* A live owner is asked to let go, on its channel, naming the claimer. */
static void claim_asks_the_live_owner(void **state) {
  server *s = need_server(state);
  store_engine *e = open_ok(s->url);
  freeReplyObject(raw(s, 0, "HSET opal:device:{d1} mode 2 version 5 owner other:2"));
  redisContext *sub = subscribe_raw(s, "opal:replica:{other:2}");
  store_record r;
  bool asked = false;
  assert_int_equal(claim(e, "d1", &r, &asked), 1);
  assert_true(asked);
  assert_int_equal(r.mode, 2);
  assert_int_equal(r.version, 5);
  next_message(sub, "release\nd1\nunit");
  /* And hand_over publishes a record the same way. */
  char err[256] = "";
  store_record mine = {.mode = 4, .version = 6};
  assert_int_equal(e->ops->hand_over(e, "other:2", "d1", &mine, err, sizeof err), 0);
  next_message(sub, "record\nd1\n4\n6");
  redisFree(sub);
  e->ops->close(e);
}

/* What other replicas publish on our channel reaches the events; anything
 * malformed is ignored. */
static void messages_reach_the_events(void **state) {
  server *s = need_server(state);
  reset_heard();
  store_engine *e = open_ok(s->url);
  /* The listener subscribes on its own thread: publish until it hears. */
  for (int i = 0; i < 100 && !events_heard.handed; i++) {
    freeReplyObject(raw(s, 0, "PUBLISH %s %s", "opal:replica:{unit}", "record\nd2\n3\n9"));
    sleep_ms(20);
  }
  assert_true(heard_reach(&events_heard.handed, 1));
  assert_string_equal(events_heard.id, "d2");
  assert_int_equal(events_heard.record.mode, 3);
  assert_int_equal(events_heard.record.version, 9);
  const char *junk[] = {"record\nd2\nx\n9", "record\nd2\n3", "release\nd2", "hello", "release\n\nb",
                        "record\nd2\n3\n9\nextra"};
  for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
    freeReplyObject(raw(s, 0, "PUBLISH %s %s", "opal:replica:{unit}", junk[i]));
  freeReplyObject(raw(s, 0, "PUBLISH %s %s", "opal:replica:{unit}", "release\nd3\nnew:7"));
  assert_true(heard_reach(&events_heard.released, 1));
  assert_int_equal(events_heard.released, 1);
  assert_int_equal(events_heard.handed, 1); /* the junk was not taken for records */
  assert_string_equal(events_heard.id, "d3");
  assert_string_equal(events_heard.by, "new:7");
  e->ops->close(e);
}

/* Fencing: a replica that is not the owner has its write refused and is
 * told who owns the device; the record stays the owner's. */
static void writes_of_a_former_owner_are_refused(void **state) {
  server *s = need_server(state);
  reset_heard();
  char err[256] = "";
  store_engine *a = open_ok(s->url), *b = redis_open_as(s->url, "b", err, sizeof err);
  assert_non_null(b);
  save_one(a, "d4", 1, 1);
  store_record r;
  bool asked;
  claim(b, "d4", &r, &asked); /* b owns it now */
  save_one(b, "d4", 2, 2);
  save_one(a, "d4", 3, 9); /* newer, but a is no owner */
  expect_record(a, "d4", 2, 2);
  assert_true(heard_reach(&events_heard.released, 1));
  assert_string_equal(events_heard.id, "d4");
  assert_string_equal(events_heard.by, "b");
  a->ops->close(a);
  b->ops->close(b);
}

int main(void) {
#define T(name) cmocka_unit_test_setup(name, flush_all)
  const struct CMUnitTest tests[] = {
      T(absent_is_zero),
      T(save_three_then_load_each),
      T(odd_ids_are_kept_apart),
      T(older_or_equal_version_keeps_newer),
      T(thousand_in_one_batch),
      T(databases_are_apart),
      cmocka_unit_test(url_problems),
      cmocka_unit_test(nothing_listening_fails),
      T(ipv6_host_is_named_in_errors),
      T(restarted_redis_is_reconnected),
      T(hung_redis_times_out),
      T(lost_script_falls_back_to_eval),
      T(malformed_value_fails_load),
      T(wrong_type_fails_with_reason),
      T(claim_takes_ownership),
      T(claim_asks_the_live_owner),
      T(messages_reach_the_events),
      T(writes_of_a_former_owner_are_refused),
  };
#undef T
  return cmocka_run_group_tests_name("store_redis", tests, group_setup, group_teardown);
}
