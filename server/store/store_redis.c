/* Layout in Redis (the database the URL's /DB names, else 0):
 *
 *   opal:device:{ID}   a hash, one per device
 *     mode             decimal, 0 .. 2^32-1
 *     version          decimal, 0 .. 2^64-1; grows by one with every change
 *
 * ID is the device id as it is (printable ASCII, 1-64 bytes). It reaches
 * Redis only as a binary-safe argument (%b), never inside a command string.
 * The braces make it the Redis Cluster hash tag: anything later kept per
 * device under opal:...:{ID} lands in the same slot as this hash.
 *
 * A save is one round trip: one script call per record, pipelined. The
 * script compares versions and writes inside Redis, so each record is
 * atomic and never replaces a newer one, even while other servers write the
 * same key. The batch is NOT atomic (unlike SQLite's all-or-none): a failed
 * save may have written some records. That is harmless, because the store
 * thread retries the whole batch and writing a record twice changes
 * nothing. One call per record rather than one script over the whole batch
 * because a script may only touch keys of one hash slot under Redis Cluster,
 * and every device has a slot of its own.
 *
 * hiredis writes with write(2): the process must ignore SIGPIPE (the server
 * does, shared/stop_signal.c), or a Redis that went away kills it. */
#include "store/store_redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define KEY_PREFIX "opal:device:{"
/* Prefix, id, "}" and NUL. Ids are checked before they reach the store
 * (device_id_problem); an engine only never reads past an id's array. */
#define KEY_SIZE (sizeof KEY_PREFIX + DEVICE_ID_MAX_LEN + 2)

/* Connecting, and then each reply, may take this long before a call fails:
 * a dead Redis must not hold the store thread for long. */
static const struct timeval connect_timeout = {.tv_sec = 2}, command_timeout = {.tv_sec = 2};

/* KEYS[1]: the device's hash. ARGV: mode, version (decimal, no leading
 * zeros). Versions are compared as digit strings because Lua numbers are
 * doubles, which cannot tell versions above 2^53 apart. A stored version
 * that is not a number is replaced: load reports it, and refusing here would
 * fail every later save of the batch it is in. Returns 1 written, 0 kept. */
static const char save_script[] =
    "local function newer(a, b)\n"
    "  if #a ~= #b then return #a > #b end\n"
    "  for i = 1, #a do if a:byte(i) ~= b:byte(i) then return a:byte(i) > b:byte(i) end end\n"
    "  return false\n"
    "end\n"
    "local old = redis.call('HGET', KEYS[1], 'version')\n"
    "if old and old:match('^%d+$') and not newer(ARGV[2], (old:gsub('^0+(%d)', '%1'))) then\n"
    "  return 0\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'mode', ARGV[1], 'version', ARGV[2])\n"
    "return 1\n";

typedef struct redis_url {
  char host[256];  /* as hiredis takes it: an IPv6 address without [ ] */
  char where[272]; /* "HOST:PORT" as written in the URL, named in every error */
  int port;
  int db; /* SELECTed after every connect; -1: none given (Redis's 0) */
} redis_url;

typedef struct redis_engine {
  store_engine base; /* first: the store_engine * we hand out is this */
  redis_url url;
  redisContext *ctx; /* NULL while not connected */
  char sha[41];      /* the save script's SHA1, from SCRIPT LOAD */
} redis_engine;

/* Every error line starts "redis WHERE: ". */
#define fail(err, err_len, where, ...) store_engine_fail(err, err_len, "redis", where, __VA_ARGS__)

/* Reads a decimal number no larger than `max` at *p and moves *p past it. */
static bool parse_number(const char **p, uint64_t max, uint64_t *out) {
  const char *s = *p;
  uint64_t n = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    unsigned d = (unsigned)(*s - '0');
    if (n > (max - d) / 10) return false;
    n = n * 10 + d;
  }
  if (s == *p) return false;
  *p = s;
  *out = n;
  return true;
}

static bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

