/* A thread that listens on one Redis pub/sub channel and hands every
 * message to a callback. It keeps at it: a Redis that goes away is
 * connected again every second (the outage and its end logged once each).
 * Messages published while it is away are lost, as pub/sub loses them. */
#ifndef OPAL_REDIS_LISTENER_H
#define OPAL_REDIS_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct redis_listener redis_listener;

/* Called on the listener's thread with each message (borrowed). */
typedef void (*redis_message_fn)(void *ctx, const char *message, size_t len);

/* Starts listening on `channel` of the Redis at host:port (`where` names it
 * in the log). The caller owns the result and ends it with
 * redis_listener_stop. NULL only when out of memory or threads. */
redis_listener *redis_listener_start(const char *host, int port, const char *where,
                                     const char *channel, redis_message_fn fn, void *ctx);

/* Any thread. False from when the connection is lost or cannot be made
 * until it is subscribed again; true before that (it is started right
 * after its Redis answered) and while subscribed. A Redis that answers
 * with an error is reachable: that is logged as a mistake, not an outage. */
bool redis_listener_reachable(redis_listener *l);

/* Stops the thread (within ~200 ms) and frees the listener. NULL does nothing. */
void redis_listener_stop(redis_listener *l);

#endif
