/* Layout in Redis (the database the URL's /DB names, else 0):
 *
 *   opal:device:{ID}   a hash, one per device
 *     mode             decimal, 0 .. 2^32-1
 *     version          decimal, 0 .. 2^64-1; grows by one with every change
 *     owner            the name of the replica that serves it (--replica-name)
 *
 *   opal:replica:{NAME}  a pub/sub channel per replica, which it listens on:
 *     "release\nID\nBY"             replica BY claimed device ID from you
 *     "record\nID\nMODE\nVERSION"    what the replica you claimed ID from knew
 *
 * One owner per device: a replica claims a device when a new connection of
 * it arrives (the claim script reads the record and makes itself the owner
 * in one step) and, if another replica owned it and listens (PUBLISH counts
 * the listeners), asks it to let go. That one ends the device's calls and
 * publishes what it knew, which may be newer than the hash by its last
 * write-behind window. A save writes only while the writer is the owner
 * (fencing): a replica that lost a device without hearing of it (it was
 * away from Redis) has its write refused, is told who the owner is, and
 * lets go then.
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

#include "store/redis_listener.h"

#define KEY_PREFIX "opal:device:{"
/* Prefix, id, "}" and NUL. Ids are checked before they reach the store
 * (device_id_problem); an engine only never reads past an id's array. */
#define KEY_SIZE (sizeof KEY_PREFIX + DEVICE_ID_MAX_LEN + 2)

/* Connecting, and then each reply, may take this long before a call fails:
 * a dead Redis must not hold the store thread for long. */
static const struct timeval connect_timeout = {.tv_sec = 2}, command_timeout = {.tv_sec = 2};

/* KEYS[1]: the device's hash. ARGV: mode, version (decimal, no leading
 * zeros), the writer's replica name. Versions are compared as digit strings
 * because Lua numbers are doubles, which cannot tell versions above 2^53
 * apart. A stored version that is not a number is replaced: load reports
 * it, and refusing here would fail every later save of the batch it is in.
 * Returns 1 written, 0 kept (not newer), or the owner's name when another
 * replica owns the device. */
static const char save_script[] =
    "local function newer(a, b)\n"
    "  if #a ~= #b then return #a > #b end\n"
    "  for i = 1, #a do if a:byte(i) ~= b:byte(i) then return a:byte(i) > b:byte(i) end end\n"
    "  return false\n"
    "end\n"
    "local cur = redis.call('HMGET', KEYS[1], 'version', 'owner')\n"
    "local old, owner = cur[1], cur[2]\n"
    "if owner and owner ~= ARGV[3] then return owner end\n"
    "if old and old:match('^%d+$') and not newer(ARGV[2], (old:gsub('^0+(%d)', '%1'))) then\n"
    "  return 0\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'mode', ARGV[1], 'version', ARGV[2], 'owner', ARGV[3])\n"
    "return 1\n";

/* KEYS[1]: the device's hash; ARGV[1]: the claiming replica. Returns mode,
 * version and the owner before (each nil when absent). */
static const char claim_script[] =
    "local r = redis.call('HMGET', KEYS[1], 'mode', 'version', 'owner')\n"
    "redis.call('HSET', KEYS[1], 'owner', ARGV[1])\n"
    "return r\n";

#define CHANNEL_PREFIX "opal:replica:{"
#define CHANNEL_SIZE (sizeof CHANNEL_PREFIX + STORE_REPLICA_MAX + 2)

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
  char claim_sha[41];
  char replica[STORE_REPLICA_MAX + 1]; /* this replica's name */
  store_engine_events events;
  redis_listener *listener; /* on opal:replica:{replica} */
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

/* SCRIPT LOAD `text`; its SHA1 into `sha`. */
static int load_script(redis_engine *e, const char *name, const char *text, char sha[41],
                       char *err, size_t err_len) {
  char what[64];
  snprintf(what, sizeof what, "loading the %s script", name);
  redisReply *r = command(e, what, err, err_len, "SCRIPT LOAD %s", text);
  if (!r) return -1;
  bool ok = r->type == REDIS_REPLY_STRING && r->len == 40;
  if (ok) memcpy(sha, r->str, 41); /* hiredis ends str with a NUL */
  freeReplyObject(r);
  if (!ok) fail(err, err_len, e->url.where, "%s: unexpected reply", what);
  return ok ? 0 : -1;
}