/* A name or IPv4 address up to ':', or an IPv6 address in [ ]. */
static const char *parse_host(const char **p, redis_url *u) {
  const char *s = *p, *end;
  bool bracketed = *s == '[';
  if (bracketed) {
    if (!(end = strchr(++s, ']'))) return "the [ of an IPv6 address is not closed with ]";
  } else {
    end = s + strcspn(s, ":/");
    if (end == s) return "no host after redis://";
    for (const char *c = s; c < end; c++)
      if (!host_char(*c)) return "the host may hold only letters, digits, '.', '-' and '_' (IPv6 in [ ])";
  }
  if ((size_t)(end - s) >= sizeof u->host) return "the host is longer than 255 bytes";
  snprintf(u->host, sizeof u->host, "%.*s", (int)(end - s), s);
  struct in6_addr ip6;
  if (bracketed && inet_pton(AF_INET6, u->host, &ip6) != 1) return "[HOST] must be an IPv6 address";
  *p = bracketed ? end + 1 : end;
  return NULL;
}

static const char *parse_url(const char *url, redis_url *u) {
  static const char scheme[] = "redis://";
  if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0)
    return "expected redis://HOST:PORT or redis://HOST:PORT/DB";
  const char *start = url + sizeof scheme - 1, *p = start, *problem = parse_host(&p, u);
  if (problem) return problem;
  uint64_t n;
  if (*p != ':') return "no :PORT after the host";
  p++;
  if (!parse_number(&p, 65535, &n) || n == 0) return "the port must be a number from 1 to 65535";
  u->port = (int)n;
  snprintf(u->where, sizeof u->where, "%.*s", (int)(p - start), start);
  u->db = -1;
  if (*p == '\0') return NULL;
  if (*p != '/') return "only /DB may follow the port";
  p++;
  if (!parse_number(&p, INT_MAX, &n) || *p != '\0') return "the database after the port must be /NUMBER";
  u->db = (int)n;
  return NULL;
}

const char *store_redis_url_problem(const char *url) {
  redis_url u;
  return parse_url(url, &u);
}

/* hiredis reports a reply that did not come in time as the socket's EAGAIN. */
static bool timed_out(const redisContext *c) {
  return c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0;
}

static const char *why(const redisContext *c) {
  if (timed_out(c)) return "no answer within 2 s (timed out)";
  return c->errstr[0] ? c->errstr : "connection lost";
}

static bool connected(const redis_engine *e) { return e->ctx && !e->ctx->err; }

static void disconnect(redis_engine *e) {
  if (e->ctx) redisFree(e->ctx);
  e->ctx = NULL;
}

/* Runs one command made of `fmt` and strings (%s) and returns its reply,
 * or NULL with `what` and the reason in `err` (an error reply included). */
static redisReply *command(redis_engine *e, const char *what, char *err, size_t err_len, const char *fmt,
                           const char *arg) {
  redisReply *r = redisCommand(e->ctx, fmt, arg);
  if (r && r->type != REDIS_REPLY_ERROR) return r;
  fail(err, err_len, e->url.where, "%s: %s", what, r ? r->str : why(e->ctx));
  freeReplyObject(r);
  return NULL;
}

/* (Re)connects, selects the database and loads the save script: a Redis
 * that restarted has forgotten both. */
static int connect_redis(redis_engine *e, char *err, size_t err_len) {
  redisReply *r;
  bool ok;
  disconnect(e);
  e->ctx = redisConnectWithTimeout(e->url.host, e->url.port, connect_timeout);
  if (!e->ctx || e->ctx->err) {
    fail(err, err_len, e->url.where, "%s", e->ctx ? why(e->ctx) : "out of memory");
    goto broken;
  }
  if (redisSetTimeout(e->ctx, command_timeout) != REDIS_OK) {
    fail(err, err_len, e->url.where, "setting a timeout: %s", why(e->ctx));
    goto broken;
  }
  if (e->url.db >= 0) {
    char db[16], what[40];
    snprintf(db, sizeof db, "%d", e->url.db);
    snprintf(what, sizeof what, "selecting database %s", db);
    if (!(r = command(e, what, err, err_len, "SELECT %s", db))) goto broken;
    freeReplyObject(r);
  }
  if (!(r = command(e, "loading the save script", err, err_len, "SCRIPT LOAD %s", save_script)))
    goto broken;
  ok = r->type == REDIS_REPLY_STRING && r->len == sizeof e->sha - 1;
  if (ok) memcpy(e->sha, r->str, sizeof e->sha); /* hiredis ends str with a NUL */
  freeReplyObject(r);
  if (ok) return 0;
  fail(err, err_len, e->url.where, "loading the save script: unexpected reply");
broken:
  disconnect(e);
  return -1;
}

