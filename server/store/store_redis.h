/* The Redis store engine: each device record is one hash in a Redis server
 * that several opal-servers may share (the layout is described at the top
 * of store_redis.c). Every command has a short timeout, so a dead Redis
 * makes a call fail rather than hang; a broken connection is made again by
 * the next call. Several replicas may share one Redis: each device has one
 * owner among them (store_redis.c says how). */
#ifndef OPAL_STORE_REDIS_H
#define OPAL_STORE_REDIS_H

#include <stddef.h>

#include "store/store_engine.h"

/* Connects to Redis at `url` ("redis://HOST:PORT" or "redis://HOST:PORT/DB";
 * HOST may be a name, an IPv4 address or [IPv6]) as the replica named
 * `replica`, and listens for the other replicas; what they say comes
 * through `events` (copied). NULL with one line in `err` when the URL is
 * malformed or Redis cannot be reached or answers with an error. The caller
 * owns the result (ops->close frees it; no event comes after that). */
store_engine *store_redis_open(const char *url, const char *replica,
                               const store_engine_events *events, char *err, size_t err_len);

/* NULL when `url` is a well-formed redis:// URL, else a static sentence
 * saying what is wrong. */
const char *store_redis_url_problem(const char *url);

#endif