/* (Re)connects, selects the database and loads the scripts: a Redis that
 * restarted has forgotten both. */
static int connect_redis(redis_engine *e, char *err, size_t err_len) {
  redisReply *r;
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
  if (load_script(e, "save", save_script, e->sha, err, err_len) != 0 ||
      load_script(e, "claim", claim_script, e->claim_sha, err, err_len) != 0)
    goto broken;
  return 0;
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

/* The reply to HMGET key mode version [owner]: 1 with *out, 0 absent, -1. */
static int parse_record(redis_engine *e, const char *key, const redisReply *r, store_record *out,
                        char *err, size_t err_len) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
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
  return redisAppendCommand(e->ctx, by_sha ? "EVALSHA %s 1 %b %s %s %s" : "EVAL %s 1 %b %s %s %s",
                            by_sha ? e->sha : save_script, key, key_len, mode, version,
                            e->replica);
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
    else if (r->type == REDIS_REPLY_STRING) /* refused: another replica owns it */
      e->events.released(e->events.ctx, w[i].id, r->str);
    else if (r->type != REDIS_REPLY_INTEGER && failed++ == 0)
      fail(err, err_len, e->url.where, "saving device %.*s: %s", (int)strnlen(w[i].id, sizeof w[i].id),
           w[i].id, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply from the save script");
    freeReplyObject(reply);
  }
  size_t used = failed > 1 && err ? strnlen(err, err_len) : 0;
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

/* ---- one owner per device (see the top) ---- */

static size_t make_channel(char channel[CHANNEL_SIZE], const char *replica) {
  return (size_t)snprintf(channel, CHANNEL_SIZE, CHANNEL_PREFIX "%s}", replica);
}

/* PUBLISH `message` to `replica`'s channel: how many listened, or -1. */
static long long publish(redis_engine *e, const char *replica, const char *message, char *err,
                         size_t err_len) {
  char channel[CHANNEL_SIZE];
  size_t len = make_channel(channel, replica);
  redisReply *r = redisCommand(e->ctx, "PUBLISH %b %s", channel, len, message);
  long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  if (n < 0) fail(err, err_len, e->url.where, "PUBLISH %s: %s", channel,
                  r && r->type == REDIS_REPLY_ERROR ? r->str : why(e->ctx));
  freeReplyObject(r);
  return n;
}

/* The claim script (EVAL once Redis has lost it); its reply, or NULL. */
static redisReply *run_claim(redis_engine *e, const char *key, size_t key_len, char *err,
                             size_t err_len) {
  redisReply *r = redisCommand(e->ctx, "EVALSHA %s 1 %b %s", e->claim_sha, key, key_len, e->replica);
  if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
    freeReplyObject(r);
    r = redisCommand(e->ctx, "EVAL %s 1 %b %s", claim_script, key, key_len, e->replica);
  }
  if (!r) fail(err, err_len, e->url.where, "claiming %s: %s", key, why(e->ctx));
  return r;
}

/* Asks `owner` to let go of `id` when it is another replica. *asked: it listens. */
static int ask_owner(redis_engine *e, const char *id, const redisReply *owner, bool *asked,
                     char *err, size_t err_len) {
  *asked = false;
  if (owner->type != REDIS_REPLY_STRING || strcmp(owner->str, e->replica) == 0) return 0;
  if (owner->len == 0 || owner->len > STORE_REPLICA_MAX) return 0; /* not one of ours */
  char message[sizeof "release\n\n" + DEVICE_ID_MAX_LEN + STORE_REPLICA_MAX];
  snprintf(message, sizeof message, "release\n%s\n%s", id, e->replica);
  long long n = publish(e, owner->str, message, err, err_len);
  *asked = n > 0;
  return n < 0 ? -1 : 0;
}

static int claim_once(redis_engine *e, const char *id, store_record *out, bool *asked, char *err,
                      size_t err_len) {
  char key[KEY_SIZE];
  size_t key_len = make_key(key, id);
  redisReply *r = run_claim(e, key, key_len, err, err_len);
  if (!r) return -1;
  int rc = parse_record(e, key, r, out, err, err_len);
  if (rc >= 0 && r->elements == 3 && ask_owner(e, id, r->element[2], asked, err, err_len) != 0)
    rc = -1;
  freeReplyObject(r);
  return rc;
}