/* Each call starts with ready() and, when its attempt failed, asks again()
 * whether to make one more. A connection that broke while idle (Redis
 * restarted) is only found broken when used: when an attempt breaks a
 * connection made before this call, again() connects anew (loads and saves
 * can be repeated). A timeout is not retried: a hung Redis would only hold
 * the caller twice as long. At most one connect per call; the store thread
 * retries failed writes itself. */
static int ready(redis_engine *e, bool *fresh, char *err, size_t err_len) {
  *fresh = !connected(e);
  return *fresh ? connect_redis(e, err, err_len) : 0;
}

static bool again(redis_engine *e, bool fresh, char *err, size_t err_len) {
  return !fresh && e->ctx && e->ctx->err && !timed_out(e->ctx) && connect_redis(e, err, err_len) == 0;
}

/* The key of the id in `id`'s array (which may be full, with no NUL). */
static size_t make_key(char key[KEY_SIZE], const char *id) {
  int len = (int)strnlen(id, DEVICE_ID_MAX_LEN + 1);
  return (size_t)snprintf(key, KEY_SIZE, KEY_PREFIX "%.*s}", len, id);
}

/* A stored field: decimal digits only, no larger than `max`. */
static bool stored_number(const redisReply *r, uint64_t max, uint64_t *out) {
  const char *p = r->str;
  return r->type == REDIS_REPLY_STRING && parse_number(&p, max, out) && p == r->str + r->len;
}

/* The reply to HMGET key mode version: 1 with *out, 0 absent, -1. */
static int parse_record(redis_engine *e, const char *key, const redisReply *r, store_record *out,
                        char *err, size_t err_len) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
    fail(err, err_len, e->url.where, "loading %s: %s", key,
         r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    return -1;
  }
  const redisReply *mode = r->element[0], *version = r->element[1];
  if (mode->type == REDIS_REPLY_NIL && version->type == REDIS_REPLY_NIL) return 0;
  uint64_t m, v;
  bool mode_ok = stored_number(mode, UINT32_MAX, &m);
  if (!mode_ok || !stored_number(version, UINT64_MAX, &v)) {
    const redisReply *bad = mode_ok ? version : mode;
    fail(err, err_len, e->url.where, "%s: stored %s is %s", key, mode_ok ? "version" : "mode",
         bad->type == REDIS_REPLY_NIL ? "missing" : "not a decimal number in range");
    return -1;
  }
  out->mode = (uint32_t)m;
  out->version = v;
  return 1;
}

static int load_once(redis_engine *e, const char *id, store_record *out, char *err, size_t err_len) {
  char key[KEY_SIZE];
  size_t key_len = make_key(key, id);
  redisReply *r = redisCommand(e->ctx, "HMGET %b mode version", key, key_len);
  if (!r) {
    fail(err, err_len, e->url.where, "loading %s: %s", key, why(e->ctx));
    return -1;
  }
  int rc = parse_record(e, key, r, out, err, err_len);
  freeReplyObject(r);
  return rc;
}

static int redis_load(store_engine *base, const char *id, store_record *out, char *err, size_t err_len) {
  redis_engine *e = (redis_engine *)base;
  bool fresh;
  if (ready(e, &fresh, err, err_len) != 0) return -1;
  int rc = load_once(e, id, out, err, err_len);
  if (rc < 0 && again(e, fresh, err, err_len)) rc = load_once(e, id, out, err, err_len);
  return rc;
}

/* Queues the script call for `w`: EVALSHA, or EVAL with the script's text. */
static int append_save(redis_engine *e, const store_write *w, bool by_sha) {
  char key[KEY_SIZE], mode[16], version[24];
  size_t key_len = make_key(key, w->id);
  snprintf(mode, sizeof mode, "%" PRIu32, w->record.mode);
  snprintf(version, sizeof version, "%" PRIu64, w->record.version);
  return redisAppendCommand(e->ctx, by_sha ? "EVALSHA %s 1 %b %s %s" : "EVAL %s 1 %b %s %s",
                            by_sha ? e->sha : save_script, key, key_len, mode, version);
}

/* Sends every record's call, then reads every reply: one left unread would
 * be taken for the answer to a later command. *noscript: Redis has lost the
 * script (SCRIPT FLUSH, a restart since we loaded it). */
static int save_pipeline(redis_engine *e, const store_write *w, size_t n, bool by_sha, bool *noscript,
                         char *err, size_t err_len) {
  *noscript = false;
  for (size_t i = 0; i < n; i++)
    if (append_save(e, &w[i], by_sha) != REDIS_OK) {
      fail(err, err_len, e->url.where, "saving: out of memory");
      disconnect(e); /* half a pipeline is queued: the connection is of no more use */
      return -1;
    }
  size_t failed = 0;
  for (size_t i = 0; i < n; i++) {
    void *reply = NULL;
    if (redisGetReply(e->ctx, &reply) != REDIS_OK) {
      fail(err, err_len, e->url.where, "saving a batch of %zu: %s", n, why(e->ctx));
      return -1; /* the connection is broken: the other replies are lost with it */
    }
    const redisReply *r = reply;
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0)
      *noscript = true;
    else if (r->type != REDIS_REPLY_INTEGER && failed++ == 0)
      fail(err, err_len, e->url.where, "saving device %.*s: %s", (int)strnlen(w[i].id, sizeof w[i].id),
           w[i].id, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply from the save script");
    freeReplyObject(reply);
  }
  size_t used = err ? strnlen(err, err_len) : 0;
  if (failed > 1 && used + 1 < err_len)
    snprintf(err + used, err_len - used, " (%zu of %zu records not saved)", failed, n);
  if (*noscript && !failed) fail(err, err_len, e->url.where, "saving: Redis does not have the save script");
  return failed || *noscript ? -1 : 0;
}

static int save_once(redis_engine *e, const store_write *w, size_t n, char *err, size_t err_len) {
  bool noscript;
  int rc = save_pipeline(e, w, n, true, &noscript, err, err_len);
  /* EVAL also puts the script back in Redis's cache for the next EVALSHA. */
  if (noscript && connected(e)) rc = save_pipeline(e, w, n, false, &noscript, err, err_len);
  return rc;
}

static int redis_save(store_engine *base, const store_write *writes, size_t n, char *err, size_t err_len) {
  redis_engine *e = (redis_engine *)base;
  bool fresh;
  if (n == 0) return 0; /* not even a connect */
  if (ready(e, &fresh, err, err_len) != 0) return -1;
  int rc = save_once(e, writes, n, err, err_len);
  if (rc < 0 && again(e, fresh, err, err_len)) rc = save_once(e, writes, n, err, err_len);
  return rc;
}

static void redis_close(store_engine *base) {
  redis_engine *e = (redis_engine *)base;
  if (!e) return;
  disconnect(e);
  free(e);
}

static const store_engine_ops redis_ops = {
    .load = redis_load,
    .save = redis_save,
    .close = redis_close,
};

store_engine *store_redis_open(const char *url, char *err, size_t err_len) {
  redis_engine *e = calloc(1, sizeof *e);
  const char *problem = e ? parse_url(url, &e->url) : "out of memory";
  if (problem) {
    if (err && err_len) snprintf(err, err_len, "redis: %s (got '%s')", problem, url ? url : "");
    free(e);
    return NULL;
  }
  e->base.ops = &redis_ops;
  if (connect_redis(e, err, err_len) != 0) {
    redis_close(&e->base);
    return NULL;
  }
  return &e->base;
}