static int redis_claim(store_engine *base, const char *id, store_record *out, bool *asked,
                       char *err, size_t err_len) {
  redis_engine *e = (redis_engine *)base;
  bool fresh;
  *asked = false;
  if (ready(e, &fresh, err, err_len) != 0) return -1;
  int rc = claim_once(e, id, out, asked, err, err_len);
  if (rc < 0 && again(e, fresh, err, err_len)) rc = claim_once(e, id, out, asked, err, err_len);
  return rc;
}

static int redis_hand_over(store_engine *base, const char *to, const char *id,
                           const store_record *record, char *err, size_t err_len) {
  redis_engine *e = (redis_engine *)base;
  bool fresh;
  if (ready(e, &fresh, err, err_len) != 0) return -1;
  char message[sizeof "record\n\n\n" + DEVICE_ID_MAX_LEN + 32];
  snprintf(message, sizeof message, "record\n%s\n%" PRIu32 "\n%" PRIu64, id, record->mode,
           record->version);
  return publish(e, to, message, err, err_len) < 0 ? -1 : 0;
}

/* Splits `text` at newlines into at most `max` fields; how many. */
static int split_lines(char *text, char *fields[], int max) {
  int n = 0;
  for (char *p = text; n < max; n++) {
    fields[n] = p;
    char *nl = strchr(p, '\n');
    if (!nl) return n + 1;
    *nl = '\0';
    p = nl + 1;
  }
  return n + 1; /* more than max: not a message of ours */
}

/* redis_message_fn: a message on our channel. Anything malformed is ignored. */
static void on_message(void *ctx, const char *message, size_t len) {
  redis_engine *e = ctx;
  char text[256], *f[5];
  if (len >= sizeof text || memchr(message, '\0', len)) return;
  memcpy(text, message, len);
  text[len] = '\0';
  int n = split_lines(text, f, 4);
  if (n < 3 || n > 4 || !f[1][0] || strlen(f[1]) > DEVICE_ID_MAX_LEN) return;
  if (n == 3 && strcmp(f[0], "release") == 0 && f[2][0] && strlen(f[2]) <= STORE_REPLICA_MAX) {
    e->events.released(e->events.ctx, f[1], f[2]);
    return;
  }
  uint64_t mode, version;
  const char *pm = f[2], *pv = n == 4 ? f[3] : "";
  if (strcmp(f[0], "record") == 0 && parse_number(&pm, UINT32_MAX, &mode) && !*pm &&
      parse_number(&pv, UINT64_MAX, &version) && !*pv) {
    store_record r = {.mode = (uint32_t)mode, .version = version};
    e->events.handed(e->events.ctx, f[1], &r);
  }
}

static void redis_close(store_engine *base) {
  redis_engine *e = (redis_engine *)base;
  if (!e) return;
  redis_listener_stop(e->listener); /* no event after this */
  disconnect(e);
  free(e);
}

/* The listener's connection is the engine's pulse: it is always open, so
 * it notices at once when Redis goes away (the command connection only
 * notices on its next command), and it is connected again every second. */
static bool redis_reachable(store_engine *base) {
  redis_engine *e = (redis_engine *)base;
  return redis_listener_reachable(e->listener);
}

static const store_engine_ops redis_ops = {
    .load = redis_load,
    .save = redis_save,
    .claim = redis_claim,
    .hand_over = redis_hand_over,
    .reachable = redis_reachable,
    .close = redis_close,
};

store_engine *store_redis_open(const char *url, const char *replica,
                               const store_engine_events *events, char *err, size_t err_len) {
  redis_engine *e = calloc(1, sizeof *e);
  const char *problem = e ? parse_url(url, &e->url) : "out of memory";
  if (problem) {
    if (err && err_len) snprintf(err, err_len, "redis: %s (got '%s')", problem, url ? url : "");
    free(e);
    return NULL;
  }
  e->base.ops = &redis_ops;
  snprintf(e->replica, sizeof e->replica, "%s", replica);
  e->events = *events;
  if (connect_redis(e, err, err_len) != 0) {
    redis_close(&e->base);
    return NULL;
  }
  char channel[CHANNEL_SIZE];
  make_channel(channel, e->replica);
  e->listener = redis_listener_start(e->url.host, e->url.port, e->url.where, channel, on_message, e);
  if (!e->listener) abort(); /* at start-up: out of threads */
  return &e->base;
}
